"""The voting contract, typed: one method per contract function, records in and out.

:class:`VotingContract` speaks to the contract through a :class:`Transactor`, anything that can
run a function as one identity: :class:`GatewayTransactor` over a Fabric Gateway ``Contract``
(the embedded node or real Fabric), :meth:`mvote.client._channel.GatewayChannel.acting_as`, or
the demo's in-process ledger. Function names come from one enumeration shared with the
contract's function table. A refusal raises the typed error the contract or the node named
(``AlreadyVoted``, ``NotEligible``, ...), with the Gateway's stage error as its ``__cause__``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField
from mvote.chaincode._errors import MvoteError as ChaincodeError
from mvote.chaincode._events import (
    CastResponse,
    CeremonyCancelled,
    CheckAccepted,
    DealingAccepted,
    DecryptionAccepted,
    RosterMembership,
    SpoilResponse,
)
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import (
    AnyAggregate,
    BallotRecord,
    CastRequest,
    Participation,
    Question,
    QuestionSpec,
    Results,
    Roster,
    SpoilRequest,
    TallyRecord,
    aggregate_from_json,
    results_from_json,
)
from mvote.chaincode._secret import Ceremony
from mvote.client._contract import Contract
from mvote.client._errors import BadReply, GatewayError, NotVerified
from mvote.client._verified import ChainReads, VerifiedChain, VerifiedRecords

__all__ = [
    "CastResult",
    "Committed",
    "GatewayTransactor",
    "Recorded",
    "SpoilResult",
    "Transactor",
    "VotingContract",
]

Arg = bytes | str
T = TypeVar("T")
V = TypeVar("V", covariant=True)


@dataclass(frozen=True)
class Committed:
    """A VALID transaction: its decoded result and where it committed."""

    result: Any
    transaction_id: str
    block_number: int


@dataclass(frozen=True)
class Recorded(Generic[V]):
    """What a committed write returned, typed, and where it committed."""

    value: V
    transaction_id: str
    block_number: int


@dataclass(frozen=True)
class CastResult:
    """A committed ballot: its question, tracker (hash of the canonical ballot) and shard, and
    where it committed; ``ballot_index`` is its place among a CastBatch's ballots (None for a
    Cast)."""

    qid: str
    tracker: str
    shard: int
    transaction_id: str
    block_number: int
    ballot_index: int | None = None


@dataclass(frozen=True)
class SpoilResult:
    """A committed SpoilBallot: the audited ballot's question and tracker, the choices its
    opening shows (as the contract read them), and where it committed."""

    qid: str
    tracker: str
    choices: tuple[int, ...]
    transaction_id: str
    block_number: int


class Transactor(Protocol):
    """Runs contract functions as one identity on one channel."""

    @property
    def channel_name(self) -> str: ...

    def transact(self, function: str, *args: Arg) -> Committed:
        """Endorse, order and wait for the commit; a refusal raises its typed error."""
        ...

    def query(self, function: str, *args: Arg) -> Any:
        """Evaluate on a peer (nothing is committed); the decoded result."""
        ...

    def block_of(self, transaction_id: str) -> int:
        """The block of a transaction the ledger already holds."""
        ...


def decode_result(payload: bytes) -> Any:
    """The contract's result: canonical JSON, or nothing."""
    return json.loads(payload) if payload else None


def typed(exc: GatewayError) -> Exception:
    """The typed error a Gateway error carries (a chaincode or node refusal), else itself."""
    return exc.cause if exc.cause is not None else exc


class GatewayTransactor:
    """A :class:`Transactor` over a Fabric Gateway ``Contract`` (one identity, one channel)."""

    def __init__(self, contract: Contract, *, commit_timeout: float | None = 60.0) -> None:
        self.contract = contract
        self.commit_timeout = commit_timeout

    @property
    def channel_name(self) -> str:
        return self.contract.network.name

    def transact(self, function: str, *args: Arg) -> Committed:
        try:
            submitted = self.contract.submit_async(function, args)
            status = submitted.status(self.commit_timeout).require_valid()
        except GatewayError as exc:
            raise typed(exc) from exc
        return Committed(
            decode_result(submitted.result), status.transaction_id, status.block_number
        )

    def query(self, function: str, *args: Arg) -> Any:
        try:
            return decode_result(self.contract.evaluate(function, args))
        except GatewayError as exc:
            raise typed(exc) from exc

    def block_of(self, transaction_id: str) -> int:
        try:
            return self.contract.network.new_commit(transaction_id).status().block_number
        except GatewayError as exc:
            raise typed(exc) from exc


