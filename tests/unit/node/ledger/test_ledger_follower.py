"""Followers: read replicas of a ledger in other processes (the gateway processes' state)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ledger_support import dump_index, stream

from mvote.node.ledger import Ledger, LedgerCorrupt, LedgerUnavailable
from mvote.node.ledger.store import BLOCK_FILE
from mvote.node.serving import open_follower

BLOCKS = stream(12)


def _leader(directory: Path, count: int) -> Ledger:
    ledger = Ledger.open(directory)
    for block in BLOCKS[ledger.height : count]:
        ledger.commit(block)
    return ledger


def test_a_follower_holds_exactly_what_the_ledger_holds(tmp_path: Path) -> None:
    with (
        _leader(tmp_path / "leader", 12) as leader,
        Ledger.open_follower(tmp_path / "f", tmp_path / "leader" / BLOCK_FILE, 12) as f,
    ):
        assert f.height == 12 and f.last_hash == leader.last_hash
        for n in range(12):
            assert f.block(n) == leader.block(n)
        with f.snapshot() as mine, leader.snapshot() as theirs:
            assert list(mine.items()) == list(theirs.items())
    # Same batches, same index: state, history, block and tx indexes, marker.
    assert dump_index(tmp_path / "f") == dump_index(tmp_path / "leader")


def test_a_follower_never_goes_past_the_height_it_is_told(tmp_path: Path) -> None:
    # Blocks 10 and 11 are in the block file, as after the append and before the index write:
    # a follower must not apply them until the ledger says they are committed.
    _leader(tmp_path / "leader", 12).close()
    block_file = tmp_path / "leader" / BLOCK_FILE
    with Ledger.open_follower(tmp_path / "f", block_file, 10) as follower:
        assert follower.height == 10
        assert [u.number for u in follower.follow(10)] == []
        assert [u.number for u in follower.follow(11)] == [10]
        assert [u.number for u in follower.follow(12)] == [11]
        assert follower.height == 12


def test_a_follower_follows_a_ledger_that_is_committing(tmp_path: Path) -> None:
    leader = _leader(tmp_path / "leader", 3)
    block_file = tmp_path / "leader" / BLOCK_FILE
    with Ledger.open_follower(tmp_path / "f", block_file, leader.height) as follower:
        for block in BLOCKS[3:]:
            leader.commit(block)
            applied = follower.follow(leader.height)
            assert [u.number for u in applied] == [leader.height - 1]
            for tx in applied[0].txs:
                assert follower.tx_location(tx.tx_id) == leader.tx_location(tx.tx_id) is not None
    leader.close()


def test_a_follower_resumes_from_its_marker(tmp_path: Path) -> None:
    leader = _leader(tmp_path / "leader", 6)
    block_file = tmp_path / "leader" / BLOCK_FILE
    Ledger.open_follower(tmp_path / "f", block_file, 6).close()
    for block in BLOCKS[6:]:
        leader.commit(block)
    leader.close()
    with Ledger.open_follower(tmp_path / "f", block_file, 12) as follower:
        assert follower.height == 12
    assert dump_index(tmp_path / "f") == dump_index(tmp_path / "leader")


def test_a_follower_writes_nothing_of_the_ledger(tmp_path: Path) -> None:
    _leader(tmp_path / "leader", 12).close()
    block_file = tmp_path / "leader" / BLOCK_FILE
    # A torn tail past the committed blocks: the ledger's recovery cuts it, a follower must not.
    with block_file.open("ab") as f:
        f.write(b"\x00\x00\x01\x00torn")
    before = block_file.read_bytes()
    with (
        Ledger.open_follower(tmp_path / "f", block_file, 12) as follower,
        pytest.raises(LedgerUnavailable, match="follower commits nothing"),
    ):
        follower.commit(BLOCKS[0])
    assert block_file.read_bytes() == before


def test_a_follower_that_no_longer_matches_the_ledger_is_refused_then_rebuilt(
    tmp_path: Path,
) -> None:
    # What a machine crash can leave: the follower applied block 11, the ledger lost it and
    # then committed another block 11.
    ledger_dir = tmp_path / "ledger"
    _leader(ledger_dir, 12).close()
    open_follower(ledger_dir, 0, 12).close()
    other = stream(13)[12]
    other.header.number = 11
    other.header.previous_hash = BLOCKS[11].header.previous_hash
    (ledger_dir / BLOCK_FILE).unlink()
    shutil.rmtree(ledger_dir / "index")
    with _leader(ledger_dir, 11) as ledger:
        ledger.commit(other)
    follower_dir = ledger_dir / "followers" / "0"
    with pytest.raises(LedgerCorrupt):
        Ledger.open_follower(follower_dir, ledger_dir / BLOCK_FILE, 12)
    with open_follower(ledger_dir, 0, 12) as rebuilt:
        assert rebuilt.height == 12
        assert rebuilt.block(11) == other.SerializeToString()
    assert dump_index(follower_dir) == dump_index(ledger_dir)


def test_a_follower_applies_the_ledgers_commits_as_derived(tmp_path: Path) -> None:
    # The node sends each Commit to its gateway processes: applied as is when it is the next
    # block, ignored when already applied, and a gap is filled from the block file.
    leader = _leader(tmp_path / "leader", 2)
    block_file = tmp_path / "leader" / BLOCK_FILE
    with Ledger.open_follower(tmp_path / "f", block_file, 2) as follower:
        commits = [leader.commit(block) for block in BLOCKS[2:12]]
        assert [u.number for u in follower.follow_commit(commits[0])] == [2]
        assert follower.follow_commit(commits[0]) == []
        # Commits 3..5 never arrived: 6 brings them from the block file first.
        assert [u.number for u in follower.follow_commit(commits[4])] == [3, 4, 5, 6]
        for commit in commits[5:]:
            assert follower.follow_commit(commit) == [commit.updates]
        assert follower.height == leader.height == 12
    leader.close()
    assert dump_index(tmp_path / "f") == dump_index(tmp_path / "leader")
