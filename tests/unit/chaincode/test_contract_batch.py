"""CastBatch: many ballots in one transaction, each checked exactly as Cast checks it.

Every ballot of a batch either is recorded as Cast records it or is listed with the refusal Cast
gives the same bytes; a refused ballot writes nothing and does not sink the others."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import secret_env as se
from chaincode_env import ONSITE_CODE, T_VOTE, Env, voter_hex
from testkit import state_bytes

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import MAX_BATCH_BALLOTS, MAX_CAST_BYTES
from mvote.chaincode._errors import Refusal
from mvote.chaincode._records import BOUND_SECRET_BALLOT_TYPE, Ballot, CastRequest


def _refusal_of_single_cast(env: Env, raw: bytes) -> Refusal:
    """What Cast alone answers for ``raw`` (it must refuse), nothing committed."""
    executed = env.run("Cast", raw, at=T_VOTE)
    assert executed.response.status == 400, executed.response
    return Refusal.from_bytes(executed.response.payload)


def _bad_ballots(env: Env) -> dict[str, bytes]:
    """One request per refusal code Cast gives, by code (each voter on the roster)."""
    good = env.request(env.voter_key(3)).to_json()
    canonical = encoding.encode(good)
    signed = env.request(env.voter_key(4), choices=(1,))
    altered = dataclasses.replace(signed, ballot=dataclasses.replace(signed.ballot, choices=(2,)))
    bad_key = Ballot(env.channel, "q1", (0,), "01" + "00" * 31)
    return {
        "MALFORMED": b"\xef\xbb\xbf" + canonical,
        "NON_CANONICAL": canonical + b" ",
        "INVALID_FIELD": encoding.encode({**good, "extra": 1}),
        "TOO_LARGE": encoding.encode({**good, "pad": "x" * MAX_CAST_BYTES}),
        "WRONG_CHANNEL": env.cast_args(env.voter_key(5), channel="other"),
        "INVALID_KEY": encoding.encode(CastRequest(bad_key, "11" * 64).to_json()),
        "BAD_SIGNATURE": encoding.encode(altered.to_json()),
        "NOT_FOUND": env.cast_args(env.voter_key(6), "q9"),
        "QUESTION_NOT_OPEN": env.cast_args(env.voter_key(7), "q2"),
        "RULE_VIOLATION": env.cast_args(env.voter_key(8), choices=(7,)),
        "NOT_ELIGIBLE": env.cast_args(env.voter_key(99)),
        "ALREADY_VOTED": env.cast_args(env.voter_key(9)),
    }


def _batch_env(env: Env) -> None:
    env.roster("r1", voters=range(1, 20))
    env.question()
    env.question(qid="q2", open_it=False)
    env.cast(env.voter_key(9))  # voter 9 has voted on q1 already


def test_a_batch_records_each_good_ballot_and_lists_each_refusal_with_cast_s_code(
    env: Env,
) -> None:
    _batch_env(env)
    bad = _bad_ballots(env)
    good = [env.request(env.voter_key(i), choices=(i % 3,)) for i in (10, 11, 12)]
    args: list[bytes] = []
    expected: dict[int, str] = {}
    for i, (code, raw) in enumerate(bad.items()):
        if i < len(good):
            args.append(encoding.encode(good[i].to_json()))
        expected[len(args)] = code
        args.append(raw)
    singles = {index: _refusal_of_single_cast(env, args[index]) for index in expected}

    executed = env.run("CastBatch", *args, at=T_VOTE)
    assert executed.ok, executed.response.message
    result = executed.payload()
    assert result["tx"] == executed.tx_id
    assert result["accepted"] == len(good)
    outcomes = result["ballots"]
    assert [o["index"] for o in outcomes] == list(range(len(args)))
    for index, code in expected.items():
        refusal = Refusal.from_json(outcomes[index]["refused"])
        assert refusal.code == code, (index, refusal)
        assert refusal == singles[index], "the batch refuses a ballot exactly as Cast does"
    accepted = [o for o in outcomes if "refused" not in o]
    assert [o["tracker"] for o in accepted] == [r.ballot.tracker() for r in good]
    assert all(o["qid"] == "q1" and o["shard"] == 0 for o in accepted)
    # Writes: exactly the good ballots' records and participations.
    assert set(executed.simulation.writes) == {
        k
        for r in good
        for k in (
            keys.ballot_key("q1", 0, r.ballot.voter),
            keys.participation_key(r.ballot.voter, "q1"),
        )
    }
    # The response and the event are built around one encoding of the outcomes: each is
    # exactly the canonical encoding of its object.
    assert executed.response.payload == encoding.encode(result)
    event = executed.simulation.event
    assert event is not None and event[0] == "BallotsCast"
    assert event[1] == encoding.encode({"accepted": len(good), "ballots": outcomes})
    assert encoding.decode(event[1], max_size=1 << 20) == {
        "accepted": len(good),
        "ballots": outcomes,
    }
    for request in good:
        record = env.query("GetBallot", "q1", request.ballot.voter)
        assert record["tracker"] == request.ballot.tracker()
        assert record["tx"] == executed.tx_id


def test_a_batched_ballot_is_recorded_byte_for_byte_as_cast_records_it(env: Env) -> None:
    _batch_env(env)
    request = env.request(env.voter_key(1), choices=(2,))
    raw = encoding.encode(request.to_json())
    single = env.ledger.run(env.client, "Cast", raw, timestamp=T_VOTE, commit=False)
    batch = env.ledger.run(env.client, "CastBatch", raw, timestamp=T_VOTE, commit=False)
    assert single.response.ok and batch.response.ok
    # The same keys, and the same record bytes but for the transaction id each carries.
    assert set(single.simulation.writes) == set(batch.simulation.writes)
    for key, value in single.simulation.writes.items():
        assert value is not None
        theirs = batch.simulation.writes[key]
        assert theirs == value.replace(single.tx_id.encode(), batch.tx_id.encode())


def test_a_voter_twice_in_one_batch_is_recorded_once(env: Env) -> None:
    _batch_env(env)
    key = env.voter_key(1)
    first = env.cast_args(key, choices=(0,))
    second = env.cast_args(key, choices=(1,))
    other = env.cast_args(env.voter_key(2))
    executed = env.run("CastBatch", first, other, second, first, at=T_VOTE)
    assert executed.ok
    outcomes = executed.payload()["ballots"]
    assert "refused" not in outcomes[0] and "refused" not in outcomes[1]
    for index in (2, 3):
        refusal = Refusal.from_json(outcomes[index]["refused"])
        assert refusal.code == "ALREADY_VOTED"
        assert refusal.field == "ballot.voter"
        assert "index 0" in refusal.message
    record = env.query("GetBallot", "q1", voter_hex(key))
    assert record["ballot"]["choices"] == [0]


def test_a_batch_of_refused_ballots_writes_nothing(env: Env) -> None:
    _batch_env(env)
    before = state_bytes(env.ledger)
    bad = _bad_ballots(env)
    executed = env.ledger.run(
        env.client, "CastBatch", *bad.values(), timestamp=T_VOTE, commit=False
    )
    assert executed.response.ok
    result = encoding.decode(executed.response.payload, max_size=1 << 20)
    assert result["accepted"] == 0
    assert [Refusal.from_json(o["refused"]).code for o in result["ballots"]] == list(bad)
    assert executed.simulation.writes == {}
    assert state_bytes(env.ledger) == before


def test_a_batch_checks_eligibility_per_ballot(env: Env) -> None:
    """On-site codes and registrar credentials are checked per ballot, as Cast does."""
    env.roster("r1", voters=range(1, 6))
    env.question(eligibility=env.onsite_eligibility(env.open_eligibility()))
    good = env.cast_args(
        env.voter_key(1), credential=env.credential(env.voter_key(1)), code=ONSITE_CODE
    )
    wrong_code = env.cast_args(
        env.voter_key(2), credential=env.credential(env.voter_key(2)), code="SITE-0000"
    )
    foreign = env.cast_args(
        env.voter_key(3), credential=env.credential(env.voter_key(4)), code=ONSITE_CODE
    )
    executed = env.run("CastBatch", good, wrong_code, foreign, at=T_VOTE)
    outcomes = executed.payload()["ballots"]
    assert "refused" not in outcomes[0]
    assert Refusal.from_json(outcomes[1]["refused"]).code == "BAD_ONSITE_CODE"
    assert Refusal.from_json(outcomes[2]["refused"]).code == "BAD_CREDENTIAL"


@pytest.mark.parametrize("count", [0, MAX_BATCH_BALLOTS + 1])
def test_a_batch_has_one_to_max_ballots(env: Env, count: int) -> None:
    _batch_env(env)
    arg = env.cast_args(env.voter_key(1))
    error = env.refused("CastBatch", *([arg] * count), code="BAD_ARGUMENTS", field="CastBatch")
    assert f"1 to {MAX_BATCH_BALLOTS}" in error.message


def test_a_full_batch_is_accepted(env: Env) -> None:
    env.roster("r1", voters=range(1, MAX_BATCH_BALLOTS + 1))
    env.question()
    args: list[Any] = [env.cast_args(env.voter_key(i)) for i in range(1, MAX_BATCH_BALLOTS + 1)]
    executed = env.run("CastBatch", *args, at=T_VOTE)
    assert executed.payload()["accepted"] == MAX_BATCH_BALLOTS
    assert env.query("GetResults", "q1")["ballots"] == MAX_BATCH_BALLOTS


def test_a_batch_of_secret_ballots_checks_each_proof(env: Env) -> None:
    """Secret ballots in a batch: each verified alone (a bad proof refused BAD_PROOF as Cast
    refuses it), each good one recorded with its ciphertexts."""
    voters = env.roster("r1", voters=range(1, 5))
    se.ceremony(env)
    spec = se.secret_question(
        env, options=("a", "b", "c", "d"), rule={"kind": "multi", "min": 0, "max": 2}
    )
    good = [se.secret_request(env, v, spec, (i % 4,)) for i, v in enumerate(voters[:3])]
    bad = se.secret_request(env, voters[3], spec, (1, 2)).to_json()
    proof = bad["ballot"]["encrypted"]["selections"][0]["proof"]
    proof["v0"] = ("0" if proof["v0"][0] != "0" else "1") + proof["v0"][1:]
    bad["sig"] = voters[3].sign(encoding.encode(bad["ballot"])).signature.hex()
    bad_raw = encoding.encode(bad)
    single = _refusal_of_single_cast(env, bad_raw)
    assert single.code == "BAD_PROOF"
    args = (
        [encoding.encode(r.to_json()) for r in good[:2]]
        + [bad_raw]
        + [encoding.encode(good[2].to_json())]
    )
    executed = env.run("CastBatch", *args, at=T_VOTE)
    result = executed.payload()
    assert result["accepted"] == 3
    assert Refusal.from_json(result["ballots"][2]["refused"]) == single
    for request in good:
        stored = env.query("GetBallot", "q1", request.ballot.voter)
        assert stored["ballot"]["type"] == BOUND_SECRET_BALLOT_TYPE
        assert stored["tracker"] == request.ballot.tracker()
