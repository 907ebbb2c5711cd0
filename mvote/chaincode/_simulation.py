"""Transaction simulation: a pure implementation of the stub over a versioned state view.

It records what Fabric's transaction simulator records (read versions, range reads, writes, the
event), so the embedded node's endorser, the auditor's replay and the in-process demo all run the
contract the same way. No I/O: the state view is given.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from . import encoding
from ._contract import VERSION, Response, invoke
from ._errors import InvalidField
from ._stub import Timestamp


class Version(NamedTuple):
    """Fabric's key version: the height (block, transaction) of the write that set it."""

    block: int
    tx: int


class KeySpace(Protocol):
    """The committed, versioned keys of one chaincode namespace, as the simulator reads them
    (the verifier's ``mvcc.WorldStateView`` is the committer's view over every namespace)."""

    def get(self, key: str) -> tuple[bytes, Version] | None: ...

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes, Version]]:
        """Committed keys in ``[start, end)`` in byte order; ``end == ""`` means unbounded."""
        ...


class MemoryKeySpace:
    """A sorted in-memory versioned key space (the auditor's fresh state, tests, the demo)."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[bytes, Version]] = {}
        self._keys: list[str] = []

    def get(self, key: str) -> tuple[bytes, Version] | None:
        return self._values.get(key)

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes, Version]]:
        i = bisect.bisect_left(self._keys, start)
        keys = self._keys[i:]  # a copy: iteration stays valid if state changes meanwhile
        for key in keys:
            if end and key >= end:
                return
            value, version = self._values[key]
            yield key, value, version

    def apply(self, writes: Mapping[str, bytes | None], version: Version) -> None:
        """Apply a valid transaction's writes (``None`` deletes) at ``version``."""
        for key, value in writes.items():
            if value is None:
                if self._values.pop(key, None) is not None:
                    del self._keys[bisect.bisect_left(self._keys, key)]
            else:
                if key not in self._values:
                    bisect.insort(self._keys, key)
                self._values[key] = (value, version)

    def items(self) -> Iterator[tuple[str, bytes, Version]]:
        return self.range("", "")

    def copy(self) -> MemoryKeySpace:
        """An independent state with the same keys, values and versions."""
        other = MemoryKeySpace()
        other._values = dict(self._values)
        other._keys = list(self._keys)
        return other

    def __len__(self) -> int:
        return len(self._keys)


@dataclass
class RangeRead:
    """One range query as Fabric records it for phantom-read validation (``RangeQueryInfo``).

    Fabric's simulator (``resultsItr.updateRangeQueryInfo``) records what the caller actually
    read, not what it asked for: ``end`` is the last key returned while the scan is open
    (``exhausted`` false; ``""`` when no key was returned yet), and becomes the caller's end key
    only once the iterator reports no more keys (``exhausted`` true). The committer re-scans
    ``[start, end)`` for an exhausted scan and ``[start, end]`` for an open one
    (:func:`mvote.verifier._mvcc.check_mvcc`), so a scan stopped early conflicts only with
    changes among the keys it read, never with keys after them.
    """

    start: str
    end: str = ""
    exhausted: bool = False
    reads: list[tuple[str, Version]] = field(default_factory=list)


@dataclass
class Simulation:
    """What one transaction did: its read and write sets and its event."""

    reads: dict[str, Version | None] = field(default_factory=dict)
    range_reads: list[RangeRead] = field(default_factory=list)
    writes: dict[str, bytes | None] = field(default_factory=dict)
    event: tuple[str, bytes] | None = None

    def range_queries(self) -> list[RangeRead]:
        """The range reads as Fabric's rwset builder keeps them (``AddToRangeQuerySet``): the
        first of each (start, end, exhausted), in the order the scans were opened."""
        kept: dict[tuple[str, str, bool], RangeRead] = {}
        for query in self.range_reads:
            kept.setdefault((query.start, query.end, query.exhausted), query)
        return list(kept.values())


@dataclass(frozen=True)
class TxContext:
    """The transaction's identity as the stub exposes it."""

    tx_id: str
    channel_id: str
    timestamp: Timestamp
    creator: bytes
    args: Sequence[bytes]


