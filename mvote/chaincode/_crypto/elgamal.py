"""Exponential ElGamal over the prime-order subgroup of edwards25519.

A ciphertext of the small integer m under the election key K = s·G, with nonce r, is
``(alpha, beta) = (r·G, m·G + r·K)``. Ciphertexts add component-wise, and the sum encrypts the
sum of the plaintexts with the sum of the nonces. Decryption computes ``beta - s·alpha = m·G``
and recovers m by a discrete logarithm bounded by the caller (the number of ballots): baby-step
giant-step, at most about 2·sqrt(bound) point additions, with the baby steps cached per size.

The message rides on G (textbook exponential ElGamal, as in Helios) rather than on K as in
ElectionGuard 2.0 (``beta = K^(m+r)``): the discrete log is then always to the fixed base G, so
one cached table serves every election and every tally.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .._errors import PlaintextOutOfRange
from . import group
from .group import IDENTITY, G, L, Point

#: The largest bound ``discrete_log`` accepts: 2^40 (a trillion votes) keeps the table under
#: about 2^20 entries.
MAX_BOUND = 2**40


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """An exponential ElGamal ciphertext ``(alpha, beta) = (r·G, m·G + r·K)``."""

    alpha: Point
    beta: Point

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return add(self, other)

    def to_json(self) -> dict[str, Any]:
        return {"alpha": self.alpha.hex(), "beta": self.beta.hex()}

    @staticmethod
    def from_json(value: Any, path: str, *, allow_identity: bool = False) -> Ciphertext:
        """Decode and check a ciphertext. ``allow_identity`` admits identity components (the
        empty sum ``ZERO``, e.g. the aggregate of an empty shard); a ballot's ciphertexts never
        have them."""
        v = group.json_object(value, path, ("alpha", "beta"))
        return Ciphertext(
            group.point_from_hex(
                v["alpha"], group.join(path, "alpha"), allow_identity=allow_identity
            ),
            group.point_from_hex(
                v["beta"], group.join(path, "beta"), allow_identity=allow_identity
            ),
        )


#: The encryption of 0 with nonce 0: the neutral element of ciphertext addition.
ZERO = Ciphertext(IDENTITY, IDENTITY)


def keypair(secret: int) -> Point:
    """The public key s·G of a secret ``0 < s < L``."""
    if not 0 < secret < L:
        raise ValueError("secret key must be in 1..L-1")
    return group.base_mul(secret)


def encrypt(m: int, key: Point, nonce: int) -> Ciphertext:
    """Encrypt ``m`` (``0 <= m < L``; small in practice) under ``key`` with ``nonce``.

    Preconditions: ``key`` is a checked non-identity point; ``0 < nonce < L``, drawn uniformly by
    the caller (``group.reduce_wide(os.urandom(64))``) and never reused.
    """
    if not 0 < nonce < L:
        raise ValueError("nonce must be in 1..L-1")
    if not 0 <= m < L:
        raise ValueError("plaintext must be in 0..L-1")
    return Ciphertext(group.base_mul(nonce), group.base_mul(m) + group.mul(nonce, key))


def add(a: Ciphertext, b: Ciphertext) -> Ciphertext:
    return Ciphertext(a.alpha + b.alpha, a.beta + b.beta)


def sum_ciphertexts(items: Iterable[Ciphertext]) -> Ciphertext:
    total = ZERO
    for c in items:
        total = add(total, c)
    return total


def shift(c: Ciphertext, m: int) -> Ciphertext:
    """c minus an encryption of ``m`` with nonce 0: encrypts (plaintext - m) with the same nonce."""
    return Ciphertext(c.alpha, c.beta - group.small_mul(m, G))


def decrypt_to_point(c: Ciphertext, secret: int) -> Point:
    """``beta - s·alpha``: m·G for the plaintext m."""
    return c.beta - group.mul(secret, c.alpha)


def decrypt(c: Ciphertext, secret: int, bound: int) -> int:
    """The plaintext m in 0..bound of ``c`` under the secret key, else PlaintextOutOfRange."""
    return discrete_log(decrypt_to_point(c, secret), bound)


def decrypt_with_nonce(c: Ciphertext, key: Point, nonce: int, bound: int) -> int:
    """The plaintext of ``c`` opened with its nonce (cast-or-audit): ``beta - r·K``."""
    return discrete_log(c.beta - group.mul(nonce, key), bound)


# --- bounded discrete logarithm -----------------------------------------------------------------


@lru_cache(maxsize=8)
def _baby_steps(size: int) -> dict[bytes, int]:
    """{ (j·G).encoded: j for j in 0..size-1 }, by successive additions of G."""
    table: dict[bytes, int] = {}
    point = IDENTITY
    for j in range(size):
        table[point.encoded] = j
        point = point + G
    return table


def discrete_log(point: Point, bound: int, *, field: str = "plaintext") -> int:
    """The m in 0..bound with m·G = ``point``, else PlaintextOutOfRange naming ``field``.

    Baby-step giant-step with ``ceil(sqrt(bound + 1))`` baby steps (cached: the table for a
    million ballots has 1001 entries and takes milliseconds to build) and as many giant steps
    at most. Deterministic, and exact: the result is unique because bound < L.
    """
    if not 0 <= bound <= MAX_BOUND:
        raise ValueError(f"bound must be in 0..{MAX_BOUND}")
    size = math.isqrt(bound) + 1  # size^2 > bound
    table = _baby_steps(size)
    giant = group.base_mul(size)
    gamma = point
    for i in range(size):
        j = table.get(gamma.encoded)
        if j is not None:
            m = i * size + j
            if m <= bound:
                return m
            break
        gamma = gamma - giant
    raise PlaintextOutOfRange(
        f"{field}: expected m·G for some m in 0..{bound}, got a point outside that range",
        field=field,
    )
