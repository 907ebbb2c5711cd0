"""Helpers of the embedded node's tests: a client driving a running :class:`Node` through its
runtime API (proposal -> endorse -> sign -> submit -> commit status), open-eligibility questions
and ballots, and the two independent checks of a node's chain: ``verify_chain`` from the genesis
hash, and a serial replay of every VALID transaction of the chaincode compared byte for byte with
the node's state.

Imported by the tests and by the kill test's child process, so it needs nothing from pytest.
The replay parses transactions with the protobuf classes directly, not with the node's code.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import nacl.signing
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import invoke
from mvote.chaincode._records import CastRequest, QuestionSpec
from mvote.chaincode._simulation import MemoryKeySpace, TxContext, TxSimulator, Version
from mvote.chaincode._stub import Timestamp
from mvote.client._ballot import prepare_ballot, voter_public_hex
from mvote.client._identity import Signer, load_signer
from mvote.client._proposal import Proposal, new_proposal, sign_envelope
from mvote.client._registrar import issue_credential
from mvote.node.ledger.store import Ledger, TxLocation
from mvote.node.material import NetworkMaterial
from mvote.node.runtime import Node
from mvote.verifier._chain import ChainReport, verify_chain

ORGS = "cityhall,district,education"
VALID = transaction_pb2.VALID
ENDORSEMENT_POLICY_FAILURE = transaction_pb2.ENDORSEMENT_POLICY_FAILURE
MVCC_READ_CONFLICT = transaction_pb2.MVCC_READ_CONFLICT
COMMIT_WAIT = 30.0
DAY = 86_400

#: The registrar of every open question here (a fixed key: receipts and failures reproduce).
REGISTRAR = nacl.signing.SigningKey(hashlib.sha256(b"mvote test registrar").digest())


def voter_key(index: int) -> nacl.signing.SigningKey:
    """Voter ``index``'s Ed25519 key, deterministic."""
    return nacl.signing.SigningKey(hashlib.sha256(b"voter %d" % index).digest())


# --- a client of the node -----------------------------------------------------------------------


@dataclass(frozen=True)
class Invoked:
    tx_id: str
    location: TxLocation
    payload: Any


class Client:
    """Organisation 0's admin (operator) and client user, talking to ``node`` in process."""

    def __init__(self, node: Node, material: NetworkMaterial) -> None:
        self.node = node
        self.material = material
        self.channel = material.config.channel
        self.chaincode = material.config.chaincode
        org = material.peer_orgs[0]
        self.admin = load_signer(org.admin.msp_dir, org.admin.msp_id)
        self.user = load_signer(org.client.msp_dir, org.client.msp_id)
        self.peer = load_signer(org.node.msp_dir, org.node.msp_id)

    def proposal(
        self,
        function: str,
        *args: bytes | str,
        signer: Signer | None = None,
        channel: str | None = None,
        chaincode: str | None = None,
        timestamp: float | None = None,
    ) -> Proposal:
        return new_proposal(
            signer or self.user,
            channel_id=channel or self.channel,
            chaincode=chaincode or self.chaincode,
            args=[function, *args],
            timestamp=time.time() if timestamp is None else timestamp,
        )

    def endorsed(
        self,
        function: str,
        *args: bytes | str,
        signer: Signer | None = None,
        organizations: Sequence[str] = (),
    ) -> tuple[str, common_pb2.Envelope, Any]:
        """Endorse and sign; (tx id, the signed envelope ready to submit, the decoded payload)."""
        signer = signer or self.user
        proposal = self.proposal(function, *args, signer=signer)
        unsigned, response = self.node.endorse(proposal.signed(), organizations)
        envelope = sign_envelope(unsigned.payload, signer)
        payload = encoding.decode(response.payload, max_size=1 << 26) if response.payload else None
        return proposal.transaction_id, envelope, payload

    def invoke(self, function: str, *args: bytes | str, signer: Signer | None = None) -> Invoked:
        """Endorse, submit, wait for the commit; the commit status."""
        tx_id, envelope, payload = self.endorsed(function, *args, signer=signer)
        assert self.node.submit(envelope) == tx_id
        return Invoked(tx_id, self.node.commit_status(tx_id, timeout=COMMIT_WAIT), payload)

    def must_commit(self, function: str, *args: bytes | str, signer: Signer | None = None) -> Any:
        done = self.invoke(function, *args, signer=signer)
        assert done.location.code == VALID, f"{function}: validation code {done.location.code}"
        return done.payload

    def query(self, function: str, *args: bytes | str) -> Any:
        response = self.node.evaluate(self.proposal(function, *args).signed())
        assert response.status == 200, response.message
        return encoding.decode(response.payload, max_size=1 << 26)

    # -- questions and ballots ------------------------------------------------------------------

    def open_question(self, qid: str, *, options: Sequence[str] = ("yes", "no", "abstain")) -> Any:
        """Create and open a single-choice question whose voters need a REGISTRAR credential."""
        spec = open_question_spec(qid, time.time(), options=options)
        self.must_commit("CreateQuestion", encoding.encode(spec), signer=self.admin)
        self.must_commit("OpenQuestion", qid, signer=self.admin)
        return spec

    def cast_args(self, spec: dict[str, Any], voter: nacl.signing.SigningKey, choice: int) -> bytes:
        return cast_args(self.channel, spec, voter, choice)


