"""On-chain records and signed payloads: their shapes, typed forms and canonical bytes.

Each record is a frozen dataclass with ``to_json`` (the JSON value whose RFC 8785 bytes are stored
or signed) and ``from_json`` (which accepts only what its shape admits). docs/records.md shows every
record with an example; tests/vectors/ holds their canonical bytes and hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import encoding
from ._crypto.ballot import EncryptedBallot
from ._crypto.elgamal import Ciphertext
from ._crypto.group import Point
from ._errors import InvalidField
from ._schema import (
    TUPLE,
    Array,
    Bool,
    Const,
    Hex,
    Int,
    Nullable,
    Object,
    OneOf,
    Record,
    Shape,
    Tagged,
    Text,
    declared,
    nested,
    optional,
    record,
)

BALLOT_TYPE = "mvote.ballot.v1"
SECRET_BALLOT_TYPE = "mvote.secret-ballot.v1"
#: Contract mvote-2: ballots that bind the hash of the question record they were prepared for.
BOUND_BALLOT_TYPE = "mvote.ballot.v2"
BOUND_SECRET_BALLOT_TYPE = "mvote.secret-ballot.v2"
QUESTION_BINDING_TYPE = "mvote.question-binding.v1"
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

TURNOUT_SHAPE = Tagged(
    {
        "none": Object({"kind": Const("none")}),
        "count": Object({"kind": Const("count"), "count": Int(1, encoding.MAX_SAFE_INTEGER)}),
        "share": Object({"kind": Const("share"), "bp": Int(1, 10_000)}),
    }
)

RULE_SHAPE = Tagged(
    {
        "single": Object({"kind": Const("single")}),
        "multi": Object(
            {"kind": Const("multi"), "min": Int(0, MAX_OPTIONS), "max": Int(1, MAX_OPTIONS)}
        ),
        "yesno": Object(
            {
                "kind": Const("yesno"),
                # Passes when approvals * 10000 > threshold_bp * ballots: 5000 is "more than half".
                "threshold_bp": Int(0, 9_999),
                "min_turnout": TURNOUT_SHAPE,
            }
        ),
    }
)


@dataclass(frozen=True)
class Turnout:
    kind: Literal["none", "count", "share"]
    value: int = 0  # the count, or the share in basis points

    def to_json(self) -> dict[str, Any]:
        if self.kind == "none":
            return {"kind": "none"}
        if self.kind == "count":
            return {"kind": "count", "count": self.value}
        return {"kind": "share", "bp": self.value}

    @staticmethod
    def from_json(value: dict[str, Any]) -> Turnout:
        kind = value["kind"]
        if kind == "count":
            return Turnout("count", value["count"])
        if kind == "share":
            return Turnout("share", value["bp"])
        return Turnout("none")


@dataclass(frozen=True)
class Rule:
    """How many options a ballot selects, and (yes/no) how the question passes."""

    kind: Literal["single", "multi", "yesno"]
    min: int = 1
    max: int = 1
    threshold_bp: int = 0
    min_turnout: Turnout = Turnout("none")

    def to_json(self) -> dict[str, Any]:
        if self.kind == "multi":
            return {"kind": "multi", "min": self.min, "max": self.max}
        if self.kind == "yesno":
            return {
                "kind": "yesno",
                "threshold_bp": self.threshold_bp,
                "min_turnout": self.min_turnout.to_json(),
            }
        return {"kind": "single"}

    @staticmethod
    def from_json(value: Any, path: str = "rule") -> Rule:
        v = RULE_SHAPE.check(value, path)
        if v["kind"] == "multi":
            return Rule("multi", min=v["min"], max=v["max"])
        if v["kind"] == "yesno":
            return Rule(
                "yesno",
                threshold_bp=v["threshold_bp"],
                min_turnout=Turnout.from_json(v["min_turnout"]),
            )
        return Rule("single")


# --- eligibility ---

_ROSTER_ELIGIBILITY = Object({"kind": Const("roster"), "roster": IDENTIFIER})
_OPEN_ELIGIBILITY = Object(
    {
        "kind": Const("open"),
        "registrars": Array(KEY_HEX, min_len=1, max_len=MAX_REGISTRARS, ascending=True),
    }
)
ELIGIBILITY_SHAPE = Tagged(
    {
        "roster": _ROSTER_ELIGIBILITY,
        "open": _OPEN_ELIGIBILITY,
        "onsite": Object(
            {
                "kind": Const("onsite"),
                "base": Tagged({"roster": _ROSTER_ELIGIBILITY, "open": _OPEN_ELIGIBILITY}),
                "code_salt": Hex(16),
                "code_hash": HASH_HEX,
            }
        ),
    }
)


@dataclass(frozen=True)
class RosterEligibility:
    """The voters on a sealed roster."""

    roster: str


@dataclass(frozen=True)
class OpenEligibility:
    """Any voter holding a credential signed by one of these registrars (ascending hex keys)."""

    registrars: tuple[str, ...]


@dataclass(frozen=True)
class OnsiteCode:
    """On-site votes also need a code whose salted hash the question commits."""

    salt: str
    code_hash: str


@dataclass(frozen=True)
class Eligibility:
    """Who may vote: a sealed roster or holders of a registrar credential, and, on site, a code.

    One of the two kinds, with an optional on-site part: no combination outside the JSON shape
    (``ELIGIBILITY_SHAPE``) can be built.
    """

    voters: RosterEligibility | OpenEligibility
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

    def _voters_json(self) -> dict[str, Any]:
        match self.voters:
            case RosterEligibility(rid):
                return {"kind": "roster", "roster": rid}
            case OpenEligibility(registrars):
                return {"kind": "open", "registrars": list(registrars)}

    def to_json(self) -> dict[str, Any]:
        match self.onsite_code:
            case None:
                return self._voters_json()
            case OnsiteCode(salt, code_hash):
                return {
                    "kind": "onsite",
                    "base": self._voters_json(),
                    "code_salt": salt,
                    "code_hash": code_hash,
                }

    @staticmethod
    def from_json(value: Any, path: str = "eligibility") -> Eligibility:
        v = ELIGIBILITY_SHAPE.check(value, path)
        onsite_code = None
        if v["kind"] == "onsite":
            onsite_code, v = OnsiteCode(v["code_salt"], v["code_hash"]), v["base"]
        if v["kind"] == "roster":
            return Eligibility(RosterEligibility(v["roster"]), onsite_code)
        return Eligibility(OpenEligibility(tuple(v["registrars"])), onsite_code)


# --- questions ---

SCHEDULE_SHAPE = Object({"opens_at": TIME, "closes_at": TIME})

QUESTION_SPEC_SHAPE = Object(
    {
        "qid": IDENTIFIER,
        "title": Text(1, 200),
        "description": Text(0, 4000, multiline=True),
        "options": Array(Text(1, 200), min_len=2, max_len=MAX_OPTIONS, unique=True),
        "rule": RULE_SHAPE,
        "eligibility": ELIGIBILITY_SHAPE,
        "schedule": SCHEDULE_SHAPE,
        "mode": OneOf(("open", "secret")),
        "shards": Int(1, 1024),
        # Secret mode only: the id of the completed key ceremony whose election key encrypts the
        # ballots. Absent in open mode, so open-mode specs and records keep their exact bytes.
        "election": IDENTIFIER,
    },
    optional=frozenset({"election"}),
)


@record("transition")
@dataclass(frozen=True)
class Transition(Record):
    """One step of a question's lifecycle: the state entered, by which transaction, when, why."""

    state: QuestionState = declared(OneOf(QUESTION_STATES))  # noqa: RUF009 (a field)
    tx: str = declared(TX_ID)
    at: int = declared(TIME)
    reason: str = declared(Text(0, 500), default="")


