"""Voter and registrar keys: Ed25519 public-key checks and signature verification.

Keys arrive from outside as hex; a key is accepted only if it is a canonical encoding of a point
in the prime-order subgroup and not of small order (libsodium's ``is_valid_point``), so that one
voter has exactly one public key spelling and no key verifies everything.

Both checks are remembered for a few recent inputs. Each endorsing organisation runs the contract
on the same ballot, one after the other in the same process, so without a memo every ballot's
point check and signature check would run once per organisation, about a third of an endorsement.
Both are pure functions of the exact bytes given (libsodium is deterministic and keeps no state),
so an answer remembered by those bytes is the answer a new check would give: every key and
signature is still checked, only not twice. Of signatures only successes are remembered (a failure
raises, and lru_cache keeps nothing then). The memos are bounded in entries and, for signatures,
in message size, so they hold at most about 5 MB.
"""

from __future__ import annotations

import functools

import nacl.bindings
import nacl.exceptions
import nacl.signing

from ._errors import BadSignature, InvalidKey

PUBLIC_KEY_SIZE = 32

#: Entries in each memo: more than the ballots endorsed between one organisation's run and the
#: next's (they run back to back in one request), with several CastBatch requests of up to 256
#: ballots endorsed at once in one process (the intake keeps 2 x 4 batches in flight).
MEMO_ENTRIES = 4096
#: Messages longer than this (secret ballots: their proofs dominate anyway) are not remembered,
#: so the signature memo stays small.
MEMO_MAX_MESSAGE = 1024


def checked_public_key(key: bytes, field: str) -> bytes:
    """Return ``key`` if it is a valid Ed25519 public key, else raise InvalidKey naming ``field``."""
    if len(key) != PUBLIC_KEY_SIZE:
        raise InvalidKey(f"{field}: expected {PUBLIC_KEY_SIZE} bytes, got {len(key)}", field=field)
    if not _is_valid_point(key):
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
        if len(message) <= MEMO_MAX_MESSAGE and _all_bytes(public_key, message, signature):
            _verified(public_key, message, signature)
        else:
            _verify(public_key, message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError) as exc:
        raise BadSignature(f"{field}: signature does not verify", field=field) from exc


def _all_bytes(*values: object) -> bool:
    """Memo keys must be immutable: exactly ``bytes``, not a bytearray or a subclass."""
    return all(type(v) is bytes for v in values)


def _is_valid_point(key: bytes) -> bool:
    if type(key) is bytes:
        return _is_valid_point_memo(key)
    return bool(nacl.bindings.crypto_core_ed25519_is_valid_point(key))


@functools.lru_cache(maxsize=MEMO_ENTRIES)
def _is_valid_point_memo(key: bytes) -> bool:
    return bool(nacl.bindings.crypto_core_ed25519_is_valid_point(key))


def _verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise BadSignatureError or ValueError unless ``signature`` is valid."""
    nacl.signing.VerifyKey(public_key).verify(message, signature)


@functools.lru_cache(maxsize=MEMO_ENTRIES)
def _verified(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """:func:`_verify`, remembered: a raise is never cached, so only valid signatures are."""
    _verify(public_key, message, signature)
    return True
