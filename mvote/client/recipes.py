"""What users of mvote do, as functions an integrator can call: typed in, typed out, no printing.

Each recipe takes a :class:`~mvote.client._voting.VotingContract` (over the Gateway, or any
:class:`~mvote.client._voting.Transactor`) and raises the typed error the contract, the node or
the client named; the ``mvote`` command line and the demo are thin shells over these.

- :func:`vote`: prepare (plain or encrypted), sign, cast and get a receipt
- :func:`cast_prepared`, :func:`spoil_prepared`: cast-or-audit, after the voter saw the tracker
- :func:`create_question`: create a question, and open it if asked
- :func:`roster_keys_from_csv`, :func:`add_roster`: fill a roster from a CSV of voter keys
- :func:`tally`: close, aggregate every shard, tally (or find the tally already recorded)
- :func:`dealing_posting`, :func:`check_posting`, :func:`post_decryption`,
  :func:`ceremony_progress`: a trustee's steps

Every recipe that acts on chain state (what a voter encrypts or chooses against, what a trustee
checks, judges or decrypts) reads it from the chain verified from the trust anchor
(:meth:`VotingContract.verified`, mvote.client._verified), never from a node's answer.
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
from mvote.chaincode._errors import (
    AlreadyExists,
    InvalidField,
    InvalidTransition,
    MvoteError,
)
from mvote.chaincode._events import DecryptionAccepted
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import (
    CastRequest,
    FinalResults,
    LiveResults,
    Participation,
    Question,
    QuestionSpec,
    Roster,
    SignedCredential,
    TallyRecord,
    roster_batches,
)
from mvote.chaincode._secret import Ceremony
from mvote.client import _trustee as trustees
from mvote.client._ballot import prepare_ballot
from mvote.client._errors import NotVerified, QuestionOpen
from mvote.client._receipt import BlockSource, issue_receipt
from mvote.client._secret import PreparedSecretBallot, audit_prepared, prepare_secret_ballot
from mvote.client._verified import CeremonyProgress, VerifiedChain, VerifiedRecords
from mvote.client._voting import CastResult, Recorded, SpoilResult, VotingContract
from mvote.verifier._receipt import Receipt, with_context_blocks

__all__ = [
    "CreatedQuestion",
    "Decrypted",
    "Results",
    "RosterAdded",
    "Spoiled",
    "TallyOutcome",
    "Voted",
    "add_roster",
    "cast_prepared",
    "ceremony_progress",
    "check_posting",
    "create_question",
    "dealing_posting",
    "decryption_totals",
    "post_decryption",
    "prepare_vote",
    "receipt_for",
    "results",
    "roster_keys_from_csv",
    "spoil_prepared",
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
    ceremony's election key and kept with its seed for cast-or-audit.

    Nothing is prepared from the node's word: ``question`` (what the caller showed its user and
    mapped the choices with) must be exactly the verified question
    (:meth:`VotingContract.records`: endorsed by enough organisations, or from the verified
    chain), and the election key is that of the verified ceremony it names. Raises NotVerified
    (naming the check: ``question_record`` for a question that differs, e.g. swapped option
    labels; ``endorsement_signature`` for an altered answer, ...), RuleViolation,
    CeremonyNotComplete."""
    records = contract.records()
    return _prepare(records, key, records.same_question(question), choices, credential, code)


def _prepare(
    records: VerifiedRecords,
    key: nacl.signing.SigningKey,
    question: Question,
    choices: Sequence[int],
    credential: SignedCredential | None,
    code: str | None,
) -> CastRequest | PreparedSecretBallot:
    """Precondition: ``question`` was read from ``records``."""
    if question.spec.election is None:
        return prepare_ballot(
            key,
            channel=records.channel,
            question=question.spec,
            choices=tuple(choices),
            credential=credential,
            code=code,
        )
    return prepare_secret_ballot(
        key,
        channel=records.channel,
        question=question.spec,
        election_key=records.election_key(question),
        choices=choices,
        credential=credential,
        code=code,
    )


