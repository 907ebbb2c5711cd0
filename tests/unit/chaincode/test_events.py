"""The contract's events and write responses are declared records: each one the contract emits
parses back into its record (named by the event) and writes the same value."""

from __future__ import annotations

from typing import Any

from chaincode_env import CLOSES, T_SETUP, T_VOTE, Env, entry_of

from mvote.chaincode import _events as events
from mvote.chaincode import encoding
from mvote.chaincode._simulation import Executed

EVENTS: dict[str, type[events.Event]] = {
    cls.PATH: cls
    for cls in (
        events.QuestionCreated,
        events.QuestionStateChanged,
        events.RosterChanged,
        events.BallotCast,
        events.ShardAggregated,
        events.DecryptionPosted,
        events.CeremonyChanged,
        events.DealingPosted,
        events.CeremonyCheckPosted,
    )
}


def _event_of(executed: Executed) -> Any:
    assert executed.ok, executed.response.message
    assert executed.simulation.event is not None
    name, raw = executed.simulation.event
    value = encoding.decode(raw, max_size=1 << 12)
    record = EVENTS[name].from_json(value)
    assert record.name == name
    assert encoding.encode(record.to_json()) == raw
    return record


def test_a_question_s_events_and_the_cast_response_are_their_records(env: Env) -> None:
    voter = env.voter_key(1)
    seen = [
        _event_of(env.run("CreateRoster", encoding.encode({"rid": "r1", "title": "R"}))),
        _event_of(
            env.run(
                "AddRosterEntries", encoding.encode({"rid": "r1", "entries": [entry_of(voter)]})
            )
        ),
        _event_of(env.run("SealRoster", "r1")),
        _event_of(env.run("CreateQuestion", encoding.encode(env.spec()))),
        _event_of(env.run("OpenQuestion", "q1", at=T_SETUP + 1)),
    ]
    cast = env.run("Cast", env.cast_args(voter, "q1", (1,)), at=T_VOTE)
    seen.append(_event_of(cast))
    response = events.CastResponse.from_json(cast.payload())
    assert response == events.CastResponse("q1", seen[-1].tracker, 0, cast.tx_id)
    assert response.to_json() == cast.payload()
    seen.append(_event_of(env.run("CloseQuestion", "q1", at=CLOSES)))
    seen.append(_event_of(env.run("Aggregate", "q1", "0", at=CLOSES + 1)))
    seen.append(_event_of(env.run("Tally", "q1", at=CLOSES + 2)))
    assert [type(e).__name__ for e in seen] == [
        "RosterChanged",
        "RosterChanged",
        "RosterChanged",
        "QuestionCreated",
        "QuestionStateChanged",
        "BallotCast",
        "QuestionStateChanged",
        "ShardAggregated",
        "QuestionStateChanged",
    ]
    assert seen[2] == events.RosterChanged("r1", 1, True)
    assert seen[-1] == events.QuestionStateChanged("q1", "TALLIED")
    listed = env.query("IsOnRoster", "r1", entry_of(voter))
    assert events.RosterMembership.from_json(listed).to_json() == listed
    assert listed["listed"] is True


def test_a_ceremony_s_events_and_responses_are_their_records(env: Env) -> None:
    import secret_env as se

    from mvote.client import _trustee as tr

    team = se.trustees(env, n=3, k=2)
    p = team[0].params
    spec = tr.ceremony_spec(p.ceremony, p.n, p.k, [t.registration() for t in team])
    created = env.run("CreateCeremony", spec)
    assert _event_of(created) == events.CeremonyChanged("c1", "DEALING")
    for t in team:
        dealt = env.run("PostDealing", tr.dealing_posting(t, created.payload()["trustees"]))
        assert _event_of(dealt) == events.DealingPosted("c1", t.index)
        assert events.DealingAccepted.from_json(dealt.payload()).to_json() == dealt.payload()
    dealings = se.stored_dealings(env, "c1", 3)
    for t in team:
        checked = env.run("PostCheck", tr.check_posting(t, dealings))
        assert _event_of(checked) == events.CeremonyCheckPosted("c1", t.index)
        answer = events.CheckAccepted.from_json(checked.payload())
        assert answer.faulty == () and answer.to_json() == checked.payload()
    assert _event_of(env.run("CompleteCeremony", "c1")) == events.CeremonyChanged("c1", "COMPLETE")
