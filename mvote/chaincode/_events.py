"""What the contract emits and answers: its chaincode events and the responses of the functions
that write, each declared once (shape, dataclass and JSON codec, as the records of ``_records``).

Both are part of the chain: the event and the response payload are inside the endorsed
transaction, so their bytes are as fixed as a state record's. An event's name (Fabric's
``ChaincodeEvent.event_name``) is its record's ``PATH``. docs/records.md lists them with the
contract's functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ._errors import InvalidField, Refusal
from ._records import (
    COUNT,
    HASH_HEX,
    IDENTIFIER,
    MAX_OPTIONS,
    MSP_ID,
    QUESTION_STATES,
    REASON,
    TX_ID,
    Opaque,
    QuestionState,
)
from ._schema import TUPLE, Array, Bool, Int, OneOf, Record, declared, nested, record
from ._secret import CEREMONY_STATES, CeremonyState

_TRUSTEE = Int(1, 255)
_SHARD = Int(0, 1023)
_TRUSTEES = Array(_TRUSTEE, max_len=255)
#: A ceremony's state as an event reports it: its record's states, or CANCELLED (the record is
#: deleted by CancelCeremony, so no record holds that state).
CeremonyEventState = CeremonyState | Literal["CANCELLED"]
_CEREMONY_EVENT_STATES: tuple[CeremonyEventState, ...] = (*CEREMONY_STATES, "CANCELLED")


class Event(Record):
    """A chaincode event: its ``name`` (the record's path) and its value."""

    @property
    def name(self) -> str:
        return self.PATH


# --- a batch's outcomes (CastBatch's event and response) ---


@record("ballots[]")
@dataclass(frozen=True)
class BatchAccepted(Record):
    """Ballot ``index`` of a batch, recorded as Cast records it."""

    index: int = declared(Int(0, 255))
    qid: str = declared(IDENTIFIER)
    tracker: str = declared(HASH_HEX)
    shard: int = declared(_SHARD)


@dataclass(frozen=True)
class BatchRefused:
    """Ballot ``index`` of a batch, refused with the refusal Cast gives it alone; it wrote
    nothing."""

    index: int
    refusal: Refusal

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "refused": self.refusal.to_json()}


BatchOutcome = BatchAccepted | BatchRefused


def _outcomes_to_json(outcomes: tuple[BatchOutcome, ...]) -> list[Any]:
    return [o.to_json() for o in outcomes]


def _outcomes_from_json(value: Any, path: str) -> tuple[BatchOutcome, ...]:
    """The outcomes of a batch, in argument order: each ``index`` its position."""
    if not isinstance(value, list) or len(value) > 256:
        raise InvalidField(f"{path}: expected a list of at most 256 outcomes", field=path)
    outcomes: list[BatchOutcome] = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if isinstance(item, dict) and set(item) == {"index", "refused"}:
            outcome: BatchOutcome = BatchRefused(item["index"], Refusal.from_json(item["refused"]))
        else:
            outcome = BatchAccepted.from_json(item, where)
        if outcome.index != i:
            raise InvalidField(f"{where}.index: expected {i}", field=f"{where}.index")
        outcomes.append(outcome)
    return tuple(outcomes)


_OUTCOMES = nested(_outcomes_to_json, _outcomes_from_json)


# --- events ---


@record("QuestionCreated")
@dataclass(frozen=True)
class QuestionCreated(Event):
    qid: str = declared(IDENTIFIER)
    owner: str = declared(MSP_ID)


@record("QuestionStateChanged")
@dataclass(frozen=True)
class QuestionStateChanged(Event):
    qid: str = declared(IDENTIFIER)
    state: QuestionState = declared(OneOf(QUESTION_STATES))  # noqa: RUF009 (a field)


@record("RosterChanged")
@dataclass(frozen=True)
class RosterChanged(Event):
    rid: str = declared(IDENTIFIER)
    count: int = declared(COUNT)
    sealed: bool = declared(Bool())


@record("BallotCast")
@dataclass(frozen=True)
class BallotCast(Event):
    qid: str = declared(IDENTIFIER)
    tracker: str = declared(HASH_HEX)
    shard: int = declared(_SHARD)


@record("ShardAggregated")
@dataclass(frozen=True)
class ShardAggregated(Event):
    qid: str = declared(IDENTIFIER)
    shard: int = declared(_SHARD)
    ballots: int = declared(COUNT)
    done: bool = declared(Bool())


@record("DecryptionPosted")
@dataclass(frozen=True)
class DecryptionPosted(Event):
    qid: str = declared(IDENTIFIER)
    trustee: int = declared(_TRUSTEE)


