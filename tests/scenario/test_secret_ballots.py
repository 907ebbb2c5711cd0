"""End to end, secret ballots on the in-process ledger: a 3-of-5 key ceremony, a 3-of-30
question and a yes/no question with a dozen voters each, two trustees absent at decryption, the
tallies, an audit that re-executes every transaction with the contract and recounts the secret
tallies from state, and then one tampered proof that makes the audit fail, naming it.

The audit here is ``replay_chain``'s procedure without the blocks (``SerialLedger`` makes none):
each committed transaction runs again on a fresh state with its own id, time, creator and
arguments, its response and writes must equal those recorded, and ``recount_tallies`` checks
every tally on the rebuilt state (the decryption proofs verify, and the counts are the proved
plaintexts of the homomorphic sum of the question's ballots).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nacl.signing
import pytest
from testkit import creator_bytes

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import invoke
from mvote.chaincode._crypto.group import point_from_hex
from mvote.chaincode._records import QuestionSpec
from mvote.chaincode._simulation import (
    MemoryKeySpace,
    SerialLedger,
    TxContext,
    TxSimulator,
    Version,
)
from mvote.chaincode._stub import Timestamp
from mvote.client import _trustee as tr
from mvote.client._secret import prepare_secret_ballot
from mvote.verifier._chain import Finding
from mvote.verifier._replay import recount_tallies

CHANNEL = "seoul-votes"
T_SETUP, OPENS, T_VOTE, CLOSES = 10, 100, 500, 1000
VOTERS = 12


@dataclass(frozen=True)
class Recorded:
    """What a committed transaction carried: its inputs and what the endorser recorded."""

    tx_id: str
    creator: bytes
    args: list[bytes]
    at: int
    status: int
    payload: bytes
    writes: dict[str, bytes | None]


class Operator:
    """Submits transactions as an admin of Org1 and keeps the committed ones, in order."""

    def __init__(self, ledger: SerialLedger, admin: bytes) -> None:
        self.ledger, self.admin = ledger, admin
        self.log: list[Recorded] = []

    def ok(self, function: str, *args: bytes | str, at: int = T_SETUP) -> Any:
        executed = self.ledger.run(self.admin, function, *args, timestamp=at)
        assert executed.ok, executed.response.message
        raw = [function.encode()] + [a.encode() if isinstance(a, str) else a for a in args]
        self.log.append(
            Recorded(
                executed.tx_id,
                self.admin,
                raw,
                at,
                executed.response.status,
                executed.response.payload,
                dict(executed.simulation.writes),
            )
        )
        return executed.payload()

    def query(self, function: str, *args: str) -> Any:
        executed = self.ledger.query(self.admin, function, *args, timestamp=T_SETUP)
        assert executed.ok, executed.response.message
        return executed.payload()


def audit(log: list[Recorded]) -> tuple[list[Finding], int]:
    """Re-execute every recorded transaction on a fresh state, then recount every tally."""
    state = MemoryKeySpace()
    findings: list[Finding] = []
    for height, tx in enumerate(log, 1):
        context = TxContext(tx.tx_id, CHANNEL, Timestamp(tx.at, 0), tx.creator, tx.args)
        simulator = TxSimulator(state, context)
        response = invoke(simulator)
        if (response.status, response.payload) != (tx.status, tx.payload):
            findings.append(
                Finding(height, 0, tx.tx_id, "replay_response", f"recomputed {response.message}")
            )
        if simulator.simulation.writes != tx.writes:
            findings.append(Finding(height, 0, tx.tx_id, "replay_writes", "writes differ"))
        state.apply(tx.writes, Version(height, 0))
    recount, tallies = recount_tallies(state)
    return findings + recount, tallies


@pytest.fixture(scope="module")
def election() -> tuple[Operator, dict[str, Any]]:
    ledger = SerialLedger(CHANNEL)
    op = Operator(ledger, creator_bytes("Org1MSP", "admin"))
    rng = random.Random(6)

    # The ceremony: 3 of 5 trustees.
    team = [
        tr.new_trustee(CHANNEL, "board-2026", 5, 3, i, nacl.signing.SigningKey(bytes([i]) * 32))
        for i in range(1, 6)
    ]
    record = op.ok(
        "CreateCeremony", tr.ceremony_spec("board-2026", 5, 3, [t.registration() for t in team])
    )
    for t in team:
        op.ok("PostDealing", tr.dealing_posting(t, record["trustees"]))
    dealings = [
        encoding.decode(ledger.state.get(keys.dealing_key("board-2026", i))[0], max_size=1 << 24)  # type: ignore[index]
        for i in range(1, 6)
    ]
    for t in team:
        op.ok("PostCheck", tr.check_posting(t, dealings))
    ceremony = op.ok("CompleteCeremony", "board-2026")
    election_key = point_from_hex(ceremony["election_key"], "election_key")

    # The voters, on a sealed roster.
    voters = [nacl.signing.SigningKey(i.to_bytes(4, "big") * 8) for i in range(1, VOTERS + 1)]
    op.ok("CreateRoster", encoding.encode({"rid": "members", "title": "Members"}))
    entries = sorted(keys.voter_hash(bytes(v.verify_key)).hex() for v in voters)
    op.ok("AddRosterEntries", encoding.encode({"rid": "members", "entries": entries}))
    op.ok("SealRoster", "members")

    def question(qid: str, options: list[str], rule: dict[str, Any]) -> QuestionSpec:
        spec = {
            "qid": qid,
            "title": qid,
            "description": "",
            "options": options,
            "rule": rule,
            "eligibility": {"kind": "roster", "roster": "members"},
            "schedule": {"opens_at": OPENS, "closes_at": CLOSES},
            "mode": "secret",
            "shards": 2,
            "election": "board-2026",
        }
        op.ok("CreateQuestion", encoding.encode(spec))
        op.ok("OpenQuestion", qid, at=T_SETUP + 1)
        return QuestionSpec.from_json(spec)

    board = question(
        "board", [f"candidate-{i}" for i in range(30)], {"kind": "multi", "min": 0, "max": 3}
    )
    budget = question(
        "budget",
        ["yes", "no"],
        {"kind": "yesno", "threshold_bp": 5000, "min_turnout": {"kind": "share", "bp": 5000}},
    )
    expected: dict[str, list[int]] = {"board": [0] * 30, "budget": [0, 0]}
    for voter in voters:
        picks = sorted(rng.sample(range(30), rng.randint(0, 3)))
        yes_no = [rng.choice([0, 0, 1])]
        for spec, choices in ((board, picks), (budget, yes_no)):
            prepared = prepare_secret_ballot(
                voter, channel=CHANNEL, question=spec, election_key=election_key, choices=choices
            )
            op.ok("Cast", encoding.encode(prepared.request.to_json()), at=T_VOTE)
            for c in choices:
                expected[spec.qid][c] += 1

    # Closing, aggregation in bounded steps, two trustees (2 and 4) absent.
    tallies = {}
    for qid in ("board", "budget"):
        op.ok("CloseQuestion", qid, at=CLOSES)
        for shard in range(2):
            while not op.ok("Aggregate", qid, str(shard), "5", at=CLOSES + 1)["done"]:
                pass
        totals = tr.question_totals([op.query("GetAggregate", qid, str(s)) for s in range(2)])
        for t in (team[0], team[2], team[4]):
            op.ok("PostDecryption", tr.decryption_posting(t, qid, totals), at=CLOSES + 2)
        tallies[qid] = op.ok("Tally", qid, at=CLOSES + 3)
    return op, {"tallies": tallies, "expected": expected}


def test_the_tallies_are_right(election: tuple[Operator, dict[str, Any]]) -> None:
    _, facts = election
    board, budget = facts["tallies"]["board"], facts["tallies"]["budget"]
    assert board["counts"] == facts["expected"]["board"]
    assert budget["counts"] == facts["expected"]["budget"]
    assert board["ballots"] == budget["ballots"] == VOTERS
    top = max(board["counts"])
    assert board["outcome"]["winners"] == [i for i, c in enumerate(board["counts"]) if c == top]
    yes = budget["counts"][0]
    assert budget["outcome"]["passed"] == (yes * 2 > VOTERS)
    assert budget["outcome"]["turnout_met"] is True
    for tally in (board, budget):
        assert tally["decryption"]["trustees"] == [1, 3, 5]
        assert len(tally["decryption"]["lagrange"]) == 3


def test_the_audit_passes(election: tuple[Operator, dict[str, Any]]) -> None:
    op, _ = election
    findings, tallies = audit(op.log)
    assert findings == []
    assert tallies == 2


def _tamper(
    log: list[Recorded], index: int, change: Callable[[Recorded], Recorded]
) -> list[Recorded]:
    return [change(tx) if i == index else tx for i, tx in enumerate(log)]


def test_a_tampered_partial_decryption_proof_is_named(
    election: tuple[Operator, dict[str, Any]],
) -> None:
    op, _ = election
    index = max(i for i, tx in enumerate(op.log) if tx.args[:2] == [b"Tally", b"board"])
    tally_key = keys.tally_key("board")

    def forge(tx: Recorded) -> Recorded:
        # The endorsers recorded a tally whose third partial decryption of option 7 has another
        # response (a lie the contract would never write).
        value = encoding.decode(tx.writes[tally_key] or b"", max_size=1 << 24)
        value["decryption"]["partials"][2]["partials"][7]["proof"]["v"] = "07" + "00" * 31
        return dataclasses.replace(tx, writes={**tx.writes, tally_key: encoding.encode(value)})

    findings, _ = audit(_tamper(op.log, index, forge))
    recount = [f for f in findings if f.check == "tally_recount"]
    assert len(recount) == 1
    assert "BAD_PROOF" in recount[0].message
    assert "decryption.partials[2].partials[7].proof" in recount[0].message


def test_a_tampered_ballot_proof_is_named(election: tuple[Operator, dict[str, Any]]) -> None:
    op, _ = election
    index = next(i for i, tx in enumerate(op.log) if tx.args[0] == b"Cast")

    def forge(tx: Recorded) -> Recorded:
        # The recorded request carries a ballot whose option-4 proof response was altered, signed
        # by its (dishonest) voter, and the endorsers accepted it.
        value = encoding.decode(tx.args[1], max_size=1 << 24)
        value["ballot"]["encrypted"]["selections"][4]["proof"]["v0"] = "05" + "00" * 31
        voter = nacl.signing.SigningKey((1).to_bytes(4, "big") * 8)
        assert value["ballot"]["voter"] == bytes(voter.verify_key).hex()
        value["sig"] = voter.sign(encoding.encode(value["ballot"])).signature.hex()
        return dataclasses.replace(tx, args=[tx.args[0], encoding.encode(value)])

    findings, _ = audit(_tamper(op.log, index, forge))
    assert [f.check for f in findings] == ["replay_response", "replay_writes"]
    assert "ballot.encrypted.selections[4].proof" in findings[0].message
