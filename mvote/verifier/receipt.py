"""Ballot receipts and their offline verification.

A receipt names the channel, the trust anchor (genesis block hash), the question, the ballot
tracker, the transaction and its block, and carries a proof: the genesis block, the block that
defined the chaincode (the one every transaction's ``_lifecycle`` read points at), and the ballot's
block. From the genesis hash alone a voter's device checks, with no network:

- the genesis block hashes to the anchor, and gives the organisations and the orderers;
- both proof blocks carry valid orderer signatures under the channel's BlockValidation policy;
- the definition transaction is valid under the LifecycleEndorsement policy and defines the
  chaincode, which gives its endorsement policy;
- the ballot's transaction is well formed, signed by its creator, endorsed per that policy, reads
  the definition at the version of the definition block, and the peer recorded it VALID;
- the ballot inside it hashes to the tracker and carries a valid voter signature.

What a single block cannot show (that no earlier transaction conflicts, that the tally counted the
ballot) is checked with the whole chain: :func:`verify_receipt` given ``chain`` runs the audit.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fabric_protos.peer import chaincode_pb2, proposal_pb2

from mvote.chaincode import ed25519, encoding, keys
from mvote.chaincode.errors import InvalidField, MvoteError
from mvote.chaincode.records import CastRequest
from mvote.verifier.audit import audit_chain
from mvote.verifier.block import block_data_hash, block_header_hash
from mvote.verifier.chain import orderer_signature_findings
from mvote.verifier.config import ChannelConfig, config_from_block
from mvote.verifier.envelope import (
    BlockView,
    parse_proto,
    unpack_block,
    unpack_chaincode_action,
    unpack_full_envelope,
    unpack_rwset,
    unpack_transaction,
)
from mvote.verifier.mvcc import BlockUpdates, MemoryState
from mvote.verifier.validation import BlockContext, validate_transaction

RECEIPT_TYPE = "mvote.receipt.v1"
LIFECYCLE = "_lifecycle"
MAX_RECEIPT_BYTES = 64 << 20


@dataclass(frozen=True)
class Receipt:
    channel: str
    genesis_hash: str
    chaincode: str
    qid: str
    tracker: str
    tx_id: str
    block: int
    tx_index: int
    #: block number -> raw block: the genesis block, the definition block, the ballot's block.
    proof: dict[int, bytes]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": RECEIPT_TYPE,
            "channel": self.channel,
            "genesis_hash": self.genesis_hash,
            "chaincode": self.chaincode,
            "qid": self.qid,
            "tracker": self.tracker,
            "tx_id": self.tx_id,
            "block": self.block,
            "tx_index": self.tx_index,
            "proof": [
                {"block": n, "data": base64.b64encode(raw).decode()}
                for n, raw in sorted(self.proof.items())
            ],
        }

    def to_bytes(self) -> bytes:
        return encoding.encode(self.to_json())

    @staticmethod
    def from_bytes(data: bytes) -> Receipt:
        value = encoding.decode(data, max_size=MAX_RECEIPT_BYTES, what="receipt")
        try:
            if value["type"] != RECEIPT_TYPE:
                raise InvalidField(
                    f"receipt.type: expected {RECEIPT_TYPE!r}, got {value['type']!r}", field="type"
                )
            proof = {
                int(item["block"]): base64.b64decode(item["data"], validate=True)
                for item in value["proof"]
            }
            return Receipt(
                channel=str(value["channel"]),
                genesis_hash=str(value["genesis_hash"]),
                chaincode=str(value["chaincode"]),
                qid=str(value["qid"]),
                tracker=str(value["tracker"]),
                tx_id=str(value["tx_id"]),
                block=int(value["block"]),
                tx_index=int(value["tx_index"]),
                proof=proof,
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            if isinstance(exc, MvoteError):
                raise
            raise InvalidField(
                f"receipt: missing or malformed field ({exc})", field="receipt"
            ) from exc


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str


@dataclass
class ReceiptReport:
    checks: list[Check] = field(default_factory=list)
    #: With a chain: whether a tally of the question is recorded, and whether it counted the ballot.
    tallied: bool | None = None

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, message: str) -> bool:
        self.checks.append(Check(name, ok, message))
        return ok


def definition_version(raw_tx: bytes, chaincode: str) -> tuple[int, int] | None:
    """The (block, tx) of the chaincode definition a transaction ran under (its _lifecycle read)."""
    envelope = unpack_full_envelope(raw_tx)
    (action,) = unpack_transaction(envelope.data)
    rwset = unpack_rwset(unpack_chaincode_action(action.prp_extension).results)
    for ns in rwset.ns_rwsets:
        if ns.namespace == LIFECYCLE:
            for read in ns.reads:
                if read.key == f"namespaces/fields/{chaincode}/Sequence" and read.version:
                    return (read.version[0], read.version[1])
    return None


def _cast_request(raw_tx: bytes) -> tuple[str, CastRequest]:
    envelope = unpack_full_envelope(raw_tx)
    (action,) = unpack_transaction(envelope.data)
    payload = parse_proto(
        proposal_pb2.ChaincodeProposalPayload, action.chaincode_proposal_payload, "proposal payload"
    )
    spec = parse_proto(chaincode_pb2.ChaincodeInvocationSpec, payload.input, "invocation spec")
    args = [bytes(a) for a in spec.chaincode_spec.input.args]
    if len(args) != 2 or args[0] != b"Cast":
        raise InvalidField(f"transaction: expected a Cast invocation, got {args[:1]}", field="args")
    return envelope.channel_header.channel_id, CastRequest.from_json(
        encoding.decode(args[1], max_size=1 << 16, what="cast request")
    )


def verify_receipt(receipt: Receipt, chain: Sequence[bytes] | None = None) -> ReceiptReport:
    """Every check a receipt allows offline; with ``chain``, also the audit and the tally."""
    report = ReceiptReport()
    try:
        request = _verify_offline(receipt, report)
        if chain is not None and request is not None and report.verified:
            _verify_with_chain(receipt, request, chain, report)
    except MvoteError as exc:
        report.add("receipt_format", False, str(exc))
    return report


def _block(receipt: Receipt, number: int, report: ReceiptReport) -> BlockView | None:
    raw = receipt.proof.get(number)
    if raw is None:
        report.add("proof", False, f"proof: expected block {number}, not included")
        return None
    block = unpack_block(raw)
    if block.number != number:
        report.add("proof", False, f"proof block {number}: its header says {block.number}")
        return None
    return block


def _signed_by_orderers(block: BlockView, config: ChannelConfig, report: ReceiptReport) -> bool:
    """The orderers sign the header; the data counts only if it hashes to the header's data hash."""
    data_hash = block_data_hash(block.data)
    if not report.add(
        "data_hash",
        data_hash == block.data_hash,
        f"block {block.number}: data hashes to {data_hash.hex()}, header says {block.data_hash.hex()}",
    ):
        return False
    problems = orderer_signature_findings(block, config)
    return report.add(
        "orderer_signature",
        not problems,
        f"block {block.number}: "
        + ("; ".join(m for _, m in problems) or "signed by the ordering service"),
    )


