"""The embedded node's blocks against real Fabric v3.1.5 blocks, field by field.

One embedded node (3 organisations, fresh network) commits a small chain:

| node block | content                                   | golden block(s) of the same kind |
|------------|-------------------------------------------|----------------------------------|
| 1          | ``_lifecycle`` CommitChaincodeDefinition  | 4                                |
| 2, 3, 4    | operator txs: CreateRoster, CreateQuestion, OpenQuestion | 5 (one mvote tx) |
| 5          | 1 Cast                                    | 5, 14, 15                        |
| 6          | 4 Casts of distinct voters                | 6, 7, 8, 9                       |
| 7          | 3 Casts of the SAME ballot (codes 0, 11, 11) | 10, 11, 12, 13                |

Each pair is decoded into a protobuf tree (golden_compare.py) and compared: the shapes (which
fields are present, at every level) must be identical, and every leaf that differs must be on
the allow-list below, with values of the allowed kind on both sides. docs/golden.md explains
the comparison, the allow-list and the known differences.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, transaction_pb2
from fabric_protos.peer.lifecycle import chaincode_definition_pb2, db_pb2, lifecycle_pb2
from golden_compare import (
    CAP,
    CC_ACTION,
    CHANNEL_HEADER,
    CPP,
    ENV,
    PRP,
    SIGNATURES,
    Allowed,
    block_tree,
    differences,
    explain,
    header_hash,
    matches,
    renamed,
    shape,
    unexplained,
    wildcard,
)
from google.protobuf.message import DecodeError

from mvote.chaincode import encoding
from mvote.chaincode._contract import VERSION as CONTRACT_VERSION
from mvote.chaincode._records import Eligibility, QuestionSpec, Schedule, SingleChoice
from mvote.client._ballot import prepare_ballot, voter_public_hex
from mvote.client._identity import Signer, load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.client._registrar import issue_credential
from mvote.node.material import init_network
from mvote.node.runtime import Node
from mvote.verifier._chain import verify_chain

MVCC_READ_CONFLICT = 11
RW = f"{CC_ACTION}/results/ns_rwset"
#: Namespaces are sorted: ``_lifecycle`` (index 0) before the chaincode's own (index 1).
LIFECYCLE_RW = f"{RW}/0/rwset"
CHAINCODE_RW = f"{RW}/1/rwset"

# --- the allow-list ------------------------------------------------------------------------------

#: What may differ between any golden endorser-transaction block and the node's block of the same
#: kind. Everything not listed (types, versions, channel id, epoch, header extension, spec type and
#: chaincode ids, chaincode name and version in the action, response status and message, event
#: name, namespaces and their order, the _lifecycle read's key, the MSP ids of creators and of the
#: orderer, the SIGNATURES value's last_config and consenter ids, the empty LAST_CONFIG and ORDERER
#: slots, TRANSACTIONS_FILTER codes, every field's presence) must be equal.
ALLOWED: list[Allowed] = [
    # Block header: another chain.
    Allowed(
        "header/number",
        "height",
        "the node has no per-organisation approval blocks (golden blocks 1-3), so a block of the "
        "same kind sits at another height; consecutive numbering is checked separately",
    ),
    Allowed("header/previous_hash", "sha256", "another chain; derived.previous_hash_chains"),
    Allowed(
        f"{CC_ACTION}/chaincode_id/version",
        "contract",
        "the chaincode definition's version: golden's toy chaincode is '1.0', mvote's contract "
        "declares its own (chaincode.contract.VERSION) so that replay knows which rules to apply",
    ),
    Allowed("header/data_hash", "sha256", "other transactions; derived.data_hash_recomputed"),
    # Per instance: keys, certificates, times, random nonces, the ids they derive.
    Allowed(f"{ENV}/signature", "signature", "creator's key; derived.creator_signature_ok"),
    Allowed(f"{CHANNEL_HEADER}/timestamp/seconds", "seconds", "the proposal's time"),
    Allowed(
        f"{CHANNEL_HEADER}/timestamp/nanos",
        "nanos",
        "the proposal's time (proto3 leaves 0 nanos off the wire)",
        what=("value", "only in golden", "only in node"),
    ),
    Allowed(
        f"{CHANNEL_HEADER}/tx_id",
        "tx_id",
        "SHA-256(nonce || creator), hex; derived.tx_id_is_sha256_of_nonce_and_creator",
    ),
    Allowed("**/creator/id_bytes", "certificate", "the network's own generated certificates"),
    Allowed("**/endorser/id_bytes", "certificate", "the network's own generated certificates"),
    Allowed("**/nonce", "nonce", "24 fresh random bytes per proposal and per block signature"),
    Allowed(
        f"{PRP}/proposal_hash",
        "sha256",
        "hash of this proposal's headers; derived.proposal_hash_recomputed",
    ),
    Allowed(
        f"{CAP}/action/endorsements/#/signature",
        "signature",
        "peer keys; derived.endorsement_signatures_ok (DER, low-S, verifies)",
    ),
    Allowed(
        f"{CAP}/action/endorsements/#/endorser/mspid",
        "peer_msp",
        "which 2 of 3 organisations endorse: golden's gateway chose Org1+Org3 for some blocks "
        "and Org1+Org2 for others; the node takes the first organisations in configuration "
        "order that satisfy MAJORITY (derived.endorser_orgs_distinct)",
    ),
    Allowed(f"{CC_ACTION}/events/tx_id", "tx_id", "this tx's id (derived.event_names_this_tx)"),
    # The contract: golden's chaincode is a toy Cast(qid, voter, choice, sig) writing
    # "ballot~..." string keys; mvote's takes one canonical JSON request and writes composite
    # keys (U+0000 separated) with its own records.
    Allowed(
        f"{CPP}/input/chaincode_spec/input/args",
        "count",
        "argument count is the contract's signature (golden Cast: 5, mvote: function + JSON)",
        what=("length",),
    ),
    Allowed(f"{CPP}/input/chaincode_spec/input/args/#", "contract", "the contract's arguments"),
    Allowed(f"{CC_ACTION}/response/payload", "contract", "the contract's result JSON"),
    Allowed(f"{CC_ACTION}/events/payload", "contract", "the contract's event JSON"),
    Allowed(
        f"{CHAINCODE_RW}/reads",
        "count",
        "what the contract reads: mvote's Cast also reads question~{qid}",
        what=("length",),
    ),
    Allowed(f"{CHAINCODE_RW}/reads/#/key", "contract", "the contract's key layout"),
    Allowed(f"{CHAINCODE_RW}/writes/#/key", "contract", "the contract's key layout"),
    Allowed(f"{CHAINCODE_RW}/writes/#/value", "contract", "the contract's records"),
    Allowed(
        f"{LIFECYCLE_RW}/reads/0/version/block_num",
        "height",
        "the block that committed the chaincode definition: golden 4, node 1 (checked exactly "
        "in test_lifecycle_sequence_read)",
    ),
    # Metadata: another chain, another orderer key.
    Allowed("metadata/COMMIT_HASH/value", "sha256", "another history; verify_chain recomputes"),
    Allowed(
        f"{SIGNATURES}/signatures/#/signature",
        "signature",
        "orderer key; derived.orderer_signatures_ok",
    ),
    Allowed(
        f"{SIGNATURES}/value/consenter_metadata/value/raft_index",
        "height",
        "raft log index: golden's etcdraft log holds two entries before block 1 (index = "
        "number + 2); the node's single consenter uses the block number",
    ),
]

#: Operator transactions (CreateRoster, CreateQuestion, OpenQuestion) have no golden counterpart;
#: they are compared with golden block 5 (one Cast), so their contract-defined parts also differ.
OPERATOR_ALLOWED: list[Allowed] = [
    Allowed(f"{CC_ACTION}/events/event_name", "contract", "RosterChanged/... vs BallotCast"),
    Allowed(
        f"{CHAINCODE_RW}/writes",
        "count",
        "an operator tx writes one record, golden Cast two",
        what=("length",),
    ),
    Allowed(
        f"{CHAINCODE_RW}/reads/#/version",
        "version",
        "set iff the key existed when simulated: OpenQuestion reads its question, golden Cast "
        "an absent ballot key",
        what=("only in golden", "only in node"),
    ),
]

#: Node block 1 against golden block 4 (both CommitChaincodeDefinition).
LIFECYCLE_ALLOWED: list[Allowed] = [
    Allowed(
        f"{RW}/0/rwset/writes/1/value",
        "contract",
        "namespaces/fields/<cc>/EndorsementInfo holds the definition's version ('1.0' in golden, "
        "chaincode.contract.VERSION in the node), in the same StateData/ChaincodeEndorsementInfo",
    ),
    Allowed(
        RW,
        "count",
        "KNOWN DIFFERENCE: golden's _lifecycle also reads key 'mvote' in namespace lscc (that "
        "no legacy chaincode has the name); the node records only the _lifecycle namespace",
        what=("length",),
    ),
    Allowed(
        f"{RW}/0/collection_hashed_rwset",
        "known",
        "KNOWN DIFFERENCE: golden reads each organisation's approval (hashed reads in the "
        "implicit collections _implicit_org_<MSP>, written by blocks 1-3); the node has no "
        "ApproveChaincodeDefinitionForMyOrg transactions, one process hosts every organisation",
        what=("only in golden",),
    ),
]

#: The only shape difference of the lifecycle pair: the implicit-collection reads above.
LIFECYCLE_SHAPE_ONLY_IN_GOLDEN = {
    f"{RW}/#/collection_hashed_rwset{suffix}"
    for suffix in (
        "",
        "/#/collection_name",
        "/#/hashed_rwset",
        "/#/hashed_rwset/hashed_reads",
        "/#/hashed_rwset/hashed_reads/#/key_hash",
        "/#/hashed_rwset/hashed_reads/#/version",
        "/#/hashed_rwset/hashed_reads/#/version/block_num",
    )
}

# --- the node's chain ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeChain:
    blocks: list[bytes]
    genesis_hash: bytes
    #: Node MSP ids to golden's (Org1MSP.. in configuration order).
    names: dict[str, str]
    seconds: float


def _cast_request(
    voter: nacl.signing.SigningKey,
    spec: QuestionSpec,
    registrar: nacl.signing.SigningKey,
    choice: int,
) -> bytes:
    credential = issue_credential(
        registrar,
        channel="mvote",
        voter=voter_public_hex(voter),
        expires_at=spec.schedule.closes_at,
    )
    request = prepare_ballot(
        voter, channel="mvote", question=spec, choices=[choice], credential=credential
    )
    return encoding.encode(request.to_json())


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeChain]:
    started = time.monotonic()
    directory = tmp_path_factory.mktemp("golden-node") / "net"
    material = init_network(directory, "cityhall,district,education")
    org = material.peer_orgs[0]
    admin = load_signer(org.admin.msp_dir, org.admin.msp_id)
    client = load_signer(org.client.msp_dir, org.client.msp_id)
    node = Node.open(directory)
    node.start()
    try:

        def endorsed(signer: Signer, *args: bytes | str) -> common_pb2.Envelope:
            proposal = new_proposal(signer, channel_id="mvote", chaincode="mvote", args=args)
            envelope, response = node.endorse(proposal.signed())
            assert response.status == 200, response.message
            return sign_envelope(envelope.payload, signer)

        def one_block(envelopes: list[common_pb2.Envelope]) -> list[tuple[int, int]]:
            """Submit together (inside one batch timeout); (block, code) per transaction."""
            tx_ids = [node.submit(e) for e in envelopes]
            found = [node.commit_status(t, timeout=10) for t in tx_ids]
            assert len({f.block for f in found}) == 1, f"split over blocks: {found}"
            return [(f.block, f.code) for f in found]

        now = int(time.time())
        registrar = nacl.signing.SigningKey(bytes([1]) * 32)
        spec = QuestionSpec(
            qid="q-golden",
            title="Golden comparison",
            description="Ballots for the structural comparison with Fabric.",
            options=("yes", "no"),
            rule=SingleChoice(),
            eligibility=Eligibility.of_registrars((voter_public_hex(registrar),)),
            schedule=Schedule(now - 1, now + 3600),
            shards=2,
        )
        roster = encoding.encode({"rid": "r-golden", "title": "Golden roster"})
        assert one_block([endorsed(admin, "CreateRoster", roster)]) == [(2, 0)]
        question = encoding.encode(spec.to_json())
        assert one_block([endorsed(admin, "CreateQuestion", question)]) == [(3, 0)]
        assert one_block([endorsed(admin, "OpenQuestion", spec.qid)]) == [(4, 0)]
        voters = [nacl.signing.SigningKey(bytes([10 + i]) * 32) for i in range(6)]
        single = _cast_request(voters[0], spec, registrar, 0)
        assert one_block([endorsed(client, "Cast", single)]) == [(5, 0)]
        several = [
            endorsed(client, "Cast", _cast_request(v, spec, registrar, 1)) for v in voters[1:5]
        ]
        assert one_block(several) == [(6, 0)] * 4
        # The same ballot three times (distinct tx ids), endorsed on the same state.
        same = _cast_request(voters[5], spec, registrar, 0)
        duplicates = [endorsed(client, "Cast", same) for _ in range(3)]
        assert one_block(duplicates) == [(7, 0), (7, MVCC_READ_CONFLICT), (7, MVCC_READ_CONFLICT)]
        blocks = [node.ledger.block(n) for n in range(node.ledger.height)]
    finally:
        node.stop()
    names = {o.msp_id: f"Org{i + 1}MSP" for i, o in enumerate(material.peer_orgs)}
    yield NodeChain(blocks, material.genesis_hash, names, time.monotonic() - started)


@pytest.fixture(scope="module")
def golden_blocks(golden: Callable[[str], Path]) -> list[bytes]:
    return [golden(f"{n:06d}.block").read_bytes() for n in range(16)]


def golden_tree(blocks: list[bytes], n: int) -> Any:
    return block_tree(blocks[n], header_hash(blocks[n - 1]))


def node_tree(chain: NodeChain, n: int) -> Any:
    return renamed(block_tree(chain.blocks[n], header_hash(chain.blocks[n - 1])), chain.names)


def all_true(facts: Any) -> bool:
    if isinstance(facts, dict):
        return all(all_true(v) for v in facts.values())
    if isinstance(facts, list):
        return all(all_true(v) for v in facts)
    return facts is True


#: (node block, golden block, extra allow-list) for every pair of the same kind.
PAIRS: list[tuple[int, int, list[Allowed]]] = [
    (2, 5, OPERATOR_ALLOWED),
    (3, 5, OPERATOR_ALLOWED),
    (4, 5, OPERATOR_ALLOWED),
    *[(5, g, []) for g in (5, 14, 15)],
    *[(6, g, []) for g in (6, 7, 8, 9)],
    *[(7, g, []) for g in (10, 11, 12, 13)],
]


def compare(golden: Any, node: Any, allowed: list[Allowed]) -> tuple[list[str], list[Any]]:
    explained = explain(differences(golden, node), allowed)
    return unexplained(explained), explained


# --- tests ---------------------------------------------------------------------------------------


def test_node_chain_layout(chain: NodeChain) -> None:
    """Consecutive numbers, each block's previous_hash the header hash of the one before (block
    1's that of the genesis block, the trust anchor), data hashes recomputed."""
    assert len(chain.blocks) == 8
    assert header_hash(chain.blocks[0]) == chain.genesis_hash
    for n in range(1, 8):
        block = common_pb2.Block.FromString(chain.blocks[n])
        assert block.header.number == n
        facts = node_tree(chain, n)["derived"]
        assert facts["previous_hash_chains"] and facts["data_hash_recomputed"]
    assert chain.seconds < 30


