"""VotingContract answers with records, decoded once by the record's own ``from_json``, on the real
contract over the in-process serial ledger; a reply that does not match its record is BadReply
naming the field, from a node that lies (a transactor that alters the real contract's answers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import nacl.signing
import pytest
from testkit import creator_bytes, park_question, voter_keys

from mvote import demo
from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._crypto.elgamal import ZERO
from mvote.chaincode._events import (
    CastResponse,
    CeremonyCancelled,
    CheckAccepted,
    DealingAccepted,
    DecryptionAccepted,
    RosterMembership,
    SpoilResponse,
)
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import (
    Aggregate,
    BallotRecord,
    FinalResults,
    LiveResults,
    Participation,
    Plurality,
    SecretAggregate,
    TallyRecord,
    aggregate_from_json,
    results_from_json,
)
from mvote.chaincode._secret import Ceremony
from mvote.client import BadReply, VotingContract, recipes
from mvote.client import _trustee as tr
from mvote.client._ballot import prepare_ballot, voter_public_hex
from mvote.client._voting import Arg, Committed, reply

ADMIN = creator_bytes("CityhallMSP", "admin")
CLIENT = creator_bytes("CityhallMSP", "client")
TX = "ab" * 32
HASH = "cd" * 32


class LyingTransactor:
    """A node that runs the real contract, then alters its answer to the functions in
    ``lies`` (function name -> what it makes of the real answer)."""

    def __init__(self, channel: demo.InProcessChannel, creator: bytes) -> None:
        self.real = channel.acting_as(creator)
        self.lies: dict[str, Callable[[Any], Any]] = {}

    @property
    def channel_name(self) -> str:
        return self.real.channel_name

    def _altered(self, function: str, value: Any) -> Any:
        lie = self.lies.get(function)
        return value if lie is None else lie(value)

    def transact(self, function: str, *args: Arg) -> Committed:
        done = self.real.transact(function, *args)
        return replace(done, result=self._altered(function, done.result))

    def query(self, function: str, *args: Arg) -> Any:
        return self._altered(function, self.real.query(function, *args))

    def block_of(self, transaction_id: str) -> int:
        return self.real.block_of(transaction_id)


@pytest.fixture
def channel() -> demo.InProcessChannel:
    return demo.InProcessChannel("mvote")


def _open_question(
    channel: demo.InProcessChannel, voters: list[nacl.signing.SigningKey]
) -> VotingContract:
    admin = VotingContract(channel.acting_as(ADMIN))
    admin.create_roster("r1", "Residents")
    recipes.add_roster(admin, "r1", [voter_public_hex(v) for v in voters])
    admin.seal_roster("r1")
    recipes.create_question(admin, park_question("q1"), open_now=True)
    return admin


def test_every_read_and_write_of_a_question_is_a_record(channel: demo.InProcessChannel) -> None:
    voters = voter_keys(3)
    admin = _open_question(channel, voters)
    kiosk = VotingContract(channel.acting_as(CLIENT))
    question = kiosk.get_question("q1").spec
    cast = [
        kiosk.cast(prepare_ballot(v, channel="mvote", question=question, choices=[c]))
        for v, c in zip(voters[:2], (0, 1), strict=True)
    ]
    entry = keys.voter_hash(bytes.fromhex(voter_public_hex(voters[0]))).hex()
    on = kiosk.is_on_roster("r1", entry)
    assert on == RosterMembership("r1", entry, True)
    assert kiosk.is_on_roster("r1", HASH).listed is False

    voter = voter_public_hex(voters[0])
    ballot = kiosk.get_ballot("q1", voter)
    assert isinstance(ballot, BallotRecord)
    assert (ballot.tracker, ballot.tx) == (cast[0].tracker, cast[0].transaction_id)
    history = kiosk.get_history(voter)
    assert history == [Participation("q1", cast[0].tracker, cast[0].transaction_id, ballot.at)]

    live = kiosk.get_results("q1")
    assert live == LiveResults("q1", "OPEN", 2, (1, 1))
    # GetResults keeps its bytes: the record writes what the contract always answered.
    raw = channel.evaluate(CLIENT, FunctionName.GET_RESULTS, "q1")
    assert raw == {"qid": "q1", "state": "OPEN", "final": False, "ballots": 2, "counts": [1, 1]}

    admin.close_question("q1", "closed early for the test")
    step = admin.aggregate("q1", 0)
    assert step.value == Aggregate("q1", 0, step.value.cursor, 2, (1, 1), True)
    assert admin.get_aggregate("q1", 0) == step.value
    tallied = admin.tally("q1")
    assert isinstance(tallied.value, TallyRecord)
    assert tallied.value.counts == (1, 1) and tallied.value.outcome == Plurality((0, 1))
    assert tallied.value.tx == tallied.transaction_id
    assert admin.get_tally("q1") == tallied.value
    final = kiosk.get_results("q1")
    assert final == FinalResults("q1", "TALLIED", tallied.value)
    raw = channel.evaluate(CLIENT, FunctionName.GET_RESULTS, "q1")
    assert raw == {"qid": "q1", "state": "TALLIED", "final": True, "tally": final.tally.to_json()}


def _trustees(n: int, k: int) -> list[tr.TrusteeSecrets]:
    return [
        tr.new_trustee("mvote", "c1", n, k, i, nacl.signing.SigningKey(bytes([0x70 + i]) * 32))
        for i in range(1, n + 1)
    ]


def test_every_ceremony_step_is_a_record(channel: demo.InProcessChannel) -> None:
    admin = VotingContract(channel.acting_as(ADMIN))
    team = _trustees(3, 2)
    spec = tr.ceremony_spec("c1", 3, 2, [t.registration() for t in team])
    created = admin.create_ceremony(spec)
    assert isinstance(created.value, Ceremony) and created.value.state == "DEALING"
    registrations = created.value.to_json()["trustees"]
    dealt = admin.post_dealing(tr.dealing_posting(team[0], registrations))
    assert dealt.value == DealingAccepted("c1", 1, dealt.transaction_id)
    cancelled = admin.cancel_ceremony("c1", "trustee 3 is away")
    assert cancelled.value == CeremonyCancelled(
        "c1", "CANCELLED", "trustee 3 is away", (1,), (), cancelled.transaction_id
    )

    created = admin.create_ceremony(spec)
    for t in team:
        admin.post_dealing(tr.dealing_posting(t, registrations))
    dealings = [
        encoding.decode(channel.ledger.state.get(keys.dealing_key("c1", i))[0], max_size=1 << 24)
        for i in (1, 2, 3)
    ]
    for t in team:
        checked = admin.post_check(tr.check_posting(t, dealings))
        assert checked.value == CheckAccepted("c1", t.index, (), checked.transaction_id)
    completed = admin.complete_ceremony("c1")
    assert completed.value.state == "COMPLETE" and completed.value.election_key is not None
    assert admin.get_ceremony("c1") == completed.value


# Per kind of reply: a value that breaks its record, and the field BadReply names.
_BAD: list[tuple[FunctionName, Callable[[Any], Any], Any, str]] = [
    (
        FunctionName.CAST,
        CastResponse.from_json,
        {"qid": "q1", "tracker": "x", "shard": 0, "tx": TX},
        "Cast.tracker",
    ),
    (
        FunctionName.SPOIL_BALLOT,
        SpoilResponse.from_json,
        {"qid": "q1", "tracker": HASH, "choices": [1, 0], "tx": TX},
        "SpoilBallot.choices[1]",
    ),
    (
        FunctionName.IS_ON_ROSTER,
        RosterMembership.from_json,
        {"rid": "r1", "entry": HASH, "listed": "yes"},
        "IsOnRoster.listed",
    ),
    (
        FunctionName.POST_DEALING,
        DealingAccepted.from_json,
        {"cid": "c1", "trustee": 0, "tx": TX},
        "PostDealing.trustee",
    ),
    (
        FunctionName.POST_CHECK,
        CheckAccepted.from_json,
        {"cid": "c1", "trustee": 1, "faulty": "none", "tx": TX},
        "PostCheck.faulty",
    ),
    (
        FunctionName.POST_DECRYPTION,
        DecryptionAccepted.from_json,
        {"qid": "Q1", "trustee": 1, "tx": TX},
        "PostDecryption.qid",
    ),
    (
        FunctionName.CANCEL_CEREMONY,
        CeremonyCancelled.from_json,
        {"cid": "c1", "state": "DEALING", "reason": "", "dealt": [], "checked": [], "tx": TX},
        "CancelCeremony.state",
    ),
    (FunctionName.GET_CEREMONY, Ceremony.from_json, {"cid": "c1"}, "ceremony.channel"),
    (
        FunctionName.GET_BALLOT,
        BallotRecord.from_json,
        {"ballot": {}, "sig": "", "credential": None, "onsite": False},
        "ballot record.ballot.type",
    ),
    (
        FunctionName.GET_AGGREGATE,
        aggregate_from_json,
        {"qid": "q1", "shard": 0, "cursor": "", "ballots": 0, "counts": [0, 0], "done": 1},
        "aggregate.done",
    ),
    (
        FunctionName.GET_AGGREGATE,
        aggregate_from_json,
        {"qid": "q1", "shard": 0, "cursor": "", "ballots": 0, "sums": [0, 0], "done": False},
        "aggregate.sums[0]",
    ),
    (FunctionName.GET_TALLY, TallyRecord.from_json, {"qid": "q1"}, "tally.ballots"),
    (
        FunctionName.GET_RESULTS,
        results_from_json,
        {"qid": "q1", "state": "OPEN", "final": 0},
        "results.final",
    ),
    (
        FunctionName.GET_RESULTS,
        results_from_json,
        {"qid": "q1", "state": "OPEN", "final": False, "ballots": 1, "counts": ["1", 0]},
        "results.counts[0]",
    ),
    (
        FunctionName.GET_RESULTS,
        results_from_json,
        {"qid": "q1", "state": "TALLIED", "final": True, "tally": None},
        "results.tally",
    ),
    (FunctionName.GET_RESULTS, results_from_json, [], "results"),
]


@pytest.mark.parametrize(("function", "decode", "value", "field"), _BAD)
def test_a_reply_that_breaks_its_record_is_bad_reply_naming_the_field(
    function: FunctionName, decode: Callable[[Any], Any], value: Any, field: str
) -> None:
    with pytest.raises(BadReply) as info:
        reply(decode, value, function)
    assert info.value.code == "BAD_REPLY"
    assert info.value.message.startswith(f"{function}: {field}: ")
    assert info.value.field == field
    assert info.value.__cause__ is not None


def test_the_two_aggregate_records_are_told_apart_by_their_sums() -> None:
    value = {"qid": "q1", "shard": 0, "cursor": "", "ballots": 0, "counts": [0, 1], "done": True}
    assert isinstance(aggregate_from_json(value), Aggregate)
    sums = [ZERO.to_json(), ZERO.to_json()]
    secret = SecretAggregate.from_json(
        {**{k: v for k, v in value.items() if k != "counts"}, "sums": sums}
    )
    assert aggregate_from_json(secret.to_json()) == secret


def test_a_lying_node_is_refused_naming_the_field(channel: demo.InProcessChannel) -> None:
    voters = voter_keys(2)
    _open_question(channel, voters)
    liar = LyingTransactor(channel, CLIENT)
    kiosk = VotingContract(liar)
    question = kiosk.get_question("q1").spec
    liar.lies[FunctionName.GET_RESULTS] = lambda v: {**v, "final": "no"}
    with pytest.raises(BadReply) as info:
        kiosk.get_results("q1")
    assert info.value.field == "results.final"
    liar.lies[FunctionName.GET_HISTORY] = lambda v: [{**v[0], "at": -1}]
    liar.lies[FunctionName.CAST] = lambda v: {**v, "shard": 4096}
    with pytest.raises(BadReply) as info:
        kiosk.cast(prepare_ballot(voters[0], channel="mvote", question=question, choices=[0]))
    assert info.value.field == "Cast.shard"
    # The ballot committed (the node lied only in its answer): the history shows it, and a lie
    # about the history is refused the same way, naming the entry.
    with pytest.raises(BadReply) as info:
        kiosk.get_history(voter_public_hex(voters[0]))
    assert info.value.field == "history[0].at"
    del liar.lies[FunctionName.GET_HISTORY]
    assert len(kiosk.get_history(voter_public_hex(voters[0]))) == 1
