"""The voting service's REST API: the FastAPI app over a :class:`VotingService`, and the
uvicorn server that serves it (in the node's process, on ``listen.rest``, or beside
``mvote serve``).

The app's OpenAPI document is served at ``/openapi.json`` and kept in the repository as
docs/openapi.json (tests/integration/test_rest.py fails when they differ; regenerate it with
``.venv/bin/python docs/gen_openapi.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from typing import Any

import uvicorn
from fastapi import FastAPI

from mvote import __version__
from mvote.chaincode import _errors as chaincode_errors
from mvote.chaincode._errors import error_types
from mvote.client import _errors as client_errors
from mvote.service import _errors as service_errors
from mvote.service._core import VotingService
from mvote.service._limits import CallLimiter, Limits
from mvote.service._rest_app import (
    DEFAULT_MAX_BODY_BYTES,
    RestContext,
    install_error_handlers,
)
from mvote.service._rest_auth import (
    IDENTITY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AdminAuthority,
)
from mvote.service._rest_errors import PROBLEM_MEDIA_TYPE, GenesisMismatch
from mvote.service._rest_routes import RestRoutes
from mvote.service._values import COMMIT_WAIT_SECONDS
from mvote.verifier import _errors as verifier_errors
from mvote.verifier._block import block_header_hash
from mvote.verifier._envelope import unpack_block

log = logging.getLogger("mvote.service.rest")

#: How long :meth:`RestServer.start` waits for uvicorn to serve.
START_TIMEOUT_SECONDS = 30.0

DESCRIPTION = (
    "mvote's voting service over HTTP: voters and integrators cast voter-signed ballots and read "
    "questions, results, receipts and histories; auditors read the chain; trustees' postings are "
    "relayed; institution admins create and open questions, fill and seal rosters, close and "
    "tally with requests signed by their Fabric admin identity. Every refusal is an "
    "application/problem+json body with the stable code that docs/errors.md lists. "
    "docs/integrators.md explains each operation."
)

#: The code -> class map of every table the service can see (a problem's title).
_TYPES = error_types(
    chaincode_errors.ERRORS, verifier_errors.ERRORS, client_errors.ERRORS, service_errors.ERRORS
)


def _problem_schema() -> dict[str, Any]:
    return {
        "title": "Problem",
        "type": "object",
        "properties": {
            "type": {"type": "string", "description": "urn:mvote:error:CODE"},
            "title": {"type": "string", "description": "the code's summary (docs/errors.md)"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
            "field": {"type": ["string", "null"]},
        },
        "required": ["type", "title", "status", "detail", "code", "field"],
    }


def _with_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation may answer a problem (4XX, 5XX); operator requests are signed."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = _problem_schema()
    components["securitySchemes"] = {
        "MvoteRequestSignature": {
            "type": "apiKey",
            "in": "header",
            "name": SIGNATURE_HEADER,
            "description": (
                f"an institution admin's signature over the request, with {IDENTITY_HEADER} and "
                f"{TIMESTAMP_HEADER} (docs/integrators.md, 'Operator requests')"
            ),
        }
    }
    problem = {
        "description": "a refusal, with its stable code",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["4XX"] = problem
            responses["5XX"] = problem
    return document


def create_app(
    service: VotingService,
    *,
    authority: AdminAuthority | None = None,
    limiter: CallLimiter | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    commit_wait: float = COMMIT_WAIT_SECONDS,
) -> FastAPI:
    """The REST API over ``service``. ``authority``: who may make operator requests (None: no
    one); ``limiter``: the rate limits (None: none); ``commit_wait``: how long a cast waits for
    its commit."""
    app = FastAPI(
        title="mvote voting service",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    context = RestContext(_TYPES, authority, limiter, max_body_bytes, commit_wait)
    install_error_handlers(app, context)
    RestRoutes(service, context).install(app)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def trusted_genesis(service: VotingService, anchor: bytes) -> bytes:
    """Block 0 as ``service``'s peer serves it, refused (GenesisMismatch) unless its header
    hashes to ``anchor``, the genesis hash the city publishes (a profile's)."""
    raw = service.block(0)
    block = unpack_block(raw)
    found = block_header_hash(0, block.previous_hash, block.data_hash)
    if found != anchor:
        raise GenesisMismatch(
            f"genesis_hash: the peer's block 0 hashes to {found.hex()}, the anchor is "
            f"{anchor.hex()}",
            field="genesis_hash",
        )
    return raw


def start_rest_api(
    service: VotingService,
    *,
    genesis_block: bytes,
    msp_id: str,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: Limits = Limits(),  # noqa: B008 (frozen, never mutated)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> RestServer:
    """Serve the REST API over ``service`` on ``host:port`` (0: a free port): operator requests
    from admins of ``msp_id`` as the channel's ``genesis_block`` configures its MSP (trusted by
    the caller: read from the network's own folder, or checked by :func:`trusted_genesis`), the
    rate ``limits`` per source address (per admin for operator requests). Raises OSError if the
    port cannot be bound."""
    app = create_app(
        service,
        authority=AdminAuthority.from_genesis(genesis_block, msp_id),
        limiter=CallLimiter(limits),
        max_body_bytes=max_body_bytes,
    )
    return RestServer(app, host=host, port=port).start()


def openapi_text(app: FastAPI) -> str:
    """The OpenAPI document as the repository keeps it: sorted keys, two-space indent."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class _Server(uvicorn.Server):
    """uvicorn's server that says when it has started (or failed to)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


class RestServer:
    """uvicorn serving ``app`` on ``host:port`` (0: a free port) from a thread of this
    process. The port is bound when the server is made, so :attr:`port` is known at once."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it, a keep-alive client waits for its
        # delayed ACK (40 ms) before the second write of each answer (headers, then body).
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.port = int(self._socket.getsockname()[1])
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=5
        )
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._run, name="rest", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        finally:
            self._server.ready.set()

    def start(self) -> RestServer:
        """Serve; returns once uvicorn accepts connections (OSError if it failed to)."""
        self._thread.start()
        self._server.ready.wait(START_TIMEOUT_SECONDS)
        if not self._server.started:
            raise OSError(f"the REST server did not start on {self.address}")
        log.info("REST API serving on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop taking connections, finish the requests in flight (up to 5 s), close."""
        self._server.should_exit = True
        self._thread.join(15)
        self._socket.close()

    def __enter__(self) -> RestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
