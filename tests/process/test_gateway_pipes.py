"""The pipes between the node process and its gateway processes under large frames, and the
gateway processes' lifecycle around the node's (serving.py, frames.py).

With ~100 KB transactions every ``order`` frame and every ``committed`` frame is larger than a
pipe's buffer. The node once deadlocked with its gateway processes there: a gateway process's
reader waited on the send lock held by a gRPC thread blocked writing into the full pipe to the
node, while the node's committer held its own send lock writing a large ``committed`` frame into
the full pipe the gateway process no longer read. Submits then failed after 30 s and the node
ignored SIGTERM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from node_support import ORGS, Client, open_question_spec
from served_support import Served, wait_gone

from mvote.chaincode import encoding
from mvote.client._errors import SubmitError
from mvote.client._gateway import Gateway
from mvote.client._identity import load_signer
from mvote.node.frames import python_module, read_frame, write_frame
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.node.serving import FOLLOWERS_DIR, HEIGHT_FILE, Setup, SharedHeight

CLIENTS = 16
PER_CLIENT = 25
#: Options of a question: ~35 KB of text, which the transaction carries three times (argument,
#: write, response payload): ~110 KB per transaction.
OPTIONS = 200
OPTION_CHARS = 175


def big_spec(qid: str) -> dict[str, Any]:
    options = [f"{i:04d} " + "x" * (OPTION_CHARS - 5) for i in range(OPTIONS)]
    return open_question_spec(qid, time.time(), options=options)


def submit_big_questions(
    material: NetworkMaterial, served: Served, client: int, results: list[object]
) -> None:
    """Submit PER_CLIENT large CreateQuestion transactions, then wait for their commits; append
    the validation code of each, or the error that ended the client."""
    org = material.peer_orgs[0]
    admin = load_signer(org.admin.msp_dir, org.admin.msp_id)
    ca = Path(served.listening["tls_ca"]).read_bytes()
    try:
        with Gateway.connect(served.listening["grpc"], admin, tls_root_certificates=ca) as gw:
            contract = gw.network(material.config.channel).contract(material.config.chaincode)
            submitted = []
            for n in range(PER_CLIENT):
                spec = encoding.encode(big_spec(f"q-big-{client}-{n}"))
                assert len(spec) > 30_000
                submitted.append(contract.submit_async("CreateQuestion", [spec]))
            for s in submitted:
                results.append(s.status(120).code)
    except Exception as exc:
        results.append(exc)


def test_large_transactions_through_gateway_processes_all_commit_and_sigterm_stops(
    tmp_path: Path,
) -> None:
    material = init_network(tmp_path / "net", ORGS)
    served = Served(material.directory, tmp_path / "node.log")
    try:
        assert len(served.gateways) == 2
        results: list[object] = []
        clients = [
            threading.Thread(target=submit_big_questions, args=(material, served, i, results))
            for i in range(CLIENTS)
        ]
        for c in clients:
            c.start()
        for c in clients:
            c.join(600)
        assert not any(c.is_alive() for c in clients), "clients still waiting after 600 s"
        errors = [r for r in results if not isinstance(r, int)]
        assert not errors, f"{len(errors)} clients failed, first: {errors[0]!r}"
        assert results == [0] * (CLIENTS * PER_CLIENT)
        served.process.send_signal(signal.SIGTERM)
        stopped = served.event("stopped")
        assert served.process.wait(30) == 0
        assert stopped["height"] >= 3
        assert not wait_gone(served.gateways, 10)
    finally:
        served.close()


# -- one gateway process, with the test as its node ---------------------------------------------


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[NetworkMaterial, int]:
    """A network whose ledger holds genesis and the chaincode definition; its height."""
    material = init_network(tmp_path_factory.mktemp("net") / "net", ORGS)
    with Node.open(material.directory) as node:
        node.start()
        Client(node, material).open_question("q-warm-up")
        height = node.ledger.height
    ledger_dir = material.directory / material.config.ledger_dir
    SharedHeight(ledger_dir / FOLLOWERS_DIR / HEIGHT_FILE, writable=True).set(height)
    return material, height


class LoneGateway:
    """``python -m mvote.node.serving`` started and told its Setup as the node does, over real
    pipes whose node end is the test's: the test plays a node that dies."""

    def __init__(self, network: tuple[NetworkMaterial, int], log: Path) -> None:
        material, height = network
        self.material = material
        argv, env = python_module("mvote.node.serving")
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.to_gateway = self.process.stdin
        self.from_gateway = self.process.stdout
        setup = Setup(material.directory.resolve(), 0, 0, False, height, "warning", 1.0)
        write_frame(self.to_gateway, setup)

    def frames(self) -> Iterator[tuple[Any, ...]]:
        """Its frames to the node, until its end of the pipe closes."""
        while True:
            try:
                yield read_frame(self.from_gateway)
            except EOFError:
                return

    def serving_port(self) -> int:
        for frame in self.frames():
            if frame[0] == "serving":
                port: int = frame[1]
                return port
        raise AssertionError(f"the gateway process never served; its log: {self._log.name}")

    def submit(self, port: int, qid: str) -> BaseException | None:
        """Endorse and submit a CreateQuestion through it; the error Submit ended with."""
        org = self.material.peer_orgs[0]
        admin = load_signer(org.admin.msp_dir, org.admin.msp_id)
        with Gateway.connect(f"127.0.0.1:{port}", admin) as gw:
            network = gw.network(self.material.config.channel)
            contract = network.contract(self.material.config.chaincode)
            spec = encoding.encode(open_question_spec(qid, time.time()))
            try:
                contract.submit_async("CreateQuestion", [spec])
            except BaseException as exc:
                return exc
        return None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.to_gateway, self.from_gateway, self._log):
            with suppress(OSError):
                pipe.close()


