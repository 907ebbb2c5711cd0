"""Contract mvote-2: ballots bind the question record, cast-or-audit (SpoilBallot), ceremony
cancel; and the mvote-1 rules, still selectable for the replay of old chains."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import secret_env as se
from chaincode_env import T_SETUP, T_VOTE, Env, voter_hex

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import (
    MAX_CAST_BYTES,
    MAX_SECRET_CAST_BYTES,
    V1,
    VERSION,
    VERSIONS,
)
from mvote.chaincode._crypto import ballot as cb
from mvote.chaincode._errors import AuditMismatch, MvoteError
from mvote.chaincode._records import (
    Ballot,
    BoundBallot,
    CastRequest,
    QuestionSpec,
    SecretBallot,
    SpoilRequest,
    ballot_from_json,
    question_binding,
    question_hash,
)
from mvote.client._ballot import prepare_ballot
from mvote.client._secret import PreparedSecretBallot, prepare_secret_ballot


def test_versions_run_oldest_first_and_the_current_is_last() -> None:
    assert VERSIONS == ("mvote-1", "mvote-2")
    assert VERSIONS[-1] == VERSION


def _roster_question(env: Env, **fields: Any) -> dict[str, Any]:
    env.roster("r1", range(1, 6))
    return env.question(eligibility={"kind": "roster", "roster": "r1"}, **fields)


def _cast(env: Env, request: CastRequest) -> bytes:
    return encoding.encode(request.to_json())


# --- the question binding ------------------------------------------------------------------------


def test_the_binding_names_title_labels_rule_eligibility_mode_and_key(env: Env) -> None:
    spec = QuestionSpec.from_json(env.spec(options=("a", "b")))
    binding = question_binding(spec, None)
    assert binding == {
        "type": "mvote.question-binding.v1",
        "qid": "q1",
        "title": spec.title,
        "options": ["a", "b"],
        "rule": spec.rule.to_json(),
        "eligibility": spec.eligibility.to_json(),
        "mode": "open",
        "election_key": None,
    }
    base = question_hash(spec, None)
    # Each bound field changes the hash; the description and schedule are not bound.
    for changed in (
        dataclasses.replace(spec, title="other"),
        dataclasses.replace(spec, options=("b", "a")),
        dataclasses.replace(spec, qid="q2"),
    ):
        assert question_hash(changed, None) != base
    assert question_hash(dataclasses.replace(spec, description="more"), None) == base


def test_a_ballot_for_swapped_labels_is_refused_naming_ballot_question(env: Env) -> None:
    spec = QuestionSpec.from_json(_roster_question(env, options=("a", "b", "c")))
    voter = env.voter_key(1)
    # The voter's device was shown the labels swapped by a lying node: "b" where "a" is.
    forged = dataclasses.replace(spec, options=("b", "a", "c"))
    request = prepare_ballot(voter, channel=env.channel, question=forged, choices=[0])
    error = env.refused(
        "Cast", _cast(env, request), code="QUESTION_MISMATCH", field="ballot.question", at=T_VOTE
    )
    assert question_hash(spec, None) in error.message
    # The same choice prepared against the real record is cast.
    honest = prepare_ballot(voter, channel=env.channel, question=spec, choices=[0])
    assert env.ok("Cast", _cast(env, honest), at=T_VOTE)["tracker"] == honest.ballot.tracker()


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Another title"},
        {"rule": {"kind": "multi", "min": 1, "max": 2}},
        {"eligibility": {"kind": "roster", "roster": "r2"}},
    ],
)
def test_every_bound_field_of_a_forged_question_is_refused(
    env: Env, change: dict[str, Any]
) -> None:
    spec = _roster_question(env)
    forged = QuestionSpec.from_json({**spec, **change})
    request = prepare_ballot(env.voter_key(1), channel=env.channel, question=forged, choices=[0])
    env.refused(
        "Cast", _cast(env, request), code="QUESTION_MISMATCH", field="ballot.question", at=T_VOTE
    )


def test_mvote_2_refuses_an_mvote_1_ballot(env: Env) -> None:
    _roster_question(env)
    voter = env.voter_key(1)
    ballot = Ballot(env.channel, "q1", (0,), voter_hex(voter))
    request = CastRequest(ballot, voter.sign(ballot.canonical_bytes()).signature.hex())
    error = env.refused(
        "Cast", _cast(env, request), code="INVALID_FIELD", field="ballot.type", at=T_VOTE
    )
    assert "mvote.ballot.v2" in error.message


def test_mvote_1_rules_take_mvote_1_ballots_and_refuse_mvote_2(env: Env) -> None:
    env.ledger.version = V1
    _roster_question(env)
    voter = env.voter_key(1)
    bound = env.request(voter)
    assert isinstance(bound.ballot, BoundBallot)
    env.refused("Cast", _cast(env, bound), code="INVALID_FIELD", field="ballot.type", at=T_VOTE)
    ballot = Ballot(env.channel, "q1", (0,), voter_hex(voter))
    old = CastRequest(ballot, voter.sign(ballot.canonical_bytes()).signature.hex())
    done = env.ok("Cast", _cast(env, old), at=T_VOTE)
    assert done["tracker"] == ballot.tracker()
    stored = env.query("GetBallot", "q1", voter_hex(voter))
    assert stored["ballot"]["type"] == "mvote.ballot.v1"


@pytest.mark.parametrize("function", ["SpoilBallot", "CancelCeremony"])
def test_mvote_1_has_no_mvote_2_functions(env: Env, function: str) -> None:
    env.ledger.version = V1
    error = env.refused(function, "x", "y", code="UNKNOWN_FUNCTION", field="function")
    assert "mvote-1" in error.message


def test_an_unknown_version_is_a_fault_not_a_refusal(env: Env) -> None:
    env.ledger.version = "mvote-9"
    executed = env.run("GetQuestion", "q1")
    assert executed.response.status == 500
    assert executed.simulation.writes == {}


# --- cast-or-audit -------------------------------------------------------------------------------


@pytest.fixture
def secret_setup(env: Env) -> tuple[Env, dict[str, Any], list[Any]]:
    voters = env.roster("r1", range(1, 7))
    se.ceremony(env)
    spec = se.secret_question(
        env, options=("a", "b", "c", "d"), rule={"kind": "multi", "min": 0, "max": 2}
    )
    return env, spec, voters


def _prepared(
    env: Env, key: Any, spec: dict[str, Any], choices: tuple[int, ...], **kw: Any
) -> PreparedSecretBallot:
    return prepare_secret_ballot(
        key,
        channel=env.channel,
        question=QuestionSpec.from_json(spec),
        election_key=se.election_key(env),
        choices=choices,
        **kw,
    )


def _spoil(prepared: PreparedSecretBallot) -> bytes:
    return encoding.encode(prepared.spoil_request().to_json())


def test_a_spoiled_ballot_is_recorded_with_its_opening_and_never_cast(
    secret_setup: tuple[Env, dict[str, Any], list[Any]],
) -> None:
    env, spec, voters = secret_setup
    prepared = _prepared(env, voters[0], spec, (1, 3))
    executed = env.run("SpoilBallot", _spoil(prepared), at=T_VOTE)
    assert executed.ok, executed.response.message
    key = keys.spoiled_key("q1", prepared.tracker)
    assert set(executed.simulation.writes) == {key}
    assert executed.payload()["choices"] == [1, 3]
    found = env.ledger.state.get(key)
    assert found is not None
    record = encoding.decode(found[0], max_size=1 << 24)
    assert record["choices"] == [1, 3]
    assert record["nonce_key"] == prepared.nonce_key.hex()
    assert record["tracker"] == prepared.tracker
    # Cast refuses it, and spoiling it twice is refused too.
    env.refused(
        "Cast", _cast(env, prepared.request), code="BALLOT_SPOILED", field="ballot", at=T_VOTE
    )
    env.refused("SpoilBallot", _spoil(prepared), code="BALLOT_SPOILED", field="ballot", at=T_VOTE)
    # A fresh ballot of the same voter is cast.
    fresh = _prepared(env, voters[0], spec, (1, 3))
    assert fresh.tracker != prepared.tracker
    env.ok("Cast", _cast(env, fresh.request), at=T_VOTE)
    # Once the voter has voted, nothing more is spoiled (an opening would show the vote).
    env.refused("SpoilBallot", _spoil(fresh), code="ALREADY_VOTED", field="ballot.voter", at=T_VOTE)


def test_a_secret_v2_ballot_over_the_open_ballot_limit_is_cast(
    secret_setup: tuple[Env, dict[str, Any], list[Any]],
) -> None:
    """A v2 secret ballot of 40 options is over MAX_CAST_BYTES: the secret limit applies to it."""
    env, _, voters = secret_setup
    spec = se.secret_question(env, qid="big", options=tuple(f"option {i}" for i in range(40)))
    prepared = _prepared(env, voters[0], spec, (7,))
    raw = _cast(env, prepared.request)
    assert MAX_CAST_BYTES < len(raw) < MAX_SECRET_CAST_BYTES
    assert env.ok("Cast", raw, at=T_VOTE)["tracker"] == prepared.tracker
    # Once cast, it is never spoiled (its opening would reveal the vote).
    env.refused(
        "SpoilBallot", _spoil(prepared), code="ALREADY_VOTED", field="ballot.voter", at=T_VOTE
    )


def test_spoil_refusals_name_the_field_and_write_nothing(
    secret_setup: tuple[Env, dict[str, Any], list[Any]],
) -> None:
    env, spec, voters = secret_setup
    prepared = _prepared(env, voters[0], spec, (0,))
    # An opening that does not open the ballot.
    wrong = SpoilRequest(prepared.request, "11" * 32)
    env.refused(
        "SpoilBallot",
        encoding.encode(wrong.to_json()),
        code="AUDIT_MISMATCH",
        field="request.ballot.encrypted.selections[0]",
        at=T_VOTE,
    )
    # The nonce key of another ballot of the same voter and choices.
    other = _prepared(env, voters[0], spec, (0,))
    swapped = SpoilRequest(prepared.request, other.nonce_key.hex())
    env.refused(
        "SpoilBallot",
        encoding.encode(swapped.to_json()),
        code="AUDIT_MISMATCH",
        field="request.ballot.encrypted.selections[0]",
        at=T_VOTE,
    )
    # A stranger (not on the roster), a bad signature, a closed schedule: as Cast.
    stranger = _prepared(env, env.voter_key(40), spec, (0,))
    env.refused(
        "SpoilBallot", _spoil(stranger), code="NOT_ELIGIBLE", field="ballot.voter", at=T_VOTE
    )
    forged_sig = SpoilRequest(
        dataclasses.replace(prepared.request, sig="00" * 64), prepared.nonce_key.hex()
    )
    env.refused(
        "SpoilBallot",
        encoding.encode(forged_sig.to_json()),
        code="BAD_SIGNATURE",
        field="sig",
        at=T_VOTE,
    )
    env.refused(
        "SpoilBallot", _spoil(prepared), code="QUESTION_NOT_OPEN", field="ballot.qid", at=10**6
    )
    # Malformed: a missing opening, a non-hex nonce key.
    body = prepared.spoil_request().to_json()
    env.refused(
        "SpoilBallot",
        encoding.encode({"request": body["request"]}),
        code="INVALID_FIELD",
        field="nonce_key",
        at=T_VOTE,
    )
    env.refused(
        "SpoilBallot",
        encoding.encode({**body, "nonce_key": "zz" * 32}),
        code="INVALID_FIELD",
        field="nonce_key",
        at=T_VOTE,
    )


def test_an_open_ballot_is_not_spoiled(env: Env) -> None:
    _roster_question(env)
    request = env.request(env.voter_key(1))
    spoil = SpoilRequest(request, "11" * 32)
    env.refused(
        "SpoilBallot",
        encoding.encode(spoil.to_json()),
        code="INVALID_FIELD",
        field="request.ballot.type",
        at=T_VOTE,
    )


def test_a_reused_seed_does_not_link_ballots(
    secret_setup: tuple[Env, dict[str, Any], list[Any]],
) -> None:
    env, spec, voters = secret_setup
    seed = bytes(range(32))
    first = _prepared(env, voters[0], spec, (0,), seed=seed)
    other_choice = _prepared(env, voters[0], spec, (1,), seed=seed)
    other_voter = _prepared(env, voters[1], spec, (0,), seed=seed)
    alphas = [
        {s.ciphertext.alpha for s in p.ballot.encrypted.selections}
        for p in (first, other_choice, other_voter)
    ]
    assert not alphas[0] & alphas[1]
    assert not alphas[0] & alphas[2]
    assert len({first.nonce_key, other_choice.nonce_key, other_voter.nonce_key, seed}) == 4
    # Revealing one ballot's nonce key opens that ballot only.
    assert cb.open_ballot(first.context, first.ballot.encrypted, first.nonce_key) == [1, 0, 0, 0]
    with pytest.raises(AuditMismatch):
        cb.open_ballot(other_choice.context, other_choice.ballot.encrypted, first.nonce_key)


# --- ceremony cancel -----------------------------------------------------------------------------


def test_a_stalled_ceremony_is_cancelled_by_its_owner_and_restarted(env: Env) -> None:
    team = se.trustees(env, "c9", 3, 2)
    record = se.create(env, team)
    env.ok("PostDealing", se.tr.dealing_posting(team[0], record["trustees"]))
    # Refusals: no reason, another organisation's admin, a client.
    env.refused("CancelCeremony", "c9", "", code="INVALID_FIELD", field="reason")
    for creator in (env.other_admin, env.client):
        env.refused(
            "CancelCeremony",
            "c9",
            "stalled",
            code="UNAUTHORISED",
            field="CancelCeremony",
            creator=creator,
        )
    env.refused("CancelCeremony", "c0", "stalled", code="NOT_FOUND", field="cid")
    executed = env.run("CancelCeremony", "c9", "trustees 2 and 3 never dealt", at=T_SETUP)
    assert executed.ok, executed.response.message
    assert executed.payload()["dealt"] == [1]
    assert executed.payload()["state"] == "CANCELLED"
    assert executed.simulation.writes == {
        keys.ceremony_key("c9"): None,
        keys.dealing_key("c9", 1): None,
    }
    assert env.ledger.state.get(keys.ceremony_key("c9")) is None
    env.refused("GetCeremony", "c9", code="NOT_FOUND", field="cid")
    # Restarted: the same registrations, the same id, and this time every trustee deals.
    se.create(env, team)
    se.deal_all(env, team, record["trustees"])
    dealings = se.stored_dealings(env, "c9", 3)
    for t in team:
        env.ok("PostCheck", se.tr.check_posting(t, dealings))
    assert env.ok("CompleteCeremony", "c9")["state"] == "COMPLETE"
    # A complete ceremony is never cancelled.
    env.refused("CancelCeremony", "c9", "late", code="INVALID_TRANSITION", field="cid")


def test_ballots_parse_by_their_type_tag() -> None:
    voter = "ab" * 32
    v1 = Ballot("mvote", "q1", (0,), voter)
    v2 = BoundBallot("mvote", "q1", (0,), voter, "cd" * 32)
    assert ballot_from_json(v1.to_json()) == v1
    assert ballot_from_json(v2.to_json()) == v2
    assert type(ballot_from_json(v1.to_json())) is Ballot
    assert v1.to_json()["type"] == "mvote.ballot.v1"
    assert v2.to_json()["type"] == "mvote.ballot.v2"
    with pytest.raises(MvoteError, match=r"ballot\.question: missing field"):
        ballot_from_json({**v1.to_json(), "type": "mvote.ballot.v2"})
    assert isinstance(v2, Ballot) and not isinstance(v1, SecretBallot)


def test_a_ballot_of_the_other_mode_is_refused_naming_the_v2_type(
    secret_setup: tuple[Env, dict[str, Any], list[Any]],
) -> None:
    env, _, voters = secret_setup
    request = env.request(voters[0])  # an open ballot, on the secret question q1
    error = env.refused(
        "Cast", _cast(env, request), code="INVALID_FIELD", field="ballot.type", at=T_VOTE
    )
    assert "'mvote.secret-ballot.v2'" in error.message
