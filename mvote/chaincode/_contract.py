"""The voting contract: questions, rosters, ballots, aggregation and tally.

Invocation takes Fabric's argument form (the function name, then byte-string arguments) and answers
with a Fabric-style response: status 200 and a canonical JSON payload, or status 400 with the
message ``"CODE: text naming the field"`` and a structured payload (``errors.Refusal``: code,
field, message), or 500 for a fault of the contract itself. Every function
checks everything before its first write, so a refused transaction writes nothing; the peer would
not endorse it anyway.

Pure and deterministic: the only clock is the transaction timestamp, the only I/O the stub.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import _ed25519 as ed25519
from . import _keys as keys
from . import _rules as rules
from . import _secret as secret
from . import encoding
from ._crypto.ballot import BallotContext, open_ballot, verify_ballot
from ._crypto.ceremony import Dealing, PartialDecryption
from ._crypto.elgamal import ZERO, Ciphertext
from ._crypto.group import Point
from ._eligibility import check_credential, check_onsite_code
from ._errors import (
    AggregationIncomplete,
    AlreadyExists,
    AlreadyVoted,
    BadArguments,
    BallotSpoiled,
    CeremonyNotComplete,
    InvalidField,
    InvalidTransition,
    Malformed,
    MvoteError,
    NonCanonical,
    NotEligible,
    NotFound,
    QuestionMismatch,
    QuestionNotOpen,
    Refusal,
    RosterNotSealed,
    RosterSealed,
    TooLarge,
    UnknownFunction,
    WrongChannel,
)
from ._events import (
    BallotCast,
    BallotsCast,
    BallotSpoiledEvent,
    BatchAccepted,
    BatchOutcome,
    BatchRefused,
    CastBatchResponse,
    CastResponse,
    CeremonyCancelled,
    CeremonyChanged,
    CeremonyCheckPosted,
    CheckAccepted,
    DealingAccepted,
    DealingPosted,
    DecryptionAccepted,
    DecryptionPosted,
    Event,
    QuestionCreated,
    QuestionStateChanged,
    RosterChanged,
    RosterMembership,
    ShardAggregated,
    SpoilResponse,
)
from ._functions import FunctionName
from ._identity import Creator, require_admin, require_owner
from ._records import (
    AGGREGATE_SHAPE,
    BALLOT_TYPE,
    BOUND_BALLOT_TYPE,
    BOUND_SECRET_BALLOT_TYPE,
    EMPTY_ROSTER_DIGEST,
    IDENTIFIER,
    KEY_HEX,
    REASON,
    SECRET_AGGREGATE_SHAPE,
    SECRET_BALLOT_TYPE,
    SECRET_BALLOT_TYPES,
    TALLY_SHAPE,
    Aggregate,
    Ballot,
    BallotRecord,
    BoundSecretBallot,
    CastRequest,
    Decryption,
    FinalResults,
    LiveResults,
    OpenEligibility,
    Participation,
    Question,
    QuestionSpec,
    QuestionState,
    Roster,
    RosterBatch,
    RosterEligibility,
    RosterEntry,
    RosterSpec,
    SecretAggregate,
    SecretBallot,
    SecretMode,
    SpoiledBallot,
    SpoilRequest,
    TallyRecord,
    Transition,
    bound_question,
    question_hash,
    roster_digest_after,
    tracker_of,
)
from ._schema import HASH_HEX_SHAPE, Record, Shape, Text
from ._stub import ChaincodeStub, get_state_by_partial_composite_key, partial_key_range

#: The version the chaincode is defined with on a channel. Change it with any change to a rule,
#: and keep the old rules selectable (``invoke(stub, version)``): the verifier replays every
#: transaction under the rules of the version its endorsers signed (``VERSIONS``), and lists a
#: transaction of any other version as not replayed instead of misreading it as a lie.
#: mvote-2: ballots bind the question record's hash (``ballot.question``); SpoilBallot
#: (cast-or-audit) and CancelCeremony.
VERSION = "mvote-2"
#: Every version whose rules this contract still runs, oldest first.
VERSIONS = ("mvote-1", "mvote-2")
V1 = "mvote-1"

OK = 200
REFUSED = 400
FAULT = 500

#: Size limits per argument. A question with 1000 long options is the largest record we accept.
MAX_SPEC_BYTES = 1 << 20
MAX_ROSTER_BATCH_BYTES = 256 << 10
MAX_CAST_BYTES = 16 << 10
#: A secret ballot carries a ciphertext and a proof per option (a 3-of-30 ballot is ~15 KB).
MAX_SECRET_CAST_BYTES = 768 << 10
MAX_POSTING_BYTES = 1 << 20
MAX_BALLOT_RECORD_BYTES = 2 * MAX_SECRET_CAST_BYTES
MAX_SMALL_ARG_BYTES = 1 << 10

#: How many ballots one Aggregate transaction reads at most (its default and its ceiling).
DEFAULT_AGGREGATE_BATCH = 1000
MAX_AGGREGATE_BATCH = 5000

DECIMAL = Text(1, 10, pattern=r"0|[1-9][0-9]*")


class Response(NamedTuple):
    """peer.Response: what the contract answers for one invocation."""

    status: int
    message: str
    payload: bytes

    @property
    def ok(self) -> bool:
        return self.status < REFUSED


Handler = Callable[["Call"], Any]


@dataclass(frozen=True)
class Function:
    name: FunctionName
    handler: Handler
    #: Names of the arguments after the function name, for error messages and docs.
    params: tuple[str, ...]
    optional: int = 0
    #: Whether the function writes state (submit) or only reads (evaluate).
    writes: bool = True
    #: The first contract version that has the function.
    since: str = V1
    #: A variadic function takes 1 to ``repeat`` arguments, each named ``params[0]``.
    repeat: int = 0


@dataclass
class Call:
    """One invocation: the stub, the function and its raw arguments."""

    stub: ChaincodeStub
    function: Function
    args: list[bytes]
    #: The contract version whose rules this invocation runs (one of VERSIONS).
    version: str = VERSION

    @property
    def now(self) -> int:
        return self.stub.get_tx_timestamp().seconds

    @property
    def tx_id(self) -> str:
        return self.stub.get_tx_id()

    def has(self, index: int) -> bool:
        return index < len(self.args)

    def text(self, index: int, shape: Shape = IDENTIFIER) -> Any:
        name = self.function.params[index]
        raw = self.args[index]
        if len(raw) > MAX_SMALL_ARG_BYTES:
            raise TooLarge(
                f"{name}: expected at most {MAX_SMALL_ARG_BYTES} bytes, got {len(raw)}", field=name
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed(f"{name}: not UTF-8", field=name) from exc
        try:
            encoding.encode(text)  # NFC and no lone surrogates: one spelling per argument
        except NonCanonical as exc:
            raise NonCanonical(f"{name}: {exc.message.removeprefix('$: ')}", field=name) from exc
        return shape.check(text, name)

    def number(self, index: int) -> int:
        return int(self.text(index, DECIMAL))

    def json(self, index: int, max_size: int) -> Any:
        return encoding.decode(
            self.args[index], max_size=max_size, what=self.function.params[index]
        )

    # -- state helpers: canonical JSON in, typed records out ---------------------------------------

    def read(self, key: str) -> Any | None:
        raw = self.stub.get_state(key)
        return encoding.decode(raw, max_size=1 << 24, what="state") if raw else None

    def write(self, key: str, record: Record) -> None:
        """Every state value is a declared record (docs/records.md), written canonically."""
        self.stub.put_state(key, encoding.encode(record.to_json()))

    def event(self, event: Event) -> None:
        self.stub.set_event(event.name, encoding.encode(event.to_json()))

    def question(self, qid: str) -> Question:
        raw = self.stub.get_state(keys.question_key(qid))
        if not raw:
            raise NotFound(f"qid: no question {qid!r}", field="qid")
        return _parse_question(raw)

    def roster(self, rid: str) -> Roster:
        value = self.read(keys.roster_key(rid))
        if value is None:
            raise NotFound(f"rid: no roster {rid!r}", field="rid")
        return Roster.from_json(value)

    def admin(self) -> Creator:
        return require_admin(self.stub.get_creator(), self.function.name)

    def ceremony(self, cid: str, field: str = "cid") -> secret.Ceremony:
        raw = self.stub.get_state(keys.ceremony_key(cid))
        if not raw:
            raise NotFound(f"{field}: no ceremony {cid!r}", field=field)
        return _parse_ceremony(raw)

    def election_key(self, cid: str, field: str) -> Point:
        """The election key of the complete ceremony ``cid`` (CeremonyNotComplete otherwise)."""
        key = self.complete_ceremony(cid, field).election_key
        if key is None:
            raise CeremonyNotComplete(f"{field}: ceremony {cid!r} has no election key", field=field)
        return key

    def complete_ceremony(self, cid: str, field: str) -> secret.Ceremony:
        ceremony = self.ceremony(cid, field)
        if ceremony.state != "COMPLETE":
            raise CeremonyNotComplete(
                f"{field}: ceremony {cid!r} is {ceremony.state}, not COMPLETE", field=field
            )
        return ceremony


def _open_choices(record: BallotRecord) -> tuple[int, ...]:
    """The choices of an open ballot; a stored secret ballot in an open question is refused."""
    match record.ballot:
        case Ballot(choices=choices):
            return choices
        case _:
            raise InvalidField(
                f"ballot.type: expected {BALLOT_TYPE} in an open-mode question", field="ballot.type"
            )


@functools.lru_cache(maxsize=256)
def _parse_question(raw: bytes) -> Question:
    """A question record from its stored bytes. Every ballot reads its question, and the bytes
    change only at a transition, so the parse is remembered by the bytes themselves: a pure
    function of its input, and Question is immutable. (The memo had slipped onto _election_of
    in 3813adb; restored in issue 15: the question was parsed again for every ballot.)"""
    return Question.from_json(encoding.decode(raw, max_size=1 << 24, what="state"))


@functools.lru_cache(maxsize=64)
def _parse_ceremony(raw: bytes) -> secret.Ceremony:
    """As _parse_question: every secret ballot reads its ceremony's election key."""
    return secret.Ceremony.from_json(encoding.decode(raw, max_size=1 << 24, what="state"))


