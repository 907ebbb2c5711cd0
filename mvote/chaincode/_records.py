"""On-chain records and signed payloads: their shapes, typed forms and canonical bytes.

Each record is a frozen dataclass with ``to_json`` (the JSON value whose RFC 8785 bytes are stored
or signed) and ``from_json`` (which accepts only what its shape admits). docs/records.md shows every
record with an example; tests/vectors/ holds their canonical bytes and hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import encoding
from ._crypto.ballot import EncryptedBallot
from ._crypto.ceremony import PartialDecryption
from ._crypto.elgamal import Ciphertext
from ._crypto.group import Point
from ._errors import InvalidField
from ._schema import (
    TUPLE,
    Array,
    Bool,
    Codec,
    Hex,
    Int,
    Nullable,
    Object,
    OneOf,
    Record,
    Shape,
    TaggedUnion,
    Text,
    declared,
    decode_field,
    decode_fields,
    json_of,
    nested,
    of_record,
    optional,
    record,
    spread,
    spread_record,
    tuple_of,
)

BALLOT_TYPE = "mvote.ballot.v1"
SECRET_BALLOT_TYPE = "mvote.secret-ballot.v1"
#: Contract mvote-2: ballots that bind the hash of the question record they were prepared for.
BOUND_BALLOT_TYPE = "mvote.ballot.v2"
BOUND_SECRET_BALLOT_TYPE = "mvote.secret-ballot.v2"
QUESTION_BINDING_TYPE = "mvote.question-binding.v1"
#: The secret ballot types of every contract version (the larger Cast size limit applies).
SECRET_BALLOT_TYPES = frozenset({SECRET_BALLOT_TYPE, BOUND_SECRET_BALLOT_TYPE})
CREDENTIAL_TYPE = "mvote.credential.v1"

#: Identifiers are ASCII so that they are safe inside composite keys, URLs and file names.
IDENTIFIER = Text(1, 64, pattern=r"[a-z0-9][a-z0-9._-]*")
CHANNEL = Text(1, 249, pattern=r"[a-z][a-z0-9.-]*")
MSP_ID = Text(1, 128, pattern=r"[A-Za-z0-9.-]+")
TX_ID = Text(1, 128, pattern=r"[0-9a-f]+")
KEY_HEX = Hex(32)
SIG_HEX = Hex(64)
HASH_HEX = Hex(32)
TIME = Int(0, 2**40)  # unix seconds; 2**40 is past the year 36000
COUNT = Int(0, encoding.MAX_SAFE_INTEGER)
BASIS_POINTS = Int(0, 10_000)

MAX_OPTIONS = 1000
MAX_REGISTRARS = 16

QuestionState = Literal["DRAFT", "OPEN", "CLOSED", "TALLIED", "CANCELLED"]
QUESTION_STATES: tuple[QuestionState, ...] = ("DRAFT", "OPEN", "CLOSED", "TALLIED", "CANCELLED")


class Opaque(Shape):
    """Any JSON value: a field whose inside a typed ``from_json`` of the crypto package checks
    (naming the exact path), e.g. an encrypted ballot or a ciphertext."""

    def check(self, value: Any, path: str) -> Any:
        return value


# --- ballot rules ---


class _Variant(Record):
    """A variant of a tagged union: its ``kind`` is its tag."""

    @property
    def kind(self) -> str:
        return str(self.TAGS["kind"])


@record("rule.min_turnout", tags={"kind": "none"})
@dataclass(frozen=True)
class NoTurnout(_Variant):
    """No minimum turnout."""


@record("rule.min_turnout", tags={"kind": "count"})
@dataclass(frozen=True)
class TurnoutCount(_Variant):
    """At least ``count`` ballots."""

    count: int = declared(Int(1, encoding.MAX_SAFE_INTEGER))


@record("rule.min_turnout", tags={"kind": "share"})
@dataclass(frozen=True)
class TurnoutShare(_Variant):
    """Ballots from at least ``bp`` basis points of the roster frozen at open."""

    bp: int = declared(Int(1, 10_000))


Turnout = NoTurnout | TurnoutCount | TurnoutShare
TURNOUT: TaggedUnion[Turnout] = TaggedUnion(
    "rule.min_turnout", NoTurnout, TurnoutCount, TurnoutShare
)


@record("rule", tags={"kind": "single"})
@dataclass(frozen=True)
class SingleChoice(_Variant):
    """Exactly one option."""


@record("rule", tags={"kind": "multi"})
@dataclass(frozen=True)
class MultiChoice(_Variant):
    """``min`` to ``max`` options (the spec checks ``min <= max <=`` the number of options)."""

    min: int = declared(Int(0, MAX_OPTIONS))
    max: int = declared(Int(1, MAX_OPTIONS))


@record("rule", tags={"kind": "yesno"})
@dataclass(frozen=True)
class YesNo(_Variant):
    """Two options (yes, no); passes when approvals * 10000 > threshold_bp * ballots (5000 is
    "more than half") and the turnout is met."""

    threshold_bp: int = declared(Int(0, 9_999))
    min_turnout: Turnout = declared(TURNOUT.shape, TURNOUT.codec, default=NoTurnout())  # noqa: RUF009


Rule = SingleChoice | MultiChoice | YesNo
RULE: TaggedUnion[Rule] = TaggedUnion("rule", SingleChoice, MultiChoice, YesNo)


# --- eligibility ---


@record("eligibility", tags={"kind": "roster"})
@dataclass(frozen=True)
class RosterEligibility(_Variant):
    """The voters on a sealed roster."""

    roster: str = declared(IDENTIFIER)


@record("eligibility", tags={"kind": "open"})
@dataclass(frozen=True)
class OpenEligibility(_Variant):
    """Any voter holding a credential signed by one of these registrars (ascending hex keys)."""

    registrars: tuple[str, ...] = declared(
        Array(KEY_HEX, min_len=1, max_len=MAX_REGISTRARS, ascending=True), TUPLE
    )


Voters = RosterEligibility | OpenEligibility
VOTERS: TaggedUnion[Voters] = TaggedUnion("eligibility", RosterEligibility, OpenEligibility)


@dataclass(frozen=True)
class OnsiteCode:
    """On-site votes also need a code whose salted hash the question commits."""

    salt: str
    code_hash: str


@record("eligibility", tags={"kind": "onsite"})
@dataclass(frozen=True)
class _OnsiteJSON(_Variant):
    """The stored form of on-site eligibility: the voters' kind wrapped with the code's hash."""

    base: Voters = declared(VOTERS.shape, VOTERS.codec)  # noqa: RUF009
    code_salt: str = declared(Hex(16))
    code_hash: str = declared(HASH_HEX)


_ELIGIBILITY_JSON: TaggedUnion[Voters | _OnsiteJSON] = TaggedUnion(
    "eligibility", RosterEligibility, OpenEligibility, _OnsiteJSON
)


@dataclass(frozen=True)
class Eligibility:
    """Who may vote: a sealed roster or holders of a registrar credential, and, on site, a code.

    One of the two kinds, with an optional on-site part: no combination outside the JSON shape
    (``ELIGIBILITY_SHAPE``, the stored union roster | open | onsite wrapping one of them) can be
    built.
    """

    voters: Voters
    onsite_code: OnsiteCode | None = None

    @staticmethod
    def of_roster(rid: str, onsite_code: OnsiteCode | None = None) -> Eligibility:
        return Eligibility(RosterEligibility(rid), onsite_code)

    @staticmethod
    def of_registrars(
        registrars: tuple[str, ...], onsite_code: OnsiteCode | None = None
    ) -> Eligibility:
        return Eligibility(OpenEligibility(tuple(registrars)), onsite_code)

    @property
    def kind(self) -> Literal["roster", "open"]:
        match self.voters:
            case RosterEligibility():
                return "roster"
            case OpenEligibility():
                return "open"

    @property
    def onsite(self) -> bool:
        return self.onsite_code is not None

    @property
    def registrars(self) -> tuple[str, ...]:
        """The registrars of open eligibility; none for a roster."""
        match self.voters:
            case OpenEligibility(registrars):
                return registrars
            case RosterEligibility():
                return ()

    def to_json(self) -> dict[str, Any]:
        match self.onsite_code:
            case None:
                return self.voters.to_json()
            case OnsiteCode(salt, code_hash):
                return _OnsiteJSON(self.voters, salt, code_hash).to_json()

    @staticmethod
    def decode_checked(checked: Any, where: str) -> Eligibility:
        match _ELIGIBILITY_JSON.decode_checked(checked, where):
            case _OnsiteJSON(voters, salt, code_hash):
                return Eligibility(voters, OnsiteCode(salt, code_hash))
            case RosterEligibility() | OpenEligibility() as voters:
                return Eligibility(voters)

    @staticmethod
    def from_json(value: Any, path: str = "eligibility") -> Eligibility:
        return Eligibility.decode_checked(ELIGIBILITY_SHAPE.check(value, path), path)


ELIGIBILITY_SHAPE = _ELIGIBILITY_JSON.shape
_ELIGIBILITY_CODEC = nested(_ELIGIBILITY_JSON.codec.encode, Eligibility.decode_checked)


# --- questions ---


@record("schedule")
@dataclass(frozen=True)
class Schedule(Record):
    """When ballots are accepted: transaction time in [opens_at, closes_at)."""

    opens_at: int = declared(TIME)
    closes_at: int = declared(TIME)


@dataclass(frozen=True)
class SecretMode:
    """A secret-mode question's part: the completed key ceremony whose election key encrypts
    the ballots. Stored as ``"mode": "secret", "election": cid``; an open question (no
    SecretMode) stores ``"mode": "open"`` and no ``election`` key, so its bytes stay as they
    were."""

    election: str


def _mode_to_json(secret: SecretMode | None) -> dict[str, Any]:
    match secret:
        case None:
            return {"mode": "open"}
        case SecretMode(election):
            return {"mode": "secret", "election": election}


def _mode_from_json(checked: Any, where: str) -> SecretMode | None:
    match checked.get("mode"), checked.get("election"):
        case "open", None:
            return None
        case "secret", str(election):
            return SecretMode(election)
        case _:
            raise InvalidField(
                "election: a secret question names its completed key ceremony, an open one none",
                field="election",
            )


_MODE_SHAPE = Object(
    {"mode": OneOf(("open", "secret")), "election": IDENTIFIER},
    optional=frozenset({"election"}),
)
_MODE_CODEC = Codec(_mode_to_json, _mode_from_json)


#: Why a question or ceremony was closed or cancelled: free text, at most 500 characters.
REASON = Text(0, 500)


@record("transition")
@dataclass(frozen=True)
class Transition(Record):
    """One step of a question's lifecycle: the state entered, by which transaction, when, why."""

    state: QuestionState = declared(OneOf(QUESTION_STATES))  # noqa: RUF009 (a field)
    tx: str = declared(TX_ID)
    at: int = declared(TIME)
    reason: str = declared(REASON, default="")


