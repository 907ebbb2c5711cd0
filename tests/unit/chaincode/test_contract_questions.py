"""CreateQuestion, OpenQuestion, CloseQuestion, CancelQuestion, GetQuestion, ListQuestions: the
lifecycle, its authorisation and every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from chaincode_env import CLOSES, OPENS, ORG1, T_SETUP, T_VOTE, Env, voter_hex

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import MAX_SPEC_BYTES


def test_create_question_records_a_draft_owned_by_the_creator_org(env: Env) -> None:
    env.roster()
    spec = env.spec()
    executed = env.run("CreateQuestion", encoding.encode(spec))
    assert executed.ok
    question = executed.payload()
    assert {k: question[k] for k in spec} == spec
    assert question["owner"] == ORG1
    assert question["state"] == "DRAFT"
    assert question["eligible"] is None
    assert question["transitions"] == [
        {"state": "DRAFT", "tx": executed.tx_id, "at": T_SETUP, "reason": ""}
    ]
    assert set(executed.simulation.writes) == {keys.question_key("q1")}
    assert encoding.decode(
        executed.simulation.writes[keys.question_key("q1")] or b"", max_size=1 << 20
    ) == (question)
    assert executed.simulation.event is not None
    assert executed.simulation.event[0] == "QuestionCreated"
    assert env.query("GetQuestion", "q1") == question


@pytest.mark.parametrize("role", ["client", "peer"])
def test_create_question_refuses_non_admin_identities(env: Env, identity: Any, role: str) -> None:
    env.roster()
    env.refused(
        "CreateQuestion",
        encoding.encode(env.spec()),
        code="UNAUTHORISED",
        field="CreateQuestion",
        creator=identity(ORG1, role),
    )


def test_create_question_secret_mode_needs_a_ceremony(env: Env) -> None:
    env.roster()
    env.refused(
        "CreateQuestion",
        encoding.encode(env.spec(mode="secret")),
        code="INVALID_FIELD",
        field="election",
    )
    # An open question names no ceremony.
    spec = {**env.spec(), "election": "c1"}
    env.refused("CreateQuestion", encoding.encode(spec), code="INVALID_FIELD", field="election")
    # A secret question names an existing one (complete: tests/unit/chaincode/test_secret_contract.py).
    spec = {**env.spec(mode="secret"), "election": "c1"}
    env.refused("CreateQuestion", encoding.encode(spec), code="NOT_FOUND", field="election")


def test_create_question_refuses_an_existing_qid(env: Env) -> None:
    env.roster()
    env.question(open_it=False)
    # Even from another organisation and with another title: the id is taken.
    spec = env.spec(options=("x", "y"))
    env.refused(
        "CreateQuestion",
        encoding.encode(spec),
        code="ALREADY_EXISTS",
        field="qid",
        creator=env.other_admin,
    )


def test_create_question_refuses_a_missing_roster(env: Env) -> None:
    env.refused(
        "CreateQuestion",
        encoding.encode(env.spec(eligibility={"kind": "roster", "roster": "nope"})),
        code="NOT_FOUND",
        field="eligibility.roster",
    )


def _mutate(spec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target = spec
    *parents, last = path.split(".")
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return spec


_DELETE = object()

BAD_SPECS: list[tuple[str, Any, str, str]] = [
    # (path to change, new value, expected code, field the message names)
    ("qid", "Q1", "INVALID_FIELD", "qid"),
    ("qid", "", "INVALID_FIELD", "qid"),
    ("qid", "q" * 65, "INVALID_FIELD", "qid"),
    ("title", _DELETE, "INVALID_FIELD", "title"),
    ("title", "a\x07b", "INVALID_FIELD", "title"),
    ("title", 7, "INVALID_FIELD", "title"),
    ("extra", 1, "INVALID_FIELD", "extra"),
    ("options", ["only"], "INVALID_FIELD", "options"),
    ("options", ["a", "b", "a"], "INVALID_FIELD", "options[2]"),
    ("options", ["a", ""], "INVALID_FIELD", "options[1]"),
    ("rule", {"kind": "ranked"}, "INVALID_FIELD", "rule.kind"),
    ("rule", {"kind": "multi", "min": 1, "max": 4}, "INVALID_FIELD", "rule.max"),
    ("rule", {"kind": "multi", "min": 3, "max": 2}, "INVALID_FIELD", "rule.min"),
    ("rule", {"kind": "multi", "min": 0, "max": 0}, "INVALID_FIELD", "rule.max"),
    ("rule", {"kind": "single", "max": 1}, "INVALID_FIELD", "rule.max"),
    (
        "rule",
        {"kind": "yesno", "threshold_bp": 5000, "min_turnout": {"kind": "none"}},
        "INVALID_FIELD",
        "options",
    ),
    ("eligibility", {"kind": "everyone"}, "INVALID_FIELD", "eligibility.kind"),
    ("eligibility.roster", "R1", "INVALID_FIELD", "eligibility.roster"),
    ("schedule.closes_at", OPENS, "INVALID_FIELD", "schedule.closes_at"),
    ("schedule.opens_at", -1, "INVALID_FIELD", "schedule.opens_at"),
    ("schedule.opens_at", 2**40 + 1, "INVALID_FIELD", "schedule.opens_at"),
    ("mode", "public", "INVALID_FIELD", "mode"),
    ("shards", 0, "INVALID_FIELD", "shards"),
    ("shards", 1025, "INVALID_FIELD", "shards"),
    ("shards", True, "INVALID_FIELD", "shards"),
]


@pytest.mark.parametrize(("path", "value", "code", "field"), BAD_SPECS)
def test_create_question_refuses_bad_specs(
    env: Env, path: str, value: Any, code: str, field: str
) -> None:
    env.roster()
    env.refused(
        "CreateQuestion",
        encoding.encode(_mutate(env.spec(), path, value)),
        code=code,
        field=field,
    )


def test_create_question_refuses_bad_yesno_rules(env: Env) -> None:
    env.roster()
    two = ("yes", "no")
    bad = [
        ({"kind": "yesno", "threshold_bp": 10_000, "min_turnout": {"kind": "none"}}, None),
        ({"kind": "yesno", "threshold_bp": 5000, "min_turnout": {"kind": "share", "bp": 0}}, None),
        (
            {"kind": "yesno", "threshold_bp": 5000, "min_turnout": {"kind": "count", "count": 0}},
            None,
        ),
        ({"kind": "yesno", "threshold_bp": 5000}, None),
        # A share of turnout needs a roster to be a share of.
        (
            {"kind": "yesno", "threshold_bp": 5000, "min_turnout": {"kind": "share", "bp": 1}},
            env.open_eligibility(),
        ),
    ]
    fields = [
        "rule.threshold_bp",
        "rule.min_turnout.bp",
        "rule.min_turnout.count",
        "rule.min_turnout",
        "rule.min_turnout",
    ]
    for (rule, eligibility), field in zip(bad, fields, strict=True):
        spec = env.spec(options=two, rule=rule, eligibility=eligibility)
        env.refused("CreateQuestion", encoding.encode(spec), code="INVALID_FIELD", field=field)


def test_create_question_checks_registrar_keys(env: Env) -> None:
    good = voter_hex(env.registrar)
    small_order = "01" + "00" * 31
    spec = env.spec(eligibility={"kind": "open", "registrars": sorted([good, small_order])})
    index = sorted([good, small_order]).index(small_order)
    env.refused(
        "CreateQuestion",
        encoding.encode(spec),
        code="INVALID_KEY",
        field=f"eligibility.registrars[{index}]",
    )
    unsorted = sorted([good, voter_hex(env.other_registrar)], reverse=True)
    spec = env.spec(eligibility={"kind": "open", "registrars": unsorted})
    env.refused(
        "CreateQuestion",
        encoding.encode(spec),
        code="INVALID_FIELD",
        field="eligibility.registrars[1]",
    )
    spec = env.spec(eligibility={"kind": "open", "registrars": []})
    env.refused(
        "CreateQuestion",
        encoding.encode(spec),
        code="INVALID_FIELD",
        field="eligibility.registrars",
    )


def test_create_question_checks_onsite_fields(env: Env) -> None:
    env.roster()
    onsite = env.onsite_eligibility({"kind": "roster", "roster": "r1"})
    for path, value, field in [
        ("code_salt", "00" * 15, "eligibility.code_salt"),
        ("code_hash", "AB" * 32, "eligibility.code_hash"),
        ("base", {"kind": "onsite"}, "eligibility.base.kind"),
    ]:
        spec = env.spec(eligibility={**onsite, path: value})
        env.refused("CreateQuestion", encoding.encode(spec), code="INVALID_FIELD", field=field)


def test_create_question_refuses_bad_bytes(env: Env) -> None:
    env.roster()
    canonical = encoding.encode(env.spec())
    env.refused(
        "CreateQuestion", canonical.replace(b",", b", ", 1), code="NON_CANONICAL", field="spec"
    )
    env.refused("CreateQuestion", b"\xff" + canonical, code="MALFORMED", field="spec")
    env.refused("CreateQuestion", canonical[:-1], code="MALFORMED", field="spec")
    spec = env.spec()
    spec["description"] = "x" * (MAX_SPEC_BYTES)
    env.refused("CreateQuestion", encoding.encode(spec), code="TOO_LARGE", field="spec")
    env.refused(
        "CreateQuestion",
        canonical.replace(b'"shards":1', b'"shards":1.0'),
        code="NON_CANONICAL",
        field="spec",
    )


def test_question_ids_are_independent(env: Env) -> None:
    env.roster()
    env.question(qid="q1", open_it=False)
    env.question(qid="q1.b", open_it=False)
    env.question(qid="q10", open_it=False)
    assert [q["qid"] for q in env.query("ListQuestions")] == ["q1", "q1.b", "q10"]


# --- open ------------------------------------------------------------------------------------


def test_open_question_freezes_the_roster_size(env: Env) -> None:
    env.roster(voters=range(1, 8))
    env.question(open_it=False)
    executed = env.run("OpenQuestion", "q1", at=T_SETUP + 1)
    assert executed.ok
    question = executed.payload()
    assert question["state"] == "OPEN"
    assert question["eligible"] == 7
    assert question["transitions"][-1] == {
        "state": "OPEN",
        "tx": executed.tx_id,
        "at": T_SETUP + 1,
        "reason": "",
    }
    assert set(executed.simulation.writes) == {keys.question_key("q1")}
    assert executed.simulation.event is not None
    assert executed.simulation.event[0] == "QuestionStateChanged"


def test_open_question_with_open_eligibility_has_no_eligible_count(env: Env) -> None:
    env.question(eligibility=env.open_eligibility(), open_it=False)
    assert env.ok("OpenQuestion", "q1")["eligible"] is None


def test_open_question_before_opens_at_is_allowed_and_voting_waits(env: Env) -> None:
    env.roster()
    env.question(open_it=False)
    assert env.ok("OpenQuestion", "q1", at=OPENS - 50)["state"] == "OPEN"


def test_open_question_refusals(env: Env) -> None:
    env.roster("r1", seal=False)
    env.question(open_it=False)
    env.refused("OpenQuestion", "q1", code="UNAUTHORISED", field="OpenQuestion", creator=env.client)
    env.refused(
        "OpenQuestion", "q1", code="UNAUTHORISED", field="OpenQuestion", creator=env.other_admin
    )
    env.refused("OpenQuestion", "nope", code="NOT_FOUND", field="qid")
    env.refused("OpenQuestion", "Q!", code="INVALID_FIELD", field="qid")
    env.refused("OpenQuestion", "q1", code="ROSTER_NOT_SEALED", field="eligibility.roster")
    env.ok("SealRoster", "r1")
    env.refused(
        "OpenQuestion", "q1", code="INVALID_TRANSITION", field="schedule.closes_at", at=CLOSES
    )
    env.ok("OpenQuestion", "q1", at=CLOSES - 1)


def test_open_onsite_roster_question_needs_a_sealed_roster(env: Env) -> None:
    env.roster("r1", seal=False)
    env.question(
        eligibility=env.onsite_eligibility({"kind": "roster", "roster": "r1"}), open_it=False
    )
    env.refused("OpenQuestion", "q1", code="ROSTER_NOT_SEALED", field="eligibility.roster")


# --- close and cancel ----------------------------------------------------------------------------


def test_close_at_closes_at_needs_no_reason(env: Env) -> None:
    env.roster()
    env.question()
    question = env.ok("CloseQuestion", "q1", at=CLOSES)
    assert question["state"] == "CLOSED"
    assert question["transitions"][-1]["reason"] == ""
    assert [t["state"] for t in question["transitions"]] == ["DRAFT", "OPEN", "CLOSED"]


def test_close_early_needs_a_reason(env: Env) -> None:
    env.roster()
    env.question()
    env.refused("CloseQuestion", "q1", code="INVALID_TRANSITION", field="reason", at=CLOSES - 1)
    env.refused("CloseQuestion", "q1", "", code="INVALID_TRANSITION", field="reason", at=T_VOTE)
    question = env.ok("CloseQuestion", "q1", "storm warning", at=T_VOTE)
    assert question["state"] == "CLOSED"
    assert question["transitions"][-1]["reason"] == "storm warning"
    assert question["transitions"][-1]["at"] == T_VOTE


def test_close_refusals(env: Env) -> None:
    env.roster()
    env.question()
    for creator in (env.client, env.other_admin):
        env.refused(
            "CloseQuestion",
            "q1",
            code="UNAUTHORISED",
            field="CloseQuestion",
            creator=creator,
            at=CLOSES,
        )
    env.refused("CloseQuestion", "nope", code="NOT_FOUND", field="qid", at=CLOSES)
    env.refused("CloseQuestion", "q1", "x" * 501, code="INVALID_FIELD", field="reason", at=CLOSES)
    env.refused("CloseQuestion", "q1", "a\nb", code="INVALID_FIELD", field="reason", at=CLOSES)
    # A reason must have one spelling: NFC only.
    env.refused(
        "CloseQuestion", "q1", "cafe\u0301", code="NON_CANONICAL", field="reason", at=CLOSES
    )


def test_cancel_from_draft_and_from_open(env: Env) -> None:
    env.roster()
    env.question(qid="q1", open_it=False)
    env.question(qid="q2")
    assert env.ok("CancelQuestion", "q1", "duplicate question")["state"] == "CANCELLED"
    question = env.ok("CancelQuestion", "q2", "withdrawn", at=T_VOTE)
    assert question["state"] == "CANCELLED"
    assert question["transitions"][-1]["reason"] == "withdrawn"


def test_cancel_refusals(env: Env) -> None:
    env.roster()
    env.question()
    env.refused("CancelQuestion", "q1", "", code="INVALID_FIELD", field="reason")
    for creator in (env.client, env.other_admin):
        env.refused(
            "CancelQuestion",
            "q1",
            "why",
            code="UNAUTHORISED",
            field="CancelQuestion",
            creator=creator,
        )
    env.refused("CancelQuestion", "nope", "why", code="NOT_FOUND", field="qid")


# --- the lifecycle as a whole --------------------------------------------------------------------

STATES = ("DRAFT", "OPEN", "CLOSED", "TALLIED", "CANCELLED")


def _bring_to(env: Env, state: str) -> None:
    env.roster()
    env.question(open_it=False)
    if state == "CANCELLED":
        env.ok("CancelQuestion", "q1", "gone")
        return
    if state == "DRAFT":
        return
    env.ok("OpenQuestion", "q1", at=T_SETUP + 1)
    if state == "OPEN":
        return
    env.ok("CloseQuestion", "q1", at=CLOSES)
    if state == "CLOSED":
        return
    env.aggregate_all()
    env.ok("Tally", "q1", at=CLOSES + 2)


#: function, its arguments, and the states it may start from.
OPERATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "OpenQuestion": (("q1",), ("DRAFT",)),
    "CloseQuestion": (("q1", "early"), ("OPEN",)),
    "CancelQuestion": (("q1", "why"), ("DRAFT", "OPEN")),
    "Aggregate": (("q1", "0"), ("CLOSED",)),
    "Tally": (("q1",), ("CLOSED",)),
}
DISALLOWED = [
    (state, op)
    for op, (_, allowed) in OPERATIONS.items()
    for state in STATES
    if state not in allowed
]


@pytest.mark.parametrize(("state", "operation"), DISALLOWED)
def test_every_disallowed_transition_is_refused(env: Env, state: str, operation: str) -> None:
    _bring_to(env, state)
    assert env.state_of() == state
    args, _ = OPERATIONS[operation]
    # Timed inside the schedule so that the state is the only reason to refuse.
    env.refused(operation, *args, code="INVALID_TRANSITION", field="state", at=T_VOTE)
    assert env.state_of() == state


def test_the_full_lifecycle_leaves_a_transition_trail(env: Env) -> None:
    _bring_to(env, "TALLIED")
    question = env.query("GetQuestion", "q1")
    assert [t["state"] for t in question["transitions"]] == ["DRAFT", "OPEN", "CLOSED", "TALLIED"]
    assert [t["at"] for t in question["transitions"]] == [T_SETUP, T_SETUP + 1, CLOSES, CLOSES + 2]


# --- queries ---------------------------------------------------------------------------------------


def test_get_question_refusals(env: Env) -> None:
    env.refused("GetQuestion", "nope", code="NOT_FOUND", field="qid")
    env.refused("GetQuestion", "No", code="INVALID_FIELD", field="qid")


def test_list_questions(env: Env) -> None:
    assert env.query("ListQuestions") == []
    env.roster()
    env.question(qid="q2", open_it=False)
    env.question(qid="q1")
    listed = env.query("ListQuestions")
    assert [q["qid"] for q in listed] == ["q1", "q2"]
    assert [q["state"] for q in listed] == ["OPEN", "DRAFT"]
    assert listed[0] == env.query("GetQuestion", "q1")


# Specs with two errors: the refusal names the first in today's order (shape errors in field
# order, then the cross-field checks: rule.max, rule.min, options, rule.min_turnout, election,
# schedule.closes_at). Pinned so that moving a check into the parse cannot reorder them.
TWO_ERROR_SPECS: list[tuple[dict[str, Any], str]] = [
    # secret without an election AND a bad rule: the rule is named
    ({"mode": "secret", "rule": {"kind": "multi", "min": 1, "max": 4}}, "rule.max"),
    ({"mode": "secret", "rule": {"kind": "multi", "min": 3, "max": 2}}, "rule.min"),
    # open with an election AND a bad rule
    ({"election": "c1", "rule": {"kind": "multi", "min": 1, "max": 4}}, "rule.max"),
    # a yes/no rule over three options, secret without an election
    (
        {
            "mode": "secret",
            "rule": {"kind": "yesno", "threshold_bp": 5000, "min_turnout": {"kind": "none"}},
        },
        "options",
    ),
    # a turnout share without a roster, secret without an election
    (
        {
            "mode": "secret",
            "options": ["yes", "no"],
            "rule": {"kind": "yesno", "threshold_bp": 1, "min_turnout": {"kind": "share", "bp": 1}},
            "eligibility": "OPEN",
        },
        "rule.min_turnout",
    ),
    # secret without an election AND closes_at not after opens_at: the election is named
    ({"mode": "secret", "schedule": {"opens_at": OPENS, "closes_at": OPENS}}, "election"),
    ({"election": "c1", "schedule": {"opens_at": OPENS, "closes_at": OPENS}}, "election"),
    # a bad rule AND a bad schedule order: the rule
    (
        {
            "rule": {"kind": "multi", "min": 1, "max": 4},
            "schedule": {"opens_at": OPENS, "closes_at": OPENS},
        },
        "rule.max",
    ),
    # a shape error anywhere comes before every cross-field check
    ({"mode": "secret", "shards": 0}, "shards"),
    ({"rule": {"kind": "multi", "min": 1, "max": 4}, "shards": 0}, "shards"),
    ({"election": "C1", "rule": {"kind": "multi", "min": 1, "max": 4}}, "election"),
    # shape errors in field order: shards before election, mode before shards
    ({"shards": 0, "election": "C1"}, "shards"),
    ({"mode": "public", "shards": 0}, "mode"),
    ({"schedule": {"opens_at": -1, "closes_at": 5}, "mode": "public"}, "schedule.opens_at"),
]


@pytest.mark.parametrize(("changes", "field"), TWO_ERROR_SPECS)
def test_create_question_names_the_first_of_two_errors(
    env: Env, changes: dict[str, Any], field: str
) -> None:
    env.roster()
    eligibility = env.open_eligibility() if changes.get("eligibility") == "OPEN" else None
    spec = {**env.spec(eligibility=eligibility), **changes}
    if eligibility is not None:
        spec["eligibility"] = eligibility
    error = env.refused("CreateQuestion", encoding.encode(spec), code="INVALID_FIELD", field=field)
    assert error.field == field
