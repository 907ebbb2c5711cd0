"""The fast canonical encoder equals the reference RFC 8785 implementation on admitted values."""

from __future__ import annotations

import unicodedata
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from mvote.chaincode import encoding

# Any NFC text, control characters, quotes, backslashes and astral characters included.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=24).map(
    lambda s: unicodedata.normalize("NFC", s)
)
ASCII_KEYS = st.text(st.characters(max_codepoint=127), max_size=8)
SAFE_INT = st.integers(-encoding.MAX_SAFE_INTEGER, encoding.MAX_SAFE_INTEGER)


def _values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | SAFE_INT | TEXT,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=30,
    )


@settings(max_examples=400, deadline=None)
@given(_values(ASCII_KEYS))
def test_fast_path_equals_rfc8785(value: Any) -> None:
    assert encoding.encode(value) == rfc8785.dumps(value)
    assert encoding.decode(rfc8785.dumps(value), max_size=1 << 20) == value


@settings(max_examples=200, deadline=None)
@given(_values(TEXT))
def test_any_keys_equal_rfc8785(value: Any) -> None:
    # Keys beyond ASCII take the reference encoder, whose key order is UTF-16's.
    assert encoding.encode(value) == rfc8785.dumps(value)


def test_utf16_key_order_is_kept() -> None:
    # U+FF61 sorts after U+1F600 by code point but before it by UTF-16 code units.
    value = {"\U0001f600": 1, "\uff61": 2}
    assert encoding.encode(value) == rfc8785.dumps(value)
    assert list(encoding.decode(encoding.encode(value), max_size=100)) == ["\U0001f600", "\uff61"]
