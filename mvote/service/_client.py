"""A Python client of the ``mvote.v1`` gRPC API: what the ``mvote`` commands use with a
connection profile, and a worked example for integrators (docs/integrators.md).

A refusal raises the typed error its stable code names (``AlreadyVoted``, ``RateLimited``, ...),
read from the ``mvote-error-info-bin`` trailer; a call that fails without one (a handshake
refused, a deadline, a message over the size limit) raises a :class:`GatewayError` carrying the
gRPC status name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from mvote.chaincode import _errors as chaincode_errors
from mvote.chaincode._errors import MvoteError
from mvote.client import _errors as client_errors
from mvote.client._errors import CommitStatusError, EndorseError, GatewayError, SubmitError
from mvote.client._gateway import refusal_info
from mvote.service import _errors as service_errors
from mvote.service._proto import voting_pb2 as pb
from mvote.verifier import _errors as verifier_errors

__all__ = ["ClientTls", "VotingClient"]

SERVICE = "/mvote.v1.Voting/"
#: Blocks asked for per GetBlocks call.
BLOCKS_PER_CALL = 1000
#: The tables whose codes this client rebuilds as their classes.
_TABLES = (
    chaincode_errors.ERRORS,
    verifier_errors.ERRORS,
    client_errors.ERRORS,
    service_errors.ERRORS,
)
#: The Gateway's stage errors, rebuilt with the call's gRPC status.
_STAGES: dict[str, type[GatewayError]] = {
    cls.code: cls for cls in (GatewayError, EndorseError, SubmitError, CommitStatusError)
}
R = TypeVar("R", bound=Message)


@dataclass(frozen=True)
class ClientTls:
    """The CA that issued the service's TLS certificate, and (for an integrator) the client
    certificate and key its institution issued (PEM)."""

    root: bytes
    cert: bytes | None = None
    key: bytes | None = None


def error_of(exc: grpc.RpcError) -> MvoteError:
    """The typed error a failed call carries; else a GatewayError with its gRPC status."""
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    refusal = refusal_info(exc)
    if refusal is not None:
        stage = _STAGES.get(refusal.code)
        if stage is not None:  # the Gateway's errors take the gRPC status too
            return stage(refusal.message, grpc_code=code.name, field=refusal.field)
        return refusal.error(*_TABLES)
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return GatewayError(f"voting service: {details}", grpc_code=code.name, field="service")


class VotingClient:
    """The ``mvote.v1.Voting`` calls over one gRPC channel to ``target`` (``host:port``)."""

    def __init__(self, target: str, tls: ClientTls, *, max_message_bytes: int = 64 << 20) -> None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=tls.root, private_key=tls.key, certificate_chain=tls.cert
        )
        self.channel = grpc.secure_channel(
            target,
            credentials,
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ],
        )

    def _unary(self, method: str, request: Message, response: type[R], timeout: float) -> R:
        call = self.channel.unary_unary(
            SERVICE + method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response.FromString,
        )
        try:
            result: R = call(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise error_of(exc) from None
        return result

    def cast(
        self, request: bytes, *, with_receipt: bool = False, timeout: float = 90.0
    ) -> pb.CastResponse:
        """Cast the ``Cast`` argument ``request`` (canonical JSON); returns once committed."""
        message = pb.CastRequest(request=request, with_receipt=with_receipt)
        return self._unary("Cast", message, pb.CastResponse, timeout)

    def spoil(
        self, request: bytes, *, with_file: bool = False, timeout: float = 90.0
    ) -> pb.SpoilBallotResponse:
        """Record the ``SpoilBallot`` argument ``request`` (canonical JSON: a signed secret
        ballot and its opening) as audited; returns once committed, with the spoiled-ballot
        file's bytes when ``with_file``."""
        message = pb.SpoilBallotRequest(request=request, with_file=with_file)
        return self._unary("SpoilBallot", message, pb.SpoilBallotResponse, timeout)

    def cast_stream(
        self, requests: Iterable[pb.CastStreamRequest], *, timeout: float | None = None
    ) -> Iterator[pb.CastStreamResponse]:
        call: Any = self.channel.stream_stream(
            SERVICE + "CastStream",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.CastStreamResponse.FromString,
        )(iter(requests), timeout=timeout)
        try:
            yield from call
        except grpc.RpcError as exc:
            raise error_of(exc) from None

    def question(self, qid: str, *, timeout: float = 30.0) -> pb.Question:
        return self._unary("GetQuestion", pb.GetQuestionRequest(qid=qid), pb.Question, timeout)

    def questions(
        self, request: pb.ListQuestionsRequest, *, timeout: float = 30.0
    ) -> pb.ListQuestionsResponse:
        return self._unary("ListQuestions", request, pb.ListQuestionsResponse, timeout)

    def results(self, qid: str, *, timeout: float = 30.0) -> pb.Results:
        return self._unary("GetResults", pb.GetResultsRequest(qid=qid), pb.Results, timeout)

    def receipt(self, qid: str, voter: str, *, timeout: float = 60.0) -> pb.Receipt:
        request = pb.GetReceiptRequest(qid=qid, voter=voter)
        return self._unary("GetReceipt", request, pb.Receipt, timeout)

    def history(self, voter: str, *, timeout: float = 30.0) -> pb.History:
        return self._unary("GetHistory", pb.GetHistoryRequest(voter=voter), pb.History, timeout)

    def post(self, posting: pb.TrusteePosting, *, timeout: float = 90.0) -> pb.PostingResponse:
        return self._unary("PostTrustee", posting, pb.PostingResponse, timeout)

    def ceremony(self, cid: str, *, timeout: float = 30.0) -> pb.Ceremony:
        return self._unary("GetCeremony", pb.GetCeremonyRequest(cid=cid), pb.Ceremony, timeout)

    def chain_info(self, *, timeout: float = 30.0) -> pb.ChainInfo:
        return self._unary("GetChainInfo", pb.GetChainInfoRequest(), pb.ChainInfo, timeout)

    def blocks(
        self, start: int, stop: int, *, chunk: int = BLOCKS_PER_CALL, timeout: float | None = 300.0
    ) -> list[bytes]:
        """Committed blocks ``start..stop`` inclusive, in order, ``chunk`` blocks per call (the
        service answers at most 10,000 per call)."""
        blocks: list[bytes] = []
        for first in range(start, stop + 1, chunk):
            blocks.extend(self._blocks(first, min(stop, first + chunk - 1), timeout))
        return blocks

    def block_range(self, start: int, stop: int | None) -> list[bytes]:
        """Blocks ``start..stop`` inclusive; ``stop`` None means up to the service's height
        (a :data:`mvote.client._verified.BlockRange` for verified reads)."""
        if stop is None:
            stop = self.chain_info().height - 1
        return self.blocks(start, stop) if stop >= start else []

    def _blocks(self, start: int, stop: int, timeout: float | None) -> list[bytes]:
        call: Any = self.channel.unary_stream(
            SERVICE + "GetBlocks",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.Block.FromString,
        )(pb.GetBlocksRequest(start=start, stop=stop), timeout=timeout)
        try:
            return [bytes(b.block) for b in call]
        except grpc.RpcError as exc:
            raise error_of(exc) from None

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> VotingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
