"""The Fabric Gateway client: connect once, then networks, contracts and events.

The shape is fabric-gateway's (hyperledger/fabric-gateway): ``Gateway.connect(target, signer)``,
``gateway.network(channel)``, ``network.contract(chaincode)``, ``contract.evaluate`` /
``submit`` / ``submit_async``, ``network.chaincode_events`` / ``block_events``. It speaks only
Fabric's own RPCs (``gateway.Gateway`` and the peer's ``protos.Deliver``), so the same client
drives the embedded node and real Fabric v2.4+ peers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import events_pb2_grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from mvote.chaincode._errors import Refusal, is_code
from mvote.client._errors import ErrorDetail, GatewayError, gateway_error
from mvote.client._identity import Identity, Signer
from mvote.client._network import Network

E = TypeVar("E", bound=GatewayError)

#: Deliver sends whole blocks; the node's default gRPC limit (config limits) is 16 MiB.
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Per-call deadlines in seconds (fabric-gateway's recommended defaults); None waits."""

    evaluate: float | None = 5.0
    endorse: float | None = 15.0
    submit: float | None = 5.0
    commit_status: float | None = 60.0
    events: float | None = None


#: The trailer that carries a refusal's ``google.rpc.ErrorInfo`` (serialized): reason = the
#: error code, domain = :data:`REFUSAL_DOMAIN`, metadata {"field": field or "", "message": ...}.
#: Not among the status details: Fabric's official Node.js SDK decodes every status detail as a
#: ``gateway.ErrorDetail`` (fabric-gateway gatewayerror.js), so an extra detail there would show
#: its clients a bogus endpoint error; a trailer of its own is invisible to them. The embedded
#: node writes it (mvote.node.services._common.abort); a real Fabric gateway does not.
ERROR_INFO_TRAILER = "mvote-error-info-bin"
#: The ErrorInfo domain of mvote's refusals.
REFUSAL_DOMAIN = "mvote"


def _rich_status(exc: grpc.RpcError) -> status_pb2.Status | None:
    return rpc_status.from_call(exc) if isinstance(exc, grpc.Call) else None


def error_details(exc: grpc.RpcError) -> list[ErrorDetail]:
    """The ``gateway.ErrorDetail`` messages in a failed call's rich status."""
    status = _rich_status(exc)
    details = []
    for item in status.details if status is not None else ():
        if item.Is(gateway_pb2.ErrorDetail.DESCRIPTOR):
            detail = gateway_pb2.ErrorDetail()
            item.Unpack(detail)
            details.append(ErrorDetail(detail.address, detail.msp_id, detail.message))
    return details


def refusal_info(exc: grpc.RpcError) -> Refusal | None:
    """The refusal in a failed call's :data:`ERROR_INFO_TRAILER` (domain ``mvote``, reason
    spelled as a code), else None: a gateway that sends none (real Fabric), or one that is not
    well formed."""
    if not isinstance(exc, grpc.Call):
        return None
    for key, value in exc.trailing_metadata() or ():
        if key != ERROR_INFO_TRAILER or not isinstance(value, bytes):
            continue
        try:
            info = error_details_pb2.ErrorInfo.FromString(value)
        except DecodeError:
            return None
        if info.domain == REFUSAL_DOMAIN and is_code(info.reason):
            field = info.metadata.get("field", "")
            return Refusal(info.reason, field or None, info.metadata.get("message", ""))
        return None
    return None


class Gateway:
    """A connection to a Gateway peer acting for one client identity."""

    def __init__(
        self,
        channel: grpc.Channel,
        signer: Signer,
        *,
        timeouts: Timeouts = Timeouts(),
        owns_channel: bool = False,
    ) -> None:
        self.channel = channel
        self.signer = signer
        self.timeouts = timeouts
        self._owns_channel = owns_channel
        self.stub: Any = gateway_pb2_grpc.GatewayStub(channel)
        self.deliver_stub: Any = events_pb2_grpc.DeliverStub(channel)

    @classmethod
    def connect(
        cls,
        target: str | grpc.Channel,
        signer: Signer,
        *,
        tls_root_certificates: bytes | None = None,
        server_name_override: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        timeouts: Timeouts = Timeouts(),
    ) -> Gateway:
        """Connect to ``host:port`` (TLS when ``tls_root_certificates`` is given, the PEM of the
        CA that issued the peer's TLS certificate) or use an existing gRPC channel. Each
        connected Gateway has its own connection (gRPC would otherwise share one among channels
        of the same target and options): a node with several gateway processes serves each
        connection from one of them."""
        if not isinstance(target, str):
            return cls(target, signer, timeouts=timeouts)
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.use_local_subchannel_pool", 1),
        ]
        if tls_root_certificates is None:
            channel = grpc.insecure_channel(target, options=options)
        else:
            if server_name_override:
                options.append(("grpc.ssl_target_name_override", server_name_override))
            credentials = grpc.ssl_channel_credentials(root_certificates=tls_root_certificates)
            channel = grpc.secure_channel(target, credentials, options=options)
        return cls(channel, signer, timeouts=timeouts, owns_channel=True)

    @property
    def identity(self) -> Identity:
        return self.signer.identity

    def network(self, name: str) -> Network:
        return Network(self, name)

    def rpc_error(self, stage: type[E], exc: grpc.RpcError, transaction_id: str) -> GatewayError:
        """The stage's error for a failed call, typed by the mvote error it carries."""
        code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
        message = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        return gateway_error(
            stage,
            str(message or ""),
            grpc_code=code.name,
            details=error_details(exc),
            transaction_id=transaction_id,
            refusal=refusal_info(exc),
        )

    def close(self) -> None:
        if self._owns_channel:
            self.channel.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(target: str | grpc.Channel, signer: Signer, **options: Any) -> Gateway:
    return Gateway.connect(target, signer, **options)
