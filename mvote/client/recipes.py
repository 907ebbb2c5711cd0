"""What users of mvote do, as functions an integrator can call: typed in, typed out, no printing.

Each recipe takes a :class:`~mvote.client._voting.VotingContract` (over the Gateway, or any
:class:`~mvote.client._voting.Transactor`) and raises the typed error the contract, the node or
the client named; the ``mvote`` command line and the demo are thin shells over these.

- :func:`vote`: prepare (plain or encrypted), sign, cast and get a receipt
- :func:`create_question`: create a question, and open it if asked
- :func:`roster_keys_from_csv`, :func:`add_roster`: fill a roster from a CSV of voter keys
- :func:`tally`: close, aggregate every shard, tally (or find the tally already recorded)
- :func:`dealing_posting`, :func:`post_decryption`: a trustee's steps
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import nacl.signing

from mvote.chaincode import _keys as keys
from mvote.chaincode._crypto.elgamal import Ciphertext
from mvote.chaincode._crypto.group import point_from_hex
from mvote.chaincode._errors import (
    AggregationIncomplete,
    CeremonyNotComplete,
    InvalidField,
    InvalidTransition,
    MvoteError,
    NotFound,
)
from mvote.chaincode._records import (
    CastRequest,
    Question,
    QuestionSpec,
    Roster,
    SignedCredential,
    roster_batches,
)
from mvote.client import _trustee as trustees
from mvote.client._ballot import prepare_ballot
from mvote.client._errors import QuestionOpen
from mvote.client._receipt import BlockSource, issue_receipt
from mvote.client._secret import PreparedSecretBallot, prepare_secret_ballot
from mvote.client._voting import CastResult, JsonObject, Recorded, VotingContract
from mvote.verifier._receipt import Receipt, with_context_blocks

__all__ = [
    "CreatedQuestion",
    "Decrypted",
    "RosterAdded",
    "TallyOutcome",
    "Voted",
    "add_roster",
    "create_question",
    "dealing_posting",
    "decryption_totals",
    "post_decryption",
    "prepare_vote",
    "receipt_for",
    "roster_keys_from_csv",
    "tally",
    "vote",
]

#: Where a recipe reports progress (one line per step); the default says nothing.
Progress = Callable[[str], None]

_PUBLIC_KEY = re.compile(r"[0-9a-f]{64}")


def _quiet(_: str) -> None:
    pass


# --- vote ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voted:
    """A committed ballot and its receipt. ``warning``: why a secret ballot's receipt carries
    no question/ceremony blocks (its proofs are then checked against the chain), else None."""

    cast: CastResult
    receipt: Receipt
    warning: MvoteError | None = None


def prepare_vote(
    contract: VotingContract,
    key: nacl.signing.SigningKey,
    question: QuestionSpec,
    choices: Sequence[int],
    *,
    credential: SignedCredential | None = None,
    code: str | None = None,
) -> CastRequest | PreparedSecretBallot:
    """A signed cast request for ``choices``; on a secret question, encrypted under its
    ceremony's election key (read from the ledger) and kept with its seed for cast-or-audit.
    Raises RuleViolation, CeremonyNotComplete."""
    if question.election is None:
        return prepare_ballot(
            key,
            channel=contract.channel_name,
            question=question,
            choices=tuple(choices),
            credential=credential,
            code=code,
        )
    ceremony = contract.get_ceremony_json(question.election)
    if ceremony["election_key"] is None:
        raise CeremonyNotComplete(
            f"ceremony {question.election!r} of {question.qid!r} is {ceremony['state']}: no "
            "election key",
            field="election",
        )
    return prepare_secret_ballot(
        key,
        channel=contract.channel_name,
        question=question,
        election_key=point_from_hex(ceremony["election_key"], "election_key"),
        choices=choices,
        credential=credential,
        code=code,
    )


def receipt_for(done: CastResult, blocks: BlockSource, *, chaincode: str, secret: bool) -> Voted:
    """The receipt of the committed ballot ``done``, from committed ``blocks``; for a
    ``secret`` ballot it also carries the blocks of its question and ceremony records."""
    receipt = issue_receipt(
        blocks,
        tx_id=done.transaction_id,
        block_number=done.block_number,
        qid=done.qid,
        tracker=done.tracker,
        chaincode=chaincode,
        ballot_index=done.ballot_index,
    )
    if not secret:
        return Voted(done, receipt)
    try:
        return Voted(done, with_context_blocks(receipt, blocks))
    except MvoteError as exc:
        return Voted(done, receipt, warning=exc)


def vote(
    contract: VotingContract,
    key: nacl.signing.SigningKey,
    qid: str,
    choices: Sequence[int],
    blocks: BlockSource,
    *,
    chaincode: str,
    credential: SignedCredential | None = None,
    code: str | None = None,
) -> Voted:
    """Vote on ``qid`` with ``key`` and get a receipt: read the question, prepare and sign the
    ballot on this device, cast it, wait for the commit, issue the receipt."""
    spec = contract.get_question(qid).spec
    prepared = prepare_vote(contract, key, spec, choices, credential=credential, code=code)
    request = prepared.request if isinstance(prepared, PreparedSecretBallot) else prepared
    done = contract.cast(request)
    return receipt_for(done, blocks, chaincode=chaincode, secret=spec.mode == "secret")


# --- questions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedQuestion:
    """Where the question was created, and its record after the last step (created or opened)."""

    created: Recorded[Question]
    question: Question


def create_question(
    contract: VotingContract, spec: QuestionSpec, *, open_now: bool = False
) -> CreatedQuestion:
    """Create ``spec`` (DRAFT) and, with ``open_now``, open it."""
    created = contract.create_question(spec)
    question = contract.open_question(spec.qid).value if open_now else created.value
    return CreatedQuestion(created, question)


# --- rosters -------------------------------------------------------------------------------------


def roster_keys_from_csv(text: str) -> list[str]:
    """Voter public keys from CSV text: a column named public_key (or key, voter), else the
    first column. Raises InvalidField naming the line of a value that is not a public key."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    column = next((header.index(n) for n in ("public_key", "key", "voter") if n in header), None)
    first_line = 1
    if column is not None:
        rows, first_line = rows[1:], 2
    found = []
    for number, row in enumerate(rows, first_line):
        value = row[column or 0].strip().lower()
        if not _PUBLIC_KEY.fullmatch(value):
            raise InvalidField(
                f"line {number}: expected a 64-hex-digit public key, got {value!r}",
                field=f"line {number}",
            )
        found.append(value)
    return found


