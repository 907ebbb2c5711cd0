"""Secret mode in the contract: the key ceremony, encrypted ballots, homomorphic aggregation,
trustees' partial decryptions and the tally; every bad input refused with its code, the field
named and nothing written (``Env.refused``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nacl.signing
import pytest
import secret_env as se
from chaincode_env import CLOSES, T_VOTE, Env

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._crypto import ballot as cb
from mvote.chaincode._crypto import ceremony as cer
from mvote.chaincode._crypto import elgamal, group, proofs
from mvote.chaincode._crypto.group import L
from mvote.chaincode._errors import InvalidField
from mvote.chaincode._records import BoundSecretBallot, CastRequest, SecretBallot, TallyRecord
from mvote.chaincode._secret import Ceremony, DealingBody, StoredPosting
from mvote.client import _trustee as tr

SMALL_ORDER = "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"  # order 2
#: G plus a point of order 8: canonical, on the curve, outside the prime-order subgroup.
OFF_SUBGROUP = (
    group.G
    + group.Point(bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
).hex()
#: L itself: 32 bytes, but not below the group order.
NON_CANONICAL_SCALAR = L.to_bytes(32, "little").hex()
AT_TALLY = CLOSES + 5


def resign(
    posting: bytes, who: tr.TrusteeSecrets, change: Callable[[dict[str, Any]], None]
) -> bytes:
    """The posting with its body changed by ``change`` and signed again by ``who``."""
    value = encoding.decode(posting, max_size=1 << 24)
    body = value["body"]
    change(body)
    return tr.sign_posting(who, body)


def secret_cast_args(
    request: CastRequest,
    key: nacl.signing.SigningKey,
    change: Callable[[dict[str, Any]], None] | None = None,
) -> bytes:
    """The request's bytes, its ballot optionally changed and signed again by ``key``."""
    value = request.to_json()
    if change is not None:
        change(value["ballot"])
        value["ballot"]["voter"] = bytes(key.verify_key).hex()
        value["sig"] = key.sign(encoding.encode(value["ballot"])).signature.hex()
    return encoding.encode(value)


# --- ceremony -----------------------------------------------------------------------------------


def test_ceremony_fixes_the_election_key_and_public_shares(env: Env) -> None:
    team = se.ceremony(env)
    record = env.query("GetCeremony", "c1")
    assert record["state"] == "COMPLETE" and record["closed"] is not None
    dealings = [
        cer.Dealing.from_json(d["body"]["dealing"], "d", team[0].params)
        for d in se.stored_dealings(env, "c1", 5)
    ]
    assert record["election_key"] == cer.election_key(team[0].params, dealings).hex()
    for t in team:
        assert t.share is not None
        assert record["public_shares"][t.index - 1] == group.base_mul(t.share).hex()
    # The stored record reads back into its declared record and writes the same value; a
    # trustee outside 1..n is refused naming it, after the parameters it is checked against.
    ceremony = Ceremony.from_json(record)
    assert ceremony.to_json() == record
    assert (ceremony.params.n, ceremony.params.k, ceremony.closed is not None) == (5, 3, True)
    bad = {**record, "trustees": [*record["trustees"][:4], {**record["trustees"][4], "index": 6}]}
    with pytest.raises(InvalidField) as info:
        Ceremony.from_json(bad)
    assert info.value.field == "ceremony.trustees[4].index"
    with pytest.raises(InvalidField) as info:
        Ceremony.from_json({**bad, "k": 6})
    assert info.value.field == "k"
    # Every trustee's records are under its own keys.
    for i in range(1, 6):
        assert env.ledger.state.get(keys.dealing_key("c1", i)) is not None
        assert env.ledger.state.get(keys.ceremony_check_key("c1", i)) is not None