# --- questions ---


def create_question(call: Call) -> Any:
    creator = call.admin()
    # The parse checks the spec whole: its shape, then the rule, the mode and the schedule.
    spec = QuestionSpec.from_json(call.json(0, MAX_SPEC_BYTES))
    match spec.secret:
        case SecretMode(election):
            call.complete_ceremony(election, "election")
        case None:
            pass
    match spec.eligibility.voters:
        case OpenEligibility(registrars):
            for i, registrar in enumerate(registrars):
                ed25519.checked_public_key(bytes.fromhex(registrar), f"eligibility.registrars[{i}]")
        case RosterEligibility(rid):
            # Must exist; sealed is checked at open.
            if not call.stub.get_state(keys.roster_key(rid)):
                raise NotFound(f"eligibility.roster: no roster {rid!r}", field="eligibility.roster")
    key = keys.question_key(spec.qid)
    if call.stub.get_state(key):
        raise AlreadyExists(f"qid: question {spec.qid!r} already exists", field="qid")
    question = Question(
        spec=spec,
        owner=creator.msp_id,
        state="DRAFT",
        eligible=None,
        transitions=(Transition("DRAFT", call.tx_id, call.now),),
    )
    call.write(key, question)
    call.event(QuestionCreated(spec.qid, creator.msp_id))
    return question.to_json()


def _transition(
    call: Call,
    question: Question,
    to: QuestionState,
    *,
    reason: str = "",
    eligible: int | None = None,
) -> Any:
    updated = dataclasses.replace(
        question,
        state=to,
        eligible=eligible if eligible is not None else question.eligible,
        transitions=(*question.transitions, Transition(to, call.tx_id, call.now, reason)),
    )
    call.write(keys.question_key(question.qid), updated)
    call.event(QuestionStateChanged(question.qid, to))
    return updated.to_json()


def _require_state(question: Question, action: str, *allowed: QuestionState) -> None:
    if question.state not in allowed:
        raise InvalidTransition(
            f"{action}: expected question {question.qid!r} in state {' or '.join(allowed)}, "
            f"got {question.state}",
            field="state",
        )


def open_question(call: Call) -> Any:
    creator = call.admin()
    question = call.question(call.text(0))
    require_owner(creator, question.owner, FunctionName.OPEN_QUESTION)
    _require_state(question, FunctionName.OPEN_QUESTION, "DRAFT")
    if call.now >= question.spec.schedule.closes_at:
        raise InvalidTransition(
            f"OpenQuestion: schedule.closes_at ({question.spec.schedule.closes_at}) has passed "
            f"(transaction time {call.now})",
            field="schedule.closes_at",
        )
    eligible = None
    if isinstance(question.spec.eligibility.voters, RosterEligibility):
        roster = call.roster(question.spec.eligibility.voters.roster)
        if not roster.sealed:
            raise RosterNotSealed(
                f"eligibility.roster: roster {roster.rid!r} must be sealed before the question opens",
                field="eligibility.roster",
            )
        eligible = roster.count
    return _transition(call, question, "OPEN", eligible=eligible)


def close_question(call: Call) -> Any:
    creator = call.admin()
    question = call.question(call.text(0))
    reason = call.text(1, REASON) if call.has(1) else ""
    require_owner(creator, question.owner, FunctionName.CLOSE_QUESTION)
    _require_state(question, FunctionName.CLOSE_QUESTION, "OPEN")
    if call.now < question.spec.schedule.closes_at and not reason:
        raise InvalidTransition(
            f"CloseQuestion: schedule.closes_at ({question.spec.schedule.closes_at}) not reached "
            f"(transaction time {call.now}); give a reason to close early",
            field="reason",
        )
    return _transition(call, question, "CLOSED", reason=reason)


