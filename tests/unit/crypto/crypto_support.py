"""Helpers of the crypto unit tests: deterministic scalars and a small ready-made ceremony."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import nacl.bindings as sodium

from mvote.chaincode._crypto import ceremony, group
from mvote.chaincode._crypto.group import Point

#: The field prime of curve25519 (non-canonical encodings are y >= p).
FIELD_PRIME = 2**255 - 19


def scalar(*labels: object) -> int:
    """A fixed, uniform-looking non-zero scalar per label: tests are reproducible."""
    value = group.reduce_wide(hashlib.sha512(repr(labels).encode()).digest())
    assert value != 0
    return value


def seed(*labels: object) -> bytes:
    return hashlib.sha256(repr(labels).encode()).digest()


#: Encodings of the 8 points of small order (the torsion subgroup), and of non-canonical ones.
SMALL_ORDER = [
    bytes([1]) + bytes(31),  # identity (order 1)
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
    bytes(32),  # order 4
    bytes(31) + bytes([0x80]),  # order 4
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),  # order 8
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),  # order 8
]


def off_subgroup() -> bytes:
    """G plus a point of order 8: on the curve, canonical, but not in the prime-order subgroup."""
    return sodium.crypto_core_ed25519_add(group.G.encoded, SMALL_ORDER[4])


def off_curve() -> bytes:
    """A canonical y for which no x exists: not a point at all."""
    for y in range(2, 100):
        data = y.to_bytes(32, "little")
        try:
            sodium.crypto_core_ed25519_add(data, group.G.encoded)
        except Exception:
            return data
    raise AssertionError("no off-curve y below 100")


def non_canonical_y() -> bytes:
    """y = p + 3 (>= p): refused whatever it would reduce to."""
    return (FIELD_PRIME + 3).to_bytes(32, "little")


@dataclass(frozen=True)
class Ready:
    """A completed ceremony: parameters, trustee keys, dealings, secret and public shares."""

    params: ceremony.CeremonyParams
    trustee_secrets: dict[int, int]
    trustee_keys: dict[int, ceremony.TrusteeKey]
    coefficients: dict[int, list[int]]
    dealings: list[ceremony.Dealing]
    secret_shares: dict[int, int]
    public_shares: dict[int, Point]
    key: Point


def run_ceremony(n: int, k: int, name: str = "c1") -> Ready:
    params = ceremony.CeremonyParams("mvote", name, n, k)
    secrets = {i: scalar(name, "trustee", i) for i in range(1, n + 1)}
    keys = {
        i: ceremony.trustee_key(params, i, secrets[i], scalar(name, "tk-nonce", i)) for i in secrets
    }
    coefs = {i: [scalar(name, "coef", i, j) for j in range(k)] for i in secrets}
    dealings = [
        ceremony.deal(params, i, coefs[i], [scalar(name, "deal-nonce", i, j) for j in range(k)])
        for i in range(1, n + 1)
    ]
    shares = {
        r: ceremony.secret_share(ceremony.evaluate(coefs[d], r) for d in range(1, n + 1))
        for r in secrets
    }
    public = {r: ceremony.public_share(params, dealings, r) for r in secrets}
    return Ready(
        params,
        secrets,
        keys,
        coefs,
        dealings,
        shares,
        public,
        ceremony.election_key(params, dealings),
    )


@cache
def ceremony_3_of_5() -> Ready:
    return run_ceremony(5, 3)