class TxSimulator:
    """A :class:`~mvote.chaincode._stub.ChaincodeStub` over a state view that records a read-write set."""

    def __init__(self, state: KeySpace, context: TxContext) -> None:
        self._state = state
        self._context = context
        self.simulation = Simulation()

    # -- the transaction -------------------------------------------------------------------------

    def get_args(self) -> list[bytes]:
        return list(self._context.args)

    def get_tx_id(self) -> str:
        return self._context.tx_id

    def get_channel_id(self) -> str:
        return self._context.channel_id

    def get_tx_timestamp(self) -> Timestamp:
        return self._context.timestamp

    def get_creator(self) -> bytes:
        return self._context.creator

    # -- state -----------------------------------------------------------------------------------

    def get_state(self, key: str) -> bytes:
        _check_key(key)
        found = self._state.get(key)
        # Fabric keeps the first version read; a key read twice has one entry.
        self.simulation.reads.setdefault(key, found[1] if found else None)
        return found[0] if found else b""

    def put_state(self, key: str, value: bytes) -> None:
        _check_key(key)
        if not value:
            # Fabric cannot tell an empty value from an absent key: refuse to write one.
            raise InvalidField(f"put_state {key!r}: empty value", field="value")
        self.simulation.writes[key] = bytes(value)

    def del_state(self, key: str) -> None:
        _check_key(key)
        self.simulation.writes[key] = None

    def get_state_by_range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]:
        """Keys in ``[start, end)``; the query is recorded now, as Fabric records every
        iterator it opened, even one never advanced."""
        record = RangeRead(start=start)
        self.simulation.range_reads.append(record)
        return self._scan(record, end)

    def _scan(self, record: RangeRead, end: str) -> Iterator[tuple[str, bytes]]:
        for key, value, version in self._state.range(record.start, end):
            record.reads.append((key, version))
            record.end = key  # the caller may never ask for the next key
            yield key, value
        record.end, record.exhausted = end, True

    def set_event(self, name: str, payload: bytes) -> None:
        if not name:
            raise InvalidField("set_event: empty event name", field="event")
        self.simulation.event = (name, bytes(payload))


def _check_key(key: str) -> None:
    if not key:
        raise InvalidField("state key is empty", field="key")


@dataclass(frozen=True)
class Executed:
    """One transaction run by :class:`SerialLedger`: its id, the contract's answer, its rw-set."""

    tx_id: str
    response: Response
    simulation: Simulation

    @property
    def ok(self) -> bool:
        return self.response.ok

    def payload(self) -> Any:
        """The decoded response payload. Precondition: ``ok``."""
        return encoding.decode(self.response.payload, max_size=1 << 26, what="payload")


class SerialLedger:
    """Runs transactions one at a time on a :class:`MemoryKeySpace`: simulate, then commit.

    Serial execution means every read is at the latest version, so no MVCC check is needed; a
    refused transaction (status >= 400) writes nothing. This is the in-process ledger of the
    tests and the quick demo; the node orders, validates and commits real blocks instead.
    """

    def __init__(self, channel_id: str = "mvote", version: str = VERSION) -> None:
        self.channel_id = channel_id
        #: The contract version whose rules every transaction runs (``contract.VERSIONS``).
        self.version = version
        self.state = MemoryKeySpace()
        self.height = 0

    def run(
        self,
        creator: bytes,
        function: str,
        *args: bytes | str,
        timestamp: int,
        commit: bool = True,
    ) -> Executed:
        raw = [function.encode()] + [a.encode() if isinstance(a, str) else a for a in args]
        # Deterministic tx ids, so that replaying the same inputs gives the same state bytes.
        tx_id = hashlib.sha256(
            self.height.to_bytes(8, "big") + hashlib.sha256(b"\x00".join(raw)).digest()
        ).hexdigest()
        context = TxContext(tx_id, self.channel_id, Timestamp(timestamp, 0), creator, raw)
        simulator = TxSimulator(self.state, context)
        response = invoke(simulator, self.version)
        if response.ok and commit:
            self.height += 1
            self.state.apply(simulator.simulation.writes, Version(self.height, 0))
        return Executed(tx_id, response, simulator.simulation)

    def query(self, creator: bytes, function: str, *args: bytes | str, timestamp: int) -> Executed:
        return self.run(creator, function, *args, timestamp=timestamp, commit=False)
