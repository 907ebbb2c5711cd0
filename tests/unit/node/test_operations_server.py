"""The operations endpoint (a real HTTP server on an ephemeral port), the metrics' labels and
the node's listening.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvote import __version__
from mvote.node.errors import ConfigInvalid
from mvote.node.listening import LISTENING_FILE, Listening, forget, running_node
from mvote.node.metrics import UNTYPED, NodeMetrics, refusal_code
from mvote.node.operations import OperationsServer


def get(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


@pytest.fixture
def operations() -> Iterator[OperationsServer]:
    with OperationsServer("127.0.0.1", 0, NodeMetrics()) as server:
        yield server


def test_metrics_endpoint_serves_the_prometheus_text(operations: OperationsServer) -> None:
    operations.metrics.ballots.inc(3)
    operations.metrics.refused("ALREADY_VOTED", "ABORTED", "ballot.voter")
    status, kind, body = get(f"http://{operations.address}/metrics")
    assert status == 200 and kind.startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert "\nmvote_ballots_committed_total 3.0\n" in text
    assert 'mvote_refusals_total{code="ALREADY_VOTED",status="ABORTED"} 1.0' in text
    assert "# TYPE mvote_endorse_seconds histogram" in text


def test_healthz_fails_with_the_failing_component_and_recovers(
    operations: OperationsServer,
) -> None:
    state: dict[str, str | None] = {"reason": None}
    operations.check("node", lambda: state["reason"])
    operations.check("broken", lambda: None)
    status, kind, body = get(f"http://{operations.address}/healthz")
    assert (status, kind, json.loads(body)["status"]) == (200, "application/json", "OK")

    state["reason"] = "not running"

    def broken() -> str | None:
        raise RuntimeError("secret detail")

    operations.check("broken", broken)
    status, _, body = get(f"http://{operations.address}/healthz")
    doc = json.loads(body)
    assert status == 503 and doc["status"] == "Service Unavailable"
    assert doc["failed_checks"] == [
        {"component": "node", "reason": "not running"},
        {"component": "broken", "reason": "the check raised RuntimeError"},
    ]
    assert b"secret detail" not in body


def test_unknown_paths_and_methods_are_refused(operations: OperationsServer) -> None:
    status, _, body = get(f"http://{operations.address}/admin")
    assert status == 404 and b"/metrics" in body
    status, _, _ = get(f"http://{operations.address}/metrics", method="POST")
    assert status == 405
    status, _, body = get(f"http://{operations.address}/version")
    assert status == 200 and json.loads(body) == {"version": __version__}


def test_a_taken_operations_port_is_an_os_error(operations: OperationsServer) -> None:
    port = operations.endpoint.port if operations.endpoint else 0
    with pytest.raises(OSError):
        OperationsServer("127.0.0.1", port, NodeMetrics()).start()


def test_refusal_labels_are_bounded_to_known_codes() -> None:
    assert refusal_code("ALREADY_VOTED") == "ALREADY_VOTED"
    assert refusal_code("TOO_MANY_STREAMS") == "TOO_MANY_STREAMS"
    # A code no table defines (whatever a client managed to send) is not a label of its own.
    assert refusal_code("voter-4f2a") == UNTYPED
    assert refusal_code(None) == UNTYPED


# --- listening.json ------------------------------------------------------------------------------


def test_listening_file_is_written_whole_and_read_back(tmp_path: Path) -> None:
    here = Listening(grpc="127.0.0.1:40001", tls=True, pid=os.getpid(), operations="127.0.0.1:1")
    path = here.save(tmp_path)
    assert path == tmp_path / LISTENING_FILE
    assert [p.name for p in tmp_path.iterdir()] == [LISTENING_FILE]  # no temporary left
    assert running_node(tmp_path) == here
    forget(tmp_path, os.getpid() + 1)  # another process's file is left alone
    assert path.exists()
    forget(tmp_path, os.getpid())
    assert running_node(tmp_path) is None


def test_listening_file_of_a_process_that_is_gone_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    Listening(grpc="127.0.0.1:40001", tls=True, pid=int(gone.stdout)).save(tmp_path)
    assert running_node(tmp_path) is None


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("not json", LISTENING_FILE),
        ('{"grpc": "127.0.0.1", "tls": true, "pid": 1}', LISTENING_FILE),
        ('{"tls": true, "pid": 1}', LISTENING_FILE),
        ('{"grpc": "127.0.0.1:1", "tls": "yes", "pid": 1}', LISTENING_FILE),
    ],
)
def test_a_bad_listening_file_is_refused_naming_it(
    tmp_path: Path, content: str, field: str
) -> None:
    (tmp_path / LISTENING_FILE).write_text(content)
    with pytest.raises(ConfigInvalid) as refused:
        running_node(tmp_path)
    assert refused.value.field == field
    assert str(tmp_path / LISTENING_FILE) in refused.value.message
