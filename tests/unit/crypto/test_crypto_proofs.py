"""proofs.py: Schnorr, Chaum-Pedersen, 0/1 and range proofs; every refusal."""

from __future__ import annotations

import dataclasses

import pytest
from crypto_support import scalar, seed

from mvote.chaincode._crypto import elgamal, group, proofs
from mvote.chaincode._crypto.group import G, H, L
from mvote.chaincode._crypto.proofs import ChaumPedersen, RangeProof, Schnorr, ZeroOne
from mvote.chaincode._errors import BadProof, InvalidField, InvalidScalar

SECRET = scalar("election secret")
KEY = elgamal.keypair(SECRET)
CTX = b"context"
NONCES = group.Nonces(seed("proofs"))


def _bump(value: int) -> int:
    return (value + 1) % L


# --- Schnorr ---


def test_schnorr_round_trip_and_json() -> None:
    x = scalar("x")
    proof = proofs.schnorr_prove(CTX, x, scalar("u"))
    proofs.schnorr_verify(CTX, group.base_mul(x), proof, "p")
    assert Schnorr.from_json(proof.to_json(), "p") == proof


@pytest.mark.parametrize("field", ["challenge", "response"])
def test_schnorr_tampered(field: str) -> None:
    x = scalar("x")
    proof = proofs.schnorr_prove(CTX, x, scalar("u"))
    bad = dataclasses.replace(proof, **{field: _bump(getattr(proof, field))})
    with pytest.raises(BadProof) as err:
        proofs.schnorr_verify(CTX, group.base_mul(x), bad, "dealings[0].proofs[1]")
    assert err.value.field == "dealings[0].proofs[1]"


def test_schnorr_bound_to_context_and_statement() -> None:
    x = scalar("x")
    proof = proofs.schnorr_prove(CTX, x, scalar("u"))
    with pytest.raises(BadProof):
        proofs.schnorr_verify(b"another", group.base_mul(x), proof, "p")
    with pytest.raises(BadProof):
        proofs.schnorr_verify(CTX, group.base_mul(_bump(x)), proof, "p")


def test_nonce_preconditions() -> None:
    with pytest.raises(ValueError):
        proofs.schnorr_prove(CTX, 1, 0)
    with pytest.raises(ValueError):
        proofs.cp_prove(CTX, G, H, 1, L)


# --- Chaum-Pedersen ---


def test_chaum_pedersen_round_trip() -> None:
    x = scalar("x")
    proof = proofs.cp_prove(CTX, G, H, x, scalar("u"))
    proofs.cp_verify(CTX, G, group.base_mul(x), H, group.mul(x, H), proof, "p")
    assert ChaumPedersen.from_json(proof.to_json(), "p") == proof


def test_chaum_pedersen_refuses_unequal_logs_and_tampering() -> None:
    x = scalar("x")
    proof = proofs.cp_prove(CTX, G, H, x, scalar("u"))
    x1, x2 = group.base_mul(x), group.mul(x, H)
    with pytest.raises(BadProof):
        proofs.cp_verify(CTX, G, x1, H, group.mul(_bump(x), H), proof, "p")
    with pytest.raises(BadProof):
        proofs.cp_verify(CTX, G, x1, H, x2, dataclasses.replace(proof, response=0), "p")
    with pytest.raises(BadProof):
        proofs.cp_verify(CTX, H, x1, G, x2, proof, "p")  # bases swapped
    with pytest.raises(BadProof):
        proofs.cp_verify(b"ctx2", G, x1, H, x2, proof, "p")


def test_proof_json_refuses_non_canonical_scalars() -> None:
    proof = proofs.cp_prove(CTX, G, H, scalar("x"), scalar("u"))
    data = proof.to_json()
    with pytest.raises(InvalidScalar) as err:
        ChaumPedersen.from_json({**data, "v": L.to_bytes(32, "little").hex()}, "partial.proof")
    assert err.value.field == "partial.proof.v"
    with pytest.raises(InvalidField):
        ChaumPedersen.from_json({"c": data["c"]}, "p")


# --- 0/1 ---


@pytest.mark.parametrize("m", [0, 1])
def test_zero_one_round_trip(m: int) -> None:
    r = scalar("r", m)
    ct = elgamal.encrypt(m, KEY, r)
    proof = proofs.zero_one_prove_with(NONCES, CTX, KEY, ct, m, r)
    proofs.zero_one_verify(CTX, KEY, ct, proof, "p")
    assert ZeroOne.from_json(proof.to_json(), "p") == proof
    # The explicit-nonce form gives the same proof for the same values.
    explicit = proofs.zero_one_prove(CTX, KEY, ct, m, r, 5, 6, 7)
    proofs.zero_one_verify(CTX, KEY, ct, explicit, "p")


@pytest.mark.parametrize("m", [2, L - 1])
def test_zero_one_cannot_prove_other_values(m: int) -> None:
    r = scalar("r")
    ct = elgamal.encrypt(m, KEY, r)
    with pytest.raises(ValueError):
        proofs.zero_one_prove_with(NONCES, CTX, KEY, ct, m, r)
    # A prover that lies about the plaintext produces a proof that fails.
    lie = proofs.zero_one_prove(CTX, KEY, ct, 1, r, 5, 6, 7)
    with pytest.raises(BadProof):
        proofs.zero_one_verify(CTX, KEY, ct, lie, "p")


