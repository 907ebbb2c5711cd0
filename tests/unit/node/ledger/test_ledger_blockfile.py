"""Block file framing: any truncation of a file of N records recovers exactly the whole records
before the cut, in memory and on a real file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_support import scan_bytes

from mvote.node.ledger.blockfile import HEADER, BlockFile, Location, encode_record
from mvote.node.ledger.errors import LedgerCorrupt

payloads = st.lists(st.binary(min_size=1, max_size=200), min_size=0, max_size=8)


def _file(records: list[bytes]) -> tuple[bytes, list[int]]:
    """The file bytes and each record's end offset."""
    data = b""
    ends = []
    for payload in records:
        data += encode_record(payload)
        ends.append(len(data))
    return data, ends


@given(records=payloads, data=st.data())
def test_any_truncation_recovers_the_whole_records_before_it(
    records: list[bytes], data: st.DataObject
) -> None:
    raw, ends = _file(records)
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    found = scan_bytes(raw[:cut])
    whole = [i for i, end in enumerate(ends) if end <= cut]
    assert [payload for _, payload in found] == [records[i] for i in whole]
    assert [loc.end for loc, _ in found] == [ends[i] for i in whole]


@settings(max_examples=60, deadline=None)
@given(records=payloads, data=st.data())
def test_recover_truncates_a_real_file_to_its_whole_records(
    records: list[bytes], data: st.DataObject
) -> None:
    raw, ends = _file(records)
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    whole_end = max([end for end in ends if end <= cut], default=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blocks.bin"
        path.write_bytes(raw[:cut])
        blocks = BlockFile(path)
        try:
            recovered = blocks.recover(0)
            assert [p for _, p in recovered] == records[: len(recovered)]
            assert blocks.end == whole_end
            # The next append lands right after the last whole record.
            location = blocks.append(b"next")
            assert location == Location(whole_end, 4)
            assert blocks.read(location) == b"next"
        finally:
            blocks.close()
        assert path.stat().st_size == whole_end + HEADER.size + 4


@given(
    records=st.lists(st.binary(min_size=1, max_size=100), min_size=1, max_size=5),
    data=st.data(),
)
def test_a_flipped_bit_ends_the_scan_at_its_record(
    records: list[bytes], data: st.DataObject
) -> None:
    raw, ends = _file(records)
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    bit = data.draw(st.integers(0, 7), label="bit")
    damaged = bytearray(raw)
    damaged[position] ^= 1 << bit
    hit = next(i for i, end in enumerate(ends) if position < end)
    assert [p for _, p in scan_bytes(bytes(damaged))] == records[:hit]


def test_garbage_after_the_last_record_is_cut(tmp_path: Path) -> None:
    raw, _ = _file([b"one", b"two"])
    path = tmp_path / "blocks.bin"
    path.write_bytes(raw + os.urandom(3) + b"\x00\x00\x00\x05garbage" + b"\xff" * 100)
    blocks = BlockFile(path)
    assert [p for _, p in blocks.recover(0)] == [b"one", b"two"]
    blocks.close()
    assert path.read_bytes() == raw


def test_a_file_shorter_than_the_committed_part_is_corrupt(tmp_path: Path) -> None:
    raw, ends = _file([b"one", b"two"])
    path = tmp_path / "blocks.bin"
    path.write_bytes(raw[:-1])
    blocks = BlockFile(path)
    with pytest.raises(LedgerCorrupt, match=f"expected at least {ends[-1]} bytes"):
        blocks.recover(ends[-1])
    blocks.close()
    assert path.read_bytes() == raw[:-1], "a corrupt file is left for a human, not truncated"


def test_read_checks_the_frame(tmp_path: Path) -> None:
    path = tmp_path / "blocks.bin"
    blocks = BlockFile(path)
    location = blocks.append(b"payload")
    with pytest.raises(LedgerCorrupt, match="expected an intact record of 8 bytes"):
        blocks.read(Location(location.offset, 8))
    blocks.close()
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 1
    path.write_bytes(bytes(damaged))
    blocks = BlockFile(path)
    with pytest.raises(LedgerCorrupt):
        blocks.read(location)
    blocks.close()


def test_empty_payloads_are_not_records() -> None:
    with pytest.raises(ValueError, match="expected 1"):
        encode_record(b"")
