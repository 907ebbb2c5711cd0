"""Node throughput: N open ballots through the Gateway from K concurrent clients.

The node runs as its own process (``mvote node start``, TLS on), as an operator runs it; the
clients are threads of this process, each with its own Gateway connection. Every ballot is
endorsed by a majority of 3 organisations, ordered, validated and committed. Reported: committed
ballots/s, p50/p99 submit-to-commit latency, and the crypto-bound limit: the signature operations
one ballot costs this machine (5 ECDSA verifies, 4 ECDSA signs, 2 Ed25519 verifies, client side
included) done alone in a loop.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import nacl.signing

from bench.common import SignatureWork, free_port, line, per_second, percentile
from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._records import (
    MAX_ROSTER_BATCH,
    Eligibility,
    QuestionSpec,
    Schedule,
    SingleChoice,
)
from mvote.client._ballot import prepare_ballot
from mvote.client._gateway import Gateway
from mvote.client._identity import Signer, load_signer
from mvote.node.material import NetworkMaterial, init_network, load_network

FLOOR = 300.0
#: Client processes the K clients are spread over, so that the bench measures the node and not
#: one client process's interpreter lock.
DEFAULT_PROCESSES = 2


@dataclass
class NodeRun:
    network: NetworkMaterial
    directory: Path
    ballots: int
    seconds: float
    latencies: list[float]
    receipts: list[tuple[str, int, str]]  # (tx id, block, tracker)
    #: CPU seconds spent during the timed phase by the node process and by the client process.
    node_cpu: float = 0.0
    client_cpu: float = 0.0
    #: CPU seconds of the node's validation worker in the timed phase.
    worker_cpu: float = 0.0
    #: CPU seconds of the node's gateway processes in the timed phase.
    gateway_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.ballots / self.seconds


def _connect(network: NetworkMaterial, port: int, signer: Signer) -> Gateway:
    peer = network.peer_orgs[0].node
    return Gateway.connect(
        f"127.0.0.1:{port}",
        signer,
        tls_root_certificates=peer.tls_ca_path.read_bytes(),
        server_name_override=peer.name,
    )


def _wait_ready(
    network: NetworkMaterial, port: int, signer: Signer, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node exited with {process.returncode}")
        try:
            with _connect(network, port, signer) as gateway:
                gateway.network("mvote").contract("mvote").evaluate("ListQuestions")
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError("node did not become ready in 60 s")


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the running child processes of ``pid`` by kind: its gateway processes
    (``gateways``) and its validation worker (``validation``)."""
    totals = {"gateways": 0.0, "validation": 0.0}
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            for child in children.read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                kind = "gateways" if b"mvote.node.serving" in cmdline else "validation"
                totals[kind] += _process_cpu(int(child))
        except OSError:
            continue
    return totals


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def start_node(
    directory: Path, *, gateway_processes: int | None = None
) -> tuple[NetworkMaterial, int, subprocess.Popen[bytes]]:
    """A new 3-organisation network in ``directory`` and its node running in its own process
    (``mvote node start``, TLS; ``gateway_processes`` if given, else the node's default),
    ready: (network, port, process). The caller terminates it."""
    network = init_network(directory / "net", "cityhall,district,education")
    if gateway_processes is not None:
        config = directory / "net" / "mvote-node.yaml"
        text, found = re.subn(
            r"(?m)^  gateway_processes: \d+$",
            f"  gateway_processes: {gateway_processes}",
            config.read_text(),
        )
        if found != 1:
            raise RuntimeError(f"{config}: expected one listen.gateway_processes line")
        config.write_text(text)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mvote",
            "node",
            "start",
            str(directory / "net"),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        admin_id = network.org("cityhall").admin
        _wait_ready(network, port, load_signer(admin_id.msp_dir, admin_id.msp_id), process)
    except BaseException:
        process.terminate()
        process.wait(timeout=60)
        raise
    return network, port, process


def open_question(
    network: NetworkMaterial, port: int, voters: list[nacl.signing.SigningKey], qid: str = "bench"
) -> QuestionSpec:
    """An open single-choice question of 5 options on a sealed roster of ``voters``."""
    admin_id = network.org("cityhall").admin
    admin = load_signer(admin_id.msp_dir, admin_id.msp_id)
    now = int(time.time())
    rid = f"{qid}-roster"
    spec = QuestionSpec(
        qid=qid,
        title="Benchmark question",
        description="",
        options=("a", "b", "c", "d", "e"),
        rule=SingleChoice(),
        eligibility=Eligibility.of_roster(rid),
        schedule=Schedule(now - 5, now + 3600),
        shards=16,
    )
    with _connect(network, port, admin) as gateway:
        contract = gateway.network("mvote").contract("mvote")
        contract.submit("CreateRoster", [encoding.encode({"rid": rid, "title": "Bench"})])
        entries = sorted(keys.voter_hash(bytes(v.verify_key)).hex() for v in voters)
        for i in range(0, len(entries), MAX_ROSTER_BATCH):
            batch = {"rid": rid, "entries": entries[i : i + MAX_ROSTER_BATCH]}
            contract.submit("AddRosterEntries", [encoding.encode(batch)])
        contract.submit("SealRoster", [rid])
        contract.submit("CreateQuestion", [encoding.encode(spec.to_json())])
        contract.submit("OpenQuestion", [qid])
    return spec