def test_create_ceremony_refusals(env: Env) -> None:
    team = se.trustees(env)
    regs = [t.registration() for t in team]

    def spec(n: int = 5, k: int = 3, trustees: list[Any] | None = None) -> bytes:
        return encoding.encode(
            {"cid": "c1", "n": n, "k": k, "trustees": regs if trustees is None else trustees}
        )

    env.refused("CreateCeremony", spec(k=6), code="INVALID_FIELD", field="k")
    env.refused("CreateCeremony", spec(trustees=regs[:4]), code="INVALID_FIELD", field="trustees")
    env.refused(
        "CreateCeremony",
        spec(trustees=[regs[1], regs[0], *regs[2:]]),
        code="INVALID_FIELD",
        field="trustees[0].index",
    )
    bad_proof = [regs[0], {**regs[1], "proof": regs[2]["proof"]}, *regs[2:]]
    env.refused(
        "CreateCeremony", spec(trustees=bad_proof), code="BAD_PROOF", field="trustees[1].proof"
    )
    small = [{**regs[0], "key": SMALL_ORDER}, *regs[1:]]
    env.refused(
        "CreateCeremony", spec(trustees=small), code="INVALID_POINT", field="trustees[0].key"
    )
    twice = [regs[0], {**regs[1], "signer": regs[0]["signer"]}, *regs[2:]]
    env.refused(
        "CreateCeremony", spec(trustees=twice), code="INVALID_FIELD", field="trustees[1].signer"
    )
    env.refused("CreateCeremony", spec(), code="UNAUTHORISED", field="admin", creator=env.client)
    env.ok("CreateCeremony", spec())
    env.refused("CreateCeremony", spec(), code="ALREADY_EXISTS", field="cid")


def test_postings_of_the_ceremony_refused(env: Env) -> None:
    team = se.trustees(env)
    record = se.create(env, team)
    regs = record["trustees"]
    good = tr.dealing_posting(team[0], regs)

    # A trustee outside the ceremony (index 6 of 5, or 0).
    outsider = tr.new_trustee(env.channel, "c1", 6, 3, 6, se.signer(6))
    env.refused(
        "PostDealing",
        resign(good, outsider, lambda b: b.update(trustee=6)),
        code="NOT_TRUSTEE",
        field="body.trustee",
    )
    env.refused(
        "PostDealing",
        resign(good, team[0], lambda b: b.update(trustee=0)),
        code="NOT_TRUSTEE",
        field="body.trustee",
    )
    # Signed by another trustee's key, or not the signed body.
    env.refused(
        "PostDealing", resign(good, team[1], lambda b: None), code="BAD_SIGNATURE", field="sig"
    )
    forged = encoding.decode(good, max_size=1 << 24)
    forged["body"]["shares"] = forged["body"]["shares"][::-1]
    env.refused("PostDealing", encoding.encode(forged), code="BAD_SIGNATURE", field="sig")
    env.refused(
        "PostDealing",
        resign(good, team[0], lambda b: b.update(channel="other")),
        code="WRONG_CHANNEL",
        field="body.channel",
    )
    env.refused("PostDealing", good, code="UNAUTHORISED", field="admin", creator=env.client)

    # Commitments: a wrong proof of knowledge, a point of small order or off the group, a
    # non-canonical scalar.
    def proof_of_other(b: dict[str, Any]) -> None:
        b["dealing"]["proofs"][1] = b["dealing"]["proofs"][2]

    env.refused(
        "PostDealing",
        resign(good, team[0], proof_of_other),
        code="BAD_PROOF",
        field="body.dealing.proofs[1]",
    )
    env.refused(
        "PostDealing",
        resign(good, team[0], lambda b: b["dealing"]["commitments"].__setitem__(0, SMALL_ORDER)),
        code="INVALID_POINT",
        field="body.dealing.commitments[0]",
    )
    env.refused(
        "PostDealing",
        resign(good, team[0], lambda b: b["dealing"]["commitments"].__setitem__(2, OFF_SUBGROUP)),
        code="INVALID_POINT",
        field="body.dealing.commitments[2]",
    )
    env.refused(
        "PostDealing",
        resign(good, team[0], lambda b: b["dealing"]["proofs"][0].update(v=NON_CANONICAL_SCALAR)),
        code="INVALID_SCALAR",
        field="body.dealing.proofs[0].v",
    )
    env.refused(
        "PostDealing",
        resign(good, team[0], lambda b: b.update(shares=b["shares"][::-1])),
        code="INVALID_FIELD",
        field="body.shares[0]",
    )
    env.refused(
        "PostDealing",
        resign(good, team[0], lambda b: b.update(shares=b["shares"][:3])),
        code="INVALID_FIELD",
        field="body.shares",
    )
    # Another trustee's dealing under this trustee's name.
    env.refused(
        "PostDealing",
        resign(tr.dealing_posting(team[1], regs), team[0], lambda b: b.update(trustee=1)),
        code="INVALID_FIELD",
        field="body.dealing.dealer",
    )
    # A posting of another kind is refused at its first field the other kind lacks; a bad
    # signature is named before a bad body.
    env.refused("PostCheck", good, code="INVALID_FIELD", field="body.dealing")
    both = encoding.decode(good, max_size=1 << 24)
    both["sig"], both["body"]["shares"] = "00", "none"
    env.refused("PostDealing", encoding.encode(both), code="INVALID_FIELD", field="sig")
    env.ok("PostDealing", good)
    env.refused("PostDealing", good, code="ALREADY_EXISTS", field="body.trustee")
    # The stored posting reads back into its declared records, the same value.
    value = se.stored_dealings(env, "c1", 1)[0]
    posting = StoredPosting.from_json(value)
    assert isinstance(posting.body, DealingBody) and posting.to_json() == value

    # Checks wait for every dealing; completion waits for every check.
    early = tr.sign_posting(
        team[0],
        {
            "type": "mvote.ceremony.check.v1",
            "channel": env.channel,
            "ceremony": "c1",
            "trustee": 1,
            "complaints": [],
        },
    )
    env.refused("PostCheck", early, code="INVALID_TRANSITION", field="body.ceremony")
    env.refused("CompleteCeremony", "c1", code="INVALID_TRANSITION", field="cid")
    # A secret question needs a complete ceremony.
    spec = {**env.spec(mode="secret"), "election": "c1"}
    env.roster()
    env.refused(
        "CreateQuestion", encoding.encode(spec), code="CEREMONY_NOT_COMPLETE", field="election"
    )