def cancel_question(call: Call) -> Any:
    creator = call.admin()
    question = call.question(call.text(0))
    reason = call.text(1, REASON)
    require_owner(creator, question.owner, FunctionName.CANCEL_QUESTION)
    _require_state(question, FunctionName.CANCEL_QUESTION, "DRAFT", "OPEN")
    if not reason:
        raise InvalidField("reason: a cancellation needs a reason", field="reason")
    return _transition(call, question, "CANCELLED", reason=reason)


def get_question(call: Call) -> Any:
    return call.question(call.text(0)).to_json()


def list_questions(call: Call) -> Any:
    return [
        Question.from_json(encoding.decode(raw, max_size=1 << 24, what="state")).to_json()
        for _, raw in get_state_by_partial_composite_key(call.stub, keys.QUESTION, [])
    ]


# --- rosters ---


def create_roster(call: Call) -> Any:
    creator = call.admin()
    spec = RosterSpec.from_json(call.json(0, MAX_SMALL_ARG_BYTES))
    key = keys.roster_key(spec.rid)
    if call.stub.get_state(key):
        raise AlreadyExists(f"rid: roster {spec.rid!r} already exists", field="rid")
    roster = Roster(spec.rid, spec.title, creator.msp_id, 0, EMPTY_ROSTER_DIGEST, False)
    call.write(key, roster)
    call.event(RosterChanged(roster.rid, 0, False))
    return roster.to_json()


def _owned_open_roster(call: Call, rid: str, action: str) -> Roster:
    creator = call.admin()
    roster = call.roster(rid)
    require_owner(creator, roster.owner, action)
    if roster.sealed:
        raise RosterSealed(f"rid: roster {rid!r} is sealed and never changes", field="rid")
    return roster


def add_roster_entries(call: Call) -> Any:
    batch = RosterBatch.from_json(call.json(0, MAX_ROSTER_BATCH_BYTES))
    roster = _owned_open_roster(call, batch.rid, FunctionName.ADD_ROSTER_ENTRIES)
    entries = batch.entries
    for i, entry in enumerate(entries):
        if call.stub.get_state(keys.roster_entry_key(roster.rid, entry)):
            raise AlreadyExists(
                f"entries[{i}]: voter hash {entry} is already on roster {roster.rid!r}",
                field=f"entries[{i}]",
            )
    for entry in entries:
        call.write(keys.roster_entry_key(roster.rid, entry), RosterEntry(call.tx_id))
    updated = dataclasses.replace(
        roster,
        count=roster.count + len(entries),
        digest=roster_digest_after(roster.digest, entries),
    )
    call.write(keys.roster_key(roster.rid), updated)
    call.event(RosterChanged(roster.rid, updated.count, False))
    return updated.to_json()


def seal_roster(call: Call) -> Any:
    roster = _owned_open_roster(call, call.text(0), FunctionName.SEAL_ROSTER)
    if roster.count == 0:
        raise InvalidField(f"rid: roster {roster.rid!r} has no entries to seal", field="rid")
    updated = dataclasses.replace(roster, sealed=True)
    call.write(keys.roster_key(roster.rid), updated)
    call.event(RosterChanged(roster.rid, roster.count, True))
    return updated.to_json()


def get_roster(call: Call) -> Any:
    return call.roster(call.text(0)).to_json()


def is_on_roster(call: Call) -> Any:
    rid, entry = call.text(0), call.text(1, HASH_HEX_SHAPE)
    call.roster(rid)
    listed = bool(call.stub.get_state(keys.roster_entry_key(rid, entry)))
    return RosterMembership(rid, entry, listed).to_json()


# --- ballots ---


#: Cast arguments up to this size are parsed through :func:`_parse_cast_request`'s memo. An open
#: ballot's request is well under 1 kB; the bound keeps the memo under 16 MB.
CAST_MEMO_MAX_BYTES = 4 << 10
#: How many ballots one CastBatch transaction carries at most (its argument count).
MAX_BATCH_BALLOTS = 256
#: Each endorsing organisation parses every request of a batch, one after the other, and
#: several batches are endorsed at once: the memo holds as many as the Ed25519 memos.
CAST_MEMO_ENTRIES = 16 * MAX_BATCH_BALLOTS


class ParsedCast(NamedTuple):
    """A Cast request and the canonical bytes of its ballot (what the voter signed)."""

    request: CastRequest
    ballot_bytes: bytes


def _cast_request(raw: bytes) -> ParsedCast:
    """One Cast request (errors name it ``request``, Cast's parameter), within MAX_CAST_BYTES (an
    open ballot) or MAX_SECRET_CAST_BYTES (a secret one, of either version)."""
    if len(raw) <= CAST_MEMO_MAX_BYTES and type(raw) is bytes:
        return _parse_cast_request(raw)
    limit = MAX_SECRET_CAST_BYTES if len(raw) > MAX_CAST_BYTES else MAX_CAST_BYTES
    value = encoding.decode(raw, max_size=limit, what="request")
    if len(raw) > MAX_CAST_BYTES:
        ballot = value.get("ballot") if isinstance(value, dict) else None
        if not (isinstance(ballot, dict) and ballot.get("type") in SECRET_BALLOT_TYPES):
            raise TooLarge(
                f"request: expected at most {MAX_CAST_BYTES} bytes, got {len(raw)}",
                field="request",
            )
    request = CastRequest.from_json(value)
    return ParsedCast(request, request.ballot.canonical_bytes())


@functools.lru_cache(maxsize=CAST_MEMO_ENTRIES)
def _parse_cast_request(raw: bytes) -> ParsedCast:
    """As :func:`_cast_request`, for requests within MAX_CAST_BYTES. Each endorsing organisation
    parses the same request, one after the other; like _parse_question, the parse (and the
    ballot's canonical bytes) is remembered by the exact bytes, since it is a pure function of
    them and CastRequest is immutable. A refusal raises and is not remembered."""
    request = CastRequest.from_json(encoding.decode(raw, max_size=MAX_CAST_BYTES, what="request"))
    return ParsedCast(request, request.ballot.canonical_bytes())


def _check_ballot_mode(question: Question, ballot: Ballot | SecretBallot, version: str) -> None:
    """An open ballot in an open question, a secret ballot in a secret one; the refusal names
    the type contract ``version`` takes."""
    match question.spec.secret, ballot:
        case (None, Ballot()) | (SecretMode(), SecretBallot()):
            return
        case _:
            types = (
                (SECRET_BALLOT_TYPE, BALLOT_TYPE)
                if version == V1
                else (BOUND_SECRET_BALLOT_TYPE, BOUND_BALLOT_TYPE)
            )
            expected = types[0] if question.spec.secret else types[1]
            raise InvalidField(
                f"ballot.type: question {question.qid!r} is in {question.spec.mode} mode; "
                f"expected a ballot of type {expected!r}",
                field="ballot.type",
            )


@functools.lru_cache(maxsize=256)
def _question_hash(spec: QuestionSpec, election_key: Point | None) -> str:
    """records.question_hash, remembered (a pure function of frozen values)."""
    return question_hash(spec, election_key)


