"""The newcomer's scenario: every ballot rule and eligibility kind, refusals, tallies.

The scenario itself runs on ``InProcessChannel`` (a serial in-memory ledger) so its ballots can be
counted in state directly; ``mvote demo`` runs it on the embedded node through the Gateway and
ends with ``mvote-verify receipt`` and ``mvote-verify audit``.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import nacl.signing
from testkit import creator_bytes

from mvote import demo
from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._records import MAX_ROSTER_BATCH, BallotRecord
from mvote.chaincode._stub import split_composite_key

OPERATORS = demo.Operators(
    cityhall=creator_bytes("CityhallMSP", "admin"),
    district=creator_bytes("DistrictMSP", "admin"),
    education=creator_bytes("EducationMSP", "admin"),
    client=creator_bytes("CityhallMSP", "client"),
)


def _counted_ballots(channel: demo.InProcessChannel) -> dict[str, Counter[int]]:
    """Count every ballot record in state directly, without the contract's aggregation."""
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for key, value, _ in channel.ledger.state.items():
        kind, attributes = split_composite_key(key)
        if kind != keys.BALLOT:
            continue
        record = BallotRecord.from_json(encoding.decode(value, max_size=1 << 16))
        assert record.ballot.qid == attributes[0]
        counts[record.ballot.qid]["ballots"] += 1
        counts[record.ballot.qid].update(record.ballot.choices)
    return counts


def test_demo_covers_every_rule_and_eligibility_and_tallies_exactly() -> None:
    channel = demo.InProcessChannel("mvote")
    lines: list[str] = []
    story = demo.run(channel, OPERATORS, voters=60, seed=3, out=lines.append)
    tallies = story.tallies
    assert len(story.ballots) == sum(t.result.ballots for t in tallies)

    rules = {t.question.rule.kind for t in tallies}
    eligibility = {t.question.eligibility.kind for t in tallies}
    assert rules == {"single", "multi", "yesno"}
    assert eligibility == {"roster", "open"}
    assert any(t.question.eligibility.onsite for t in tallies)

    direct = _counted_ballots(channel)
    for t in tallies:
        qid = t.question.qid
        assert t.result.ballots == direct[qid]["ballots"] > 0
        assert list(t.result.counts) == [direct[qid][i] for i in range(len(t.question.options))]
        question = channel.evaluate(OPERATORS.client, "GetQuestion", qid)
        assert question["state"] == "TALLIED"

    refusals = [line for line in lines if "refused" in line]
    assert [line.rsplit(": ", 1)[1] for line in refusals] == [
        "ALREADY_VOTED",
        "NOT_ELIGIBLE",
        "BAD_ONSITE_CODE",
        "NOT_ELIGIBLE",
        "RULE_VIOLATION",
    ]


def test_demo_is_reproducible_from_its_seed() -> None:
    first = demo.run(demo.InProcessChannel(), OPERATORS, voters=24, seed=11, out=lambda _: None)
    second = demo.run(demo.InProcessChannel(), OPERATORS, voters=24, seed=11, out=lambda _: None)
    assert [t.result.counts for t in first.tallies] == [t.result.counts for t in second.tallies]


def test_mvote_demo_command_runs_on_the_embedded_node_and_verifies(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mvote", "demo", "--dir", str(tmp_path), "--voters", "24"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "genesis block hash" in out
    assert "(TLS)" in out
    assert out.count("outcome:") == 3
    assert out.count("refused ") == 5
    assert "$ mvote-verify receipt" in out and "$ mvote-verify audit" in out
    assert "receipt      VERIFIED" in out
    assert "audit        VERIFIED" in out
    assert "node stopped" in out
    for name in ("network/genesis.block", "chain.bin", "receipt.json"):
        assert (tmp_path / name).exists(), name
    # The files it leaves are what a voter and an auditor hold: check them again, by hand.
    from mvote.cli.demo_cmd import verify_command

    anchor = out.split("genesis block hash ")[1].split()[0]
    again = subprocess.run(
        [*verify_command(), "receipt", str(tmp_path / "receipt.json"), "--genesis-hash", anchor],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stdout


def test_demo_rosters_larger_than_one_batch_are_added_in_batches() -> None:
    # `mvote demo --voters 20000` has 6666 students: more than one AddRosterEntries accepts.
    channel = demo.InProcessChannel("mvote")
    members = [nacl.signing.SigningKey(i.to_bytes(32, "big")) for i in range(MAX_ROSTER_BATCH + 1)]
    demo._roster(channel, OPERATORS.education, "big", "A large school", members)
    roster = channel.evaluate(OPERATORS.client, "GetRoster", "big")
    assert (roster["count"], roster["sealed"]) == (MAX_ROSTER_BATCH + 1, True)