TRANSITION_SHAPE = Transition.SHAPE

QUESTION_SHAPE = Object(
    {
        **QUESTION_SPEC_SHAPE.fields,
        "owner": MSP_ID,
        "state": OneOf(QUESTION_STATES),
        "eligible": Nullable(COUNT),
        "transitions": Array(TRANSITION_SHAPE, min_len=1, max_len=8),
    },
    optional=QUESTION_SPEC_SHAPE.optional,
)


@dataclass(frozen=True)
class QuestionSpec:
    """What an operator submits to create a question."""

    qid: str
    title: str
    description: str
    options: tuple[str, ...]
    rule: Rule
    eligibility: Eligibility
    opens_at: int
    closes_at: int
    mode: Literal["open", "secret"] = "open"
    shards: int = 1
    #: The ceremony id of a secret-mode question (None in open mode).
    election: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "qid": self.qid,
            "title": self.title,
            "description": self.description,
            "options": list(self.options),
            "rule": self.rule.to_json(),
            "eligibility": self.eligibility.to_json(),
            "schedule": {"opens_at": self.opens_at, "closes_at": self.closes_at},
            "mode": self.mode,
            "shards": self.shards,
        }
        if self.election is not None:
            out["election"] = self.election
        return out

    @staticmethod
    def from_json(value: Any) -> QuestionSpec:
        v = QUESTION_SPEC_SHAPE.check(value, "$")
        return _spec_from_checked(v)


