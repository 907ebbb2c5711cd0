"""Paging of question listings and results read from the contract's answer."""

from __future__ import annotations

from typing import Any

from mvote.chaincode._records import Eligibility, Question, QuestionSpec, Rule, Transition
from mvote.service import Results
from mvote.service._values import page_of


def _question(qid: str) -> Question:
    spec = QuestionSpec(
        qid=qid,
        title=qid,
        description="",
        options=("a", "b"),
        rule=Rule("single"),
        eligibility=Eligibility.of_registrars(("00" * 32,)),
        opens_at=0,
        closes_at=10,
    )
    return Question(spec, "CityhallMSP", "OPEN", None, (Transition("OPEN", "0" * 64, 1, ""),))


def test_pages_follow_the_token_to_the_end() -> None:
    questions = [_question(q) for q in ("a", "b", "c", "d", "e")]
    seen, token = [], ""
    while True:
        page, token = page_of(questions, token, 2)
        seen.extend(q.qid for q in page)
        if not token:
            break
    assert seen == ["a", "b", "c", "d", "e"]
    # A token between qids (a question removed meanwhile) resumes after it.
    page, token = page_of(questions, "bb", 10)
    assert [q.qid for q in page] == ["c", "d", "e"] and token == ""
    assert page_of(questions, "z", 2) == ((), "")


def test_results_of_a_final_tally_and_of_live_counts() -> None:
    live: dict[str, Any] = {
        "qid": "q",
        "state": "OPEN",
        "final": False,
        "ballots": 3,
        "counts": [2, 1],
    }
    assert Results.from_contract(live).counts == (2, 1)
    secret: dict[str, Any] = dict(live, counts=None)
    assert Results.from_contract(secret).counts is None
    final: dict[str, Any] = {"qid": "q", "state": "TALLIED", "final": True, "tally": {"ballots": 5}}
    done = Results.from_contract(final)
    assert done.final and done.ballots == 5 and done.tally == {"ballots": 5}
