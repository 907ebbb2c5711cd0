"""The real Fabric v3.1.5 golden chain verifies from its genesis hash alone."""

from __future__ import annotations

from typing import Any

from msp_support import node_role

from mvote.verifier._block import block_data_hash, block_header_hash
from mvote.verifier._chain import verify_chain
from mvote.verifier._config import channel_config_from_block
from mvote.verifier._envelope import (
    unpack_block,
)
from mvote.verifier._msp import Role
from mvote.verifier._mvcc import MemoryWorldState
from mvote.verifier._transaction import ParsedTransaction
from mvote.verifier._validation import chaincode_endorsement_policy

MVCC_CONFLICTS = [
    (10, 1, "7c5adf308be72eaf7670e7128d074fcaf463d6ca1afecf0a1a8f4643fad49333"),
    (10, 2, "602ed45c8896403f711f25360f74b909f29aaa601d4e888434d449671f969d6b"),
    (11, 1, "35dec6f0322d21c0de4d531bcf85770e1ab3f885d25dc9747f3172ae047dfc20"),
    (11, 2, "18165c9b2a26765fe8dec87f4c224f5c9a7f3da64eb382900b5e00fc30890de6"),
    (12, 1, "fc17d558f06d50d1614a00bcbb315deaefe4f045e2b09e02e675859d84db51a0"),
    (12, 2, "b75353c07041e13055a197fd7328318c3ee2409046874dfe0fe9631232878ade"),
    (13, 1, "ad3175e848db9e1864171d3fe7da88acb976fd714a91bd97734d9c774ba6d027"),
    (13, 2, "c77f17ad31b50d7e4a15cf2824ae66f078b3f9ef8d4fd5fa0dc303da6d551657"),
]


def test_golden_chain_verifies_with_zero_findings(
    golden_blocks: list[bytes], genesis_hash: bytes, golden_index: dict[str, Any]
) -> None:
    report = verify_chain(golden_blocks, genesis_hash)
    assert report.findings == []
    assert report.verified
    assert report.blocks == 16
    assert report.last_hash.hex() == golden_index["blocks"][-1]["header_hash"]


def test_recomputed_codes_equal_recorded_for_all_36_txs(
    golden_blocks: list[bytes], genesis_hash: bytes, golden_index: dict[str, Any]
) -> None:
    report = verify_chain(golden_blocks, genesis_hash)
    total = 0
    for b in golden_index["blocks"]:
        assert report.codes[b["number"]] == b["validation_code_values"], b["number"]
        assert report.tx_ids[b["number"]] == b["tx_ids"], b["number"]
        total += len(b["tx_ids"])
    assert total == 36


def test_the_eight_mvcc_conflicts_are_named_exactly(
    golden_blocks: list[bytes], genesis_hash: bytes
) -> None:
    report = verify_chain(golden_blocks, genesis_hash)
    conflicts = [
        (n, i, report.tx_ids[n][i])
        for n, codes in sorted(report.codes.items())
        for i, code in enumerate(codes)
        if code == 11
    ]
    assert conflicts == MVCC_CONFLICTS
    assert sum(c != 0 for codes in report.codes.values() for c in codes) == 8


def test_block_hashes_match_index(golden_blocks: list[bytes], golden_index: dict[str, Any]) -> None:
    for raw, b in zip(golden_blocks, golden_index["blocks"], strict=True):
        block = unpack_block(raw)
        assert (
            block_header_hash(block.number, block.previous_hash, block.data_hash).hex()
            == b["header_hash"]
        )
        assert block_data_hash(block.data).hex() == b["data_hash"]


def test_genesis_config_contents(golden_blocks: list[bytes]) -> None:
    cfg = channel_config_from_block(golden_blocks[0])
    assert cfg.channel_id == "mvote"
    assert sorted(o.msp_id for o in cfg.application_orgs.values()) == [
        "Org1MSP",
        "Org2MSP",
        "Org3MSP",
    ]
    assert [o.msp_id for o in cfg.orderer_orgs.values()] == ["OrdererMSP"]
    assert cfg.capabilities == {
        "Channel": frozenset({"V3_0"}),
        "Orderer": frozenset({"V2_0"}),
        "Application": frozenset({"V2_5"}),
    }
    assert cfg.batch_size is not None and cfg.batch_size.max_message_count == 500
    assert cfg.batch_size.absolute_max_bytes == 10 * 1024 * 1024
    assert cfg.batch_size.preferred_max_bytes == 2 * 1024 * 1024
    assert cfg.batch_timeout == "250ms"
    assert cfg.consensus_type == "etcdraft"
    for path in (
        "/Channel/Readers",
        "/Channel/Writers",
        "/Channel/Admins",
        "/Channel/Application/Endorsement",
        "/Channel/Application/LifecycleEndorsement",
        "/Channel/Application/Org2MSP/Endorsement",
        "/Channel/Orderer/BlockValidation",
    ):
        assert cfg.policy(path) is not None, path
    assert cfg.msps.msps["Org1MSP"].node_ous


def test_typed_unpacking_of_a_cast_and_roles(golden_blocks: list[bytes]) -> None:
    cfg = channel_config_from_block(golden_blocks[0])
    block = unpack_block(golden_blocks[5])
    tx = ParsedTransaction.parse(block.data[0])
    assert tx.channel_id == "mvote"
    creator = cfg.msps.deserialize(tx.creator)
    assert creator.mspid == "Org1MSP"
    assert node_role(cfg.msps.msps["Org1MSP"], creator) == Role.CLIENT
    endorsers = [cfg.msps.deserialize(e.endorser) for e in tx.endorsements]
    assert [node_role(cfg.msps.msps[e.mspid], e) for e in endorsers] == [Role.PEER, Role.PEER]
    ca = tx.chaincode_action
    assert (ca.chaincode_name, ca.chaincode_version, ca.response_status) == ("mvote", "1.0", 200)
    rwset = tx.rwset
    mvote_ns = next(ns for ns in rwset.ns_rwsets if ns.namespace == "mvote")
    assert [w.key.split("~")[0] for w in mvote_ns.writes] == ["ballot", "participation"]
    lifecycle_ns = next(ns for ns in rwset.ns_rwsets if ns.namespace == "_lifecycle")
    assert lifecycle_ns.reads[0].version == (4, 0)


def test_orderer_identity_role(golden_blocks: list[bytes]) -> None:
    from mvote.verifier._envelope import unpack_signature_header, unpack_signatures_metadata

    cfg = channel_config_from_block(golden_blocks[0])
    md = unpack_signatures_metadata(unpack_block(golden_blocks[1]).metadata[0])
    signer = cfg.msps.deserialize(
        unpack_signature_header(md.signatures[0].signature_header).creator
    )
    assert signer.mspid == "OrdererMSP"
    assert node_role(cfg.msps.msps["OrdererMSP"], signer) == Role.ORDERER


def test_endorsement_policy_comes_from_lifecycle_definition(golden_blocks: list[bytes]) -> None:
    from fabric_protos.common import policies_pb2

    state = MemoryWorldState()
    assert chaincode_endorsement_policy(state, "mvote") is None
    rwset = ParsedTransaction.parse(unpack_block(golden_blocks[4]).data[0]).rwset
    for ns in rwset.ns_rwsets:
        for w in ns.writes:
            state.public[(ns.namespace, w.key)] = (w.value, (4, 0))
    policy = chaincode_endorsement_policy(state, "mvote")
    assert policy is not None
    ap = policies_pb2.ApplicationPolicy.FromString(policy)
    assert ap.channel_config_policy_reference == "/Channel/Application/Endorsement"
