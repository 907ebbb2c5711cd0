"""ceremony.py: trustee keys, dealings, shares, complaints, the election key, threshold
decryption with absent trustees, and every refusal."""

from __future__ import annotations

import dataclasses
from itertools import combinations

import pytest
from crypto_support import SMALL_ORDER, Ready, ceremony_3_of_5, run_ceremony, scalar

from mvote.chaincode._crypto import ceremony, elgamal, group
from mvote.chaincode._crypto.ceremony import (
    CeremonyParams,
    Complaint,
    Dealing,
    EncryptedShare,
    PartialDecryption,
    TrusteeKey,
)
from mvote.chaincode._crypto.group import L
from mvote.chaincode._errors import (
    BadProof,
    BadShare,
    InvalidField,
    InvalidPoint,
    NoQuorum,
    PlaintextOutOfRange,
)


@pytest.fixture(scope="module")
def ready() -> Ready:
    return ceremony_3_of_5()


def test_params_are_checked() -> None:
    with pytest.raises(InvalidField, match="k"):
        CeremonyParams("mvote", "c", 3, 4)
    with pytest.raises(InvalidField, match="k"):
        CeremonyParams("mvote", "c", 3, 0)
    with pytest.raises(InvalidField, match="n"):
        CeremonyParams("mvote", "c", 256, 1)
    with pytest.raises(InvalidField, match="ceremony"):
        CeremonyParams("mvote", "Bad Id", 3, 2)
    p = CeremonyParams("mvote", "c", 3, 2)
    assert p.to_json() == {"channel": "mvote", "ceremony": "c", "n": 3, "k": 2}
    assert p.context() != CeremonyParams("mvote", "c", 3, 3).context()
    with pytest.raises(InvalidField, match="trustee"):
        p.check_index(4, "trustee")


def test_trustee_keys(ready: Ready) -> None:
    p = ready.params
    for tk in ready.trustee_keys.values():
        ceremony.verify_trustee_key(p, tk, "keys")
        assert TrusteeKey.from_json(tk.to_json(), "keys", p) == tk
    tk = ready.trustee_keys[1]
    # A key proof made for trustee 1 does not pass as trustee 2's, nor in another ceremony.
    with pytest.raises(BadProof):
        ceremony.verify_trustee_key(p, dataclasses.replace(tk, index=2), "keys[1]")
    other = CeremonyParams("mvote", "c2", 5, 3)
    with pytest.raises(BadProof):
        ceremony.verify_trustee_key(other, tk, "keys[0]")
    with pytest.raises(InvalidField, match="index"):
        TrusteeKey.from_json({**tk.to_json(), "index": 6}, "keys[0]", p)
    with pytest.raises(InvalidPoint):
        TrusteeKey.from_json({**tk.to_json(), "key": SMALL_ORDER[4].hex()}, "keys[0]", p)


def test_dealings_verify_and_round_trip(ready: Ready) -> None:
    for d in ready.dealings:
        ceremony.verify_dealing(ready.params, d, f"dealings[{d.dealer - 1}]")
        assert Dealing.from_json(d.to_json(), "d", ready.params) == d


def test_tampered_commitment_names_the_coefficient(ready: Ready) -> None:
    d = ready.dealings[1]
    commitments = list(d.commitments)
    commitments[2] = commitments[2] + group.G
    with pytest.raises(BadProof) as err:
        ceremony.verify_dealing(
            ready.params, dataclasses.replace(d, commitments=tuple(commitments)), "dealings[1]"
        )
    assert err.value.field == "dealings[1].proofs[2]"
    # A proof moved to another dealer or coefficient position fails.
    with pytest.raises(BadProof):
        ceremony.verify_dealing(ready.params, dataclasses.replace(d, dealer=3), "dealings[1]")
    swapped = (d.proofs[1], d.proofs[0], d.proofs[2])
    with pytest.raises(BadProof):
        ceremony.verify_dealing(ready.params, dataclasses.replace(d, proofs=swapped), "d")


def test_dealing_shape(ready: Ready) -> None:
    d = ready.dealings[0]
    with pytest.raises(InvalidField, match="commitments"):
        Dealing.from_json(
            {**d.to_json(), "commitments": d.to_json()["commitments"][:2]}, "d", ready.params
        )
    with pytest.raises(InvalidField):
        ceremony.verify_dealing(ready.params, dataclasses.replace(d, proofs=d.proofs[:2]), "d")
    with pytest.raises(ValueError):
        ceremony.deal(ready.params, 1, [1, 2], [3, 4])
    with pytest.raises(ValueError):
        ceremony.deal(ready.params, 1, [0, 2, 3], [3, 4, 5])


