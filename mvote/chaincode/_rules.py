"""Ballot rules: which selections a ballot may make, and what a set of counts decides.

Shared by the contract (refusing a ballot), the client (checking choices before signing) and the
verifier (recomputing a tally): one implementation of each rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._errors import InvalidField, RuleViolation
from ._records import (
    MultiChoice,
    NoTurnout,
    Outcome,
    Plurality,
    QuestionSpec,
    Rule,
    SingleChoice,
    Turnout,
    TurnoutCount,
    TurnoutShare,
    YesNo,
    YesNoOutcome,
)

YES, NO = 0, 1


def selection_bounds(rule: Rule) -> tuple[int, int]:
    """The allowed number of selections (min, max)."""
    match rule:
        case MultiChoice(low, high):
            return low, high
        case SingleChoice() | YesNo():
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


def outcome(rule: Rule, ballots: int, counts: Sequence[int], eligible: int | None) -> Outcome:
    """What the counts decide: the plurality winners, or whether a yes/no question passed."""
    match rule:
        case YesNo():
            return _yesno_outcome(rule, ballots, counts, eligible)
        case SingleChoice() | MultiChoice():
            top = max(counts)
            winners = [i for i, c in enumerate(counts) if c == top] if top > 0 else []
            return Plurality(tuple(winners))


def _yesno_outcome(
    rule: YesNo, ballots: int, counts: Sequence[int], eligible: int | None
) -> YesNoOutcome:
    approvals, rejections = counts[YES], counts[NO]
    # Integer arithmetic only: approvals / ballots > threshold_bp / 10000.
    approval_met = approvals * 10_000 > rule.threshold_bp * ballots
    turnout_met = _turnout_met(rule.min_turnout, ballots, eligible)
    return YesNoOutcome(
        approvals=approvals,
        rejections=rejections,
        threshold_bp=rule.threshold_bp,
        approval_met=approval_met,
        turnout_met=turnout_met,
        passed=approval_met and turnout_met,
    )


def _turnout_met(turnout: Turnout, ballots: int, eligible: int | None) -> bool:
    match turnout:
        case TurnoutCount(count):
            return ballots >= count
        case TurnoutShare(bp):
            # The spec's parse guarantees a roster, and opening the question froze its size.
            if eligible is None:
                raise InvalidField(
                    "eligible: a turnout share needs the roster size frozen at open",
                    field="eligible",
                )
            return ballots * 10_000 >= bp * eligible
        case NoTurnout():
            return True