def test_a_complaint_names_the_bad_dealer_and_fails_the_ceremony(env: Env) -> None:
    team = se.trustees(env)
    regs = se.create(env, team)["trustees"]
    params = team[0].params
    key4 = cer.TrusteeKey.from_json({k: regs[3][k] for k in ("index", "key", "proof")}, "r", params)

    def bad_share_to_4(b: dict[str, Any]) -> None:
        # Dealer 2's share for trustee 4 (recipients 1, 3, 4, 5: position 2) is off by one.
        wrong = (cer.evaluate(team[1].coefficients, 4) + 1) % L
        b["shares"][2] = cer.encrypt_share(params, 2, key4, wrong, 12345).to_json()

    for t in team:
        posting = tr.dealing_posting(t, regs)
        if t.index == 2:
            posting = resign(posting, t, bad_share_to_4)
        env.ok("PostDealing", posting)
    dealings = se.stored_dealings(env, "c1", 5)

    # An unfounded complaint (trustee 3 against dealer 1, whose share is good) is refused.
    enc = cer.EncryptedShare.from_json(dealings[0]["body"]["shares"][1], "s", params)
    unfounded = cer.complain(params, enc, team[2].key_secret, 777).to_json()
    body = {
        "type": "mvote.ceremony.check.v1",
        "channel": env.channel,
        "ceremony": "c1",
        "trustee": 3,
        "complaints": [unfounded],
    }
    env.refused(
        "PostCheck",
        tr.sign_posting(team[2], body),
        code="INVALID_FIELD",
        field="body.complaints[0]",
    )
    # A complaint whose Diffie-Hellman proof is forged.
    forged = {**unfounded, "shared": group.base_mul(5).hex()}
    env.refused(
        "PostCheck",
        tr.sign_posting(team[2], {**body, "complaints": [forged]}),
        code="BAD_PROOF",
        field="body.complaints[0].proof",
    )

    for t in team[:3]:
        assert env.ok("PostCheck", tr.check_posting(t, dealings))["faulty"] == []
    check = tr.check_posting(team[3], dealings)
    assert env.ok("PostCheck", check)["faulty"] == [2]
    record = env.query("GetCeremony", "c1")
    assert (record["state"], record["faulty"], record["election_key"]) == ("FAILED", [2], None)
    env.refused("CompleteCeremony", "c1", code="INVALID_TRANSITION", field="FAILED")
    env.roster()
    spec = {**env.spec(mode="secret"), "election": "c1"}
    env.refused(
        "CreateQuestion", encoding.encode(spec), code="CEREMONY_NOT_COMPLETE", field="election"
    )


# --- ballots --------------------------------------------------------------------------------------


