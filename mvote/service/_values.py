"""The voting service's requests and answers, typed: what crosses from a transport (gRPC, REST)
into :class:`mvote.service.VotingService` and back. Records the ledger holds keep their own
classes (``Question``, ``Participation``, ``Receipt``); these values add only what the service
itself decides (paging, who called, a cast in flight)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from mvote.chaincode._records import FinalResults, LiveResults, Question, TallyRecord
from mvote.client._errors import CommitStatusError
from mvote.client._voting import CastResult

__all__ = [
    "Caller",
    "ChainInfo",
    "PendingCast",
    "PostingKind",
    "QuestionFilter",
    "QuestionPage",
    "Results",
]

#: How long a transport waits for a cast's commit before answering COMMIT_STATUS_ERROR.
COMMIT_WAIT_SECONDS = 60.0
#: The most questions one page holds, and the default page size.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class Caller:
    """Who made a call: the integrator (its institution's MSP id and its certificate's subject;
    both empty for a public caller, who has no client certificate) and the source address."""

    msp_id: str
    subject: str
    source: str

    @property
    def public(self) -> bool:
        """A caller of the public address (no client certificate)."""
        return not self.msp_id

    @property
    def integrator(self) -> str:
        """``MSPID/subject``: the key of the per-integrator limits and of the logs."""
        return f"{self.msp_id}/{self.subject}"


@dataclass(frozen=True)
class QuestionFilter:
    """Which questions a listing returns: every given criterion must hold. ``search`` matches a
    substring of the title, description or an option label (case-folded, NFC)."""

    state: str | None = None
    owner: str | None = None
    mode: str | None = None
    eligibility: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class QuestionPage:
    """One page of questions in qid order; ``next_page_token`` is empty on the last page."""

    questions: tuple[Question, ...]
    next_page_token: str
    total: int


@dataclass(frozen=True)
class Results:
    """A question's results: live counts of an OPEN (or CLOSED, untallied) open-mode question,
    only the ballot count of a secret one, or the final tally (``final``; ``tally`` as recorded)."""

    qid: str
    state: str
    final: bool
    ballots: int | None
    counts: tuple[int, ...] | None
    tally: TallyRecord | None

    @staticmethod
    def from_contract(value: LiveResults | FinalResults) -> Results:
        """The contract's ``GetResults`` answer, decoded (mvote.client.VotingContract)."""
        match value:
            case FinalResults(qid=qid, state=state, tally=tally):
                return Results(qid, state, True, tally.ballots, None, tally)
            case LiveResults(qid=qid, state=state, ballots=ballots, counts=counts):
                return Results(qid, state, False, ballots, counts, None)


class PostingKind(enum.StrEnum):
    """The trustee postings the service relays (each signed by the trustee's own key)."""

    DEALING = "dealing"
    CHECK = "check"
    DECRYPTION = "decryption"


@dataclass(frozen=True)
class ChainInfo:
    """The channel, its genesis block hash (the trust anchor) and the committed height."""

    channel: str
    genesis_hash: str
    height: int


@dataclass
class PendingCast:
    """A ballot the service checked and handed to its sink: its question, tracker and voter are
    known at once; ``outcome`` resolves to the committed :class:`CastResult`, or to the typed
    refusal (the contract's code) or fault."""

    qid: str
    tracker: str
    voter: str
    outcome: Future[CastResult]

    def result(self, timeout: float | None = None) -> CastResult:
        """The committed ballot; raises its refusal, or TimeoutError after ``timeout`` s."""
        return self.outcome.result(timeout)

    def committed(self, wait: float) -> CastResult:
        """The committed ballot, waiting at most ``wait`` seconds; raises its refusal, or
        CommitStatusError (DEADLINE_EXCEEDED, field ``request``) when it has not committed by
        then (it may still commit: the receipt of the voter's ballot tells)."""
        try:
            return self.outcome.result(wait)
        except TimeoutError as exc:
            raise CommitStatusError(
                f"request: ballot {self.tracker} did not commit within {wait:g} s; "
                "it may still commit (GetReceipt tells)",
                grpc_code="DEADLINE_EXCEEDED",
                field="request",
            ) from exc


def page_of(
    questions: Sequence[Question], page_token: str, page_size: int
) -> tuple[tuple[Question, ...], str]:
    """The page after ``page_token`` (the last qid of the previous page; empty: the first) and
    the next token. Precondition: ``questions`` sorted by qid, 1 <= page_size <= MAX_PAGE_SIZE."""
    start = 0
    if page_token:
        start = next((i for i, q in enumerate(questions) if q.qid > page_token), len(questions))
    page = tuple(questions[start : start + page_size])
    more = start + page_size < len(questions)
    return page, (page[-1].qid if more and page else "")