def _check_binding(call: Call, question: Question, ballot: Ballot | SecretBallot) -> None:
    """mvote-1 takes only ballots that bind no question; mvote-2 only ballots that bind this
    question's record (QuestionMismatch naming ballot.question otherwise). Precondition: the
    ballot's mode matches the question's (``_check_ballot_mode``)."""
    bound = bound_question(ballot)
    if call.version == V1:
        if bound is not None:
            raise InvalidField(
                f"ballot.type: contract {V1} takes {BALLOT_TYPE!r} or {SECRET_BALLOT_TYPE!r} ballots",
                field="ballot.type",
            )
        return
    election = question.spec.election
    if bound is None:
        expected = BOUND_BALLOT_TYPE if election is None else BOUND_SECRET_BALLOT_TYPE
        raise InvalidField(
            f"ballot.type: contract {call.version} takes {expected!r} ballots (they bind the "
            f"question record), got {ballot.to_json()['type']!r}",
            field="ballot.type",
        )
    election_key = None if election is None else call.election_key(election, "election")
    expected_hash = _question_hash(question.spec, election_key)
    if bound != expected_hash:
        raise QuestionMismatch(
            f"ballot.question: the ballot binds question record {bound}; question "
            f"{question.qid!r} on the ledger (title, option labels, rule, eligibility, election "
            f"key) hashes to {expected_hash}",
            field="ballot.question",
        )


def _ballot_context(
    call: Call, question: Question, ballot: SecretBallot, voter: bytes
) -> BallotContext:
    """The statement a secret ballot is made for: the question's election key, channel, id,
    rule and the voter's key (strong Fiat-Shamir), and for mvote-2 the bound question hash."""
    spec = question.spec
    match spec.secret:
        case SecretMode(election):
            election_key = call.election_key(election, "election")
        case None:
            raise InvalidField(
                f"ballot.type: question {spec.qid!r} is in open mode", field="ballot.type"
            )
    low, high = rules.selection_bounds(spec.rule)
    bound = bound_question(ballot)
    return BallotContext(
        election_key,
        ballot.channel,
        spec.qid,
        voter,
        len(spec.options),
        low,
        high,
        None if bound is None else bytes.fromhex(bound),
    )


def _open_question(call: Call, qid: str) -> Question:
    """The question of a ballot: OPEN, and the transaction time inside its schedule."""
    question = call.question(qid)
    spec = question.spec
    if question.state != "OPEN":
        raise QuestionNotOpen(
            f"ballot.qid: question {spec.qid!r} is {question.state}, not OPEN", field="ballot.qid"
        )
    schedule = spec.schedule
    if not schedule.opens_at <= call.now < schedule.closes_at:
        raise QuestionNotOpen(
            f"ballot.qid: transaction time {call.now} is outside the schedule "
            f"[{schedule.opens_at}, {schedule.closes_at})",
            field="ballot.qid",
        )
    return question


def _check_eligible(call: Call, question: Question, request: CastRequest, voter_key: bytes) -> None:
    spec, ballot = question.spec, request.ballot
    eligibility = spec.eligibility
    check_onsite_code(eligibility, spec.qid, request.code)
    check_credential(
        eligibility,
        request.credential,
        channel=ballot.channel,
        qid=spec.qid,
        voter=ballot.voter,
        now=call.now,
    )
    if isinstance(eligibility.voters, RosterEligibility):
        rid = eligibility.voters.roster
        entry = keys.voter_hash(voter_key).hex()
        if not call.stub.get_state(keys.roster_entry_key(rid, entry)):
            raise NotEligible(
                f"ballot.voter: voter {ballot.voter} is not on roster {rid!r}",
                field="ballot.voter",
            )


@dataclass(frozen=True)
class CheckedCast:
    """A ballot that passed the checks Cast, CastBatch and SpoilBallot share, and where it is to
    be recorded."""

    request: CastRequest
    question: Question
    voter_key: bytes
    ballot_bytes: bytes
    shard: int
    ballot_key: str

    @property
    def tracker(self) -> str:
        return tracker_of(self.ballot_bytes)


def _admit(call: Call, parsed: ParsedCast) -> CheckedCast:
    """The checks Cast, CastBatch and SpoilBallot share, cheapest first: channel, voter
    signature, the question open, the ballot's mode and binding, the choices (open mode),
    eligibility, and no ballot of this voter yet (the voter's own ballot key is the only ballot
    state read). Everything but a secret ballot's proofs; no write."""
    request = parsed.request
    ballot = request.ballot
    channel = call.stub.get_channel_id()
    if ballot.channel != channel:
        raise WrongChannel(
            f"ballot.channel: expected {channel!r}, got {ballot.channel!r}", field="ballot.channel"
        )
    voter_key = ed25519.checked_public_key(bytes.fromhex(ballot.voter), "ballot.voter")
    ed25519.verify(voter_key, parsed.ballot_bytes, bytes.fromhex(request.sig), "sig")
    question = _open_question(call, ballot.qid)
    spec = question.spec
    _check_ballot_mode(question, ballot, call.version)
    _check_binding(call, question, ballot)
    if isinstance(ballot, Ballot):
        rules.check_choices(spec, ballot.choices)
    _check_eligible(call, question, request, voter_key)
    shard = keys.shard_of(voter_key, spec.shards)
    ballot_key = keys.ballot_key(spec.qid, shard, ballot.voter)
    if call.stub.get_state(ballot_key):
        raise AlreadyVoted(
            f"ballot.voter: voter {ballot.voter} already voted on question {spec.qid!r}",
            field="ballot.voter",
        )
    return CheckedCast(request, question, voter_key, parsed.ballot_bytes, shard, ballot_key)


def check_cast(call: Call, parsed: ParsedCast) -> CheckedCast:
    """Every check of Cast on one request, in Cast's order, and no write: the shared checks
    (:func:`_admit`), a spoiled ballot refused, then a secret ballot's proofs (the costly checks
    last: a refusal for eligibility or a second ballot stays cheap). The one implementation for
    Cast and CastBatch."""
    checked = _admit(call, parsed)
    ballot = checked.request.ballot
    if isinstance(ballot, BoundSecretBallot) and call.stub.get_state(
        keys.spoiled_key(checked.question.qid, checked.tracker)
    ):
        raise BallotSpoiled(
            f"ballot: ballot {checked.tracker} was audited (spoiled) and its opening published; "
            "it can never be cast: prepare a fresh ballot",
            field="ballot",
        )
    if isinstance(ballot, SecretBallot):
        context = _ballot_context(call, checked.question, ballot, checked.voter_key)
        verify_ballot(context, ballot.encrypted, "ballot.encrypted")
    return checked


def record_cast(call: Call, checked: CheckedCast) -> BallotCast:
    """Write a checked ballot's record and the voter's participation; returns its outcome (the
    BallotCast event's value). Precondition: ``checked`` came from :func:`check_cast` in this
    transaction, and no other ballot of the transaction has its ballot key."""
    request, spec = checked.request, checked.question.spec
    tracker = checked.tracker
    record = BallotRecord(
        ballot=request.ballot,
        sig=request.sig,
        credential=request.credential,
        onsite=spec.eligibility.onsite,
        shard=checked.shard,
        tracker=tracker,
        tx=call.tx_id,
        at=call.now,
    )
    call.write(checked.ballot_key, record)
    call.write(
        keys.participation_key(request.ballot.voter, spec.qid),
        Participation(spec.qid, tracker, call.tx_id, call.now),
    )
    return BallotCast(spec.qid, tracker, checked.shard)


