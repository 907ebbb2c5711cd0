"""Errors of the Gateway client, one per stage of a transaction, as fabric-gateway has them.

Every one carries the transaction id (where there is one), the gRPC status code and message, and
the ``gateway.ErrorDetail`` list the gateway attached (one per refusing peer or orderer). Its
``refusal`` is the typed refusal the contract or the node gave, as data (code, field, message):
from the ``google.rpc.ErrorInfo`` trailer (domain ``mvote``) when the gateway attached one, else
read strictly from one of Fabric's known message forms (``Refusal.from_fabric_message``: a real
Fabric gateway attaches no ErrorInfo). When this process knows the refusal's code, the raised
exception is also an instance of that error's class, so ``except AlreadyVoted`` catches a refused
ballot whichever stage refused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mvote.chaincode import _errors as chaincode_errors
from mvote.chaincode._errors import ErrorTable, InvalidField, MvoteError, Refusal, error_types
from mvote.verifier import _errors as verifier_errors


@dataclass(frozen=True)
class ErrorDetail:
    """``gateway.ErrorDetail``: which peer or orderer said what."""

    address: str
    msp_id: str
    message: str


def refusal_from_texts(texts: Sequence[str]) -> Refusal | None:
    """The refusal of the first text in one of Fabric's known message forms, else None."""
    for text in texts:
        try:
            return Refusal.from_fabric_message(text)
        except MvoteError:
            continue
    return None


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
        refusal: Refusal | None = None,
    ) -> None:
        """``refusal``: from the call's ErrorInfo trailer, if it had one; else it is read from
        the details' and the message's text (Fabric's known forms only)."""
        # Not super(): in a typed subclass (see gateway_error) the next class in the MRO is the
        # carried error's, whose constructor may want other arguments.
        MvoteError.__init__(self, message, field=field)
        #: The gRPC status code's name (``ABORTED``, ``PERMISSION_DENIED``, ...).
        self.grpc_code = grpc_code
        self.details = tuple(details)
        self.transaction_id = transaction_id
        if refusal is None:
            refusal = refusal_from_texts([d.message for d in self.details] + [message])
        #: The contract's or the node's refusal as data, if the call carried one.
        self.refusal = refusal
        #: That refusal's code, known to this process or not.
        self.reason_code = refusal.code if refusal is not None else None
        #: That refusal rebuilt as its class, when this process knows the code.
        self.cause = _known_error(refusal)

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
        #: Always None: the transaction was not refused, validation marked it invalid.
        self.refusal: Refusal | None = None
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


class NotVerified(MvoteError):
    """Chain state a client was about to act on could not be verified from the trust anchor.

    ``field`` (and ``check``) names the check that failed: a chain check of the verifier
    (``orderer_signature``, ``previous_hash``, ``validation_code``, ...) or a check of the
    verified reads (``trust_anchor``, ``question_record``, ``ceremony_record``, ``dealing``,
    ``aggregate``); the client acted on nothing it read."""

    code = "NOT_VERIFIED"
    summary = (
        "chain state the client needs could not be verified from the genesis hash (the check "
        "named in the field failed); the client refused to act on it"
    )

    def __init__(self, message: str, *, check: str) -> None:
        super().__init__(f"{check}: {message}", field=check)
        #: The failed check's stable name.
        self.check = check


class BadReply(InvalidField):
    """The node's answer to a contract function does not match the record the function
    declares; ``field`` names the first field that does not match (``tally.counts``,
    ``results.final``, ...). Nothing was done with the answer."""

    code = "BAD_REPLY"
    summary = (
        "the node's answer to a contract function does not match its declared record (the "
        "field named); the client used none of it"
    )


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
    NotVerified,
    BadReply,
    WrongPassphrase,
)

#: The tables of the parts the client may import: the codes it can rebuild as classes.
_TABLES = (chaincode_errors.ERRORS, verifier_errors.ERRORS, ERRORS)
_KNOWN = error_types(*_TABLES)


def _known_error(refusal: Refusal | None) -> MvoteError | None:
    """``refusal`` as its error class, when a table this process has lists its code."""
    if refusal is None or refusal.code not in _KNOWN:
        return None
    error = refusal.error(*_TABLES)
    return None if type(error) is MvoteError else error


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