def run_node(
    ballots: int, clients: int, out: object = print, *, processes: int | None = None
) -> NodeRun:
    say = out if callable(out) else print
    directory = Path(tempfile.mkdtemp(prefix="mvote-bench-"))
    network, port, process = start_node(directory)
    try:
        voters = [nacl.signing.SigningKey(os.urandom(32)) for _ in range(ballots)]
        spec = open_question(network, port, voters)

        # Ballots are prepared and signed on the voters' devices: not part of the node's work.
        work = []
        for i, voter in enumerate(voters):
            request = prepare_ballot(voter, channel="mvote", question=spec, choices=[i % 5])
            work.append((encoding.encode(request.to_json()), request.ballot.tracker()))
        processes = max(1, min(processes or DEFAULT_PROCESSES, clients))
        say(
            f"node: {ballots} ballots from {clients} concurrent clients in {processes} processes "
            "through the Gateway (TLS, 3 orgs, MAJORITY)"
        )
        ctx = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue[Any] = ctx.Queue()
        go = ctx.Event()
        children = []
        for p in range(processes):
            share = work[p::processes]
            threads = clients // processes + (1 if p < clients % processes else 0)
            child = ctx.Process(
                target=_client_process,
                args=(directory / "net", port, share, threads, go, results),
                daemon=True,
            )
            child.start()
            children.append(child)
        for _ in children:
            if results.get(timeout=120) != "ready":
                raise RuntimeError("a client process failed to start")
        node_cpu, children_before = _process_cpu(process.pid), _children_cpu(process.pid)
        started = time.perf_counter()
        go.set()
        latencies: list[float] = []
        receipts: list[tuple[str, int, str]] = []
        failures: list[str] = []
        client_cpu = 0.0
        for _ in children:
            part = results.get(timeout=600)
            latencies += part["latencies"]
            receipts += part["receipts"]
            failures += part["failures"]
            client_cpu += part["cpu"]
        seconds = time.perf_counter() - started
        node_cpu = _process_cpu(process.pid) - node_cpu
        children_cpu = _children_cpu(process.pid)
        for child in children:
            child.join(timeout=30)
        if failures:
            raise RuntimeError(f"{len(failures)} ballots not VALID: {sorted(set(failures))}")
        return NodeRun(
            network,
            directory,
            len(latencies),
            seconds,
            latencies,
            receipts,
            node_cpu,
            client_cpu,
            children_cpu["validation"] - children_before["validation"],
            children_cpu["gateways"] - children_before["gateways"],
        )
    finally:
        process.terminate()
        process.wait(timeout=60)


def _client_process(
    net: Path,
    port: int,
    work: list[tuple[bytes, str]],
    threads: int,
    go: Any,
    results: Any,
) -> None:
    """One client process: ``threads`` voter clients, each with its own Gateway connection,
    casting from ``work`` until it is empty; reports latencies, receipts and its CPU time."""
    network = load_network(net)
    client_id = network.org("cityhall").client
    client = load_signer(client_id.msp_dir, client_id.msp_id)
    todo: queue.Queue[tuple[bytes, str]] = queue.Queue()
    for item in work:
        todo.put(item)
    latencies: list[float] = []
    receipts: list[tuple[str, int, str]] = []
    failures: list[str] = []
    lock = threading.Lock()
    connected = threading.Barrier(threads + 1)

    def voter_client() -> None:
        with _connect(network, port, client) as gateway:
            contract = gateway.network("mvote").contract("mvote")
            grpc.channel_ready_future(gateway.channel).result(timeout=60)
            connected.wait()
            go.wait()
            while True:
                try:
                    cast, tracker = todo.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                try:
                    submitted = contract.submit_async("Cast", [cast])
                    status = submitted.status(60)
                except Exception as exc:  # reported, not raised: the run must finish
                    with lock:
                        failures.append(type(exc).__name__)
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    if status.successful:
                        latencies.append(elapsed)
                        receipts.append((status.transaction_id, status.block_number, tracker))
                    else:
                        failures.append(status.code_name)

    pool = [threading.Thread(target=voter_client) for _ in range(threads)]
    for t in pool:
        t.start()
    connected.wait()
    results.put("ready")
    go.wait()
    cpu = _own_cpu()
    for t in pool:
        t.join()
    results.put(
        {
            "latencies": latencies,
            "receipts": receipts,
            "failures": failures,
            "cpu": _own_cpu() - cpu,
        }
    )


def crypto_limit(work: SignatureWork) -> float:
    """Ballots/s if a ballot cost nothing but its signature operations, on one core."""
    verify = 1 / per_second(work.ecdsa_verify)
    sign = 1 / per_second(work.ecdsa_sign)
    voter = 1 / per_second(work.ed25519_verify)
    return 1 / (5 * verify + 4 * sign + 2 * voter)


def report(run: NodeRun, work: SignatureWork, out: object = print) -> list[str]:
    say = out if callable(out) else print
    limit = crypto_limit(work)
    lines = [
        line("committed ballots/s", run.rate, "/s", limit, FLOOR),
        line("submit-to-commit latency p50", percentile(run.latencies, 0.5) * 1000, "ms"),
        line("submit-to-commit latency p99", percentile(run.latencies, 0.99) * 1000, "ms"),
        line("node process CPU per ballot", run.node_cpu / run.ballots * 1000, "ms"),
        line("node gateway processes CPU per ballot", run.gateway_cpu / run.ballots * 1000, "ms"),
        line("node validation worker CPU per ballot", run.worker_cpu / run.ballots * 1000, "ms"),
        line("bench client CPU per ballot", run.client_cpu / run.ballots * 1000, "ms"),
    ]
    for text in lines:
        say(text)
    return lines