@pytest.mark.parametrize(("node_block", "golden_block", "extra"), PAIRS)
def test_same_structure_as_golden(
    chain: NodeChain,
    golden_blocks: list[bytes],
    node_block: int,
    golden_block: int,
    extra: list[Allowed],
) -> None:
    golden, node = golden_tree(golden_blocks, golden_block), node_tree(chain, node_block)
    # Identical shape: the same fields are present at every level of the message tree.
    assert shape(node) ^ shape(golden) == set()
    # Every differing leaf is allowed and holds values of the allowed kind on both sides.
    problems, explained = compare(golden, node, ALLOWED + extra)
    assert problems == []
    assert {wildcard(e.difference.path) for e in explained} >= {
        "header/data_hash",
        f"{CHANNEL_HEADER}/tx_id",
        "metadata/COMMIT_HASH/value",
    }
    # The recomputed facts hold for both: hashes, chaining, derivations, signatures.
    assert all_true(golden["derived"]) and all_true(node["derived"])


def test_lifecycle_block_matches_golden_block4(
    chain: NodeChain, golden_blocks: list[bytes]
) -> None:
    golden, node = golden_tree(golden_blocks, 4), node_tree(chain, 1)
    assert shape(node) - shape(golden) == set()
    assert shape(golden) - shape(node) == LIFECYCLE_SHAPE_ONLY_IN_GOLDEN
    problems, explained = compare(golden, node, ALLOWED + LIFECYCLE_ALLOWED)
    assert problems == []
    known = {e.difference.path for e in explained if e.rule in LIFECYCLE_ALLOWED}
    exact_rw = RW.replace("#", "0")
    assert known == {
        exact_rw,
        f"{exact_rw}/0/collection_hashed_rwset",
        f"{exact_rw}/0/rwset/writes/1/value",
    }
    assert all_true(golden["derived"]) and all_true(node["derived"])
    # The definition itself: the same arguments and the same _lifecycle reads and writes, byte
    # for byte once the version is the same; golden's extra namespace is exactly lscc's read;
    # all three organisations endorse.
    action = node["data"][0]["payload"]["data"]["actions"][0]["payload"]
    golden_action = golden["data"][0]["payload"]["data"]["actions"][0]["payload"]

    def same_version(value: Any) -> Any:
        # The version appears in the CommitChaincodeDefinitionArgs and in EndorsementInfo's
        # StateData; set it to golden's, decoding and re-encoding those two messages.
        return eval_bytes(value, _with_golden_version)

    assert (
        same_version(action["chaincode_proposal_payload"])
        == golden_action["chaincode_proposal_payload"]
    )
    node_rw = action["action"]["proposal_response_payload"]["extension"]["results"]["ns_rwset"]
    golden_rw = golden_action["action"]["proposal_response_payload"]["extension"]["results"][
        "ns_rwset"
    ]
    assert same_version(node_rw[0]["rwset"]) == golden_rw[0]["rwset"]
    assert golden_rw[1] == {"namespace": "lscc", "rwset": {"reads": [{"key": "mvote"}]}}
    assert len(action["action"]["endorsements"]) == 3