TRANSITION_SHAPE = Transition.SHAPE


@record(
    "$",
    order=(
        "qid",
        "title",
        "description",
        "options",
        "rule",
        "eligibility",
        "schedule",
        "mode",
        "shards",
        "election",
    ),
)
@dataclass(frozen=True)
class QuestionSpec(Record):
    """What an operator submits to create a question. Parsing it checks, after the shape, what
    a shape cannot express (``decode_checked``)."""

    qid: str = declared(IDENTIFIER)
    title: str = declared(Text(1, 200))
    description: str = declared(Text(0, 4000, multiline=True))
    options: tuple[str, ...] = declared(
        Array(Text(1, 200), min_len=2, max_len=MAX_OPTIONS, unique=True), TUPLE
    )
    rule: Rule = declared(RULE.shape, RULE.codec)  # noqa: RUF009
    eligibility: Eligibility = declared(ELIGIBILITY_SHAPE, _ELIGIBILITY_CODEC)  # noqa: RUF009
    schedule: Schedule = declared(Schedule.SHAPE, of_record(Schedule))  # noqa: RUF009
    #: Secret mode (None: open mode). Keys ``mode`` and ``election``.
    secret: SecretMode | None = spread(_MODE_SHAPE, _MODE_CODEC, default=None)  # noqa: RUF009
    shards: int = declared(Int(1, 1024), default=1)

    @property
    def mode(self) -> Literal["open", "secret"]:
        return "open" if self.secret is None else "secret"

    @property
    def election(self) -> str | None:
        """The ceremony id of a secret-mode question, None in open mode."""
        return None if self.secret is None else self.secret.election

    @classmethod
    def decode_checked(cls, checked: Mapping[str, Any], where: str) -> QuestionSpec:
        """The checks a shape cannot express, in their refusal order (pinned by
        test_create_question_names_the_first_of_two_errors): the rule against the options and
        the eligibility, then the mode against the election, then the schedule's order."""
        fields = decode_fields(cls, checked, where, but=frozenset({"secret"}))
        _check_rule(fields["rule"], len(fields["options"]), fields["eligibility"])
        secret = decode_field(cls, "secret", checked, where)
        _check_schedule(fields["schedule"])
        return cls(**fields, secret=secret)


