"""Declarative shapes for decoded JSON: every field's type, bounds and pattern in one place.

A shape validates an already-parsed canonical value and returns it unchanged; the error names the
field path (``options[3]``, ``rule.max``) and says what was expected and what came. Records build
their typed objects only from values a shape accepted.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar, cast

from ._errors import InvalidField

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
class Flag(Shape):
    """A constant boolean (a tag such as GetResults' ``final``): only ``value`` itself, never
    a number equal to it."""

    value: bool

    def check(self, value: Any, path: str) -> bool:
        if value is not self.value:
            raise InvalidField(f"{path}: expected {self.value!r}, got {value!r}", field=path)
        return bool(value)


#: A tag's constant value: a string (``kind``, ``type``) or a boolean (``final``).
TagValue = str | bool


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
                    f"{join_path(path, key)}: unknown field (expected one of {sorted(self.fields)})",
                    field=join_path(path, key),
                )
        out: dict[str, Any] = {}
        for key, shape in self.fields.items():
            if key not in value:
                if key in self.optional:
                    continue
                raise InvalidField(
                    f"{join_path(path, key)}: missing field", field=join_path(path, key)
                )
            out[key] = shape.check(value[key], join_path(path, key))
        return out


@dataclass(frozen=True)
class Tagged(Shape):
    """An object whose tag field (``kind`` unless told) selects its shape."""

    variants: Mapping[str, Object]
    tag: str = "kind"

    def check(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidField(f"{path}: expected an object, got {_type_name(value)}", field=path)
        kind = value.get(self.tag)
        if not isinstance(kind, str) or kind not in self.variants:
            where = join_path(path, self.tag)
            raise InvalidField(
                f"{where}: expected one of {sorted(self.variants)}, got {kind!r}", field=where
            )
        return self.variants[kind].check(value, path)


def join_path(path: str, key: str) -> str:
    """The path of ``key`` inside ``path`` (``$`` or empty: the top level)."""
    return key if path in ("", "$") else f"{path}.{key}"


#: A SHA-256 digest as lowercase hex (roster entries, trackers).
HASH_HEX_SHAPE = Hex(32)


# --- records declared once --------------------------------------------------------------------
#
# A record is a frozen dataclass whose fields carry their JSON shape (and, where the Python value
# differs from the JSON value, a codec). From that one declaration come the record's shape
# (``SHAPE``, an Object in field order, after any constant tag fields), ``to_json`` and
# ``from_json``: the three can never disagree. The JSON key is the field name; a ``spread`` field
# (a nested record, or a typed part held in several keys) puts its keys into its parent object.
# A union of records chosen by a tag (``TaggedUnion``) has the same three from its variants.


@dataclass(frozen=True)
class Codec:
    """How one field's Python value maps to its JSON value and back. ``decode(value, path)``
    gets a value its shape already accepted, and the field's path for its own checks."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any, str], Any]


def _same(value: Any) -> Any:
    return value


def _same_at(value: Any, path: str) -> Any:
    return value


def _tuple_at(value: Any, path: str) -> tuple[Any, ...]:
    return tuple(value)


#: Scalars (str, int, bool): the JSON value is the value.
PLAIN = Codec(_same, _same_at)
#: A JSON array held as a tuple.
TUPLE = Codec(list, _tuple_at)


def nested(to_json: Callable[[Any], Any], from_json: Callable[[Any, str], Any]) -> Codec:
    """A nested value with its own codec (``from_json`` checks what its shape left open)."""
    return Codec(to_json, from_json)


def json_of(value: Any) -> Any:
    """A record's (or any value with ``to_json``) JSON value."""
    return value.to_json()


def of_record(cls: type[Record]) -> Codec:
    """A nested record (its shape: ``cls.SHAPE``), built from the value its shape accepted."""
    return Codec(json_of, cls.decode_checked)


def tuple_of(codec: Codec) -> Codec:
    """A JSON array of ``codec`` values held as a tuple; item ``i`` is read at ``path[i]``."""
    return Codec(
        lambda values: [codec.encode(v) for v in values],
        lambda values, path: tuple(codec.decode(v, f"{path}[{i}]") for i, v in enumerate(values)),
    )


def optional(codec: Codec) -> Codec:
    """``codec`` for a value that may be None (JSON null)."""
    return Codec(
        lambda v: None if v is None else codec.encode(v),
        lambda v, path: None if v is None else codec.decode(v, path),
    )


def declared(
    shape: Shape,
    codec: Codec = PLAIN,
    *,
    default: Any = dataclasses.MISSING,
    absent_when_none: bool = False,
) -> Any:
    """A dataclass field whose JSON form has ``shape`` and maps through ``codec``; ``default``
    only for the Python constructor. The JSON key is always present, unless
    ``absent_when_none``: then None is written as no key at all (and read back from one), so
    records without the field keep their exact bytes."""
    return dataclasses.field(
        default=default,
        metadata={
            "shape": shape,
            "codec": codec,
            "absent_when_none": absent_when_none,
            "spread": False,
        },
    )


def spread(shape: Object, codec: Codec, *, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field held in several keys of its parent (``shape``'s keys, which join the
    parent's shape): ``codec.encode`` gives an object whose keys are merged into the parent's,
    ``codec.decode`` gets the parent's checked values of those keys (absent optional keys left
    out) and the parent's path."""
    return dataclasses.field(
        default=default,
        metadata={"shape": shape, "codec": codec, "absent_when_none": False, "spread": True},
    )


def spread_record(cls: type[Record]) -> Any:
    """A record whose keys are its parent's own (e.g. the question spec inside a question)."""
    return spread(cls.SHAPE, of_record(cls))


def _absent(f: dataclasses.Field[Any], value: Any) -> bool:
    return bool(f.metadata["absent_when_none"]) and value is None


R = TypeVar("R", bound="Record")


class _FieldEncoding(NamedTuple):
    """One field as ``Record.to_json`` encodes it (from the field's metadata)."""

    name: str
    encode: Callable[[Any], Any]
    absent_when_none: bool
    spread: bool


def _field_encoding(f: dataclasses.Field[Any]) -> _FieldEncoding:
    metadata = f.metadata
    return _FieldEncoding(
        f.name, metadata["codec"].encode, bool(metadata["absent_when_none"]), metadata["spread"]
    )


class Record:
    """Base of a declared record: subclass it with ``@record("path")`` on a frozen dataclass."""

    #: The shape of the record's JSON object, built from its fields by ``@record``.
    SHAPE: ClassVar[Object]
    #: The path that names the record in error messages.
    PATH: ClassVar[str]
    #: Constant fields written first (a ``type`` or ``kind`` tag), not held as attributes.
    TAGS: ClassVar[Mapping[str, TagValue]]
    #: The dataclass fields by name, in declaration order (read once by ``@record``).
    FIELDS: ClassVar[Mapping[str, dataclasses.Field[Any]]]
    #: What ``to_json`` does with each field, in declaration order, read from the fields'
    #: metadata once by ``@record`` (not on every call: every ballot encodes its records).
    ENCODING: ClassVar[tuple[_FieldEncoding, ...]]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.TAGS)
        for name, encode, absent_when_none, spread in self.ENCODING:
            value = getattr(self, name)
            if absent_when_none and value is None:
                continue
            if spread:
                out.update(encode(value))
            else:
                out[name] = encode(value)
        return out

    @classmethod
    def from_json(cls: type[R], value: Any, path: str | None = None) -> R:
        where = cls.PATH if path is None else path
        return cls.decode_checked(cls.SHAPE.check(value, where), where)

    @classmethod
    def decode_checked(cls: type[R], checked: Mapping[str, Any], where: str) -> R:
        """The record from a value ``SHAPE`` already accepted (checked once, not again). A
        record with checks its shape cannot express overrides this, running them in order."""
        return cls(**decode_fields(cls, checked, where))


def decode_fields(
    cls: type[Record], checked: Mapping[str, Any], where: str, *, but: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Every field's Python value (except those named in ``but``), in declaration order."""
    return {f.name: _decoded(f, checked, where) for f in cls.FIELDS.values() if f.name not in but}


def decode_field(cls: type[Record], name: str, checked: Mapping[str, Any], where: str) -> Any:
    """One field's Python value. Precondition: ``name`` is a field of ``cls``."""
    return _decoded(cls.FIELDS[name], checked, where)


def _decoded(f: dataclasses.Field[Any], checked: Mapping[str, Any], where: str) -> Any:
    """A field's Python value from its parent's checked JSON value (None: an absent optional
    key)."""
    codec: Codec = f.metadata["codec"]
    if f.metadata["spread"]:
        return codec.decode(
            {k: checked[k] for k in f.metadata["shape"].fields if k in checked}, where
        )
    value = checked.get(f.name)
    if _absent(f, value):
        return None
    return codec.decode(value, join_path(where, f.name))


def record(
    path: str, tags: Mapping[str, TagValue] | None = None, *, order: Sequence[str] | None = None
) -> Callable[[type[R]], type[R]]:
    """Class decorator (above ``@dataclass(frozen=True)``): derive ``SHAPE`` from the fields,
    after the constant ``tags``. ``order``: the JSON keys in the order the shape checks them
    (and so which of two bad fields an error names), when it is not the fields' order.
    Preconditions, checked (TypeError otherwise): every field is ``declared(...)`` or
    ``spread(...)``; ``order`` names every key once."""

    def build(cls: type[R]) -> type[R]:
        shapes: dict[str, Shape] = {key: _tag_shape(value) for key, value in (tags or {}).items()}
        optional: set[str] = set()
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            _add_field(cls, f, shapes, optional)
        if order is not None:
            if sorted(order) != sorted(shapes):
                raise TypeError(f"{cls.__name__}: order {list(order)} != keys {sorted(shapes)}")
            shapes = {key: shapes[key] for key in order}
        cls.SHAPE = Object(shapes, frozenset(optional))
        cls.FIELDS = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        cls.ENCODING = tuple(_field_encoding(f) for f in cls.FIELDS.values())
        cls.PATH = path
        cls.TAGS = dict(tags or {})
        return cls

    return build


def _tag_shape(value: TagValue) -> Shape:
    return Flag(value) if isinstance(value, bool) else Const(value)


def _add_field(
    cls: type[Record], f: dataclasses.Field[Any], shapes: dict[str, Shape], optional: set[str]
) -> None:
    if "shape" not in f.metadata:
        raise TypeError(f"{cls.__name__}.{f.name}: declare it with declared(shape)")
    shape = f.metadata["shape"]
    if not f.metadata["spread"]:
        shapes[f.name] = shape
        if f.metadata["absent_when_none"]:
            optional.add(f.name)
        return
    if not isinstance(shape, Object):
        raise TypeError(f"{cls.__name__}.{f.name}: a spread field's shape is an Object")
    shapes.update(shape.fields)
    optional.update(shape.optional)


U = TypeVar("U")


class TaggedUnion(Generic[U]):
    """One of several records chosen by the value of a tag field: ``shape`` (a Tagged),
    ``codec`` and ``from_json`` come from the variants' own declarations. Precondition,
    checked (TypeError): every variant is a record with a distinct ``tag`` in its TAGS."""

    def __init__(self, path: str, *variants: type[Record], tag: str = "kind") -> None:
        by_tag: dict[str, type[Record]] = {}
        for cls in variants:
            value = cls.TAGS.get(tag)
            if not isinstance(value, str) or value in by_tag:
                raise TypeError(f"{cls.__name__}: expected a distinct {tag!r} tag")
            by_tag[value] = cls
        self.path = path
        self.tag = tag
        self.variants: Mapping[str, type[Record]] = by_tag
        self.shape = Tagged({value: cls.SHAPE for value, cls in by_tag.items()}, tag)
        self.codec = Codec(json_of, self.decode_checked)

    def decode_checked(self, checked: Mapping[str, Any], where: str) -> U:
        """The variant from a value ``shape`` already accepted."""
        return cast(U, self.variants[checked[self.tag]].decode_checked(checked, where))

    def from_json(self, value: Any, path: str | None = None) -> U:
        where = self.path if path is None else path
        return self.decode_checked(self.shape.check(value, where), where)
