"""Errors of the Gateway client, one per stage of a transaction, as fabric-gateway has them.

Every one carries the transaction id (where there is one), the gRPC status code and message, and
the ``gateway.ErrorDetail`` list the gateway attached (one per refusing peer or orderer). Where a
detail or the message carries a typed mvote error (``CODE: text``, as the chaincode and the node
write them), the raised exception is also an instance of that error's class, so
``except AlreadyVoted`` catches a refused ballot whichever stage refused it, and ``reason_code``
holds the code (known to this process or not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mvote.chaincode import errors as chaincode_errors
from mvote.chaincode.errors import ErrorTable, MvoteError, error_types
from mvote.verifier import errors as verifier_errors

#: A typed error inside a longer text: "chaincode response 400, ALREADY_VOTED: ...",
#: "status=BAD_REQUEST, info=DUPLICATE_TRANSACTION: ...".
_CODED = re.compile(r"(?:^|[\s=,(\[])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,}): (.+)", re.DOTALL)


@dataclass(frozen=True)
class ErrorDetail:
    """``gateway.ErrorDetail``: which peer or orderer said what."""

    address: str
    msp_id: str
    message: str


def find_typed(texts: Sequence[str]) -> tuple[str | None, MvoteError | None]:
    """The first ``CODE: text`` in ``texts``: its code, and the typed error if the code is
    registered in this process (else None)."""
    for text in texts:
        for match in _CODED.finditer(text):
            code, message = match.group(1), match.group(2)
            err_type = _KNOWN.get(code)
            if err_type is not None and err_type is not MvoteError:
                return code, err_type(message)
            if "_" in code:
                return code, None
    return None, None


class GatewayError(MvoteError):
    """A Gateway call failed: the gRPC status says how, the details say where."""

    code = "GATEWAY_ERROR"
    summary = (
        "a Gateway call (evaluate, chaincode or block events) failed; the gRPC status code and the "
        "gateway's ErrorDetails (one per refusing peer or orderer) say where and why"
    )

    def __init__(
        self,
        message: str,
        *,
        grpc_code: str = "UNKNOWN",
        details: Sequence[ErrorDetail] = (),
        transaction_id: str = "",
        field: str | None = None,
    ) -> None:
        # Not super(): in a typed subclass (see gateway_error) the next class in the MRO is the
        # carried error's, whose constructor may want other arguments.
        MvoteError.__init__(self, message, field=field)
        #: The gRPC status code's name (``ABORTED``, ``PERMISSION_DENIED``, ...).
        self.grpc_code = grpc_code
        self.details = tuple(details)
        self.transaction_id = transaction_id
        code, cause = find_typed([d.message for d in self.details] + [message])
        #: The typed mvote error code found in the details or the message, if any.
        self.reason_code = code
        #: That error rebuilt as its class, when this process knows the code.
        self.cause = cause

    def __str__(self) -> str:
        tx = f" (tx {self.transaction_id})" if self.transaction_id else ""
        return f"{self.code}: {self.grpc_code}: {self.message}{tx}"


class EndorseError(GatewayError):
    code = "ENDORSE_ERROR"
    summary = (
        "the Gateway's Endorse refused the proposal (a peer check or the chaincode refused it)"
    )


class SubmitError(GatewayError):
    code = "SUBMIT_ERROR"
    summary = "the Gateway's Submit refused the endorsed transaction (the orderer's status in the message)"


class CommitStatusError(GatewayError):
    code = "COMMIT_STATUS_ERROR"
    summary = "the commit status of a submitted transaction could not be obtained (the transaction may still commit)"


class CommitError(MvoteError):
    """The transaction was ordered and committed, but validation marked it invalid."""

    code = "COMMIT_ERROR"
    summary = (
        "the transaction committed with a validation code other than VALID (MVCC_READ_CONFLICT, "
        "ENDORSEMENT_POLICY_FAILURE, ...); nothing it wrote took effect"
    )

    def __init__(
        self, message: str, *, transaction_id: str, status_code: int, block_number: int
    ) -> None:
        super().__init__(message, field="transaction")
        self.transaction_id = transaction_id
        #: The ``peer.TxValidationCode`` number.
        self.status_code = status_code
        self.block_number = block_number


class QuestionOpen(MvoteError):
    code = "QUESTION_OPEN"
    summary = "a question must be CLOSED for this step (a tally) and is still OPEN"


class CheckpointInvalid(MvoteError):
    code = "CHECKPOINT_INVALID"
    summary = "a checkpoint file is unreadable or does not hold a block number and transaction id"


class WrongPassphrase(MvoteError):
    code = "WRONG_PASSPHRASE"
    summary = "the wallet does not open with that passphrase (or the file was altered)"


#: The client's error table: every error class with a code that mvote.client defines.
ERRORS: ErrorTable = (
    GatewayError,
    EndorseError,
    SubmitError,
    CommitStatusError,
    CommitError,
    QuestionOpen,
    CheckpointInvalid,
    WrongPassphrase,
)

#: The codes a client can rebuild as classes: the tables of the parts the client may import.
_KNOWN = error_types(chaincode_errors.ERRORS, verifier_errors.ERRORS, ERRORS)


E = TypeVar("E", bound=GatewayError)


_TYPED: dict[tuple[type[GatewayError], type[MvoteError]], type[GatewayError]] = {}


def _typed_class(stage: type[GatewayError], cause: type[MvoteError]) -> type[GatewayError]:
    # A subclass of both, registered under no code of its own (no ``code`` in its namespace);
    # one class per pair, so ``type(a) is type(b)`` holds for two errors of the same kind.
    key = (stage, cause)
    if key not in _TYPED:
        name = f"{stage.__name__}[{cause.code}]"
        _TYPED[key] = type(name, (stage, cause), {"__module__": stage.__module__})
    return _TYPED[key]


def gateway_error(stage: type[E], message: str, **kwargs: Any) -> GatewayError:
    """An error of ``stage``, also an instance of the typed error it carries, if any."""
    plain = stage(message, **kwargs)
    if plain.cause is None or isinstance(plain.cause, stage):
        return plain
    typed = _typed_class(stage, type(plain.cause))
    return typed(message, **kwargs)
