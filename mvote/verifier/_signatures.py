"""ECDSA P-256 / SHA-256 signature checks as Fabric's BCCSP does them, low-S enforced.

Fabric's signers always normalise S to the lower half of the group order and its verifier
rejects the other half; accepting both would make every signature malleable (a second valid
signature on the same bytes), so we refuse high S exactly as Fabric does.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mvote.verifier._errors import BadSignatureEncoding, HighS, SignatureMismatch
from mvote.verifier._memo import Memo

#: Order of the P-256 base point.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_HALF_ORDER = P256_ORDER >> 1

_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))
#: Signatures that verified, by (signer's key, SHA-256 of the signed bytes). A process checks the
#: same signature more than once (a creator's at submission and at commit in the embedded node,
#: endorsements again when an early failure is diagnosed, a receipt's blocks offline and again in
#: its audit); a verification is a pure function of key, bytes and signature, so a remembered
#: success is the answer a new check would give. Failures are not remembered. An entry is about
#: 0.3 kB: enough of them for the transactions of a few full blocks.
_verified: Memo[tuple[bytes, bytes], bytes] = Memo(8192)


def decode_signature(signature: bytes) -> tuple[int, int]:
    """(r, s) of a DER ECDSA signature; refuses anything but the one canonical DER form.

    Refusing non-canonical DER (trailing bytes, long-form lengths) is stricter than Go's
    asn1.Unmarshal, which ignores trailing bytes; Fabric never produces such signatures and
    accepting them would be another malleability.
    """
    try:
        r, s = decode_dss_signature(signature)
    except ValueError as exc:
        raise BadSignatureEncoding(
            f"signature: expected a DER ECDSA signature, got {len(signature)} bytes that do not parse",
            field="signature",
        ) from exc
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        raise BadSignatureEncoding(
            "signature: expected 0 < r, s < n of P-256, got a value out of range", field="signature"
        )
    if encode_dss_signature(r, s) != signature:
        raise BadSignatureEncoding(
            "signature: expected canonical DER, got a non-canonical encoding", field="signature"
        )
    return r, s


def is_low_s(signature: bytes) -> bool:
    """True when the DER signature's S is at most half the P-256 order (Fabric's IsLowS)."""
    _, s = decode_signature(signature)
    return s <= P256_HALF_ORDER


def verify_p256_sha256(
    public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes
) -> None:
    """Raise unless ``signature`` is a low-S ECDSA P-256 signature over SHA-256(``data``).

    Precondition: ``public_key`` is on P-256 (a key on another curve is refused, since Fabric
    MSPs in this network issue P-256 only).
    """
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise SignatureMismatch(
            f"public key: expected a P-256 key, got curve {public_key.curve.name}",
            field="public_key",
        )
    _, s = decode_signature(signature)
    if s > P256_HALF_ORDER:
        raise HighS("signature: expected S <= n/2 (low-S), got a high S", field="signature")
    digest = hashlib.sha256(data).digest()
    memo_key = (public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint), digest)
    if _verified.get(memo_key) == signature:
        return
    try:
        public_key.verify(signature, digest, _PREHASHED)
    except InvalidSignature as exc:
        raise SignatureMismatch(
            "signature: does not verify under the signer's public key", field="signature"
        ) from exc
    _verified[memo_key] = signature
