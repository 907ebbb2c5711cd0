"""simulation.py: what the simulator records, as Fabric's transaction simulator does."""

from __future__ import annotations

import pytest
from testkit import state_bytes

from mvote.chaincode._errors import InvalidField
from mvote.chaincode._simulation import (
    MemoryKeySpace,
    SerialLedger,
    TxContext,
    TxSimulator,
    Version,
)
from mvote.chaincode._stub import Timestamp


def _state() -> MemoryKeySpace:
    state = MemoryKeySpace()
    state.apply({"a": b"1", "b": b"2", "c": b"3"}, Version(1, 0))
    state.apply({"b": b"22"}, Version(2, 0))
    return state


def _sim(state: MemoryKeySpace) -> TxSimulator:
    return TxSimulator(state, TxContext("tx1", "ch", Timestamp(5, 7), b"me", [b"F", b"x"]))


def test_context_is_exposed() -> None:
    sim = _sim(MemoryKeySpace())
    assert sim.get_args() == [b"F", b"x"]
    assert (sim.get_tx_id(), sim.get_channel_id(), sim.get_creator()) == ("tx1", "ch", b"me")
    assert sim.get_tx_timestamp() == Timestamp(5, 7)


def test_reads_do_not_see_own_writes() -> None:
    state = _state()
    sim = _sim(state)
    sim.put_state("a", b"new")
    sim.put_state("z", b"new")
    sim.del_state("c")
    assert sim.get_state("a") == b"1"
    assert sim.get_state("z") == b""
    assert sim.get_state("c") == b"3"
    assert [k for k, _ in sim.get_state_by_range("", "")] == ["a", "b", "c"]
    assert sim.simulation.writes == {"a": b"new", "z": b"new", "c": None}
    # Nothing reaches the state until the ledger commits.
    assert state.get("a") == (b"1", Version(1, 0))


def test_first_read_version_is_kept() -> None:
    state = _state()
    sim = _sim(state)
    assert sim.get_state("b") == b"22"
    state.apply({"b": b"333"}, Version(3, 0))
    assert sim.get_state("b") == b"333"
    assert sim.simulation.reads == {"b": Version(2, 0)}
    sim.get_state("missing")
    assert sim.simulation.reads["missing"] is None


def test_range_read_recording_exhausted_or_not() -> None:
    state = _state()
    sim = _sim(state)
    assert list(sim.get_state_by_range("a", "c")) == [("a", b"1"), ("b", b"22")]
    scan = sim.get_state_by_range("b", "")
    assert next(scan) == ("b", b"22")
    del scan  # abandoned after one key
    full, partial = sim.simulation.range_reads
    assert (full.start, full.end, full.exhausted) == ("a", "c", True)
    assert full.reads == [("a", Version(1, 0)), ("b", Version(2, 0))]
    # As Fabric records a scan stopped early: the last key read is the end, not exhausted.
    assert (partial.start, partial.end, partial.exhausted) == ("b", "b", False)
    assert partial.reads == [("b", Version(2, 0))]
    assert sim.simulation.reads == {}  # range reads are not point reads


def test_empty_values_and_keys_are_refused() -> None:
    sim = _sim(_state())
    with pytest.raises(InvalidField):
        sim.put_state("a", b"")
    with pytest.raises(InvalidField):
        sim.put_state("", b"x")
    with pytest.raises(InvalidField):
        sim.get_state("")
    with pytest.raises(InvalidField):
        sim.del_state("")
    with pytest.raises(InvalidField):
        sim.set_event("", b"x")
    assert sim.simulation.writes == {}


def test_one_event_per_transaction() -> None:
    sim = _sim(MemoryKeySpace())
    sim.set_event("A", b"1")
    sim.set_event("B", b"2")
    assert sim.simulation.event == ("B", b"2")


def test_memory_state_orders_deletes_and_versions() -> None:
    state = MemoryKeySpace()
    state.apply({"b": b"1", "a": b"1", "\x00x": b"1"}, Version(1, 0))
    state.apply({"a": None, "c": b"2", "zz": None}, Version(2, 3))
    assert [(k, v, ver) for k, v, ver in state.items()] == [
        ("\x00x", b"1", Version(1, 0)),
        ("b", b"1", Version(1, 0)),
        ("c", b"2", Version(2, 3)),
    ]
    assert len(state) == 3
    assert state.get("a") is None
    assert [k for k, _, _ in state.range("b", "c")] == ["b"]


def test_serial_ledger_commits_only_accepted_transactions(identity) -> None:  # type: ignore[no-untyped-def]
    ledger = SerialLedger("mvote")
    admin = identity("Org1MSP", "admin")
    refused = ledger.run(admin, "GetQuestion", "nope", timestamp=1)
    assert not refused.ok
    assert (ledger.height, state_bytes(ledger)) == (0, b"")
    accepted = ledger.run(admin, "CreateRoster", b'{"rid":"r1","title":"t"}', timestamp=1)
    assert accepted.ok
    assert ledger.height == 1
    assert state_bytes(ledger) != b""
    query = ledger.query(admin, "CreateRoster", b'{"rid":"r2","title":"t"}', timestamp=1)
    assert query.ok
    assert query.simulation.writes  # simulated ...
    assert ledger.height == 1  # ... but not committed
    # Transaction ids depend on the height and the inputs only.
    again = SerialLedger("mvote").run(
        admin, "CreateRoster", b'{"rid":"r1","title":"t"}', timestamp=1
    )
    assert again.tx_id == accepted.tx_id