@pytest.fixture
def secret_env(
    env: Env,
) -> tuple[Env, list[tr.TrusteeSecrets], dict[str, Any], list[nacl.signing.SigningKey]]:
    voters = env.roster("r1", range(1, 7))
    team = se.ceremony(env)
    spec = se.secret_question(
        env, options=("a", "b", "c", "d"), rule={"kind": "multi", "min": 0, "max": 2}
    )
    return env, team, spec, voters


def test_secret_cast_writes_only_the_voters_keys(secret_env: Any) -> None:
    env, _, spec, voters = secret_env
    request = se.secret_request(env, voters[0], spec, (1, 3))
    executed = env.run("Cast", encoding.encode(request.to_json()), at=T_VOTE)
    assert executed.ok, executed.response.message
    voter = bytes(voters[0].verify_key).hex()
    shard = keys.shard_of(bytes(voters[0].verify_key), 1)
    assert set(executed.simulation.writes) == {
        keys.ballot_key("q1", shard, voter),
        keys.participation_key(voter, "q1"),
    }
    assert set(executed.simulation.reads) == {
        keys.ballot_key("q1", shard, voter),
        keys.question_key("q1"),
        keys.ceremony_key("c1"),
        keys.roster_entry_key("r1", keys.voter_hash(bytes(voters[0].verify_key)).hex()),
        # Only this ballot's own spoiled key: no read another voter's ballot writes.
        keys.spoiled_key("q1", request.ballot.tracker()),
    }
    assert executed.simulation.range_reads == []
    stored = env.query("GetBallot", "q1", voter)
    assert stored["ballot"]["type"] == "mvote.secret-ballot.v2"
    assert "choices" not in stored["ballot"]
    # No live counts in secret mode.
    results = env.query("GetResults", "q1")
    assert (results["ballots"], results["counts"]) == (1, None)


def test_secret_cast_refusals(secret_env: Any) -> None:
    env, _, spec, voters = secret_env
    v1, v2 = voters[0], voters[1]
    request = se.secret_request(env, v1, spec, (0, 2))

    def cast(args: bytes, code: str, field: str) -> None:
        env.refused("Cast", args, code=code, field=field, at=T_VOTE)

    def set_point(i: int, part: str, value: str) -> Callable[[dict[str, Any]], None]:
        return lambda b: b["encrypted"]["selections"][i]["ciphertext"].update({part: value})

    # Points off the group or of small order, the identity, non-canonical scalars.
    cast(
        secret_cast_args(request, v1, set_point(0, "alpha", SMALL_ORDER)),
        "INVALID_POINT",
        "ballot.encrypted.selections[0].ciphertext.alpha",
    )
    cast(
        secret_cast_args(request, v1, set_point(3, "beta", OFF_SUBGROUP)),
        "INVALID_POINT",
        "ballot.encrypted.selections[3].ciphertext.beta",
    )
    cast(
        secret_cast_args(request, v1, set_point(1, "alpha", group.IDENTITY.hex())),
        "INVALID_POINT",
        "ballot.encrypted.selections[1].ciphertext.alpha",
    )
    cast(
        secret_cast_args(
            request,
            v1,
            lambda b: b["encrypted"]["selections"][1]["proof"].update(c0=NON_CANONICAL_SCALAR),
        ),
        "INVALID_SCALAR",
        "ballot.encrypted.selections[1].proof.c0",
    )
    # A tampered response.
    cast(
        secret_cast_args(
            request,
            v1,
            lambda b: b["encrypted"]["selections"][2]["proof"].update(v1=group.scalar_hex(7)),
        ),
        "BAD_PROOF",
        "ballot.encrypted.selections[2].proof",
    )
    # Wrong number of options.
    cast(
        secret_cast_args(request, v1, lambda b: b["encrypted"]["selections"].pop()),
        "INVALID_FIELD",
        "ballot.encrypted.selections",
    )
    # Proofs made for another question (same options and rule) or another voter.
    other = se.secret_question(
        env, qid="q2", options=("a", "b", "c", "d"), rule={"kind": "multi", "min": 0, "max": 2}
    )
    for_q2 = se.secret_request(env, v1, other, (0, 2))
    cast(
        secret_cast_args(for_q2, v1, lambda b: b.update(qid="q1")),
        "QUESTION_MISMATCH",
        "ballot.question",
    )
    q1_hash = env.bound_hash("q1")
    cast(
        secret_cast_args(for_q2, v1, lambda b: b.update(qid="q1", question=q1_hash)),
        "BAD_PROOF",
        "ballot.encrypted.selections[0].proof",
    )
    cast(
        secret_cast_args(request, v2, lambda b: None),
        "BAD_PROOF",
        "ballot.encrypted.selections[0].proof",
    )
    # A signature over other bytes.
    copied = request.to_json()
    copied["ballot"]["encrypted"] = for_q2.to_json()["ballot"]["encrypted"]
    cast(encoding.encode(copied), "BAD_SIGNATURE", "sig")
    # A sum outside min..max: three selections where the rule allows at most two.
    cast(
        encoding.encode(over_the_maximum(env, v1, spec).to_json()),
        "BAD_PROOF",
        "ballot.encrypted.count.proof",
    )
    # An open ballot on a secret question, a secret ballot on an open question.
    cast(env.cast_args(v1, "q1", (0,)), "INVALID_FIELD", "ballot.type")
    env.question(qid="q3")
    for_open = se.secret_request(
        env, v1, {**env.spec(qid="q3", mode="secret"), "election": "c1"}, (0,)
    )
    cast(encoding.encode(for_open.to_json()), "INVALID_FIELD", "ballot.type")
    # Not on the roster.
    stranger = env.voter_key(99)
    cast(
        encoding.encode(se.secret_request(env, stranger, spec, (1,)).to_json()),
        "NOT_ELIGIBLE",
        "ballot.voter",
    )
    # A second ballot.
    env.ok("Cast", encoding.encode(request.to_json()), at=T_VOTE)
    again = se.secret_request(env, v1, spec, (3,))
    cast(encoding.encode(again.to_json()), "ALREADY_VOTED", "ballot.voter")


