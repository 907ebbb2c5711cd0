"""The batching intake: many voters' signed ballots, submitted as CastBatch transactions.

A voter's ballot goes to one of ``batchers`` batchers, always the same one for the same voter key
(:meth:`Intake.batcher_of`). A batcher cuts a batch when it holds ``max_ballots`` ballots, when
the next ballot would take its requests over ``max_bytes``, or when its first ballot has waited
``max_wait`` seconds; it keeps up to ``in_flight`` batches endorsing and committing at once.

Each ballot gets its own future: a :class:`~mvote.client._voting.CastResult` naming its
transaction, block and place in the batch (``ballot_index``, what its receipt names), or the
typed refusal the contract gave that ballot alone (``AlreadyVoted``, ``NotEligible``, ...).

What the intake does on its own:

- **Two batches carrying the same voter** (the voter's ballots are in flight twice) conflict in
  MVCC as a whole: the later one is invalid and nothing of it is written. Its accepted ballots go
  back to their batcher and are sent again; the voter's second ballot is then refused
  ``ALREADY_VOTED``. Each voter's ballot commits at most once (the double-vote rule reads the
  voter's own ballot key); a ballot is sent at most ``max_attempts`` times.
- **A batch too large for a transaction** (the endorsing peer refuses it ``TOO_LARGE``, or the
  gRPC request is over its limit) is split in halves, each sent alone: split, never refused.
  Only a single ballot too large for a transaction is refused, with the peer's error.

The transaction is an ordinary Fabric endorser transaction (the Gateway's Endorse, Submit and
CommitStatus), so the intake drives the embedded node and real Fabric peers alike. The intake is
a :class:`~mvote.service.BallotSink` (``submit(request) -> Future[CastResult]``, ``close()``):
``VotingService(..., sink=Intake(contract))`` batches every ballot the service takes.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from fabric_protos.peer import transaction_pb2

from mvote.chaincode import _errors as chaincode_errors
from mvote.chaincode import encoding
from mvote.chaincode._contract import MAX_BATCH_BALLOTS
from mvote.chaincode._errors import InvalidField, MvoteError
from mvote.chaincode._events import BatchAccepted, BatchOutcome, BatchRefused, CastBatchResponse
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import CastRequest
from mvote.client._contract import Contract
from mvote.client._errors import CommitError, EndorseError, GatewayError
from mvote.client._voting import CastResult
from mvote.service._errors import IntakeClosed

__all__ = [
    "Accepted",
    "BallotOutcome",
    "Intake",
    "IntakeSettings",
    "Refused",
    "batch_outcomes",
]

#: Validation codes after which a batch's accepted ballots are sent again: the batch lost a race
#: for a key (another batch carried the same voter), nothing of it was written.
RESEND_CODES = frozenset(
    {transaction_pb2.MVCC_READ_CONFLICT, transaction_pb2.PHANTOM_READ_CONFLICT}
)
#: gRPC status codes of an Endorse whose request or transaction is over a size limit.
TOO_LARGE_GRPC = frozenset({"RESOURCE_EXHAUSTED"})


@dataclass(frozen=True)
class IntakeSettings:
    """How the intake batches. Each field is checked on construction (InvalidField naming it)."""

    #: Batchers (each a thread with its own queue); a voter is always routed to the same one.
    batchers: int = 2
    #: Ballots per transaction at most (the contract takes up to MAX_BATCH_BALLOTS): 128 cost
    #: ~11% less CPU per ballot than 64, and 256 committed the most ballots/s on 2 cores
    #: (docs/PERFORMANCE.md).
    max_ballots: int = MAX_BATCH_BALLOTS
    #: The requests of one batch, in bytes, at most; the transaction carries each ballot about
    #: twice (argument and record), so the default keeps it well under the node's 4 MiB.
    max_bytes: int = 1 << 20
    #: Seconds the first ballot of a batch waits for others at most.
    max_wait: float = 0.05
    #: Batches per batcher endorsing or committing at once.
    in_flight: int = 4
    #: Times one ballot is sent at most (the first send and the resends after MVCC conflicts).
    max_attempts: int = 5
    #: Seconds to wait for a batch's commit status.
    commit_timeout: float = 60.0

    def __post_init__(self) -> None:
        _check_range("batchers", self.batchers, 1, 64)
        _check_range("max_ballots", self.max_ballots, 1, MAX_BATCH_BALLOTS)
        _check_range("max_bytes", self.max_bytes, 1, 1 << 30)
        _check_range("in_flight", self.in_flight, 1, 64)
        _check_range("max_attempts", self.max_attempts, 1, 100)
        if not 0 <= self.max_wait <= 10:
            raise InvalidField(
                f"max_wait: expected 0..10 seconds, got {self.max_wait}", field="max_wait"
            )
        if not 0 < self.commit_timeout <= 3600:
            raise InvalidField(
                f"commit_timeout: expected 0..3600 seconds, got {self.commit_timeout}",
                field="commit_timeout",
            )


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise InvalidField(f"{name}: expected an integer {low}..{high}, got {value!r}", field=name)


# --- the batch's response ---------------------------------------------------------------------


#: A ballot the batch recorded, or refused with the refusal Cast gives it alone: the records the
#: contract declares for CastBatch's outcomes (chaincode/_events.py).
Accepted = BatchAccepted
Refused = BatchRefused
BallotOutcome = BatchOutcome


def batch_outcomes(payload: bytes, count: int) -> list[BallotOutcome]:
    """The per-ballot outcomes of a CastBatch response for ``count`` ballots, in argument order,
    read by the response's own record. InvalidField (or the encoding's errors) naming ``result``
    when the response is not one."""
    value = encoding.decode(payload, max_size=1 << 24, what="result")
    response = CastBatchResponse.from_json(value, "result")
    if len(response.ballots) != count:
        raise InvalidField(
            f"result.ballots: expected the outcomes of {count} ballots", field="result.ballots"
        )
    return list(response.ballots)


# --- the intake -------------------------------------------------------------------------------


@dataclass
class _Pending:
    """One voter's ballot on its way: the exact Cast request bytes and the voter's future."""

    raw: bytes
    voter: str
    future: Future[CastResult]
    attempts: int = 0
    queued: float = field(default_factory=time.monotonic)


class _Batcher:
    """One batcher: a queue, a thread that cuts batches, at most ``in_flight`` batches out."""

    def __init__(self, intake: Intake, number: int) -> None:
        self.intake = intake
        self.settings = intake.settings
        self.queue: queue.Queue[_Pending | None] = queue.Queue()
        self.slots = threading.BoundedSemaphore(self.settings.in_flight)
        self.carry: _Pending | None = None
        self.thread = threading.Thread(target=self._run, name=f"mvote-intake-{number}", daemon=True)

    def _run(self) -> None:
        while (batch := self._cut()) is not None:
            self.slots.acquire()
            self.intake.pool.submit(self._send_and_release, batch)

    def _cut(self) -> list[_Pending] | None:
        """The next batch; None once the intake is closing and nothing is left."""
        first = self.carry if self.carry is not None else self.queue.get()
        self.carry = None
        if first is None:
            return None
        batch, size = [first], len(first.raw)
        deadline = first.queued + self.settings.max_wait
        while len(batch) < self.settings.max_ballots:
            try:
                item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self.queue.put(None)  # closing: this batch goes, the next cut ends the thread
                break
            if size + len(item.raw) > self.settings.max_bytes:
                self.carry = item
                break
            batch.append(item)
            size += len(item.raw)
        return batch

    def _send_and_release(self, batch: list[_Pending]) -> None:
        try:
            self.intake.send(batch, self)
        finally:
            self.slots.release()

    def resend(self, pending: _Pending) -> None:
        pending.queued = time.monotonic()
        self.queue.put(pending)


class Intake:
    """Collects voter-signed ballots and submits them in CastBatch transactions through a
    Gateway ``contract`` (the client's identity endorses and signs; voters sign their ballots).

    ``contract`` may be several contracts of the same chaincode, each over its own Gateway
    connection: each batch goes over the one with the fewest batches out (the first in turn on
    a tie). A node serves each connection from one of its gateway processes (SO_REUSEPORT spreads
    connections, not calls, at random): one connection keeps one gateway process busy and leaves
    the others idle; over several, a slower gateway process's connections hold more batches out
    and the next batch goes elsewhere (docs/PERFORMANCE.md).

    Use as a context manager, or call :meth:`close`: it waits for every ballot's outcome."""

    def __init__(
        self, contract: Contract | Sequence[Contract], settings: IntakeSettings | None = None
    ) -> None:
        contracts = (contract,) if isinstance(contract, Contract) else tuple(contract)
        if not contracts:
            raise InvalidField("contract: expected at least one contract", field="contract")
        #: The contracts the batches go over (precondition: all of one chaincode), and how many
        #: batches each has out.
        self.contracts = contracts
        self._out = [0] * len(contracts)
        #: Transactions sent over each contract (for reports and tests).
        self.sent = [0] * len(contracts)
        self._turn = 0
        self.settings = settings or IntakeSettings()
        self.pool = ThreadPoolExecutor(
            self.settings.batchers * self.settings.in_flight, thread_name_prefix="mvote-batch"
        )
        self._batchers = [_Batcher(self, i) for i in range(self.settings.batchers)]
        self._lock = threading.Lock()
        self._open = True
        self._outstanding: set[Future[CastResult]] = set()
        self._idle = threading.Condition(self._lock)
        #: Transactions sent, and those sent again after an MVCC conflict or split (for reports).
        self.transactions = 0
        self.resent_ballots = 0
        self.splits = 0
        for batcher in self._batchers:
            batcher.thread.start()

    def batcher_of(self, voter: str) -> int:
        """The batcher of a voter key (hex): a fixed function of the key alone."""
        digest = hashlib.sha256(voter.encode()).digest()
        return int.from_bytes(digest[:8], "big") % len(self._batchers)

    def submit(self, request: CastRequest) -> Future[CastResult]:
        """Queue one voter's signed ballot; its future gives the committed CastResult or raises
        the ballot's typed refusal. IntakeClosed after :meth:`close`."""
        return self.submit_raw(encoding.encode(request.to_json()), request.ballot.voter)

    def submit_raw(self, raw: bytes, voter: str) -> Future[CastResult]:
        """As :meth:`submit`, for the exact Cast request bytes (as Cast takes them) of ``voter``
        (the ballot's voter key, hex; it only routes: the contract checks the ballot)."""
        future: Future[CastResult] = Future()
        with self._lock:
            if not self._open:
                raise IntakeClosed("intake: closed, no more ballots are taken", field="intake")
            self._outstanding.add(future)
        future.add_done_callback(self._done)
        self._batchers[self.batcher_of(voter)].queue.put(_Pending(raw, voter, future))
        return future

    def _done(self, future: Future[CastResult]) -> None:
        with self._lock:
            self._outstanding.discard(future)
            if not self._outstanding:
                self._idle.notify_all()

    def close(self) -> None:
        """Take no more ballots, wait until every queued ballot has its outcome, stop."""
        with self._lock:
            self._open = False
            while self._outstanding:
                self._idle.wait()
        for batcher in self._batchers:
            batcher.queue.put(None)
        for batcher in self._batchers:
            batcher.thread.join()
        self.pool.shutdown(wait=True)

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one batch ---------------------------------------------------------------------------

    def send(self, batch: list[_Pending], batcher: _Batcher) -> None:
        """Endorse, submit and commit one batch; resolve each ballot's future, or send it
        again (MVCC conflict), or split the batch (too large). Never raises."""
        try:
            self._send(batch, batcher)
        except Exception as exc:  # a fault of the intake itself: every ballot learns of it
            _fail(batch, exc)

    def _take_contract(self) -> int:
        """The index of the contract with the fewest batches out (ties: the next in turn),
        counted as one more out. The caller gives it back with :meth:`_give_back`."""
        with self._lock:
            count = len(self.contracts)
            start, self._turn = self._turn, (self._turn + 1) % count
            chosen = min(((start + i) % count for i in range(count)), key=self._out.__getitem__)
            self._out[chosen] += 1
            self.sent[chosen] += 1
            self.transactions += 1
        return chosen

    def _give_back(self, index: int) -> None:
        with self._lock:
            self._out[index] -= 1

    def _send(self, batch: list[_Pending], batcher: _Batcher) -> None:
        for pending in batch:
            pending.attempts += 1
        index = self._take_contract()
        try:
            self._send_on(self.contracts[index], batch, batcher)
        finally:
            self._give_back(index)

    def _send_on(self, contract: Contract, batch: list[_Pending], batcher: _Batcher) -> None:
        """Endorse, submit and commit ``batch`` through ``contract``."""
        args = [p.raw for p in batch]
        try:
            transaction = contract.new_proposal(FunctionName.CAST_BATCH, args).endorse()
        except EndorseError as exc:
            self._endorse_failed(batch, batcher, exc)
            return
        try:
            outcomes = batch_outcomes(transaction.result, len(batch))
        except MvoteError as exc:
            _fail(batch, exc)
            return
        accepted = _settle_refused(batch, outcomes)
        if not accepted:
            return
        try:
            status = transaction.submit().status(self.settings.commit_timeout)
        except GatewayError as exc:
            _fail([p for p, _ in accepted], exc)
            return
        if status.successful:
            for pending, outcome in accepted:
                pending.future.set_result(
                    CastResult(
                        outcome.qid,
                        outcome.tracker,
                        outcome.shard,
                        status.transaction_id,
                        status.block_number,
                        outcome.index,
                    )
                )
            return
        self._not_committed(accepted, batcher, status.code, status.error())

    def _not_committed(
        self,
        accepted: Sequence[tuple[_Pending, Accepted]],
        batcher: _Batcher,
        code: int,
        error: CommitError,
    ) -> None:
        """An invalid batch wrote nothing: after an MVCC conflict its ballots go again (each
        while it has attempts left), else each fails with the commit error."""
        for pending, _ in accepted:
            if code in RESEND_CODES and pending.attempts < self.settings.max_attempts:
                with self._lock:
                    self.resent_ballots += 1
                batcher.resend(pending)
            else:
                pending.future.set_exception(error)

    def _endorse_failed(self, batch: list[_Pending], batcher: _Batcher, exc: EndorseError) -> None:
        """A batch over a size limit is split in halves, each sent alone; any other endorsement
        failure (or a lone ballot too large) fails every ballot of the batch with it."""
        too_large = (exc.refusal is not None and exc.refusal.code == "TOO_LARGE") or (
            exc.grpc_code in TOO_LARGE_GRPC
        )
        if not too_large or len(batch) == 1:
            _fail(batch, exc)
            return
        with self._lock:
            self.splits += 1
        half = len(batch) // 2
        for part in (batch[:half], batch[half:]):
            for pending in part:
                pending.attempts -= 1  # a split is not an attempt of the ballot
            self._send(part, batcher)


def _settle_refused(
    batch: list[_Pending], outcomes: list[BallotOutcome]
) -> list[tuple[_Pending, Accepted]]:
    """Fail each refused ballot's future with its typed refusal; the accepted ones, paired."""
    accepted = []
    for pending, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, Refused):
            pending.future.set_exception(outcome.refusal.error(chaincode_errors.ERRORS))
        else:
            accepted.append((pending, outcome))
    return accepted


def _fail(batch: Sequence[_Pending], exc: BaseException) -> None:
    for pending in batch:
        if not pending.future.done():
            pending.future.set_exception(exc)
