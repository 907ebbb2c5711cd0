"""State views: byte order, namespace isolation, snapshot isolation under concurrent commits,
and the two protocols they serve (the contract's simulator and the verifier's MVCC check)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ledger_support import endorser_envelope, header_hash, make_block, rwset

from mvote.chaincode._simulation import KeySpace, TxContext, TxSimulator, Version
from mvote.chaincode._stub import Timestamp
from mvote.node.ledger import Ledger
from mvote.verifier import _mvcc as mvcc
from mvote.verifier._envelope import KVRead, NsRwSet, TxRwSet

KEYS = ["\x00b\x00", "\x00a\x00x\x00", "a", "a\x00", "ab", "b", "~", "é", "\u4e2d", "\U0001f600"]


def _commit(ledger: Ledger, writes: dict[str, dict[str, bytes | None]], code: int = 0) -> Any:
    number = ledger.height
    envelope = endorser_envelope(f"tx-{number}", rwset(writes))
    block = make_block(number, ledger.last_hash, [envelope], [code])
    ledger.commit(block)
    return block


def test_range_is_byte_order_and_namespaces_do_not_mix(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        _commit(ledger, {"mvote": {k: k.encode() for k in KEYS}, "mv": {"a": b"other"}})
        view: KeySpace = ledger.state("mvote")
        ordered = sorted(KEYS, key=lambda k: k.encode())
        assert [k for k, _, _ in view.range("", "")] == ordered
        assert ordered[:2] == ["\x00a\x00x\x00", "\x00b\x00"], "composite keys sort first"
        assert [k for k, _, _ in view.range("a", "b")] == ["a", "a\x00", "ab"]
        assert [k for k, _, _ in view.range("\x00", "\x01")] == ordered[:2]
        assert [k for k, _, _ in view.range("~", "")] == ["~", "é", "\u4e2d", "\U0001f600"]
        assert view.get("é") == ("é".encode(), Version(0, 0))
        other = ledger.state("mv")
        assert [(k, v) for k, v, _ in other.range("", "")] == [("a", b"other")]
        assert ledger.state("m").get("a") is None
        assert list(ledger.state("mvotex").range("", "")) == []


def test_deletes_remove_state_and_stay_in_history(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        _commit(ledger, {"mvote": {"k": b"1", "j": b"x"}})
        _commit(ledger, {"mvote": {"k": None}})
        _commit(ledger, {"mvote": {"k": b"3"}}, code=11)  # invalid: writes nothing
        _commit(ledger, {"mvote": {"k": b"4"}})
        history = ledger.history("mvote", "k")
        assert [(h.version, h.tx_id, h.value) for h in history] == [
            (Version(0, 0), "tx-0", b"1"),
            (Version(1, 0), "tx-1", None),
            (Version(3, 0), "tx-3", b"4"),
        ]
        assert history[1].is_delete
        with ledger.snapshot() as world:
            assert world.get("mvote", "k") == (b"4", Version(3, 0))
            assert [k for k, _ in world.range("mvote", "", "")] == ["j", "k"]


def test_a_snapshot_keeps_its_state_while_commits_go_on(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        _commit(ledger, {"mvote": {"a": b"1", "b": b"1"}})
        old = ledger.snapshot()
        _commit(ledger, {"mvote": {"a": b"2", "b": None, "c": b"2"}})
        assert old.height == 1 and old.get("mvote", "a") == (b"1", Version(0, 0))
        assert [k for k, _ in old.range("mvote", "", "")] == ["a", "b"]
        with ledger.snapshot() as new:
            assert new.height == 2 and new.last_hash == ledger.last_hash
            assert [k for k, _ in new.range("mvote", "", "")] == ["a", "c"]
        assert ledger.latest().get("mvote", "a") == (b"2", Version(1, 0))
        old.close()


def test_readers_see_whole_blocks_while_the_committer_runs(tmp_path: Path) -> None:
    """Each block writes the same number to two keys; no reader may ever see them differ."""
    with Ledger.open(tmp_path) as ledger:
        _commit(ledger, {"mvote": {"x": b"0", "y": b"0"}})
        done = threading.Event()
        failures: list[str] = []

        def read() -> None:
            while not done.is_set():
                try:
                    check_one()
                except Exception as exc:
                    failures.append(repr(exc))

        def check_one() -> None:
            with ledger.snapshot() as world:
                x, y = world.get("mvote", "x"), world.get("mvote", "y")
                if x is None or y is None or x != y or x[1].block != world.height - 1:
                    failures.append(f"height {world.height}: x={x} y={y}")
                # A block the snapshot sees is readable, by number and by hash.
                raw = ledger.block(world.height - 1)
                if ledger.block_by_hash(world.last_hash) != raw:
                    failures.append(f"block {world.height - 1} by hash")

        readers = [threading.Thread(target=read) for _ in range(4)]
        for r in readers:
            r.start()
        try:
            for n in range(1, 150):
                value = str(n).encode()
                _commit(ledger, {"mvote": {"x": value, "y": value}})
        finally:
            done.set()
            for r in readers:
                r.join()
        assert not failures, failures[:5]
        assert ledger.height == 150


def test_the_contract_simulator_reads_a_namespace_view(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        _commit(ledger, {"mvote": {"q~1": b"one", "q~2": b"two", "r": b"r"}})
        context = TxContext("t", "mvote", Timestamp(0, 0), b"creator", [])
        with ledger.state("mvote") as view:
            sim = TxSimulator(view, context)
            assert sim.get_state("q~1") == b"one"
            assert list(sim.get_state_by_range("q~", "q~\x7f")) == [
                ("q~1", b"one"),
                ("q~2", b"two"),
            ]
        assert sim.simulation.reads == {"q~1": Version(0, 0)}
        assert sim.simulation.range_reads[0].reads == [("q~1", (0, 0)), ("q~2", (0, 0))]


def test_the_latest_view_serves_the_verifiers_mvcc_check(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        block = _commit(ledger, {"mvote": {"k": b"v"}})
        assert ledger.latest().last_hash == header_hash(block)

        def reads(version: tuple[int, int] | None) -> TxRwSet:
            ns = NsRwSet("mvote", (KVRead("k", version),), (), (), (), ())
            return TxRwSet((ns,))

        state: mvcc.WorldStateView = ledger.latest()
        assert mvcc.check_mvcc(state, mvcc.BlockUpdates(), reads((0, 0))) == mvcc.VALID
        assert mvcc.check_mvcc(state, mvcc.BlockUpdates(), reads(None)) == mvcc.MVCC_READ_CONFLICT