def _check_rule(rule: Rule, options: int, eligibility: Eligibility) -> None:
    """The rule fits the options (multi: min <= max <= options; yes/no: two options) and a
    turnout share has a roster to be a share of. Refusals name the spec's own keys (a stored
    question holds them at the same place)."""
    match rule:
        case MultiChoice(low, high):
            if high > options:
                raise InvalidField(
                    f"rule.max: expected at most the {options} options, got {high}",
                    field="rule.max",
                )
            if low > high:
                raise InvalidField(
                    f"rule.min: expected at most rule.max ({high}), got {low}", field="rule.min"
                )
        case YesNo(min_turnout=turnout):
            if options != 2:
                raise InvalidField(
                    f"options: a yes/no question has exactly 2 options (yes, no), got {options}",
                    field="options",
                )
            if isinstance(turnout, TurnoutShare) and eligibility.kind != "roster":
                raise InvalidField(
                    "rule.min_turnout: a turnout share needs a roster to be a share of",
                    field="rule.min_turnout",
                )
        case SingleChoice():
            return


def _check_schedule(schedule: Schedule) -> None:
    if schedule.closes_at <= schedule.opens_at:
        raise InvalidField(
            f"schedule.closes_at: expected later than opens_at ({schedule.opens_at}), "
            f"got {schedule.closes_at}",
            field="schedule.closes_at",
        )