def test_shares_encrypt_decrypt_and_verify(ready: Ready) -> None:
    p = ready.params
    for dealer in (1, 4):
        for recipient in (2, 5):
            value = ceremony.evaluate(ready.coefficients[dealer], recipient)
            enc = ceremony.encrypt_share(
                p, dealer, ready.trustee_keys[recipient], value, scalar("e", dealer, recipient)
            )
            assert EncryptedShare.from_json(enc.to_json(), "s", p) == enc
            got = ceremony.decrypt_share(
                p, enc, ready.trustee_secrets[recipient], ready.dealings[dealer - 1]
            )
            assert got == value


def test_bad_share_names_the_dealer(ready: Ready) -> None:
    p = ready.params
    wrong = (ceremony.evaluate(ready.coefficients[2], 3) + 1) % L
    enc = ceremony.encrypt_share(p, 2, ready.trustee_keys[3], wrong, scalar("e"))
    with pytest.raises(BadShare) as err:
        ceremony.decrypt_share(p, enc, ready.trustee_secrets[3], ready.dealings[1])
    assert err.value.field == "shares.dealer[2]"
    assert "dealer 2 to trustee 3" in err.value.message
    with pytest.raises(BadShare, match=r"dealer\[2\]"):
        ceremony.verify_share(ready.dealings[1], 3, wrong)


def test_share_that_does_not_decrypt_names_the_dealer(ready: Ready) -> None:
    p = ready.params
    value = ceremony.evaluate(ready.coefficients[4], 1)
    enc = ceremony.encrypt_share(p, 4, ready.trustee_keys[1], value, scalar("e"))
    box = bytearray(enc.box)
    box[0] ^= 1
    bad = dataclasses.replace(enc, box=bytes(box))
    with pytest.raises(BadShare, match="does not decrypt") as err:
        ceremony.decrypt_share(p, bad, ready.trustee_secrets[1], ready.dealings[3])
    assert err.value.field == "shares.dealer[4]"
    # Encrypted to trustee 1 but opened by trustee 2: refused as well.
    with pytest.raises(BadShare):
        ceremony.decrypt_share(p, enc, ready.trustee_secrets[2], ready.dealings[3])
    with pytest.raises(ValueError):
        ceremony.decrypt_share(p, enc, ready.trustee_secrets[1], ready.dealings[0])


def test_encrypted_share_json_refusals(ready: Ready) -> None:
    p = ready.params
    enc = ceremony.encrypt_share(p, 1, ready.trustee_keys[2], 5, scalar("e"))
    data = enc.to_json()
    for box in ["00", data["box"].upper() if any(c in "abcdef" for c in data["box"]) else "zz", 5]:
        with pytest.raises(InvalidField):
            EncryptedShare.from_json({**data, "box": box}, "s", p)
    with pytest.raises(InvalidField):
        EncryptedShare.from_json({**data, "box": "zz" * 48}, "s", p)
    with pytest.raises(InvalidField, match="recipient"):
        EncryptedShare.from_json({**data, "recipient": 0}, "s", p)


def test_complaints_are_judged_publicly(ready: Ready) -> None:
    p = ready.params
    good = ceremony.encrypt_share(
        p, 2, ready.trustee_keys[3], ceremony.evaluate(ready.coefficients[2], 3), scalar("e1")
    )
    bad = ceremony.encrypt_share(p, 2, ready.trustee_keys[3], 12345, scalar("e2"))
    for enc, dealer_at_fault in ((good, False), (bad, True)):
        complaint = ceremony.complain(p, enc, ready.trustee_secrets[3], scalar("cn"))
        assert Complaint.from_json(complaint.to_json(), "c", p) == complaint
        verdict = ceremony.judge_complaint(
            p, complaint, enc, ready.trustee_keys[3], ready.dealings[1], "complaint"
        )
        assert verdict is dealer_at_fault
    # A complaint with a forged Diffie-Hellman value is refused.
    complaint = ceremony.complain(p, bad, ready.trustee_secrets[3], scalar("cn"))
    forged = dataclasses.replace(complaint, shared=complaint.shared + group.G)
    with pytest.raises(BadProof) as err:
        ceremony.judge_complaint(p, forged, bad, ready.trustee_keys[3], ready.dealings[1], "c")
    assert err.value.field == "c.proof"
    with pytest.raises(InvalidField):
        ceremony.judge_complaint(p, complaint, bad, ready.trustee_keys[4], ready.dealings[1], "c")


def test_election_key_and_public_shares(ready: Ready) -> None:
    joint_secret = sum(c[0] for c in ready.coefficients.values()) % L
    assert ready.key == group.base_mul(joint_secret)
    for trustee, share in ready.secret_shares.items():
        assert ready.public_shares[trustee] == group.base_mul(share)
    with pytest.raises(InvalidField, match="dealings"):
        ceremony.election_key(ready.params, ready.dealings[:4])
    with pytest.raises(InvalidField, match="dealings"):
        ceremony.election_key(ready.params, list(reversed(ready.dealings)))


