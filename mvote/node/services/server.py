"""One grpcio server for the node: Gateway, peer Deliver, orderer AtomicBroadcast, health.

A Fabric network runs the peer's and the orderer's services in different processes; the embedded
node serves them all on one loopback address. TLS is on by default with the first organisation's
peer TLS server certificate and key from the network material (issued by that organisation's TLS
CA, with localhost and 127.0.0.1 among its names); clients trust that TLS CA. Plaintext needs an
explicit ``tls=False``.
"""

from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from fabric_protos.gateway import gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2_grpc
from fabric_protos.peer import events_pb2_grpc
from grpc_health.v1 import health_pb2_grpc

from mvote.node.config import LOOPBACK, Endpoint, NodeLimits
from mvote.node.peer import Peer
from mvote.node.services._common import Streams
from mvote.node.services.admission import Admission
from mvote.node.services.broadcast import AtomicBroadcast
from mvote.node.services.deliver import PeerDeliver
from mvote.node.services.gateway import GatewayService
from mvote.node.services.health import Health

log = logging.getLogger("mvote.node.server")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    #: The CA clients should trust to verify the server certificate.
    ca: Path


def tls_files(node: Peer) -> TlsFiles:
    peer = node.material.peer_orgs[0].node
    return TlsFiles(peer.tls_cert_path, peer.tls_key_path, peer.tls_ca_path)


class NodeServer:
    """Serves ``node`` over gRPC. ``port=0`` picks a free port (see :attr:`port`); ``limits``
    (default: the node's configuration) bound message sizes, streams and waits."""

    def __init__(
        self,
        node: Peer,
        *,
        port: int | None = None,
        tls: bool = True,
        reuse_port: bool = False,
        limits: NodeLimits | None = None,
    ) -> None:
        self.node = node
        self._reuse_port = reuse_port
        self.tls = tls
        self._requested_port = node.config.listen.grpc.port if port is None else port
        self.streams = Streams()
        #: Streams and waits open and refused (admission.py).
        self.limits = node.config.limits if limits is None else limits
        self.admission = Admission(self.limits)
        self.health = Health()
        self._server: grpc.Server | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(LOOPBACK, self.port)

    @property
    def tls_files(self) -> TlsFiles:
        return tls_files(self.node)

    def start(self) -> NodeServer:
        limits = self.limits
        limit = limits.max_grpc_message_bytes
        # Streams and waits hold at most max_streams threads (admission.py); unary calls always
        # have unary_workers more.
        workers = limits.max_streams + limits.unary_workers
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # A restarted node must fail to bind rather than share a port with a stale one;
                # only a node's own gateway processes share theirs (serving.py).
                ("grpc.so_reuseport", 1 if self._reuse_port else 0),
            ],
        )
        streams, admission = self.streams, self.admission
        gateway_pb2_grpc.add_GatewayServicer_to_server(
            GatewayService(self.node, streams, admission), server
        )
        events_pb2_grpc.add_DeliverServicer_to_server(
            PeerDeliver(self.node, streams, admission), server
        )
        ab_pb2_grpc.add_AtomicBroadcastServicer_to_server(
            AtomicBroadcast(self.node, streams, admission), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, server)
        target = f"{LOOPBACK}:{self._requested_port}"
        if self.tls:
            files = self.tls_files
            credentials = grpc.ssl_server_credentials(
                [(files.key.read_bytes(), files.cert.read_bytes())]
            )
            self.port = server.add_secure_port(target, credentials)
        else:
            self.port = server.add_insecure_port(target)
        if self.port == 0:
            raise OSError(f"listen.grpc: cannot bind {target}")
        server.start()
        self._server = server
        self.health.serving()
        log.info("grpc listening on %s (tls=%s)", self.address, self.tls)
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Refuse new calls, end open streams, and wait up to ``grace`` seconds for calls in
        flight. The node itself is stopped by its owner afterwards."""
        if self._server is None:
            return
        self.health.shutting_down()
        self.streams.close()
        self._server.stop(grace).wait()
        self._server = None
        log.info("grpc server stopped")

    def __enter__(self) -> NodeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
