"""Non-interactive zero-knowledge proofs over the prime-order subgroup, strong Fiat-Shamir.

Every proof is sent in the compact (challenge, response) form, as in ElectionGuard 2.0: the
verifier recomputes the commitments from the statement, the challenge and the response, hashes
them with the whole statement and compares with the challenge. So a proof carries scalars only:
nothing to decode as a point, nothing to subgroup-check, and a tampered commitment is impossible
to express (a tampered challenge or response changes the recomputed commitments).

The challenge of every proof is ``SHA-512(transcript) mod L`` (group.Transcript) over: the proof
kind's domain tag, the caller's ``context`` (a digest that binds the election key, channel,
question, voter or trustee and the position of the proof: see ballot.py and ceremony.py), every
point of the statement, and every commitment. Docs/secret-ballots.md gives the byte layout.

- ``Schnorr``: knowledge of x with X = x·G.
- ``ChaumPedersen``: knowledge of x with X1 = x·B1 and X2 = x·B2 (equal discrete logs).
- ``ZeroOne``: the disjunctive Chaum-Pedersen proof that (alpha, beta) encrypts 0 or 1 under K.
- ``RangeProof``: a ciphertext encrypts a value in lo..hi: binary decomposition of (value - lo)
  into ``bit_length(hi - lo)`` encrypted bits with 0/1 proofs, weighted so that their sums cover
  exactly 0..hi-lo, and a Chaum-Pedersen proof that the difference encrypts 0.

Verification functions raise BadProof naming the caller's ``path``; they are pure and
deterministic. Proving functions take every nonce as an argument (or a ``group.Nonces``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import BadProof
from . import group
from .elgamal import Ciphertext, encrypt
from .group import G, L, Point

#: Most bits a range proof may have: hi - lo <= 2^16 - 1 (a question has at most 1000 options).
MAX_RANGE_BITS = 16


def _check_nonce(u: int) -> None:
    if not 0 < u < L:
        raise ValueError("a proof nonce must be in 1..L-1")


# --- Schnorr ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schnorr:
    """Proof of knowledge of x with X = x·G: U = v·G + c·X, c = H(context, X, U)."""

    challenge: int
    response: int

    def to_json(self) -> dict[str, Any]:
        return {"c": group.scalar_hex(self.challenge), "v": group.scalar_hex(self.response)}

    @staticmethod
    def from_json(value: Any, path: str) -> Schnorr:
        v = group.json_object(value, path, ("c", "v"))
        return Schnorr(
            group.scalar_from_hex(v["c"], group.join(path, "c")),
            group.scalar_from_hex(v["v"], group.join(path, "v")),
        )


def _schnorr_challenge(context: bytes, x_point: Point, u_point: Point) -> int:
    return (
        group.Transcript("schnorr").data(context).point(x_point).point(u_point).scalar_challenge()
    )


def schnorr_prove(context: bytes, secret: int, nonce: int) -> Schnorr:
    """Prove knowledge of ``secret`` (the discrete log of secret·G). ``0 < nonce < L``, secret."""
    _check_nonce(nonce)
    x_point = group.base_mul(secret)
    c = _schnorr_challenge(context, x_point, group.base_mul(nonce))
    return Schnorr(c, (nonce - c * secret) % L)


def schnorr_verify(context: bytes, x_point: Point, proof: Schnorr, path: str) -> None:
    u_point = group.base_mul(proof.response) + group.mul(proof.challenge, x_point)
    if _schnorr_challenge(context, x_point, u_point) != proof.challenge:
        raise BadProof(f"{path}: Schnorr proof of knowledge does not verify", field=path)


# --- Chaum-Pedersen -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChaumPedersen:
    """Proof that log_B1(X1) = log_B2(X2): U1 = v·B1 + c·X1, U2 = v·B2 + c·X2,
    c = H(context, B1, X1, B2, X2, U1, U2)."""

    challenge: int
    response: int

    def to_json(self) -> dict[str, Any]:
        return {"c": group.scalar_hex(self.challenge), "v": group.scalar_hex(self.response)}

    @staticmethod
    def from_json(value: Any, path: str) -> ChaumPedersen:
        v = group.json_object(value, path, ("c", "v"))
        return ChaumPedersen(
            group.scalar_from_hex(v["c"], group.join(path, "c")),
            group.scalar_from_hex(v["v"], group.join(path, "v")),
        )


def _cp_challenge(context: bytes, statement: Sequence[Point], u1: Point, u2: Point) -> int:
    return (
        group.Transcript("chaum-pedersen")
        .data(context)
        .points(statement)
        .point(u1)
        .point(u2)
        .scalar_challenge()
    )


def cp_prove(context: bytes, b1: Point, b2: Point, secret: int, nonce: int) -> ChaumPedersen:
    """Prove log_b1(secret·b1) = log_b2(secret·b2). ``0 < nonce < L``, secret, never reused."""
    _check_nonce(nonce)
    statement = (b1, group.mul(secret, b1), b2, group.mul(secret, b2))
    c = _cp_challenge(context, statement, group.mul(nonce, b1), group.mul(nonce, b2))
    return ChaumPedersen(c, (nonce - c * secret) % L)


def cp_verify(
    context: bytes, b1: Point, x1: Point, b2: Point, x2: Point, proof: ChaumPedersen, path: str
) -> None:
    c, v = proof.challenge, proof.response
    u1 = group.mul(v, b1) + group.mul(c, x1)
    u2 = group.mul(v, b2) + group.mul(c, x2)
    if _cp_challenge(context, (b1, x1, b2, x2), u1, u2) != c:
        raise BadProof(f"{path}: Chaum-Pedersen proof does not verify", field=path)


# --- disjunctive Chaum-Pedersen: the ciphertext encrypts 0 or 1 ---------------------------------


@dataclass(frozen=True, slots=True)
class ZeroOne:
    """Proof that (alpha, beta) encrypts 0 or 1 under K. For j in {0, 1}:
    U_j = v_j·G + c_j·alpha, W_j = v_j·K + c_j·(beta - j·G), and
    c_0 + c_1 = H(context, K, alpha, beta, U_0, W_0, U_1, W_1)."""

    c0: int
    c1: int
    v0: int
    v1: int

    def to_json(self) -> dict[str, Any]:
        return {
            "c0": group.scalar_hex(self.c0),
            "c1": group.scalar_hex(self.c1),
            "v0": group.scalar_hex(self.v0),
            "v1": group.scalar_hex(self.v1),
        }

    @staticmethod
    def from_json(value: Any, path: str) -> ZeroOne:
        v = group.json_object(value, path, ("c0", "c1", "v0", "v1"))
        return ZeroOne(
            *(group.scalar_from_hex(v[k], group.join(path, k)) for k in ("c0", "c1", "v0", "v1"))
        )


def _zero_one_challenge(
    context: bytes, key: Point, ct: Ciphertext, commitments: Sequence[Point]
) -> int:
    return (
        group.Transcript("zero-or-one")
        .data(context)
        .point(key)
        .point(ct.alpha)
        .point(ct.beta)
        .points(commitments)
        .scalar_challenge()
    )


def zero_one_prove(
    context: bytes,
    key: Point,
    ct: Ciphertext,
    plaintext: int,
    nonce: int,
    proof_nonce: int,
    fake_challenge: int,
    fake_response: int,
) -> ZeroOne:
    """Prove that ``ct`` = encrypt(plaintext ∈ {0, 1}, key, nonce). The real branch uses
    ``proof_nonce``; the other branch is simulated with ``fake_challenge``/``fake_response``
    (all three secret, uniform in 1..L-1 / 0..L-1, never reused)."""
    if plaintext not in (0, 1):
        raise ValueError("a 0/1 proof needs a plaintext of 0 or 1")
    _check_nonce(proof_nonce)
    real, fake = plaintext, 1 - plaintext
    commitments: list[Point] = [G, G, G, G]
    commitments[2 * real] = group.base_mul(proof_nonce)
    commitments[2 * real + 1] = group.mul(proof_nonce, key)
    beta_fake = ct.beta - group.small_mul(fake, G)
    commitments[2 * fake] = group.base_mul(fake_response) + group.mul(fake_challenge, ct.alpha)
    commitments[2 * fake + 1] = group.mul(fake_response, key) + group.mul(fake_challenge, beta_fake)
    c = _zero_one_challenge(context, key, ct, commitments)
    c_real = (c - fake_challenge) % L
    v_real = (proof_nonce - c_real * nonce) % L
    if real == 0:
        return ZeroOne(c_real, fake_challenge, v_real, fake_response)
    return ZeroOne(fake_challenge, c_real, fake_response, v_real)


def zero_one_verify(context: bytes, key: Point, ct: Ciphertext, proof: ZeroOne, path: str) -> None:
    commitments = []
    for j, (c, v) in enumerate(((proof.c0, proof.v0), (proof.c1, proof.v1))):
        beta_j = ct.beta if j == 0 else ct.beta - G
        commitments.append(group.base_mul(v) + group.mul(c, ct.alpha))
        commitments.append(group.mul(v, key) + group.mul(c, beta_j))
    if _zero_one_challenge(context, key, ct, commitments) != (proof.c0 + proof.c1) % L:
        raise BadProof(
            f"{path}: proof that the ciphertext encrypts 0 or 1 does not verify", field=path
        )


def zero_one_prove_with(
    nonces: group.Nonces, context: bytes, key: Point, ct: Ciphertext, plaintext: int, nonce: int
) -> ZeroOne:
    """``zero_one_prove`` with its three secret values derived from ``nonces``, labelled with the
    whole statement and the witness (so no two statements share them)."""
    if plaintext not in (0, 1):
        raise ValueError("a 0/1 proof needs a plaintext of 0 or 1")
    labels: tuple[str | int | bytes | Point, ...] = (
        "zero-or-one",
        context,
        key,
        ct.alpha,
        ct.beta,
        plaintext,
        group.scalar_bytes(nonce),
    )
    return zero_one_prove(
        context,
        key,
        ct,
        plaintext,
        nonce,
        nonces.scalar(*labels, "u"),
        nonces.scalar(*labels, "c"),
        nonces.scalar(*labels, "v"),
    )


# --- range proof: a ciphertext encrypts a value in lo..hi ---------------------------------------


def range_weights(span: int) -> list[int]:
    """Weights w_0..w_(k-1), k = span.bit_length(), whose subset sums are exactly 0..span:
    1, 2, …, 2^(k-2), then span - (2^(k-1) - 1). (The first k-1 bits cover 0..2^(k-1)-1, the
    last weight lies in 1..2^(k-1) and shifts that to end exactly at span.)"""
    if not 0 <= span < 2**MAX_RANGE_BITS:
        raise ValueError(f"range span must be in 0..{2**MAX_RANGE_BITS - 1}")
    k = span.bit_length()
    if k == 0:
        return []
    return [2**j for j in range(k - 1)] + [span - (2 ** (k - 1) - 1)]


def bits_for(value: int, span: int) -> list[int]:
    """A 0/1 vector b with sum(b_j·w_j) = value over ``range_weights(span)``
    (precondition: 0 <= value <= span)."""
    if not 0 <= value <= span:
        raise ValueError("value outside 0..span")
    weights = range_weights(span)
    if not weights:
        return []
    bits = [0] * len(weights)
    rest = value
    if rest > 2 ** (len(weights) - 1) - 1:  # needs the last, largest-reaching weight
        bits[-1] = 1
        rest -= weights[-1]
    for j in range(len(weights) - 1):
        bits[j] = (rest >> j) & 1
    return bits


@dataclass(frozen=True, slots=True)
class RangeBit:
    ciphertext: Ciphertext
    proof: ZeroOne

    def to_json(self) -> dict[str, Any]:
        return {"ciphertext": self.ciphertext.to_json(), "proof": self.proof.to_json()}

    @staticmethod
    def from_json(value: Any, path: str) -> RangeBit:
        v = group.json_object(value, path, ("ciphertext", "proof"))
        return RangeBit(
            Ciphertext.from_json(v["ciphertext"], group.join(path, "ciphertext")),
            ZeroOne.from_json(v["proof"], group.join(path, "proof")),
        )


@dataclass(frozen=True, slots=True)
class RangeProof:
    """Proof that a ciphertext T encrypts a value in lo..hi: encrypted bits B_j (each with a
    0/1 proof, context ``context ‖ "bit" ‖ j``) and a Chaum-Pedersen proof that
    D = T - lo·G - Σ w_j·B_j encrypts 0, i.e. log_G(D.alpha) = log_K(D.beta)."""

    bits: tuple[RangeBit, ...]
    proof: ChaumPedersen

    def to_json(self) -> dict[str, Any]:
        return {"bits": [b.to_json() for b in self.bits], "proof": self.proof.to_json()}

    @staticmethod
    def from_json(value: Any, path: str) -> RangeProof:
        v = group.json_object(value, path, ("bits", "proof"))
        bits_path = group.join(path, "bits")
        items = group.json_array(v["bits"], bits_path, 0, MAX_RANGE_BITS)
        return RangeProof(
            tuple(RangeBit.from_json(b, group.join(bits_path, i)) for i, b in enumerate(items)),
            ChaumPedersen.from_json(v["proof"], group.join(path, "proof")),
        )


def _bit_context(context: bytes, j: int) -> bytes:
    return group.Transcript("range-bit").data(context).u32(j).digest()


def _range_context(context: bytes, lo: int, hi: int) -> bytes:
    return group.Transcript("range").data(context).u32(lo).u32(hi).digest()


def _difference(
    total: Ciphertext, lo: int, weights: Sequence[int], bits: Sequence[Ciphertext]
) -> Ciphertext:
    alpha, beta = total.alpha, total.beta - group.small_mul(lo, G)
    for w, b in zip(weights, bits, strict=True):
        alpha = alpha - group.mul(w, b.alpha)
        beta = beta - group.mul(w, b.beta)
    return Ciphertext(alpha, beta)


def range_prove(
    nonces: group.Nonces,
    context: bytes,
    key: Point,
    total: Ciphertext,
    value: int,
    nonce: int,
    lo: int,
    hi: int,
) -> RangeProof:
    """Prove that ``total`` = encrypt(value, key, nonce) with lo <= value <= hi. Bit nonces and
    proof nonces come from ``nonces`` (labelled with the statement). Raises ValueError if the
    value is outside lo..hi: a client must refuse such a ballot before proving."""
    if not 0 <= lo <= value <= hi:
        raise ValueError("value outside lo..hi")
    span = hi - lo
    weights = range_weights(span)
    statement = ("range", context, key, total.alpha, total.beta, lo, hi)
    bit_nonces = [nonces.scalar(*statement, "bit", j) for j in range(len(weights))]
    bit_values = bits_for(value - lo, span)
    bit_cts = [encrypt(b, key, r) for b, r in zip(bit_values, bit_nonces, strict=True)]
    bits = tuple(
        RangeBit(ct, zero_one_prove_with(nonces, _bit_context(context, j), key, ct, b, r))
        for j, (ct, b, r) in enumerate(zip(bit_cts, bit_values, bit_nonces, strict=True))
    )
    witness = (nonce - sum(w * r for w, r in zip(weights, bit_nonces, strict=True))) % L
    diff = _difference(total, lo, weights, bit_cts)
    proof = cp_prove(
        _range_context(context, lo, hi),
        G,
        key,
        witness,
        nonces.scalar(*statement, "difference", diff.alpha, diff.beta),
    )
    if group.mul(witness, G) != diff.alpha:
        raise ValueError("nonce does not open the total ciphertext")
    return RangeProof(bits, proof)


def range_verify(
    context: bytes,
    key: Point,
    total: Ciphertext,
    lo: int,
    hi: int,
    proof: RangeProof,
    path: str,
) -> None:
    """Raise BadProof naming ``path`` (or the bit inside it) unless ``total`` encrypts a value in
    lo..hi according to ``proof``."""
    if not 0 <= lo <= hi:
        raise ValueError("range must satisfy 0 <= lo <= hi")
    weights = range_weights(hi - lo)
    bits_path = group.join(path, "bits")
    if len(proof.bits) != len(weights):
        raise BadProof(
            f"{bits_path}: expected {len(weights)} bit ciphertexts for the range {lo}..{hi}, "
            f"got {len(proof.bits)}",
            field=bits_path,
        )
    for j, bit in enumerate(proof.bits):
        zero_one_verify(
            _bit_context(context, j),
            key,
            bit.ciphertext,
            bit.proof,
            group.join(group.join(bits_path, j), "proof"),
        )
    diff = _difference(total, lo, weights, [b.ciphertext for b in proof.bits])
    cp_verify(
        _range_context(context, lo, hi),
        G,
        diff.alpha,
        key,
        diff.beta,
        proof.proof,
        group.join(path, "proof"),
    )