QUESTION_SPEC_SHAPE = QuestionSpec.SHAPE


@record("question")
@dataclass(frozen=True)
class Question(Record):
    """question~{qid}: the spec plus who owns it, where it is in its lifecycle, and how it got there."""

    spec: QuestionSpec = spread_record(QuestionSpec)  # noqa: RUF009
    owner: str = declared(MSP_ID)
    state: QuestionState = declared(OneOf(QUESTION_STATES))  # noqa: RUF009
    #: Roster size frozen when the question opens (the base of a turnout share), else None.
    eligible: int | None = declared(Nullable(COUNT))
    transitions: tuple[Transition, ...] = declared(
        Array(TRANSITION_SHAPE, min_len=1, max_len=8), tuple_of(of_record(Transition))
    )

    @property
    def qid(self) -> str:
        return self.spec.qid


QUESTION_SHAPE = Question.SHAPE


def question_binding(spec: QuestionSpec, election_key: Point | None) -> dict[str, Any]:
    """What a ``mvote.ballot.v2`` ballot binds of its question: the id, title, option labels,
    rule, eligibility, mode and (secret mode) the election key of the question's ceremony.
    Precondition: ``election_key`` is the key of ``spec.election``'s ceremony (None in open
    mode)."""
    declared_json = spec.to_json()
    return {
        "type": QUESTION_BINDING_TYPE,
        "qid": spec.qid,
        "title": spec.title,
        "options": list(spec.options),
        "rule": declared_json["rule"],
        "eligibility": declared_json["eligibility"],
        "mode": spec.mode,
        "election_key": None if election_key is None else election_key.hex(),
    }


def question_hash(spec: QuestionSpec, election_key: Point | None) -> str:
    """SHA-256 (hex) of the canonical bytes of ``question_binding(spec, election_key)``."""
    return encoding.digest(question_binding(spec, election_key)).hex()


# --- rosters ---


@record("$")
@dataclass(frozen=True)
class RosterSpec(Record):
    """The argument of ``CreateRoster``."""

    rid: str = declared(IDENTIFIER)
    title: str = declared(Text(1, 200))


ROSTER_SPEC_SHAPE = RosterSpec.SHAPE

# A full batch (arguments plus one write per entry, ~240 bytes each) must fit the node's 1 MiB
# transaction limit with room for the endorsements.
MAX_ROSTER_BATCH = 2000


@record("$")
@dataclass(frozen=True)
class RosterBatch(Record):
    """The argument of ``AddRosterEntries``: voter hashes, distinct and ascending."""

    rid: str = declared(IDENTIFIER)
    entries: tuple[str, ...] = declared(
        Array(HASH_HEX, min_len=1, max_len=MAX_ROSTER_BATCH, ascending=True), TUPLE
    )


ROSTER_BATCH_SHAPE = RosterBatch.SHAPE


@record("roster entry")
@dataclass(frozen=True)
class RosterEntry(Record):
    """rosterentry~{rid}~{voter hash}: the transaction that added the entry."""

    tx: str = declared(TX_ID)


EMPTY_ROSTER_DIGEST = bytes(32).hex()


def roster_batches(entries: Sequence[str]) -> list[list[str]]:
    """``entries`` cut, in order, into the batches one ``AddRosterEntries`` each accepts.
    Precondition: ``entries`` are distinct and ascending, as every batch must be."""
    return [
        list(entries[i : i + MAX_ROSTER_BATCH]) for i in range(0, len(entries), MAX_ROSTER_BATCH)
    ]


