"""Typed errors of the verifier, each with a stable code under the mvote error root.

The verifier raises these for input it cannot even read (a block that is not a protobuf, a
config without an MSP); a chain that reads but does not verify yields findings instead (see
``mvote.verifier.chain``), so one bad transaction never hides the rest of the report.
"""

from __future__ import annotations

from mvote.chaincode.errors import MvoteError


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
    summary = "the trust anchor (genesis block hash) is not 32 bytes"


class UnsupportedRangeSummary(VerifierError):
    code = "VERIFY_UNSUPPORTED_RANGE_SUMMARY"
    summary = "a range query was recorded as Merkle summary hashes, which this verifier does not recompute"


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
