"""The ``mvote.v1`` gRPC API over :class:`~mvote.service._core.VotingService`.

- **Mutual TLS**: the server requires a client certificate issued by one of the trusted
  integrator CAs (:class:`IntegratorTrust`, a TLS CA per institution); a call without one, or
  with one from another CA, fails the handshake. Each call is attributed to an integrator: the
  MSP id of the CA that issued its certificate and the certificate's subject (:class:`Caller`).
- **The public address** (``trust=None``) serves voters, trustees and auditors, who hold no
  client certificate: the same calls but CastStream, limited per source address.
- **Limits**: per-integrator and per-source rate limits, open streams in all and per
  integrator (``RESOURCE_EXHAUSTED`` with ``RATE_LIMITED`` or ``STREAM_LIMIT``), the largest
  message taken (gRPC's own ``RESOURCE_EXHAUSTED``).
- **Refusals** keep their stable codes: the status code from :data:`STATUS_OF`, and a
  ``google.rpc.ErrorInfo`` (domain ``mvote``, reason the code, metadata field and message) in
  the ``mvote-error-info-bin`` trailer, the same trailer the embedded node's Gateway sends
  (``mvote.client._gateway.refusal_info`` reads both).
- Requests are parsed here, not by grpcio, so a malformed message is ``INVALID_ARGUMENT`` with
  ``MALFORMED`` naming the message.
- gRPC health (service ``mvote.v1.Voting``) and server reflection are served beside it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField, Malformed, MvoteError
from mvote.chaincode._records import Question
from mvote.client._gateway import ERROR_INFO_TRAILER, REFUSAL_DOMAIN
from mvote.client._voting import CastResult
from mvote.service._core import VotingService
from mvote.service._errors import IntegratorUnknown
from mvote.service._limits import CallLimiter, Limits, StreamLimiter
from mvote.service._proto import voting_pb2 as pb
from mvote.service._values import COMMIT_WAIT_SECONDS, Caller, PostingKind, QuestionFilter

__all__ = ["STATUS_OF", "IntegratorTrust", "ServerTls", "VotingServer"]

log = logging.getLogger("mvote.service")

SERVICE_NAME = "mvote.v1.Voting"
#: Blocks fetched from the peer per Deliver call while streaming GetBlocks.
BLOCK_CHUNK = 64
#: The largest message the service sends (blocks, receipts).
MAX_SEND_BYTES = 64 << 20
#: The limits a server has unless given others.
DEFAULT_LIMITS = Limits()

S = grpc.StatusCode
#: Stable code -> gRPC status; every other code is INVALID_ARGUMENT (the request is at fault).
STATUS_OF: Mapping[str, grpc.StatusCode] = {
    "NOT_FOUND": S.NOT_FOUND,
    "ALREADY_VOTED": S.ALREADY_EXISTS,
    "BALLOT_SPOILED": S.FAILED_PRECONDITION,
    "ALREADY_EXISTS": S.ALREADY_EXISTS,
    "RATE_LIMITED": S.RESOURCE_EXHAUSTED,
    "STREAM_LIMIT": S.RESOURCE_EXHAUSTED,
    "INTEGRATOR_UNKNOWN": S.UNAUTHENTICATED,
    "UNAUTHORISED": S.PERMISSION_DENIED,
    "NOT_ELIGIBLE": S.PERMISSION_DENIED,
    "QUESTION_NOT_OPEN": S.FAILED_PRECONDITION,
    "INVALID_TRANSITION": S.FAILED_PRECONDITION,
    "NO_POSTING_IDENTITY": S.FAILED_PRECONDITION,
    "CEREMONY_NOT_COMPLETE": S.FAILED_PRECONDITION,
    "AGGREGATION_INCOMPLETE": S.FAILED_PRECONDITION,
    "COMMIT_ERROR": S.ABORTED,
    "GATEWAY_ERROR": S.UNAVAILABLE,
    "ENDORSE_ERROR": S.UNAVAILABLE,
    "SUBMIT_ERROR": S.UNAVAILABLE,
    "COMMIT_STATUS_ERROR": S.UNAVAILABLE,
    "DELIVER_FAILED": S.UNAVAILABLE,
    "INTAKE_CLOSED": S.UNAVAILABLE,
}

M = TypeVar("M", bound=Message)


def code_of(exc: MvoteError) -> str:
    """The stable code to report: a Gateway error's carried refusal code if it has one (also a
    code this process does not know), else the error's own."""
    reason = getattr(exc, "reason_code", None)
    return reason if isinstance(reason, str) else exc.code


