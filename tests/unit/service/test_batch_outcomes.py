"""batch_outcomes: the one reader of a CastBatch response, strict about what a peer answered
(a lying or broken peer's answer fails every ballot of the batch, never misattributes one)."""

from __future__ import annotations

from typing import Any

import pytest

from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField, MvoteError, NonCanonical, Refusal
from mvote.service._intake import Accepted, Refused, batch_outcomes

TRACKER = "ab" * 32
REFUSAL = Refusal("NOT_ELIGIBLE", "credential", "credential: a credential is needed")


def _payload(ballots: list[Any], **extra: Any) -> bytes:
    return encoding.encode({"accepted": 1, "ballots": ballots, "tx": "00" * 32, **extra})


def test_outcomes_in_argument_order() -> None:
    payload = _payload(
        [
            {"index": 0, "qid": "q1", "tracker": TRACKER, "shard": 3},
            {"index": 1, "refused": REFUSAL.to_json()},
        ]
    )
    assert batch_outcomes(payload, 2) == [Accepted(0, "q1", TRACKER, 3), Refused(1, REFUSAL)]


@pytest.mark.parametrize(
    ("ballots", "count", "field"),
    [
        ([{"index": 0, "qid": "q1", "tracker": TRACKER, "shard": 0}], 2, "result.ballots"),
        ([{"index": 1, "qid": "q1", "tracker": TRACKER, "shard": 0}], 1, "result.ballots[0].index"),
        ([{"index": 0, "qid": "q1", "tracker": "xy", "shard": 0}], 1, "result.ballots[0].tracker"),
        ([{"index": 0, "qid": "q1", "tracker": TRACKER}], 1, "result.ballots[0].shard"),
        (
            [{"index": 0, "refused": {"code": "nope", "field": None, "message": ""}}],
            1,
            "refusal.code",
        ),
        ([{"index": 0, "refused": REFUSAL.to_json(), "qid": "q1"}], 1, "result.ballots[0].refused"),
        ([7], 1, "result.ballots[0]"),
    ],
)
def test_a_response_that_is_not_one_is_refused_naming_the_field(
    ballots: list[Any], count: int, field: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        batch_outcomes(_payload(ballots), count)
    assert caught.value.field == field


def test_a_response_that_is_not_canonical_json_is_refused() -> None:
    with pytest.raises(NonCanonical):
        batch_outcomes(_payload([]) + b" ", 0)
    with pytest.raises(MvoteError):
        batch_outcomes(b"[]", 0)
