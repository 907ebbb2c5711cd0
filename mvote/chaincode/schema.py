"""Declarative shapes for decoded JSON: every field's type, bounds and pattern in one place.

A shape validates an already-parsed canonical value and returns it unchanged; the error names the
field path (``options[3]``, ``rule.max``) and says what was expected and what came. Records build
their typed objects only from values a shape accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidField

# Control characters are refused in every text field; descriptions may hold line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


class Shape:
    def check(self, value: Any, path: str) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Shape):
    min_len: int = 1
    max_len: int = 200
    pattern: str | None = None
    multiline: bool = False

    def check(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise InvalidField(f"{path}: expected a string, got {_type_name(value)}", field=path)
        if not self.min_len <= len(value) <= self.max_len:
            raise InvalidField(
                f"{path}: expected {self.min_len}..{self.max_len} characters, got {len(value)}",
                field=path,
            )
        control = _CONTROL_BUT_NEWLINE if self.multiline else _CONTROL
        if control.search(value):
            raise InvalidField(f"{path}: control characters are not allowed", field=path)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise InvalidField(
                f"{path}: expected to match {self.pattern}, got {value!r}", field=path
            )
        return value


@dataclass(frozen=True)
class Hex(Shape):
    """Lowercase hex of exactly ``size`` bytes: one spelling per byte string."""

    size: int

    def check(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise InvalidField(
                f"{path}: expected a hex string, got {_type_name(value)}", field=path
            )
        if len(value) != 2 * self.size or not re.fullmatch(r"[0-9a-f]*", value):
            raise InvalidField(
                f"{path}: expected {2 * self.size} lowercase hex digits ({self.size} bytes), "
                f"got {value[:80]!r}",
                field=path,
            )
        return value


@dataclass(frozen=True)
class Int(Shape):
    min: int
    max: int

    def check(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidField(f"{path}: expected an integer, got {_type_name(value)}", field=path)
        if not self.min <= value <= self.max:
            raise InvalidField(
                f"{path}: expected an integer in {self.min}..{self.max}, got {value}", field=path
            )
        return value


@dataclass(frozen=True)
class Bool(Shape):
    def check(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise InvalidField(f"{path}: expected a boolean, got {_type_name(value)}", field=path)
        return value


@dataclass(frozen=True)
class Const(Shape):
    value: str

    def check(self, value: Any, path: str) -> str:
        if value != self.value:
            raise InvalidField(f"{path}: expected {self.value!r}, got {value!r}", field=path)
        return self.value


@dataclass(frozen=True)
class OneOf(Shape):
    values: tuple[str, ...]

    def check(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise InvalidField(
                f"{path}: expected one of {list(self.values)}, got {value!r}", field=path
            )
        return value


@dataclass(frozen=True)
class Array(Shape):
    item: Shape
    min_len: int = 0
    max_len: int = 1000
    unique: bool = False
    #: Strictly increasing: one spelling for a set (and no duplicates).
    ascending: bool = False

    def check(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise InvalidField(f"{path}: expected an array, got {_type_name(value)}", field=path)
        if not self.min_len <= len(value) <= self.max_len:
            raise InvalidField(
                f"{path}: expected {self.min_len}..{self.max_len} items, got {len(value)}",
                field=path,
            )
        items = [self.item.check(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if self.ascending:
            _check_ascending(items, path)
        elif self.unique:
            _check_unique(items, path)
        return items


def _check_ascending(items: list[Any], path: str) -> None:
    """Strictly increasing items. Precondition: the items are of one comparable type."""
    for i in range(1, len(items)):
        if not items[i - 1] < items[i]:
            raise InvalidField(
                f"{path}[{i}]: expected strictly ascending items, got {items[i]!r} "
                f"after {items[i - 1]!r}",
                field=f"{path}[{i}]",
            )


def _check_unique(items: list[Any], path: str) -> None:
    """No item twice. Precondition: the items are hashable (checked JSON scalars)."""
    seen: set[Any] = set()
    for i, v in enumerate(items):
        if v in seen:
            raise InvalidField(f"{path}[{i}]: duplicate item {v!r}", field=f"{path}[{i}]")
        seen.add(v)


@dataclass(frozen=True)
class Nullable(Shape):
    inner: Shape

    def check(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner.check(value, path)


@dataclass(frozen=True)
class Object(Shape):
    """A JSON object with exactly these keys; keys in ``optional`` may be absent."""

    fields: Mapping[str, Shape]
    optional: frozenset[str] = field(default_factory=frozenset)

    def check(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidField(f"{path}: expected an object, got {_type_name(value)}", field=path)
        for key in value:
            if key not in self.fields:
                raise InvalidField(
                    f"{_join(path, key)}: unknown field (expected one of {sorted(self.fields)})",
                    field=_join(path, key),
                )
        out: dict[str, Any] = {}
        for key, shape in self.fields.items():
            if key not in value:
                if key in self.optional:
                    continue
                raise InvalidField(f"{_join(path, key)}: missing field", field=_join(path, key))
            out[key] = shape.check(value[key], _join(path, key))
        return out


@dataclass(frozen=True)
class Tagged(Shape):
    """An object whose ``kind`` field selects its shape."""

    variants: Mapping[str, Object]

    def check(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidField(f"{path}: expected an object, got {_type_name(value)}", field=path)
        kind = value.get("kind")
        if not isinstance(kind, str) or kind not in self.variants:
            raise InvalidField(
                f"{_join(path, 'kind')}: expected one of {sorted(self.variants)}, got {kind!r}",
                field=_join(path, "kind"),
            )
        return self.variants[kind].check(value, path)


def _join(path: str, key: str) -> str:
    return key if path in ("", "$") else f"{path}.{key}"


#: A SHA-256 digest as lowercase hex (roster entries, trackers).
HASH_HEX_SHAPE = Hex(32)
