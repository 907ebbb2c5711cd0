"""rules.py: spec cross-checks, selection bounds, and what the counts decide (integer arithmetic,
boundaries exactly at the threshold)."""

from __future__ import annotations

import pytest

from mvote.chaincode._errors import InvalidField, RuleViolation
from mvote.chaincode._records import Eligibility, QuestionSpec, Rule, Turnout
from mvote.chaincode._rules import check_choices, check_spec, outcome, selection_bounds

ROSTER = Eligibility.of_roster("r1")


def _spec(rule: Rule, n: int = 3, eligibility: Eligibility = ROSTER) -> QuestionSpec:
    return QuestionSpec("q", "t", "", tuple(f"o{i}" for i in range(n)), rule, eligibility, 1, 2)


def test_selection_bounds() -> None:
    assert selection_bounds(Rule("single")) == (1, 1)
    assert selection_bounds(Rule("yesno")) == (1, 1)
    assert selection_bounds(Rule("multi", min=0, max=3)) == (0, 3)


def test_check_spec_cross_fields() -> None:
    check_spec(_spec(Rule("multi", min=3, max=3), n=3))
    for spec, field in [
        (_spec(Rule("multi", min=1, max=4), n=3), "rule.max"),
        (_spec(Rule("multi", min=3, max=2), n=30), "rule.min"),
        (_spec(Rule("yesno"), n=3), "options"),
        (
            _spec(
                Rule("yesno", min_turnout=Turnout("share", 10)),
                n=2,
                eligibility=Eligibility.of_registrars(("aa" * 32,)),
            ),
            "rule.min_turnout",
        ),
        (
            QuestionSpec("q", "t", "", ("a", "b"), Rule("single"), ROSTER, 5, 5),
            "schedule.closes_at",
        ),
    ]:
        with pytest.raises(InvalidField) as info:
            check_spec(spec)
        assert info.value.field == field


def test_check_choices() -> None:
    multi = _spec(Rule("multi", min=1, max=3), n=30)
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
        check_choices(_spec(Rule("single")), (0, 1))


def test_plurality_outcomes() -> None:
    single = Rule("single")
    assert outcome(single, 6, [1, 3, 2], None) == {"kind": "plurality", "winners": [1]}
    assert outcome(single, 6, [3, 0, 3], None) == {"kind": "plurality", "winners": [0, 2]}
    assert outcome(single, 3, [1, 1, 1], None) == {"kind": "plurality", "winners": [0, 1, 2]}
    assert outcome(single, 0, [0, 0, 0], None) == {"kind": "plurality", "winners": []}


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
    rule = Rule("yesno", threshold_bp=threshold)
    result = outcome(rule, ballots, [approvals, ballots - approvals], None)
    assert result["approval_met"] is met
    assert result["turnout_met"] is True
    assert result["passed"] is met
    assert result["threshold_bp"] == threshold
    assert (result["approvals"], result["rejections"]) == (approvals, ballots - approvals)
    # The edge exactly: approvals * 10000 == threshold * ballots never passes.
    if approvals * 10_000 == threshold * ballots:
        assert not met


@pytest.mark.parametrize(
    ("turnout", "ballots", "eligible", "met"),
    [
        (Turnout("count", 10), 9, None, False),
        (Turnout("count", 10), 10, None, True),
        (Turnout("share", 2500), 25, 100, True),  # exactly the share meets it
        (Turnout("share", 2500), 24, 100, False),
        (Turnout("share", 3333), 1, 3, True),  # 10000 >= 9999
        (Turnout("share", 3334), 1, 3, False),
        (Turnout("share", 10_000), 3, 3, True),
        (Turnout("none"), 0, None, True),
    ],
)
def test_yesno_turnout(turnout: Turnout, ballots: int, eligible: int | None, met: bool) -> None:
    rule = Rule("yesno", threshold_bp=0, min_turnout=turnout)
    result = outcome(rule, ballots, [ballots, 0], eligible)
    assert result["turnout_met"] is met
    assert result["passed"] is (met and ballots > 0)