@dataclass(frozen=True)
class RosterAdded:
    """The roster after the last batch, how many entries were added, and each batch's tx."""

    roster: Roster | None
    added: int
    transactions: tuple[Recorded[Roster], ...]


def add_roster(
    contract: VotingContract,
    rid: str,
    public_keys: Sequence[str],
    *,
    progress: Progress = _quiet,
) -> RosterAdded:
    """Add the voters' key hashes to the unsealed roster ``rid``, one transaction per batch of
    ``MAX_ROSTER_BATCH``. Precondition: each key is 64 lowercase hex digits."""
    entries = sorted({keys.voter_hash(bytes.fromhex(k)).hex() for k in public_keys})
    batches = roster_batches(entries)
    done: list[Recorded[Roster]] = []
    for n, batch in enumerate(batches, 1):
        step = contract.add_roster_entries(rid, batch)
        done.append(step)
        progress(f"batch {n}/{len(batches)}: {len(batch)} entries, block {step.block_number}")
    return RosterAdded(done[-1].value if done else None, len(entries), tuple(done))


# --- tally ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TallyOutcome:
    """A question's tally as the ledger holds it. ``already``: this run did not record it (the
    question was found TALLIED, or the ``Tally`` failed and the ledger shows it TALLIED anyway,
    e.g. the commit acknowledgement was lost)."""

    question: Question
    tally: JsonObject
    transaction_id: str
    block_number: int
    already: bool
    aggregate_transactions: int


def _recorded_tally(contract: VotingContract, question: Question) -> TallyOutcome | None:
    """The recorded tally if the question is TALLIED now; None if not, or if the node cannot
    say."""
    try:
        now = contract.get_question(question.qid)
        if now.state != "TALLIED":
            return None
        recorded = contract.get_tally(question.qid)
        block = contract.transactor.block_of(recorded["tx"])
    except MvoteError:
        return None
    return TallyOutcome(
        now, recorded, recorded["tx"], block, already=True, aggregate_transactions=0
    )


