"""The contract under random operation sequences.

A model predicts, for every transaction, whether the contract must accept it; the ledger must
agree. Invariants checked after every step: at most one ballot per voter and question, and the
ballots on the ledger are exactly the accepted ones; question states only move along
DRAFT->OPEN->CLOSED->TALLIED or DRAFT/OPEN->CANCELLED; a refused transaction changes nothing; a
tally equals a direct count of the accepted ballots; and replaying the same transactions on a
fresh ledger gives identical state bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nacl.signing
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from testkit import state_bytes

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._eligibility import onsite_code_hash
from mvote.chaincode._records import BoundBallot, CastRequest, QuestionSpec, question_hash
from mvote.chaincode._simulation import Executed, SerialLedger
from mvote.chaincode._stub import partial_key_range
from mvote.client._registrar import issue_credential

CHANNEL = "mvote"
VOTERS = [nacl.signing.SigningKey(i.to_bytes(4, "big") * 8) for i in range(1, 9)]
VOTER_HEX = [bytes(k.verify_key).hex() for k in VOTERS]
REGISTRAR = nacl.signing.SigningKey(b"R" * 32)
STRANGER = nacl.signing.SigningKey(b"S" * 32)
QIDS = ["q0", "q1", "q2", "q3"]
RIDS = ["r1", "r2"]
SALT = bytes(16)
CODE = "CODE-1"

#: The lifecycle: every state and where it may go next.
NEXT = {
    "DRAFT": {"OPEN", "CANCELLED"},
    "OPEN": {"CLOSED", "CANCELLED"},
    "CLOSED": {"TALLIED"},
    "TALLIED": set(),
    "CANCELLED": set(),
}


QUESTION_ARGS: dict[str, st.SearchStrategy[Any]] = dict(
    qid=st.sampled_from(QIDS),
    rule_kind=st.sampled_from(["single", "multi", "yesno"]),
    options=st.integers(2, 5),
    bounds=st.tuples(st.integers(0, 3), st.integers(1, 4)),
    threshold=st.sampled_from([0, 5000, 6667, 9999]),
    turnout=st.sampled_from(["none", "count", "share"]),
    eligibility=st.sampled_from(["roster", "open", "onsite"]),
    rid=st.sampled_from(RIDS),
    shards=st.integers(1, 3),
    delay=st.sampled_from([0, 0, 0, 60]),
    length=st.sampled_from([300, 1000, 5000]),
    open_now=st.sampled_from([True, True, False]),
)


@dataclass
class RosterModel:
    members: set[int] = field(default_factory=set)
    sealed: bool = False


@dataclass
class QuestionModel:
    spec: dict[str, Any]
    state: str = "DRAFT"
    eligible: int | None = None
    ballots: dict[int, tuple[int, ...]] = field(default_factory=dict)  # voter index -> choices
    aggregated: dict[int, int] = field(default_factory=dict)  # shard -> ballots summed
    done: set[int] = field(default_factory=set)

    @property
    def options(self) -> int:
        return len(self.spec["options"])

    @property
    def kind(self) -> str:
        return str(self.spec["eligibility"]["kind"])

    @property
    def roster(self) -> str | None:
        e = self.spec["eligibility"]
        e = e["base"] if e["kind"] == "onsite" else e
        return str(e["roster"]) if e["kind"] == "roster" else None

    def shard(self, voter: int) -> int:
        return keys.shard_of(bytes(VOTERS[voter].verify_key), self.spec["shards"])


class ContractMachine(RuleBasedStateMachine):
    def __init__(self, identity: Callable[[str, str], bytes]) -> None:
        super().__init__()
        self.ledger = SerialLedger(CHANNEL)
        self.owner = identity("Org1MSP", "admin")
        self.other_admin = identity("Org2MSP", "admin")
        self.client = identity("Org1MSP", "client")
        self.now = 0
        self.log: list[tuple[bytes, str, tuple[bytes | str, ...], int]] = []
        self.rosters: dict[str, RosterModel] = {}
        self.questions: dict[str, QuestionModel] = {}
        self.refusals = 0

    # -- running and checking one transaction ----------------------------------------------------

    def run(self, creator: bytes, function: str, *args: bytes | str, expect: bool) -> Executed:
        before = state_bytes(self.ledger)
        executed = self.ledger.run(creator, function, *args, timestamp=self.now)
        self.log.append((creator, function, args, self.now))
        response = executed.response
        assert response.status in (200, 400), response.message  # never an internal fault
        assert executed.ok == expect, (
            f"{function}{args!r} at {self.now}: expected {'accept' if expect else 'refuse'}, "
            f"got {response.status} {response.message}"
        )
        if not executed.ok:
            self.refusals += 1
            assert executed.simulation.writes == {}
            assert state_bytes(self.ledger) == before
        return executed

    # -- time -----------------------------------------------------------------------------------

    @rule(seconds=st.integers(0, 200))
    def advance(self, seconds: int) -> None:
        self.now += seconds

    # -- rosters ----------------------------------------------------------------------------------

    @initialize(
        members=st.sets(st.integers(0, len(VOTERS) - 1), min_size=3),
        question=st.fixed_dictionaries(QUESTION_ARGS),
    )
    def start(self, members: set[int], question: dict[str, Any]) -> None:
        # Every run starts with a sealed roster and a question, so that ballots have a target.
        self.create_roster("r1", members, seal=True)
        self.create_question(**{**question, "rid": "r1", "open_now": True})

    @rule(
        rid=st.sampled_from(RIDS),
        members=st.sets(st.integers(0, len(VOTERS) - 1)),
        seal=st.booleans(),
    )
    def create_roster(self, rid: str, members: set[int], seal: bool) -> None:
        exists = rid in self.rosters
        self.run(
            self.owner,
            "CreateRoster",
            encoding.encode({"rid": rid, "title": rid}),
            expect=not exists,
        )
        if not exists:
            self.rosters[rid] = RosterModel()
        if members:
            self.add_entries(rid, members, by_owner=True)
        if seal:
            self.seal(rid)

    @rule(
        rid=st.sampled_from(RIDS),
        members=st.sets(st.integers(0, len(VOTERS) - 1), min_size=1),
        by_owner=st.booleans(),
    )
    def add_entries(self, rid: str, members: set[int], by_owner: bool) -> None:
        roster = self.rosters.get(rid)
        entries = sorted(keys.voter_hash(bytes(VOTERS[i].verify_key)).hex() for i in members)
        expect = (
            roster is not None and by_owner and not roster.sealed and not (members & roster.members)
        )
        creator = self.owner if by_owner else self.other_admin
        self.run(
            creator,
            "AddRosterEntries",
            encoding.encode({"rid": rid, "entries": entries}),
            expect=expect,
        )
        if expect:
            assert roster is not None
            roster.members |= members

    @rule(rid=st.sampled_from(RIDS))
    def seal(self, rid: str) -> None:
        roster = self.rosters.get(rid)
        expect = roster is not None and not roster.sealed and bool(roster.members)
        self.run(self.owner, "SealRoster", rid, expect=expect)
        if expect:
            assert roster is not None
            roster.sealed = True

    # -- questions -----------------------------------------------------------------------------

    @rule(**QUESTION_ARGS)
    def create_question(
        self,
        qid: str,
        rule_kind: str,
        options: int,
        bounds: tuple[int, int],
        threshold: int,
        turnout: str,
        eligibility: str,
        rid: str,
        shards: int,
        delay: int,
        length: int,
        open_now: bool,
    ) -> None:
        rule_json: dict[str, Any] = {"kind": rule_kind}
        if rule_kind == "multi":
            low, high = min(bounds[0], options), min(bounds[1], options)
            rule_json.update(min=min(low, high), max=high)
        if rule_kind == "yesno":
            options = 2
            if turnout == "share" and eligibility == "open":
                turnout = "count"
            min_turnout = {
                "none": {"kind": "none"},
                "count": {"kind": "count", "count": 2},
                "share": {"kind": "share", "bp": 5000},
            }
            rule_json.update(threshold_bp=threshold, min_turnout=min_turnout[turnout])
        roster_base = {"kind": "roster", "roster": rid}
        elig_json: dict[str, Any] = {
            "roster": roster_base,
            "open": {"kind": "open", "registrars": [bytes(REGISTRAR.verify_key).hex()]},
            "onsite": {
                "kind": "onsite",
                "base": roster_base,
                "code_salt": SALT.hex(),
                "code_hash": onsite_code_hash(SALT, qid, CODE).hex(),
            },
        }[eligibility]
        spec = {
            "qid": qid,
            "title": qid,
            "description": "",
            "options": [f"option {i}" for i in range(options)],
            "rule": rule_json,
            "eligibility": elig_json,
            "schedule": {"opens_at": self.now + delay, "closes_at": self.now + delay + length},
            "mode": "open",
            "shards": shards,
        }
        expect = qid not in self.questions and (eligibility == "open" or rid in self.rosters)
        self.run(self.owner, "CreateQuestion", encoding.encode(spec), expect=expect)
        if expect:
            self.questions[qid] = QuestionModel(spec)
            if open_now:
                self._open(qid, by_owner=True)

    def _question(self, qid: str) -> QuestionModel | None:
        return self.questions.get(qid)

    def _pick(self, data: st.DataObject, *states: str) -> str:
        """Mostly a question in one of ``states`` (if any), sometimes any id at all."""
        candidates = sorted(q for q, m in self.questions.items() if not states or m.state in states)
        if candidates and data.draw(st.integers(0, 4), label="known") > 0:
            return data.draw(st.sampled_from(candidates), label="qid")
        return data.draw(st.sampled_from(QIDS), label="qid")

    @rule(data=st.data(), by_owner=st.sampled_from([True, True, True, False]))
    def open_question(self, data: st.DataObject, by_owner: bool) -> None:
        self._open(self._pick(data, "DRAFT"), by_owner)

    def _open(self, qid: str, by_owner: bool) -> None:
        q = self._question(qid)
        roster = self.rosters.get(q.roster) if q and q.roster else None
        expect = (
            q is not None
            and by_owner
            and q.state == "DRAFT"
            and self.now < q.spec["schedule"]["closes_at"]
            and (q.roster is None or (roster is not None and roster.sealed))
        )
        self.run(self.owner if by_owner else self.other_admin, "OpenQuestion", qid, expect=expect)
        if expect:
            assert q is not None
            q.state = "OPEN"
            q.eligible = len(roster.members) if roster else None

    @rule(data=st.data(), reason=st.sampled_from(["", "early", "early"]))
    def close_question(self, data: st.DataObject, reason: str) -> None:
        self._close(self._pick(data, "OPEN"), reason)

    def _close(self, qid: str, reason: str) -> None:
        q = self._question(qid)
        expect = (
            q is not None
            and q.state == "OPEN"
            and (self.now >= q.spec["schedule"]["closes_at"] or reason != "")
        )
        self.run(self.owner, "CloseQuestion", qid, reason, expect=expect)
        if expect:
            assert q is not None
            q.state = "CLOSED"

    @rule(data=st.data())
    def cancel_question(self, data: st.DataObject) -> None:
        qid = self._pick(data)
        q = self._question(qid)
        expect = q is not None and q.state in ("DRAFT", "OPEN")
        self.run(self.owner, "CancelQuestion", qid, "cancelled", expect=expect)
        if expect:
            assert q is not None
            q.state = "CANCELLED"

    # -- ballots -----------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        variant=st.sampled_from(
            ["good"] * 6
            + ["bad_sig", "no_credential", "stranger_credential", "wrong_code", "wrong_channel"]
        ),
    )
    def cast(self, data: st.DataObject, variant: str, voter: int | None = None) -> None:
        qid = self._pick(data, "OPEN")
        q = self._question(qid)
        if voter is None:
            voter = data.draw(st.integers(0, len(VOTERS) - 1), label="voter")
        elif (
            q is not None and q.roster in self.rosters and data.draw(st.booleans(), label="member")
        ):
            members = sorted(self.rosters[q.roster].members)
            if members:
                voter = data.draw(st.sampled_from(members), label="member voter")
        choices = data.draw(st.sets(st.integers(0, 5), max_size=4), label="choices")
        if q is not None and data.draw(st.integers(0, 3), label="valid choices") > 0:
            rule_json = q.spec["rule"]
            low, high = (
                (rule_json["min"], rule_json["max"]) if rule_json["kind"] == "multi" else (1, 1)
            )
            count = data.draw(st.integers(low, high), label="count")
            choices = data.draw(
                st.sets(st.integers(0, q.options - 1), min_size=count, max_size=count),
                label="valid",
            )
        key = VOTERS[voter]
        ordered = tuple(sorted(choices))
        ballot = BoundBallot(
            "elsewhere" if variant == "wrong_channel" else CHANNEL,
            qid,
            ordered,
            VOTER_HEX[voter],
            question_hash(QuestionSpec.from_json(q.spec), None) if q is not None else "00" * 32,
        )
        signer = VOTERS[(voter + 1) % len(VOTERS)] if variant == "bad_sig" else key
        sig = signer.sign(ballot.canonical_bytes()).signature.hex()
        q = self._question(qid)
        credential = None
        if q is not None and q.kind == "open" and variant != "no_credential":
            registrar = STRANGER if variant == "stranger_credential" else REGISTRAR
            credential = issue_credential(
                registrar, channel=CHANNEL, voter=VOTER_HEX[voter], expires_at=2**40
            )
        code = None
        if q is not None and q.kind == "onsite":
            code = "CODE-2" if variant == "wrong_code" else CODE
        request = CastRequest(ballot, sig, credential, code)

        spoiled = q is not None and (
            variant in ("bad_sig", "wrong_channel")
            or (variant in ("no_credential", "stranger_credential") and q.kind == "open")
            or (variant == "wrong_code" and q.kind == "onsite")
        )
        expect = q is not None and not spoiled and q.state == "OPEN"
        if expect:
            assert q is not None
            schedule = q.spec["schedule"]
            rule_json = q.spec["rule"]
            low, high = (
                (rule_json["min"], rule_json["max"]) if rule_json["kind"] == "multi" else (1, 1)
            )
            roster = self.rosters.get(q.roster) if q.roster else None
            expect = (
                schedule["opens_at"] <= self.now < schedule["closes_at"]
                and all(c < q.options for c in ordered)
                and low <= len(ordered) <= high
                and (roster is None or voter in roster.members)
                and voter not in q.ballots
            )
        self.run(self.client, "Cast", encoding.encode(request.to_json()), expect=expect)
        if expect:
            assert q is not None
            q.ballots[voter] = ordered

    @precondition(lambda self: any(q.state == "OPEN" for q in self.questions.values()))
    @rule(
        data=st.data(),
        variants=st.lists(
            st.sampled_from(["good", "good", "good", "good", "bad_sig"]), min_size=1, max_size=8
        ),
    )
    def cast_many(self, data: st.DataObject, variants: list[str]) -> None:
        voters = data.draw(st.permutations(range(len(VOTERS))), label="voters")
        for voter, variant in zip(voters, variants, strict=False):
            self.cast(data, variant, voter)

    # -- aggregation and tally -----------------------------------------------------------------------

    @precondition(lambda self: any(q.state == "CLOSED" for q in self.questions.values()))
    @rule(data=st.data(), limit=st.integers(1, 4), any_admin=st.booleans())
    def aggregate(self, data: st.DataObject, limit: int, any_admin: bool) -> None:
        qid = data.draw(
            st.sampled_from(sorted(q for q, m in self.questions.items() if m.state == "CLOSED"))
        )
        shard = data.draw(st.integers(0, self.questions[qid].spec["shards"]))  # one past the end
        self._aggregate(qid, shard, limit, self.other_admin if any_admin else self.owner)

    def _aggregate(self, qid: str, shard: int, limit: int, creator: bytes) -> bool:
        q = self.questions[qid]
        expect = shard < q.spec["shards"] and shard not in q.done
        executed = self.run(creator, "Aggregate", qid, str(shard), str(limit), expect=expect)
        if not expect:
            return False
        in_shard = sum(1 for v in q.ballots if q.shard(v) == shard)
        summed = q.aggregated.get(shard, 0)
        remaining = in_shard - summed
        result = executed.payload()
        # The bound: one call reads at most ``limit`` ballots, and resumes where the last stopped.
        assert len(executed.simulation.range_reads[0].reads) == min(limit, remaining)
        q.aggregated[shard] = summed + min(limit, remaining)
        assert result["ballots"] == q.aggregated[shard]
        assert result["done"] is (remaining < limit)
        if result["done"]:
            q.done.add(shard)
        return bool(result["done"])

    @precondition(lambda self: any(q.state == "OPEN" for q in self.questions.values()))
    @rule(data=st.data(), limit=st.integers(1, 4))
    def close_and_count(self, data: st.DataObject, limit: int) -> None:
        """Close a question early, aggregate every shard in batches of ``limit``, and tally."""
        qid = data.draw(
            st.sampled_from(sorted(q for q, m in self.questions.items() if m.state == "OPEN"))
        )
        self._close(qid, "counting now")
        for shard in range(self.questions[qid].spec["shards"]):
            while not self._aggregate(qid, shard, limit, self.owner):
                pass
        self._tally(qid)

    @rule(data=st.data())
    def tally(self, data: st.DataObject) -> None:
        self._tally(self._pick(data, "CLOSED"))

    def _tally(self, qid: str) -> None:
        q = self._question(qid)
        expect = q is not None and q.state == "CLOSED" and len(q.done) == q.spec["shards"]
        executed = self.run(self.owner, "Tally", qid, expect=expect)
        if not expect:
            return
        assert q is not None
        q.state = "TALLIED"
        tally = executed.payload()
        counts = [0] * q.options
        for choices in q.ballots.values():
            for c in choices:
                counts[c] += 1
        assert tally["ballots"] == len(q.ballots)
        assert tally["counts"] == counts
        assert tally["eligible"] == q.eligible
        # And a direct count of the ballot records on the ledger agrees.
        start, end = partial_key_range(keys.BALLOT, [qid])
        on_ledger = [0] * q.options
        for _, raw, _ in self.ledger.state.range(start, end):
            for c in encoding.decode(raw, max_size=1 << 20)["ballot"]["choices"]:
                on_ledger[c] += 1
        assert on_ledger == counts

    # -- invariants ----------------------------------------------------------------------------------

    @invariant()
    def questions_follow_the_lifecycle(self) -> None:
        listed = self.ledger.query(self.client, "ListQuestions", timestamp=self.now).payload()
        assert {q["qid"]: q["state"] for q in listed} == {
            k: m.state for k, m in self.questions.items()
        }
        for question in listed:
            trail = [t["state"] for t in question["transitions"]]
            assert trail[0] == "DRAFT"
            for a, b in itertools.pairwise(trail):
                assert b in NEXT[a], trail
            assert trail[-1] == question["state"]
            assert question["eligible"] == self.questions[question["qid"]].eligible

    @invariant()
    def one_ballot_per_voter_and_question(self) -> None:
        start, end = partial_key_range(keys.BALLOT, [])
        seen: dict[str, set[str]] = {}
        for key, _, _ in self.ledger.state.range(start, end):
            _type, qid, _shard, voter = key[1:-1].split("\x00")
            assert voter not in seen.setdefault(qid, set())
            seen[qid].add(voter)
        for qid, q in self.questions.items():
            assert seen.get(qid, set()) == {VOTER_HEX[v] for v in q.ballots}
        start, end = partial_key_range(keys.PARTICIPATION, [])
        history = {
            tuple(k[1:-1].split("\x00")[1:]) for k, _, _ in self.ledger.state.range(start, end)
        }
        assert history == {(voter, qid) for qid, voters in seen.items() for voter in voters}

    def teardown(self) -> None:
        replay = SerialLedger(CHANNEL)
        for creator, function, args, timestamp in self.log:
            replay.run(creator, function, *args, timestamp=timestamp)
        assert state_bytes(replay) == state_bytes(self.ledger)
        assert replay.height == self.ledger.height


def test_contract_state_machine(identity: Callable[[str, str], bytes]) -> None:
    run_state_machine_as_test(
        lambda: ContractMachine(identity),
        settings=settings(
            max_examples=60,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
