"""keys.py and ed25519.py: voter hashes, shards, and which public keys and signatures pass."""

from __future__ import annotations

import hashlib
from collections import Counter

import nacl.signing
import pytest

from mvote.chaincode import _ed25519 as ed25519
from mvote.chaincode import _keys as keys
from mvote.chaincode._errors import BadSignature, InvalidKey


def _pub(i: int) -> bytes:
    return bytes(nacl.signing.SigningKey(i.to_bytes(4, "big") * 8).verify_key)


def test_voter_hash_is_domain_separated_sha256() -> None:
    pub = _pub(1)
    assert keys.voter_hash(pub) == hashlib.sha256(b"mvote/voter-hash/v1\x00" + pub).digest()
    assert keys.voter_hash(pub) != hashlib.sha256(pub).digest()


def test_shard_of_uses_the_first_eight_bytes_big_endian() -> None:
    for i in range(1, 20):
        pub = _pub(i)
        prefix = int.from_bytes(keys.voter_hash(pub)[:8], "big")
        for shards in (1, 2, 3, 7, 16, 1024):
            assert keys.shard_of(pub, shards) == prefix % shards
        assert keys.shard_of(pub, 1) == 0


def test_shards_spread_voters() -> None:
    counts = Counter(keys.shard_of(_pub(i), 4) for i in range(400))
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) > 60


def test_checked_public_key() -> None:
    pub = _pub(3)
    assert ed25519.checked_public_key(pub, "k") == pub
    for bad in (pub[:31], pub + b"\x00", b""):
        with pytest.raises(InvalidKey, match="expected 32 bytes") as info:
            ed25519.checked_public_key(bad, "k")
        assert info.value.field == "k"
    with pytest.raises(InvalidKey):
        ed25519.checked_public_key(bytes.fromhex("01" + "00" * 31), "k")


def test_verify() -> None:
    key = nacl.signing.SigningKey(b"\x07" * 32)
    pub = bytes(key.verify_key)
    sig = key.sign(b"message").signature
    ed25519.verify(pub, b"message", sig, "sig")
    for message, signature in [(b"messagE", sig), (b"message", sig[:63]), (b"message", bytes(64))]:
        with pytest.raises(BadSignature) as info:
            ed25519.verify(pub, message, signature, "sig")
        assert info.value.field == "sig"
    # S + L: the same signature with a non-canonical scalar is refused.
    order = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(sig[32:], "little") + order
    if s < 2**256:
        with pytest.raises(BadSignature):
            ed25519.verify(pub, b"message", sig[:32] + s.to_bytes(32, "little"), "sig")


def test_memo_keeps_every_check() -> None:
    """The memos (two endorsers check the same ballot) remember only what a check would answer:
    a remembered valid signature does not make another signature, message or key pass."""
    key = nacl.signing.SigningKey(b"\x09" * 32)
    pub = bytes(key.verify_key)
    sig = key.sign(b"ballot").signature
    for _ in range(2):
        ed25519.verify(pub, b"ballot", sig, "sig")
        assert ed25519.checked_public_key(pub, "k") == pub
    other = bytes(nacl.signing.SigningKey(b"\x0a" * 32).verify_key)
    for public, message, signature in [
        (other, b"ballot", sig),
        (pub, b"ballot!", sig),
        (pub, b"ballot", sig[:-1] + bytes([sig[-1] ^ 1])),
    ]:
        for _ in range(2):  # a failure is not remembered as anything either
            with pytest.raises(BadSignature):
                ed25519.verify(public, message, signature, "sig")
    # Not bytes (mutable): checked without the memo, with the same answers.
    ed25519.verify(pub, bytearray(b"ballot"), sig, "sig")
    with pytest.raises(BadSignature):
        ed25519.verify(pub, bytearray(b"ballot!"), sig, "sig")
    small_order = bytes.fromhex("01" + "00" * 31)
    for _ in range(2):
        with pytest.raises(InvalidKey):
            ed25519.checked_public_key(small_order, "k")