def receipt_for(done: CastResult, blocks: BlockSource, *, chaincode: str, secret: bool) -> Voted:
    """The receipt of the committed ballot ``done``, from committed ``blocks``, with the block
    of its question record (so the voter's device shows the choices by label) and, for a
    ``secret`` ballot, of its ceremony record (so its proofs are checked offline)."""
    receipt = issue_receipt(
        blocks,
        tx_id=done.transaction_id,
        block_number=done.block_number,
        qid=done.qid,
        tracker=done.tracker,
        chaincode=chaincode,
        ballot_index=done.ballot_index,
    )
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
    """Vote on ``qid`` with ``key`` and get a receipt: read the question verified
    (:meth:`VotingContract.records`), prepare and sign the ballot on this device (under the
    verified election key), cast it, wait for the commit, issue the receipt. Raises NotVerified
    before anything is encrypted or sent when a read does not verify."""
    records = contract.records()
    question = records.question(qid)
    prepared = _prepare(records, key, question, choices, credential, code)
    request = prepared.request if isinstance(prepared, PreparedSecretBallot) else prepared
    done = contract.cast(request)
    return receipt_for(done, blocks, chaincode=chaincode, secret=question.spec.mode == "secret")


@dataclass(frozen=True)
class Results:
    """A question and its results (``GetResults``: live counts, or the final tally), both
    verified from the trust anchor (:meth:`VotingContract.records`)."""

    question: Question
    results: LiveResults | FinalResults


def results(contract: VotingContract, qid: str) -> Results:
    """The results of ``qid`` to show, verified (:meth:`VotingContract.records`): the node
    alone cannot change a count, a label or an outcome shown. Raises NotVerified, and the
    contract's refusals (NotFound)."""
    records = contract.records()
    question = records.question(qid)
    return Results(question, records.results(qid))


def question(contract: VotingContract, qid: str) -> Question:
    """Question ``qid`` to show, verified (:meth:`VotingContract.records`); the contract's
    refusals (NotFound) as the node's Gateway would give them. Raises NotVerified."""
    return Question.from_json(contract.records().answer(FunctionName.GET_QUESTION, qid))


def questions(contract: VotingContract) -> list[Question]:
    """Every question of the channel to show, verified. Raises NotVerified."""
    listed = contract.records().answer(FunctionName.LIST_QUESTIONS)
    if not isinstance(listed, list):
        raise NotVerified("ListQuestions answered no list", check="questions")
    return [Question.from_json(q, f"questions[{i}]") for i, q in enumerate(listed)]


def history(contract: VotingContract, voter: str) -> list[Participation]:
    """The participation of ``voter`` (hex key) to show, verified
    (:meth:`VotingContract.records`): the node alone cannot hide, add or alter an entry shown.
    Raises NotVerified."""
    return contract.records().history(voter)


def cast_prepared(
    contract: VotingContract,
    prepared: CastRequest | PreparedSecretBallot,
    blocks: BlockSource,
    *,
    chaincode: str,
) -> Voted:
    """Cast a prepared ballot (the voter chose to cast it) and get its receipt."""
    secret = isinstance(prepared, PreparedSecretBallot)
    request = prepared.request if isinstance(prepared, PreparedSecretBallot) else prepared
    done = contract.cast(request)
    return receipt_for(done, blocks, chaincode=chaincode, secret=secret)


@dataclass(frozen=True)
class Spoiled:
    """An audited ballot: what SpoilBallot committed, and the spoiled-ballot file (a receipt of
    the SpoilBallot transaction with the question and ceremony blocks) that a second device
    checks with ``mvote-verify spoiled FILE --genesis-hash H``."""

    result: SpoilResult
    file: Receipt


