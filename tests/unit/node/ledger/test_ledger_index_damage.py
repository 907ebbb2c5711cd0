"""A damaged index of an existing ledger is rebuilt from the block file, never recreated empty.

LevelDB asked to ``create_if_missing`` a database whose ``CURRENT`` is gone makes a new one from
the last log and deletes the older tables; the old ledger then lost every block index entry but
the last few and answered LEDGER_BLOCK_NOT_FOUND on every start. Each test damages a real ledger
with blocks and reopens it: every block is served and the index (state, history, block and tx
indexes, marker) is byte for byte what it was.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import plyvel
import pytest
from ledger_support import dump_index, stream

from mvote.node.ledger import Ledger, LedgerCorrupt, LedgerUnavailable
from mvote.node.ledger.blockfile import encode_record
from mvote.node.ledger.store import BLOCK_FILE, DAMAGED_INDEX_DIR, INDEX_DIR
from mvote.node.serving import open_follower

BLOCKS = stream(12)


def _build(directory: Path) -> None:
    """12 blocks, the first 6 flushed from LevelDB's log into tables (as a long-running ledger's
    older blocks are), the last 6 only in the log."""
    with Ledger.open(directory) as ledger:
        for block in BLOCKS[:6]:
            ledger.commit(block)
    db = plyvel.DB(str(directory / INDEX_DIR))
    db.compact_range()
    db.close()
    with Ledger.open(directory) as ledger:
        for block in BLOCKS[6:]:
            ledger.commit(block)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("good")
    _build(directory)
    return directory


def _manifest(index: Path) -> Path:
    return next(index.glob("MANIFEST-*"))


def _delete_current(index: Path) -> None:
    (index / "CURRENT").unlink()


def _garbage_current(index: Path) -> None:
    (index / "CURRENT").write_bytes(b"\x00garbage")


def _current_names_a_missing_manifest(index: Path) -> None:
    (index / "CURRENT").write_text("MANIFEST-999999\n")


def _truncate_manifest(index: Path) -> None:
    manifest = _manifest(index)
    with manifest.open("r+b") as f:
        f.truncate(manifest.stat().st_size // 2)


def _lose_a_table(index: Path) -> None:
    next(index.glob("*.ldb")).unlink()


def _remove_index(index: Path) -> None:
    shutil.rmtree(index)


def _recreated_by_old_code(index: Path) -> None:
    """What the old open did: CURRENT lost, then LevelDB created over the rest."""
    (index / "CURRENT").unlink()
    plyvel.DB(str(index), create_if_missing=True).close()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "CURRENT deleted": _delete_current,
    "CURRENT garbage": _garbage_current,
    "CURRENT names a missing MANIFEST": _current_names_a_missing_manifest,
    "MANIFEST truncated": _truncate_manifest,
    "a table file lost": _lose_a_table,
    "index removed": _remove_index,
    "index recreated by the old open": _recreated_by_old_code,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_index_is_rebuilt_from_the_block_file(
    tmp_path: Path, good: Path, damage: str
) -> None:
    directory = tmp_path / "ledger"
    shutil.copytree(good, directory)
    blocks_before = (directory / BLOCK_FILE).read_bytes()
    DAMAGE[damage](directory / INDEX_DIR)
    with Ledger.open(directory) as ledger:
        assert ledger.height == 12
        for n, block in enumerate(BLOCKS):
            assert ledger.block(n) == block.SerializeToString()
        ledger.commit(stream(13)[12])  # and it goes on committing
    assert (directory / BLOCK_FILE).read_bytes()[: len(blocks_before)] == blocks_before
    with Ledger.open(directory) as ledger:
        assert ledger.height == 13
    # The rebuilt index holds exactly what the undamaged one held, plus block 12.
    expected = tmp_path / "expected"
    shutil.copytree(good, expected)
    with Ledger.open(expected) as ledger:
        ledger.commit(stream(13)[12])
    assert dump_index(directory) == dump_index(expected)
    if damage != "index removed":
        assert (directory / DAMAGED_INDEX_DIR).is_dir()  # set aside for a human, not deleted


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_follower_is_rebuilt(tmp_path: Path, good: Path, damage: str) -> None:
    leader = tmp_path / "ledger"
    shutil.copytree(good, leader)
    open_follower(leader, 0, 12).close()
    follower = leader / "followers" / "0"
    db = plyvel.DB(str(follower / INDEX_DIR))
    db.compact_range()  # its blocks in tables, as a long-running follower's are
    db.close()
    DAMAGE[damage](follower / INDEX_DIR)
    with open_follower(leader, 0, 12) as f:
        assert f.height == 12
        for n, block in enumerate(BLOCKS):
            assert f.block(n) == block.SerializeToString()
    assert dump_index(follower) == dump_index(good)


def test_a_block_file_shorter_than_a_readable_index_is_refused_not_rebuilt(
    tmp_path: Path, good: Path
) -> None:
    directory = tmp_path / "ledger"
    shutil.copytree(good, directory)
    before = dump_index(directory)
    data = (directory / BLOCK_FILE).read_bytes()
    (directory / BLOCK_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(LedgerCorrupt, match="block file"):
        Ledger.open(directory)
    assert dump_index(directory) == before
    assert not (directory / DAMAGED_INDEX_DIR).exists()


def test_an_index_held_by_another_process_is_unavailable_not_rebuilt(
    tmp_path: Path, good: Path
) -> None:
    directory = tmp_path / "ledger"
    shutil.copytree(good, directory)
    with (
        Ledger.open(directory),
        pytest.raises(LedgerUnavailable, match="another process may hold it"),
    ):
        Ledger.open(directory)
    assert not (directory / DAMAGED_INDEX_DIR).exists()


def test_a_new_ledger_still_creates_its_index(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "new") as ledger:
        assert ledger.height == 0
        ledger.commit(BLOCKS[0])
    assert not (tmp_path / "new" / DAMAGED_INDEX_DIR).exists()


def test_a_rebuild_never_cuts_a_damaged_block_and_what_follows(tmp_path: Path, good: Path) -> None:
    directory = tmp_path / "ledger"
    shutil.copytree(good, directory)
    data = bytearray((directory / BLOCK_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF  # a block in the middle, committed blocks after it
    (directory / BLOCK_FILE).write_bytes(bytes(data))
    (directory / INDEX_DIR / "CURRENT").unlink()
    with pytest.raises(LedgerCorrupt, match="nothing is cut"):
        Ledger.open(directory)
    assert (directory / BLOCK_FILE).read_bytes() == bytes(data)
    with pytest.raises(LedgerCorrupt, match="nothing is cut"):
        Ledger.open(directory)  # nor on the next open, over the empty index of the first
    assert (directory / BLOCK_FILE).read_bytes() == bytes(data)


def test_a_rebuild_cuts_a_torn_last_append(tmp_path: Path, good: Path) -> None:
    directory = tmp_path / "ledger"
    shutil.copytree(good, directory)
    whole = (directory / BLOCK_FILE).read_bytes()
    torn = encode_record(stream(13)[12].SerializeToString())[:-5]
    (directory / BLOCK_FILE).write_bytes(whole + torn)
    shutil.rmtree(directory / INDEX_DIR)
    with Ledger.open(directory) as ledger:
        assert ledger.height == 12
    assert (directory / BLOCK_FILE).read_bytes() == whole
