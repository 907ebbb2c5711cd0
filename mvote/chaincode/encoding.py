"""The one byte encoding of every record and signed payload: RFC 8785 (JCS) canonical JSON.

Why JCS rather than deterministic protobuf: protobuf's "deterministic" mode is a property of one
serializer, not of the bytes; a decoder cannot tell a canonical message from a re-ordered one,
accepts unknown fields, and differs across languages. JCS is a published standard with a byte-exact
rule, so a kiosk in JavaScript and the chaincode in Python agree on what a voter signed, and the
ledger stays readable. What JCS leaves open we close here: integers only (no floats), within
+-(2**53 - 1), NFC text, no duplicate keys.

``decode`` accepts exactly the bytes ``encode`` produces and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

import rfc8785

from ._errors import Malformed, NonCanonical, TooLarge

#: JSON values this protocol admits. Floats are excluded by design.
JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]

MAX_SAFE_INTEGER = 2**53 - 1

#: What ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
#: allow_nan=False)`` builds on every call, built once: same settings, same bytes. An encoder
#: holds no state between calls (``encode`` makes its own cycle markers), so sharing is safe.
_ASCII_KEYS_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def encode(value: Any) -> bytes:
    """Canonical bytes of ``value``. Precondition: ints only, NFC strings, str keys."""
    return _canonical(value, _admitted(value, "$"), "value")


def _canonical(value: Any, ascii_keys: bool, what: str) -> bytes:
    """RFC 8785 bytes of an admitted value.

    For the values this protocol admits (no floats, NFC text), RFC 8785's output is exactly
    Python's ``json.dumps`` with sorted keys, no whitespace and raw UTF-8: both escape only the
    quote, the backslash and control characters, in the same short forms and lowercase hex. The
    one difference is key order: RFC 8785 sorts by UTF-16 code units, Python by code points,
    which can disagree only for keys beyond ASCII; those take the reference implementation.
    tests/property holds the two paths equal.
    """
    try:
        if ascii_keys:
            return _ASCII_KEYS_ENCODER.encode(value).encode("utf-8")
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise NonCanonical(f"{what}: cannot encode canonically: {exc}", field=what) from exc


def digest(value: Any) -> bytes:
    """SHA-256 of the canonical bytes of ``value``."""
    return hashlib.sha256(encode(value)).digest()


def file_bytes(data: bytes) -> bytes:
    """The canonical bytes held in a file: ``data`` without one final line feed, which editors
    and ``echo`` add (a wallet, receipt or credential file saved by hand). Anything else after
    the last token is still refused by :func:`decode`."""
    return data[:-1] if data.endswith(b"\n") else data


def decode(data: bytes, *, max_size: int, what: str = "payload") -> Any:
    """Parse canonical JSON bytes, refusing anything that ``encode`` would not have produced.

    ``what`` names the argument in error messages. Raises TooLarge, Malformed or NonCanonical.
    """
    if len(data) > max_size:
        raise TooLarge(f"{what}: expected at most {max_size} bytes, got {len(data)}", field=what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(
            f"{what}: not UTF-8 ({exc.reason} at byte {exc.start})", field=what
        ) from exc
    try:
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
        )
    except _NonCanonicalJSON as exc:
        raise NonCanonical(f"{what}: {exc}", field=what) from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise Malformed(f"{what}: not JSON ({exc})", field=what) from exc
    except ValueError as exc:
        # json raises a plain ValueError for an integer literal longer than Python's
        # int_max_str_digits (4300): far outside the safe range, so not a canonical value.
        raise NonCanonical(
            f"{what}: integer out of the safe range +-(2**53-1) ({exc})", field=what
        ) from exc
    canonical = _canonical(value, _admitted(value, what), what)
    if canonical != data:
        raise NonCanonical(
            f"{what}: not in RFC 8785 canonical form (first difference at byte "
            f"{_first_difference(canonical, data)})",
            field=what,
        )
    return value


class _NonCanonicalJSON(ValueError):
    pass


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _NonCanonicalJSON(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_float(literal: str) -> Any:
    raise _NonCanonicalJSON(f"expected an integer, got the number {literal}")


def _reject_constant(literal: str) -> Any:
    raise _NonCanonicalJSON(f"expected a JSON value, got {literal}")


class _NotAdmitted(Exception):
    pass


def _admitted(value: Any, path: str) -> bool:
    """Check ``value`` is admitted (see :func:`_check_values`); return whether all keys are ASCII.

    A flat scan without paths, because this runs on every record; only when it finds a problem
    does the path-naming check run, to say where.
    """
    try:
        return _scan(value)
    except _NotAdmitted:
        _check_values(value, path)  # raises, naming the path
        return False  # subclasses of the JSON types: admitted, left to the reference encoder


def _scan(value: Any) -> bool:
    """Whether every key is ASCII; raises _NotAdmitted at the first value not admitted."""
    ascii_keys = True
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            ascii_keys = _scan_keys(item, stack) and ascii_keys
        elif kind is list:
            stack.extend(item)
        elif not _scalar_admitted(item, kind):
            raise _NotAdmitted
    return ascii_keys


def _scan_keys(item: dict[Any, Any], stack: list[Any]) -> bool:
    """Check the keys of one object and queue its values; whether every key is ASCII."""
    ascii_keys = True
    for key, child in item.items():
        if type(key) is not str:
            raise _NotAdmitted
        if not key.isascii():
            ascii_keys = False
            if not _text_ok(key):
                raise _NotAdmitted
        stack.append(child)
    return ascii_keys


def _scalar_admitted(item: Any, kind: type) -> bool:
    """Precondition: ``kind`` is ``type(item)``, not a list or dict."""
    if kind is str:
        return bool(item.isascii()) or _text_ok(item)
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER)
    return item is None or kind is bool


def _text_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return unicodedata.is_normalized("NFC", text)


def _check_values(value: Any, path: str) -> None:
    """Reject what JCS would encode but this protocol forbids: floats, big ints, non-NFC text."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise NonCanonical(f"{path}: integer out of the safe range +-(2**53-1)", field=path)
        return
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_values(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NonCanonical(f"{path}: object keys must be strings", field=path)
            _check_text(key, f"{path} key")
            _check_values(item, f"{path}.{key}")
        return
    raise NonCanonical(f"{path}: expected a JSON value, got {type(value).__name__}", field=path)


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NonCanonical(f"{path}: lone surrogate in text", field=path) from exc
    if not unicodedata.is_normalized("NFC", text):
        raise NonCanonical(f"{path}: text is not in Unicode NFC form", field=path)


def _first_difference(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))
