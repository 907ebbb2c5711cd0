"""Crash recovery on open: torn tails cut, durable blocks rolled forward, corruption refused."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from ledger_support import dump_index, stream

from mvote.node.ledger import Ledger, LedgerCorrupt
from mvote.node.ledger.blockfile import BlockFile, encode_record
from mvote.node.ledger.store import BLOCK_FILE

BLOCKS = stream(12)


def _commit(directory: Path, blocks: list[Any]) -> None:
    with Ledger.open(directory) as ledger:
        for block in blocks:
            ledger.commit(block)


def _append_raw(directory: Path, data: bytes) -> None:
    """What a crash leaves: bytes in the block file that LevelDB never heard of."""
    with (directory / BLOCK_FILE).open("ab") as f:
        f.write(data)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[bytes, bytes]]:
    """The index of a clean commit of the first N stream blocks, for N = 10, 11, 12."""
    out = {}
    for n in (10, 11, 12):
        directory = tmp_path_factory.mktemp(f"clean{n}")
        _commit(directory, BLOCKS[:n])
        out[n] = dump_index(directory)
    return out


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.3, 0.999])
def test_a_torn_tail_is_cut_off(
    tmp_path: Path, clean: dict[int, dict[bytes, bytes]], fraction: float
) -> None:
    _commit(tmp_path, BLOCKS[:10])
    size = (tmp_path / BLOCK_FILE).stat().st_size
    record = encode_record(BLOCKS[10].SerializeToString())
    _append_raw(tmp_path, record[: max(1, int(len(record) * fraction))])
    with Ledger.open(tmp_path) as ledger:
        assert ledger.height == 10
        assert (tmp_path / BLOCK_FILE).stat().st_size == size
        ledger.commit(BLOCKS[10])  # the committer retries the block that was torn
    assert dump_index(tmp_path) == clean[11]


def test_garbage_after_the_last_block_is_cut_off(
    tmp_path: Path, clean: dict[int, dict[bytes, bytes]]
) -> None:
    _commit(tmp_path, BLOCKS[:10])
    blocks_before = (tmp_path / BLOCK_FILE).read_bytes()
    _append_raw(tmp_path, b"\x00\x00\x10\x00" + b"\xa5" * 5000)
    with Ledger.open(tmp_path) as ledger:
        assert ledger.height == 10
    assert (tmp_path / BLOCK_FILE).read_bytes() == blocks_before
    assert dump_index(tmp_path) == clean[10]


def test_durable_blocks_beyond_the_index_roll_forward(
    tmp_path: Path, clean: dict[int, dict[bytes, bytes]]
) -> None:
    _commit(tmp_path, BLOCKS[:10])
    record11 = encode_record(BLOCKS[10].SerializeToString())
    record12 = encode_record(BLOCKS[11].SerializeToString())
    _append_raw(tmp_path, record11 + record12[:100])
    with Ledger.open(tmp_path) as ledger:
        assert ledger.height == 11
    assert dump_index(tmp_path) == clean[11]
    _append_raw(tmp_path, record12)
    with Ledger.open(tmp_path) as ledger:
        assert ledger.height == 12
        with ledger.snapshot() as world:
            assert world.height == 12
    assert dump_index(tmp_path) == clean[12]


def test_a_lost_index_is_rebuilt_from_the_block_file(
    tmp_path: Path, clean: dict[int, dict[bytes, bytes]]
) -> None:
    _commit(tmp_path, BLOCKS[:12])
    shutil.rmtree(tmp_path / "index")
    with Ledger.open(tmp_path) as ledger:
        assert ledger.height == 12
    assert dump_index(tmp_path) == clean[12]


def test_a_block_file_with_fewer_blocks_than_the_index_is_corrupt(tmp_path: Path) -> None:
    _commit(tmp_path, BLOCKS[:10])
    path = tmp_path / BLOCK_FILE
    whole = path.read_bytes()
    path.write_bytes(whole[:-10])
    with pytest.raises(LedgerCorrupt, match="expected at least") as raised:
        Ledger.open(tmp_path)
    assert raised.value.code == "LEDGER_CORRUPT"
    assert path.read_bytes() == whole[:-10], "corruption is reported, never truncated away"
    # Fewer whole blocks, padded back to the committed size: the last committed record is gone.
    first_nine = BlockFile(path)
    nine = first_nine.recover(0)
    first_nine.close()
    path.write_bytes(whole[: nine[-1][0].end] + b"\x00" * (len(whole) - nine[-1][0].end))
    with pytest.raises(LedgerCorrupt, match="expected an intact record"):
        Ledger.open(tmp_path)


def test_a_damaged_committed_block_is_corrupt_not_cut(tmp_path: Path) -> None:
    _commit(tmp_path, BLOCKS[:10])
    path = tmp_path / BLOCK_FILE
    damaged = bytearray(path.read_bytes())
    damaged[20] ^= 0xFF  # inside block 0's payload
    path.write_bytes(bytes(damaged))
    with Ledger.open(tmp_path) as ledger:
        assert ledger.height == 10
        with pytest.raises(LedgerCorrupt, match="offset 0: expected an intact record"):
            ledger.block(0)
        ledger.block(9)


def test_a_whole_block_that_does_not_chain_is_corrupt(tmp_path: Path) -> None:
    _commit(tmp_path, BLOCKS[:10])
    _append_raw(tmp_path, encode_record(BLOCKS[11].SerializeToString()))
    with pytest.raises(LedgerCorrupt, match=r"cannot be rolled forward: block header\.number"):
        Ledger.open(tmp_path)