def open_question_spec(
    qid: str, now: float, *, options: Sequence[str] = ("yes", "no", "abstain")
) -> dict[str, Any]:
    return {
        "qid": qid,
        "title": f"Question {qid}",
        "description": "",
        "options": list(options),
        "rule": {"kind": "single"},
        "eligibility": {"kind": "open", "registrars": [voter_public_hex(REGISTRAR)]},
        "schedule": {"opens_at": int(now) - 3600, "closes_at": int(now) + 30 * DAY},
        "mode": "open",
        "shards": 4,
    }


def cast_request(
    channel: str, spec: dict[str, Any], voter: nacl.signing.SigningKey, choice: int
) -> CastRequest:
    """A ballot signed by ``voter`` with a REGISTRAR credential."""
    credential = issue_credential(
        REGISTRAR,
        channel=channel,
        voter=voter_public_hex(voter),
        expires_at=spec["schedule"]["closes_at"],
        scope=spec["qid"],
    )
    return prepare_ballot(
        voter,
        channel=channel,
        question=QuestionSpec.from_json(spec),
        choices=[choice],
        credential=credential,
    )


def cast_args(
    channel: str, spec: dict[str, Any], voter: nacl.signing.SigningKey, choice: int
) -> bytes:
    """The ``Cast`` argument of :func:`cast_request`."""
    return encoding.encode(cast_request(channel, spec, voter, choice).to_json())


def ballot_record(ledger: Ledger, chaincode: str, spec: dict[str, Any], voter_hex: str) -> Any:
    """The committed ballot record of ``voter_hex`` on the question, or None."""
    shard = keys.shard_of(bytes.fromhex(voter_hex), spec["shards"])
    with ledger.snapshot() as world:
        raw = world.value(chaincode, keys.ballot_key(spec["qid"], shard, voter_hex))
    return None if raw is None else encoding.decode(raw, max_size=1 << 20)


# --- the chain and the state --------------------------------------------------------------------


def chain_of(ledger: Ledger) -> list[bytes]:
    return [ledger.block(n) for n in range(ledger.height)]


def check_chain(blocks: Sequence[bytes], genesis_hash: bytes) -> ChainReport:
    """``verify_chain`` from the genesis hash: every block, zero findings."""
    report = verify_chain(blocks, genesis_hash)
    findings = "\n".join(str(f) for f in report.findings[:20])
    assert not report.findings, f"{len(report.findings)} findings:\n{findings}"
    assert report.blocks == len(blocks)
    return report