def spoil_prepared(
    contract: VotingContract,
    prepared: PreparedSecretBallot,
    blocks: BlockSource,
    *,
    chaincode: str,
) -> Spoiled:
    """Cast-or-audit, the voter chose to audit: check on this device that the ballot encrypts
    the choices (AuditMismatch otherwise: nothing is sent), then record it as spoiled with its
    opening and issue the spoiled-ballot file. The ballot can never be cast afterwards."""
    audit_prepared(prepared, prepared.choices)
    done = contract.spoil_ballot(prepared.spoil_request())
    receipt = issue_receipt(
        blocks,
        tx_id=done.transaction_id,
        block_number=done.block_number,
        qid=done.qid,
        tracker=done.tracker,
        chaincode=chaincode,
    )
    return Spoiled(done, with_context_blocks(receipt, blocks))


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
    first column; a leading byte order mark (spreadsheets write one) is ignored. Raises
    InvalidField naming the line of a value that is not a public key."""
    text = text.removeprefix("\ufeff")
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
    """The roster after the last batch, how many entries were added, how many were already on
    it (skipped), and each batch's tx."""

    roster: Roster | None
    added: int
    transactions: tuple[Recorded[Roster], ...]
    skipped: int = 0


def add_roster(
    contract: VotingContract,
    rid: str,
    public_keys: Sequence[str],
    *,
    progress: Progress = _quiet,
) -> RosterAdded:
    """Add the voters' key hashes to the unsealed roster ``rid``, one transaction per batch of
    ``MAX_ROSTER_BATCH``. Resumable: entries already on the roster (an earlier run that was
    interrupted, a list given twice) are skipped and counted, not refused. Precondition: each
    key is 64 lowercase hex digits."""
    entries = sorted({keys.voter_hash(bytes.fromhex(k)).hex() for k in public_keys})
    batches = roster_batches(entries)
    done: list[Recorded[Roster]] = []
    skipped = 0
    for n, batch in enumerate(batches, 1):
        fresh = batch
        try:
            done.append(contract.add_roster_entries(rid, batch))
        except AlreadyExists:
            # Some of the batch is on the roster already: add only the others.
            fresh = [e for e in batch if not contract.is_on_roster(rid, e).listed]
            skipped += len(batch) - len(fresh)
            if not fresh:
                progress(f"batch {n}/{len(batches)}: all {len(batch)} already on {rid}")
                continue
            done.append(contract.add_roster_entries(rid, fresh))
        progress(f"batch {n}/{len(batches)}: {len(fresh)} entries, block {done[-1].block_number}")
    roster = done[-1].value if done else contract.get_roster(rid)
    return RosterAdded(roster, len(entries) - skipped, tuple(done), skipped)


# --- tally ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TallyOutcome:
    """A question's tally as the ledger holds it. ``already``: this run did not record it (the
    question was found TALLIED, or the ``Tally`` failed and the ledger shows it TALLIED anyway,
    e.g. the commit acknowledgement was lost)."""

    question: Question
    tally: TallyRecord
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
        block = contract.transactor.block_of(recorded.tx)
    except MvoteError:
        return None
    return TallyOutcome(now, recorded, recorded.tx, block, already=True, aggregate_transactions=0)