@pytest.fixture
def lone(network: tuple[NetworkMaterial, int], tmp_path: Path) -> Iterator[LoneGateway]:
    gateway = LoneGateway(network, tmp_path / "gateway.log")
    yield gateway
    gateway.close()


def test_a_gateway_process_whose_node_dies_while_it_starts_exits(
    network: tuple[NetworkMaterial, int], tmp_path: Path
) -> None:
    # A start that takes as long as the test wants: the network's genesis block is a FIFO no one
    # writes, so the gateway process's start blocks reading it (as a long follower rebuild
    # would). Its node dies meanwhile; it must exit at once, never go on to serve.
    material, height = network
    copy = tmp_path / "net"
    shutil.copytree(material.directory, copy)
    genesis = copy / material.config.genesis_block
    genesis.unlink()
    os.mkfifo(genesis)
    gateway = LoneGateway((replace(material, directory=copy), height), tmp_path / "gateway.log")
    try:
        gateway.to_gateway.close()  # the node died right after starting it
        assert gateway.process.wait(30) == 3
        assert [frame[0] for frame in gateway.frames()] == []  # never "serving"
    finally:
        gateway.close()


def test_a_submit_whose_order_cannot_reach_the_node_is_unavailable(lone: LoneGateway) -> None:
    port = lone.serving_port()
    lone.from_gateway.close()  # the node's end of the pipe is gone
    error = lone.submit(port, "q-broken-pipe")
    assert isinstance(error, SubmitError), repr(error)
    assert error.grpc_code == "UNAVAILABLE", str(error)
    assert error.reason_code == "NOT_RUNNING"
    lone.to_gateway.close()
    assert lone.process.wait(30) == 3


def test_a_submit_in_flight_when_the_node_dies_is_unavailable(lone: LoneGateway) -> None:
    port = lone.serving_port()
    errors: list[BaseException | None] = []
    client = threading.Thread(target=lambda: errors.append(lone.submit(port, "q-in-flight")))
    client.start()
    assert next(f for f in lone.frames() if f[0] == "order")  # in flight at the node
    lone.to_gateway.close()  # the node dies before answering
    lone.from_gateway.close()
    client.join(60)
    [error] = errors
    assert isinstance(error, SubmitError), repr(error)
    assert error.grpc_code == "UNAVAILABLE", str(error)
    assert error.reason_code == "NOT_RUNNING"
    assert lone.process.wait(30) == 3


def test_a_failed_start_ends_the_gateway_processes_at_once(tmp_path: Path) -> None:
    material = init_network(tmp_path / "net", ORGS)
    ledger_dir = material.directory / material.config.ledger_dir
    # Gateway process 0 cannot open its follower: the start fails while process 1 waits for
    # its Setup. It must read the end of its pipe and exit, not wait to be killed.
    (ledger_dir / FOLLOWERS_DIR).mkdir(parents=True)
    (ledger_dir / FOLLOWERS_DIR / "0").write_bytes(b"not a directory")
    log = tmp_path / "node.log"
    with log.open("wb") as err:
        node = subprocess.run(
            [
                *(sys.executable, "-m", "mvote", "node", "start", str(material.directory)),
                *("--port", "0", "--log-level", "info"),
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            timeout=120,
        )
    assert node.returncode == 2
    events = [json.loads(line) for line in node.stdout.decode().splitlines()]
    assert events[-1]["event"] == "error" and "listen.grpc" in events[-1]["error"]
    text = log.read_text()
    assert "did not stop; killing it" not in text, text