def _aggregate_shards(
    contract: VotingContract, question: Question, batch: int, progress: Progress
) -> int:
    """Aggregate every shard not yet done, ``batch`` ballots per transaction; how many ran."""
    transactions = 0
    shards = question.spec.shards
    for shard in range(shards):
        try:
            done = bool(contract.get_aggregate(question.qid, shard)["done"])
        except MvoteError as exc:
            if exc.code != "NOT_FOUND":
                raise
            done = False
        while not done:
            step = contract.aggregate(question.qid, shard, batch).value
            transactions += 1
            done = bool(step["done"])
            progress(
                f"shard {shard + 1}/{shards}: {step['ballots']} ballots"
                + (" (done)" if done else "")
            )
    return transactions


def tally(
    contract: VotingContract,
    qid: str,
    *,
    close: bool = False,
    batch: int = 1000,
    progress: Progress = _quiet,
) -> TallyOutcome:
    """Aggregate every shard of a CLOSED question (``close``: close it first if OPEN) to its
    end, then record the tally. On a TALLIED question, the recorded tally. Raises QuestionOpen,
    NoQuorum (a secret question without enough partial decryptions), the contract's refusals."""
    question = contract.get_question(qid)
    if question.state == "TALLIED":
        found = _recorded_tally(contract, question)
        if found is not None:
            return found
    if question.state == "OPEN":
        if not close:
            raise QuestionOpen(
                f"qid: question {qid!r} is OPEN; it must be CLOSED to tally", field="qid"
            )
        contract.close_question(qid, "closed for the tally")
        progress(f"closed {qid}")
    transactions = _aggregate_shards(contract, question, batch, progress)
    try:
        final = contract.tally(qid)
    except MvoteError:
        found = _recorded_tally(contract, question)
        if found is None:
            raise
        return TallyOutcome(
            found.question,
            found.tally,
            found.transaction_id,
            found.block_number,
            True,
            transactions,
        )
    return TallyOutcome(
        question, final.value, final.transaction_id, final.block_number, False, transactions
    )


# --- trustees ------------------------------------------------------------------------------------


def dealing_posting(contract: VotingContract, trustee: trustees.TrusteeSecrets) -> bytes:
    """The trustee's signed dealing (its encrypted shares to every trustee of the ceremony, as
    the ledger lists them). Keep it before posting: a retry must post the same dealing."""
    ceremony = contract.get_ceremony_json(trustee.params.ceremony)
    return trustees.dealing_posting(trustee, ceremony["trustees"])


def decryption_totals(
    contract: VotingContract, trustee: trustees.TrusteeSecrets, qid: str
) -> list[Ciphertext]:
    """The encrypted totals of ``qid``: a CLOSED secret question of the trustee's ceremony,
    every shard aggregated to its end. Raises InvalidField, InvalidTransition,
    AggregationIncomplete."""
    question = contract.get_question(qid)
    cid = trustee.params.ceremony
    if question.spec.mode != "secret" or question.spec.election != cid:
        raise InvalidField(
            f"qid: {qid!r} is not a secret question of ceremony {cid!r}", field="qid"
        )
    if question.state != "CLOSED":
        raise InvalidTransition(
            f"qid: question {qid!r} is {question.state}; decryptions need it CLOSED and aggregated",
            field="qid",
        )
    aggregates = []
    for shard in range(question.spec.shards):
        try:
            aggregate = contract.get_aggregate(qid, shard)
        except NotFound:
            aggregate = {"done": False}
        if not aggregate["done"]:
            raise AggregationIncomplete(
                f"shard {shard} of {qid!r} is not aggregated to its end", field="shard"
            )
        aggregates.append(aggregate)
    return trustees.question_totals(aggregates)


@dataclass(frozen=True)
class Decrypted:
    """The posted partial decryptions: how many totals, and where they committed."""

    totals: int
    posted: Recorded[JsonObject]


def post_decryption(
    contract: VotingContract, trustee: trustees.TrusteeSecrets, qid: str
) -> Decrypted:
    """Post the trustee's proved partial decryptions of ``qid``'s totals (the homomorphic sums
    of every shard's aggregate; no ballot is decrypted). Precondition: the trustee holds its
    secret share (the ceremony completed). Raises InvalidField, InvalidTransition,
    AggregationIncomplete, and the contract's refusals."""
    totals = decryption_totals(contract, trustee, qid)
    posting = trustees.decryption_posting(trustee, qid, totals)
    return Decrypted(len(totals), contract.post_decryption(posting))