def _verify_offline(receipt: Receipt, report: ReceiptReport) -> CastRequest | None:
    """The checks one receipt allows; returns the ballot's cast request once it is reached."""
    genesis = _block(receipt, 0, report)
    if genesis is None:
        return None
    anchor = block_header_hash(genesis.number, genesis.previous_hash, genesis.data_hash).hex()
    if not report.add(
        "genesis_hash",
        anchor == receipt.genesis_hash,
        f"genesis block hash {anchor}, receipt names {receipt.genesis_hash}",
    ):
        return None
    config = config_from_block(receipt.proof[0])
    if not report.add(
        "channel",
        config.channel_id == receipt.channel,
        f"channel {config.channel_id}, receipt names {receipt.channel}",
    ):
        return None
    ballot_block = _block(receipt, receipt.block, report)
    if ballot_block is None or not _signed_by_orderers(ballot_block, config, report):
        return None
    if not report.add(
        "tx_position",
        receipt.tx_index < len(ballot_block.data),
        f"block {receipt.block} has {len(ballot_block.data)} transactions, receipt names index {receipt.tx_index}",
    ):
        return None
    raw_tx = ballot_block.data[receipt.tx_index]

    # The chaincode's endorsement policy comes from the definition the transaction ran under.
    version = definition_version(raw_tx, receipt.chaincode)
    if not report.add(
        "definition",
        version is not None,
        f"transaction reads the {receipt.chaincode} definition at {version}",
    ):
        return None
    assert version is not None
    definition_block = _block(receipt, version[0], report)
    if definition_block is None or not _signed_by_orderers(definition_block, config, report):
        return None
    state = MemoryState()
    context = BlockContext(config, state, lambda _tx_id: False)
    definition = validate_transaction(context, version[1], definition_block.data[version[1]])
    if not report.add(
        "definition",
        definition.code == 0 and definition.rwset is not None,
        f"definition transaction {definition.tx_id}: validation code {definition.code}",
    ):
        return None
    updates = BlockUpdates()
    assert definition.rwset is not None
    updates.add(definition.rwset, version)
    state.apply(updates)

    verdict = validate_transaction(context, receipt.tx_index, raw_tx)
    reasons = (
        "; ".join(r.message for r in verdict.reasons)
        or "creator signature and endorsement policy hold"
    )
    report.add(
        "transaction",
        verdict.code == 0,
        f"transaction {verdict.tx_id}: code {verdict.code}: {reasons}",
    )
    report.add(
        "tx_id",
        verdict.tx_id == receipt.tx_id,
        f"transaction id {verdict.tx_id}, receipt names {receipt.tx_id}",
    )
    recorded = ballot_block.metadata_slot(2)
    code = recorded[receipt.tx_index] if receipt.tx_index < len(recorded) else None
    report.add("validation_code", code == 0, f"the peer recorded code {code} for the transaction")

    channel, request = _cast_request(raw_tx)
    ballot = request.ballot
    report.add(
        "ballot",
        ballot.channel == channel == receipt.channel and ballot.qid == receipt.qid,
        f"ballot for {ballot.channel}/{ballot.qid}, receipt names {receipt.channel}/{receipt.qid}",
    )
    report.add(
        "tracker",
        ballot.tracker() == receipt.tracker,
        f"ballot tracker {ballot.tracker()}, receipt names {receipt.tracker}",
    )
    try:
        voter = ed25519.checked_public_key(bytes.fromhex(ballot.voter), "ballot.voter")
        ed25519.verify(voter, ballot.canonical_bytes(), bytes.fromhex(request.sig), "sig")
        report.add("voter_signature", True, f"signed by voter key {ballot.voter}")
    except MvoteError as exc:
        report.add("voter_signature", False, str(exc))
    return request


