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
- the ballot inside it hashes to the tracker and carries a valid voter signature;
- a batched ballot (``ballot_index`` names its place among a ``CastBatch``'s ballots) was
  recorded by the transaction: its write set holds the voter's ballot record with the tracker
  (a batch lists refused ballots beside the accepted ones, and records only the accepted).

What a single block cannot show (that no earlier transaction conflicts, that the tally counted the
ballot) is checked with the whole chain: :func:`verify_receipt` given ``chain`` runs the audit.

A secret ballot (``mvote.secret-ballot.v1``) is checked further: its proofs (``verify_ballot``)
against the question's context, the election key of the question's ceremony, the channel, the
question's id and rule, and the voter's key. The question and ceremony records come from the
blocks that wrote the versions the ballot's transaction read: :func:`with_context_blocks` adds
them to a receipt's proof, and they are checked like the ballot's block (orderer signatures,
the writing transaction valid and recorded VALID). Without them, the replayed state of the
chain gives the records. With the chain, the ballot must also be inside its shard's aggregate:
the shard's recorded sums equal the homomorphic sum of the shard's ballots in the replayed
state, this ballot's ciphertexts among them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mvote.chaincode import _ed25519 as ed25519
from mvote.chaincode import _keys as keys
from mvote.chaincode import _rules as rules
from mvote.chaincode import _secret as secret
from mvote.chaincode import encoding
from mvote.chaincode._contract import (
    MAX_BALLOT_RECORD_BYTES,
    MAX_BATCH_BALLOTS,
    MAX_SECRET_CAST_BYTES,
)
from mvote.chaincode._crypto.ballot import BallotContext, verify_ballot
from mvote.chaincode._crypto.elgamal import ZERO
from mvote.chaincode._errors import InvalidField, MvoteError
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import (
    CHANNEL,
    HASH_HEX,
    IDENTIFIER,
    TX_ID,
    AnyBallot,
    Ballot,
    BallotRecord,
    CastRequest,
    Question,
    SecretAggregate,
    SecretBallot,
    SpoilRequest,
    bound_question,
    question_hash,
)
from mvote.chaincode._schema import Array, Const, Int, Object, Text
from mvote.chaincode._stub import partial_key_range, split_composite_key
from mvote.verifier._audit import audit_chain
from mvote.verifier._block import block_data_hash, block_header_hash
from mvote.verifier._chain import orderer_signature_findings
from mvote.verifier._config import ChannelConfig, channel_config_from_block
from mvote.verifier._envelope import (
    METADATA_TRANSACTIONS_FILTER,
    BlockView,
    TxRwSet,
    Version,
    unpack_block,
)
from mvote.verifier._errors import UnsupportedRangeSummary, unexpected
from mvote.verifier._mvcc import BlockUpdates, MemoryWorldState, WorldStateView
from mvote.verifier._transaction import ParsedTransaction
from mvote.verifier._validation import (
    BlockContext,
    TxVerdict,
    finish_block_validation,
    validate_transaction,
)

RECEIPT_TYPE = "mvote.receipt.v1"
LIFECYCLE = "_lifecycle"
MAX_RECEIPT_BYTES = 64 << 20
#: At most: genesis, definition, the ballot's block, and a secret ballot's question and ceremony.
MAX_PROOF_BLOCKS = 16
BLOCK_NUMBER = Int(0, encoding.MAX_SAFE_INTEGER)
#: Fabric's chaincode name rule.
CHAINCODE_NAME = Text(1, 255, pattern=r"[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*")
RECEIPT_SHAPE = Object(
    {
        "type": Const(RECEIPT_TYPE),
        "channel": CHANNEL,
        "genesis_hash": HASH_HEX,
        "chaincode": CHAINCODE_NAME,
        "qid": IDENTIFIER,
        "tracker": HASH_HEX,
        "tx_id": TX_ID,
        "block": BLOCK_NUMBER,
        "tx_index": Int(0, encoding.MAX_SAFE_INTEGER),
        "ballot_index": Int(0, MAX_BATCH_BALLOTS - 1),
        "proof": Array(
            Object(
                {
                    "block": BLOCK_NUMBER,
                    "data": Text(1, MAX_RECEIPT_BYTES, pattern=r"[A-Za-z0-9+/]*={0,2}"),
                }
            ),
            min_len=1,
            max_len=MAX_PROOF_BLOCKS,
        ),
    },
    optional=frozenset({"ballot_index"}),
)


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
    #: The ballot's place in its CastBatch transaction (its argument after the function name,
    #: from 0); None for a Cast transaction, which carries one ballot.
    ballot_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        batch = {} if self.ballot_index is None else {"ballot_index": self.ballot_index}
        return {
            **batch,
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
        """Parse a receipt: exactly its fields, each of its type and range, every proof block
        once. Raises InvalidField (or the encoding's errors) naming the field."""
        value = RECEIPT_SHAPE.check(
            encoding.decode(data, max_size=MAX_RECEIPT_BYTES, what="receipt"), "receipt"
        )
        return Receipt(
            channel=value["channel"],
            genesis_hash=value["genesis_hash"],
            chaincode=value["chaincode"],
            qid=value["qid"],
            tracker=value["tracker"],
            tx_id=value["tx_id"],
            block=value["block"],
            tx_index=value["tx_index"],
            proof=_proof_blocks(value["proof"]),
            ballot_index=value.get("ballot_index"),
        )


def _proof_blocks(items: list[dict[str, Any]]) -> dict[int, bytes]:
    """The proof's blocks by number. Precondition: ``items`` passed RECEIPT_SHAPE."""
    proof: dict[int, bytes] = {}
    first: dict[int, int] = {}
    for i, item in enumerate(items):
        number = item["block"]
        if number in first:
            path = f"receipt.proof[{i}].block"
            raise InvalidField(
                f"{path}: expected each block once, got block {number} again "
                f"(also receipt.proof[{first[number]}])",
                field=path,
            )
        first[number] = i
        try:
            proof[number] = base64.b64decode(item["data"], validate=True)
        except binascii.Error as exc:
            path = f"receipt.proof[{i}].data"
            raise InvalidField(f"{path}: expected base64, got {exc}", field=path) from exc
    return proof


@dataclass(frozen=True)
class ReceiptCheck:
    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class RecordedBallot:
    """What a ballot on the ledger says, in the voter's terms. An open ballot: its choices, by
    label when the receipt carries the question record its transaction read (checked against the
    ballot's question hash). A secret ballot: its tracker and the proofs that it is well formed;
    a spoiled one also its choices as its opening shows them."""

    qid: str
    tracker: str
    mode: str
    #: The question's title and every option's label, from the verified question record.
    title: str | None
    options: tuple[str, ...] | None
    #: The option indexes the ballot selects (open, or a spoiled ballot's opening); else None.
    choices: tuple[int, ...] | None
    #: Secret ballots: the outcome of the proof check (None if not checked).
    proofs: ReceiptCheck | None = None
    spoiled: bool = False

    @property
    def labels(self) -> tuple[str, ...] | None:
        if self.choices is None or self.options is None:
            return None
        return tuple(self.options[i] for i in self.choices if i < len(self.options))

    def to_json(self) -> dict[str, Any]:
        return {
            "qid": self.qid,
            "title": self.title,
            "mode": self.mode,
            "tracker": self.tracker,
            "spoiled": self.spoiled,
            "choices": None if self.choices is None else list(self.choices),
            "labels": None if self.labels is None else list(self.labels),
            "proofs": None
            if self.proofs is None
            else {"ok": self.proofs.ok, "message": self.proofs.message},
        }

    def lines(self) -> list[str]:
        """The recorded ballot in a few lines a voter reads."""
        head = f"question {self.qid}" + (f": {self.title}" if self.title else "")
        out = [head]
        if self.choices is not None:
            what = "the opening shows" if self.spoiled else "the ballot records"
            if self.labels is not None:
                shown = ", ".join(
                    f"{i + 1}. {label}" for i, label in zip(self.choices, self.labels, strict=True)
                )
                out.append(f"{what}: {shown or 'no option (a blank ballot)'}")
            else:
                numbers = ", ".join(str(i + 1) for i in self.choices)
                out.append(
                    f"{what} options {numbers or 'none'} (numbered from 1; the receipt carries "
                    "no question record to name them)"
                )
        if self.mode == "secret":
            out.append(f"encrypted ballot, tracker {self.tracker}")
            if self.proofs is not None:
                state = "hold" if self.proofs.ok else "FAIL"
                out.append(f"proofs {state}: {self.proofs.message}")
        return out


@dataclass
class ReceiptReport:
    checks: list[ReceiptCheck] = field(default_factory=list)
    #: With a chain: whether a tally of the question is recorded, and whether it counted the ballot.
    tallied: bool | None = None
    #: Secret ballots with a chain: whether the ballot's shard has an aggregate that reaches it.
    aggregated: bool | None = None
    #: Whether the chain was checked (else the report holds only what the receipt proves).
    with_chain: bool = False
    #: What the ballot recorded, for the voter to confirm (None until the ballot is reached).
    recorded: RecordedBallot | None = None

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def not_proven(self) -> list[str]:
        """What the checks made do not prove (offline: what only the chain can)."""
        if self.with_chain:
            return []
        return list(OFFLINE_LIMITS)

    @property
    def verdict(self) -> str:
        """One line that claims no more than the checks proved."""
        if not self.verified:
            return "NOT VERIFIED"
        if self.with_chain:
            return "VERIFIED"
        return "VERIFIED offline: validity as recorded by the issuing peer; --chain proves it"

    def add(self, name: str, ok: bool, message: str) -> bool:
        self.checks.append(ReceiptCheck(name, ok, message))
        return ok


def definition_version(raw_tx: bytes | ParsedTransaction, chaincode: str) -> tuple[int, int] | None:
    """The (block, tx) of the chaincode definition a transaction ran under (its _lifecycle read)."""
    return read_version(raw_tx, LIFECYCLE, f"namespaces/fields/{chaincode}/Sequence")


def read_version(
    raw_tx: bytes | ParsedTransaction, chaincode: str, key: str
) -> tuple[int, int] | None:
    """The (block, tx) of the version of ``key`` a transaction read (None: not read, or absent)."""
    ns = ParsedTransaction.of(raw_tx).namespace(chaincode)
    for read in ns.reads if ns is not None else ():
        if read.key == key and read.version:
            return (read.version[0], read.version[1])
    return None


def written_value(raw_tx: bytes | ParsedTransaction, chaincode: str, key: str) -> bytes | None:
    """The value a transaction wrote to ``key`` (None if it wrote none, or deleted it)."""
    ns = ParsedTransaction.of(raw_tx).namespace(chaincode)
    for write in ns.writes if ns is not None else ():
        if write.key == key and not write.is_delete:
            return bytes(write.value)
    return None


def _context_keys(
    raw_tx: ParsedTransaction, chaincode: str, qid: str, blocks: Callable[[int], bytes]
) -> list[tuple[int, int]]:
    """The versions of the question and ceremony records a secret ballot's Cast read."""
    found = []
    question_at = read_version(raw_tx, chaincode, keys.question_key(qid))
    if question_at is not None:
        found.append(question_at)
        raw = blocks(question_at[0])
        value = written_value(
            unpack_block(raw).data[question_at[1]], chaincode, keys.question_key(qid)
        )
        if value is not None:
            election = Question.from_json(encoding.decode(value, max_size=1 << 24)).spec.election
            if election is not None:
                ceremony_at = read_version(raw_tx, chaincode, keys.ceremony_key(election))
                if ceremony_at is not None:
                    found.append(ceremony_at)
    return found


def with_context_blocks(receipt: Receipt, blocks: Callable[[int], bytes]) -> Receipt:
    """``receipt`` with the blocks that wrote the question record (and, for a secret ballot, the
    ceremony record) its Cast or SpoilBallot read: so the voter's device shows the choices by
    their labels and checks a secret ballot's proofs offline."""
    raw_tx = ParsedTransaction(unpack_block(receipt.proof[receipt.block]).data[receipt.tx_index])
    _cast_request(raw_tx, receipt.ballot_index, FunctionName.CAST, FunctionName.SPOIL_BALLOT)
    proof = dict(receipt.proof)
    for number, _ in _context_keys(raw_tx, receipt.chaincode, receipt.qid, blocks):
        proof.setdefault(number, blocks(number))
    return dataclasses.replace(receipt, proof=proof)


def _cast_request(
    raw_tx: bytes | ParsedTransaction, ballot_index: int | None, *functions: FunctionName
) -> tuple[str, CastRequest]:
    """The channel and the receipt's cast request: the one argument of a Cast (or, if
    ``functions`` names it, SpoilBallot) transaction when ``ballot_index`` is None, else argument
    ``ballot_index`` of a CastBatch's ballots. InvalidField naming ``args`` when the
    transaction is neither."""
    tx = ParsedTransaction.of(raw_tx)
    args = list(tx.args)
    if ballot_index is not None:
        if not args or args[0] != FunctionName.CAST_BATCH.encode() or ballot_index + 1 >= len(args):
            raise InvalidField(
                f"transaction: expected a CastBatch invocation with a ballot at index "
                f"{ballot_index}, got {args[:1]} with {max(len(args) - 1, 0)} ballots",
                field="args",
            )
        raw = args[ballot_index + 1]
        return tx.channel_id, CastRequest.from_json(
            encoding.decode(raw, max_size=MAX_SECRET_CAST_BYTES, what="cast request")
        )
    wanted = functions or (FunctionName.CAST,)
    if len(args) != 2 or args[0].decode("utf-8", "replace") not in wanted:
        names = " or ".join(wanted)
        raise InvalidField(
            f"transaction: expected a {names} invocation, got {args[:1]}", field="args"
        )
    value = encoding.decode(args[1], max_size=MAX_SECRET_CAST_BYTES, what="request")
    if args[0] == FunctionName.SPOIL_BALLOT.encode():
        return tx.channel_id, SpoilRequest.from_json(value).request
    return tx.channel_id, CastRequest.from_json(value)


def verify_receipt(
    receipt: Receipt, chain: Sequence[bytes] | None = None, *, anchor: bytes
) -> ReceiptReport:
    """Every check a receipt allows offline, from ``anchor`` (the genesis block hash the city
    publishes, never the one the receipt names); with ``chain``, also the audit and the tally
    (and for a secret ballot, that it is inside its shard's aggregate)."""
    report = ReceiptReport(with_chain=chain is not None)
    if not report.add(
        "trust_anchor",
        receipt.genesis_hash == anchor.hex(),
        f"the receipt names genesis hash {receipt.genesis_hash}, the trust anchor is {anchor.hex()}",
    ):
        return report
    try:
        reached = verify_offline(receipt, report, with_chain=chain is not None)
        if chain is not None and reached is not None and report.verified:
            _verify_with_chain(receipt, reached.request, chain, report)
    except MvoteError as exc:
        report.add("receipt_format", False, str(exc))
    except Exception as exc:  # a failure no check foresaw: named, never raised
        report.add("verifier_error", False, unexpected(exc))
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


@dataclass(frozen=True)
class Reached:
    """What the offline checks reached: the ballot's transaction, its request, and the question
    (and ceremony) records the transaction read, when the receipt carries their blocks."""

    tx: ParsedTransaction
    request: CastRequest
    records: tuple[Question, secret.Ceremony | None] | None


def verify_offline(
    receipt: Receipt,
    report: ReceiptReport,
    *,
    with_chain: bool = False,
    function: FunctionName = FunctionName.CAST,
) -> Reached | None:
    """The checks one receipt allows for the ballot of its ``function`` transaction (Cast, or
    SpoilBallot for a spoiled ballot); sets ``report.recorded``. Returns what was reached, None
    when a stage could not run. Each stage adds its checks to ``report``.

    Precondition: the caller checked the receipt's genesis hash against the trust anchor."""
    config = _anchored_config(receipt, report)
    if config is None:
        return None
    found = _ballot_transaction(receipt, config, report)
    if found is None:
        return None
    ballot_block, tx = found
    context = _definition_context(receipt, tx, config, report)
    if context is None:
        return None
    _transaction_checks(receipt, report, context, ballot_block, tx)
    request = _ballot_checks(receipt, report, tx, function)
    records = _question_from_proof(receipt, tx, config, context, report)
    if records is not None:
        _check_binding(report, request.ballot, *records)
    if isinstance(request.ballot, SecretBallot):
        _offline_secret_proofs(report, request, records, with_chain)
    report.recorded = recorded_ballot(receipt, request.ballot, records, report)
    return Reached(tx, request, records)


def recorded_ballot(
    receipt: Receipt,
    ballot: AnyBallot,
    records: tuple[Question, secret.Ceremony | None] | None,
    report: ReceiptReport,
    *,
    choices: tuple[int, ...] | None = None,
) -> RecordedBallot:
    """The ballot in the voter's terms; ``choices`` of a spoiled ballot's opening."""
    spec = records[0].spec if records is not None else None
    proofs = [c for c in report.checks if c.name == "ballot_proofs"]
    if isinstance(ballot, Ballot):
        choices = ballot.choices
    return RecordedBallot(
        qid=ballot.qid,
        tracker=receipt.tracker,
        mode="secret" if isinstance(ballot, SecretBallot) else "open",
        title=None if spec is None else spec.title,
        options=None if spec is None else spec.options,
        choices=choices,
        proofs=proofs[-1] if proofs else None,
        spoiled=choices is not None and isinstance(ballot, SecretBallot),
    )


def _check_binding(
    report: ReceiptReport, ballot: AnyBallot, question: Question, ceremony: secret.Ceremony | None
) -> None:
    """An mvote-2 ballot binds the hash of the question record it was prepared against: it must
    be the hash of the record its transaction read (title, labels, rule, eligibility, key)."""
    bound = bound_question(ballot)
    if bound is None:
        return  # an mvote-1 ballot binds no question record
    key = ceremony.election_key if ceremony is not None else None
    expected = question_hash(question.spec, key)
    report.add(
        "question_binding",
        bound == expected,
        f"the ballot binds question record {bound}; the question record its transaction read "
        f"hashes to {expected}",
    )


def _anchored_config(receipt: Receipt, report: ReceiptReport) -> ChannelConfig | None:
    """The channel config of the receipt's genesis block, once it hashes to the anchor."""
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
    config = channel_config_from_block(receipt.proof[0])
    if not report.add(
        "channel",
        config.channel_id == receipt.channel,
        f"channel {config.channel_id}, receipt names {receipt.channel}",
    ):
        return None
    return config


def _ballot_transaction(
    receipt: Receipt, config: ChannelConfig, report: ReceiptReport
) -> tuple[BlockView, ParsedTransaction] | None:
    """The ballot's block, signed by the orderers, and its transaction at the receipt's index.

    Precondition: ``config`` is the anchored genesis config."""
    ballot_block = _block(receipt, receipt.block, report)
    if ballot_block is None or not _signed_by_orderers(ballot_block, config, report):
        return None
    if not report.add(
        "tx_position",
        receipt.tx_index < len(ballot_block.data),
        f"block {receipt.block} has {len(ballot_block.data)} transactions, receipt names index {receipt.tx_index}",
    ):
        return None
    return ballot_block, ParsedTransaction(ballot_block.data[receipt.tx_index])


def _definition_context(
    receipt: Receipt, tx: ParsedTransaction, config: ChannelConfig, report: ReceiptReport
) -> BlockContext | None:
    """A validation context whose state holds the chaincode definition ``tx`` ran under (its
    ``_lifecycle`` read), from the receipt's block that wrote it, that transaction valid."""
    version = definition_version(tx, receipt.chaincode)
    if (
        not report.add(
            "definition",
            version is not None,
            f"transaction reads the {receipt.chaincode} definition at {version}",
        )
        or version is None
    ):
        return None
    definition_block = _block(receipt, version[0], report)
    if definition_block is None or not _signed_by_orderers(definition_block, config, report):
        return None
    state = MemoryWorldState()
    context = BlockContext(config, state, lambda _tx_id: False)
    definition = validate_transaction(context, version[1], definition_block.data[version[1]])
    if (
        not report.add(
            "definition",
            definition.code == 0 and definition.rwset is not None,
            f"definition transaction {definition.tx_id}: validation code {definition.code}",
        )
        or definition.rwset is None
    ):
        return None
    updates = BlockUpdates()
    updates.add(definition.rwset, version)
    state.apply(updates)
    return context


def _transaction_checks(
    receipt: Receipt,
    report: ReceiptReport,
    context: BlockContext,
    ballot_block: BlockView,
    tx: ParsedTransaction,
) -> None:
    """The ballot transaction's validity under ``context``, its id, the code the peer
    recorded, and (if valid) its code recomputed over the earlier transactions of its block."""
    verdict = validate_transaction(context, receipt.tx_index, tx)
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
    recorded = ballot_block.metadata_slot(METADATA_TRANSACTIONS_FILTER)
    code = recorded[receipt.tx_index] if receipt.tx_index < len(recorded) else None
    report.add(
        "validation_code",
        code == 0,
        f"the issuing peer recorded code {code} for the transaction (no signature covers it)",
    )
    if verdict.code == 0 and verdict.rwset is not None:
        _check_in_block(report, context, ballot_block, verdict, verdict.rwset)


def _ballot_checks(
    receipt: Receipt, report: ReceiptReport, tx: ParsedTransaction, function: FunctionName
) -> CastRequest:
    """The ballot inside ``tx``: its channel and question, its tracker, the voter's signature;
    for a batched ballot, that the transaction recorded it (a batch may refuse some)."""
    channel, request = _cast_request(tx, receipt.ballot_index, function)
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
    if receipt.ballot_index is not None:
        _check_recorded_in_batch(receipt, report, tx, ballot.voter)
    return request


def _check_recorded_in_batch(
    receipt: Receipt, report: ReceiptReport, tx: ParsedTransaction, voter: str
) -> None:
    """The batch transaction wrote the voter's ballot record for the receipt's question with
    the receipt's tracker (the endorsers signed the write set): the ballot was accepted, not
    listed as refused."""
    ns = tx.namespace(receipt.chaincode)
    start, end = partial_key_range(keys.BALLOT, [receipt.qid])
    found = None
    for write in ns.writes if ns is not None else ():
        if start <= write.key < end and split_composite_key(write.key)[1][2:] == [voter]:
            found = write
            break
    tracker = None
    if found is not None and not found.is_delete:
        value = encoding.decode(bytes(found.value), max_size=MAX_BALLOT_RECORD_BYTES, what="state")
        tracker = BallotRecord.from_json(value).tracker
    report.add(
        "in_batch",
        tracker == receipt.tracker,
        f"ballot {receipt.ballot_index} of the batch: the transaction "
        + (
            f"wrote its ballot record with tracker {tracker}"
            if tracker is not None
            else "wrote no ballot record for it (the batch refused it)"
        ),
    )


def _offline_secret_proofs(
    report: ReceiptReport,
    request: CastRequest,
    records: tuple[Question, secret.Ceremony | None] | None,
    with_chain: bool,
) -> None:
    """A secret ballot's proofs against the question and ceremony records of the receipt's
    proof blocks; without them, said (the chain's replayed state gives them)."""
    if records is not None:
        question, ceremony = records
        if ceremony is None:
            report.add("ballot_proofs", False, f"question {question.qid!r} is not in secret mode")
            return
        check_secret_proofs(report, request, question, ceremony)
    elif not with_chain:
        report.add(
            "ballot_proofs",
            False,
            "the receipt carries no blocks of the question and ceremony records the ballot "
            "was checked against: verify it with the chain (--chain FILE)",
        )


#: What a receipt alone cannot prove; the audit of the chain (``--chain``) proves both.
OFFLINE_LIMITS = (
    "that no transaction of an earlier block conflicts with this one (MVCC against the state "
    "committed before its block): offline, that rests on the code the issuing peer recorded",
    "that the tally counted the ballot",
)

#: A version no transaction can have read: keys the receipt's transaction did not read.
_UNKNOWN: Version = (-1, -1)


class _AsRead:
    """The state committed before the ballot's block, as far as one receipt knows it: the
    chaincode definition, and every key the ballot's transaction read at the version it read.

    If the ballot's transaction is valid, that is exactly the committed state of those keys (and
    no earlier valid transaction of the block wrote them). Any other key is unknown: a read of it
    never matches, and a range query is refused, so an earlier transaction of the block counts
    as valid (its writes apply) only when everything it read is known; its validity then follows
    from the ballot's. So a conflict found on this state is proved by the block alone.
    """

    def __init__(self, definition: WorldStateView, rwset: TxRwSet) -> None:
        self._definition = definition
        self._reads: dict[tuple[str, str], Version | None] = {}
        self._hashed: dict[tuple[str, str, bytes], Version | None] = {}
        for ns in rwset.ns_rwsets:
            for read in ns.reads:
                self._reads[(ns.namespace, read.key)] = read.version
            for coll in ns.collections:
                for hashed in coll.reads:
                    self._hashed[(ns.namespace, coll.collection, hashed.key_hash)] = hashed.version

    def version(self, namespace: str, key: str) -> Version | None:
        return self._reads.get((namespace, key), _UNKNOWN)

    def value(self, namespace: str, key: str) -> bytes | None:
        return self._definition.value(namespace, key)

    def hashed_version(self, namespace: str, collection: str, key_hash: bytes) -> Version | None:
        return self._hashed.get((namespace, collection, key_hash), _UNKNOWN)

    def range(self, namespace: str, start: str, end: str) -> list[tuple[str, Version]]:
        raise UnsupportedRangeSummary(
            f"range query [{start!r}, {end!r}) in {namespace}: a receipt proves no range",
            field="range_queries_info",
        )


def _check_in_block(
    report: ReceiptReport,
    context: BlockContext,
    block: BlockView,
    mine: TxVerdict,
    rwset: TxRwSet,
) -> None:
    """Recompute the ballot transaction's code over the transactions before it in its block,
    with the verifier's own validation (``finish_block_validation``: in-block duplicate tx ids,
    then MVCC in block order) on :class:`_AsRead`. Precondition: ``mine`` is VALID by
    :func:`validate_transaction` under ``context`` and ``rwset`` is its rwset."""
    known: WorldStateView = _AsRead(context.state, rwset)
    ctx = BlockContext(context.config, known, lambda _tx_id: False)
    before = [ParsedTransaction(raw) for raw in block.data[: mine.index]]
    earlier = [
        validate_transaction(ctx, i, before[i]) for i in _relevant(before, mine.tx_id, rwset)
    ]
    verdicts, _ = finish_block_validation(ctx, block.number, [*earlier, _copy(mine)])
    again = verdicts[-1]
    if again.unsupported:
        report.add(
            "in_block",
            False,
            "; ".join(r.message for r in again.unsupported),
        )
        return
    if again.code == 0:
        report.add(
            "in_block",
            True,
            f"recomputed over the {mine.index} transactions before it in block {block.number}: "
            "none conflicts with it",
        )
        return
    culprit = _conflicting_writer(verdicts[:-1], rwset)
    report.add(
        "in_block",
        False,
        f"recomputed over the {mine.index} transactions before it in block {block.number}: "
        f"code {again.code} ({'; '.join(r.message for r in again.reasons)})"
        + (f"; {culprit}" if culprit else ""),
    )


def _relevant(earlier: Sequence[ParsedTransaction], tx_id: str, rwset: TxRwSet) -> list[int]:
    """The indexes of the earlier transactions that can change the ballot's in-block code: those
    that write a key it read, or share a tx id with it or with another transaction. No other one
    can: on :class:`_AsRead` a transaction counts only if all it read the ballot read too, so
    only a writer of such a key can affect another. A transaction that does not parse is never
    valid."""
    read = _read_keys(rwset)
    ids: list[str | None] = []
    writers = set()
    for i, tx in enumerate(earlier):
        their_id, theirs = _id_and_rwset(tx)
        ids.append(their_id)
        if theirs is not None and not read.isdisjoint(_written_keys(theirs)):
            writers.add(i)
    counts = Counter([*ids, tx_id])
    return [i for i, t in enumerate(ids) if i in writers or (t is not None and counts[t] > 1)]


def _id_and_rwset(tx: ParsedTransaction) -> tuple[str | None, TxRwSet | None]:
    """An endorser transaction's tx id and rwset, as far as they parse."""
    try:
        tx_id = tx.tx_id
    except MvoteError:
        return None, None
    try:
        return tx_id, tx.rwset
    except MvoteError:
        return tx_id, None


def _read_keys(rwset: TxRwSet) -> set[tuple[str, str] | tuple[str, str, bytes]]:
    keys_: set[tuple[str, str] | tuple[str, str, bytes]] = set()
    for ns in rwset.ns_rwsets:
        keys_.update((ns.namespace, r.key) for r in ns.reads)
        for c in ns.collections:
            keys_.update((ns.namespace, c.collection, h.key_hash) for h in c.reads)
    return keys_


def _written_keys(rwset: TxRwSet) -> set[tuple[str, str] | tuple[str, str, bytes]]:
    keys_: set[tuple[str, str] | tuple[str, str, bytes]] = set()
    for ns in rwset.ns_rwsets:
        keys_.update((ns.namespace, w.key) for w in ns.writes)
        for c in ns.collections:
            keys_.update((ns.namespace, c.collection, w.key_hash) for w in c.writes)
    return keys_


def _copy(verdict: TxVerdict) -> TxVerdict:
    return dataclasses.replace(
        verdict, reasons=list(verdict.reasons), unsupported=list(verdict.unsupported)
    )


def _conflicting_writer(earlier: list[TxVerdict], rwset: TxRwSet) -> str | None:
    """Name the first valid earlier transaction that wrote a key ``rwset`` read."""
    read = {(ns.namespace, r.key) for ns in rwset.ns_rwsets for r in ns.reads}
    for v in earlier:
        if v.code != 0 or v.unsupported or v.rwset is None:
            continue
        for ns in v.rwset.ns_rwsets:
            for write in ns.writes:
                if (ns.namespace, write.key) in read:
                    return (
                        f"transaction {v.tx_id} (index {v.index}) wrote {ns.namespace} key "
                        f"{write.key!r}, which this transaction read"
                    )
    return None


def _proof_record(
    receipt: Receipt,
    raw_tx: ParsedTransaction,
    key: str,
    what: str,
    config: ChannelConfig,
    context: BlockContext,
    report: ReceiptReport,
) -> bytes | None:
    """The value of ``key`` the ballot's transaction read, from the receipt's block that wrote
    it: that block signed by the orderers, the writing transaction valid and recorded VALID.
    None if the receipt does not carry the block (or a check failed, reported)."""
    version = read_version(raw_tx, receipt.chaincode, key)
    if version is None:
        report.add(f"{what}_record", False, f"the ballot's transaction read no {what} record")
        return None
    if version[0] not in receipt.proof:
        return None
    block = _block(receipt, version[0], report)
    if block is None or not _signed_by_orderers(block, config, report):
        return None
    if not report.add(
        f"{what}_record",
        version[1] < len(block.data),
        f"block {version[0]} has {len(block.data)} transactions, the read names index {version[1]}",
    ):
        return None
    verdict = validate_transaction(context, version[1], block.data[version[1]])
    recorded = block.metadata_slot(2)
    code = recorded[version[1]] if version[1] < len(recorded) else None
    value = written_value(block.data[version[1]], receipt.chaincode, key)
    report.add(
        f"{what}_record",
        verdict.code == 0 and code == 0 and value is not None,
        f"the {what} record read by the ballot was written by transaction {verdict.tx_id} "
        f"(block {version[0]}, validation code {verdict.code}, recorded {code})",
    )
    return value if verdict.code == 0 and code == 0 else None


def _question_from_proof(
    receipt: Receipt,
    raw_tx: ParsedTransaction,
    config: ChannelConfig,
    context: BlockContext,
    report: ReceiptReport,
) -> tuple[Question, secret.Ceremony | None] | None:
    """The question record the ballot's transaction read, and for a secret question its
    ceremony record, from the receipt's proof blocks (each checked); None if the receipt does
    not carry them."""
    raw = _proof_record(
        receipt, raw_tx, keys.question_key(receipt.qid), "question", config, context, report
    )
    if raw is None:
        return None
    question = Question.from_json(encoding.decode(raw, max_size=1 << 24, what="question"))
    if question.spec.election is None:
        return question, None
    raw = _proof_record(
        receipt,
        raw_tx,
        keys.ceremony_key(question.spec.election),
        "ceremony",
        config,
        context,
        report,
    )
    if raw is None:
        return None
    ceremony = secret.Ceremony.from_json(encoding.decode(raw, max_size=1 << 24, what="ceremony"))
    return question, ceremony


def ballot_context(
    question: Question, ceremony: secret.Ceremony, ballot: SecretBallot
) -> BallotContext:
    """The statement a secret ballot was made for, as the contract builds it: the ceremony's
    election key, the channel, the question's id and rule, the voter's key and (mvote-2) the
    question hash the ballot binds. Precondition: the ceremony has an election key."""
    if ceremony.election_key is None:
        raise InvalidField(f"ceremony {ceremony.cid!r} has no election key", field="election")
    spec = question.spec
    low, high = rules.selection_bounds(spec.rule)
    bound = bound_question(ballot)
    return BallotContext(
        ceremony.election_key,
        ballot.channel,
        spec.qid,
        bytes.fromhex(ballot.voter),
        len(spec.options),
        low,
        high,
        None if bound is None else bytes.fromhex(bound),
    )


def check_secret_proofs(
    report: ReceiptReport, request: CastRequest, question: Question, ceremony: secret.Ceremony
) -> bool:
    """A secret ballot's proofs (``verify_ballot``) against the question's context: the
    ceremony's election key, the channel, the question's id and rule, the voter's key."""
    ballot = request.ballot
    if not isinstance(ballot, SecretBallot):
        return report.add("ballot_proofs", False, "an open ballot carries no proofs to check")
    spec = question.spec
    if spec.election != ceremony.cid or ceremony.election_key is None:
        return report.add(
            "ballot_proofs",
            False,
            f"question {question.qid!r} names ceremony {spec.election!r}; the ceremony record "
            f"is {ceremony.cid!r} in state {ceremony.state}",
        )
    ctx = ballot_context(question, ceremony, ballot)
    try:
        verify_ballot(ctx, ballot.encrypted, "ballot.encrypted")
    except MvoteError as exc:
        return report.add("ballot_proofs", False, f"{exc.code}: {exc.message}")
    return report.add(
        "ballot_proofs",
        True,
        f"every proof holds: {len(spec.options)} option proofs (0 or 1) and the selection "
        f"count in {ctx.min}..{ctx.max}, under the election key of ceremony {ceremony.cid}",
    )


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
        chain[receipt.block] and unpack_block(chain[receipt.block]).data[receipt.tx_index],
        receipt.ballot_index,
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
    if isinstance(request.ballot, SecretBallot) and question is not None:
        _check_secret_with_chain(receipt, request, shards_state, report)
    report.tallied = shards_state.get(keys.tally_key(receipt.qid)) is not None
    if report.tallied:
        # The tally was recounted from every ballot record in state (no tally_recount finding),
        # and this ballot's record is among them.
        report.add(
            "counted",
            audit.verified,
            "the recorded tally equals a recount that includes this ballot",
        )


def _check_secret_with_chain(
    receipt: Receipt, request: CastRequest, state: Any, report: ReceiptReport
) -> None:
    """The ballot's proofs against the replayed records (unless the proof blocks gave them),
    and the ballot inside its shard's aggregate: the recorded sums equal the homomorphic sum of
    the shard's ballots the aggregate has read, this ballot among them.

    Precondition: ``state`` (the replayed state) holds the question record."""
    ballot = request.ballot
    if not isinstance(ballot, SecretBallot):
        return
    question = Question.from_json(
        encoding.decode(state.get(keys.question_key(receipt.qid))[0], max_size=1 << 24)
    )
    if not any(c.name == "ballot_proofs" for c in report.checks):
        _proofs_from_state(report, request, question, state)
    shard = keys.shard_of(bytes.fromhex(ballot.voter), question.spec.shards)
    stored = state.get(keys.aggregate_key(receipt.qid, shard))
    if stored is None:
        report.aggregated = False
        return
    aggregate = SecretAggregate.from_json(encoding.decode(stored[0], max_size=1 << 24))
    summed = _sum_shard(receipt, ballot, state, shard, aggregate, len(question.spec.options))
    if summed is None:
        report.add("in_aggregate", False, f"an open ballot in secret question {receipt.qid!r}")
        return
    _report_aggregate(report, f"shard {shard} of {receipt.qid!r}", aggregate, summed)


def _proofs_from_state(
    report: ReceiptReport, request: CastRequest, question: Question, state: Any
) -> None:
    found = state.get(keys.ceremony_key(question.spec.election)) if question.spec.election else None
    if found is None:
        report.add("ballot_proofs", False, f"no ceremony {question.spec.election!r} in state")
        return
    ceremony = secret.Ceremony.from_json(encoding.decode(found[0], max_size=1 << 24))
    check_secret_proofs(report, request, question, ceremony)


@dataclass(frozen=True)
class _ShardSum:
    """The homomorphic sum of a shard's first ``read`` ballots in state (as an aggregate with
    ``ballots`` = ``read`` reads them), and whether this ballot is among them unaltered."""

    sums: list[Any]
    read: int
    in_shard: int
    last: str
    included: bool


def _sum_shard(
    receipt: Receipt,
    ballot: SecretBallot,
    state: Any,
    shard: int,
    aggregate: SecretAggregate,
    options: int,
) -> _ShardSum | None:
    """Sum the shard's ballots in key order up to the aggregate's count; None if the shard
    holds an open ballot."""
    sums, read, included, last = [ZERO] * options, 0, False, ""
    start, end = partial_key_range(keys.BALLOT, [receipt.qid, keys.shard_label(shard)])
    in_shard = 0
    for _, raw, _ in state.range(start, end):
        in_shard += 1
        if read == aggregate.ballots:
            continue
        record = BallotRecord.from_json(encoding.decode(raw, max_size=1 << 21))
        if not isinstance(record.ballot, SecretBallot):
            return None
        sums = [a + b for a, b in zip(sums, record.ballot.encrypted.ciphertexts(), strict=True)]
        read += 1
        last = record.ballot.voter
        if record.ballot.voter == ballot.voter:
            included = record.tracker == receipt.tracker and _same_ciphertexts(
                record.ballot, ballot
            )
    return _ShardSum(sums, read, in_shard, last, included)


def _same_ciphertexts(a: SecretBallot, b: SecretBallot) -> bool:
    return [c.to_json() for c in a.encrypted.ciphertexts()] == [
        c.to_json() for c in b.encrypted.ciphertexts()
    ]


def _report_aggregate(
    report: ReceiptReport, where: str, aggregate: SecretAggregate, summed: _ShardSum
) -> None:
    consistent = (
        summed.read == aggregate.ballots
        and summed.last == aggregate.cursor
        and [s.to_json() for s in summed.sums] == [s.to_json() for s in aggregate.sums]
        and (not aggregate.done or summed.in_shard == summed.read)
    )
    if not consistent:
        report.add(
            "in_aggregate",
            False,
            f"{where}: the recorded aggregate ({aggregate.ballots} ballots, cursor "
            f"{aggregate.cursor[:16]}...) differs from the homomorphic sum of the shard's "
            f"{summed.read} first ballots in the replayed state ({summed.in_shard} in the shard)",
        )
        return
    report.aggregated = summed.included
    if summed.included:
        report.add(
            "in_aggregate",
            True,
            f"{where}: the recorded sums equal the homomorphic sum of its {summed.read} ballots "
            "in the replayed state, this ballot's ciphertexts among them",
        )