def over_the_maximum(env: Env, key: nacl.signing.SigningKey, spec: dict[str, Any]) -> CastRequest:
    """A ballot selecting options 0, 1 and 2 (max 2) whose every 0/1 proof is valid and whose
    count proof claims 2."""
    K = se.election_key(env)
    bound = env.bound_hash("q1")
    ctx = cb.BallotContext(
        K, env.channel, "q1", bytes(key.verify_key), 4, 0, 2, bytes.fromhex(bound)
    )
    nonces = group.Nonces(bytes(32))
    vector = [1, 1, 1, 0]
    rs = [nonces.scalar("r", i) for i in range(4)]
    cts = [elgamal.encrypt(b, K, r) for b, r in zip(vector, rs, strict=True)]
    digest = ctx.digest(cts)
    selections = tuple(
        cb.EncryptedSelection(
            ct, proofs.zero_one_prove_with(nonces, cb.option_context(digest, i), K, ct, b, r)
        )
        for i, (ct, b, r) in enumerate(zip(cts, vector, rs, strict=True))
    )
    count = proofs.range_prove(
        nonces, cb.count_context(digest), K, elgamal.sum_ciphertexts(cts), 2, sum(rs) % L, 0, 2
    )
    ballot = BoundSecretBallot(
        env.channel,
        "q1",
        cb.EncryptedBallot(selections, count),
        bytes(key.verify_key).hex(),
        bound,
    )
    return CastRequest(ballot, key.sign(ballot.canonical_bytes()).signature.hex())


# --- aggregation, decryption, tally -----------------------------------------------------------------


def test_aggregate_is_bounded_and_adds_ciphertexts(secret_env: Any) -> None:
    env, _, spec, voters = secret_env
    requests = [se.secret_request(env, v, spec, (i % 4,)) for i, v in enumerate(voters)]
    for r in requests:
        env.ok("Cast", encoding.encode(r.to_json()), at=T_VOTE)
    env.ok("CloseQuestion", "q1", at=CLOSES)
    env.refused("PostDecryption", b"{}", code="INVALID_FIELD", field="body")
    steps = []
    while True:
        step = env.ok("Aggregate", "q1", "0", "4", at=CLOSES + 1)
        steps.append(step["ballots"])
        if step["done"]:
            break
    assert steps == [4, 6]
    expected = [elgamal.ZERO] * 4
    for r in requests:
        assert isinstance(r.ballot, SecretBallot)
        expected = [a + b for a, b in zip(expected, r.ballot.encrypted.ciphertexts(), strict=True)]
    assert se.totals(env, "q1", 1) == expected