def cast(call: Call) -> Any:
    outcome = record_cast(call, check_cast(call, _cast_request(call.args[0])))
    call.event(outcome)
    return CastResponse(outcome.qid, outcome.tracker, outcome.shard, call.tx_id).to_json()


def _batch_ballot(call: Call, index: int, seen: dict[str, int]) -> CheckedCast:
    """Ballot ``index`` of a batch, checked exactly as Cast checks it; a second ballot of the
    batch with the same ballot key (voter and question) is AlreadyVoted naming the first."""
    checked = check_cast(call, _cast_request(call.args[index]))
    first = seen.get(checked.ballot_key)
    if first is not None:
        raise AlreadyVoted(
            f"ballot.voter: voter {checked.request.ballot.voter} already has a ballot on "
            f"question {checked.question.qid!r} in this batch (index {first})",
            field="ballot.voter",
        )
    seen[checked.ballot_key] = index
    return checked


def cast_batch(call: Call) -> Any:
    """Up to MAX_BATCH_BALLOTS Cast requests, each an argument exactly as Cast takes it, each
    checked alone by Cast's checks and recorded as Cast records it. A refused ballot is listed
    with its refusal and writes nothing; the others are recorded. The response and the event
    ``BallotsCast`` list every ballot's outcome in argument order (BatchAccepted or
    BatchRefused)."""
    checked: list[CheckedCast | Refusal] = []
    seen: dict[str, int] = {}
    for index in range(len(call.args)):
        try:
            checked.append(_batch_ballot(call, index, seen))
        except MvoteError as exc:
            checked.append(Refusal.of(exc))
    # Every check ran before the first write (determinism rule 7, per ballot).
    outcomes: list[BatchOutcome] = []
    for index, one in enumerate(checked):
        if isinstance(one, Refusal):
            outcomes.append(BatchRefused(index, one))
        else:
            cast_one = record_cast(call, one)
            outcomes.append(BatchAccepted(index, cast_one.qid, cast_one.tracker, cast_one.shard))
    accepted = sum(isinstance(o, BatchAccepted) for o in outcomes)
    call.event(BallotsCast(accepted, tuple(outcomes)))
    return CastBatchResponse(accepted, tuple(outcomes), call.tx_id).to_json()


def spoil_ballot(call: Call) -> Any:
    """Cast-or-audit: record a prepared secret ballot as spoiled, with its opening. The same
    checks as Cast (but a secret mvote-2 ballot only), then the opening must open every
    ciphertext (AuditMismatch naming the option otherwise). The choices it shows are recorded
    beside it; Cast refuses the ballot from then on (BALLOT_SPOILED)."""
    spoil = SpoilRequest.from_json(call.json(0, MAX_SECRET_CAST_BYTES))
    ballot = spoil.request.ballot
    if not isinstance(ballot, BoundSecretBallot):
        raise InvalidField(
            f"request.ballot.type: only secret ballots are audited; expected "
            f"{BOUND_SECRET_BALLOT_TYPE!r}",
            field="request.ballot.type",
        )
    admitted = _admit(call, ParsedCast(spoil.request, ballot.canonical_bytes()))
    qid, tracker = admitted.question.qid, admitted.tracker
    key = keys.spoiled_key(qid, tracker)
    if call.stub.get_state(key):
        raise BallotSpoiled(f"ballot: ballot {tracker} is already spoiled", field="ballot")
    context = _ballot_context(call, admitted.question, ballot, admitted.voter_key)
    vector = open_ballot(
        context, ballot.encrypted, bytes.fromhex(spoil.nonce_key), "request.ballot.encrypted"
    )
    choices = tuple(i for i, b in enumerate(vector) if b)
    record = SpoiledBallot(
        ballot=ballot,
        sig=spoil.request.sig,
        nonce_key=spoil.nonce_key,
        choices=choices,
        tracker=tracker,
        tx=call.tx_id,
        at=call.now,
    )
    call.write(key, record)
    call.event(BallotSpoiledEvent(qid, tracker))
    return SpoilResponse(qid, tracker, choices, call.tx_id).to_json()


def get_ballot(call: Call) -> Any:
    question = call.question(call.text(0))
    voter = call.text(1, KEY_HEX)
    shard = keys.shard_of(bytes.fromhex(voter), question.spec.shards)
    value = call.read(keys.ballot_key(question.qid, shard, voter))
    if value is None:
        raise NotFound(f"voter: no ballot from {voter} on {question.qid!r}", field="voter")
    return BallotRecord.from_json(value).to_json()


def get_history(call: Call) -> Any:
    voter = call.text(0, KEY_HEX)
    return [
        Participation.from_json(encoding.decode(raw, max_size=1 << 12, what="state")).to_json()
        for _, raw in get_state_by_partial_composite_key(call.stub, keys.PARTICIPATION, [voter])
    ]


# --- aggregation and tally ---


def _shard_ballots(call: Call, qid: str, shard: int, after_voter: str) -> Iterator[BallotRecord]:
    start, end = partial_key_range(keys.BALLOT, [qid, keys.shard_label(shard)])
    if after_voter:
        # The smallest key after the cursor's own ballot key.
        start = keys.ballot_key(qid, shard, after_voter) + "\x00"
    for _, raw in call.stub.get_state_by_range(start, end):
        yield BallotRecord.from_json(
            encoding.decode(raw, max_size=MAX_BALLOT_RECORD_BYTES, what="state")
        )


def aggregate(call: Call) -> Any:
    call.admin()
    question = call.question(call.text(0))
    shard = call.number(1)
    limit = call.number(2) if call.has(2) else DEFAULT_AGGREGATE_BATCH
    _require_state(question, FunctionName.AGGREGATE, "CLOSED")
    if shard >= question.spec.shards:
        raise InvalidField(
            f"shard: expected 0..{question.spec.shards - 1}, got {shard}", field="shard"
        )
    if not 1 <= limit <= MAX_AGGREGATE_BATCH:
        raise InvalidField(f"limit: expected 1..{MAX_AGGREGATE_BATCH}, got {limit}", field="limit")
    key = keys.aggregate_key(question.qid, shard)
    stored = call.read(key)
    if question.spec.secret is not None:
        return _aggregate_secret(call, question, shard, limit, stored)
    current = (
        Aggregate.from_json(stored)
        if stored is not None
        else Aggregate(question.qid, shard, "", 0, (0,) * len(question.spec.options), False)
    )
    if current.done:
        raise AlreadyExists(
            f"shard: shard {shard} of {question.qid!r} is already aggregated", field="shard"
        )
    counts = list(current.counts)
    ballots, cursor = current.ballots, current.cursor
    done = True
    for read, record in enumerate(_shard_ballots(call, question.qid, shard, current.cursor), 1):
        rules.add_ballot(counts, _open_choices(record))
        ballots += 1
        cursor = record.ballot.voter
        if read == limit:
            # Stop before the next key: whether the shard is exhausted is the next call's news.
            done = False
            break
    updated = Aggregate(question.qid, shard, cursor, ballots, tuple(counts), done)
    call.write(key, updated)
    call.event(ShardAggregated(question.qid, shard, ballots, done))
    return updated.to_json()