def _verify_with_chain(
    receipt: Receipt, request: CastRequest, chain: Sequence[bytes], report: ReceiptReport
) -> None:
    anchor = bytes.fromhex(receipt.genesis_hash)
    audit = audit_chain(chain, anchor, chaincode=receipt.chaincode)
    report.add(
        "audit",
        audit.verified,
        f"chain audit: {len(audit.findings)} findings"
        + "".join(f"; {f}" for f in audit.findings[:3]),
    )
    in_chain = receipt.block < len(chain) and chain[receipt.block] == receipt.proof[receipt.block]
    report.add(
        "in_chain", in_chain, f"block {receipt.block} of the chain equals the receipt's proof block"
    )
    codes = audit.chain.codes.get(receipt.block, [])
    recomputed = codes[receipt.tx_index] if receipt.tx_index < len(codes) else None
    report.add(
        "recomputed_code",
        recomputed == 0,
        f"validation code recomputed from the chain: {recomputed}",
    )
    if audit.replay is None:
        return
    _, request = _cast_request(
        chain[receipt.block] and unpack_block(chain[receipt.block]).data[receipt.tx_index]
    )
    voter = bytes.fromhex(request.ballot.voter)
    found = None
    shards_state = audit.replay.state
    question = shards_state.get(keys.question_key(receipt.qid))
    if question is not None:
        shards = encoding.decode(question[0], max_size=1 << 24)["shards"]
        found = shards_state.get(
            keys.ballot_key(receipt.qid, keys.shard_of(voter, shards), request.ballot.voter)
        )
    stored = encoding.decode(found[0], max_size=1 << 20) if found else None
    report.add(
        "ballot_in_state",
        stored is not None and stored["tracker"] == receipt.tracker,
        "the ballot record with this tracker is in the replayed state",
    )
    report.tallied = shards_state.get(keys.tally_key(receipt.qid)) is not None
    if report.tallied:
        # The tally was recounted from every ballot record in state (no tally_recount finding),
        # and this ballot's record is among them.
        report.add(
            "counted",
            audit.verified,
            "the recorded tally equals a recount that includes this ballot",
        )
