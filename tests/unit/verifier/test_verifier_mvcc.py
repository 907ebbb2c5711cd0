"""MVCC rules on a versioned key space, the pure function the committer shares."""

from __future__ import annotations

from collections.abc import Sequence

from mvote.verifier._envelope import KVRead, KVWrite, NsRwSet, RangeQuery, TxRwSet
from mvote.verifier._mvcc import (
    MVCC_READ_CONFLICT,
    PHANTOM_READ_CONFLICT,
    VALID,
    BlockUpdates,
    MemoryWorldState,
    check_mvcc,
)


def _tx(
    reads: Sequence[KVRead] = (),
    writes: Sequence[KVWrite] = (),
    rqs: Sequence[RangeQuery] = (),
) -> TxRwSet:
    return TxRwSet((NsRwSet("cc", tuple(reads), tuple(rqs), tuple(writes), (), ()),))


def test_read_versions() -> None:
    state = MemoryWorldState({("cc", "a"): (b"1", (3, 0))})
    pending = BlockUpdates()
    assert check_mvcc(state, pending, _tx([KVRead("a", (3, 0))])) == VALID
    assert check_mvcc(state, pending, _tx([KVRead("a", (2, 0))])) == MVCC_READ_CONFLICT
    assert check_mvcc(state, pending, _tx([KVRead("a", None)])) == MVCC_READ_CONFLICT
    assert check_mvcc(state, pending, _tx([KVRead("b", None)])) == VALID


def test_write_earlier_in_block_conflicts() -> None:
    state = MemoryWorldState()
    pending = BlockUpdates()
    first = _tx([KVRead("k", None)], [KVWrite("k", False, b"v")])
    assert check_mvcc(state, pending, first) == VALID
    pending.add(first, (9, 0))
    assert check_mvcc(state, pending, first) == MVCC_READ_CONFLICT
    state.apply(pending)
    assert state.version("cc", "k") == (9, 0)


def test_phantom_read() -> None:
    state = MemoryWorldState({("cc", "a1"): (b"", (1, 0)), ("cc", "a2"): (b"", (1, 1))})
    rq = RangeQuery("a", "b", True, (KVRead("a1", (1, 0)), KVRead("a2", (1, 1))))
    assert check_mvcc(state, BlockUpdates(), _tx(rqs=[rq])) == VALID
    pending = BlockUpdates()
    pending.add(_tx(writes=[KVWrite("a3", False, b"x")]), (2, 0))
    assert check_mvcc(state, pending, _tx(rqs=[rq])) == PHANTOM_READ_CONFLICT
    deleted = BlockUpdates()
    deleted.add(_tx(writes=[KVWrite("a1", True, b"")]), (2, 0))
    assert check_mvcc(state, deleted, _tx(rqs=[rq])) == PHANTOM_READ_CONFLICT
