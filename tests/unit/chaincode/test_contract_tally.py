"""Aggregate, Tally, GetAggregate, GetTally, GetResults: bounded sharded aggregation and results."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from chaincode_env import CLOSES, T_VOTE, Env, voter_hex

from mvote.chaincode import _keys as keys
from mvote.chaincode._contract import MAX_AGGREGATE_BATCH

AFTER = CLOSES + 1


def _vote_and_close(env: Env, votes: dict[int, tuple[int, ...]], **spec: Any) -> None:
    env.roster(voters=spec.pop("roster", sorted(votes)))
    env.question(**spec)
    for i, choices in votes.items():
        env.cast(env.voter_key(i), "q1", choices)
    env.ok("CloseQuestion", "q1", at=CLOSES)


def _tally(env: Env, shards: int = 1) -> Any:
    env.aggregate_all("q1", shards)
    return env.ok("Tally", "q1", at=AFTER + 1)


# --- Aggregate ----------------------------------------------------------------------------------------


def test_aggregate_sums_a_shard_in_one_call(env: Env) -> None:
    _vote_and_close(env, {1: (0,), 2: (2,), 3: (2,)})
    executed = env.run("Aggregate", "q1", "0", at=AFTER)
    assert executed.ok
    assert executed.payload() == {
        "qid": "q1",
        "shard": 0,
        "cursor": max(voter_hex(env.voter_key(i)) for i in (1, 2, 3)),
        "ballots": 3,
        "counts": [1, 0, 2],
        "done": True,
    }
    assert set(executed.simulation.writes) == {keys.aggregate_key("q1", 0)}
    [scan] = executed.simulation.range_reads
    assert scan.exhausted
    assert len(scan.reads) == 3
    assert env.query("GetAggregate", "q1", "0") == executed.payload()


def test_aggregate_resumes_across_calls_with_exactly_limit_sized_batches(env: Env) -> None:
    votes = {i: (i % 3,) for i in range(1, 7)}
    _vote_and_close(env, votes)
    voters = sorted(voter_hex(env.voter_key(i)) for i in votes)
    results = []
    for _ in range(3):
        executed = env.run("Aggregate", "q1", "0", "3", at=AFTER)
        assert executed.ok, executed.response.message
        [scan] = executed.simulation.range_reads
        assert len(scan.reads) <= 3  # the bound: never more than ``limit`` ballots per call
        results.append((executed.payload(), scan))
    (first, s1), (second, s2), (third, s3) = results
    assert (first["ballots"], first["cursor"], first["done"]) == (3, voters[2], False)
    assert (second["ballots"], second["cursor"], second["done"]) == (6, voters[5], False)
    # Stopping at the limit does not tell whether the shard is exhausted: the next call does.
    assert not s1.exhausted and not s2.exhausted
    assert (third["ballots"], third["cursor"], third["done"]) == (6, voters[5], True)
    assert s3.exhausted and s3.reads == []
    assert third["counts"] == [2, 2, 2]
    # Each call starts after the previous cursor: no ballot read twice.
    read_keys = [k for _, s in results for k, _ in s.reads]
    assert len(read_keys) == len(set(read_keys)) == 6
    env.refused("Aggregate", "q1", "0", code="ALREADY_EXISTS", field="shard", at=AFTER)


@pytest.mark.parametrize("limit", [1, 2, 4, 5])
def test_aggregate_with_any_limit_gives_the_same_sums(env: Env, limit: int) -> None:
    votes = {i: (i % 3,) for i in range(1, 6)}
    _vote_and_close(env, votes)
    calls = 0
    while True:
        calls += 1
        result = env.ok("Aggregate", "q1", "0", str(limit), at=AFTER)
        if result["done"]:
            break
    assert calls == 5 // limit + 1
    assert result["ballots"] == 5
    assert result["counts"] == [1, 2, 2]


def test_aggregate_many_shards(env: Env) -> None:
    votes = {i: (i % 3,) for i in range(1, 21)}
    _vote_and_close(env, votes, shards=4)
    per_shard = Counter(keys.shard_of(bytes(env.voter_key(i).verify_key), 4) for i in votes)
    for shard in range(4):
        result = env.ok("Aggregate", "q1", str(shard), at=AFTER)
        assert result["done"]
        assert result["ballots"] == per_shard[shard]
    tally = env.ok("Tally", "q1", at=AFTER)
    assert tally["ballots"] == 20
    assert tally["counts"] == [6, 7, 7]


def test_aggregate_an_empty_question(env: Env) -> None:
    _vote_and_close(env, {}, roster=[1])
    result = env.ok("Aggregate", "q1", "0", at=AFTER)
    assert result == {
        "qid": "q1",
        "shard": 0,
        "cursor": "",
        "ballots": 0,
        "counts": [0, 0, 0],
        "done": True,
    }


def test_aggregate_refusals(env: Env) -> None:
    _vote_and_close(env, {1: (0,)}, shards=2)
    env.refused(
        "Aggregate", "q1", "0", code="UNAUTHORISED", field="Aggregate", creator=env.client, at=AFTER
    )
    env.refused("Aggregate", "q9", "0", code="NOT_FOUND", field="qid", at=AFTER)
    env.refused("Aggregate", "q1", "2", code="INVALID_FIELD", field="shard", at=AFTER)
    env.refused("Aggregate", "q1", "01", code="INVALID_FIELD", field="shard", at=AFTER)
    env.refused("Aggregate", "q1", "-1", code="INVALID_FIELD", field="shard", at=AFTER)
    env.refused("Aggregate", "q1", "x", code="INVALID_FIELD", field="shard", at=AFTER)
    env.refused("Aggregate", "q1", "0", "0", code="INVALID_FIELD", field="limit", at=AFTER)
    env.refused(
        "Aggregate",
        "q1",
        "0",
        str(MAX_AGGREGATE_BATCH + 1),
        code="INVALID_FIELD",
        field="limit",
        at=AFTER,
    )
    env.ok("Aggregate", "q1", "0", str(MAX_AGGREGATE_BATCH), at=AFTER)


def test_aggregate_and_tally_are_open_to_any_org_admin(env: Env) -> None:
    _vote_and_close(env, {1: (1,), 2: (1,)})
    assert env.ok("Aggregate", "q1", "0", creator=env.other_admin, at=AFTER)["done"]
    assert env.ok("Tally", "q1", creator=env.other_admin, at=AFTER)["counts"] == [0, 2, 0]


# --- Tally ----------------------------------------------------------------------------------------------


def test_tally_records_the_result_and_moves_to_tallied(env: Env) -> None:
    _vote_and_close(env, {1: (0,), 2: (1,), 3: (1,)})
    env.aggregate_all()
    executed = env.run("Tally", "q1", at=AFTER + 1)
    assert executed.ok
    tally = executed.payload()
    assert tally == {
        "qid": "q1",
        "ballots": 3,
        "counts": [1, 2, 0],
        "eligible": 3,
        "outcome": {"kind": "plurality", "winners": [1]},
        "tx": executed.tx_id,
        "at": AFTER + 1,
    }
    assert set(executed.simulation.writes) == {keys.tally_key("q1"), keys.question_key("q1")}
    assert env.query("GetTally", "q1") == tally
    assert env.state_of() == "TALLIED"
    results = env.query("GetResults", "q1")
    assert results == {"qid": "q1", "state": "TALLIED", "final": True, "tally": tally}


def test_tally_before_aggregation_is_complete(env: Env) -> None:
    _vote_and_close(env, {1: (0,), 2: (1,), 3: (1,)}, shards=2)
    env.refused("Tally", "q1", code="AGGREGATION_INCOMPLETE", field="shard", at=AFTER)
    # One shard done, the other only part way (or not started): still incomplete.
    env.aggregate_all("q1", 1)
    env.refused("Tally", "q1", code="AGGREGATION_INCOMPLETE", field="shard 1", at=AFTER)
    first = env.ok("Aggregate", "q1", "1", "1", at=AFTER)
    # Voter 1 is alone in shard 1: a limit of 1 reads it and stops, not yet knowing it is done.
    assert first["ballots"] == 1
    assert not first["done"]
    env.refused("Tally", "q1", code="AGGREGATION_INCOMPLETE", field="shard 1", at=AFTER)
    assert env.ok("Aggregate", "q1", "1", "1", at=AFTER)["done"]
    assert env.ok("Tally", "q1", at=AFTER)["ballots"] == 3


def test_tally_refusals(env: Env) -> None:
    _vote_and_close(env, {1: (0,)})
    env.aggregate_all()
    env.refused("Tally", "q1", code="UNAUTHORISED", field="Tally", creator=env.client, at=AFTER)
    env.refused("Tally", "q9", code="NOT_FOUND", field="qid", at=AFTER)
    env.ok("Tally", "q1", at=AFTER)
    env.refused("Tally", "q1", code="INVALID_TRANSITION", field="state", at=AFTER)


def test_plurality_ties_name_every_winner(env: Env) -> None:
    _vote_and_close(env, {1: (0,), 2: (2,), 3: (0,), 4: (2,), 5: (1,)})
    assert _tally(env)["outcome"] == {"kind": "plurality", "winners": [0, 2]}


def test_plurality_without_ballots_has_no_winner(env: Env) -> None:
    _vote_and_close(env, {}, roster=[1])
    tally = _tally(env)
    assert tally["ballots"] == 0
    assert tally["outcome"] == {"kind": "plurality", "winners": []}


def test_multi_up_to_3_of_30_tally(env: Env) -> None:
    options = [f"p{i}" for i in range(30)]
    votes = {1: (0, 5, 29), 2: (5,), 3: (5, 29), 4: (0, 1, 2)}
    _vote_and_close(env, votes, options=options, rule={"kind": "multi", "min": 1, "max": 3})
    tally = _tally(env)
    expected = [0] * 30
    for choices in votes.values():
        for c in choices:
            expected[c] += 1
    assert tally["ballots"] == 4
    assert tally["counts"] == expected
    assert tally["outcome"]["winners"] == [5]


def _yesno(threshold: int, turnout: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "options": ("yes", "no"),
        "rule": {
            "kind": "yesno",
            "threshold_bp": threshold,
            "min_turnout": turnout or {"kind": "none"},
        },
    }


@pytest.mark.parametrize(
    ("yes", "no", "threshold", "passed"),
    [
        (2, 2, 5000, False),  # exactly half is not more than half
        (3, 2, 5000, True),
        (3, 2, 6000, False),  # 3 * 10000 == 6000 * 5: at the threshold does not pass
        (4, 2, 6000, True),
        (1, 0, 9999, True),
        (0, 1, 0, False),  # no approvals never pass
        (1, 3, 0, True),  # a zero threshold passes with any approval
    ],
)
def test_yesno_threshold(env: Env, yes: int, no: int, threshold: int, passed: bool) -> None:
    votes = {i: ((0,) if i <= yes else (1,)) for i in range(1, yes + no + 1)}
    _vote_and_close(env, votes, **_yesno(threshold))
    outcome = _tally(env)["outcome"]
    assert outcome == {
        "kind": "yesno",
        "approvals": yes,
        "rejections": no,
        "threshold_bp": threshold,
        "approval_met": passed,
        "turnout_met": True,
        "passed": passed,
    }


@pytest.mark.parametrize(("ballots", "met"), [(2, False), (3, True), (4, True)])
def test_yesno_turnout_by_count(env: Env, ballots: int, met: bool) -> None:
    votes = {i: (0,) for i in range(1, ballots + 1)}
    _vote_and_close(env, votes, roster=range(1, 6), **_yesno(5000, {"kind": "count", "count": 3}))
    outcome = _tally(env)["outcome"]
    assert outcome["approval_met"] is True
    assert outcome["turnout_met"] is met
    assert outcome["passed"] is met


@pytest.mark.parametrize(("ballots", "met"), [(2, False), (3, True), (5, True)])
def test_yesno_turnout_by_share_of_the_roster(env: Env, ballots: int, met: bool) -> None:
    # 60% of a roster of 5 is exactly 3 ballots.
    votes = {i: (0,) for i in range(1, ballots + 1)}
    _vote_and_close(env, votes, roster=range(1, 6), **_yesno(5000, {"kind": "share", "bp": 6000}))
    tally = _tally(env)
    assert tally["eligible"] == 5
    assert tally["outcome"]["turnout_met"] is met
    assert tally["outcome"]["passed"] is met


def test_yesno_can_meet_turnout_and_fail_approval(env: Env) -> None:
    votes = {1: (1,), 2: (1,), 3: (0,)}
    _vote_and_close(env, votes, roster=range(1, 4), **_yesno(5000, {"kind": "share", "bp": 10_000}))
    outcome = _tally(env)["outcome"]
    assert (outcome["approval_met"], outcome["turnout_met"], outcome["passed"]) == (
        False,
        True,
        False,
    )


# --- queries ------------------------------------------------------------------------------------------------


def test_get_results_live_counts_while_open(env: Env) -> None:
    env.roster()
    env.question(qid="q1")
    env.question(qid="q10")
    assert env.query("GetResults", "q1") == {
        "qid": "q1",
        "state": "OPEN",
        "final": False,
        "ballots": 0,
        "counts": [0, 0, 0],
    }
    env.cast(env.voter_key(1), "q1", (1,))
    env.cast(env.voter_key(2), "q1", (1,))
    env.cast(env.voter_key(3), "q10", (0,))  # another question with a prefix-sharing id
    results = env.query("GetResults", "q1")
    assert (results["ballots"], results["counts"]) == (2, [0, 2, 0])
    env.refused("GetResults", "q9", code="NOT_FOUND", field="qid")


def test_get_aggregate_and_get_tally_refusals(env: Env) -> None:
    _vote_and_close(env, {1: (0,)})
    env.refused("GetAggregate", "q1", "0", code="NOT_FOUND", field="shard")
    env.refused("GetAggregate", "q9", "0", code="NOT_FOUND", field="qid")
    env.refused("GetAggregate", "q1", "zero", code="INVALID_FIELD", field="shard")
    env.refused("GetTally", "q1", code="NOT_FOUND", field="qid")
    env.refused("GetTally", "Q1", code="INVALID_FIELD", field="qid")
    env.ok("Aggregate", "q1", "0", at=AFTER)
    assert env.query("GetAggregate", "q1", "0")["done"] is True


def test_history_lists_every_question_a_voter_took_part_in(env: Env) -> None:
    env.roster()
    for qid in ("q2", "q1", "q3"):
        env.question(qid=qid)
    key = env.voter_key(1)
    trackers = {qid: env.cast(key, qid, (0,), at=T_VOTE)["tracker"] for qid in ("q2", "q1")}
    env.cast(env.voter_key(2), "q3", (0,))
    history = env.query("GetHistory", voter_hex(key))
    assert [(h["qid"], h["tracker"]) for h in history] == [
        ("q1", trackers["q1"]),
        ("q2", trackers["q2"]),
    ]
    assert env.query("GetHistory", voter_hex(env.voter_key(4))) == []
    env.refused("GetHistory", "AB" * 32, code="INVALID_FIELD", field="voter")


def test_get_ballot_refusals(env: Env) -> None:
    env.roster()
    env.question()
    env.refused("GetBallot", "q1", voter_hex(env.voter_key(1)), code="NOT_FOUND", field="voter")
    env.refused("GetBallot", "q9", voter_hex(env.voter_key(1)), code="NOT_FOUND", field="qid")
    env.refused("GetBallot", "q1", "abc", code="INVALID_FIELD", field="voter")
