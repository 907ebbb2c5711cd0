"""encoding.py: RFC 8785 bytes out, and only those bytes accepted back."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from mvote.chaincode import encoding
from mvote.chaincode._errors import Malformed, MvoteError, NonCanonical, TooLarge

BIG = 1 << 20


def _decode(data: bytes, max_size: int = BIG) -> Any:
    return encoding.decode(data, max_size=max_size, what="arg")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [True, None, "x"]}, b'{"a":[true,null,"x"],"b":1}'),
        ({"\u00e9": 1, "z": 2, "A": 0}, '{"A":0,"z":2,"\u00e9":1}'.encode()),
        # Keys sort by UTF-16 code units: U+FFFD sorts after U+1F600 (a surrogate pair).
        ({"\ufffd": 1, "\U0001f600": 2}, '{"\U0001f600":2,"\ufffd":1}'.encode()),
        ('tab\tquote"back\\nl\n\x01', b'"tab\\tquote\\"back\\\\nl\\n\\u0001"'),
        ("/<>&\u2028", '"/<>&\u2028"'.encode()),
        (-(2**53) + 1, b"-9007199254740991"),
        (0, b"0"),
        ([], b"[]"),
        ({}, b"{}"),
    ],
)
def test_encode_is_rfc8785(value: Any, expected: bytes) -> None:
    assert encoding.encode(value) == expected
    assert _decode(expected) == value
    assert encoding.digest(value) == hashlib.sha256(expected).digest()


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        1.0,
        2**53,
        -(2**53),
        "e\u0301",
        {"e\u0301": 1},
        "\ud800",
        {1: 2},
        b"x",
        (1, 2),
        {"a": {1}},
    ],
)
def test_encode_refuses_what_the_protocol_forbids(value: Any) -> None:
    with pytest.raises(NonCanonical):
        encoding.encode(value)


REJECTED: list[tuple[bytes, type[MvoteError]]] = [
    (b'{"a":1,"a":2}', NonCanonical),  # duplicate keys
    (b'{"a":{"b":1,"b":1}}', NonCanonical),
    (b"1.0", NonCanonical),  # floats
    (b"1.5", NonCanonical),
    (b"1e2", NonCanonical),  # exponents
    (b"1E2", NonCanonical),
    (b"-0", NonCanonical),
    (b"01", Malformed),
    (b"+1", Malformed),
    (b"NaN", NonCanonical),
    (b"Infinity", NonCanonical),
    (b"9007199254740992", NonCanonical),  # out of range
    (b"-9007199254740992", NonCanonical),
    (b"1" * 5000, NonCanonical),  # longer than Python's int digit limit
    (b" 1", NonCanonical),  # whitespace
    (b"1 ", NonCanonical),
    (b'{"a": 1}', NonCanonical),
    (b"[1,\n2]", NonCanonical),
    (b'{"b":1,"a":2}', NonCanonical),  # key order
    (b'"\\u0041"', NonCanonical),  # escapes that JCS spells otherwise
    (b'"\\/"', NonCanonical),
    (b'"\\u00e9"', NonCanonical),
    (b'"\\u001F"', NonCanonical),
    ('"e\u0301"'.encode(), NonCanonical),  # not NFC
    (b'"\\ud800"', NonCanonical),  # lone surrogates
    (b'"\\udc00x"', NonCanonical),
    (b'"\xed\xa0\x80"', Malformed),  # a surrogate in UTF-8 is not UTF-8
    (b"1x", Malformed),  # trailing bytes
    (b"{}{}", Malformed),
    (b"{}\x00", Malformed),
    (b"\xef\xbb\xbf{}", Malformed),  # BOM
    (b'"\xff"', Malformed),  # not UTF-8
    (b'"\xc0\xaf"', Malformed),  # overlong encoding
    (b"", Malformed),
    (b"[" * 100_000 + b"]" * 100_000, Malformed),  # nesting beyond the parser
    (b"tru", Malformed),
]


@pytest.mark.parametrize(("data", "error"), REJECTED)
def test_decode_refuses_every_other_spelling(data: bytes, error: type[MvoteError]) -> None:
    with pytest.raises(error) as info:
        _decode(data)
    assert info.value.field == "arg"
    assert str(info.value).startswith(f"{error.code}: arg")


def test_decode_accepts_exactly_the_canonical_bytes() -> None:
    value = {"text": "\u00e9\U0001f600", "n": [-1, 0, 9007199254740991], "t": True, "z": None}
    data = encoding.encode(value)
    assert _decode(data) == value
    assert _decode('"\u00e9"'.encode()) == "\u00e9"


def test_size_limit() -> None:
    data = encoding.encode("x" * 98)
    assert len(data) == 100
    assert _decode(data, max_size=100) == "x" * 98
    with pytest.raises(TooLarge) as info:
        _decode(data, max_size=99)
    assert "arg" in str(info.value)
    assert "99" in str(info.value)
    assert "100" in str(info.value)
