"""Committed voter ballots/s through the batching intake, beside the crypto floor of a batched
ballot measured in the same run.

The node runs as its own process (``mvote node start``: TLS, 3 organisations, MAJORITY, its
default gateway processes); this process is the voting service: an :class:`~mvote.service._intake.
Intake` with the integrator's (cityhall client) identity, batching the voters' ballots into
CastBatch transactions. Every ballot is signed by its own voter's Ed25519 key before the clock
starts (on the voters' devices, not the service's work).

Two phases on one question, each with its own voters:

1. **maximum rate**: every ballot handed to the intake at once; committed ballots/s is the count
   over the time from the first submit to the last commit;
2. **half that rate**: ballots handed over at a steady half of phase 1's rate; p50 and p99 from a
   voter's submit to their committed result (what their receipt is issued from).

Then a sample of receipts is issued from blocks pulled over Deliver and verified offline from the
genesis hash alone.

The floor is the signature work of one batched ballot alone on one core: the voter's Ed25519
verification with its point check, plus its share of the transaction's ECDSA work (the client
signs the proposal and the envelope, 2 endorsers each verify the proposal and sign, the gateway
verifies the envelope's creator, the committer verifies the creator and 2 endorsements: 4 signs
and 5 verifies per transaction) divided by the ballots per transaction the run achieved.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.signing

from bench.common import SignatureWork, line, per_second, percentile
from bench.node_bench import (
    _children_cpu,
    _connect,
    _process_cpu,
    open_question,
    start_node,
)
from mvote.chaincode import encoding
from mvote.client._ballot import prepare_ballot
from mvote.client._blocks import BlockFetcher
from mvote.client._identity import load_signer
from mvote.client._receipt import issue_receipt
from mvote.client._voting import CastResult
from mvote.node.material import NetworkMaterial
from mvote.service._intake import Intake, IntakeSettings
from mvote.verifier._receipt import verify_receipt

TARGET = 2300.0
CORES = os.cpu_count() or 1
RECEIPT_SAMPLE = 20


@dataclass
class Phase:
    """One phase: what was handed over, when, and when each result came."""

    ballots: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    results: list[CastResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.results) / self.seconds if self.seconds else 0.0


@dataclass
class BatchRun:
    settings: IntakeSettings
    full: Phase
    half: Phase
    transactions: int
    resent: int
    splits: int
    receipts_verified: int
    receipts_checked: int
    node_cpu: float
    gateway_cpu: float
    worker_cpu: float
    service_cpu: float
    disk_bytes: int

    #: Transactions of the maximum-rate phase alone.
    full_transactions: int = 0
    #: The busiest gateway process's share of the gateway processes' CPU (maximum-rate phase).
    busiest_gateway: float = 0.0

    @property
    def ballots_per_transaction(self) -> float:
        """At the maximum rate (the half-rate phase cuts smaller batches by time)."""
        return len(self.full.results) / max(1, self.full_transactions)

    @property
    def cpu_per_ballot(self) -> float:
        """CPU seconds per committed ballot of the maximum-rate phase, every process counted:
        the node, its gateway processes and validation worker, the voting service."""
        total = self.node_cpu + self.gateway_cpu + self.worker_cpu + self.service_cpu
        return total / max(1, len(self.full.results))


def _prepare(
    voters: list[nacl.signing.SigningKey], spec: Any, offset: int
) -> list[tuple[bytes, str]]:
    work = []
    for i, voter in enumerate(voters):
        request = prepare_ballot(voter, channel="mvote", question=spec, choices=[(offset + i) % 5])
        work.append((encoding.encode(request.to_json()), request.ballot.voter))
    return work


def _phase(intake: Intake, work: list[tuple[bytes, str]], rate: float | None) -> Phase:
    """Hand ``work`` to the intake (all at once, or at ``rate`` per second) and wait for every
    result."""
    phase = Phase(len(work))
    lock = threading.Lock()
    done = threading.Event()
    remaining = [len(work)]
    last = [0.0]

    def finished(submitted: float, future: Future[CastResult]) -> None:
        now = time.perf_counter()
        with lock:
            try:
                phase.results.append(future.result())
                phase.latencies.append(now - submitted)
            except Exception as exc:  # reported, not raised: the run must finish
                phase.failures.append(type(exc).__name__)
            last[0] = max(last[0], now)
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()

    started = time.perf_counter()
    for i, (raw, voter) in enumerate(work):
        if rate is not None:
            due = started + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # pacing the offered load (a benchmark, not a test)
        submitted = time.perf_counter()
        future = intake.submit_raw(raw, voter)
        future.add_done_callback(functools.partial(finished, submitted))
    done.wait()
    phase.seconds = last[0] - started
    return phase


def _check_receipts(
    network: NetworkMaterial, port: int, results: list[CastResult]
) -> tuple[int, int]:
    """Issue receipts for a random sample of ``results`` from blocks pulled over Deliver and
    verify each offline from the genesis hash: (verified, checked)."""
    client_id = network.org("district").client
    signer = load_signer(client_id.msp_dir, client_id.msp_id)
    sample = random.Random(15).sample(results, min(RECEIPT_SAMPLE, len(results)))
    verified = 0
    with _connect(network, port, signer) as gateway:
        blocks = BlockFetcher(gateway.network("mvote"))
        for result in sample:
            receipt = issue_receipt(
                blocks,
                tx_id=result.transaction_id,
                block_number=result.block_number,
                qid=result.qid,
                tracker=result.tracker,
                ballot_index=result.ballot_index,
            )
            verified += verify_receipt(receipt, anchor=network.genesis_hash).verified
    return verified, len(sample)


def _gateway_cpus(pid: int) -> dict[int, float]:
    """CPU seconds of each running gateway process of the node ``pid``, by process id."""
    cpus: dict[int, float] = {}
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            for child in map(int, children.read_text().split()):
                if b"mvote.node.serving" in Path(f"/proc/{child}/cmdline").read_bytes():
                    cpus[child] = _process_cpu(child)
        except OSError:
            continue
    return cpus


def _busiest_share(before: dict[int, float], after: dict[int, float]) -> float:
    """The busiest gateway process's share of all gateway processes' CPU between two readings."""
    used = [after[p] - before.get(p, 0.0) for p in after]
    return max(used) / sum(used) if used and sum(used) > 0 else 0.0


def _disk(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def run_batched(
    ballots: int,
    settings: IntakeSettings,
    out: Any = print,
    *,
    gateway_processes: int | None = None,
    connections: int = 1,
) -> BatchRun:
    directory = Path(tempfile.mkdtemp(prefix="mvote-batch-bench-"))
    network, port, process = start_node(directory, gateway_processes=gateway_processes)
    try:
        half_count = max(1, ballots // 2)
        voters = [nacl.signing.SigningKey.generate() for _ in range(ballots + half_count)]
        spec = open_question(network, port, voters)
        full_work = _prepare(voters[:ballots], spec, 0)
        half_work = _prepare(voters[ballots:], spec, ballots)
        out(
            f"batched: {ballots} + {half_count} ballots through the intake ({settings.batchers} "
            f"batchers, up to {settings.max_ballots} ballots or {settings.max_wait * 1000:.0f} ms "
            f"per batch, {settings.in_flight} in flight each, {connections} Gateway "
            f"connections), TLS, 3 orgs, MAJORITY, gateway processes: "
            f"{gateway_processes or 'default'}"
        )
        client_id = network.org("cityhall").client
        signer = load_signer(client_id.msp_dir, client_id.msp_id)
        ledger_before = _disk(directory)
        with contextlib.ExitStack() as stack:
            gateways = [
                stack.enter_context(_connect(network, port, signer)) for _ in range(connections)
            ]
            contracts = [g.network("mvote").contract("mvote") for g in gateways]
            with Intake(contracts, settings) as intake:
                node_cpu, children = _process_cpu(process.pid), _children_cpu(process.pid)
                each = _gateway_cpus(process.pid)
                service_cpu = time.process_time()
                full = _phase(intake, full_work, None)
                full_transactions = intake.transactions
                node_cpu = _process_cpu(process.pid) - node_cpu
                after = _children_cpu(process.pid)
                busiest = _busiest_share(each, _gateway_cpus(process.pid))
                service_cpu = time.process_time() - service_cpu
                half = _phase(intake, half_work, max(1.0, full.rate / 2))
            stats = (intake.transactions, intake.resent_ballots, intake.splits)
        verified, checked = _check_receipts(network, port, full.results + half.results)
        disk = _disk(directory) - ledger_before
        return BatchRun(
            settings,
            full,
            half,
            *stats,
            verified,
            checked,
            node_cpu,
            after["gateways"] - children["gateways"],
            after["validation"] - children["validation"],
            service_cpu,
            disk,
            full_transactions,
            busiest,
        )
    finally:
        process.terminate()
        process.wait(timeout=60)
        shutil.rmtree(directory, ignore_errors=True)


def _point_check(work: SignatureWork) -> None:
    nacl.bindings.crypto_core_ed25519_is_valid_point(bytes(work.voter.verify_key))


def batched_floor(work: SignatureWork, per_transaction: float) -> float:
    """Ballots/s if a batched ballot cost nothing but its signature work, on one core."""
    voter = 1 / per_second(work.ed25519_verify) + 1 / per_second(lambda: _point_check(work))
    ecdsa = 5 / per_second(work.ecdsa_verify) + 4 / per_second(work.ecdsa_sign)
    return 1 / (voter + ecdsa / per_transaction)


def report(run: BatchRun, work: SignatureWork, out: Any = print) -> list[str]:
    floor = batched_floor(work, run.ballots_per_transaction)
    full, half = run.full, run.half
    committed = len(full.results)
    lines = [
        line("batched committed ballots/s", full.rate, "/s", floor, TARGET),
        line("  ballots per transaction (mean)", run.ballots_per_transaction, ""),
        line(
            "  submit-to-result p50 at the maximum rate",
            percentile(full.latencies, 0.5) * 1e3,
            "ms",
        ),
        line(
            "  submit-to-result p99 at the maximum rate",
            percentile(full.latencies, 0.99) * 1e3,
            "ms",
        ),
        line("  offered at half the maximum rate", half.ballots / half.seconds, "/s"),
        line(
            "  submit-to-result p50 at half the rate", percentile(half.latencies, 0.5) * 1e3, "ms"
        ),
        line(
            "  submit-to-result p99 at half the rate", percentile(half.latencies, 0.99) * 1e3, "ms"
        ),
        line("  node process CPU per ballot", run.node_cpu / committed * 1e6, "us"),
        line("  gateway processes CPU per ballot", run.gateway_cpu / committed * 1e6, "us"),
        line("  busiest gateway process's share of it", run.busiest_gateway * 100, "%"),
        line("  validation worker CPU per ballot", run.worker_cpu / committed * 1e6, "us"),
        line("  voting service (intake) CPU per ballot", run.service_cpu / committed * 1e6, "us"),
        line("  CPU per ballot, all processes", run.cpu_per_ballot * 1e6, "us"),
        line(
            f"  {CORES} cores / CPU per ballot (the rate if the cores were ours)",
            CORES / run.cpu_per_ballot,
            "/s",
        ),
        line(
            "  disk per committed ballot (whole node)",
            run.disk_bytes / max(1, committed + len(half.results)),
            "B",
        ),
    ]
    lines.append(
        f"  transactions {run.transactions}, ballots resent after MVCC conflicts {run.resent}, "
        f"splits {run.splits}; failures {len(full.failures) + len(half.failures)}"
        + (
            f" {sorted(set(full.failures + half.failures))}"
            if full.failures or half.failures
            else ""
        )
    )
    lines.append(
        f"  receipts: {run.receipts_verified} of {run.receipts_checked} sampled receipts "
        "VERIFIED offline from the genesis hash"
    )
    for text in lines:
        out(text)
    return lines
