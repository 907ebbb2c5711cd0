"""Range queries as Fabric records and validates them: a partial scan against a full one.

Fabric's simulator (``resultsItr.updateRangeQueryInfo``) sets ``end_key`` to the last key the
caller read while the scan is open and to the caller's own end key once the iterator is
exhausted; its committer (``validateRangeQuery`` with a ``combinedIterator``) re-scans
``[start_key, end_key)``, plus ``end_key`` itself when ``itr_exhausted`` is false, and compares
keys and versions with the recorded raw reads. Here: the contract's simulator records, the
node's rwset bytes carry it, the committer's parser and MVCC rule judge it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2

from mvote.chaincode._simulation import MemoryKeySpace, Simulation, TxContext, TxSimulator, Version
from mvote.chaincode._stub import Timestamp
from mvote.node.rwset import tx_rwset_bytes
from mvote.verifier import _mvcc as mvcc
from mvote.verifier._envelope import KVWrite, NsRwSet, TxRwSet, unpack_rwset
from mvote.verifier._mvcc import PHANTOM_READ_CONFLICT, VALID, BlockUpdates, check_mvcc

NS = "cc"
KEYS = {"a9": 1, "b1": 2, "b2": 3, "b3": 4, "b4": 5, "c": 6}


@pytest.fixture
def sim() -> TxSimulator:
    state = MemoryKeySpace()
    for key, block in KEYS.items():
        state.apply({key: key.encode()}, Version(block, 0))
    context = TxContext("tx", "mvote", Timestamp(1, 0), b"creator", [b"f"])
    return TxSimulator(state, context)


def _infos(simulation: Simulation) -> list[kv_rwset_pb2.RangeQueryInfo]:
    tx = rwset_pb2.TxReadWriteSet.FromString(tx_rwset_bytes({NS: simulation}))
    return list(kv_rwset_pb2.KVRWSet.FromString(tx.ns_rwset[0].rwset).range_queries_info)


def _fields(info: kv_rwset_pb2.RangeQueryInfo) -> tuple[str, str, bool, list[str]]:
    keys = [r.key for r in info.raw_reads.kv_reads]
    return info.start_key, info.end_key, info.itr_exhausted, keys


def _take(scan: Iterator[tuple[str, bytes]], n: int) -> list[str]:
    return [next(scan)[0] for _ in range(n)]


def test_full_scan_records_the_callers_end_key_and_exhausted(sim: TxSimulator) -> None:
    assert [k for k, _ in sim.get_state_by_range("b", "c")] == ["b1", "b2", "b3", "b4"]
    [info] = _infos(sim.simulation)
    assert _fields(info) == ("b", "c", True, ["b1", "b2", "b3", "b4"])
    assert [(r.version.block_num, r.version.tx_num) for r in info.raw_reads.kv_reads] == [
        (2, 0),
        (3, 0),
        (4, 0),
        (5, 0),
    ]


def test_partial_scan_records_the_last_key_read_not_exhausted(sim: TxSimulator) -> None:
    assert _take(sim.get_state_by_range("b", "c"), 2) == ["b1", "b2"]
    [info] = _infos(sim.simulation)
    assert _fields(info) == ("b", "b2", False, ["b1", "b2"])


def test_reading_every_key_without_asking_for_the_next_is_still_partial(
    sim: TxSimulator,
) -> None:
    # Fabric only learns that the range is exhausted from the Next() call that returns nothing.
    assert _take(sim.get_state_by_range("b", "c"), 4) == ["b1", "b2", "b3", "b4"]
    [info] = _infos(sim.simulation)
    assert _fields(info) == ("b", "b4", False, ["b1", "b2", "b3", "b4"])


def test_scan_never_advanced_is_recorded_with_an_empty_end_key(sim: TxSimulator) -> None:
    sim.get_state_by_range("b", "c")
    [info] = _infos(sim.simulation)
    assert _fields(info) == ("b", "", False, [])


def _verdict(sim: TxSimulator, *, committed: dict[str, int], pending: dict[str, int]) -> int:
    """The committer's MVCC verdict on ``sim``'s recorded rwset once more keys are committed
    (key -> block) and earlier transactions of its block wrote (key -> block; block 0 deletes)."""
    state = mvcc.MemoryWorldState(
        {(NS, k): (k.encode(), (block, 0)) for k, block in {**KEYS, **committed}.items()}
    )
    updates = BlockUpdates()
    for key, block in pending.items():
        write = KVWrite(key, block == 0, key.encode())
        updates.add(TxRwSet((NsRwSet(NS, (), (), (write,), (), ()),)), (block, 0))
    rwset = unpack_rwset(tx_rwset_bytes({NS: sim.simulation}))
    return check_mvcc(state, updates, rwset)


@pytest.mark.parametrize(
    ("committed", "pending", "verdict"),
    [
        ({}, {}, VALID),
        # After the last key read, or beyond the caller's range: not read, no conflict.
        ({"b2x": 50}, {}, VALID),
        ({}, {"b3": 90}, VALID),
        ({}, {"b5": 90}, VALID),
        ({"b3": 50}, {"b4": 0}, VALID),
        # Inside the read range: a phantom, an update or a delete of a read key is caught.
        ({"b15": 50}, {}, PHANTOM_READ_CONFLICT),
        ({}, {"b0": 90}, PHANTOM_READ_CONFLICT),
        ({"b2": 50}, {}, PHANTOM_READ_CONFLICT),
        ({}, {"b1": 0}, PHANTOM_READ_CONFLICT),
        ({}, {"b2": 0}, PHANTOM_READ_CONFLICT),
        ({}, {"b2": 90}, PHANTOM_READ_CONFLICT),
    ],
)
def test_partial_scan_conflicts_only_within_the_keys_it_read(
    sim: TxSimulator, committed: dict[str, int], pending: dict[str, int], verdict: int
) -> None:
    _take(sim.get_state_by_range("b", "c"), 2)
    assert _verdict(sim, committed=committed, pending=pending) == verdict


@pytest.mark.parametrize(
    ("committed", "pending", "verdict"),
    [
        ({}, {}, VALID),
        # The caller's end key is excluded; before the start is outside too.
        ({"c": 50}, {}, VALID),
        ({}, {"a99": 90}, VALID),
        ({"b2x": 50}, {}, PHANTOM_READ_CONFLICT),
        ({}, {"b5": 90}, PHANTOM_READ_CONFLICT),
        ({}, {"b4": 0}, PHANTOM_READ_CONFLICT),
        ({}, {"b3": 90}, PHANTOM_READ_CONFLICT),
    ],
)
def test_full_scan_conflicts_anywhere_in_the_callers_range(
    sim: TxSimulator, committed: dict[str, int], pending: dict[str, int], verdict: int
) -> None:
    list(sim.get_state_by_range("b", "c"))
    assert _verdict(sim, committed=committed, pending=pending) == verdict


def test_partial_scan_that_read_every_key_ignores_a_key_added_after_them(
    sim: TxSimulator,
) -> None:
    # Read to b4 without the exhausting call: a key after b4 (still in [b, c)) is not a
    # conflict, as in Fabric, since the caller never learned there was nothing more.
    _take(sim.get_state_by_range("b", "c"), 4)
    assert _verdict(sim, committed={"b5": 50}, pending={}) == VALID
    assert _verdict(sim, committed={"b35": 50}, pending={}) == PHANTOM_READ_CONFLICT


def test_scan_never_advanced_conflicts_with_any_key_from_its_start(sim: TxSimulator) -> None:
    # Fabric's rule for an iterator opened and never advanced: end_key "" with itr_exhausted
    # false re-scans [start, no bound), which must be empty. Here it is not: a conflict.
    sim.get_state_by_range("b", "c")
    assert _verdict(sim, committed={}, pending={}) == PHANTOM_READ_CONFLICT
    empty = TxSimulator(MemoryKeySpace(), TxContext("tx", "mvote", Timestamp(1, 0), b"c", [b"f"]))
    empty.get_state_by_range("b", "c")
    state = mvcc.MemoryWorldState({(NS, "a"): (b"a", (1, 0))})
    rwset = unpack_rwset(tx_rwset_bytes({NS: empty.simulation}))
    assert check_mvcc(state, BlockUpdates(), rwset) == VALID
    state.public[(NS, "zz")] = (b"z", (2, 0))
    assert check_mvcc(state, BlockUpdates(), rwset) == PHANTOM_READ_CONFLICT


def test_the_same_range_query_twice_is_recorded_once_as_fabric_keeps_it(sim: TxSimulator) -> None:
    # Fabric's rwset builder keys range queries by (start, end, exhausted) and keeps the first.
    list(sim.get_state_by_range("b", "c"))
    _take(sim.get_state_by_range("b", "c"), 2)
    list(sim.get_state_by_range("b", "c"))
    _take(sim.get_state_by_range("b", "c"), 2)
    _take(sim.get_state_by_range("b", "c"), 3)
    assert [_fields(info)[:3] for info in _infos(sim.simulation)] == [
        ("b", "c", True),
        ("b", "b2", False),
        ("b", "b3", False),
    ]
