"""The 16 real Fabric v3.1.5 blocks committed into a fresh ledger: chain, state, indexes, history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ledger_support import dump_index, header_hash

from mvote.chaincode._simulation import Version
from mvote.node.ledger import BlockNotFound, Ledger
from mvote.verifier._transaction import ParsedTransaction


def _writes(envelope: bytes) -> dict[tuple[str, str], bytes | None]:
    out: dict[tuple[str, str], bytes | None] = {}
    for ns in ParsedTransaction.parse(envelope).namespaces:
        for w in ns.writes:
            out[(ns.namespace, w.key)] = None if w.is_delete else w.value
    return out


@pytest.fixture
def committed(tmp_path: Path, golden: list[Any]) -> Ledger:
    ledger = Ledger.open(tmp_path / "ledger")
    for block in golden:
        ledger.commit(block)
    return ledger


def test_height_and_last_hash(committed: Ledger, golden_meta: dict[str, Any]) -> None:
    assert committed.height == 16
    assert committed.last_hash.hex() == golden_meta["blocks"][-1]["header_hash"]


def test_state_holds_exactly_the_valid_writes(
    committed: Ledger, golden: list[Any], golden_meta: dict[str, Any]
) -> None:
    expected: dict[tuple[str, str], tuple[bytes, Version]] = {}
    invalid_keys: set[tuple[str, str]] = set()
    for block, meta in zip(golden[4:], golden_meta["blocks"][4:], strict=True):
        for index, (envelope, code) in enumerate(
            zip(block.data.data, meta["validation_code_values"], strict=True)
        ):
            writes = _writes(envelope)
            if code != 0:
                invalid_keys |= set(writes)
                continue
            for key, value in writes.items():
                assert value is not None  # the golden chain deletes nothing
                expected[key] = (value, Version(meta["number"], index))
    with committed.snapshot() as world:
        state = {(ns, k): (v, ver) for ns, k, v, ver in world.items()}
    assert state == expected
    # 23 VALID Casts, 2 keys each; 5 _lifecycle keys from the chaincode definition commit.
    assert sum(ns == "mvote" for ns, _ in state) == 46
    assert sum(ns == "_lifecycle" for ns, _ in state) == 5
    assert invalid_keys, "the golden chain has MVCC_READ_CONFLICT transactions"
    # An invalid Cast repeats tx 0's ballot: its participation value (its own tx id) is absent.
    for block, meta in zip(golden[10:14], golden_meta["blocks"][10:14], strict=True):
        for index in (1, 2):
            for key, value in _writes(block.data.data[index]).items():
                assert state[key] != (value, Version(meta["number"], index))
                assert state[key][1] == Version(meta["number"], 0)


def test_lifecycle_writes_of_blocks_1_to_4(committed: Ledger) -> None:
    with committed.latest() as world:
        hashed = list(world.hashed_items())
        public = [(ns, k, ver) for ns, k, _, ver in world.items() if ns == "_lifecycle"]
    # Each org's approval (blocks 1-3) writes 6 private-data hashes to its implicit collection.
    by_block: dict[int, set[str]] = {}
    for ns, coll, _, _, version in hashed:
        assert ns == "_lifecycle"
        by_block.setdefault(version.block, set()).add(coll)
    assert by_block == {
        1: {"_implicit_org_Org1MSP"},
        2: {"_implicit_org_Org2MSP"},
        3: {"_implicit_org_Org3MSP"},
    }
    assert len(hashed) == 18
    assert {k for _, k, _ in public} == {
        "namespaces/fields/mvote/Collections",
        "namespaces/fields/mvote/EndorsementInfo",
        "namespaces/fields/mvote/Sequence",
        "namespaces/fields/mvote/ValidationInfo",
        "namespaces/metadata/mvote",
    }
    assert {ver for _, _, ver in public} == {Version(4, 0)}


def test_hashed_versions_are_readable(committed: Ledger) -> None:
    with committed.snapshot() as world:
        for ns, coll, key_hash, _, version in list(world.hashed_items()):
            assert world.hashed_version(ns, coll, key_hash) == version
        assert world.hashed_version("_lifecycle", "_implicit_org_Org1MSP", b"\x00" * 32) is None


def test_tx_locations_give_the_recorded_codes(
    committed: Ledger, golden_meta: dict[str, Any]
) -> None:
    seen = 0
    for meta in golden_meta["blocks"]:
        for index, (tx_id, code) in enumerate(
            zip(meta["tx_ids"], meta["validation_code_values"], strict=True)
        ):
            location = committed.tx_location(tx_id)
            assert location is not None, tx_id
            assert (location.block, location.tx, location.code) == (meta["number"], index, code)
            assert committed.has_tx(tx_id)
            seen += 1
    assert seen == 36
    assert committed.tx_location("0" * 64) is None
    assert not committed.has_tx("")


def test_history_of_a_ballot_key(committed: Ledger, golden: list[Any]) -> None:
    # Block 10: tx 0 VALID, txs 1 and 2 MVCC_READ_CONFLICT, all writing the same ballot key.
    writes = _writes(golden[10].data.data[0])
    ballot = next(k for k in writes if k[1].startswith("ballot~q-beta~"))
    tx0_id = ParsedTransaction.parse(golden[10].data.data[0]).tx_id
    history = committed.history(*ballot)
    assert [(h.version, h.tx_id, h.value) for h in history] == [
        (Version(10, 0), tx0_id, writes[ballot])
    ]
    assert not history[0].is_delete
    assert committed.history("mvote", "ballot~no-such-key") == []
    # The key's prefix is not a key: its history does not run into the longer key's.
    assert committed.history(ballot[0], ballot[1][:-1]) == []


def test_blocks_by_number_and_hash(committed: Ledger, golden: list[Any]) -> None:
    for number, block in enumerate(golden):
        raw = block.SerializeToString()
        assert committed.block(number) == raw
        assert committed.block_by_hash(header_hash(block)) == raw
    with pytest.raises(BlockNotFound, match=r"expected 0\.\.15, got 16"):
        committed.block(16)
    with pytest.raises(BlockNotFound):
        committed.block(-1)
    with pytest.raises(BlockNotFound):
        committed.block_by_hash(b"\x01" * 32)


def test_namespace_view_reads_through_a_snapshot(committed: Ledger) -> None:
    view = committed.state("mvote")
    keys = [k for k, _, _ in view.range("", "")]
    assert keys == sorted(keys) and len(keys) == 46
    assert [k for k, _, _ in view.range("participation~", "")] == [
        k for k in keys if k >= "participation~"
    ]
    assert [k for k, _, _ in view.range("ballot~q-beta~", "ballot~q-beta~\U0010ffff")] == [
        k for k in keys if k.startswith("ballot~q-beta~")
    ]
    found = view.get(keys[0])
    assert found is not None and found[1].block >= 5
    assert view.get("nope") is None
    view.close()


def test_reopen_gives_the_same(tmp_path: Path, committed: Ledger) -> None:
    height, last_hash = committed.height, committed.last_hash
    blocks = [committed.block(i) for i in range(height)]
    with committed.snapshot() as world:
        state = list(world.items())
    committed.close()
    before = dump_index(tmp_path / "ledger")
    with Ledger.open(tmp_path / "ledger") as again:
        assert (again.height, again.last_hash) == (height, last_hash)
        assert [again.block(i) for i in range(height)] == blocks
        with again.snapshot() as world:
            assert list(world.items()) == state
    assert dump_index(tmp_path / "ledger") == before