def _aggregate_secret(
    call: Call, question: Question, shard: int, limit: int, stored: Any | None
) -> Any:
    """Add the next ``limit`` encrypted ballots of the shard into the per-option sums: the
    same cursor and bound as open mode, with ciphertext addition instead of counting."""
    options = len(question.spec.options)
    current = (
        SecretAggregate.from_json(stored)
        if stored is not None
        else SecretAggregate(question.qid, shard, "", 0, (ZERO,) * options, False)
    )
    if current.done:
        raise AlreadyExists(
            f"shard: shard {shard} of {question.qid!r} is already aggregated", field="shard"
        )
    sums = list(current.sums)
    ballots, cursor = current.ballots, current.cursor
    done = True
    start, end = partial_key_range(keys.BALLOT, [question.qid, keys.shard_label(shard)])
    if current.cursor:
        start = keys.ballot_key(question.qid, shard, current.cursor) + "\x00"
    for read, (_, raw) in enumerate(call.stub.get_state_by_range(start, end), 1):
        value = encoding.decode(raw, max_size=MAX_BALLOT_RECORD_BYTES, what="state")
        cursor, ciphertexts = secret.stored_ciphertexts(value, options)
        sums = [a + b for a, b in zip(sums, ciphertexts, strict=True)]
        ballots += 1
        if read == limit:
            done = False
            break
    updated = SecretAggregate(question.qid, shard, cursor, ballots, tuple(sums), done)
    key = keys.aggregate_key(question.qid, shard)
    call.write(key, updated)
    call.event(ShardAggregated(question.qid, shard, ballots, done))
    return updated.to_json()


def _finished_aggregates(call: Call, question: Question) -> Iterator[Any]:
    """Every shard's aggregate record; AggregationIncomplete naming the first unfinished one."""
    for shard in range(question.spec.shards):
        value = call.read(keys.aggregate_key(question.qid, shard))
        if value is None or not value["done"]:
            raise AggregationIncomplete(
                f"shard: shard {shard} of {question.qid!r} is not aggregated to its end; "
                f"run Aggregate({question.qid}, {shard}) until done",
                field="shard",
            )
        yield value


def _secret_totals(call: Call, question: Question) -> tuple[int, list[Ciphertext]]:
    """The ballot count and per-option ciphertext sums over every (done) shard."""
    ballots, totals = 0, [ZERO] * len(question.spec.options)
    for value in _finished_aggregates(call, question):
        agg = SecretAggregate.from_json(value)
        ballots += agg.ballots
        totals = [a + b for a, b in zip(totals, agg.sums, strict=True)]
    return ballots, totals


def _sum_shards(call: Call, question: Question) -> tuple[int, list[int]]:
    ballots, counts = 0, [0] * len(question.spec.options)
    for value in _finished_aggregates(call, question):
        agg = Aggregate.from_json(value)
        ballots += agg.ballots
        counts = [a + b for a, b in zip(counts, agg.counts, strict=True)]
    return ballots, counts


def tally(call: Call) -> Any:
    call.admin()
    question = call.question(call.text(0))
    _require_state(question, FunctionName.TALLY, "CLOSED")
    if question.spec.secret is not None:
        return _tally_secret(call, question)
    ballots, counts = _sum_shards(call, question)
    return _record_tally(call, question, ballots, counts, None)


def _record_tally(
    call: Call,
    question: Question,
    ballots: int,
    counts: list[int],
    decryption: Decryption | None,
) -> Any:
    """Write the question's Tally (its bounds checked first) and mark the question TALLIED."""
    record = TallyRecord(
        qid=question.qid,
        ballots=ballots,
        counts=tuple(counts),
        eligible=question.eligible,
        outcome=rules.outcome(question.spec.rule, ballots, counts, question.eligible),
        tx=call.tx_id,
        at=call.now,
        decryption=decryption,
    )
    result = TALLY_SHAPE.check(record.to_json(), "tally")
    call.write(keys.tally_key(question.qid), record)
    _transition(call, question, "TALLIED")
    return result


def _secret_question(call: Call, qid: str, field: str) -> tuple[Question, secret.Ceremony]:
    question = call.question(qid)
    match question.spec.secret:
        case SecretMode(election):
            return question, call.complete_ceremony(election, "election")
        case None:
            raise InvalidField(f"{field}: question {qid!r} is not in secret mode", field=field)


def _tally_secret(call: Call, question: Question) -> Any:
    """Combine the trustees' verified partial decryptions of every option's total (Lagrange
    coefficients over the present trustees, at least k), recover the counts by a discrete log
    bounded by the ballot count, and record counts, outcome and every proof."""
    _, ceremony = _secret_question(call, question.qid, "qid")
    ballots, totals = _secret_totals(call, question)
    start, end = partial_key_range(keys.DECRYPTION, [question.qid])
    postings: dict[int, list[Any]] = {}
    for _, raw in call.stub.get_state_by_range(start, end):
        body = secret.stored_body(
            encoding.decode(raw, max_size=MAX_POSTING_BYTES, what="state"),
            "decryption",
            secret.DecryptionBody,
        )
        postings[body.trustee] = [
            None
            if p is None
            else PartialDecryption.from_json(p, f"decryption.partials[{i}]", ceremony.params)
            for i, p in enumerate(body.partials)
        ]
    counts, lambdas = secret.combine_totals(ceremony, totals, postings, ballots)
    decryption = secret.decryption_record(ceremony, totals, postings, lambdas)
    return _record_tally(call, question, ballots, counts, decryption)


def post_decryption(call: Call) -> Any:
    """A trustee's partial decryptions of every option's total of a closed, fully aggregated
    secret question, each with its Chaum-Pedersen proof, verified before the write."""
    call.admin()
    posting = secret.parse_posting(call.json(0, MAX_POSTING_BYTES), secret.DecryptionBody)
    body = posting.body
    question, ceremony = _secret_question(call, body.qid, "body.qid")
    if body.ceremony != ceremony.cid:
        raise InvalidField(
            f"body.ceremony: question {question.qid!r} uses ceremony {ceremony.cid!r}, got "
            f"{body.ceremony!r}",
            field="body.ceremony",
        )
    trustee = secret.authenticate(posting, ceremony, call.stub.get_channel_id())
    _require_state(question, FunctionName.POST_DECRYPTION, "CLOSED")
    key = keys.decryption_key(question.qid, trustee.index)
    if call.stub.get_state(key):
        raise AlreadyExists(
            f"body.trustee: trustee {trustee.index} already posted its decryption of "
            f"{question.qid!r}",
            field="body.trustee",
        )
    _, totals = _secret_totals(call, question)
    secret.check_partials(
        ceremony, question.qid, totals, trustee.index, body.partials, "body.partials"
    )
    call.write(key, posting.stored(call.tx_id, call.now))
    call.event(DecryptionPosted(question.qid, trustee.index))
    return DecryptionAccepted(question.qid, trustee.index, call.tx_id).to_json()


