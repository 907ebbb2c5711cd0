"""rules.py: spec cross-checks, selection bounds, and what the counts decide (integer arithmetic,
boundaries exactly at the threshold)."""

from __future__ import annotations

import dataclasses

import pytest

from mvote.chaincode._errors import InvalidField, RuleViolation
from mvote.chaincode._records import (
    Eligibility,
    MultiChoice,
    NoTurnout,
    QuestionSpec,
    Rule,
    Schedule,
    SecretMode,
    SingleChoice,
    Turnout,
    TurnoutCount,
    TurnoutShare,
    YesNo,
    YesNoOutcome,
)
from mvote.chaincode._rules import check_choices, outcome, selection_bounds

ROSTER = Eligibility.of_roster("r1")


def _spec(rule: Rule, n: int = 3, eligibility: Eligibility = ROSTER) -> QuestionSpec:
    options = tuple(f"o{i}" for i in range(n))
    return QuestionSpec("q", "t", "", options, rule, eligibility, Schedule(1, 2))


def test_selection_bounds() -> None:
    assert selection_bounds(SingleChoice()) == (1, 1)
    assert selection_bounds(YesNo(0)) == (1, 1)
    assert selection_bounds(MultiChoice(min=0, max=3)) == (0, 3)


def test_the_spec_parse_checks_cross_fields() -> None:
    ok = _spec(MultiChoice(min=3, max=3), n=3)
    assert QuestionSpec.from_json(ok.to_json()) == ok
    secret = dataclasses.replace(ok, secret=SecretMode("c1"))
    assert QuestionSpec.from_json(secret.to_json()) == secret
    for spec, field in [
        (_spec(MultiChoice(min=1, max=4), n=3), "rule.max"),
        (_spec(MultiChoice(min=3, max=2), n=30), "rule.min"),
        (_spec(YesNo(0), n=3), "options"),
        (
            _spec(
                YesNo(0, TurnoutShare(10)),
                n=2,
                eligibility=Eligibility.of_registrars(("aa" * 32,)),
            ),
            "rule.min_turnout",
        ),
        (
            QuestionSpec("q", "t", "", ("a", "b"), SingleChoice(), ROSTER, Schedule(5, 5)),
            "schedule.closes_at",
        ),
    ]:
        with pytest.raises(InvalidField) as info:
            QuestionSpec.from_json(spec.to_json())
        assert info.value.field == field
    # Stored questions are read through the same parse, naming the field under "question".
    with pytest.raises(InvalidField) as info:
        QuestionSpec.from_json(_spec(YesNo(0), n=3).to_json(), "question")
    assert info.value.field == "question.options"


@pytest.mark.parametrize(("mode", "election"), [("secret", None), ("open", "c1"), ("secret", "C1")])
def test_secret_mode_is_secret_with_an_election_or_open_without(
    mode: str, election: str | None
) -> None:
    value = {**_spec(SingleChoice()).to_json(), "mode": mode}
    if election is not None:
        value["election"] = election
    with pytest.raises(InvalidField) as info:
        QuestionSpec.from_json(value)
    assert info.value.field == "election"


def test_secret_mode_bytes_are_the_stored_keys() -> None:
    spec = _spec(SingleChoice())
    assert spec.to_json()["mode"] == "open"
    assert "election" not in spec.to_json()
    assert (spec.mode, spec.election) == ("open", None)
    secret = dataclasses.replace(spec, secret=SecretMode("c1"))
    assert (secret.to_json()["mode"], secret.to_json()["election"]) == ("secret", "c1")
    assert (secret.mode, secret.election) == ("secret", "c1")


def test_check_choices() -> None:
    multi = _spec(MultiChoice(min=1, max=3), n=30)
    for ok in ((0,), (0, 29), (1, 2, 3)):
        check_choices(multi, ok)
    for bad, field in [
        ((), "ballot.choices"),
        ((1, 2, 3, 4), "ballot.choices"),
        ((30,), "ballot.choices[0]"),
    ]:
        with pytest.raises(RuleViolation) as info:
            check_choices(multi, bad)
        assert info.value.field == field
    with pytest.raises(RuleViolation, match="exactly 1"):
        check_choices(_spec(SingleChoice()), (0, 1))


def test_plurality_outcomes() -> None:
    single = SingleChoice()
    assert outcome(single, 6, [1, 3, 2], None).to_json() == {"kind": "plurality", "winners": [1]}
    assert outcome(single, 6, [3, 0, 3], None).to_json() == {"kind": "plurality", "winners": [0, 2]}
    assert outcome(single, 3, [1, 1, 1], None).to_json() == {
        "kind": "plurality",
        "winners": [0, 1, 2],
    }
    assert outcome(single, 0, [0, 0, 0], None).to_json() == {"kind": "plurality", "winners": []}


@pytest.mark.parametrize(
    ("approvals", "ballots", "threshold", "met"),
    [
        (50, 100, 5000, False),
        (51, 100, 5000, True),
        (2, 3, 6666, True),
        (2, 3, 6667, False),  # 20000 > 20001 is false
        (1, 3, 3333, True),  # 10000 > 9999
        (3, 9, 3333, True),  # 30000 > 29997
        (0, 0, 0, False),
        (1, 1, 9999, True),
        (9_007_199, 9_007_199, 9999, True),
    ],
)
def test_yesno_approval_is_strictly_above_the_threshold(
    approvals: int, ballots: int, threshold: int, met: bool
) -> None:
    rule = YesNo(threshold_bp=threshold)
    result = outcome(rule, ballots, [approvals, ballots - approvals], None)
    assert isinstance(result, YesNoOutcome)
    assert result.approval_met is met
    assert result.turnout_met is True
    assert result.passed is met
    assert result.threshold_bp == threshold
    assert (result.approvals, result.rejections) == (approvals, ballots - approvals)
    # The edge exactly: approvals * 10000 == threshold * ballots never passes.
    if approvals * 10_000 == threshold * ballots:
        assert not met


@pytest.mark.parametrize(
    ("turnout", "ballots", "eligible", "met"),
    [
        (TurnoutCount(10), 9, None, False),
        (TurnoutCount(10), 10, None, True),
        (TurnoutShare(2500), 25, 100, True),  # exactly the share meets it
        (TurnoutShare(2500), 24, 100, False),
        (TurnoutShare(3333), 1, 3, True),  # 10000 >= 9999
        (TurnoutShare(3334), 1, 3, False),
        (TurnoutShare(10_000), 3, 3, True),
        (NoTurnout(), 0, None, True),
    ],
)
def test_yesno_turnout(turnout: Turnout, ballots: int, eligible: int | None, met: bool) -> None:
    rule = YesNo(threshold_bp=0, min_turnout=turnout)
    result = outcome(rule, ballots, [ballots, 0], eligible)
    assert isinstance(result, YesNoOutcome)
    assert result.turnout_met is met
    assert result.passed is (met and ballots > 0)