def test_lagrange_coefficients_interpolate_zero() -> None:
    coefs = [scalar("a", j) for j in range(3)]
    for subset in ([1, 2, 3], [2, 4, 5], [1, 3, 4, 5]):
        lambdas = ceremony.lagrange_coefficients(subset)
        assert sum(lambdas[i] * ceremony.evaluate(coefs, i) for i in subset) % L == coefs[0]
    with pytest.raises(ValueError):
        ceremony.lagrange_coefficients([1, 1, 2])


def _aggregate(ready: Ready, votes: list[int]) -> elgamal.Ciphertext:
    return elgamal.sum_ciphertexts(
        elgamal.encrypt(v, ready.key, scalar("vote", i)) for i, v in enumerate(votes)
    )


def test_every_quorum_decrypts(ready: Ready) -> None:
    ct = _aggregate(ready, [1, 1, 0, 1, 1, 0, 1])
    partials = {
        t: ceremony.partial_decrypt(ready.params, t, s, ct, "q1/0", scalar("pd", t))
        for t, s in ready.secret_shares.items()
    }
    for pd in partials.values():
        assert PartialDecryption.from_json(pd.to_json(), "p", ready.params) == pd
    for size in (3, 4, 5):
        for present in combinations(range(1, 6), size):
            got = ceremony.threshold_decrypt(
                ready.params,
                ready.public_shares,
                ct,
                [partials[t] for t in present],
                "q1/0",
                7,
                "partials",
            )
            assert got == 5


def test_wrong_partial_decryption_is_named(ready: Ready) -> None:
    ct = _aggregate(ready, [1, 0, 1])
    parts = [
        ceremony.partial_decrypt(ready.params, t, ready.secret_shares[t], ct, "q1/0", scalar(t))
        for t in (1, 3, 5)
    ]
    wrong = dataclasses.replace(parts[1], share=parts[1].share + group.G)
    with pytest.raises(BadProof) as err:
        ceremony.threshold_decrypt(
            ready.params, ready.public_shares, ct, [parts[0], wrong, parts[2]], "q1/0", 3, "tally"
        )
    assert err.value.field == "tally[1].proof"
    # A partial claimed by another trustee, or made for another label or ciphertext, fails.
    with pytest.raises(BadProof):
        ceremony.verify_partial(
            ready.params,
            ready.public_shares[2],
            ct,
            dataclasses.replace(parts[0], trustee=2),
            "q1/0",
            "p",
        )
    with pytest.raises(BadProof):
        ceremony.verify_partial(ready.params, ready.public_shares[1], ct, parts[0], "q1/1", "p")
    other = _aggregate(ready, [1, 1, 1])
    with pytest.raises(BadProof):
        ceremony.verify_partial(ready.params, ready.public_shares[1], other, parts[0], "q1/0", "p")


def test_quorum_and_trustee_index_refusals(ready: Ready) -> None:
    ct = _aggregate(ready, [1])
    parts = [
        ceremony.partial_decrypt(ready.params, t, ready.secret_shares[t], ct, "l", scalar(t))
        for t in (1, 2, 3)
    ]
    with pytest.raises(NoQuorum):
        ceremony.threshold_decrypt(ready.params, ready.public_shares, ct, parts[:2], "l", 1, "t")
    with pytest.raises(InvalidField, match="twice"):
        ceremony.combine(ready.params, ct, [parts[0], parts[1], parts[0]], "t")
    outsider = dataclasses.replace(parts[2], trustee=6)
    with pytest.raises(InvalidField) as err:
        ceremony.combine(ready.params, ct, [parts[0], parts[1], outsider], "t")
    assert err.value.field == "t[2].trustee"
    with pytest.raises(PlaintextOutOfRange):
        ceremony.threshold_decrypt(ready.params, ready.public_shares, ct, parts, "l", 0, "t")
    with pytest.raises(ValueError):
        ceremony.partial_decrypt(ready.params, 1, 5, elgamal.ZERO, "l", 3)


def test_one_of_one_and_n_of_n() -> None:
    for n, k in ((1, 1), (3, 3)):
        r = run_ceremony(n, k, f"edge{n}{k}")
        ct = _aggregate(r, [1, 1])
        parts = [
            ceremony.partial_decrypt(r.params, t, r.secret_shares[t], ct, "l", scalar(t))
            for t in range(1, n + 1)
        ]
        assert ceremony.threshold_decrypt(r.params, r.public_shares, ct, parts, "l", 2, "t") == 2