# --- key ceremony ---


def create_ceremony(call: Call) -> Any:
    creator = call.admin()
    ceremony = secret.new_ceremony(
        call.json(0, MAX_POSTING_BYTES),
        channel=call.stub.get_channel_id(),
        owner=creator.msp_id,
        tx=call.tx_id,
        at=call.now,
    )
    key = keys.ceremony_key(ceremony.cid)
    if call.stub.get_state(key):
        raise AlreadyExists(f"cid: ceremony {ceremony.cid!r} already exists", field="cid")
    call.write(key, ceremony)
    call.event(CeremonyChanged(ceremony.cid, ceremony.state))
    return ceremony.to_json()


def _dealing_ceremony(call: Call, cid: str, field: str) -> secret.Ceremony:
    ceremony = call.ceremony(cid, field)
    if ceremony.state != "DEALING":
        raise InvalidTransition(
            f"{field}: ceremony {cid!r} is {ceremony.state}, not DEALING", field="state"
        )
    return ceremony


def post_dealing(call: Call) -> Any:
    """A trustee's Feldman commitments (with proofs of knowledge) and its shares encrypted to
    every other trustee."""
    call.admin()
    posting = secret.parse_posting(call.json(0, MAX_POSTING_BYTES), secret.DealingBody)
    ceremony = _dealing_ceremony(call, posting.body.ceremony, "body.ceremony")
    trustee = secret.authenticate(posting, ceremony, call.stub.get_channel_id())
    key = keys.dealing_key(ceremony.cid, trustee.index)
    if call.stub.get_state(key):
        raise AlreadyExists(
            f"body.trustee: trustee {trustee.index} already dealt in {ceremony.cid!r}",
            field="body.trustee",
        )
    secret.check_dealing(ceremony, posting.body)
    call.write(key, posting.stored(call.tx_id, call.now))
    call.event(DealingPosted(ceremony.cid, trustee.index))
    return DealingAccepted(ceremony.cid, trustee.index, call.tx_id).to_json()


def _dealings(
    call: Call, ceremony: secret.Ceremony, field: str
) -> dict[int, tuple[Dealing, dict[int, Any]]]:
    out = {}
    for index in range(1, ceremony.params.n + 1):
        value = call.read(keys.dealing_key(ceremony.cid, index))
        if value is None:
            raise InvalidTransition(
                f"{field}: trustee {index} has not dealt in ceremony {ceremony.cid!r} yet",
                field=field,
            )
        out[index] = secret.stored_dealing(ceremony, value)
    return out


def post_check(call: Call) -> Any:
    """A trustee's verdict on the shares it received, once every trustee has dealt: an
    acceptance (no complaints), or complaints naming bad dealers, judged here in public; a
    founded complaint fails the ceremony and names the dealer."""
    call.admin()
    posting = secret.parse_posting(call.json(0, MAX_POSTING_BYTES), secret.CheckBody)
    ceremony = _dealing_ceremony(call, posting.body.ceremony, "body.ceremony")
    trustee = secret.authenticate(posting, ceremony, call.stub.get_channel_id())
    key = keys.ceremony_check_key(ceremony.cid, trustee.index)
    if call.stub.get_state(key):
        raise AlreadyExists(
            f"body.trustee: trustee {trustee.index} already posted its check in {ceremony.cid!r}",
            field="body.trustee",
        )
    dealings = _dealings(call, ceremony, "body.ceremony")
    faulty = secret.judge_complaints(ceremony, trustee, posting.body.complaints, dealings)
    call.write(key, posting.stored(call.tx_id, call.now))
    if faulty:
        failed = dataclasses.replace(
            ceremony,
            state="FAILED",
            faulty=tuple(sorted(set(ceremony.faulty) | set(faulty))),
            closed=secret.Stamp(call.tx_id, call.now),
        )
        call.write(keys.ceremony_key(ceremony.cid), failed)
        call.event(CeremonyChanged(ceremony.cid, "FAILED"))
    else:
        call.event(CeremonyCheckPosted(ceremony.cid, trustee.index))
    return CheckAccepted(ceremony.cid, trustee.index, tuple(faulty), call.tx_id).to_json()


def complete_ceremony(call: Call) -> Any:
    """Fix the election key (and every trustee's public share) once all n trustees have dealt
    and accepted."""
    creator = call.admin()
    ceremony = _dealing_ceremony(call, call.text(0), "cid")
    require_owner(creator, ceremony.owner, FunctionName.COMPLETE_CEREMONY)
    dealings = _dealings(call, ceremony, "cid")
    for index in range(1, ceremony.params.n + 1):
        if not call.stub.get_state(keys.ceremony_check_key(ceremony.cid, index)):
            raise InvalidTransition(
                f"cid: trustee {index} has not posted its check of ceremony {ceremony.cid!r}",
                field="cid",
            )
    election_key, public_shares = secret.complete(
        ceremony, [dealings[i][0] for i in range(1, ceremony.params.n + 1)]
    )
    updated = dataclasses.replace(
        ceremony,
        state="COMPLETE",
        election_key=election_key,
        public_shares=public_shares,
        closed=secret.Stamp(call.tx_id, call.now),
    )
    call.write(keys.ceremony_key(ceremony.cid), updated)
    call.event(CeremonyChanged(ceremony.cid, "COMPLETE"))
    return updated.to_json()


def _delete_postings(call: Call, cid: str, n: int, key_of: Callable[[str, int], str]) -> list[int]:
    """Delete the postings ``key_of(cid, i)`` of trustees 1..n; the trustees that had one."""
    found = []
    for index in range(1, n + 1):
        key = key_of(cid, index)
        if call.stub.get_state(key):
            call.stub.del_state(key)
            found.append(index)
    return found


def cancel_ceremony(call: Call) -> Any:
    """Ceremony liveness: the owner of a ceremony still DEALING (some trustees never dealt or
    checked) cancels it with a reason. Its record, dealings and checks are deleted, so the
    owner can create it again under the same id from the same registrations (a restart); the
    chain keeps every posting. No question can name it (a question needs a COMPLETE one)."""
    creator = call.admin()
    cid = call.text(0)
    reason = call.text(1, REASON)
    ceremony = call.ceremony(cid)
    require_owner(creator, ceremony.owner, FunctionName.CANCEL_CEREMONY)
    if ceremony.state != "DEALING":
        raise InvalidTransition(
            f"cid: ceremony {cid!r} is {ceremony.state}; only a ceremony still DEALING is "
            "cancelled",
            field="cid",
        )
    if not reason:
        raise InvalidField("reason: a cancellation needs a reason", field="reason")
    dealt = _delete_postings(call, cid, ceremony.params.n, keys.dealing_key)
    checked = _delete_postings(call, cid, ceremony.params.n, keys.ceremony_check_key)
    call.stub.del_state(keys.ceremony_key(cid))
    call.event(CeremonyChanged(cid, "CANCELLED"))
    return CeremonyCancelled(
        cid, "CANCELLED", reason, tuple(dealt), tuple(checked), call.tx_id
    ).to_json()