@record("roster")
@dataclass(frozen=True)
class Roster(Record):
    """roster~{rid}: the header. ``digest`` chains every batch of entries in the order added."""

    rid: str = declared(IDENTIFIER)
    title: str = declared(Text(1, 200))
    owner: str = declared(MSP_ID)
    count: int = declared(COUNT)
    digest: str = declared(HASH_HEX)
    sealed: bool = declared(Bool())


ROSTER_SHAPE = Roster.SHAPE


def roster_digest_after(digest_hex: str, entries: Sequence[str]) -> str:
    """digest' = SHA-256(digest || SHA-256(canonical JSON of the batch's entries))."""
    batch_hash = encoding.digest(list(entries))
    return hashlib.sha256(bytes.fromhex(digest_hex) + batch_hash).hexdigest()


# --- ballots and credentials ---


def tracker_of(ballot_bytes: bytes) -> str:
    """The ballot tracker: SHA-256 of the canonical bytes the voter signed, hex."""
    return hashlib.sha256(ballot_bytes).hexdigest()


class _Signed(Record):
    """A record someone signs: its canonical bytes are what the signature covers."""

    def canonical_bytes(self) -> bytes:
        return encoding.encode(self.to_json())


class _SignedBallot(_Signed):
    def tracker(self) -> str:
        return tracker_of(self.canonical_bytes())


@record("ballot", tags={"type": BALLOT_TYPE})
@dataclass(frozen=True)
class Ballot(_SignedBallot):
    """What the voter signs: the canonical bytes bind the channel, the question and the key."""

    channel: str = declared(CHANNEL)
    qid: str = declared(IDENTIFIER)
    choices: tuple[int, ...] = declared(
        Array(Int(0, MAX_OPTIONS - 1), min_len=0, max_len=MAX_OPTIONS, ascending=True), TUPLE
    )
    voter: str = declared(KEY_HEX)


@record("ballot", tags={"type": SECRET_BALLOT_TYPE})
@dataclass(frozen=True)
class SecretBallot(_SignedBallot):
    """What a voter signs in secret mode: the encrypted selections with their proofs, bound (by
    the signature and by every proof's Fiat-Shamir context) to the channel, question and key."""

    channel: str = declared(CHANNEL)
    qid: str = declared(IDENTIFIER)
    # Checked by EncryptedBallot.from_json (points, scalars, shape), proofs by verify_ballot.
    encrypted: EncryptedBallot = declared(  # noqa: RUF009
        Opaque(), nested(json_of, EncryptedBallot.from_json)
    )
    voter: str = declared(KEY_HEX)


@record("ballot", tags={"type": BOUND_BALLOT_TYPE})
@dataclass(frozen=True)
class BoundBallot(Ballot):
    """An open ballot of contract mvote-2: it also binds ``question``, the hash of the question
    record it was prepared against (``question_hash``), so a ballot prepared against a forged
    question (swapped labels, another rule) is refused at Cast."""

    question: str = declared(HASH_HEX)


@record("ballot", tags={"type": BOUND_SECRET_BALLOT_TYPE})
@dataclass(frozen=True)
class BoundSecretBallot(SecretBallot):
    """A secret ballot of contract mvote-2: binds ``question`` (as BoundBallot), also inside every
    proof's Fiat-Shamir context (``BallotContext.question_hash``)."""

    question: str = declared(HASH_HEX)


BALLOT_SHAPE = Ballot.SHAPE
SECRET_BALLOT_SHAPE = SecretBallot.SHAPE

#: Every ballot type, by its ``type`` tag. A value with no known tag is read as the current
#: open ballot (so the refusal names the expected tag).
_BALLOT_TYPES: dict[str, type[Ballot] | type[SecretBallot]] = {
    BALLOT_TYPE: Ballot,
    SECRET_BALLOT_TYPE: SecretBallot,
    BOUND_BALLOT_TYPE: BoundBallot,
    BOUND_SECRET_BALLOT_TYPE: BoundSecretBallot,
}


def _ballot_type(value: Any) -> type[Ballot] | type[SecretBallot]:
    tag = value.get("type") if isinstance(value, dict) else None
    return _BALLOT_TYPES.get(tag, BoundBallot) if isinstance(tag, str) else BoundBallot


class _AnyBallot(Shape):
    """A ballot of any of the four types (open or secret, mvote-1 or mvote-2), by ``type``."""

    def check(self, value: Any, path: str) -> Any:
        return _ballot_type(value).SHAPE.check(value, path)


ANY_BALLOT_SHAPE = _AnyBallot()

AnyBallot = Ballot | SecretBallot


