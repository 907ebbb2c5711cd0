"""Node throughput: N open ballots through the Gateway from K concurrent clients.

The node runs as its own process (``mvote node start``, TLS on), as an operator runs it; the
clients are threads of this process, each with its own Gateway connection. Every ballot is
endorsed by a majority of 3 organisations, ordered, validated and committed. Reported: committed
ballots/s, p50/p99 submit-to-commit latency, and the crypto-bound limit: the signature operations
one ballot costs this machine (5 ECDSA verifies, 4 ECDSA signs, 2 Ed25519 verifies, client side
included) done alone in a loop.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nacl.signing

from bench.common import SignatureWork, free_port, line, per_second, percentile
from mvote.chaincode import encoding, keys
from mvote.chaincode.records import MAX_ROSTER_BATCH, Eligibility, QuestionSpec, Rule
from mvote.client.ballot import prepare_ballot
from mvote.client.gateway import Gateway
from mvote.client.identity import Signer, load_signer
from mvote.node.material import NetworkMaterial, init_network

FLOOR = 300.0


@dataclass
class NodeRun:
    network: NetworkMaterial
    directory: Path
    ballots: int
    seconds: float
    latencies: list[float]
    receipts: list[tuple[str, int, str]]  # (tx id, block, tracker)

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


def run_node(ballots: int, clients: int, out: object = print) -> NodeRun:
    say = out if callable(out) else print
    directory = Path(tempfile.mkdtemp(prefix="mvote-bench-"))
    network = init_network(directory / "net", "cityhall,district,education")
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
        admin = load_signer(admin_id.msp_dir, admin_id.msp_id)
        client_id = network.org("cityhall").client
        client = load_signer(client_id.msp_dir, client_id.msp_id)
        _wait_ready(network, port, admin, process)

        voters = [nacl.signing.SigningKey(os.urandom(32)) for _ in range(ballots)]
        now = int(time.time())
        spec = QuestionSpec(
            "bench",
            "Benchmark question",
            "",
            ("a", "b", "c", "d", "e"),
            Rule("single"),
            Eligibility("roster", roster="bench-roster"),
            now - 5,
            now + 3600,
            shards=16,
        )
        with _connect(network, port, admin) as gateway:
            contract = gateway.network("mvote").contract("mvote")
            contract.submit(
                "CreateRoster", [encoding.encode({"rid": "bench-roster", "title": "Bench"})]
            )
            entries = sorted(keys.voter_hash(bytes(v.verify_key)).hex() for v in voters)
            for i in range(0, len(entries), MAX_ROSTER_BATCH):
                batch = {"rid": "bench-roster", "entries": entries[i : i + MAX_ROSTER_BATCH]}
                contract.submit("AddRosterEntries", [encoding.encode(batch)])
            contract.submit("SealRoster", ["bench-roster"])
            contract.submit("CreateQuestion", [encoding.encode(spec.to_json())])
            contract.submit("OpenQuestion", ["bench"])

        # Ballots are prepared and signed on the voters' devices: not part of the node's work.
        work: queue.Queue[tuple[bytes, str]] = queue.Queue()
        for i, voter in enumerate(voters):
            request = prepare_ballot(voter, channel="mvote", question=spec, choices=[i % 5])
            work.put((encoding.encode(request.to_json()), request.ballot.tracker()))
        latencies: list[float] = []
        receipts: list[tuple[str, int, str]] = []
        failures: list[str] = []
        lock = threading.Lock()

        def voter_client() -> None:
            with _connect(network, port, client) as gateway:
                contract = gateway.network("mvote").contract("mvote")
                while True:
                    try:
                        cast, tracker = work.get_nowait()
                    except queue.Empty:
                        return
                    started = time.perf_counter()
                    submitted = contract.submit_async("Cast", [cast])
                    status = submitted.status(60)
                    elapsed = time.perf_counter() - started
                    with lock:
                        if status.successful:
                            latencies.append(elapsed)
                            receipts.append((status.transaction_id, status.block_number, tracker))
                        else:
                            failures.append(status.code_name)

        say(
            f"node: {ballots} ballots from {clients} concurrent clients through the Gateway (TLS, 3 orgs, MAJORITY)"
        )
        threads = [threading.Thread(target=voter_client) for _ in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        if failures:
            raise RuntimeError(f"{len(failures)} ballots not VALID: {sorted(set(failures))}")
        return NodeRun(network, directory, len(latencies), seconds, latencies, receipts)
    finally:
        process.terminate()
        process.wait(timeout=60)


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
    ]
    for text in lines:
        say(text)
    return lines
