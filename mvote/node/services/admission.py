"""What one client may hold open in a gRPC server process: streams and waits.

A sync gRPC server runs every call on a thread of its pool, and a stream (Deliver, Broadcast,
ChaincodeEvents) or a wait (CommitStatus) keeps its thread for as long as it is open. So each
process bounds them, as Fabric's peer bounds each service's concurrency (``limits.concurrency``),
and refuses what is beyond with RESOURCE_EXHAUSTED at once instead of queueing it:

- at most ``limits.max_streams`` open in the process, ``limits.max_streams_per_connection`` on one
  connection and ``limits.max_streams_per_identity`` for one identity (once the request proved
  it, by its signature);
- the server's pool has ``limits.unary_workers`` threads beyond ``max_streams``, so streams and
  waits can hold at most ``max_streams`` of them and unary calls (Evaluate, Endorse, Submit,
  health) always find a thread;
- a stream that sends no request within ``limits.stream_request_seconds`` is ended (its reads
  are done by a helper thread, so the wait can time out);
- every refusal is counted (:attr:`Admission.refused`, by reason) and logged once per client.

An admitted call is told so at once by its response headers (initial metadata), before any
message: a client sees that the server holds its stream.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from typing import Generic, NoReturn, TypeVar

import grpc

from mvote.node.config import NodeLimits
from mvote.node.errors import StreamIdle, TooManyStreams
from mvote.node.metrics import metrics
from mvote.node.services._common import abort, error_info_of

log = logging.getLogger("mvote.node.admission")

T = TypeVar("T")

#: Clients whose first refusal was logged, remembered up to this many (then forgotten in order).
MAX_LOGGED_CLIENTS = 4096


def identity_key(identity: bytes) -> str:
    """A short name for a serialized identity in counters and logs."""
    return "identity:" + hashlib.sha256(identity).hexdigest()[:16]


class Ticket:
    """One admitted stream or wait; released once, when its call ends."""

    def __init__(self, admission: Admission, connection: str, kind: str) -> None:
        self._admission = admission
        self.connection = connection
        #: What it is (``what`` of :meth:`Admission.enter`): the metrics' stream kind.
        self.kind = kind
        self.identity: str | None = None
        self.released = False

    def release(self) -> None:
        self._admission._release(self)


class Admission:
    """The counts of open streams and waits of one server process, and the refusals."""

    def __init__(self, limits: NodeLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self.open = 0
        self._by_connection: Counter[str] = Counter()
        self._by_identity: Counter[str] = Counter()
        #: Refusals by reason: "streams", "connection", "identity", "idle".
        self.refused: Counter[str] = Counter()
        self._logged: OrderedDict[str, None] = OrderedDict()

    def enter(self, context: grpc.ServicerContext, what: str) -> Ticket:
        """Admit a stream or wait on ``context``'s connection, or end the call with
        RESOURCE_EXHAUSTED. Precondition: called once per call, before the call waits."""
        connection = str(context.peer())
        limits = self.limits
        with self._lock:
            if self.open >= limits.max_streams:
                full = ("streams", "max_streams", limits.max_streams)
            elif self._by_connection[connection] >= limits.max_streams_per_connection:
                full = (
                    "connection",
                    "max_streams_per_connection",
                    limits.max_streams_per_connection,
                )
            else:
                full = None
                self.open += 1
                self._by_connection[connection] += 1
        if full is not None:
            reason, key, limit = full
            self._refuse(
                context, connection, reason, f"{what}: at most {limit} open (limits.{key})"
            )
        ticket = Ticket(self, connection, what)
        metrics().stream_opened(what)
        if not context.add_callback(ticket.release):
            ticket.release()  # the call already ended
        context.send_initial_metadata(())
        return ticket

    def identify(self, context: grpc.ServicerContext, ticket: Ticket, identity: bytes) -> None:
        """Count ``ticket`` against ``identity`` (proved by the request's signature), or end the
        call with RESOURCE_EXHAUSTED. A ticket counts against its first identity only."""
        key = identity_key(identity)
        limit = self.limits.max_streams_per_identity
        with self._lock:
            if ticket.identity is not None or ticket.released:
                return
            full = self._by_identity[key] >= limit
            if not full:
                ticket.identity = key
                self._by_identity[key] += 1
        if full:
            self._refuse(
                context,
                key,
                "identity",
                f"at most {limit} open for one identity (limits.max_streams_per_identity)",
            )

    def idle(self, context: grpc.ServicerContext) -> NoReturn:
        """End a stream that sent no request in time (DEADLINE_EXCEEDED)."""
        seconds = self.limits.stream_request_seconds
        error = StreamIdle(
            f"request: expected one within {seconds} s (limits.stream_request_seconds), got none",
            field="request",
        )
        self._count(str(context.peer()), "idle", str(error))
        abort(
            context,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            str(error),
            info=error_info_of(error),
            logged=False,
        )

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            metrics().stream_closed(ticket.kind)
            self.open -= 1
            _decrement(self._by_connection, ticket.connection)
            if ticket.identity is not None:
                _decrement(self._by_identity, ticket.identity)

    def _refuse(
        self, context: grpc.ServicerContext, client: str, reason: str, message: str
    ) -> NoReturn:
        error = TooManyStreams(message, field="stream")
        self._count(client, reason, str(error))
        abort(
            context,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            str(error),
            info=error_info_of(error),
            logged=False,
        )

    def _count(self, client: str, reason: str, message: str) -> None:
        """Count a refusal; log it if it is this client's first (since it was forgotten)."""
        with self._lock:
            self.refused[reason] += 1
            first = client not in self._logged
            if first:
                self._logged[client] = None
                if len(self._logged) > MAX_LOGGED_CLIENTS:
                    self._logged.popitem(last=False)
        if first:
            log.warning(
                "refusing %s: %s (further refusals of this client are counted, not logged)",
                client,
                message,
            )

    def counts(self) -> dict[str, int]:
        """Open streams and refusals by reason, for tests and operators."""
        with self._lock:
            return {"open": self.open, **{f"refused_{k}": v for k, v in self.refused.items()}}


def _decrement(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


_END = object()


class TimedRequests(Generic[T]):
    """A stream's requests, read one at a time by a helper thread so that the wait for each can
    time out. The helper reads only when asked (no read-ahead) and ends with the call."""

    def __init__(self, requests: Iterator[T], context: grpc.ServicerContext) -> None:
        self._requests = requests
        self._wanted = threading.Semaphore(0)
        self._items: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        if not context.add_callback(self._close):
            self._closed = True
        self._thread = threading.Thread(target=self._pump, name="stream-reader", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        self._closed = True
        self._wanted.release()

    def _pump(self) -> None:
        while True:
            self._wanted.acquire()
            if self._closed:
                self._items.put(_END)
                return
            try:
                item: object = next(self._requests)
            except StopIteration:
                item = _END
            except Exception:  # the call was cancelled or ended: no more requests
                item = _END
            self._items.put(item)
            if item is _END:
                return

    def next(self, timeout: float) -> T | None:
        """The next request, or None when the client ends the stream; raises TimeoutError if
        none came within ``timeout`` seconds."""
        self._wanted.release()
        try:
            item = self._items.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        return None if item is _END else item  # type: ignore[return-value]