def refusal_of(exc: MvoteError) -> pb.Refusal:
    return pb.Refusal(code=code_of(exc), field=exc.field or "", message=str(exc))


def _parse(cls: type[M], raw: bytes) -> M:
    message = cls()
    try:
        message.ParseFromString(raw)
    except DecodeError as exc:
        name = cls.DESCRIPTOR.name
        raise Malformed(f"{name}: not a well-formed {name} message", field=name) from exc
    return message


# --- who calls ---------------------------------------------------------------------------------


class IntegratorTrust:
    """The TLS CAs whose client certificates the service accepts, each with its institution's
    MSP id. Precondition: each PEM holds one CA certificate with an EC (P-256) key."""

    def __init__(self, cas: Mapping[str, bytes]) -> None:
        self._cas = [(msp, x509.load_pem_x509_certificate(pem)) for msp, pem in cas.items()]
        self.bundle = b"".join(pem.rstrip(b"\n") + b"\n" for pem in cas.values())

    def msp_of(self, cert: x509.Certificate) -> str | None:
        """The MSP id of the trusted CA that signed ``cert``, else None."""
        for msp, ca in self._cas:
            if cert.issuer != ca.subject:
                continue
            key = ca.public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey):
                continue
            try:
                hash_algorithm = cert.signature_hash_algorithm
                if hash_algorithm is None:
                    continue
                key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hash_algorithm))
            except Exception:  # an invalid signature, whatever the library raises for it
                continue
            return msp
        return None

    def caller(self, context: grpc.ServicerContext) -> Caller:
        """The integrator of a call: its client certificate's CA (MSP id) and subject. Raises
        IntegratorUnknown when the call has no certificate of a trusted CA."""
        source = _source(context.peer())
        pems = context.auth_context().get("x509_pem_cert") or []
        if not pems:
            raise IntegratorUnknown(
                "integrator: the call carries no client certificate", field="integrator"
            )
        cert = x509.load_pem_x509_certificate(pems[0])
        msp = self.msp_of(cert)
        if msp is None:
            raise IntegratorUnknown(
                f"integrator: {cert.subject.rfc4514_string()} was not issued by a trusted CA",
                field="integrator",
            )
        return Caller(msp, cert.subject.rfc4514_string(), source)


def _source(peer: str) -> str:
    """The address of ``peer`` (``ipv4:1.2.3.4:5678``, ``ipv6:[::1]:5678``) without its port."""
    host = peer.split(":", 1)[1] if ":" in peer else peer
    return host.rsplit(":", 1)[0] if ":" in host else host


@dataclass(frozen=True)
class ServerTls:
    """The service's TLS server certificate and key (PEM)."""

    cert: bytes
    key: bytes


# --- answers -----------------------------------------------------------------------------------


def question_message(question: Question) -> pb.Question:
    spec = question.spec
    # The record's JSON gives the schedule and the eligibility's kind in the form the ledger
    # holds (and the proto promises), whatever the record classes look like inside.
    record = question.to_json()
    return pb.Question(
        qid=spec.qid,
        title=spec.title,
        state=question.state,
        owner=question.owner,
        mode=spec.mode,
        options=list(spec.options),
        eligibility=record["eligibility"]["kind"],
        opens_at=record["schedule"]["opens_at"],
        closes_at=record["schedule"]["closes_at"],
        record=encoding.encode(record),
    )


def committed_message(done: CastResult) -> pb.Committed:
    return pb.Committed(
        qid=done.qid,
        tracker=done.tracker,
        tx_id=done.transaction_id,
        block_number=done.block_number,
        shard=done.shard,
    )


_KINDS = {
    pb.TrusteePosting.DEALING: PostingKind.DEALING,
    pb.TrusteePosting.CHECK: PostingKind.CHECK,
    pb.TrusteePosting.DECRYPTION: PostingKind.DECRYPTION,
}


# --- the servicer -------------------------------------------------------------------------------


#: A CastStream's answers: (change to the open ballots, answer), or None once reading ended.
Answers = queue.Queue[tuple[int, pb.CastStreamResponse] | None]


