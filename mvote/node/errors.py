"""Errors of the node: network set-up (configuration, crypto material, genesis block) and the
transaction flow (endorsement, submission, commit).

Each carries a stable ``code`` (see mvote.chaincode._errors for the registry and docs/errors.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from mvote.chaincode import _errors as chaincode_errors
from mvote.chaincode._errors import ErrorTable, MvoteError, Unauthorised, error_types
from mvote.client import _errors as client_errors
from mvote.node.ledger.errors import (
    BlockInconsistent,
    BlockNotFound,
    BlockOutOfOrder,
    LedgerCorrupt,
    LedgerUnavailable,
)
from mvote.verifier import _errors as verifier_errors


class ConfigInvalid(MvoteError):
    code = "CONFIG_INVALID"
    summary = (
        "the node configuration (file or arguments) is malformed: an unknown or missing key, a "
        "bad organisation name, an address that is not host:port, inconsistent size limits"
    )


class MaterialInvalid(MvoteError):
    code = "MATERIAL_INVALID"
    summary = (
        "the network directory's crypto material or genesis block is missing, unreadable or "
        "inconsistent (a file absent, a certificate not matching its key or CA, a hash mismatch)"
    )


class NetworkExists(MvoteError):
    code = "NETWORK_EXISTS"
    summary = "network init refuses to write into a directory that already holds a network"


class UnknownChaincode(MvoteError):
    code = "UNKNOWN_CHAINCODE"
    summary = "the proposal names a chaincode this channel does not run"


class ClockSkew(MvoteError):
    code = "CLOCK_SKEW"
    summary = (
        "the proposal's timestamp is too far from the endorsing node's clock: schedules and "
        "credential expiry are judged by transaction time, so endorsers bound it"
    )


class EndorsementFailed(MvoteError):
    code = "ENDORSEMENT_FAILED"
    summary = "an endorsing peer refused the proposal (each refusal is named with its organisation)"

    def __init__(
        self,
        message: str,
        *,
        details: list[tuple[str, str]],
        field: str | None = None,
        payload: bytes = b"",
    ):
        super().__init__(message, field=field)
        #: (MSP id, the peer's message) for every refusal.
        self.details = details
        #: The first refused response's payload (the contract's structured refusal, if any).
        self.payload = payload


class EndorsementMismatch(MvoteError):
    code = "ENDORSEMENT_MISMATCH"
    summary = "endorsing peers produced different results for the same proposal"


class DuplicateTransaction(MvoteError):
    code = "DUPLICATE_TRANSACTION"
    summary = "a transaction with this id is already committed or waiting to be ordered"


class NotRunning(MvoteError):
    code = "NOT_RUNNING"
    summary = "the node is stopping or stopped and takes no more transactions"


class CommitTimeout(MvoteError):
    code = "COMMIT_TIMEOUT"
    summary = "the transaction was not committed within the time waited (it may still commit)"


class TooManyStreams(MvoteError):
    code = "TOO_MANY_STREAMS"
    summary = (
        "the gRPC server holds as many streams and waits as its limits allow, in all or for this "
        "connection or identity (RESOURCE_EXHAUSTED); retry after one ends"
    )


class StreamIdle(MvoteError):
    code = "STREAM_IDLE"
    summary = (
        "a stream sent no request within limits.stream_request_seconds and was ended "
        "(DEADLINE_EXCEEDED)"
    )


class IdentityExpired(Unauthorised):
    code = "IDENTITY_EXPIRED"
    summary = (
        "the certificate of the identity making the request expired (its notAfter is past on the "
        "node's clock): refused at Endorse, Submit, Broadcast, Deliver and CommitStatus"
    )


#: The node's error table: every error class with a code that mvote.node defines.
ERRORS: ErrorTable = (
    ConfigInvalid,
    MaterialInvalid,
    NetworkExists,
    UnknownChaincode,
    ClockSkew,
    EndorsementFailed,
    EndorsementMismatch,
    DuplicateTransaction,
    NotRunning,
    CommitTimeout,
    TooManyStreams,
    StreamIdle,
    IdentityExpired,
    BlockOutOfOrder,
    BlockInconsistent,
    BlockNotFound,
    LedgerCorrupt,
    LedgerUnavailable,
)

#: code -> class over all four tables (the node may import every part).
ALL_ERROR_TYPES: Mapping[str, type[MvoteError]] = error_types(
    chaincode_errors.ERRORS, verifier_errors.ERRORS, client_errors.ERRORS, ERRORS
)