class VotingContract:
    """The mvote contract's functions as typed methods over a :class:`Transactor`.

    ``reads``: where :meth:`verified` gets the chain it verifies from the trust anchor
    (mvote.client._verified); without it, every recipe that acts on chain state refuses
    (``NOT_VERIFIED``, check ``trust_anchor``). The ``get_*`` methods are the node's answers,
    unverified: for display and for driving an operator's writes, never for acting on."""

    def __init__(self, transactor: Transactor, *, reads: ChainReads | None = None) -> None:
        self.transactor = transactor
        self.reads = reads

    def _reads(self) -> ChainReads:
        if self.reads is None:
            raise NotVerified(
                "no trust anchor (genesis block hash) was given: the chain state cannot be "
                "verified, and nothing is done with the node's unverified answers",
                check="trust_anchor",
            )
        return self.reads

    def verified(self) -> VerifiedChain:
        """The chain now, verified from the trust anchor (every block from block 0 fetched
        and checked); NotVerified naming the failed check."""
        return self._reads().verify()

    def records(self) -> VerifiedRecords:
        """Verified reads the cheaper way available (endorsed reads, a constant cost per read,
        when proposals can be sent; else the verified chain); NotVerified naming the failed
        check."""
        return self._reads().records()

    @classmethod
    def over(
        cls,
        contract: Contract,
        *,
        commit_timeout: float | None = 60.0,
        reads: ChainReads | None = None,
    ) -> VotingContract:
        """The voting contract over a Gateway ``network.contract(chaincode)``."""
        return cls(GatewayTransactor(contract, commit_timeout=commit_timeout), reads=reads)

    @property
    def channel_name(self) -> str:
        return self.transactor.channel_name

    # --- writes ------------------------------------------------------------------------------

    def _write(self, decode: Callable[[Any], T], function: FunctionName, *args: Arg) -> Recorded[T]:
        """Run ``function``, and decode its result once with its record's ``decode``."""
        done = self.transactor.transact(function, *args)
        value = reply(decode, done.result, function)
        return Recorded(value, done.transaction_id, done.block_number)

    def create_question(self, spec: QuestionSpec) -> Recorded[Question]:
        spec_bytes = encoding.encode(spec.to_json())
        return self._write(Question.from_json, FunctionName.CREATE_QUESTION, spec_bytes)

    def open_question(self, qid: str) -> Recorded[Question]:
        return self._write(Question.from_json, FunctionName.OPEN_QUESTION, qid)

    def close_question(self, qid: str, reason: str | None = None) -> Recorded[Question]:
        args = (qid,) if reason is None else (qid, reason)
        return self._write(Question.from_json, FunctionName.CLOSE_QUESTION, *args)

    def cancel_question(self, qid: str, reason: str) -> Recorded[Question]:
        return self._write(Question.from_json, FunctionName.CANCEL_QUESTION, qid, reason)

    def create_roster(self, rid: str, title: str) -> Recorded[Roster]:
        spec = encoding.encode({"rid": rid, "title": title})
        return self._write(Roster.from_json, FunctionName.CREATE_ROSTER, spec)

    def add_roster_entries(self, rid: str, entries: Sequence[str]) -> Recorded[Roster]:
        """Precondition: ``entries`` is one batch (``records.roster_batches``), sorted hashes."""
        batch = encoding.encode({"rid": rid, "entries": list(entries)})
        return self._write(Roster.from_json, FunctionName.ADD_ROSTER_ENTRIES, batch)

    def seal_roster(self, rid: str) -> Recorded[Roster]:
        return self._write(Roster.from_json, FunctionName.SEAL_ROSTER, rid)

    def cast(self, request: CastRequest) -> CastResult:
        done = self._write(
            CastResponse.from_json, FunctionName.CAST, encoding.encode(request.to_json())
        )
        r = done.value
        return CastResult(r.qid, r.tracker, r.shard, done.transaction_id, done.block_number)

    def spoil_ballot(self, request: SpoilRequest) -> SpoilResult:
        """Record a prepared secret ballot as audited (spoiled), with its opening."""
        done = self._write(
            SpoilResponse.from_json, FunctionName.SPOIL_BALLOT, encoding.encode(request.to_json())
        )
        r = done.value
        return SpoilResult(r.qid, r.tracker, r.choices, done.transaction_id, done.block_number)

    def cancel_ceremony(self, cid: str, reason: str) -> Recorded[CeremonyCancelled]:
        """Cancel a ceremony still DEALING (its owner only); it can then be created again."""
        return self._write(CeremonyCancelled.from_json, FunctionName.CANCEL_CEREMONY, cid, reason)

    def aggregate(self, qid: str, shard: int, limit: int | None = None) -> Recorded[AnyAggregate]:
        """Add the next ``limit`` ballots of a closed question's shard into its aggregate."""
        args = (qid, str(shard)) if limit is None else (qid, str(shard), str(limit))
        return self._write(aggregate_from_json, FunctionName.AGGREGATE, *args)

    def tally(self, qid: str) -> Recorded[TallyRecord]:
        return self._write(TallyRecord.from_json, FunctionName.TALLY, qid)

    def create_ceremony(self, spec: bytes) -> Recorded[Ceremony]:
        """Precondition: ``spec`` from ``mvote.client._trustee.ceremony_spec``."""
        return self._write(Ceremony.from_json, FunctionName.CREATE_CEREMONY, spec)

    def post_dealing(self, posting: bytes) -> Recorded[DealingAccepted]:
        return self._write(DealingAccepted.from_json, FunctionName.POST_DEALING, posting)

    def post_check(self, posting: bytes) -> Recorded[CheckAccepted]:
        return self._write(CheckAccepted.from_json, FunctionName.POST_CHECK, posting)

    def complete_ceremony(self, cid: str) -> Recorded[Ceremony]:
        return self._write(Ceremony.from_json, FunctionName.COMPLETE_CEREMONY, cid)

    def post_decryption(self, posting: bytes) -> Recorded[DecryptionAccepted]:
        return self._write(DecryptionAccepted.from_json, FunctionName.POST_DECRYPTION, posting)

    # --- reads -------------------------------------------------------------------------------

    def _read(self, decode: Callable[[Any], T], function: FunctionName, *args: Arg) -> T:
        """Evaluate ``function``, and decode its answer once with its record's ``decode``."""
        return reply(decode, self.transactor.query(function, *args), function)

    def get_question(self, qid: str) -> Question:
        return self._read(Question.from_json, FunctionName.GET_QUESTION, qid)

    def list_questions(self) -> list[Question]:
        return list(
            self._read(_list_of(Question.from_json, "questions"), FunctionName.LIST_QUESTIONS)
        )

    def get_roster(self, rid: str) -> Roster:
        return self._read(Roster.from_json, FunctionName.GET_ROSTER, rid)

    def is_on_roster(self, rid: str, entry: str) -> RosterMembership:
        return self._read(RosterMembership.from_json, FunctionName.IS_ON_ROSTER, rid, entry)

    def get_ballot(self, qid: str, voter: str) -> BallotRecord:
        return self._read(BallotRecord.from_json, FunctionName.GET_BALLOT, qid, voter)

    def get_history(self, voter: str) -> list[Participation]:
        decode = _list_of(Participation.from_json, "history")
        return list(self._read(decode, FunctionName.GET_HISTORY, voter))

    def get_aggregate(self, qid: str, shard: int) -> AnyAggregate:
        return self._read(aggregate_from_json, FunctionName.GET_AGGREGATE, qid, str(shard))

    def get_tally(self, qid: str) -> TallyRecord:
        return self._read(TallyRecord.from_json, FunctionName.GET_TALLY, qid)

    def get_results(self, qid: str) -> Results:
        """Live counts (LiveResults) before the tally, the tally (FinalResults) after it."""
        return self._read(results_from_json, FunctionName.GET_RESULTS, qid)

    def get_ceremony(self, cid: str) -> Ceremony:
        return self._read(Ceremony.from_json, FunctionName.GET_CEREMONY, cid)


def reply(decode: Callable[[Any], T], value: Any, function: FunctionName) -> T:
    """``value`` (a contract function's decoded JSON answer) as its record, decoded once;
    BadReply naming the first field that does not match (the record's own error as its
    cause)."""
    try:
        return decode(value)
    except ChaincodeError as exc:
        field = exc.field if exc.field is not None else "$"
        raise BadReply(f"{function}: {exc.message}", field=field) from exc


def _list_of(decode: Callable[[Any, str], T], path: str) -> Callable[[Any], tuple[T, ...]]:
    """A decoder of a JSON array of ``decode`` values; item ``i`` is read at ``path[i]``."""

    def decode_all(value: Any) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise InvalidField(f"{path}: expected an array", field=path)
        return tuple(decode(item, f"{path}[{i}]") for i, item in enumerate(value))

    return decode_all
