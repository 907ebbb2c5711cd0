"""The operations endpoint on ``listen.operations``: metrics and health over plain HTTP, for the
operator's Prometheus and load balancer (as Fabric's peer serves its operations service).

- ``GET /metrics``: every metric of the node's processes in the Prometheus text format
  (metrics.py; docs/operations.md lists them);
- ``GET /healthz``: ``200 {"status": "OK", "time": ...}`` while every health check passes,
  ``503 {"status": "Service Unavailable", "failed_checks": [{"component", "reason"}]}`` when
  one fails (Fabric's healthz body);
- ``GET /version``: ``{"version": ...}``.

Anything else is 404 (405 for a method other than GET or HEAD). The endpoint carries no secret
and takes no input: it binds the loopback address by default, and an operator who exposes it
puts it behind their own proxy.

Health checks are named callables answering ``None`` (healthy) or the reason they are not;
``mvote node start`` registers the node's and its gateway processes', and a service running in
front of the node (the voting service) registers its own with :meth:`OperationsServer.check`.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mvote import __version__
from mvote.node.config import Endpoint
from mvote.node.metrics import NodeMetrics

log = logging.getLogger("mvote.node.operations")

#: A health check: None when healthy, else why not (a short text with no secret in it).
HealthCheck = Callable[[], str | None]
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class OperationsServer:
    """Serves ``metrics`` and the registered health checks on ``host:port`` (port 0 picks a free
    one; :attr:`endpoint` is the bound address once started)."""

    def __init__(self, host: str, port: int, metrics: NodeMetrics) -> None:
        self._host = host
        self._port = port
        self.metrics = metrics
        self._checks: dict[str, HealthCheck] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint: Endpoint | None = None

    @property
    def address(self) -> str:
        """``host:port`` it listens on. Precondition: started."""
        if self.endpoint is None:
            raise RuntimeError("the operations endpoint is not started")
        return str(self.endpoint)

    def check(self, component: str, health: HealthCheck) -> None:
        """Add (or replace) the health check of ``component``."""
        with self._lock:
            self._checks[component] = health

    def failed_checks(self) -> list[dict[str, str]]:
        """Every failing check as ``{"component", "reason"}``, in the order they were added; a
        check that raises fails with the exception's type as its reason."""
        with self._lock:
            checks = list(self._checks.items())
        failed = []
        for component, health in checks:
            try:
                reason = health()
            except Exception as exc:  # a broken check is a failing one, never a 500
                reason = f"the check raised {type(exc).__name__}"
            if reason is not None:
                failed.append({"component": component, "reason": reason})
        return failed

    def start(self) -> OperationsServer:
        """Bind and serve on a thread. Raises OSError when the address cannot be bound."""
        server = ThreadingHTTPServer((self._host, self._port), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.endpoint = Endpoint(self._host, int(server.server_address[1]))
        self._thread = threading.Thread(target=server.serve_forever, name="operations", daemon=True)
        self._thread.start()
        log.info("operations endpoint on http://%s", self.endpoint)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None

    def __enter__(self) -> OperationsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers ----------------------------------------------------------------------------------

    def answer(self, path: str) -> tuple[HTTPStatus, str, bytes]:
        """(status, content type, body) of a GET of ``path`` (its query string ignored)."""
        route = path.split("?", 1)[0]
        if route == "/metrics":
            return HTTPStatus.OK, PROMETHEUS_TEXT, self.metrics.exposition()
        if route == "/healthz":
            return self._health()
        if route == "/version":
            return _json(HTTPStatus.OK, {"version": __version__})
        return _json(HTTPStatus.NOT_FOUND, {"error": "not found: /metrics, /healthz, /version"})

    def _health(self) -> tuple[HTTPStatus, str, bytes]:
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        failed = self.failed_checks()
        if failed:
            body = {"status": "Service Unavailable", "time": now, "failed_checks": failed}
            return _json(HTTPStatus.SERVICE_UNAVAILABLE, body)
        return _json(HTTPStatus.OK, {"status": "OK", "time": now})


def _json(status: HTTPStatus, body: object) -> tuple[HTTPStatus, str, bytes]:
    return status, "application/json", json.dumps(body).encode() + b"\n"


def _handler(server: OperationsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mvote-operations"

        def do_GET(self) -> None:
            self._send(*server.answer(self.path))

        def do_HEAD(self) -> None:
            self._send(*server.answer(self.path), body=False)

        def _not_allowed(self) -> None:
            self._send(*_json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "GET or HEAD only"}))

        do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

        def _send(self, status: HTTPStatus, kind: str, data: bytes, body: bool = True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            if status == HTTPStatus.METHOD_NOT_ALLOWED:
                self.send_header("Allow", "GET, HEAD")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("operations: %s", format % args)

    return Handler
