"""stub.py: Fabric's composite key layout and partial-key ranges, byte for byte."""

from __future__ import annotations

import pytest

from mvote.chaincode import _keys as keys
from mvote.chaincode._errors import InvalidField
from mvote.chaincode._stub import (
    create_composite_key,
    get_state_by_partial_composite_key,
    partial_key_range,
    split_composite_key,
)


def test_composite_key_layout_is_fabrics() -> None:
    key = create_composite_key("type", ["a", "b"])
    assert key == "\x00type\x00a\x00b\x00"
    assert key.encode() == b"\x00type\x00a\x00b\x00"
    assert create_composite_key("t", []) == "\x00t\x00"
    assert create_composite_key("t", [""]) == "\x00t\x00\x00"
    assert create_composite_key("t", ["\u00e9"]).encode() == b"\x00t\x00\xc3\xa9\x00"
    assert split_composite_key(key) == ("type", ["a", "b"])
    assert split_composite_key("\x00t\x00") == ("t", [])


@pytest.mark.parametrize("bad", ["a\x00b", "a\U0010ffff"])
def test_composite_key_refuses_separator_characters(bad: str) -> None:
    with pytest.raises(InvalidField):
        create_composite_key("t", [bad])
    with pytest.raises(InvalidField):
        create_composite_key(bad, [])


def test_split_refuses_simple_keys() -> None:
    for bad in ("plain", "\x00t", "t\x00"):
        with pytest.raises(InvalidField):
            split_composite_key(bad)


def test_partial_key_range_ends_at_max_rune() -> None:
    start, end = partial_key_range("ballot", ["q1"])
    assert start == "\x00ballot\x00q1\x00"
    assert end == "\x00ballot\x00q1\x00\U0010ffff"
    assert end.encode()[-4:] == b"\xf4\x8f\xbf\xbf"
    # Every key with that prefix is inside, and a longer id ("q10") is not.
    inside = keys.ballot_key("q1", 3, "ff" * 32)
    outside = keys.ballot_key("q10", 0, "00" * 32)
    assert start <= inside < end
    assert not start <= outside < end


class _RangeOnly:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def get_state_by_range(self, start: str, end: str):  # type: ignore[no-untyped-def]
        self.calls.append((start, end))
        return iter([])


def test_partial_query_scans_the_partial_range() -> None:
    stub = _RangeOnly()
    assert list(get_state_by_partial_composite_key(stub, "participation", ["ab"])) == []  # type: ignore[arg-type]
    assert stub.calls == [partial_key_range("participation", ["ab"])]


def test_mvote_key_layout() -> None:
    voter = "ab" * 32
    assert keys.question_key("q1") == "\x00question\x00q1\x00"
    assert keys.roster_key("r1") == "\x00roster\x00r1\x00"
    assert keys.roster_entry_key("r1", "cd" * 32) == f"\x00rosterentry\x00r1\x00{'cd' * 32}\x00"
    assert keys.ballot_key("q1", 7, voter) == f"\x00ballot\x00q1\x000007\x00{voter}\x00"
    assert keys.participation_key(voter, "q1") == f"\x00participation\x00{voter}\x00q1\x00"
    assert keys.aggregate_key("q1", 1023) == "\x00aggregate\x00q1\x001023\x00"
    assert keys.tally_key("q1") == "\x00tally\x00q1\x00"
    # Fixed-width shard labels sort numerically.
    assert sorted(keys.ballot_key("q", s, voter) for s in (10, 2, 100)) == [
        keys.ballot_key("q", s, voter) for s in (2, 10, 100)
    ]
