"""The operations endpoint of a real ``mvote node start`` (its gateway processes included):
/metrics moves by exactly what was cast and refused, /healthz answers, refusals are logged with
their code and never the refused ballot's content or key; the node found through its
listening.json (``--port 0``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from node_support import cast_args, cast_request, open_question_spec, voter_key
from served_support import Served

from mvote.chaincode._errors import AlreadyVoted
from mvote.chaincode._records import QuestionSpec
from mvote.cli._connect import connect
from mvote.node.listening import LISTENING_FILE, running_node
from mvote.node.material import init_network
from mvote.verifier._mvcc import MVCC_READ_CONFLICT

BALLOTS = 3
MVOTE = (sys.executable, "-m", "mvote")


def exposition(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        return str(reply.read().decode())


def scrape(address: str) -> dict[str, float]:
    """Every sample of /metrics as ``name{labels}`` -> value."""
    text = exposition(address)
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def moved(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def test_metrics_health_and_refusal_log_of_a_running_node(tmp_path: Path) -> None:
    directory = tmp_path / "network"
    init_network(directory, "a,b")
    log = tmp_path / "node.log"
    served = Served(directory, log, "--log-level", "info")
    try:
        operations = served.listening["operations"]
        # --port 0: every listener took a free port, and the file says which.
        found = running_node(directory)
        assert found is not None and found.grpc == served.listening["grpc"]
        assert found.operations == operations and found.pid == served.process.pid

        with urllib.request.urlopen(f"http://{operations}/healthz", timeout=10) as reply:
            assert reply.status == 200 and json.load(reply)["status"] == "OK"

        before = scrape(operations)
        spec = open_question_spec("q-ops", time.time())
        voters = [voter_key(i) for i in range(BALLOTS)]
        # No --node: the CLI's connection finds the node in listening.json.
        with connect(directory, None, None, None, default_role="admin") as conn:
            contract = conn.contract
            contract.create_question(QuestionSpec.from_json(spec))
            contract.open_question("q-ops")
            for voter in voters:
                contract.cast(cast_request(conn.channel_name, spec, voter, 0))
            second = cast_request(conn.channel_name, spec, voters[0], 1)
            with pytest.raises(AlreadyVoted):
                contract.cast(second)
            # A race of one voter with itself: both ballots endorsed before either is ordered;
            # the second to commit is an MVCC conflict (DESIGN.md: the double-vote rule).
            racing = voter_key(BALLOTS)
            chaincode = conn.network().contract("mvote")
            endorsed = [
                chaincode.new_proposal(
                    "Cast", [cast_args(conn.channel_name, spec, racing, choice)]
                ).endorse()
                for choice in (0, 1)
            ]
            codes = sorted(t.submit().status(60).code for t in endorsed)
            assert codes == [0, MVCC_READ_CONFLICT]
            height = len(conn.blocks(0))
        after = scrape(operations)
        text = exposition(operations)
        # No voter key, and not even the question, in any label.
        for voter in voters:
            assert bytes(voter.verify_key).hex() not in text
        assert "q-ops" not in text
        # The console command too: no --node, no $MVOTE_NODE, a node on a port no one typed.
        env = {k: v for k, v in os.environ.items() if k != "MVOTE_NODE"}
        shown = subprocess.run(
            [*MVOTE, "question", "show", "q-ops", "--network", str(directory), "--json"],
            capture_output=True, text=True, timeout=60, env=env, check=False,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["state"] == "OPEN"
    finally:
        served.process.terminate()
        served.process.wait(timeout=30)
        served.close()
    assert served.process.returncode == 0

    # Three ballots and the race's winner; the race's loser wrote nothing.
    assert moved(before, after, "mvote_ballots_committed_total") == BALLOTS + 1
    assert moved(before, after, 'mvote_refusals_total{code="ALREADY_VOTED",status="ABORTED"}') == 1
    assert moved(before, after, "mvote_mvcc_conflicts_total") == 1
    conflict = 'mvote_transactions_committed_total{validation_code="MVCC_READ_CONFLICT"}'
    assert moved(before, after, conflict) == 1
    # Create, open, three ballots and the race's winner: VALID, each in a block of its own or
    # sharing one; the height is the ledger's.
    valid = 'mvote_transactions_committed_total{validation_code="VALID"}'
    assert moved(before, after, valid) == 2 + BALLOTS + 1
    assert after["mvote_block_height"] == height
    blocks = after["mvote_block_height"] - before["mvote_block_height"]
    assert moved(before, after, "mvote_commit_seconds_count") == blocks
    assert moved(before, after, "mvote_order_seconds_count") == 2 + BALLOTS + 2
    # Endorsed in the gateway processes: create, open, three ballots, the refused one and the
    # race's two.
    assert moved(before, after, "mvote_endorse_seconds_count") == 3 + BALLOTS + 2
    assert after['mvote_streams_open{kind="commit status"}'] == 0

    # The refusal is logged with its code; neither the ballot nor the voter's key is.
    text = log.read_text()
    refusals = [
        json.loads(line)["msg"]
        for line in text.splitlines()
        if line.startswith("{") and '"mvote.node.refusals"' in line
    ]
    assert refusals == ["refused: ALREADY_VOTED (ABORTED) field ballot.voter"]
    assert second.ballot.voter not in text
    assert second.sig not in text
    assert second.ballot.tracker() not in text
    # Stopped cleanly: the file saying where it listened is gone.
    assert not (directory / LISTENING_FILE).exists()


def test_a_taken_operations_port_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    directory = tmp_path / "network"
    init_network(directory, "a")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = subprocess.run(
            [*MVOTE, "node", "start", str(directory), "--port", "0",
             "--operations-port", str(port)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert started.returncode == 2, started.stderr
    event = json.loads(started.stdout.strip().splitlines()[-1])
    assert event["event"] == "error"
    assert event["error"].startswith(f"listen.operations: cannot bind 127.0.0.1:{port}")
    # Nothing says a node runs there, and the ledger was closed: it opens again.
    assert running_node(directory) is None
    assert not (directory / LISTENING_FILE).exists()
