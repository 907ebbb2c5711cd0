"""Typed errors with stable codes: the one error root of mvote, and the chaincode's error table.

Every refusal carries a stable ``code`` (documented in docs/errors.md, generated from the tables)
and a message that names the offending field, in the form "expected X, got Y" where that fits.

The registry of codes is explicit: each package lists its error classes in a module-level
``ERRORS`` tuple (this module, ``mvote.verifier._errors``, ``mvote.client._errors`` and
``mvote.node.errors``). Nothing registers itself on import. :func:`error_types` builds the
code -> class mapping from the tables a caller can see (layering: the chaincode sees only its
own; the node sees all four), and refuses a code listed twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

#: One package's error table: its error classes, listed explicitly.
ErrorTable = tuple[type["MvoteError"], ...]


class MvoteError(Exception):
    """Root of every error mvote raises on purpose."""

    code: ClassVar[str] = "INTERNAL"
    #: One line for the error table in docs/errors.md.
    summary: ClassVar[str] = "an unexpected internal error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def error_types(*tables: Iterable[type[MvoteError]]) -> Mapping[str, type[MvoteError]]:
    """code -> class over ``tables`` (read-only).

    Precondition: each class in the tables sets its own ``code``, and no code appears twice;
    a violation is a programming error and raises TypeError at import time of the caller.
    """
    found: dict[str, type[MvoteError]] = {}
    for table in tables:
        for cls in table:
            if "code" not in vars(cls):
                raise TypeError(f"{cls.__qualname__} is in an error table but sets no code")
            if found.setdefault(cls.code, cls) is not cls:
                raise TypeError(f"error code {cls.code} is listed twice")
    return MappingProxyType(found)


# --- encoding -------------------------------------------------------------------------------


class Malformed(MvoteError):
    code = "MALFORMED"
    summary = "the bytes do not parse (not UTF-8, not JSON, not the expected protobuf)"


class NonCanonical(MvoteError):
    code = "NON_CANONICAL"
    summary = (
        "the input parses but is not the one canonical encoding (RFC 8785 JSON: key order, "
        "whitespace, escapes, duplicate keys, floats, non-NFC text, trailing bytes)"
    )


class InvalidField(MvoteError):
    code = "INVALID_FIELD"
    summary = "a field is missing, unknown, of the wrong type, too long, or out of range"


class TooLarge(MvoteError):
    code = "TOO_LARGE"
    summary = "a payload or argument is over its size limit"


class InvalidKey(MvoteError):
    code = "INVALID_KEY"
    summary = (
        "a public key is not a canonical point of the prime-order group (or is of small order)"
    )


# --- invocation and authorisation --------------------------------------------------------------


class UnknownFunction(MvoteError):
    code = "UNKNOWN_FUNCTION"
    summary = "the contract has no function of that name"


class BadArguments(MvoteError):
    code = "BAD_ARGUMENTS"
    summary = "the function got the wrong number of arguments"


class Unauthorised(MvoteError):
    code = "UNAUTHORISED"
    summary = "the transaction creator may not call this function on this record"


# --- records and lifecycle ---------------------------------------------------------------------


class NotFound(MvoteError):
    code = "NOT_FOUND"
    summary = "no question, roster, ballot or tally with that id"


class AlreadyExists(MvoteError):
    code = "ALREADY_EXISTS"
    summary = "a record with that id (or a roster entry with that hash) already exists"


class InvalidTransition(MvoteError):
    code = "INVALID_TRANSITION"
    summary = "the question's lifecycle does not allow that transition from its current state"


class QuestionNotOpen(MvoteError):
    code = "QUESTION_NOT_OPEN"
    summary = "the question is not OPEN, or the transaction time is outside its schedule"


class Unsupported(MvoteError):
    """Raised by the JavaScript ballot package (js/ballot) for secret ballots; kept so the code
    stays in the one table that documents every code."""

    code = "UNSUPPORTED"
    summary = "a feature this version does not provide yet (named in the message)"


class RosterSealed(MvoteError):
    code = "ROSTER_SEALED"
    summary = "the roster is sealed and never changes again"


class RosterNotSealed(MvoteError):
    code = "ROSTER_NOT_SEALED"
    summary = "the question's roster must be sealed before the question opens"


# --- ballots -----------------------------------------------------------------------------------


class NotEligible(MvoteError):
    code = "NOT_ELIGIBLE"
    summary = "the voter is not on the roster, or holds no valid credential for the question"


class BadCredential(MvoteError):
    code = "BAD_CREDENTIAL"
    summary = "the registrar credential is for another voter, question or channel, expired, or not signed by a registrar of the question"


class BadOnsiteCode(MvoteError):
    code = "BAD_ONSITE_CODE"
    summary = "the on-site code is missing or does not match the question's committed hash"


class BadSignature(MvoteError):
    code = "BAD_SIGNATURE"
    summary = "a signature does not verify under the key it claims"


class RuleViolation(MvoteError):
    code = "RULE_VIOLATION"
    summary = "the choices break the question's ballot rule (count, range, duplicates)"


class AlreadyVoted(MvoteError):
    code = "ALREADY_VOTED"
    summary = "the voter already has a ballot on this question"


class QuestionMismatch(MvoteError):
    code = "QUESTION_MISMATCH"
    summary = (
        "the ballot was prepared against another question record (title, option labels, rule, "
        "eligibility or election key differ from the ones on the ledger): ballot.question is the "
        "hash it binds"
    )


class BallotSpoiled(MvoteError):
    code = "BALLOT_SPOILED"
    summary = (
        "the ballot was audited (spoiled): its opening is on the ledger, so it can never be cast; "
        "prepare a fresh ballot"
    )


class WrongChannel(MvoteError):
    code = "WRONG_CHANNEL"
    summary = "a signed payload names another channel than the one it was submitted to"


# --- tally -------------------------------------------------------------------------------------


class AggregationIncomplete(MvoteError):
    code = "AGGREGATION_INCOMPLETE"
    summary = "the tally needs every shard aggregated to its end first"


# --- secret ballots (mvote.chaincode._crypto) ---------------------------------------------------


class InvalidPoint(MvoteError):
    code = "INVALID_POINT"
    summary = (
        "a group element is not 64 lowercase hex digits of a canonical edwards25519 point in the "
        "prime-order subgroup, or is the identity or of small order where that is refused"
    )


class InvalidScalar(MvoteError):
    code = "INVALID_SCALAR"
    summary = (
        "a scalar is not 64 lowercase hex digits of a little-endian integer below the group "
        "order L (or is zero where zero is refused)"
    )


class BadProof(MvoteError):
    code = "BAD_PROOF"
    summary = (
        "a zero-knowledge proof does not verify: a wrong challenge or response, or a proof made "
        "for another statement, key, question, voter or trustee"
    )


class BadShare(MvoteError):
    code = "BAD_SHARE"
    summary = (
        "a key share sent by the named dealer does not decrypt, or does not match the dealer's "
        "published polynomial commitments"
    )


class NoQuorum(MvoteError):
    code = "NO_QUORUM"
    summary = "fewer than k distinct trustees of the ceremony took part in a decryption"


class PlaintextOutOfRange(MvoteError):
    code = "PLAINTEXT_OUT_OF_RANGE"
    summary = "a decrypted value is not m·G for any m in 0..bound (the bound is the ballot count)"


class AuditMismatch(MvoteError):
    code = "AUDIT_MISMATCH"
    summary = (
        "a spoiled ballot, opened with its revealed nonce seed, does not encrypt the choices the "
        "voter intended (the first differing option is named)"
    )


# --- secret-mode contract (ceremony, decryption) -------------------------------------------------


class NotTrustee(MvoteError):
    code = "NOT_TRUSTEE"
    summary = "a posting names a trustee index that is not part of the ceremony"


class CeremonyNotComplete(MvoteError):
    code = "CEREMONY_NOT_COMPLETE"
    summary = (
        "the key ceremony is not complete (or failed): it has no election key to encrypt or "
        "decrypt with yet"
    )


#: The chaincode's error table (mvote.chaincode): every error class this package defines.
ERRORS: ErrorTable = (
    MvoteError,
    Malformed,
    NonCanonical,
    InvalidField,
    TooLarge,
    InvalidKey,
    UnknownFunction,
    BadArguments,
    Unauthorised,
    NotFound,
    AlreadyExists,
    InvalidTransition,
    QuestionNotOpen,
    Unsupported,
    RosterSealed,
    RosterNotSealed,
    NotEligible,
    BadCredential,
    BadOnsiteCode,
    BadSignature,
    RuleViolation,
    AlreadyVoted,
    QuestionMismatch,
    BallotSpoiled,
    WrongChannel,
    AggregationIncomplete,
    InvalidPoint,
    InvalidScalar,
    BadProof,
    BadShare,
    NoQuorum,
    PlaintextOutOfRange,
    AuditMismatch,
    NotTrustee,
    CeremonyNotComplete,
)

#: code -> class for the chaincode's own codes.
ERROR_TYPES: Mapping[str, type[MvoteError]] = error_types(ERRORS)


# --- structured refusals -----------------------------------------------------------------------

#: A refusal payload larger than this is refused (no message the code writes comes close).
MAX_REFUSAL_BYTES = 64 << 10
_REFUSAL_KEYS = ("code", "field", "message")
_CODE_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CODE_CHARS = _CODE_START | frozenset("0123456789_")
#: Fabric's texts around a contract's "CODE: message" (apiutils.responseStatus, the gateway's
#: orderer refusal). from_fabric_message accepts these prefixes and the bare form only.
_CHAINCODE_PREFIX = "chaincode response "
_ORDERER_PREFIX = "received unsuccessful response from orderer: status="
_ORDERER_INFO = ", info="


def is_code(text: str) -> bool:
    """Whether ``text`` is spelled as an error code: UPPER_SNAKE_CASE, no empty part."""
    return text[:1] in _CODE_START and set(text) <= _CODE_CHARS and "" not in text.split("_")


@dataclass(frozen=True)
class Refusal:
    """A refusal as data: the code, the field it names (None when none) and the message.

    The contract carries ``to_bytes()`` as the payload of a refused response, beside the message
    text ``to_text()`` (exactly ``str(error)``, unchanged on the wire). Precondition of
    construction: ``code`` is spelled as a code (:func:`is_code`); checked, TypeError otherwise
    (a programming error: every error class's code is).
    """

    code: str
    field: str | None
    message: str

    def __post_init__(self) -> None:
        if not is_code(self.code):
            raise TypeError(f"refusal code: expected UPPER_SNAKE_CASE, got {self.code[:64]!r}")

    @classmethod
    def of(cls, error: MvoteError) -> Refusal:
        """The refusal ``error`` stands for."""
        return cls(error.code, error.field, error.message)

    def to_text(self) -> str:
        """The Fabric-compatible message: ``"CODE: message"``, as ``str(error)`` gives it."""
        return f"{self.code}: {self.message}"

    def to_json(self) -> dict[str, str | None]:
        """``{"code", "field", "message"}`` (``field`` None when absent), as :meth:`to_bytes`
        writes it."""
        return {"code": self.code, "field": self.field, "message": self.message}

    def to_bytes(self) -> bytes:
        """Canonical JSON (RFC 8785) of ``{"code", "field", "message"}``; ``field`` null when
        absent. Never raises: a lone surrogate in the text (which no UTF-8 source produces) is
        written as its backslash escape."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8", "backslashreplace")

    @classmethod
    def from_bytes(cls, data: bytes) -> Refusal:
        """Decode what :meth:`to_bytes` wrote, and nothing else.

        Raises TooLarge (over MAX_REFUSAL_BYTES), Malformed (not UTF-8 JSON), InvalidField (not
        an object of exactly code, field and message with string values, field string or null,
        code spelled as a code) or NonCanonical (any other spelling of the same value).
        """
        if len(data) > MAX_REFUSAL_BYTES:
            raise TooLarge(
                f"refusal: expected at most {MAX_REFUSAL_BYTES} bytes, got {len(data)}",
                field="refusal",
            )
        refusal = cls._from_value(_load_json(data))
        if refusal.to_bytes() != data:
            raise NonCanonical("refusal: not in canonical form", field="refusal")
        return refusal

    @classmethod
    def from_json(cls, value: Any) -> Refusal:
        """The refusal of a decoded ``{"code", "field", "message"}`` object (as :meth:`to_json`
        gives it); InvalidField naming what is wrong otherwise."""
        return cls._from_value(value)

    @classmethod
    def _from_value(cls, value: Any) -> Refusal:
        if not isinstance(value, dict) or sorted(value) != list(_REFUSAL_KEYS):
            keys = sorted(value) if isinstance(value, dict) else type(value).__name__
            raise InvalidField(
                f"refusal: expected an object with keys {list(_REFUSAL_KEYS)}, got {keys}",
                field="refusal",
            )
        code, field, message = value["code"], value["field"], value["message"]
        if not isinstance(code, str) or not is_code(code):
            raise InvalidField(
                f"refusal.code: expected an error code, got {code!r}"[:200], field="refusal.code"
            )
        if field is not None and not isinstance(field, str):
            raise InvalidField("refusal.field: expected a string or null", field="refusal.field")
        if not isinstance(message, str):
            raise InvalidField("refusal.message: expected a string", field="refusal.message")
        return cls(code, field, message)

    @classmethod
    def from_fabric_message(cls, text: str) -> Refusal:
        """Read a refusal out of one of Fabric's known message forms, strictly:

        - ``"CODE: message"`` (a contract's response message, a node's ``str(error)``);
        - ``"chaincode response NNN, CODE: message"`` (a peer's text for a refused proposal);
        - ``"received unsuccessful response from orderer: status=NAME, info=CODE: message"``.

        ``field`` is None (the text does not carry it). Anything else raises Malformed.
        """
        inner = text
        if text.startswith(_CHAINCODE_PREFIX):
            status, sep, inner = text[len(_CHAINCODE_PREFIX) :].partition(", ")
            if not sep or len(status) != 3 or not status.isdecimal():
                raise Malformed(
                    "message: expected 'chaincode response NNN, CODE: text'", field="message"
                )
        elif text.startswith(_ORDERER_PREFIX):
            status, sep, inner = text[len(_ORDERER_PREFIX) :].partition(_ORDERER_INFO)
            if not sep or not is_code(status):
                raise Malformed("message: expected 'status=NAME, info=CODE: text'", field="message")
        code, sep, message = inner.partition(": ")
        if not sep or not is_code(code):
            raise Malformed(
                f"message: expected 'CODE: text' in a known Fabric form, got {text[:80]!r}",
                field="message",
            )
        return cls(code, None, message)

    def error(self, *tables: Iterable[type[MvoteError]]) -> MvoteError:
        """The error this refusal stands for, as the class ``tables`` list for its code (the
        chaincode's own table when none is given).

        A code no table lists, or a class that needs more than (message, field) to be built,
        gives a plain MvoteError whose message is :meth:`to_text` (code kept in the text).
        """
        err_type = error_types(*(tables or (ERRORS,))).get(self.code)
        if err_type is None or err_type.__init__ is not MvoteError.__init__:
            return MvoteError(self.to_text(), field=self.field)
        return err_type(self.message, field=self.field)


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise NonCanonical(f"refusal: duplicate key {exc}", field="refusal") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Malformed(f"refusal: not UTF-8 JSON ({exc})"[:300], field="refusal") from exc


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _DuplicateKey(repr([k for k, _ in pairs][:8])[:100])
    return value
