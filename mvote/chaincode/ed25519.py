"""Voter and registrar keys: Ed25519 public-key checks and signature verification.

Keys arrive from outside as hex; a key is accepted only if it is a canonical encoding of a point
in the prime-order subgroup and not of small order (libsodium's ``is_valid_point``), so that one
voter has exactly one public key spelling and no key verifies everything.
"""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
import nacl.signing

from .errors import BadSignature, InvalidKey

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def checked_public_key(key: bytes, field: str) -> bytes:
    """Return ``key`` if it is a valid Ed25519 public key, else raise InvalidKey naming ``field``."""
    if len(key) != PUBLIC_KEY_SIZE:
        raise InvalidKey(f"{field}: expected {PUBLIC_KEY_SIZE} bytes, got {len(key)}", field=field)
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(key):
        raise InvalidKey(
            f"{field}: not a canonical point of the prime-order subgroup of edwards25519",
            field=field,
        )
    return key


def verify(public_key: bytes, message: bytes, signature: bytes, field: str) -> None:
    """Raise BadSignature naming ``field`` unless ``signature`` is valid for ``message``.

    libsodium refuses non-canonical S and small-order R, so a valid signature has one spelling.
    """
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError) as exc:
        raise BadSignature(f"{field}: signature does not verify", field=field) from exc
