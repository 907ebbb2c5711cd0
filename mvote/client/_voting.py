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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from mvote.chaincode import encoding
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import CastRequest, Question, QuestionSpec, Roster, SpoilRequest
from mvote.chaincode._secret import Ceremony
from mvote.client._contract import Contract
from mvote.client._errors import GatewayError, NotVerified
from mvote.client._verified import ChainReads, VerifiedChain, VerifiedRecords

__all__ = [
    "CastResult",
    "Committed",
    "GatewayTransactor",
    "JsonObject",
    "Recorded",
    "SpoilResult",
    "Transactor",
    "VotingContract",
]

Arg = bytes | str
#: A record the contract returns as a JSON object and that has no record class (yet).
JsonObject = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Committed:
    """A VALID transaction: its decoded result and where it committed."""

    result: Any
    transaction_id: str
    block_number: int


@dataclass(frozen=True)
class Recorded(Generic[T]):
    """What a committed write returned, typed, and where it committed."""

    value: T
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

    def _write(self, function: FunctionName, *args: Arg) -> Committed:
        return self.transactor.transact(function, *args)

    def _question(self, function: FunctionName, *args: Arg) -> Recorded[Question]:
        done = self._write(function, *args)
        return Recorded(Question.from_json(done.result), done.transaction_id, done.block_number)

    def _roster(self, function: FunctionName, *args: Arg) -> Recorded[Roster]:
        done = self._write(function, *args)
        return Recorded(Roster.from_json(done.result), done.transaction_id, done.block_number)

    def _json(self, function: FunctionName, *args: Arg) -> Recorded[Any]:
        done = self._write(function, *args)
        return Recorded(done.result, done.transaction_id, done.block_number)

    def create_question(self, spec: QuestionSpec) -> Recorded[Question]:
        return self._question(FunctionName.CREATE_QUESTION, encoding.encode(spec.to_json()))

    def open_question(self, qid: str) -> Recorded[Question]:
        return self._question(FunctionName.OPEN_QUESTION, qid)

    def close_question(self, qid: str, reason: str | None = None) -> Recorded[Question]:
        args = (qid,) if reason is None else (qid, reason)
        return self._question(FunctionName.CLOSE_QUESTION, *args)

    def cancel_question(self, qid: str, reason: str) -> Recorded[Question]:
        return self._question(FunctionName.CANCEL_QUESTION, qid, reason)

    def create_roster(self, rid: str, title: str) -> Recorded[Roster]:
        spec = encoding.encode({"rid": rid, "title": title})
        return self._roster(FunctionName.CREATE_ROSTER, spec)

    def add_roster_entries(self, rid: str, entries: Sequence[str]) -> Recorded[Roster]:
        """Precondition: ``entries`` is one batch (``records.roster_batches``), sorted hashes."""
        batch = encoding.encode({"rid": rid, "entries": list(entries)})
        return self._roster(FunctionName.ADD_ROSTER_ENTRIES, batch)

    def seal_roster(self, rid: str) -> Recorded[Roster]:
        return self._roster(FunctionName.SEAL_ROSTER, rid)

    def cast(self, request: CastRequest) -> CastResult:
        done = self._write(FunctionName.CAST, encoding.encode(request.to_json()))
        r = done.result
        return CastResult(
            r["qid"], r["tracker"], r["shard"], done.transaction_id, done.block_number
        )

    def spoil_ballot(self, request: SpoilRequest) -> SpoilResult:
        """Record a prepared secret ballot as audited (spoiled), with its opening."""
        done = self._write(FunctionName.SPOIL_BALLOT, encoding.encode(request.to_json()))
        r = done.result
        return SpoilResult(
            r["qid"], r["tracker"], tuple(r["choices"]), done.transaction_id, done.block_number
        )

    def cancel_ceremony(self, cid: str, reason: str) -> Recorded[JsonObject]:
        """Cancel a ceremony still DEALING (its owner only); it can then be created again."""
        return self._json(FunctionName.CANCEL_CEREMONY, cid, reason)

    def aggregate(self, qid: str, shard: int, limit: int | None = None) -> Recorded[JsonObject]:
        args = (qid, str(shard)) if limit is None else (qid, str(shard), str(limit))
        return self._json(FunctionName.AGGREGATE, *args)

    def tally(self, qid: str) -> Recorded[JsonObject]:
        return self._json(FunctionName.TALLY, qid)

    def create_ceremony(self, spec: bytes) -> Recorded[JsonObject]:
        """Precondition: ``spec`` from ``mvote.client._trustee.ceremony_spec``."""
        return self._json(FunctionName.CREATE_CEREMONY, spec)

    def post_dealing(self, posting: bytes) -> Recorded[JsonObject]:
        return self._json(FunctionName.POST_DEALING, posting)

    def post_check(self, posting: bytes) -> Recorded[JsonObject]:
        return self._json(FunctionName.POST_CHECK, posting)

    def complete_ceremony(self, cid: str) -> Recorded[JsonObject]:
        return self._json(FunctionName.COMPLETE_CEREMONY, cid)

    def post_decryption(self, posting: bytes) -> Recorded[JsonObject]:
        return self._json(FunctionName.POST_DECRYPTION, posting)

    # --- reads -------------------------------------------------------------------------------

    def _read(self, function: FunctionName, *args: Arg) -> Any:
        return self.transactor.query(function, *args)

    def get_question(self, qid: str) -> Question:
        return Question.from_json(self._read(FunctionName.GET_QUESTION, qid))

    def list_questions(self) -> list[Question]:
        return [Question.from_json(q) for q in self._read(FunctionName.LIST_QUESTIONS)]

    def get_roster(self, rid: str) -> Roster:
        return Roster.from_json(self._read(FunctionName.GET_ROSTER, rid))

    def is_on_roster(self, rid: str, entry: str) -> JsonObject:
        result: JsonObject = self._read(FunctionName.IS_ON_ROSTER, rid, entry)
        return result

    def get_ballot(self, qid: str, voter: str) -> JsonObject:
        result: JsonObject = self._read(FunctionName.GET_BALLOT, qid, voter)
        return result

    def get_history(self, voter: str) -> list[JsonObject]:
        result: list[JsonObject] = self._read(FunctionName.GET_HISTORY, voter)
        return result

    def get_aggregate(self, qid: str, shard: int) -> JsonObject:
        result: JsonObject = self._read(FunctionName.GET_AGGREGATE, qid, str(shard))
        return result

    def get_tally(self, qid: str) -> JsonObject:
        result: JsonObject = self._read(FunctionName.GET_TALLY, qid)
        return result

    def get_results(self, qid: str) -> JsonObject:
        result: JsonObject = self._read(FunctionName.GET_RESULTS, qid)
        return result

    def get_ceremony(self, cid: str) -> Ceremony:
        return Ceremony.from_json(self._read(FunctionName.GET_CEREMONY, cid))

    def get_ceremony_json(self, cid: str) -> JsonObject:
        """The ceremony record as the contract returns it (for display)."""
        result: JsonObject = self._read(FunctionName.GET_CEREMONY, cid)
        return result
