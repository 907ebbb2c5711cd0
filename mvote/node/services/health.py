"""gRPC health checking (``grpc.health.v1.Health``) for the node's services."""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2

#: Full names of the services the node serves; each gets its own health status.
SERVICES = (
    "gateway.Gateway",
    "protos.Deliver",
    "orderer.AtomicBroadcast",
)


class Health:
    """The standard health servicer: SERVING once the node is up, NOT_SERVING from the moment a
    shutdown begins, so a load balancer stops sending new calls before the server drains."""

    def __init__(self) -> None:
        self.servicer = health.HealthServicer(experimental_non_blocking=True)
        self._set(health_pb2.HealthCheckResponse.NOT_SERVING)

    def _set(self, status: int) -> None:
        for name in ("", *SERVICES):
            self.servicer.set(name, status)

    def serving(self) -> None:
        self._set(health_pb2.HealthCheckResponse.SERVING)

    def shutting_down(self) -> None:
        self.servicer.enter_graceful_shutdown()