def ballot_from_json(value: Any, path: str = "ballot") -> AnyBallot:
    """A ballot of any of the four types, by its ``type``."""
    return _ballot_decoded(ANY_BALLOT_SHAPE.check(value, path), path)


def _ballot_decoded(checked: Any, path: str) -> AnyBallot:
    """The ballot from a value ``ANY_BALLOT_SHAPE`` accepted (its ``type`` is one of the four)."""
    return _ballot_type(checked).decode_checked(checked, path)


_BALLOT = Codec(json_of, _ballot_decoded)


def bound_question(ballot: AnyBallot) -> str | None:
    """The question hash a ballot binds (None for an mvote-1 ballot)."""
    match ballot:
        case BoundBallot(question=question) | BoundSecretBallot(question=question):
            return question
        case _:
            return None


@record("credential", tags={"type": CREDENTIAL_TYPE})
@dataclass(frozen=True)
class Credential(_Signed):
    """A registrar's statement that a voter key passed its off-chain check."""

    channel: str = declared(CHANNEL)
    # A question id, or "*" for every question of the channel that trusts this registrar.
    scope: str = declared(Text(1, 64, pattern=r"\*|[a-z0-9][a-z0-9._-]*"))
    voter: str = declared(KEY_HEX)
    registrar: str = declared(KEY_HEX)
    expires_at: int = declared(TIME)


CREDENTIAL_SHAPE = Credential.SHAPE


@record("credential")
@dataclass(frozen=True)
class SignedCredential(Record):
    body: Credential = declared(CREDENTIAL_SHAPE, of_record(Credential))  # noqa: RUF009
    sig: str = declared(SIG_HEX)


SIGNED_CREDENTIAL_SHAPE = SignedCredential.SHAPE


@record("$")
@dataclass(frozen=True)
class CastRequest(Record):
    """The argument of ``Cast``: the signed ballot plus what eligibility asks for."""

    ballot: AnyBallot = declared(ANY_BALLOT_SHAPE, _BALLOT)  # noqa: RUF009
    sig: str = declared(SIG_HEX)
    credential: SignedCredential | None = declared(  # noqa: RUF009
        Nullable(SIGNED_CREDENTIAL_SHAPE), optional(of_record(SignedCredential)), default=None
    )
    code: str | None = declared(Nullable(Text(4, 64, pattern=r"[A-Za-z0-9-]+")), default=None)


CAST_SHAPE = CastRequest.SHAPE


@record("$")
@dataclass(frozen=True)
class SpoilRequest(Record):
    """The argument of ``SpoilBallot`` (cast-or-audit): a prepared secret ballot, signed and with
    what eligibility asks for exactly as for Cast, and its opening: the nonce key every nonce of
    the ballot derives from (``crypto.ballot.nonce_key``; never the device's seed)."""

    request: CastRequest = declared(CAST_SHAPE, of_record(CastRequest))  # noqa: RUF009
    nonce_key: str = declared(Hex(32))


SPOIL_SHAPE = SpoilRequest.SHAPE


# A stored record names its nested parts at their own paths (``ballot.…``, ``credential.…``), as
# the cast request that wrote them does.
_BALLOT_CODEC = Codec(json_of, lambda v, _: _ballot_decoded(v, "ballot"))
_CREDENTIAL_CODEC = optional(
    Codec(json_of, lambda v, _: SignedCredential.decode_checked(v, "credential"))
)


@record("ballot record")
@dataclass(frozen=True)
class BallotRecord(Record):
    """ballot~{qid}~{shard}~{voter}: the signed ballot as cast. The on-site code itself is not
    kept in state (it stays only in the transaction's arguments)."""

    # declared() returns a dataclasses.field (ruff cannot tell for these annotations).
    ballot: AnyBallot = declared(ANY_BALLOT_SHAPE, _BALLOT_CODEC)  # noqa: RUF009
    sig: str = declared(SIG_HEX)
    credential: SignedCredential | None = declared(  # noqa: RUF009
        Nullable(SIGNED_CREDENTIAL_SHAPE), _CREDENTIAL_CODEC
    )
    onsite: bool = declared(Bool())
    shard: int = declared(Int(0, 1023))
    tracker: str = declared(HASH_HEX)
    tx: str = declared(TX_ID)
    at: int = declared(TIME)


BALLOT_RECORD_SHAPE = BallotRecord.SHAPE


@record("participation")
@dataclass(frozen=True)
class Participation(Record):
    """participation~{voter}~{qid}: the voter's history entry for one question."""

    qid: str = declared(IDENTIFIER)
    tracker: str = declared(HASH_HEX)
    tx: str = declared(TX_ID)
    at: int = declared(TIME)


