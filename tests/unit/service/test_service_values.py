"""Paging of question listings and results read from the contract's answer."""

from __future__ import annotations

from node_support import open_question_spec

from mvote.chaincode._records import FinalResults, LiveResults, Plurality, Question, TallyRecord
from mvote.service import Results
from mvote.service._values import page_of


def _question(qid: str) -> Question:
    record = {
        **open_question_spec(qid, 1_000_000, options=("a", "b")),
        "owner": "CityhallMSP",
        "state": "OPEN",
        "eligible": None,
        "transitions": [{"state": "OPEN", "tx": "0" * 64, "at": 1, "reason": ""}],
    }
    return Question.from_json(record)


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
    live = LiveResults("q", "OPEN", 3, (2, 1))
    assert Results.from_contract(live) == Results("q", "OPEN", False, 3, (2, 1), None)
    secret = LiveResults("q", "CLOSED", 3, None)
    assert Results.from_contract(secret).counts is None
    tally = TallyRecord("q", 5, (3, 2), None, Plurality((0,)), "ab" * 32, 1)
    done = Results.from_contract(FinalResults("q", "TALLIED", tally))
    assert done.final and done.ballots == 5 and done.counts is None
    assert done.tally == tally
