"""Multi-version concurrency control: Fabric's read-set validation and write application.

A key's version is the height ``(block number, tx number)`` of the valid transaction that last
wrote it. A transaction is MVCC-valid when every key it read still has the version it read,
no key it read was written by an earlier valid transaction of the same block, and every range
it scanned would return the same keys and versions now (else a phantom read).

Everything here is a pure function of a read-only :class:`WorldStateView` plus the block's pending
:class:`BlockUpdates`, so the embedded node's committer and the auditor run the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from mvote.chaincode._simulation import Version as BlockVersion
from mvote.verifier._envelope import KVRead, KVWrite, RangeQuery, TxRwSet, Version
from mvote.verifier._errors import UnsupportedRangeSummary

VALID = 0
MVCC_READ_CONFLICT = 11
PHANTOM_READ_CONFLICT = 12


class WorldStateView(Protocol):
    """Read-only committed world state (public and private-data hashes)."""

    def version(self, namespace: str, key: str) -> Version | None: ...

    def value(self, namespace: str, key: str) -> bytes | None: ...

    def hashed_version(
        self, namespace: str, collection: str, key_hash: bytes
    ) -> Version | None: ...

    def range(self, namespace: str, start: str, end: str) -> Iterable[tuple[str, Version]]:
        """Committed (key, version) with ``start <= key < end`` in key order; ``end == ""``: no bound."""
        ...


@dataclass(frozen=True)
class KeyWrite:
    """A public write of a VALID transaction at ``version``; ``value`` None is a delete."""

    namespace: str
    key: str
    value: bytes | None
    version: BlockVersion
    #: The writing transaction's id ("" when the caller does not track it).
    tx_id: str


@dataclass(frozen=True)
class HashedKeyWrite:
    """A private-data hash write of a VALID transaction; ``value_hash`` None is a delete."""

    namespace: str
    collection: str
    key_hash: bytes
    value_hash: bytes | None
    version: BlockVersion


@dataclass
class BlockUpdates:
    """The writes of a block's VALID transactions so far: every write in block order with the
    height and tx id of its transaction (``writes``, ``hashed_writes``: the ledger's key history),
    and the last write of each key (``public``, ``hashed``: MVCC, the commit hash and the audit's
    state), both filled by :meth:`add` alone. A value of None marks a delete."""

    writes: list[KeyWrite] = field(default_factory=list)
    hashed_writes: list[HashedKeyWrite] = field(default_factory=list)
    public: dict[tuple[str, str], tuple[bytes | None, Version]] = field(default_factory=dict)
    hashed: dict[tuple[str, str, bytes], tuple[bytes | None, Version]] = field(default_factory=dict)

    def add(self, rwset: TxRwSet, height: Version, tx_id: str = "") -> None:
        """Record a VALID transaction's writes at ``height`` (later writes to a key win)."""
        version = BlockVersion(*height)
        for ns in rwset.ns_rwsets:
            for w in ns.writes:
                self._write(KeyWrite(ns.namespace, w.key, _value(w), version, tx_id))
            for coll in ns.collections:
                for hw in coll.writes:
                    value_hash = None if hw.is_delete else hw.value_hash
                    key = (ns.namespace, coll.collection, hw.key_hash)
                    self._write_hashed(HashedKeyWrite(*key, value_hash, version))

    def _write(self, write: KeyWrite) -> None:
        self.writes.append(write)
        self.public[(write.namespace, write.key)] = (write.value, write.version)

    def _write_hashed(self, write: HashedKeyWrite) -> None:
        self.hashed_writes.append(write)
        key = (write.namespace, write.collection, write.key_hash)
        self.hashed[key] = (write.value_hash, write.version)


def _value(write: KVWrite) -> bytes | None:
    return None if write.is_delete else write.value


@dataclass
class MemoryWorldState:
    """A dict-backed :class:`WorldStateView` that can absorb a block's updates (the auditor's ledger)."""

    public: dict[tuple[str, str], tuple[bytes, Version]] = field(default_factory=dict)
    hashed: dict[tuple[str, str, bytes], tuple[bytes, Version]] = field(default_factory=dict)

    def version(self, namespace: str, key: str) -> Version | None:
        hit = self.public.get((namespace, key))
        return None if hit is None else hit[1]

    def value(self, namespace: str, key: str) -> bytes | None:
        hit = self.public.get((namespace, key))
        return None if hit is None else hit[0]

    def hashed_version(self, namespace: str, collection: str, key_hash: bytes) -> Version | None:
        hit = self.hashed.get((namespace, collection, key_hash))
        return None if hit is None else hit[1]

    def range(self, namespace: str, start: str, end: str) -> Iterable[tuple[str, Version]]:
        keys = sorted(
            k for (ns, k) in self.public if ns == namespace and k >= start and (not end or k < end)
        )
        return [(k, self.public[(namespace, k)][1]) for k in keys]

    def apply(self, updates: BlockUpdates) -> None:
        for k, (v, h) in updates.public.items():
            if v is None:
                self.public.pop(k, None)
            else:
                self.public[k] = (v, h)
        for hk, (hv, h) in updates.hashed.items():
            if hv is None:
                self.hashed.pop(hk, None)
            else:
                self.hashed[hk] = (hv, h)


def _read_ok(state: WorldStateView, pending: BlockUpdates, ns: str, read: KVRead) -> bool:
    if (ns, read.key) in pending.public:
        return False
    return state.version(ns, read.key) == read.version


def _range_now(
    state: WorldStateView, pending: BlockUpdates, ns: str, rq: RangeQuery
) -> list[tuple[str, Version]]:
    """Committed state merged with the block's pending writes over the query's range.

    Fabric's ``validateRangeQuery``: a ``combinedIterator`` over ``[start_key, end_key)``
    (``end_key == ""``: no bound), plus ``end_key`` itself when ``itr_exhausted`` is false,
    since the simulator then recorded the last key the caller read as the end
    (:class:`mvote.chaincode._simulation.RangeRead`). So a scan stopped early conflicts with
    changes among the keys it read, never with keys after the last one.
    """
    include_end = not rq.itr_exhausted

    def in_range(k: str) -> bool:
        if k < rq.start_key:
            return False
        if not rq.end_key:
            return True
        return k <= rq.end_key if include_end else k < rq.end_key

    merged: dict[str, Version | None] = {}
    committed_end = "" if not rq.end_key else (rq.end_key + "\x00" if include_end else rq.end_key)
    for k, v in state.range(ns, rq.start_key, committed_end):
        if in_range(k):
            merged[k] = v
    for (pns, k), (value, h) in pending.public.items():
        if pns == ns and in_range(k):
            merged[k] = None if value is None else h
    return [(k, v) for k, v in sorted(merged.items()) if v is not None]


def _range_ok(state: WorldStateView, pending: BlockUpdates, ns: str, rq: RangeQuery) -> bool:
    if rq.raw_reads is None:
        raise UnsupportedRangeSummary(
            f"range query [{rq.start_key!r}, {rq.end_key!r}) in {ns}: expected raw reads, "
            "got Merkle summary hashes",
            field="range_queries_info.reads_merkle_hashes",
        )
    now = _range_now(state, pending, ns, rq)
    recorded = [(r.key, r.version) for r in rq.raw_reads]
    return now == recorded


def check_mvcc(state: WorldStateView, pending: BlockUpdates, rwset: TxRwSet) -> int:
    """The MVCC verdict of one transaction: VALID, MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT.

    Checks each namespace in order, as Fabric does: point reads, then range queries, then
    private-data hashed reads. Raises :class:`UnsupportedRangeSummary` for Merkle-summarised
    range queries.
    """
    for ns in rwset.ns_rwsets:
        if not all(_read_ok(state, pending, ns.namespace, r) for r in ns.reads):
            return MVCC_READ_CONFLICT
        if not all(_range_ok(state, pending, ns.namespace, rq) for rq in ns.range_queries):
            return PHANTOM_READ_CONFLICT
        for coll in ns.collections:
            for hr in coll.reads:
                if (ns.namespace, coll.collection, hr.key_hash) in pending.hashed:
                    return MVCC_READ_CONFLICT
                if state.hashed_version(ns.namespace, coll.collection, hr.key_hash) != hr.version:
                    return MVCC_READ_CONFLICT
    return VALID