def _aggregate_shards(
    contract: VotingContract, question: Question, batch: int, progress: Progress
) -> int:
    """Aggregate every shard not yet done, ``batch`` ballots per transaction; how many ran."""
    transactions = 0
    shards = question.spec.shards
    for shard in range(shards):
        try:
            done = contract.get_aggregate(question.qid, shard).done
        except MvoteError as exc:
            if exc.code != "NOT_FOUND":
                raise
            done = False
        while not done:
            step = contract.aggregate(question.qid, shard, batch).value
            transactions += 1
            done = step.done
            progress(
                f"shard {shard + 1}/{shards}: {step.ballots} ballots" + (" (done)" if done else "")
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


def _own_ceremony(chain: VerifiedChain, trustee: trustees.TrusteeSecrets) -> Ceremony:
    """The verified record of the trustee's ceremony, refused (``ceremony_record``) unless it
    has the trustee's parameters and registers the trustee's own group key at its index."""
    params = trustee.params
    ceremony = chain.ceremony(params.ceremony)
    if ceremony.params != params:
        raise NotVerified(
            f"ceremony {params.ceremony!r}: the verified record is {ceremony.params.k} of "
            f"{ceremony.params.n} on channel {ceremony.params.channel!r}; this trustee's file "
            f"says {params.k} of {params.n} on {params.channel!r}",
            check="ceremony_record",
        )
    if ceremony.trustees[trustee.index - 1].key.key != trustee.public_key:
        raise NotVerified(
            f"ceremony {params.ceremony!r}: trustee {trustee.index}'s registered key is not "
            "this trustee's",
            check="ceremony_record",
        )
    return ceremony


def dealing_posting(contract: VotingContract, trustee: trustees.TrusteeSecrets) -> bytes:
    """The trustee's signed dealing: its shares encrypted to every trustee of the ceremony as
    the verified chain registers them. Keep it before posting: a retry must post the same
    dealing. Raises NotVerified."""
    ceremony = _own_ceremony(contract.verified(), trustee)
    return trustees.dealing_posting(trustee, [t.to_json() for t in ceremony.trustees])


def check_posting(contract: VotingContract, trustee: trustees.TrusteeSecrets) -> bytes:
    """The trustee's signed check of the shares dealt to it, judged only from dealings on the
    verified chain, each re-checked (dealer's signature, proofs) before its share is opened:
    a complaint (which reveals what opens that share) is never made about anything else.
    Precondition: the trustee has dealt. Raises NotVerified, InvalidTransition (the ceremony
    is not DEALING, or some trustee has not dealt)."""
    chain = contract.verified()
    ceremony = _own_ceremony(chain, trustee)
    cid = ceremony.cid
    if ceremony.state != "DEALING":
        raise InvalidTransition(
            f"ceremony: {cid!r} is {ceremony.state} on the verified chain, not DEALING",
            field="ceremony",
        )
    dealings = chain.dealings(ceremony)
    missing = [i for i in range(1, ceremony.params.n + 1) if i not in dealings]
    if missing:
        raise InvalidTransition(
            f"ceremony: trustee(s) {', '.join(map(str, missing))} of {cid!r} have not dealt "
            "on the verified chain",
            field="ceremony",
        )
    return trustees.check_posting(trustee, list(dealings.values()))


def ceremony_progress(contract: VotingContract, cid: str) -> CeremonyProgress:
    """The ceremony on the verified chain: its record, who has dealt (each dealing
    re-checked) and who has posted a check. Raises NotVerified."""
    return contract.verified().progress(cid)


def decryption_totals(
    contract: VotingContract, trustee: trustees.TrusteeSecrets, qid: str
) -> list[Ciphertext]:
    """The encrypted totals of ``qid`` to decrypt, recomputed on this device as the sum of the
    verified ballot records, and refused unless the verified aggregates equal them: a node
    cannot have a trustee decrypt anything else (one ballot, a forged sum). ``qid`` is a CLOSED
    secret question of the trustee's ceremony, every shard aggregated to its end. Raises
    NotVerified, InvalidField, InvalidTransition, AggregationIncomplete."""
    chain = contract.verified()
    question = chain.question(qid)
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
    _own_ceremony(chain, trustee)
    return chain.secret_totals(question)


@dataclass(frozen=True)
class Decrypted:
    """The posted partial decryptions: how many totals, and where they committed."""

    totals: int
    posted: Recorded[DecryptionAccepted]


def post_decryption(
    contract: VotingContract, trustee: trustees.TrusteeSecrets, qid: str
) -> Decrypted:
    """Post the trustee's proved partial decryptions of ``qid``'s totals (recomputed from the
    verified ballot records, see :func:`decryption_totals`; no ballot is decrypted).
    Precondition: the trustee holds its secret share (the ceremony completed). Raises
    NotVerified, InvalidField, InvalidTransition, AggregationIncomplete, and the contract's
    refusals."""
    totals = decryption_totals(contract, trustee, qid)
    posting = trustees.decryption_posting(trustee, qid, totals)
    return Decrypted(len(totals), contract.post_decryption(posting))
