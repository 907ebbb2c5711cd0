"""The recipes an integrator calls, on the real contract over the in-process serial ledger
(``mvote.demo.InProcessChannel``): typed in, typed out, typed refusals."""

from __future__ import annotations

import nacl.signing
import pytest
from testkit import creator_bytes, park_question, voter_keys

from mvote import demo
from mvote.chaincode._errors import AlreadyVoted, InvalidField, NotFound
from mvote.client import QuestionOpen, VotingContract, recipes
from mvote.client._ballot import prepare_ballot, voter_public_hex
from mvote.client._errors import NotVerified

ADMIN = creator_bytes("CityhallMSP", "admin")
CLIENT = creator_bytes("CityhallMSP", "client")


@pytest.fixture
def channel() -> demo.InProcessChannel:
    return demo.InProcessChannel("mvote")


def _rostered(channel: demo.InProcessChannel, voters: list[nacl.signing.SigningKey]) -> None:
    admin = VotingContract(channel.acting_as(ADMIN))
    admin.create_roster("r1", "Residents")
    csv_text = "name,public_key\n" + "".join(
        f"v{i},{voter_public_hex(v)}\n" for i, v in enumerate(voters)
    )
    added = recipes.add_roster(admin, "r1", recipes.roster_keys_from_csv(csv_text))
    assert added.added == len(voters) and added.roster is not None
    assert admin.seal_roster("r1").value.sealed


def test_roster_csv_names_the_bad_line() -> None:
    with pytest.raises(InvalidField) as info:
        recipes.roster_keys_from_csv("public_key\n" + "a" * 64 + "\nnot-a-key\n")
    assert info.value.field == "line 3"
    assert recipes.roster_keys_from_csv("") == []


def test_create_open_cast_and_tally_twice(channel: demo.InProcessChannel) -> None:
    voters = voter_keys(3)
    _rostered(channel, voters)
    admin = VotingContract(channel.acting_as(ADMIN))
    made = recipes.create_question(admin, park_question("q1", shards=2), open_now=True)
    assert made.created.value.state == "DRAFT" and made.question.state == "OPEN"
    kiosk = VotingContract(channel.acting_as(CLIENT))
    question = kiosk.get_question("q1").spec
    # The in-process ledger cuts no blocks: nothing to verify from a genesis hash, so the
    # recipe refuses to prepare a ballot from the ledger's unverified answer.
    with pytest.raises(NotVerified) as refused:
        recipes.prepare_vote(kiosk, voters[0], question, [0])
    assert refused.value.field == "trust_anchor"
    for voter, choice in zip(voters, (0, 1, 1), strict=True):
        request = prepare_ballot(voter, channel="mvote", question=question, choices=[choice])
        cast = kiosk.cast(request)
        assert cast.qid == "q1" and len(cast.tracker) == 64
    again = prepare_ballot(voters[0], channel="mvote", question=question, choices=[1])
    with pytest.raises(AlreadyVoted):
        kiosk.cast(again)

    with pytest.raises(QuestionOpen) as info:
        recipes.tally(admin, "q1")
    assert info.value.field == "qid"

    first = recipes.tally(admin, "q1", close=True, batch=1)
    assert (first.already, first.tally.counts, first.aggregate_transactions) == (
        False,
        (1, 2),
        first.aggregate_transactions,
    )
    assert first.aggregate_transactions >= 2
    second = recipes.tally(VotingContract(channel.acting_as(ADMIN)), "q1")
    assert second.already and second.transaction_id == first.transaction_id
    assert second.block_number == first.block_number and second.tally == first.tally


def test_reads_are_typed_and_refusals_too(channel: demo.InProcessChannel) -> None:
    kiosk = VotingContract(channel.acting_as(CLIENT))
    assert kiosk.list_questions() == []
    with pytest.raises(NotFound) as info:
        kiosk.get_question("nope")
    assert info.value.field == "qid"


def test_a_repeated_option_is_a_typed_refusal_naming_choices() -> None:
    """The same verdict and field as the JavaScript module (INVALID_FIELD on choices), not a
    bare ValueError."""
    with pytest.raises(InvalidField) as info:
        prepare_ballot(
            voter_keys(1)[0],
            channel="mvote",
            question=park_question("q-dup", shards=2),
            choices=[1, 1],
        )
    assert info.value.field == "choices"
