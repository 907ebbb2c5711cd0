"""The voting service's own errors; every other refusal it passes on is the chaincode's, the
verifier's or the client's, with the same stable code.

The service's ``ERRORS`` table lists them (docs/errors.md is generated from it with the other
tables: docs/gen_errors.py).
"""

from __future__ import annotations

from mvote.chaincode._errors import ErrorTable, MvoteError
from mvote.service._rest_errors import REST_ERRORS


class RateLimited(MvoteError):
    code = "RATE_LIMITED"
    summary = (
        "the integrator or the source address sent more requests than its rate limit allows; "
        "retry later (gRPC RESOURCE_EXHAUSTED)"
    )


class StreamLimit(MvoteError):
    # Not the node's TOO_MANY_STREAMS (Deliver and Gateway streams of a peer): the service
    # cannot import the node, and its limit also counts per integrator.
    code = "STREAM_LIMIT"
    summary = (
        "the voting service already serves as many concurrent streams as it allows (in all, or "
        "for this integrator); close one or retry later (gRPC RESOURCE_EXHAUSTED)"
    )


class IntegratorUnknown(MvoteError):
    code = "INTEGRATOR_UNKNOWN"
    summary = (
        "the call carries no client certificate that a trusted institution's CA issued "
        "(gRPC UNAUTHENTICATED)"
    )


class NoPostingIdentity(MvoteError):
    code = "NO_POSTING_IDENTITY"
    summary = (
        "this voting service was started without an institution admin identity, which the "
        "contract requires for trustee postings; post through a service that has one"
    )


class ProfileInvalid(MvoteError):
    code = "PROFILE_INVALID"
    summary = (
        "a connection profile file is unreadable, not a profile, or names an endpoint, "
        "certificate or genesis hash that is not well formed"
    )


class IntakeClosed(MvoteError):
    code = "INTAKE_CLOSED"
    summary = "the batching intake is closed and takes no more ballots"


#: The service's error table: every error class with a code that mvote.service defines (the
#: REST API's own refusals, ``_rest_errors.REST_ERRORS``, last).
ERRORS: ErrorTable = (
    RateLimited,
    StreamLimit,
    IntegratorUnknown,
    NoPostingIdentity,
    ProfileInvalid,
    IntakeClosed,
    *REST_ERRORS,
)
