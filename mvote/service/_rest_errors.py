"""The REST API's refusals: its own error classes, the HTTP status of every code, and the
``application/problem+json`` body (RFC 9457) that carries a refusal's stable code.

Every refusal of the REST API is a :class:`Problem`: ``type`` (``urn:mvote:error:CODE``),
``title`` (the code's one-line summary, as docs/errors.md lists it), ``status``, ``detail`` (the
error's message), ``code`` and ``field``. The code is the same stable code the contract, the
verifier, the client or the service raised; the classes below are the refusals only HTTP has
(a route or method that does not exist, a body of the wrong media type, the operator's request
signature). Their table, :data:`REST_ERRORS`, joins the service's ``ERRORS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mvote.chaincode._errors import ErrorTable, MvoteError
from mvote.client._errors import GatewayError

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: The ``type`` of a problem: this prefix and the code.
TYPE_PREFIX = "urn:mvote:error:"


class RouteNotFound(MvoteError):
    code = "ROUTE_NOT_FOUND"
    summary = "the REST API has no resource at that path (HTTP 404); docs/openapi.json lists them"


class MethodNotAllowed(MvoteError):
    code = "METHOD_NOT_ALLOWED"
    summary = "the REST resource does not take that HTTP method (HTTP 405)"


class UnsupportedMediaType(MvoteError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    summary = "a REST request body must be sent as application/json (HTTP 415)"


class SignatureRequired(MvoteError):
    code = "SIGNATURE_REQUIRED"
    summary = (
        "an operator request (questions, rosters, close, tally) carries no Mvote-Identity, "
        "Mvote-Timestamp and Mvote-Signature headers (HTTP 401)"
    )


class RequestSignatureInvalid(MvoteError):
    code = "REQUEST_SIGNATURE_INVALID"
    summary = (
        "an operator request's signature headers do not decode, or the signature does not "
        "verify over the request under the identity's key (HTTP 401)"
    )


class RequestExpired(MvoteError):
    code = "REQUEST_EXPIRED"
    summary = (
        "an operator request's Mvote-Timestamp is further from the service's clock than the "
        "allowed skew (HTTP 401)"
    )


class RequestReplayed(MvoteError):
    code = "REQUEST_REPLAYED"
    summary = "an operator request with this exact signature was already received (HTTP 401)"


class IdentityRefused(MvoteError):
    code = "IDENTITY_REFUSED"
    summary = (
        "an operator request's identity is not a valid certificate of the service's "
        "institution (another organisation, or a CA the institution's MSP does not trust) "
        "(HTTP 403)"
    )


class AdminRequired(MvoteError):
    code = "ADMIN_REQUIRED"
    summary = (
        "an operator request is signed by a valid identity of the institution that is not an "
        "admin (HTTP 403)"
    )


class OperatorUnavailable(MvoteError):
    code = "OPERATOR_UNAVAILABLE"
    summary = (
        "this voting service was started without an institution admin identity: it takes no "
        "operator requests (HTTP 503)"
    )


class GenesisMismatch(MvoteError):
    code = "GENESIS_MISMATCH"
    summary = (
        "the peer's block 0 does not hash to the genesis hash the profile names (the trust "
        "anchor): the REST API does not take its institution's MSP from a chain it cannot anchor"
    )


#: The REST API's own error classes (listed in the service's ``ERRORS`` table).
REST_ERRORS: ErrorTable = (
    RouteNotFound,
    MethodNotAllowed,
    UnsupportedMediaType,
    SignatureRequired,
    RequestSignatureInvalid,
    RequestExpired,
    RequestReplayed,
    IdentityRefused,
    AdminRequired,
    OperatorUnavailable,
    GenesisMismatch,
)

_BAD_REQUEST = (
    "MALFORMED",
    "NON_CANONICAL",
    "INVALID_FIELD",
    "INVALID_KEY",
    "UNKNOWN_FUNCTION",
    "BAD_ARGUMENTS",
    "BAD_SIGNATURE",
    "RULE_VIOLATION",
    "WRONG_CHANNEL",
    "INVALID_POINT",
    "INVALID_SCALAR",
    "BAD_PROOF",
    "BAD_SHARE",
    "PLAINTEXT_OUT_OF_RANGE",
    "AUDIT_MISMATCH",
    "UNSUPPORTED",
)
_FORBIDDEN = (
    "UNAUTHORISED",
    "NOT_ELIGIBLE",
    "BAD_CREDENTIAL",
    "BAD_ONSITE_CODE",
    "IDENTITY_EXPIRED",
    "NOT_TRUSTEE",
    "IDENTITY_REFUSED",
    "ADMIN_REQUIRED",
)
_UNAUTHENTICATED = (
    "SIGNATURE_REQUIRED",
    "REQUEST_SIGNATURE_INVALID",
    "REQUEST_EXPIRED",
    "REQUEST_REPLAYED",
    "INTEGRATOR_UNKNOWN",
)
_CONFLICT = (
    "ALREADY_EXISTS",
    "ALREADY_VOTED",
    "BALLOT_SPOILED",
    "INVALID_TRANSITION",
    "QUESTION_NOT_OPEN",
    "QUESTION_OPEN",
    "ROSTER_SEALED",
    "ROSTER_NOT_SEALED",
    "AGGREGATION_INCOMPLETE",
    "CEREMONY_NOT_COMPLETE",
    "NO_QUORUM",
    "COMMIT_ERROR",
    "DUPLICATE_TRANSACTION",
)
_UNAVAILABLE = (
    "NOT_RUNNING",
    "LEDGER_UNAVAILABLE",
    "NO_POSTING_IDENTITY",
    "OPERATOR_UNAVAILABLE",
    "INTAKE_CLOSED",
)
#: Faults behind the service (the network did not answer as it should): a bad gateway.
_BAD_GATEWAY = ("DELIVER_FAILED", "ENDORSEMENT_FAILED", "ENDORSEMENT_MISMATCH", "CLOCK_SKEW")

#: The HTTP status of each code the REST API answers with; a code not listed is a 400 (it
#: names something wrong with the request) unless :func:`http_status` finds it is a fault.
HTTP_STATUS: Mapping[str, int] = MappingProxyType(
    {
        **dict.fromkeys(_BAD_REQUEST, 400),
        **dict.fromkeys(_UNAUTHENTICATED, 401),
        **dict.fromkeys(_FORBIDDEN, 403),
        **dict.fromkeys(_CONFLICT, 409),
        **dict.fromkeys(_UNAVAILABLE, 503),
        **dict.fromkeys(_BAD_GATEWAY, 502),
        "NOT_FOUND": 404,
        "ROUTE_NOT_FOUND": 404,
        "METHOD_NOT_ALLOWED": 405,
        "TOO_LARGE": 413,
        "UNSUPPORTED_MEDIA_TYPE": 415,
        "RATE_LIMITED": 429,
        "TOO_MANY_STREAMS": 429,
        "STREAM_LIMIT": 429,
        "COMMIT_TIMEOUT": 504,
        # The root error: a fault of the service, never of the request.
        "INTERNAL": 500,
        "COMMIT_STATUS_ERROR": 504,
    }
)

#: The HTTP status of a Gateway failure that carries no refusal, by its gRPC status code.
_GRPC_HTTP_STATUS: Mapping[str, int] = MappingProxyType(
    {
        "INVALID_ARGUMENT": 400,
        "OUT_OF_RANGE": 400,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "FAILED_PRECONDITION": 409,
        "ABORTED": 409,
        "PERMISSION_DENIED": 403,
        "UNAUTHENTICATED": 401,
        "RESOURCE_EXHAUSTED": 429,
        "UNAVAILABLE": 503,
        "DEADLINE_EXCEEDED": 504,
    }
)


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem with mvote's stable ``code`` and the ``field`` it names."""

    status: int
    code: str
    title: str
    detail: str
    field: str | None

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.code

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "field": self.field,
        }


def http_status(error: MvoteError) -> int:
    """The HTTP status of ``error``: its code's (:data:`HTTP_STATUS`); a Gateway failure with
    no refusal by its gRPC status (502 when that says nothing more); any other code 400."""
    if error.code in HTTP_STATUS:
        return HTTP_STATUS[error.code]
    if isinstance(error, GatewayError):
        return _GRPC_HTTP_STATUS.get(error.grpc_code, 502)
    return 400


def problem_of(error: MvoteError, types: Mapping[str, type[MvoteError]]) -> Problem:
    """The problem that reports ``error``. A Gateway error that carries the contract's or the
    node's refusal reports that refusal (its code, field and message). ``types``: code -> class
    of every table, for the title (the code's summary)."""
    if isinstance(error, GatewayError) and error.refusal is not None:
        refusal = error.refusal
        code, field, detail = refusal.code, refusal.field, refusal.message
        known = types.get(code)
        status = HTTP_STATUS.get(code, 400)
    else:
        code, field, detail = error.code, error.field, error.message
        known = types.get(code, type(error))
        status = http_status(error)
    title = known.summary if known is not None else code
    return Problem(status, code, title, detail, field)