def _with_golden_version(raw: bytes) -> bytes:
    """``raw`` with the chaincode version set to golden's '1.0', if it is one of the two
    lifecycle messages that carry it; otherwise ``raw`` unchanged."""
    if CONTRACT_VERSION.encode() not in raw:
        return raw
    try:
        args = lifecycle_pb2.CommitChaincodeDefinitionArgs.FromString(raw)
        if args.version == CONTRACT_VERSION:
            args.version = "1.0"
            return bytes(args.SerializeToString())
    except DecodeError:
        pass
    data = db_pb2.StateData.FromString(raw)
    info = chaincode_definition_pb2.ChaincodeEndorsementInfo.FromString(data.Bytes)
    info.version = "1.0"
    return bytes(db_pb2.StateData(Bytes=info.SerializeToString()).SerializeToString())


def eval_bytes(value: Any, fn: Any) -> Any:
    """``value`` with ``fn`` applied to every bytes leaf (lists and dicts walked)."""
    if isinstance(value, bytes):
        return fn(value)
    if isinstance(value, list):
        return [eval_bytes(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: eval_bytes(v, fn) for k, v in value.items()}
    return value


def test_allow_list_is_exact(chain: NodeChain, golden_blocks: list[bytes]) -> None:
    """Every rule is needed by some pair, and the differing paths are listed exactly."""
    used: set[str] = set()
    differing: set[str] = set()
    pairs = [*PAIRS, (1, 4, LIFECYCLE_ALLOWED)]
    for node_block, golden_block, extra in pairs:
        problems, explained = compare(
            golden_tree(golden_blocks, golden_block),
            node_tree(chain, node_block),
            ALLOWED + extra,
        )
        assert problems == []
        used |= {e.rule.pattern for e in explained if e.rule is not None}
        differing |= {e.difference.path for e in explained}
    assert [
        r.pattern for r in ALLOWED + OPERATOR_ALLOWED + LIFECYCLE_ALLOWED if r.pattern not in used
    ] == []
    # Each differing path is matched by exactly one rule pattern (no overlapping rules).
    for path in differing:
        rules = [
            r for r in ALLOWED + OPERATOR_ALLOWED + LIFECYCLE_ALLOWED if matches(r.pattern, path)
        ]
        assert len(rules) == 1, (path, [r.pattern for r in rules])


def _tx(tree: Any, i: int) -> Any:
    return tree["data"][i]["payload"]


def _action(tree: Any, i: int) -> Any:
    return _tx(tree, i)["data"]["actions"][0]["payload"]


def test_envelope_headers(chain: NodeChain) -> None:
    for n in range(1, 8):
        tree = node_tree(chain, n)
        for i in range(len(tree["data"])):
            header = _tx(tree, i)["header"]
            channel = header["channel_header"]
            assert channel["type"] == common_pb2.ENDORSER_TRANSACTION
            assert "version" not in channel and "epoch" not in channel  # both 0, as golden
            assert channel["channel_id"] == "mvote"
            assert channel["timestamp"]["seconds"] > 0
            name = "_lifecycle" if n == 1 else "mvote"
            assert channel["extension"] == {"chaincode_id": {"name": name}}
            creator = header["signature_header"]["creator"]
            assert creator["mspid"] == "Org1MSP" and creator["id_bytes"].startswith(b"-----BEGIN")
            assert len(header["signature_header"]["nonce"]) == 24
            spec = _action(tree, i)["chaincode_proposal_payload"]["input"]["chaincode_spec"]
            assert spec["chaincode_id"] == {"name": name}
            assert spec["input"]["args"]
            expected_type = None if n == 1 else chaincode_pb2.ChaincodeSpec.NODE
            assert spec.get("type") == expected_type


def test_lifecycle_sequence_read(chain: NodeChain, golden_blocks: list[bytes]) -> None:
    """Like a Fabric peer, every chaincode tx reads the definition's Sequence at its version."""
    key = "namespaces/fields/mvote/Sequence"
    for trees, definition_block in (
        ([node_tree(chain, n) for n in range(2, 8)], 1),
        ([golden_tree(golden_blocks, n) for n in range(5, 16)], 4),
    ):
        for tree in trees:
            for i in range(len(tree["data"])):
                cc = _action(tree, i)["action"]["proposal_response_payload"]["extension"]
                namespaces = cc["results"]["ns_rwset"]
                assert cc["results"].get("data_model") is None  # KV (0)
                assert [ns["namespace"] for ns in namespaces] == ["_lifecycle", "mvote"]
                assert namespaces[0]["rwset"] == {
                    "reads": [{"key": key, "version": {"block_num": definition_block}}]
                }
                version = CONTRACT_VERSION if definition_block == 1 else "1.0"
                assert cc["chaincode_id"] == {"name": "mvote", "version": version}
                assert cc["response"]["status"] == 200
                assert cc["events"]["chaincode_id"] == "mvote"


def test_endorsements_majority_of_distinct_orgs(chain: NodeChain) -> None:
    for n in range(2, 8):
        tree = node_tree(chain, n)
        for i, facts in enumerate(tree["derived"]["txs"]):
            endorsements = _action(tree, i)["action"]["endorsements"]
            orgs = [e["endorser"]["mspid"] for e in endorsements]
            assert len(orgs) == 2 and len(set(orgs)) == 2  # MAJORITY of 3
            assert facts["actions"][0]["endorsement_signatures_ok"] == [True, True]


def test_metadata_slots(chain: NodeChain) -> None:
    expected_codes = {7: [0, MVCC_READ_CONFLICT, MVCC_READ_CONFLICT], 6: [0, 0, 0, 0]}
    for n in range(1, 8):
        metadata = node_tree(chain, n)["metadata"]
        signatures = metadata["SIGNATURES"]
        assert signatures["value"]["last_config"] == {}  # index 0, present
        raft = signatures["value"]["consenter_metadata"]["value"]
        assert raft["consenter_ids"] == [1] and raft["next_consenter_id"] == 2
        assert len(signatures["signatures"]) == 1
        header = signatures["signatures"][0]["signature_header"]
        assert header["creator"]["mspid"] == "OrdererMSP" and len(header["nonce"]) == 24
        assert metadata["LAST_CONFIG"] == b"" and metadata["ORDERER"] == b""
        assert list(metadata["TRANSACTIONS_FILTER"]) == expected_codes.get(n, [0])
        assert set(metadata["COMMIT_HASH"]) == {"value"}
        assert len(metadata["COMMIT_HASH"]["value"]) == 32


def test_chain_verifies_from_genesis_hash(chain: NodeChain) -> None:
    report = verify_chain(chain.blocks, chain.genesis_hash)
    assert [str(f) for f in report.findings] == []
    assert report.blocks == 8


# --- the comparison is not vacuous ---------------------------------------------------------------


def _rewrite_first_tx(raw: bytes, edit: Callable[[Any, Any, Any], None]) -> bytes:
    """The block with its first envelope's channel header / spec / action edited and re-encoded
    (signatures and hashes are left stale: only the structure matters here)."""
    block = common_pb2.Block.FromString(raw)
    env = common_pb2.Envelope.FromString(block.data.data[0])
    payload = common_pb2.Payload.FromString(env.payload)
    channel = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    cpp = proposal_pb2.ChaincodeProposalPayload.FromString(cap.chaincode_proposal_payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(cpp.input)
    edit(channel, spec, cap)
    cpp.input = spec.SerializeToString()
    cap.chaincode_proposal_payload = cpp.SerializeToString()
    tx.actions[0].payload = cap.SerializeToString()
    payload.header.channel_header = channel.SerializeToString()
    payload.data = tx.SerializeToString()
    env.payload = payload.SerializeToString()
    block.data.data[0] = env.SerializeToString()
    return bytes(block.SerializeToString())


def _failures(golden: Any, node: Any) -> tuple[set[str], list[str]]:
    """Shape differences and the disallowed differences outside ``derived`` (an edited block's
    signatures and hashes are stale: those facts fail too, and are not what is tested here)."""
    problems, _ = compare(golden, node, ALLOWED)
    return shape(node) ^ shape(golden), [p for p in problems if not p.startswith("derived/")]


def test_comparison_catches_added_and_dropped_fields(
    chain: NodeChain, golden_blocks: list[bytes]
) -> None:
    golden = golden_tree(golden_blocks, 5)
    assert _failures(golden, node_tree(chain, 5)) == (set(), [])

    def edited(edit: Callable[[Any, Any, Any], None]) -> Any:
        blocks = list(chain.blocks)
        blocks[5] = _rewrite_first_tx(blocks[5], edit)
        return node_tree(NodeChain(blocks, chain.genesis_hash, chain.names, 0), 5)

    def add_tls_cert_hash(channel: Any, spec: Any, cap: Any) -> None:
        channel.tls_cert_hash = b"\x01" * 32

    def drop_spec_type(channel: Any, spec: Any, cap: Any) -> None:
        spec.chaincode_spec.ClearField("type")

    def add_channel_version(channel: Any, spec: Any, cap: Any) -> None:
        channel.version = 1

    def drop_an_endorsement(channel: Any, spec: Any, cap: Any) -> None:
        del cap.action.endorsements[1]

    for edit, path in (
        (add_tls_cert_hash, f"{CHANNEL_HEADER}/tls_cert_hash"),
        (drop_spec_type, f"{CPP}/input/chaincode_spec/type"),
        (add_channel_version, f"{CHANNEL_HEADER}/version"),
    ):
        shape_diff, problems = _failures(golden, edited(edit))
        assert shape_diff == {path}, edit.__name__
        assert len(problems) == 1 and problems[0].startswith(path.replace("#", "0"))
    shape_diff, problems = _failures(golden, edited(drop_an_endorsement))
    assert shape_diff == set()  # the shape is per field; the count is a value
    assert problems == [
        f"{CAP.replace('#', '0')}/action/endorsements: length (2 != 1) [not allowed]"
    ]

    # On the decoded tree: a field added deep in the rwset, one dropped from the metadata.
    node = node_tree(chain, 5)
    added = copy.deepcopy(node)
    cc = _action(added, 0)["action"]["proposal_response_payload"]["extension"]
    cc["results"]["ns_rwset"][1]["rwset"]["metadata_writes"] = [{"key": "k"}]
    dropped = copy.deepcopy(node)
    del dropped["metadata"]["SIGNATURES"]["signatures"][0]["signature_header"]["nonce"]
    for tree, path in (
        (added, f"{CHAINCODE_RW}/metadata_writes"),
        (dropped, f"{SIGNATURES}/signatures/#/signature_header/nonce"),
    ):
        shape_diff, problems = _failures(golden, tree)
        assert path.replace("/1/", "/#/").replace("/0/", "/#/") in shape_diff
        assert problems and all("[not allowed]" in p for p in problems)


def test_comparison_checks_the_kind_of_allowed_values(
    chain: NodeChain, golden_blocks: list[bytes]
) -> None:
    golden = golden_tree(golden_blocks, 5)
    node = node_tree(chain, 5)
    header = _tx(node, 0)["header"]
    header["signature_header"]["nonce"] = b"\x00" * 23
    header["channel_header"]["tx_id"] = "not-a-tx-id"
    endorsement = _action(node, 0)["action"]["endorsements"][0]
    endorsement["signature"] = b"\x30\x02\x02\x00"
    endorsement["endorser"]["mspid"] = "Org9MSP"
    problems, _ = compare(golden, node, ALLOWED)
    assert sorted(p.rsplit(" [", 1)[1] for p in problems) == [
        "not a nonce]",
        "not a peer_msp]",
        "not a signature]",
        "not a tx_id]",
    ]