PARTICIPATION_SHAPE = Participation.SHAPE


def _spoiled_ballot_from_json(value: Any, path: str) -> BoundSecretBallot:
    ballot = ballot_from_json(value, path)
    if not isinstance(ballot, BoundSecretBallot):
        raise InvalidField(
            f"{path}.type: expected {BOUND_SECRET_BALLOT_TYPE!r}", field=f"{path}.type"
        )
    return ballot


@record("spoiled")
@dataclass(frozen=True)
class SpoiledBallot(Record):
    """spoiled~{qid}~{tracker}: an audited (spoiled) secret ballot, never to be cast, with its
    opening (the nonce key) and the choices the opening shows, as the contract read them."""

    ballot: BoundSecretBallot = declared(  # noqa: RUF009
        BoundSecretBallot.SHAPE, nested(lambda b: b.to_json(), _spoiled_ballot_from_json)
    )
    sig: str = declared(SIG_HEX)
    nonce_key: str = declared(Hex(32))
    choices: tuple[int, ...] = declared(
        Array(Int(0, MAX_OPTIONS - 1), min_len=0, max_len=MAX_OPTIONS, ascending=True), TUPLE
    )
    tracker: str = declared(HASH_HEX)
    tx: str = declared(TX_ID)
    at: int = declared(TIME)


SPOILED_SHAPE = SpoiledBallot.SHAPE


# --- aggregation and tally ---

#: The voter-key cursor of a shard's aggregation: empty before the first ballot.
CURSOR = Text(0, 64, pattern=r"([0-9a-f]{64})?")


@record("aggregate")
@dataclass(frozen=True)
class Aggregate(Record):
    """aggregate~{qid}~{shard}: sums over the shard's ballots up to ``cursor`` (a voter key)."""

    qid: str = declared(IDENTIFIER)
    shard: int = declared(Int(0, 1023))
    cursor: str = declared(CURSOR)
    ballots: int = declared(COUNT)
    counts: tuple[int, ...] = declared(Array(COUNT, min_len=2, max_len=MAX_OPTIONS), TUPLE)
    done: bool = declared(Bool())


AGGREGATE_SHAPE = Aggregate.SHAPE


def _sums_from_json(value: list[Any], path: str) -> tuple[Ciphertext, ...]:
    return tuple(
        Ciphertext.from_json(c, f"{path}[{i}]", allow_identity=True) for i, c in enumerate(value)
    )


@record("aggregate")
@dataclass(frozen=True)
class SecretAggregate(Record):
    """aggregate~{qid}~{shard} of a secret question: per-option ciphertext sums up to ``cursor``."""

    qid: str = declared(IDENTIFIER)
    shard: int = declared(Int(0, 1023))
    cursor: str = declared(CURSOR)
    ballots: int = declared(COUNT)
    # Per option, the homomorphic sum of the shard's ciphertexts so far (Ciphertext JSON; the
    # identity encoding for an empty sum).
    sums: tuple[Ciphertext, ...] = declared(
        Array(Opaque(), min_len=2, max_len=MAX_OPTIONS),
        nested(lambda sums: [c.to_json() for c in sums], _sums_from_json),
    )
    done: bool = declared(Bool())


SECRET_AGGREGATE_SHAPE = SecretAggregate.SHAPE


@record("tally.outcome", tags={"kind": "plurality"})
@dataclass(frozen=True)
class Plurality(_Variant):
    """The options with the most votes (none when no option got a vote)."""

    winners: tuple[int, ...] = declared(Array(Int(0, MAX_OPTIONS - 1)), TUPLE)


@record("tally.outcome", tags={"kind": "yesno"})
@dataclass(frozen=True)
class YesNoOutcome(_Variant):
    """Whether a yes/no question passed: approval above the threshold and the turnout met."""

    approvals: int = declared(COUNT)
    rejections: int = declared(COUNT)
    threshold_bp: int = declared(BASIS_POINTS)
    approval_met: bool = declared(Bool())
    turnout_met: bool = declared(Bool())
    passed: bool = declared(Bool())


Outcome = Plurality | YesNoOutcome
OUTCOME: TaggedUnion[Outcome] = TaggedUnion("tally.outcome", Plurality, YesNoOutcome)
OUTCOME_SHAPE = OUTCOME.shape


def _partial_from_json(value: Any, path: str) -> PartialDecryption | None:
    return None if value is None else PartialDecryption.from_json(value, path)


_PARTIALS = tuple_of(Codec(lambda p: None if p is None else p.to_json(), _partial_from_json))


