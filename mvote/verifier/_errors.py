"""Typed errors of the verifier, each with a stable code under the mvote error root.

The verifier raises these for input it cannot even read (a block that is not a protobuf, a
config without an MSP); a chain that reads but does not verify yields findings instead (see
``mvote.verifier._chain``), so one bad transaction never hides the rest of the report.
"""

from __future__ import annotations

from typing import ClassVar

from mvote.chaincode._errors import ErrorTable, MvoteError
from mvote.verifier._checks import Check


class VerifierError(MvoteError):
    """Root of the verifier's own refusals; never raised itself."""


class MalformedProto(VerifierError):
    code = "VERIFY_MALFORMED_PROTO"
    summary = "a Fabric protobuf (block, envelope, header, action, rwset, config) does not parse or lacks a required field"


class BadConfig(VerifierError):
    code = "VERIFY_BAD_CONFIG"
    summary = "a channel config is unusable: missing group, value or MSP, or an unknown policy type"


class UnknownMSP(VerifierError):
    code = "VERIFY_UNKNOWN_MSP"
    summary = "an identity names an MSP id that the channel config does not define"


class BadIdentity(VerifierError):
    code = "VERIFY_BAD_IDENTITY"
    summary = "an identity is not a PEM X.509 certificate, does not chain to its MSP's roots, or has no single NodeOU role"


class BadSignatureEncoding(VerifierError):
    code = "VERIFY_BAD_SIGNATURE_ENCODING"
    summary = "a signature is not a canonical DER ECDSA signature with 0 < r, s < n"


class HighS(VerifierError):
    code = "VERIFY_HIGH_S"
    summary = "an ECDSA signature has S above half the curve order (Fabric accepts low-S only)"


class SignatureMismatch(VerifierError):
    code = "VERIFY_SIGNATURE_MISMATCH"
    summary = (
        "an ECDSA P-256 signature does not verify over the signed bytes under the signer's key"
    )


class BadPolicy(VerifierError):
    code = "VERIFY_BAD_POLICY"
    summary = (
        "a policy does not parse, references an unknown policy, or a signer index out of range"
    )


class BadAnchor(VerifierError):
    code = "VERIFY_BAD_ANCHOR"
    summary = (
        "the trust anchor (genesis block hash) is missing, not 64 hex digits (32 bytes), or "
        "not in the profile named"
    )


class BlockNumbering(VerifierError):
    code = "VERIFY_BLOCK_NUMBERING"
    summary = (
        "a folder of block files holds two blocks of one header number, or misses a number "
        "between 0 and its highest"
    )


class UnsupportedRangeSummary(VerifierError):
    code = "VERIFY_UNSUPPORTED_RANGE_SUMMARY"
    summary = "a range query was recorded as Merkle summary hashes, which this verifier does not recompute"


class DeliverFailed(MvoteError):
    code = "DELIVER_FAILED"
    summary = "the peer's Deliver service refused the request or ended the stream early"

    def __init__(
        self, message: str, *, field: str | None = None, grpc_code: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        #: The gRPC status code's name when the call itself failed (``UNAVAILABLE``: no peer
        #: answered at the address); None when the peer answered with a Deliver status.
        self.grpc_code = grpc_code


class ConfigUpdateError(VerifierError):
    """A CONFIG transaction that Fabric's configtx validator refuses; never raised itself.

    ``check`` is the audit's check name for the refusal (a :class:`~mvote.verifier._checks.Check`).
    """

    check: ClassVar[Check] = Check.CONFIG_UPDATE


class BadConfigUpdate(ConfigUpdateError):
    code = "VERIFY_BAD_CONFIG_UPDATE"
    summary = "a config transaction's update is unusable: not the next sequence, no CONFIG_UPDATE, another channel, an empty delta, an illegal key or mod_policy"


class ConfigReadSetMismatch(ConfigUpdateError):
    code = "VERIFY_CONFIG_READ_SET"
    summary = "a config update's read set names an element absent from the current config or at another version"
    check = Check.CONFIG_READ_SET


class ConfigVersionMismatch(ConfigUpdateError):
    code = "VERIFY_CONFIG_WRITE_SET"
    summary = "a config update's write set changes an element without raising its version by exactly one (or adds one at a version other than 0)"
    check = Check.CONFIG_WRITE_SET


class ConfigModPolicyFailure(ConfigUpdateError):
    code = "VERIFY_CONFIG_MOD_POLICY"
    summary = "the signatures of a config update do not satisfy the mod_policy of an element it changes (or that policy does not exist)"
    check = Check.CONFIG_MOD_POLICY


class ConfigResultMismatch(ConfigUpdateError):
    code = "VERIFY_CONFIG_RESULT"
    summary = (
        "the config a config transaction installs is not the current config with its update applied"
    )
    check = Check.CONFIG_RESULT


def unexpected(exc: BaseException) -> str:
    """A report's text for a failure no check foresaw: the exception and where it was raised.

    The verifier turns such a failure into a finding (or an invalid transaction) instead of
    letting it escape; the text says enough to find the cause.
    """
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        code = tb.tb_frame.f_code
        where = f" at {code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} ({code.co_name})"
    return f"the verifier failed on this input: {type(exc).__name__}: {exc}{where}"


#: The verifier's error table: every error class with a code that mvote.verifier defines.
ERRORS: ErrorTable = (
    MalformedProto,
    BadConfig,
    UnknownMSP,
    BadIdentity,
    BadSignatureEncoding,
    HighS,
    SignatureMismatch,
    BadPolicy,
    BadAnchor,
    BlockNumbering,
    UnsupportedRangeSummary,
    BadConfigUpdate,
    ConfigReadSetMismatch,
    ConfigVersionMismatch,
    ConfigModPolicyFailure,
    ConfigResultMismatch,
    DeliverFailed,
)
