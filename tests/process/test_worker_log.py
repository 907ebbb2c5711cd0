"""The validation worker process (mvote/node/parallel.py) writes the node's JSON log lines and
nothing else into the node's log (its stderr is the node's): a failure, the node closing its
pipe, or a Ctrl-C to the process group is never a raw Python traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from node_support import ORGS

from mvote.node.frames import python_module, read_frame, write_frame
from mvote.node.material import NetworkMaterial, init_network


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> NetworkMaterial:
    return init_network(tmp_path_factory.mktemp("net") / "net", ORGS)


def start_worker() -> subprocess.Popen[bytes]:
    argv, env = python_module("mvote.node.parallel")
    return subprocess.Popen(
        [*argv, "INFO"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def json_lines(stderr: bytes) -> list[dict[str, object]]:
    """Every line of ``stderr``, each of which must be one JSON log record."""
    records = []
    for line in stderr.decode().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a line of the worker's log is not JSON: {line!r}\n{stderr.decode()}")
    return records


def ready_worker(material: NetworkMaterial) -> subprocess.Popen[bytes]:
    worker = start_worker()
    assert worker.stdin is not None and worker.stdout is not None
    write_frame(worker.stdin, material.genesis_path.read_bytes())
    assert read_frame(worker.stdout) == "ready"
    return worker


def test_a_worker_that_fails_logs_one_json_error() -> None:
    worker = start_worker()
    _, stderr = worker.communicate(b"\x00\x00\x00\x00\x00\x00\x00\x03abc", timeout=60)
    assert worker.returncode == 1
    records = json_lines(stderr)
    assert [r["level"] for r in records] == ["error"]
    assert "validation worker failed" in str(records[0]["msg"])


def test_a_worker_whose_node_closed_the_pipe_logs_json(material: NetworkMaterial) -> None:
    worker = ready_worker(material)
    assert worker.stdin is not None and worker.stdout is not None and worker.stderr is not None
    worker.stdout.close()  # the node went away before reading the answer
    write_frame(worker.stdin, ({}, {}, []))
    worker.stdin.close()
    stderr = worker.stderr.read()
    assert worker.wait(30) == 1
    records = json_lines(stderr)
    assert [r["level"] for r in records] == ["error"]
    assert "closed its pipe" in str(records[0]["msg"])


def test_a_ctrl_c_to_the_process_group_leaves_the_worker_to_the_node(
    material: NetworkMaterial,
) -> None:
    worker = ready_worker(material)
    assert worker.stdin is not None and worker.stdout is not None and worker.stderr is not None
    os.kill(worker.pid, signal.SIGINT)
    write_frame(worker.stdin, ({}, {}, []))
    assert read_frame(worker.stdout) == []  # still serving the node
    worker.stdin.close()  # how the node ends it
    assert worker.wait(30) == 0
    assert json_lines(worker.stderr.read()) == []
    worker.stdout.close()
    worker.stderr.close()