def _spec_from_checked(v: dict[str, Any]) -> QuestionSpec:
    return QuestionSpec(
        qid=v["qid"],
        title=v["title"],
        description=v["description"],
        options=tuple(v["options"]),
        rule=Rule.from_json(v["rule"]),
        eligibility=Eligibility.from_json(v["eligibility"]),
        opens_at=v["schedule"]["opens_at"],
        closes_at=v["schedule"]["closes_at"],
        mode=v["mode"],
        shards=v["shards"],
        election=v.get("election"),
    )


@dataclass(frozen=True)
class Question:
    """question~{qid}: the spec plus who owns it, where it is in its lifecycle, and how it got there."""

    spec: QuestionSpec
    owner: str
    state: QuestionState
    #: Roster size frozen when the question opens (the base of a turnout share), else None.
    eligible: int | None
    transitions: tuple[Transition, ...]

    @property
    def qid(self) -> str:
        return self.spec.qid

    def to_json(self) -> dict[str, Any]:
        return {
            **self.spec.to_json(),
            "owner": self.owner,
            "state": self.state,
            "eligible": self.eligible,
            "transitions": [t.to_json() for t in self.transitions],
        }

    @staticmethod
    def from_json(value: Any) -> Question:
        v = QUESTION_SHAPE.check(value, "question")
        spec = _spec_from_checked({k: v[k] for k in QUESTION_SPEC_SHAPE.fields if k in v})
        return Question(
            spec=spec,
            owner=v["owner"],
            state=v["state"],
            eligible=v["eligible"],
            transitions=tuple(
                Transition(t["state"], t["tx"], t["at"], t["reason"]) for t in v["transitions"]
            ),
        )


def question_binding(spec: QuestionSpec, election_key: Point | None) -> dict[str, Any]:
    """What a ``mvote.ballot.v2`` ballot binds of its question: the id, title, option labels,
    rule, eligibility, mode and (secret mode) the election key of the question's ceremony.
    Precondition: ``election_key`` is the key of ``spec.election``'s ceremony (None in open
    mode)."""
    return {
        "type": QUESTION_BINDING_TYPE,
        "qid": spec.qid,
        "title": spec.title,
        "options": list(spec.options),
        "rule": spec.rule.to_json(),
        "eligibility": spec.eligibility.to_json(),
        "mode": spec.mode,
        "election_key": None if election_key is None else election_key.hex(),
    }


def question_hash(spec: QuestionSpec, election_key: Point | None) -> str:
    """SHA-256 (hex) of the canonical bytes of ``question_binding(spec, election_key)``."""
    return encoding.digest(question_binding(spec, election_key)).hex()


# --- rosters ---

ROSTER_SPEC_SHAPE = Object({"rid": IDENTIFIER, "title": Text(1, 200)})
# A full batch (arguments plus one write per entry, ~240 bytes each) must fit the node's 1 MiB
# transaction limit with room for the endorsements.
MAX_ROSTER_BATCH = 2000
ROSTER_BATCH_SHAPE = Object(
    {
        "rid": IDENTIFIER,
        "entries": Array(HASH_HEX, min_len=1, max_len=MAX_ROSTER_BATCH, ascending=True),
    }
)
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


