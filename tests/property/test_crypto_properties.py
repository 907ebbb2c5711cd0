"""Properties of the secret-ballot cryptography (hypothesis, bounded to stay fast):

- decrypting a sum of encryptions gives the sum of the plaintexts;
- any altered ciphertext, commitment, challenge or response makes verification fail;
- a k-of-n ceremony with any set of absent trustees (at least k present) decrypts correctly.
"""

from __future__ import annotations

import dataclasses
import hashlib
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvote.chaincode._crypto import ballot, ceremony, elgamal, group, proofs
from mvote.chaincode._crypto.group import L
from mvote.chaincode._errors import BadProof, MvoteError

SECRET = group.reduce_wide(hashlib.sha512(b"property secret").digest())
KEY = elgamal.keypair(SECRET)
nonces = st.integers(1, L - 1)
nonzero = st.integers(1, L - 1)
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.lists(st.tuples(st.integers(0, 1000), nonces), min_size=0, max_size=12))
def test_decrypt_of_sum_is_sum_of_plaintexts(items: list[tuple[int, int]]) -> None:
    total = elgamal.sum_ciphertexts(elgamal.encrypt(m, KEY, r) for m, r in items)
    bound = sum(m for m, _ in items)
    assert elgamal.decrypt(total, SECRET, bound) == bound


@FAST
@given(st.integers(0, 2**24), st.integers(0, 2**24))
def test_discrete_log_is_exact(m: int, slack: int) -> None:
    point = group.base_mul(m) if m else group.IDENTITY
    assert elgamal.discrete_log(point, m + slack) == m


@cache
def _ballot() -> tuple[ballot.BallotContext, ballot.EncryptedBallot]:
    ctx = ballot.BallotContext(KEY, "mvote", "prop", bytes(32), 4, 0, 2)
    return ctx, ballot.encrypt_ballot(ctx, [1, 3], bytes(32))


def _fails(ctx: ballot.BallotContext, b: ballot.EncryptedBallot) -> bool:
    try:
        ballot.verify_ballot(ctx, b)
    except BadProof:
        return True
    return False


@FAST
@given(st.integers(0, 3), st.sampled_from(["alpha", "beta"]), nonzero)
def test_any_altered_ciphertext_fails(option: int, part: str, t: int) -> None:
    ctx, b = _ballot()
    sel = list(b.selections)
    ct = sel[option].ciphertext
    altered = dataclasses.replace(ct, **{part: getattr(ct, part) + group.base_mul(t)})
    sel[option] = dataclasses.replace(sel[option], ciphertext=altered)
    assert _fails(ctx, dataclasses.replace(b, selections=tuple(sel)))


@FAST
@given(st.integers(0, 3), st.sampled_from(["c0", "c1", "v0", "v1"]), nonzero)
def test_any_altered_zero_one_scalar_fails(option: int, name: str, delta: int) -> None:
    ctx, b = _ballot()
    sel = list(b.selections)
    proof = sel[option].proof
    bad = dataclasses.replace(proof, **{name: (getattr(proof, name) + delta) % L})
    sel[option] = dataclasses.replace(sel[option], proof=bad)
    assert _fails(ctx, dataclasses.replace(b, selections=tuple(sel)))


@FAST
@given(st.sampled_from(["challenge", "response"]), nonzero)
def test_any_altered_count_proof_fails(name: str, delta: int) -> None:
    ctx, b = _ballot()
    proof = b.count.proof
    count = dataclasses.replace(
        b.count, proof=dataclasses.replace(proof, **{name: (getattr(proof, name) + delta) % L})
    )
    assert _fails(ctx, dataclasses.replace(b, count=count))


@cache
def _dealing() -> tuple[ceremony.CeremonyParams, ceremony.Dealing]:
    params = ceremony.CeremonyParams("mvote", "prop", 3, 3)
    coefs = [group.reduce_wide(hashlib.sha512(bytes([j])).digest()) for j in range(3)]
    return params, ceremony.deal(params, 2, coefs, [7, 8, 9])


@FAST
@given(st.integers(0, 2), nonzero, st.sampled_from(["commitment", "challenge", "response"]))
def test_any_altered_commitment_or_schnorr_proof_fails(j: int, delta: int, what: str) -> None:
    params, d = _dealing()
    commitments, prfs = list(d.commitments), list(d.proofs)
    if what == "commitment":
        commitments[j] = commitments[j] + group.base_mul(delta)
    else:
        prfs[j] = dataclasses.replace(prfs[j], **{what: (getattr(prfs[j], what) + delta) % L})
    bad = dataclasses.replace(d, commitments=tuple(commitments), proofs=tuple(prfs))
    try:
        ceremony.verify_dealing(params, bad, "d")
    except BadProof as err:
        assert err.field == f"d.proofs[{j}]"
    else:
        raise AssertionError("altered dealing verified")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_ceremony_k_of_n_with_absent_trustees_decrypts(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 5), label="n")
    k = data.draw(st.integers(1, n), label="k")
    present = sorted(data.draw(st.sets(st.integers(1, n), min_size=k, max_size=n), label="present"))
    votes = data.draw(st.lists(st.integers(0, 1), min_size=1, max_size=6), label="votes")
    draw = lambda label: data.draw(nonzero, label=label)  # noqa: E731
    params = ceremony.CeremonyParams("mvote", "prop", n, k)
    coefs = {i: [draw("coefficient") for _ in range(k)] for i in range(1, n + 1)}
    dealings = [ceremony.deal(params, i, coefs[i], [draw("nonce")] * k) for i in range(1, n + 1)]
    key = ceremony.election_key(params, dealings)
    shares = {
        t: ceremony.secret_share(ceremony.evaluate(coefs[d], t) for d in range(1, n + 1))
        for t in present
    }
    public = {t: ceremony.public_share(params, dealings, t) for t in present}
    ct = elgamal.sum_ciphertexts(elgamal.encrypt(v, key, draw("r")) for v in votes)
    partials = [
        ceremony.partial_decrypt(params, t, shares[t], ct, "q/0", draw("u")) for t in present
    ]
    got = ceremony.threshold_decrypt(params, public, ct, partials, "q/0", len(votes), "p")
    assert got == sum(votes)
    if len(present) > k:  # any k of the present ones suffice as well
        assert (
            ceremony.threshold_decrypt(params, public, ct, partials[:k], "q/0", len(votes), "p")
            == got
        )
    # One fewer than k is refused.
    if k > 1:
        try:
            ceremony.combine(params, ct, partials[: k - 1], "p")
        except MvoteError as err:
            assert err.code == "NO_QUORUM"
        else:
            raise AssertionError("combined without a quorum")


@FAST
@given(st.integers(0, 40), st.data())
def test_range_proof_accepts_exactly_lo_to_hi(span: int, data: st.DataObject) -> None:
    lo = data.draw(st.integers(0, 5))
    value = data.draw(st.integers(lo, lo + span))
    r = data.draw(nonzero)
    total = elgamal.encrypt(value, KEY, r)
    n = group.Nonces(bytes(32))
    proof = proofs.range_prove(n, b"c", KEY, total, value, r, lo, lo + span)
    proofs.range_verify(b"c", KEY, total, lo, lo + span, proof, "count")