def get_ceremony(call: Call) -> Any:
    return call.ceremony(call.text(0)).to_json()


def get_tally(call: Call) -> Any:
    qid = call.text(0)
    value = call.read(keys.tally_key(qid))
    if value is None:
        raise NotFound(f"qid: question {qid!r} has no tally", field="qid")
    return TALLY_SHAPE.check(value, "tally")


def get_aggregate(call: Call) -> Any:
    question = call.question(call.text(0))
    shard = call.number(1)
    value = call.read(keys.aggregate_key(question.qid, shard))
    if value is None:
        raise NotFound(f"shard: shard {shard} of {question.qid!r} has no aggregate", field="shard")
    if question.spec.secret is not None:
        return SECRET_AGGREGATE_SHAPE.check(value, "aggregate")
    return AGGREGATE_SHAPE.check(value, "aggregate")


def get_results(call: Call) -> Any:
    """Live counts of an open-mode question (a scan of its ballots), or its final tally."""
    question = call.question(call.text(0))
    if question.state == "TALLIED":
        tally = TallyRecord.from_json(get_tally(call))
        return FinalResults(question.qid, question.state, tally).to_json()
    start, end = partial_key_range(keys.BALLOT, [question.qid])
    if question.spec.secret is not None:
        # No live counts in secret mode: only the decrypted totals are ever known.
        cast = sum(1 for _ in call.stub.get_state_by_range(start, end))
        return LiveResults(question.qid, question.state, cast, None).to_json()
    counts, ballots = [0] * len(question.spec.options), 0
    for _, raw in call.stub.get_state_by_range(start, end):
        record = BallotRecord.from_json(
            encoding.decode(raw, max_size=MAX_BALLOT_RECORD_BYTES, what="state")
        )
        rules.add_ballot(counts, _open_choices(record))
        ballots += 1
    return LiveResults(question.qid, question.state, ballots, tuple(counts)).to_json()


# --- dispatch ---

FUNCTIONS: dict[FunctionName, Function] = {
    f.name: f
    for f in (
        Function(FunctionName.CREATE_QUESTION, create_question, ("spec",)),
        Function(FunctionName.OPEN_QUESTION, open_question, ("qid",)),
        Function(FunctionName.CLOSE_QUESTION, close_question, ("qid", "reason"), optional=1),
        Function(FunctionName.CANCEL_QUESTION, cancel_question, ("qid", "reason")),
        Function(FunctionName.CREATE_ROSTER, create_roster, ("spec",)),
        Function(FunctionName.ADD_ROSTER_ENTRIES, add_roster_entries, ("batch",)),
        Function(FunctionName.SEAL_ROSTER, seal_roster, ("rid",)),
        Function(FunctionName.CAST, cast, ("request",)),
        Function(
            FunctionName.CAST_BATCH,
            cast_batch,
            ("request",),
            repeat=MAX_BATCH_BALLOTS,
            since="mvote-2",
        ),
        Function(FunctionName.SPOIL_BALLOT, spoil_ballot, ("request",), since="mvote-2"),
        Function(FunctionName.AGGREGATE, aggregate, ("qid", "shard", "limit"), optional=1),
        Function(FunctionName.TALLY, tally, ("qid",)),
        Function(FunctionName.CREATE_CEREMONY, create_ceremony, ("spec",)),
        Function(FunctionName.POST_DEALING, post_dealing, ("posting",)),
        Function(FunctionName.POST_CHECK, post_check, ("posting",)),
        Function(FunctionName.COMPLETE_CEREMONY, complete_ceremony, ("cid",)),
        Function(FunctionName.CANCEL_CEREMONY, cancel_ceremony, ("cid", "reason"), since="mvote-2"),
        Function(FunctionName.POST_DECRYPTION, post_decryption, ("posting",)),
        Function(FunctionName.GET_CEREMONY, get_ceremony, ("cid",), writes=False),
        Function(FunctionName.GET_QUESTION, get_question, ("qid",), writes=False),
        Function(FunctionName.LIST_QUESTIONS, list_questions, (), writes=False),
        Function(FunctionName.GET_ROSTER, get_roster, ("rid",), writes=False),
        Function(FunctionName.IS_ON_ROSTER, is_on_roster, ("rid", "entry"), writes=False),
        Function(FunctionName.GET_BALLOT, get_ballot, ("qid", "voter"), writes=False),
        Function(FunctionName.GET_HISTORY, get_history, ("voter",), writes=False),
        Function(FunctionName.GET_AGGREGATE, get_aggregate, ("qid", "shard"), writes=False),
        Function(FunctionName.GET_TALLY, get_tally, ("qid",), writes=False),
        Function(FunctionName.GET_RESULTS, get_results, ("qid",), writes=False),
    )
}


def _call_for(stub: ChaincodeStub, version: str) -> Call:
    args = stub.get_args()
    if not args:
        raise BadArguments(
            "function: expected a function name as the first argument", field="function"
        )
    try:
        name = args[0].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed("function: not UTF-8", field="function") from exc
    try:
        function = FUNCTIONS[FunctionName(name)]
    except ValueError:
        raise UnknownFunction(f"function: no function {name[:64]!r}", field="function") from None
    if VERSIONS.index(version) < VERSIONS.index(function.since):
        raise UnknownFunction(
            f"function: no function {name!r} in contract {version}", field="function"
        )
    params = args[1:]
    most = function.repeat or len(function.params)
    least = 1 if function.repeat else len(function.params) - function.optional
    if not least <= len(params) <= most:
        expected = f"{most}" if least == most else f"{least} to {most}"
        raise BadArguments(
            f"{name}: expected {expected} arguments ({', '.join(function.params) or 'none'}), "
            f"got {len(params)}",
            field="args",
        )
    return Call(stub, function, params, version)


def invoke(stub: ChaincodeStub, version: str = VERSION) -> Response:
    """Run one invocation under the rules of contract ``version`` (one of VERSIONS; the replay
    passes the version the endorsers signed). Never raises: a refusal comes back as status 400
    with the message ``"CODE: text"`` and the payload ``Refusal.to_bytes()`` (code, field,
    message); an unknown version is a fault (500)."""
    try:
        if version not in VERSIONS:
            raise ValueError(f"contract version {version!r} is not one of {VERSIONS}")
        call = _call_for(stub, version)
        result = call.function.handler(call)
        return Response(OK, "", encoding.encode(result))
    except MvoteError as exc:
        refusal = Refusal.of(exc)
        return Response(REFUSED, refusal.to_text(), refusal.to_bytes())
    except Exception as exc:  # a fault of the contract, not of the request
        return Response(FAULT, f"INTERNAL: {type(exc).__name__}: {exc}", b"")