@pytest.mark.parametrize("field", ["c0", "c1", "v0", "v1"])
def test_zero_one_tampered(field: str) -> None:
    r = scalar("r")
    ct = elgamal.encrypt(1, KEY, r)
    proof = proofs.zero_one_prove_with(NONCES, CTX, KEY, ct, 1, r)
    bad = dataclasses.replace(proof, **{field: _bump(getattr(proof, field))})
    with pytest.raises(BadProof, match="0 or 1"):
        proofs.zero_one_verify(CTX, KEY, ct, bad, "p")


def test_zero_one_bound_to_ciphertext_key_and_context() -> None:
    r = scalar("r")
    ct = elgamal.encrypt(1, KEY, r)
    proof = proofs.zero_one_prove_with(NONCES, CTX, KEY, ct, 1, r)
    other = elgamal.encrypt(1, KEY, scalar("r2"))
    for context, key, c in [
        (b"ctx2", KEY, ct),
        (CTX, elgamal.keypair(scalar("other key")), ct),
        (CTX, KEY, other),
        (CTX, KEY, elgamal.Ciphertext(ct.alpha, other.beta)),
    ]:
        with pytest.raises(BadProof):
            proofs.zero_one_verify(context, key, c, proof, "p")


# --- range ---


def test_range_weights_cover_exactly_zero_to_span() -> None:
    for span in range(0, 300):
        weights = proofs.range_weights(span)
        assert len(weights) == span.bit_length()
        reached = {
            sum(w * b for w, b in zip(weights, proofs.bits_for(v, span), strict=True))
            for v in range(span + 1)
        }
        assert reached == set(range(span + 1))
        assert sum(weights) == span  # all bits set is the largest value: nothing beyond span
    assert proofs.range_weights(3) == [1, 2]
    assert proofs.range_weights(1000) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 489]
    with pytest.raises(ValueError):
        proofs.range_weights(2**16)
    with pytest.raises(ValueError):
        proofs.bits_for(4, 3)


@pytest.mark.parametrize(("lo", "hi", "value"), [(1, 1, 1), (0, 3, 0), (0, 3, 3), (2, 7, 5)])
def test_range_round_trip(lo: int, hi: int, value: int) -> None:
    r = scalar("r", value)
    total = elgamal.encrypt(value, KEY, r)
    proof = proofs.range_prove(NONCES, CTX, KEY, total, value, r, lo, hi)
    assert len(proof.bits) == (hi - lo).bit_length()
    proofs.range_verify(CTX, KEY, total, lo, hi, proof, "count")
    assert RangeProof.from_json(proof.to_json(), "count") == proof


def test_range_prover_refuses_values_outside_and_wrong_nonce() -> None:
    with pytest.raises(ValueError):
        proofs.range_prove(NONCES, CTX, KEY, elgamal.encrypt(4, KEY, 9), 4, 9, 0, 3)
    with pytest.raises(ValueError, match="does not open"):
        proofs.range_prove(NONCES, CTX, KEY, elgamal.encrypt(2, KEY, 9), 2, 10, 0, 3)


def test_a_sum_outside_min_max_fails_verification() -> None:
    # A cheating prover proves 3 in 0..3, then the verifier's total encrypts 4.
    r = scalar("r")
    proof = proofs.range_prove(NONCES, CTX, KEY, elgamal.encrypt(3, KEY, r), 3, r, 0, 3)
    with pytest.raises(BadProof) as err:
        proofs.range_verify(CTX, KEY, elgamal.encrypt(4, KEY, r), 0, 3, proof, "ballot.count")
    assert err.value.field == "ballot.count.proof"
    # The same proof read against other bounds fails too.
    with pytest.raises(BadProof):
        proofs.range_verify(CTX, KEY, elgamal.encrypt(3, KEY, r), 1, 4, proof, "ballot.count")
    with pytest.raises(BadProof, match="expected 3 bit"):
        proofs.range_verify(CTX, KEY, elgamal.encrypt(3, KEY, r), 0, 4, proof, "ballot.count")


def test_range_tampered_bit_names_the_bit() -> None:
    r = scalar("r")
    total = elgamal.encrypt(2, KEY, r)
    proof = proofs.range_prove(NONCES, CTX, KEY, total, 2, r, 0, 3)
    bit = proof.bits[1]
    bad_bit = dataclasses.replace(bit, proof=dataclasses.replace(bit.proof, v1=_bump(bit.proof.v1)))
    bad = dataclasses.replace(proof, bits=(proof.bits[0], bad_bit))
    with pytest.raises(BadProof) as err:
        proofs.range_verify(CTX, KEY, total, 0, 3, bad, "ballot.count")
    assert err.value.field == "ballot.count.bits[1].proof"
    # Swapping in a bit ciphertext that encrypts 2 cannot be proven 0/1.
    two = elgamal.encrypt(2, KEY, 5)
    swapped = dataclasses.replace(proof, bits=(dataclasses.replace(bit, ciphertext=two), bit))
    with pytest.raises(BadProof):
        proofs.range_verify(CTX, KEY, total, 0, 3, swapped, "ballot.count")


def test_range_json_refuses_too_many_bits() -> None:
    r = scalar("r")
    proof = proofs.range_prove(NONCES, CTX, KEY, elgamal.encrypt(1, KEY, r), 1, r, 0, 1)
    data = proof.to_json()
    data["bits"] = data["bits"] * (proofs.MAX_RANGE_BITS + 1)
    with pytest.raises(InvalidField, match=r"count\.bits"):
        RangeProof.from_json(data, "count")
