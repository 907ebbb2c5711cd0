"""Canonical encoding: every value has exactly one accepted spelling."""

from __future__ import annotations

import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mvote.chaincode import encoding
from mvote.chaincode._errors import MvoteError

SAFE = encoding.MAX_SAFE_INTEGER

nfc_text = st.text(max_size=12).map(lambda s: unicodedata.normalize("NFC", s))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE, SAFE) | nfc_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(nfc_text, children, max_size=5)
    ),
    max_leaves=25,
)


def _same(a: Any, b: Any) -> bool:
    """Equality that also tells True from 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_decode_inverts_encode(value: Any) -> None:
    data = encoding.encode(value)
    decoded = encoding.decode(data, max_size=1 << 20)
    assert _same(decoded, value)
    assert encoding.encode(decoded) == data


mutations = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "replace"]),
    st.integers(0, 1 << 16),
    st.integers(0, 255),
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.lists(mutations, min_size=1, max_size=3))
def test_any_mutation_is_refused_or_is_another_canonical_value(
    value: Any, edits: list[Any]
) -> None:
    original = encoding.encode(value)
    data = bytearray(original)
    for op, where, byte in edits:
        i = where % (len(data) + 1)
        if op == "insert":
            data.insert(i, byte)
        elif data and op == "delete":
            del data[i % len(data)]
        elif data and op == "flip":
            data[i % len(data)] ^= 1 << (byte % 8)
        elif data:
            data[i % len(data)] = byte
    mutated = bytes(data)
    try:
        decoded = encoding.decode(mutated, max_size=1 << 20)
    except MvoteError as exc:
        assert exc.code in ("MALFORMED", "NON_CANONICAL"), exc
        return
    # Accepted: then the mutated bytes are themselves the canonical bytes of what they decode to,
    # so they can only be accepted if they spell a different value.
    assert encoding.encode(decoded) == mutated
    assert mutated == original or not _same(decoded, value)