@record("BallotsCast")
@dataclass(frozen=True)
class BallotsCast(Event):
    """A CastBatch: how many ballots it recorded, and every ballot's outcome."""

    accepted: int = declared(Int(0, 256))
    ballots: tuple[BatchOutcome, ...] = declared(Opaque(), _OUTCOMES)


@record("BallotSpoiled")
@dataclass(frozen=True)
class BallotSpoiledEvent(Event):
    qid: str = declared(IDENTIFIER)
    tracker: str = declared(HASH_HEX)


@record("CeremonyChanged")
@dataclass(frozen=True)
class CeremonyChanged(Event):
    cid: str = declared(IDENTIFIER)
    state: CeremonyEventState = declared(OneOf(_CEREMONY_EVENT_STATES))  # noqa: RUF009 (a field)


@record("DealingPosted")
@dataclass(frozen=True)
class DealingPosted(Event):
    cid: str = declared(IDENTIFIER)
    trustee: int = declared(_TRUSTEE)


@record("CeremonyCheckPosted")
@dataclass(frozen=True)
class CeremonyCheckPosted(Event):
    cid: str = declared(IDENTIFIER)
    trustee: int = declared(_TRUSTEE)


# --- responses of the functions that write (the others answer with a record) ---


@record("Cast")
@dataclass(frozen=True)
class CastResponse(Record):
    """``Cast``: the ballot's question, tracker and shard, and the transaction."""

    qid: str = declared(IDENTIFIER)
    tracker: str = declared(HASH_HEX)
    shard: int = declared(_SHARD)
    tx: str = declared(TX_ID)


@record("CastBatch")
@dataclass(frozen=True)
class CastBatchResponse(Record):
    """``CastBatch``: how many ballots it recorded, every ballot's outcome, the transaction."""

    accepted: int = declared(Int(0, 256))
    ballots: tuple[BatchOutcome, ...] = declared(Opaque(), _OUTCOMES)
    tx: str = declared(TX_ID)


@record("SpoilBallot")
@dataclass(frozen=True)
class SpoilResponse(Record):
    """``SpoilBallot``: the audited ballot's question and tracker, the choices its opening
    shows, and the transaction."""

    qid: str = declared(IDENTIFIER)
    tracker: str = declared(HASH_HEX)
    choices: tuple[int, ...] = declared(
        Array(Int(0, MAX_OPTIONS - 1), max_len=MAX_OPTIONS, ascending=True), TUPLE
    )
    tx: str = declared(TX_ID)


@record("CancelCeremony")
@dataclass(frozen=True)
class CeremonyCancelled(Record):
    """``CancelCeremony``: the ceremony, its reason, and the trustees whose dealings and checks
    were deleted with it."""

    cid: str = declared(IDENTIFIER)
    state: Literal["CANCELLED"] = declared(OneOf(("CANCELLED",)))
    reason: str = declared(REASON)
    dealt: tuple[int, ...] = declared(_TRUSTEES, TUPLE)
    checked: tuple[int, ...] = declared(_TRUSTEES, TUPLE)
    tx: str = declared(TX_ID)


@record("IsOnRoster")
@dataclass(frozen=True)
class RosterMembership(Record):
    """``IsOnRoster``: whether the voter hash ``entry`` is on roster ``rid``."""

    rid: str = declared(IDENTIFIER)
    entry: str = declared(HASH_HEX)
    listed: bool = declared(Bool())


@record("PostDecryption")
@dataclass(frozen=True)
class DecryptionAccepted(Record):
    """``PostDecryption``: the question and trustee whose partial decryptions were recorded."""

    qid: str = declared(IDENTIFIER)
    trustee: int = declared(_TRUSTEE)
    tx: str = declared(TX_ID)


@record("PostDealing")
@dataclass(frozen=True)
class DealingAccepted(Record):
    """``PostDealing``: the ceremony and trustee whose dealing was recorded."""

    cid: str = declared(IDENTIFIER)
    trustee: int = declared(_TRUSTEE)
    tx: str = declared(TX_ID)


@record("PostCheck")
@dataclass(frozen=True)
class CheckAccepted(Record):
    """``PostCheck``: the trustee's check recorded, and the dealers its complaints found at
    fault (none: an acceptance)."""

    cid: str = declared(IDENTIFIER)
    trustee: int = declared(_TRUSTEE)
    faulty: tuple[int, ...] = declared(Array(_TRUSTEE, max_len=254), TUPLE)
    tx: str = declared(TX_ID)