class VotingServicer:
    """The ``mvote.v1.Voting`` methods: each parses its request, checks the caller and its
    limits, and calls the service core."""

    def __init__(
        self,
        service: VotingService,
        trust: IntegratorTrust | None,
        limits: Limits,
        *,
        commit_wait: float = COMMIT_WAIT_SECONDS,
    ) -> None:
        self.service = service
        self.trust = trust
        self.limits = limits
        self.calls = CallLimiter(limits)
        self.streams = StreamLimiter(limits)
        self.commit_wait = commit_wait

    # -- the frame of every call --

    def _admit(self, context: grpc.ServicerContext, method: str) -> Caller:
        if self.trust is None:
            caller = Caller("", "", _source(context.peer()))
        else:
            caller = self.trust.caller(context)
        self.calls.admit(caller)
        log.debug("%s from %s at %s", method, caller.integrator, caller.source)
        return caller

    def _abort(
        self,
        context: grpc.ServicerContext,
        method: str,
        exc: MvoteError,
        caller: Caller | None = None,
    ) -> NoReturn:
        """End the call with ``exc``'s status and ErrorInfo trailer; the log names the code,
        the field and the caller, never the request's content."""
        code = code_of(exc)
        info = error_details_pb2.ErrorInfo(
            reason=code,
            domain=REFUSAL_DOMAIN,
            metadata={"field": exc.field or "", "message": exc.message},
        )
        context.set_trailing_metadata(((ERROR_INFO_TRAILER, info.SerializeToString()),))
        who = "-" if caller is None else f"{caller.integrator} at {caller.source}"
        log.info("%s refused: %s (field %s) for %s", method, code, exc.field or "-", who)
        context.abort(STATUS_OF.get(code, S.INVALID_ARGUMENT), str(exc))
        raise AssertionError("grpc's abort raises")  # it always does; mypy cannot know

    def unary(
        self, method: str, request_cls: type[M], handler: Callable[[M, Caller], Message]
    ) -> grpc.RpcMethodHandler:
        def call(raw: bytes, context: grpc.ServicerContext) -> Message:
            caller = None
            try:
                caller = self._admit(context, method)
                return handler(_parse(request_cls, raw), caller)
            except MvoteError as exc:
                self._abort(context, method, exc, caller)

        return grpc.unary_unary_rpc_method_handler(
            call, response_serializer=lambda m: m.SerializeToString()
        )

    # -- unary methods --

    def cast(self, request: pb.CastRequest, caller: Caller) -> pb.CastResponse:
        done = self.service.cast(request.request).committed(self.commit_wait)
        receipt = self.service.receipt_of(done).to_bytes() if request.with_receipt else b""
        log.info("cast %s on %s by %s", done.tracker[:16], done.qid, caller.integrator)
        return pb.CastResponse(
            qid=done.qid,
            tracker=done.tracker,
            tx_id=done.transaction_id,
            block_number=done.block_number,
            shard=done.shard,
            receipt=receipt,
        )

    def spoil_ballot(
        self, request: pb.SpoilBallotRequest, caller: Caller
    ) -> pb.SpoilBallotResponse:
        done = self.service.spoil(request.request)
        spoiled = self.service.spoiled_file(done).to_bytes() if request.with_file else b""
        log.info("spoiled %s on %s by %s", done.tracker[:16], done.qid, caller.integrator)
        return pb.SpoilBallotResponse(
            qid=done.qid,
            tracker=done.tracker,
            choices=list(done.choices),
            tx_id=done.transaction_id,
            block_number=done.block_number,
            spoiled_file=spoiled,
        )

    def get_question(self, request: pb.GetQuestionRequest, caller: Caller) -> pb.Question:
        return question_message(self.service.question(request.qid))

    def list_questions(
        self, request: pb.ListQuestionsRequest, caller: Caller
    ) -> pb.ListQuestionsResponse:
        where = QuestionFilter(
            state=request.state or None,
            owner=request.owner or None,
            mode=request.mode or None,
            eligibility=request.eligibility or None,
            search=request.search or None,
        )
        page = self.service.questions(
            where, page_token=request.page_token, page_size=request.page_size or 20
        )
        return pb.ListQuestionsResponse(
            questions=[question_message(q) for q in page.questions],
            next_page_token=page.next_page_token,
            total=page.total,
        )

    def get_results(self, request: pb.GetResultsRequest, caller: Caller) -> pb.Results:
        results = self.service.results(request.qid)
        return pb.Results(
            qid=results.qid,
            state=results.state,
            final=results.final,
            has_counts=results.counts is not None,
            counts=list(results.counts or ()),
            ballots=results.ballots or 0,
            tally=b"" if results.tally is None else encoding.encode(results.tally.to_json()),
        )

    def get_receipt(self, request: pb.GetReceiptRequest, caller: Caller) -> pb.Receipt:
        receipt = self.service.receipt(request.qid, request.voter)
        return pb.Receipt(
            qid=receipt.qid,
            tracker=receipt.tracker,
            tx_id=receipt.tx_id,
            block_number=receipt.block,
            receipt=receipt.to_bytes(),
        )

    def get_history(self, request: pb.GetHistoryRequest, caller: Caller) -> pb.History:
        entries = self.service.history(request.voter)
        return pb.History(
            entries=[
                pb.Participation(qid=e.qid, tracker=e.tracker, tx_id=e.tx, at=e.at) for e in entries
            ]
        )

    def post_trustee(self, request: pb.TrusteePosting, caller: Caller) -> pb.PostingResponse:
        kind = _KINDS.get(request.kind)
        if kind is None:
            raise InvalidField(
                "kind: expected DEALING, CHECK or DECRYPTION", field="TrusteePosting.kind"
            )
        done = self.service.post(kind, request.posting)
        return pb.PostingResponse(
            tx_id=done.transaction_id,
            block_number=done.block_number,
            result=encoding.encode(done.value.to_json()),
        )

    def get_ceremony(self, request: pb.GetCeremonyRequest, caller: Caller) -> pb.Ceremony:
        record = self.service.ceremony(request.cid)
        return pb.Ceremony(
            cid=request.cid, state=record.state, record=encoding.encode(record.to_json())
        )

    def get_chain_info(self, request: pb.GetChainInfoRequest, caller: Caller) -> pb.ChainInfo:
        info = self.service.chain_info()
        return pb.ChainInfo(
            channel=info.channel, genesis_hash=info.genesis_hash, height=info.height
        )

    # -- streams --

    def get_blocks(self, raw: bytes, context: grpc.ServicerContext) -> Iterator[pb.Block]:
        try:
            caller = self._admit(context, "GetBlocks")
            request = _parse(pb.GetBlocksRequest, raw)
            start, stop = request.start, request.stop
            if stop < start or stop - start >= self.limits.max_blocks_per_call:
                raise InvalidField(
                    f"stop: expected start <= stop < start + {self.limits.max_blocks_per_call}, "
                    f"got {start}..{stop}",
                    field="GetBlocksRequest.stop",
                )
            with self.streams.stream(caller):
                for first in range(start, stop + 1, BLOCK_CHUNK):
                    last = min(stop, first + BLOCK_CHUNK - 1)
                    for number, block in enumerate(self.service.blocks(first, last), first):
                        yield pb.Block(number=number, block=block)
        except MvoteError as exc:
            self._abort(context, "GetBlocks", exc)

    def cast_stream(
        self, requests: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[pb.CastStreamResponse]:
        try:
            caller = self._admit(context, "CastStream")
            if caller.public:
                raise IntegratorUnknown(
                    "integrator: CastStream relays ballots for integrators; call it on the "
                    "integrators' (mutual TLS) address",
                    field="integrator",
                )
            with self.streams.stream(caller):
                yield from self._relay(requests, caller)
        except MvoteError as exc:
            self._abort(context, "CastStream", exc)

    def _relay(self, requests: Iterator[bytes], caller: Caller) -> Iterator[pb.CastStreamResponse]:
        """Answers in the order they happen: Accepted (or Refused) as each request is read, then
        Committed or Refused as each ballot's outcome resolves; ends when the requests ended and
        every accepted ballot was answered. Each queued answer carries what it does to the count
        of accepted ballots still open (+1 accepted, -1 resolved, 0 refused at once)."""
        answers: Answers = queue.Queue()
        reader = threading.Thread(
            target=self._read_stream,
            args=(requests, caller, answers),
            name="cast-stream-reader",
            daemon=True,
        )
        reader.start()
        open_ballots, reading = 0, True
        while reading or open_ballots:
            item = answers.get()
            if item is None:
                reading = False
                continue
            delta, answer = item
            open_ballots += delta
            yield answer

    def _read_stream(self, requests: Iterator[bytes], caller: Caller, answers: Answers) -> None:
        try:
            for raw in requests:
                self._take(raw, caller, answers)
        except Exception as exc:  # the client cancelled or the stream broke: stop reading
            log.debug("cast stream of %s ended: %s", caller.integrator, exc)
        finally:
            answers.put(None)

    def _take(self, raw: bytes, caller: Caller, answers: Answers) -> None:
        ref = ""
        try:
            message = _parse(pb.CastStreamRequest, raw)
            ref = message.ref
            self.calls.admit(caller)
            pending = self.service.cast(message.request)
        except MvoteError as exc:
            answers.put((0, pb.CastStreamResponse(ref=ref, refused=refusal_of(exc))))
            return
        accepted = pb.Accepted(qid=pending.qid, tracker=pending.tracker)
        answers.put((1, pb.CastStreamResponse(ref=ref, accepted=accepted)))

        def resolved(outcome: Future[CastResult]) -> None:
            answers.put((-1, _outcome_message(ref, outcome)))

        pending.outcome.add_done_callback(resolved)


def _outcome_message(ref: str, outcome: Future[CastResult]) -> pb.CastStreamResponse:
    exc = outcome.exception()
    if exc is None:
        return pb.CastStreamResponse(ref=ref, committed=committed_message(outcome.result()))
    error = exc if isinstance(exc, MvoteError) else MvoteError(f"cast: {exc}", field="request")
    return pb.CastStreamResponse(ref=ref, refused=refusal_of(error))


# --- the server ---------------------------------------------------------------------------------


def _handlers(servicer: VotingServicer) -> grpc.GenericRpcHandler:
    v = servicer
    methods: dict[str, grpc.RpcMethodHandler] = {
        "Cast": v.unary("Cast", pb.CastRequest, v.cast),
        "GetQuestion": v.unary("GetQuestion", pb.GetQuestionRequest, v.get_question),
        "ListQuestions": v.unary("ListQuestions", pb.ListQuestionsRequest, v.list_questions),
        "GetResults": v.unary("GetResults", pb.GetResultsRequest, v.get_results),
        "GetReceipt": v.unary("GetReceipt", pb.GetReceiptRequest, v.get_receipt),
        "GetHistory": v.unary("GetHistory", pb.GetHistoryRequest, v.get_history),
        "SpoilBallot": v.unary("SpoilBallot", pb.SpoilBallotRequest, v.spoil_ballot),
        "PostTrustee": v.unary("PostTrustee", pb.TrusteePosting, v.post_trustee),
        "GetCeremony": v.unary("GetCeremony", pb.GetCeremonyRequest, v.get_ceremony),
        "GetChainInfo": v.unary("GetChainInfo", pb.GetChainInfoRequest, v.get_chain_info),
        "GetBlocks": grpc.unary_stream_rpc_method_handler(
            v.get_blocks, response_serializer=lambda m: m.SerializeToString()
        ),
        "CastStream": grpc.stream_stream_rpc_method_handler(
            v.cast_stream, response_serializer=lambda m: m.SerializeToString()
        ),
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, methods)


class VotingServer:
    """Serves ``service`` as ``mvote.v1.Voting`` on ``host:port`` (0: a free port, see
    :attr:`port`) with TLS (``tls``, the server's certificate). With ``trust`` it is the
    integrators' address: mutual TLS, a client certificate of one of those CAs required. With
    ``trust=None`` it is the public address for voters, trustees and auditors: no client
    certificate, every caller limited per source address, no CastStream."""

    def __init__(
        self,
        service: VotingService,
        *,
        tls: ServerTls,
        trust: IntegratorTrust | None,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits = DEFAULT_LIMITS,
        commit_wait: float = COMMIT_WAIT_SECONDS,
    ) -> None:
        self.servicer = VotingServicer(service, trust, limits, commit_wait=commit_wait)
        self.tls = tls
        self.trust = trust
        self.host = host
        self._requested_port = port
        self.limits = limits
        self.health = health.HealthServicer()
        self.port = 0
        self._server: grpc.Server | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> VotingServer:
        limits = self.limits
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=limits.max_streams + 32, thread_name_prefix="voting"
            ),
            options=[
                ("grpc.max_receive_message_length", limits.max_message_bytes),
                ("grpc.max_send_message_length", MAX_SEND_BYTES),
                ("grpc.so_reuseport", 0),
            ],
        )
        server.add_generic_rpc_handlers((_handlers(self.servicer),))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = (
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, server)
        if self.trust is None:
            credentials = grpc.ssl_server_credentials([(self.tls.key, self.tls.cert)])
        else:
            credentials = grpc.ssl_server_credentials(
                [(self.tls.key, self.tls.cert)],
                root_certificates=self.trust.bundle,
                require_client_auth=True,
            )
        target = f"{self.host}:{self._requested_port}"
        self.port = server.add_secure_port(target, credentials)
        if self.port == 0:
            raise OSError(f"voting service: cannot bind {target}")
        server.start()
        self._server = server
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("voting service listening on %s", self.address)
        return self

    def unhealthy(self) -> str | None:
        """Why the service is not serving (for an operations health check), or None."""
        return None if self._server is not None else "the voting service is not serving"

    def stop(self, grace: float = 5.0) -> None:
        if self._server is None:
            return
        self.health.enter_graceful_shutdown()
        self._server.stop(grace).wait()
        self._server = None

    def __enter__(self) -> VotingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