def test_decryption_refusals_and_the_tally(secret_env: Any) -> None:
    env, team, spec, voters = secret_env
    choices = [(0,), (0, 1), (), (1, 3), (3,), (0, 3)]
    for v, c in zip(voters, choices, strict=True):
        se.cast_secret(env, v, spec, c)
    env.ok("CloseQuestion", "q1", at=CLOSES)
    zero = [elgamal.ZERO] * 4
    early = tr.decryption_posting(team[0], "q1", [elgamal.encrypt(1, se.election_key(env), 5)] * 4)
    env.refused("PostDecryption", early, code="AGGREGATION_INCOMPLETE", field="shard", at=AT_TALLY)
    env.refused("Tally", "q1", code="AGGREGATION_INCOMPLETE", field="shard", at=AT_TALLY)
    env.aggregate_all("q1")
    sums = se.totals(env, "q1", 1)
    assert sums != zero
    good = tr.decryption_posting(team[0], "q1", sums)

    def post(args: bytes, code: str, field: str) -> None:
        env.refused("PostDecryption", args, code=code, field=field, at=AT_TALLY)

    # A wrong proof; a partial decryption of other ciphertexts (a single ballot's, say).
    post(
        resign(good, team[0], lambda b: b["partials"][2]["proof"].update(v=group.scalar_hex(3))),
        "BAD_PROOF",
        "body.partials[2].proof",
    )
    first = se.secret_request(env, voters[0], spec, (0,))
    assert isinstance(first.ballot, SecretBallot)
    post(
        tr.decryption_posting(team[0], "q1", first.ballot.encrypted.ciphertexts()),
        "BAD_PROOF",
        "body.partials[0].proof",
    )
    # Trustee 2's partials posted as trustee 1's, a trustee outside the ceremony, a forged signature.
    post(
        resign(tr.decryption_posting(team[1], "q1", sums), team[0], lambda b: b.update(trustee=1)),
        "INVALID_FIELD",
        "body.partials[0].trustee",
    )
    outsider = tr.new_trustee(env.channel, "c1", 7, 3, 7, se.signer(7))
    post(resign(good, outsider, lambda b: b.update(trustee=7)), "NOT_TRUSTEE", "body.trustee")
    post(resign(good, team[1], lambda b: None), "BAD_SIGNATURE", "sig")
    post(resign(good, team[0], lambda b: b["partials"].pop()), "INVALID_FIELD", "body.partials")
    post(
        resign(
            good,
            team[0],
            lambda b: b["partials"][1].update(share=SMALL_ORDER),
        ),
        "INVALID_POINT",
        "body.partials[1].share",
    )

    env.ok("PostDecryption", good, at=AT_TALLY)
    post(good, "ALREADY_EXISTS", "body.trustee")
    env.ok("PostDecryption", tr.decryption_posting(team[3], "q1", sums), at=AT_TALLY)
    env.refused("Tally", "q1", code="NO_QUORUM", field="decryption", at=AT_TALLY)
    env.ok("PostDecryption", tr.decryption_posting(team[4], "q1", sums), at=AT_TALLY)
    tally = env.ok("Tally", "q1", at=AT_TALLY)
    assert (tally["ballots"], tally["counts"]) == (6, [3, 2, 0, 3])
    assert tally["outcome"] == {"kind": "plurality", "winners": [0, 3]}
    d = tally["decryption"]
    assert d["trustees"] == [1, 4, 5]
    lambdas = cer.lagrange_coefficients([1, 4, 5])
    assert d["lagrange"] == [group.scalar_hex(lambdas[t]) for t in (1, 4, 5)]
    assert d["totals"] == [c.to_json() for c in sums]
    assert env.query("GetTally", "q1") == tally
    # The stored secret tally reads back into its declared record and writes the same value.
    record = TallyRecord.from_json(tally)
    assert record.decryption is not None
    assert record.decryption.partials[0].trustee == 1
    assert record.to_json() == tally
    assert env.state_of("q1") == "TALLIED"


def test_tally_of_no_ballots_needs_no_trustee(secret_env: Any) -> None:
    env, _, _, _ = secret_env
    env.ok("CloseQuestion", "q1", at=CLOSES)
    env.aggregate_all("q1")
    tally = env.ok("Tally", "q1", at=AT_TALLY)
    assert (tally["ballots"], tally["counts"], tally["decryption"]["trustees"]) == (
        0,
        [0, 0, 0, 0],
        [],
    )