def roster_digest_after(digest_hex: str, entries: list[str]) -> str:
    """digest' = SHA-256(digest || SHA-256(canonical JSON of the batch's entries))."""
    batch_hash = encoding.digest(entries)
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
        Opaque(), nested(lambda e: e.to_json(), EncryptedBallot.from_json)
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
    return _ballot_type(value).from_json(value, path)


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
    body: Credential = declared(  # noqa: RUF009
        CREDENTIAL_SHAPE, nested(lambda c: c.to_json(), Credential.from_json)
    )
    sig: str = declared(SIG_HEX)


SIGNED_CREDENTIAL_SHAPE = SignedCredential.SHAPE


@record("$")
@dataclass(frozen=True)
class CastRequest(Record):
    """The argument of ``Cast``: the signed ballot plus what eligibility asks for."""

    ballot: AnyBallot = declared(  # noqa: RUF009
        ANY_BALLOT_SHAPE, nested(lambda b: b.to_json(), ballot_from_json)
    )
    sig: str = declared(SIG_HEX)
    credential: SignedCredential | None = declared(  # noqa: RUF009
        Nullable(SIGNED_CREDENTIAL_SHAPE),
        optional(nested(lambda c: c.to_json(), SignedCredential.from_json)),
        default=None,
    )
    code: str | None = declared(Nullable(Text(4, 64, pattern=r"[A-Za-z0-9-]+")), default=None)


CAST_SHAPE = CastRequest.SHAPE


@record("$")
@dataclass(frozen=True)
class SpoilRequest(Record):
    """The argument of ``SpoilBallot`` (cast-or-audit): a prepared secret ballot, signed and with
    what eligibility asks for exactly as for Cast, and its opening: the nonce key every nonce of
    the ballot derives from (``crypto.ballot.nonce_key``; never the device's seed)."""

    request: CastRequest = declared(  # noqa: RUF009
        CAST_SHAPE, nested(lambda r: r.to_json(), CastRequest.from_json)
    )
    nonce_key: str = declared(Hex(32))


SPOIL_SHAPE = SpoilRequest.SHAPE


def _signed_credential_from_json(value: Any) -> SignedCredential:
    return SignedCredential(Credential.from_json(value["body"]), value["sig"])


# A stored record was checked whole by its shape: the nested parts are read at their own paths.
_BALLOT_CODEC = nested(lambda b: b.to_json(), lambda v, _: ballot_from_json(v))
_CREDENTIAL_CODEC = optional(
    nested(lambda c: c.to_json(), lambda v, _: _signed_credential_from_json(v))
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


OUTCOME_SHAPE = Tagged(
    {
        "plurality": Object(
            {"kind": Const("plurality"), "winners": Array(Int(0, MAX_OPTIONS - 1))}
        ),
        "yesno": Object(
            {
                "kind": Const("yesno"),
                "approvals": COUNT,
                "rejections": COUNT,
                "threshold_bp": BASIS_POINTS,
                "approval_met": Bool(),
                "turnout_met": Bool(),
                "passed": Bool(),
            }
        ),
    }
)

#: How a secret tally was decrypted (docs/records.md, "Tally of a secret question").
DECRYPTION_SHAPE = Object(
    {
        "ceremony": IDENTIFIER,
        # The present trustees (ascending) and their Lagrange coefficients (scalar hex), aligned.
        "trustees": Array(Int(1, 255), min_len=0, max_len=255, ascending=True),
        "lagrange": Array(Hex(32), min_len=0, max_len=255),
        # Per option: the homomorphic sum of every ballot (Ciphertext JSON).
        "totals": Array(Opaque(), min_len=2, max_len=MAX_OPTIONS),
        # Per present trustee: {"trustee", "partials": [PartialDecryption JSON or null per option]}.
        "partials": Array(Opaque(), min_len=0, max_len=255),
    }
)


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
    #: ``rules.outcome`` of the counts (OUTCOME_SHAPE).
    outcome: dict[str, Any] = declared(OUTCOME_SHAPE)  # noqa: RUF009 (a field)
    tx: str = declared(TX_ID)
    at: int = declared(TIME)
    #: Secret mode only (DECRYPTION_SHAPE); absent in open mode, so open tallies keep their bytes.
    decryption: dict[str, Any] | None = declared(  # noqa: RUF009 (a field)
        DECRYPTION_SHAPE, default=None, absent_when_none=True
    )


TALLY_SHAPE = TallyRecord.SHAPE