@dataclass(frozen=True)
class ChaincodeTx:
    """An endorser transaction of a chaincode as the replay needs it, parsed independently."""

    tx_id: str
    channel: str
    chaincode: str
    timestamp: Timestamp
    creator: bytes
    args: tuple[bytes, ...]
    writes: dict[str, bytes | None]


def parse_chaincode_tx(envelope: bytes, namespace: str) -> ChaincodeTx | None:
    """The chaincode invocation in an endorser transaction envelope; None for any other kind."""
    payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(envelope).payload)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    if header.type != common_pb2.ENDORSER_TRANSACTION:
        return None
    creator = common_pb2.SignatureHeader.FromString(payload.header.signature_header).creator
    extension = proposal_pb2.ChaincodeHeaderExtension.FromString(header.extension)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    assert len(tx.actions) == 1
    action_payload = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    proposal_payload = proposal_pb2.ChaincodeProposalPayload.FromString(
        action_payload.chaincode_proposal_payload
    )
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(proposal_payload.input)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(
        action_payload.action.proposal_response_payload
    )
    cc_action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
    writes: dict[str, bytes | None] = {}
    for ns in rwset_pb2.TxReadWriteSet.FromString(cc_action.results).ns_rwset:
        if ns.namespace == namespace:
            for w in kv_rwset_pb2.KVRWSet.FromString(ns.rwset).writes:
                writes[w.key] = None if w.is_delete else bytes(w.value)
    return ChaincodeTx(
        tx_id=header.tx_id,
        channel=header.channel_id,
        chaincode=extension.chaincode_id.name,
        timestamp=Timestamp(header.timestamp.seconds, header.timestamp.nanos),
        creator=bytes(creator),
        args=tuple(bytes(a) for a in spec.chaincode_spec.input.args),
        writes=writes,
    )


State = list[tuple[str, bytes, Version]]


def replay_state(blocks: Iterable[bytes], namespace: str) -> tuple[State, int]:
    """Run the contract serially over the VALID transactions of ``namespace`` in chain order.

    Each re-execution must write exactly what the transaction recorded; the writes apply at the
    transaction's version (block, index) as Fabric applies them. Returns (state, transactions
    replayed).
    """
    state = MemoryKeySpace()
    replayed = 0
    for raw in blocks:
        block = common_pb2.Block.FromString(raw)
        number = int(block.header.number)
        if number == 0:
            continue
        codes = block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER]
        assert len(codes) == len(block.data.data), f"block {number}: filter length"
        for index, envelope in enumerate(block.data.data):
            tx = parse_chaincode_tx(envelope, namespace)
            if codes[index] != VALID or tx is None or tx.chaincode != namespace:
                continue
            context = TxContext(tx.tx_id, tx.channel, tx.timestamp, tx.creator, tx.args)
            simulator = TxSimulator(state, context)
            response = invoke(simulator)
            assert response.ok, f"block {number} tx {index}: replay refused: {response.message}"
            assert simulator.simulation.writes == tx.writes, (
                f"block {number} tx {index} ({tx.tx_id}): replay writes differ from the recorded"
            )
            state.apply(simulator.simulation.writes, Version(number, index))
            replayed += 1
    return list(state.items()), replayed


def node_state(ledger: Ledger, namespace: str) -> State:
    with ledger.snapshot() as world:
        return [(k, bytes(v), ver) for k, v, ver in world.entries(namespace, "", "")]


def check_state_is_replay(ledger: Ledger, namespace: str) -> int:
    """The node's ``namespace`` state equals a serial replay of its chain; transactions replayed."""
    replayed, count = replay_state(chain_of(ledger), namespace)
    actual = node_state(ledger, namespace)
    assert actual == replayed, (
        f"state ({len(actual)} keys) differs from a replay of the chain ({len(replayed)} keys): "
        f"first difference at {_first_difference(actual, replayed)}"
    )
    return count


def _first_difference(a: State, b: State) -> object:
    for x, y in zip(a, b, strict=False):
        if x != y:
            return (x, y)
    return a[len(b)] if len(a) > len(b) else b[len(a)] if len(b) > len(a) else None