@record("tally.decryption.partials")
@dataclass(frozen=True)
class TrusteePartials(Record):
    """One present trustee's partial decryption of every option's total (null where the
    total's alpha is the identity: nothing to decrypt there)."""

    trustee: int = declared(Int(1, 255))
    partials: tuple[PartialDecryption | None, ...] = declared(
        Array(Nullable(Opaque()), min_len=2, max_len=MAX_OPTIONS), _PARTIALS
    )


@record("tally.decryption")
@dataclass(frozen=True)
class Decryption(Record):
    """How a secret tally was decrypted (docs/records.md, "Tally of a secret question")."""

    ceremony: str = declared(IDENTIFIER)
    #: The present trustees (ascending) and their Lagrange coefficients (scalar hex), aligned.
    trustees: tuple[int, ...] = declared(
        Array(Int(1, 255), min_len=0, max_len=255, ascending=True), TUPLE
    )
    lagrange: tuple[str, ...] = declared(Array(Hex(32), min_len=0, max_len=255), TUPLE)
    #: Per option: the homomorphic sum of every ballot.
    totals: tuple[Ciphertext, ...] = declared(
        Array(Opaque(), min_len=2, max_len=MAX_OPTIONS),
        nested(lambda sums: [c.to_json() for c in sums], _sums_from_json),
    )
    partials: tuple[TrusteePartials, ...] = declared(
        Array(TrusteePartials.SHAPE, min_len=0, max_len=255),
        tuple_of(of_record(TrusteePartials)),
    )


DECRYPTION_SHAPE = Decryption.SHAPE


@record("tally")
@dataclass(frozen=True)
class TallyRecord(Record):
    """tally~{qid}: the final counts of a question, what they decide, and (secret mode only) how
    they were decrypted."""

    qid: str = declared(IDENTIFIER)
    ballots: int = declared(COUNT)
    counts: tuple[int, ...] = declared(Array(COUNT, min_len=2, max_len=MAX_OPTIONS), TUPLE)
    #: The roster size frozen at open, else None.
    eligible: int | None = declared(Nullable(COUNT))
    #: ``rules.outcome`` of the counts.
    outcome: Outcome = declared(OUTCOME.shape, OUTCOME.codec)  # noqa: RUF009 (a field)
    tx: str = declared(TX_ID)
    at: int = declared(TIME)
    #: Secret mode only; absent in open mode, so open tallies keep their bytes.
    decryption: Decryption | None = declared(  # noqa: RUF009 (a field)
        DECRYPTION_SHAPE, of_record(Decryption), default=None, absent_when_none=True
    )


TALLY_SHAPE = TallyRecord.SHAPE


# --- GetResults' answer ---

_STATE = OneOf(QUESTION_STATES)


@record("results", tags={"final": False})
@dataclass(frozen=True)
class LiveResults(Record):
    """``GetResults`` before the tally: the ballots cast so far and, in open mode, their live
    counts (None in secret mode: only the decrypted totals are ever known)."""

    qid: str = declared(IDENTIFIER)
    state: QuestionState = declared(_STATE)  # noqa: RUF009 (a field)
    ballots: int = declared(COUNT)
    counts: tuple[int, ...] | None = declared(
        Nullable(Array(COUNT, min_len=2, max_len=MAX_OPTIONS)), optional(TUPLE)
    )


@record("results", tags={"final": True})
@dataclass(frozen=True)
class FinalResults(Record):
    """``GetResults`` of a TALLIED question: its tally record."""

    qid: str = declared(IDENTIFIER)
    state: QuestionState = declared(_STATE)  # noqa: RUF009 (a field)
    tally: TallyRecord = declared(TALLY_SHAPE, of_record(TallyRecord))  # noqa: RUF009


Results = LiveResults | FinalResults


def results_from_json(value: Any, path: str = "results") -> Results:
    """``GetResults``' answer as its record, chosen by the boolean ``final``; InvalidField
    naming the first field that does not match."""
    if not isinstance(value, dict):
        raise InvalidField(f"{path}: expected an object, got {type(value).__name__}", field=path)
    final = Bool().check(value.get("final"), f"{path}.final")
    return (FinalResults if final else LiveResults).from_json(value, path)


AnyAggregate = Aggregate | SecretAggregate


def aggregate_from_json(value: Any, path: str = "aggregate") -> AnyAggregate:
    """A shard's aggregate record of either mode, told apart by its sums (``sums``: secret
    mode, else open mode's ``counts``); InvalidField naming the first field that does not
    match."""
    if isinstance(value, dict) and "sums" in value:
        return SecretAggregate.from_json(value, path)
    return Aggregate.from_json(value, path)
