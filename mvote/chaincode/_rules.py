"""Ballot rules: which selections a ballot may make, and what a set of counts decides.

Shared by the contract (refusing a ballot), the client (checking choices before signing) and the
verifier (recomputing a tally): one implementation of each rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._errors import InvalidField, RuleViolation
from ._records import QuestionSpec, RosterEligibility, Rule

YES, NO = 0, 1


def check_spec(spec: QuestionSpec) -> None:
    """Cross-field checks a shape cannot express. Raises InvalidField naming the field."""
    n = len(spec.options)
    rule = spec.rule
    if rule.kind == "multi":
        if rule.max > n:
            raise InvalidField(
                f"rule.max: expected at most the {n} options, got {rule.max}", field="rule.max"
            )
        if rule.min > rule.max:
            raise InvalidField(
                f"rule.min: expected at most rule.max ({rule.max}), got {rule.min}",
                field="rule.min",
            )
    if rule.kind == "yesno":
        if n != 2:
            raise InvalidField(
                f"options: a yes/no question has exactly 2 options (yes, no), got {n}",
                field="options",
            )
        roster = isinstance(spec.eligibility.voters, RosterEligibility)
        if rule.min_turnout.kind == "share" and not roster:
            raise InvalidField(
                "rule.min_turnout: a turnout share needs a roster to be a share of",
                field="rule.min_turnout",
            )
    if (spec.mode == "secret") != (spec.election is not None):
        raise InvalidField(
            "election: a secret question names its completed key ceremony, an open one none",
            field="election",
        )
    if spec.closes_at <= spec.opens_at:
        raise InvalidField(
            f"schedule.closes_at: expected later than opens_at ({spec.opens_at}), "
            f"got {spec.closes_at}",
            field="schedule.closes_at",
        )


def selection_bounds(rule: Rule) -> tuple[int, int]:
    """The allowed number of selections (min, max)."""
    if rule.kind == "multi":
        return rule.min, rule.max
    return 1, 1


def check_choices(spec: QuestionSpec, choices: Sequence[int]) -> None:
    """Raise RuleViolation unless ``choices`` (ascending, unique) is a valid selection."""
    n = len(spec.options)
    for i, choice in enumerate(choices):
        if choice >= n:
            raise RuleViolation(
                f"ballot.choices[{i}]: expected an option index below {n}, got {choice}",
                field=f"ballot.choices[{i}]",
            )
    low, high = selection_bounds(spec.rule)
    if not low <= len(choices) <= high:
        expected = f"exactly {low}" if low == high else f"{low} to {high}"
        raise RuleViolation(
            f"ballot.choices: expected {expected} selections, got {len(choices)}",
            field="ballot.choices",
        )


def add_ballot(counts: list[int], choices: Sequence[int]) -> None:
    for choice in choices:
        counts[choice] += 1


def outcome(
    rule: Rule, ballots: int, counts: Sequence[int], eligible: int | None
) -> dict[str, Any]:
    """What the counts decide: the plurality winners, or whether a yes/no question passed."""
    if rule.kind != "yesno":
        top = max(counts)
        winners = [i for i, c in enumerate(counts) if c == top] if top > 0 else []
        return {"kind": "plurality", "winners": winners}
    approvals, rejections = counts[YES], counts[NO]
    # Integer arithmetic only: approvals / ballots > threshold_bp / 10000.
    approval_met = approvals * 10_000 > rule.threshold_bp * ballots
    turnout = rule.min_turnout
    if turnout.kind == "count":
        turnout_met = ballots >= turnout.value
    elif turnout.kind == "share":
        # check_spec guarantees a roster, and opening the question froze its size.
        if eligible is None:
            raise InvalidField(
                "eligible: a turnout share needs the roster size frozen at open", field="eligible"
            )
        turnout_met = ballots * 10_000 >= turnout.value * eligible
    else:
        turnout_met = True
    return {
        "kind": "yesno",
        "approvals": approvals,
        "rejections": rejections,
        "threshold_bp": rule.threshold_bp,
        "approval_met": approval_met,
        "turnout_met": turnout_met,
        "passed": approval_met and turnout_met,
    }
