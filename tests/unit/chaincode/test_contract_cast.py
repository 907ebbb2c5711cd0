"""Cast: the ballot path. Signatures, keys, schedule, rules, the three kinds of eligibility, the
double-vote rule, and the key discipline that keeps concurrent ballots free of MVCC conflicts."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chaincode_env import (
    CLOSES,
    ONSITE_CODE,
    OPENS,
    T_VOTE,
    Env,
    entry_of,
    voter_hex,
)

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import MAX_CAST_BYTES
from mvote.chaincode._records import Ballot, CastRequest

P = 2**255 - 19

#: Canonical encodings of the eight small-order points of edwards25519.
SMALL_ORDER_POINTS = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
]
NON_CANONICAL_POINTS = [
    P.to_bytes(32, "little").hex(),  # y = p, i.e. 0 spelled with y >= p
    (P + 1).to_bytes(32, "little").hex(),  # y = p + 1, i.e. the identity spelled with y >= p
    (2**255 - 1).to_bytes(32, "little").hex(),
    "0100000000000000000000000000000000000000000000000000000000000080",  # x = 0 with sign set
]
#: A valid key plus a torsion point: on the curve, but not in the prime-order subgroup.
MIXED_ORDER_POINT = "63771c228bf60e6a02ad24d2c345a28d3598f640e26bede40c8b77fe4bf090a3"
NOT_ON_CURVE = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def _roster_question(env: Env, **spec: Any) -> None:
    env.roster("r1", voters=range(1, 6))
    env.question(**spec)


def test_cast_stores_the_ballot_and_the_voter_history(env: Env) -> None:
    _roster_question(env)
    key = env.voter_key(1)
    request = env.request(key, "q1", (2,))
    executed = env.run("Cast", encoding.encode(request.to_json()), at=T_VOTE)
    assert executed.ok, executed.response.message
    tracker = request.ballot.tracker()
    assert executed.payload() == {"qid": "q1", "tracker": tracker, "shard": 0, "tx": executed.tx_id}
    assert executed.simulation.event is not None
    assert executed.simulation.event[0] == "BallotCast"
    record = env.query("GetBallot", "q1", voter_hex(key))
    assert record == {
        "ballot": request.ballot.to_json(),
        "sig": request.sig,
        "credential": None,
        "onsite": False,
        "shard": 0,
        "tracker": tracker,
        "tx": executed.tx_id,
        "at": T_VOTE,
    }
    assert env.query("GetHistory", voter_hex(key)) == [
        {"qid": "q1", "tracker": tracker, "tx": executed.tx_id, "at": T_VOTE}
    ]


def test_integrators_cast_with_any_identity(env: Env) -> None:
    # The voter's signature authorises a ballot, not the submitter's MSP role.
    _roster_question(env)
    env.ok("Cast", env.cast_args(env.voter_key(1)), creator=env.client, at=T_VOTE)
    env.ok("Cast", env.cast_args(env.voter_key(2)), creator=env.other_admin, at=T_VOTE)


# --- key discipline ------------------------------------------------------------------------------


def _rw(env: Env, key_index: int, at: int = T_VOTE, **kwargs: Any) -> Any:
    executed = env.run("Cast", env.cast_args(env.voter_key(key_index), **kwargs), at=at)
    assert executed.ok, executed.response.message
    return executed.simulation


@pytest.mark.parametrize("shards", [1, 7])
def test_cast_reads_and_writes_only_its_own_keys_roster(env: Env, shards: int) -> None:
    _roster_question(env, shards=shards)
    sims = {i: _rw(env, i) for i in (1, 2)}
    for i, sim in sims.items():
        key = env.voter_key(i)
        voter = voter_hex(key)
        shard = keys.shard_of(bytes(key.verify_key), shards)
        ballot_key = keys.ballot_key("q1", shard, voter)
        assert set(sim.reads) == {
            keys.question_key("q1"),
            keys.roster_entry_key("r1", entry_of(key)),
            ballot_key,
        }
        assert sim.reads[ballot_key] is None  # read as absent: the double-vote check
        assert sim.range_reads == []
        assert set(sim.writes) == {ballot_key, keys.participation_key(voter, "q1")}
    a, b = sims[1], sims[2]
    assert not set(a.writes) & set(b.writes)
    assert not set(a.reads) & set(b.writes)
    assert not set(b.reads) & set(a.writes)


def test_cast_reads_and_writes_only_its_own_keys_open(env: Env) -> None:
    env.question(eligibility=env.open_eligibility(), shards=3)
    sims = {}
    for i in (1, 2):
        key = env.voter_key(i)
        sims[i] = _rw(env, i, credential=env.credential(key))
        shard = keys.shard_of(bytes(key.verify_key), 3)
        ballot_key = keys.ballot_key("q1", shard, voter_hex(key))
        assert set(sims[i].reads) == {keys.question_key("q1"), ballot_key}
        assert set(sims[i].writes) == {ballot_key, keys.participation_key(voter_hex(key), "q1")}
    a, b = sims[1], sims[2]
    assert not set(a.writes) & set(b.writes)
    assert not set(a.reads) & set(b.writes)
    assert not set(b.reads) & set(a.writes)


def test_a_second_ballot_conflicts_on_the_voters_own_ballot_key(env: Env) -> None:
    # Two ballots of one voter simulated against the same state both read the ballot key that
    # both write: exactly one of them can commit under MVCC.
    _roster_question(env)
    first = env.ledger.query(
        env.client, "Cast", env.cast_args(env.voter_key(1), choices=(0,)), timestamp=T_VOTE
    )
    second = env.ledger.query(
        env.client, "Cast", env.cast_args(env.voter_key(1), choices=(1,)), timestamp=T_VOTE
    )
    assert first.ok and second.ok
    shared = set(first.simulation.writes) & set(second.simulation.reads)
    ballot_key = keys.ballot_key("q1", 0, voter_hex(env.voter_key(1)))
    assert shared == {ballot_key}


# --- the ballot itself --------------------------------------------------------------------------


def test_cast_refuses_a_ballot_for_another_channel(env: Env) -> None:
    _roster_question(env)
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), channel="other"),
        code="WRONG_CHANNEL",
        field="ballot.channel",
        at=T_VOTE,
    )


def _with_voter(env: Env, voter: str) -> bytes:
    ballot = Ballot(env.channel, "q1", (0,), voter)
    return encoding.encode(CastRequest(ballot, "11" * 64).to_json())


@pytest.mark.parametrize(
    "voter",
    SMALL_ORDER_POINTS + NON_CANONICAL_POINTS + [MIXED_ORDER_POINT, NOT_ON_CURVE],
)
def test_cast_refuses_invalid_voter_keys(env: Env, voter: str) -> None:
    _roster_question(env)
    env.refused(
        "Cast", _with_voter(env, voter), code="INVALID_KEY", field="ballot.voter", at=T_VOTE
    )


def test_cast_refuses_bad_signatures(env: Env) -> None:
    _roster_question(env)
    key = env.voter_key(1)
    # Signed by someone else.
    env.refused(
        "Cast",
        env.cast_args(key, signer=env.voter_key(2)),
        code="BAD_SIGNATURE",
        field="sig",
        at=T_VOTE,
    )
    # The voter's signature over other choices.
    signed = env.request(key, "q1", (0,))
    altered = dataclasses.replace(signed, ballot=dataclasses.replace(signed.ballot, choices=(1,)))
    env.refused(
        "Cast", encoding.encode(altered.to_json()), code="BAD_SIGNATURE", field="sig", at=T_VOTE
    )
    # One flipped bit; an all-zero signature; S >= L (non-canonical S).
    sig = bytearray(bytes.fromhex(signed.sig))
    sig[5] ^= 1
    for bad in (bytes(sig).hex(), "00" * 64, signed.sig[:64] + "ff" * 32):
        request = dataclasses.replace(signed, sig=bad)
        env.refused(
            "Cast", encoding.encode(request.to_json()), code="BAD_SIGNATURE", field="sig", at=T_VOTE
        )
    env.cast(key)  # the genuine one still counts


def test_cast_refuses_malformed_requests(env: Env) -> None:
    _roster_question(env)
    good = env.request(env.voter_key(1)).to_json()
    canonical = encoding.encode(good)
    env.refused("Cast", canonical + b" ", code="NON_CANONICAL", field="request", at=T_VOTE)
    env.refused("Cast", b"\xef\xbb\xbf" + canonical, code="MALFORMED", field="request", at=T_VOTE)
    env.refused(
        "Cast",
        canonical[:40] + b"\xc3" + canonical[41:],
        code="MALFORMED",
        field="request",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        encoding.encode({**good, "extra": 1}),
        code="INVALID_FIELD",
        field="extra",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        encoding.encode({**good, "ballot": {**good["ballot"], "type": "mvote.ballot.v3"}}),
        code="INVALID_FIELD",
        field="ballot.type",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        encoding.encode({**good, "sig": good["sig"][:-2]}),
        code="INVALID_FIELD",
        field="sig",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        encoding.encode({**good, "pad": "x" * MAX_CAST_BYTES}),
        code="TOO_LARGE",
        field="request",
        at=T_VOTE,
    )


def test_cast_refuses_unknown_questions(env: Env) -> None:
    _roster_question(env)
    env.refused(
        "Cast", env.cast_args(env.voter_key(1), "q9"), code="NOT_FOUND", field="qid", at=T_VOTE
    )


@pytest.mark.parametrize(
    ("at", "accepted"),
    [(OPENS - 1, False), (OPENS, True), (CLOSES - 1, True), (CLOSES, False), (CLOSES + 100, False)],
)
def test_cast_only_inside_the_schedule(env: Env, at: int, accepted: bool) -> None:
    _roster_question(env)
    args = env.cast_args(env.voter_key(1))
    if accepted:
        env.ok("Cast", args, at=at)
    else:
        env.refused("Cast", args, code="QUESTION_NOT_OPEN", field="ballot.qid", at=at)


@pytest.mark.parametrize("state", ["DRAFT", "CLOSED", "CANCELLED"])
def test_cast_refused_unless_open(env: Env, state: str) -> None:
    env.roster()
    env.question(open_it=state != "DRAFT")
    if state == "CLOSED":
        env.ok("CloseQuestion", "q1", "early", at=T_VOTE - 1)
    if state == "CANCELLED":
        env.ok("CancelQuestion", "q1", "gone", at=T_VOTE - 1)
    err = env.refused(
        "Cast",
        env.cast_args(env.voter_key(1)),
        code="QUESTION_NOT_OPEN",
        field="ballot.qid",
        at=T_VOTE,
    )
    assert state in err.message


def test_second_ballot_is_refused(env: Env) -> None:
    _roster_question(env)
    key = env.voter_key(1)
    first = env.cast(key, "q1", (0,))
    for choices in ((0,), (1,)):
        env.refused(
            "Cast",
            env.cast_args(key, "q1", choices),
            code="ALREADY_VOTED",
            field="ballot.voter",
            at=T_VOTE + 1,
        )
    assert env.query("GetBallot", "q1", voter_hex(key))["tracker"] == first["tracker"]


# --- ballot rules ---------------------------------------------------------------------------------


def test_single_choice_rule(env: Env) -> None:
    _roster_question(env)
    for choices, field in [
        ((), "ballot.choices"),
        ((0, 1), "ballot.choices"),
        ((3,), "ballot.choices[0]"),
    ]:
        env.refused(
            "Cast",
            env.cast_args(env.voter_key(1), "q1", choices),
            code="RULE_VIOLATION",
            field=field,
            at=T_VOTE,
        )
    env.cast(env.voter_key(1), "q1", (2,))


def test_multi_rule_up_to_3_of_30(env: Env) -> None:
    env.roster(voters=range(1, 10))
    options = [f"project {i}" for i in range(30)]
    env.question(options=options, rule={"kind": "multi", "min": 1, "max": 3})
    refusals = [
        ((), "ballot.choices"),
        ((0, 1, 2, 3), "ballot.choices"),
        ((5, 30), "ballot.choices[1]"),
    ]
    for choices, field in refusals:
        env.refused(
            "Cast",
            env.cast_args(env.voter_key(1), "q1", choices),
            code="RULE_VIOLATION",
            field=field,
            at=T_VOTE,
        )
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), "q1", (3, 1)),
        code="INVALID_FIELD",
        field="ballot.choices[1]",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), "q1", (1, 1)),
        code="INVALID_FIELD",
        field="ballot.choices[1]",
        at=T_VOTE,
    )
    for i, choices in enumerate([(0,), (0, 29), (4, 17, 29)], start=1):
        env.cast(env.voter_key(i), "q1", choices)


def test_multi_rule_may_allow_a_blank_ballot(env: Env) -> None:
    env.roster()
    env.question(rule={"kind": "multi", "min": 0, "max": 2})
    env.cast(env.voter_key(1), "q1", ())


def test_yesno_rule_takes_one_choice(env: Env) -> None:
    env.roster()
    env.question(
        options=("yes", "no"),
        rule={"kind": "yesno", "threshold_bp": 5000, "min_turnout": {"kind": "none"}},
    )
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), "q1", (0, 1)),
        code="RULE_VIOLATION",
        field="ballot.choices",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), "q1", (2,)),
        code="RULE_VIOLATION",
        field="ballot.choices[0]",
        at=T_VOTE,
    )
    env.cast(env.voter_key(1), "q1", (1,))


# --- eligibility: roster -----------------------------------------------------------------------------


def test_roster_eligibility(env: Env) -> None:
    _roster_question(env)
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(9)),
        code="NOT_ELIGIBLE",
        field="ballot.voter",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), credential=env.credential(env.voter_key(1))),
        code="INVALID_FIELD",
        field="credential",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), code=ONSITE_CODE),
        code="INVALID_FIELD",
        field="code",
        at=T_VOTE,
    )
    env.cast(env.voter_key(1))


def test_roster_membership_is_per_roster(env: Env) -> None:
    env.roster("r1", voters=[1])
    env.roster("r2", voters=[2])
    env.question(eligibility={"kind": "roster", "roster": "r2"})
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1)),
        code="NOT_ELIGIBLE",
        field="ballot.voter",
        at=T_VOTE,
    )
    env.cast(env.voter_key(2))


# --- eligibility: open with a registrar credential ------------------------------------------------


@pytest.fixture
def open_env(env: Env) -> Env:
    env.question(eligibility=env.open_eligibility(env.registrar, env.other_registrar))
    return env


def _open_refused(env: Env, credential: Any, code: str, field: str, at: int = T_VOTE) -> None:
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), credential=credential),
        code=code,
        field=field,
        at=at,
    )


def test_open_eligibility_accepts_a_valid_credential(open_env: Env) -> None:
    env = open_env
    key = env.voter_key(1)
    credential = env.credential(key)
    env.cast(key, credential=credential)
    assert env.query("GetBallot", "q1", voter_hex(key))["credential"] == credential.to_json()
    # Either listed registrar will do, and a scope of exactly this question.
    env.cast(
        env.voter_key(2),
        credential=env.credential(env.voter_key(2), registrar=env.other_registrar, scope="q1"),
    )


def test_open_eligibility_missing_credential(open_env: Env) -> None:
    _open_refused(open_env, None, "NOT_ELIGIBLE", "credential")


def test_open_eligibility_wrong_registrar(open_env: Env) -> None:
    env = open_env
    stranger = env.voter_key(77)
    _open_refused(
        env,
        env.credential(env.voter_key(1), registrar=stranger),
        "BAD_CREDENTIAL",
        "credential.body.registrar",
    )


def test_open_eligibility_credential_of_another_voter(open_env: Env) -> None:
    env = open_env
    _open_refused(env, env.credential(env.voter_key(2)), "BAD_CREDENTIAL", "credential.body.voter")


def test_open_eligibility_wrong_channel(open_env: Env) -> None:
    env = open_env
    _open_refused(
        env,
        env.credential(env.voter_key(1), channel="other"),
        "BAD_CREDENTIAL",
        "credential.body.channel",
    )


def test_open_eligibility_wrong_scope(open_env: Env) -> None:
    env = open_env
    _open_refused(
        env, env.credential(env.voter_key(1), scope="q2"), "BAD_CREDENTIAL", "credential.body.scope"
    )


def test_open_eligibility_expiry(open_env: Env) -> None:
    env = open_env
    credential = env.credential(env.voter_key(1), expires_at=T_VOTE)
    _open_refused(env, credential, "BAD_CREDENTIAL", "credential.body.expires_at", at=T_VOTE)
    env.cast(env.voter_key(1), credential=credential, at=T_VOTE - 1)


def test_open_eligibility_bad_credential_signature(open_env: Env) -> None:
    env = open_env
    genuine = env.credential(env.voter_key(1), scope="q1")
    forged_body = dataclasses.replace(genuine.body, scope="*")
    forged = dataclasses.replace(genuine, body=forged_body)
    _open_refused(env, forged, "BAD_SIGNATURE", "credential.sig")
    # Signed by another key than the registrar it names.
    other = env.credential(env.voter_key(1), registrar=env.voter_key(77))
    impostor = dataclasses.replace(
        other, body=dataclasses.replace(other.body, registrar=voter_hex(env.registrar))
    )
    _open_refused(env, impostor, "BAD_SIGNATURE", "credential.sig")


def test_open_eligibility_credential_body_shape(open_env: Env) -> None:
    env = open_env
    request = env.request(env.voter_key(1), credential=env.credential(env.voter_key(1))).to_json()
    request["credential"]["body"]["expires_at"] = -1
    env.refused(
        "Cast",
        encoding.encode(request),
        code="INVALID_FIELD",
        field="credential.body.expires_at",
        at=T_VOTE,
    )


# --- eligibility: on site ----------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["roster", "open"])
def test_onsite_code(env: Env, base: str) -> None:
    if base == "roster":
        env.roster(voters=[1, 2])
        base_eligibility: dict[str, Any] = {"kind": "roster", "roster": "r1"}
    else:
        base_eligibility = env.open_eligibility()
    env.question(eligibility=env.onsite_eligibility(base_eligibility))

    def credential(i: int) -> Any:
        return env.credential(env.voter_key(i)) if base == "open" else None

    key = env.voter_key(1)
    env.refused(
        "Cast",
        env.cast_args(key, credential=credential(1)),
        code="BAD_ONSITE_CODE",
        field="code",
        at=T_VOTE,
    )
    env.refused(
        "Cast",
        env.cast_args(key, credential=credential(1), code="SITE-4243"),
        code="BAD_ONSITE_CODE",
        field="code",
        at=T_VOTE,
    )
    # The right code does not replace the base eligibility.
    if base == "roster":
        env.refused(
            "Cast",
            env.cast_args(env.voter_key(3), code=ONSITE_CODE),
            code="NOT_ELIGIBLE",
            field="ballot.voter",
            at=T_VOTE,
        )
    else:
        env.refused(
            "Cast",
            env.cast_args(env.voter_key(3), code=ONSITE_CODE),
            code="NOT_ELIGIBLE",
            field="credential",
            at=T_VOTE,
        )
    env.cast(key, credential=credential(1), code=ONSITE_CODE)
    record = env.query("GetBallot", "q1", voter_hex(key))
    assert record["onsite"] is True
    assert ONSITE_CODE not in encoding.encode(record).decode()


def test_onsite_code_is_bound_to_the_question(env: Env) -> None:
    env.roster(voters=[1])
    # The question commits the hash of the code for "q2"; the same code does not open "q1".
    env.question(eligibility=env.onsite_eligibility({"kind": "roster", "roster": "r1"}, qid="q2"))
    env.refused(
        "Cast",
        env.cast_args(env.voter_key(1), code=ONSITE_CODE),
        code="BAD_ONSITE_CODE",
        field="code",
        at=T_VOTE,
    )


def test_onsite_code_shape(env: Env) -> None:
    env.roster(voters=[1])
    env.question(eligibility=env.onsite_eligibility({"kind": "roster", "roster": "r1"}))
    for code in ("abc", "x" * 65, "SITE 4242"):
        env.refused(
            "Cast",
            env.cast_args(env.voter_key(1), code=code),
            code="INVALID_FIELD",
            field="code",
            at=T_VOTE,
        )


def test_each_endorser_gets_the_same_answer(env: Env) -> None:
    """Endorsing organisations run the same request one after the other; the second run parses
    through the memo (parse and signature checks) and must answer exactly as the first."""
    _roster_question(env)
    good = encoding.encode(env.request(env.voter_key(1)).to_json())
    malformed = good[:-1] + b" }"
    for _ in range(2):
        env.refused("Cast", malformed, code="NON_CANONICAL", field="request", at=T_VOTE)
    bad_sig = encoding.encode({**encoding.decode(good, max_size=1 << 16), "sig": "00" * 64})
    for _ in range(2):
        env.refused("Cast", bad_sig, code="BAD_SIGNATURE", field="sig", at=T_VOTE)
    first = env.ledger.query(env.client, "Cast", good, timestamp=T_VOTE)
    second = env.ledger.query(env.client, "Cast", good, timestamp=T_VOTE)
    assert first.ok, first.response.message
    assert first.response == second.response
    assert first.simulation == second.simulation
