"""The FastAPI application of the voting service's REST API: error handling, request bodies and
the operator's signed requests. The routes are in ``_rest_routes.py``.

Every refusal is an ``application/problem+json`` body (``_rest_errors.Problem``) with the stable
code of the error that refused the request; no route answers a 5xx for anything a client sent.
Request bodies are JSON in the project's canonical encoding (RFC 8785, read with
:func:`mvote.chaincode.encoding.decode`: the bytes a signature covers are the bytes the service
reads), at most ``max_body_bytes`` long, sent as ``application/json``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField, MvoteError, TooLarge
from mvote.service._limits import CallLimiter
from mvote.service._rest_auth import AdminAuthority, Operator, SignedRequest
from mvote.service._rest_errors import (
    PROBLEM_MEDIA_TYPE,
    MethodNotAllowed,
    OperatorUnavailable,
    Problem,
    RouteNotFound,
    UnsupportedMediaType,
    problem_of,
)
from mvote.service._values import COMMIT_WAIT_SECONDS

log = logging.getLogger("mvote.service.rest")

JSON_MEDIA_TYPE = "application/json"
#: The largest request body by default (``limits.max_rest_body_bytes`` of the node's config).
DEFAULT_MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class RestContext:
    """What the routes of one app share: the code -> class map of every error table (titles),
    the operator authority (None: this service takes no operator requests), the rate limiter
    (None: no limits) and the body limit."""

    types: Mapping[str, type[MvoteError]]
    authority: AdminAuthority | None
    limiter: CallLimiter | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: How long ``POST /v1/ballots`` waits for the commit (then COMMIT_STATUS_ERROR, 504).
    commit_wait: float = COMMIT_WAIT_SECONDS


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.to_json(), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE
    )


def _validation_field(loc: tuple[Any, ...]) -> str:
    """The field a FastAPI validation error names: its location without the part
    (``query``, ``path``, ``header``, ``body``)."""
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "request"


def _route(request: Request) -> str:
    """The route template the request matched (``/v1/questions/{qid}``), never its values."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "-"))


def install_error_handlers(app: FastAPI, context: RestContext) -> None:
    """Answer every error with its problem: mvote's typed errors with their code, FastAPI's
    parameter validation as INVALID_FIELD, unknown routes and methods with the REST codes, and
    anything else as INTERNAL (logged with its traceback, never with the request). Each
    refusal is logged with its method, route template, code and field: never a value of the
    request (no voter key, no ballot)."""

    def refuse(request: Request, error: MvoteError) -> JSONResponse:
        problem = problem_of(error, context.types)
        log.info(
            "REST %s %s refused: %s %s (field %s)",
            request.method,
            _route(request),
            problem.status,
            problem.code,
            problem.field,
        )
        return problem_response(problem)

    def mvote_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, MvoteError):
            raise exc
        return refuse(request, exc)

    def validation_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):
            raise exc
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = _validation_field(tuple(first.get("loc", ())))
        return refuse(request, InvalidField(f"{field}: {first.get('msg', 'invalid')}", field=field))

    def http_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, HTTPException):
            raise exc
        error: MvoteError
        if exc.status_code == 405:
            error = MethodNotAllowed(
                f"method: {request.method} is not allowed on {request.url.path}", field="method"
            )
        else:
            error = RouteNotFound(f"path: no resource at {request.url.path}", field="path")
        return refuse(request, error)

    def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "REST %s %s failed: %s",
            request.method,
            _route(request),
            type(exc).__name__,
            exc_info=exc,
        )
        error = MvoteError("the service failed to answer; the operator's log has the cause")
        return problem_response(problem_of(error, context.types))

    app.add_exception_handler(MvoteError, mvote_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, at most ``limit`` bytes (TooLarge beyond, read no further); a body
    must come as ``application/json`` (UnsupportedMediaType)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body: expected at most {limit} bytes, got {declared}", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body: expected at most {limit} bytes, got more", field="body")
        chunks.append(chunk)
    body = b"".join(chunks)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and media != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"content-type: expected {JSON_MEDIA_TYPE}, got {media or 'none'!r}",
            field="content-type",
        )
    return body


def decode_body(body: bytes, limit: int) -> Any:
    """The canonical JSON value of ``body``; raises Malformed, NonCanonical, TooLarge,
    InvalidField (an empty body)."""
    if not body:
        raise InvalidField("body: expected a JSON value, got an empty body", field="body")
    return encoding.decode(body, max_size=limit, what="body")


async def operator_of(request: Request, context: RestContext, body: bytes) -> Operator:
    """The admin who signed ``request`` (see ``_rest_auth``); raises the authority's refusals,
    or SignatureRequired when this service takes no operator requests."""
    signed = SignedRequest.of(
        request.method, request.url.path, request.url.query, body, request.headers
    )
    if context.authority is None:
        raise OperatorUnavailable(
            "this service was started without an institution admin identity: it takes no "
            "operator requests",
            field="operator",
        )
    return context.authority.verify(signed)
