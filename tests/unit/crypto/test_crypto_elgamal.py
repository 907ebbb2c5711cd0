"""elgamal.py: encryption, homomorphic addition, decryption, the bounded discrete log."""

from __future__ import annotations

import pytest
from crypto_support import SMALL_ORDER, scalar

from mvote.chaincode._crypto import elgamal, group
from mvote.chaincode._crypto.elgamal import ZERO, Ciphertext
from mvote.chaincode._crypto.group import IDENTITY, G, L
from mvote.chaincode._errors import InvalidField, InvalidPoint, PlaintextOutOfRange

SECRET = scalar("election secret")
KEY = elgamal.keypair(SECRET)


def test_encrypt_is_the_textbook_formula() -> None:
    r = scalar("r")
    ct = elgamal.encrypt(3, KEY, r)
    assert ct.alpha == group.base_mul(r)
    assert ct.beta == group.base_mul(3) + group.mul(r, KEY)
    assert elgamal.decrypt(ct, SECRET, 10) == 3
    assert elgamal.decrypt_to_point(ct, SECRET) == group.base_mul(3)
    assert elgamal.decrypt_with_nonce(ct, KEY, r, 10) == 3


def test_zero_plaintext_uses_the_identity_explicitly() -> None:
    ct = elgamal.encrypt(0, KEY, scalar("r0"))
    assert elgamal.decrypt_to_point(ct, SECRET) == IDENTITY
    assert elgamal.decrypt(ct, SECRET, 0) == 0


def test_preconditions() -> None:
    with pytest.raises(ValueError):
        elgamal.encrypt(1, KEY, 0)
    with pytest.raises(ValueError):
        elgamal.encrypt(1, KEY, L)
    with pytest.raises(ValueError):
        elgamal.encrypt(-1, KEY, 1)
    with pytest.raises(ValueError):
        elgamal.keypair(0)


def test_homomorphic_addition_scaling_and_shift() -> None:
    cts = [elgamal.encrypt(m, KEY, scalar("n", i)) for i, m in enumerate([1, 0, 1, 1, 0, 1])]
    total = elgamal.sum_ciphertexts(cts)
    assert elgamal.decrypt(total, SECRET, 6) == 4
    assert cts[0] + cts[2] == elgamal.add(cts[0], cts[2])
    assert elgamal.sum_ciphertexts([]) == ZERO
    assert ZERO + cts[0] == cts[0]
    assert elgamal.decrypt(elgamal.shift(total, 3), SECRET, 6) == 1


def test_decrypt_refuses_values_beyond_the_bound() -> None:
    ct = elgamal.encrypt(11, KEY, scalar("r"))
    assert elgamal.decrypt(ct, SECRET, 11) == 11
    with pytest.raises(PlaintextOutOfRange, match=r"0\.\.10"):
        elgamal.decrypt(ct, SECRET, 10)
    with pytest.raises(PlaintextOutOfRange):
        elgamal.decrypt(elgamal.encrypt(5, KEY, 7), scalar("wrong key"), 1000)


@pytest.mark.parametrize("m", [0, 1, 2, 3, 99, 100, 101, 9_999, 10_000, 123_456, 1_000_000])
def test_discrete_log_exact_near_table_edges(m: int) -> None:
    bound = max(m, 10_000)
    assert elgamal.discrete_log(group.base_mul(m) if m else IDENTITY, bound) == m


def test_discrete_log_refuses_m_just_above_bound_and_negative() -> None:
    with pytest.raises(PlaintextOutOfRange):
        elgamal.discrete_log(group.base_mul(10_001), 10_000)
    with pytest.raises(PlaintextOutOfRange):
        elgamal.discrete_log(-G, 10_000)
    with pytest.raises(ValueError):
        elgamal.discrete_log(G, -1)
    with pytest.raises(ValueError):
        elgamal.discrete_log(G, elgamal.MAX_BOUND + 1)


def test_ciphertext_json_round_trip_and_refusals() -> None:
    ct = elgamal.encrypt(1, KEY, scalar("r"))
    assert Ciphertext.from_json(ct.to_json(), "c") == ct
    with pytest.raises(InvalidPoint) as err:
        Ciphertext.from_json({"alpha": SMALL_ORDER[4].hex(), "beta": ct.beta.hex()}, "ballot.c")
    assert err.value.field == "ballot.c.alpha"
    with pytest.raises(InvalidPoint, match="identity"):
        Ciphertext.from_json(ZERO.to_json(), "c")
    assert Ciphertext.from_json(ZERO.to_json(), "c", allow_identity=True) == ZERO
    with pytest.raises(InvalidField):
        Ciphertext.from_json({"alpha": ct.alpha.hex()}, "c")
    with pytest.raises(InvalidField):
        Ciphertext.from_json({**ct.to_json(), "gamma": ct.alpha.hex()}, "c")
