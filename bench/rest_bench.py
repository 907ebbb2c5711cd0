"""The REST API's cost per ballot against the direct Gateway path, in the same run.

``mvote node start`` runs as its own process (TLS, gateway processes, the REST API on a free
port), as an operator runs it. The same open ballots (distinct voters, registrar credentials) go
either straight through the Fabric Gateway (the client's ``VotingContract.cast``, what an
integrator holding a Fabric identity does) or as ``POST /v1/ballots`` to the REST API (which
checks the ballot and submits it through the same Gateway as its institution's client). Both
paths wait for the commit.

Reported, each path beside the other: a sequential voter's time per ballot (rounds alternate
between the paths, so the machine's load falls on both alike; its floor is the orderer's batch
timeout) and the committed ballots/s of ``clients`` concurrent voters; beside them, the service
core alone (``VotingService.cast`` called in this process), which separates the REST layer's own
cost from the core's. The ratios are the figures that mean something on a loaded machine.

    .venv/bin/python -m bench.rest_bench [--ballots N] [--clients K]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import nacl.signing

from bench.common import line, median
from mvote.chaincode import encoding
from mvote.chaincode._records import CastRequest, QuestionSpec
from mvote.client._ballot import prepare_ballot, voter_public_hex
from mvote.client._gateway import Gateway
from mvote.client._identity import load_signer
from mvote.client._registrar import issue_credential
from mvote.client._voting import VotingContract
from mvote.node.material import NetworkMaterial, init_network
from mvote.service import VotingService
from mvote.service._rest_auth import signed_headers

QID = "bench-rest"
REGISTRAR = nacl.signing.SigningKey.generate()


def _spec(now: float) -> QuestionSpec:
    return QuestionSpec.from_json(
        {
            "qid": QID,
            "title": "REST overhead",
            "description": "",
            "options": ["yes", "no"],
            "rule": {"kind": "single"},
            "eligibility": {"kind": "open", "registrars": [voter_public_hex(REGISTRAR)]},
            "schedule": {"opens_at": int(now) - 60, "closes_at": int(now) + 3600},
            "mode": "open",
            "shards": 8,
        }
    )


def _ballots(channel: str, spec: QuestionSpec, count: int, start: int) -> list[CastRequest]:
    out = []
    for n in range(start, start + count):
        voter = nacl.signing.SigningKey.generate()
        credential = issue_credential(
            REGISTRAR,
            channel=channel,
            voter=voter_public_hex(voter),
            expires_at=int(time.time()) + 3600,
            scope=QID,
        )
        out.append(
            prepare_ballot(
                voter, channel=channel, question=spec, choices=(n % 2,), credential=credential
            )
        )
    return out


class Paths:
    """The two ways to cast against one running node."""

    def __init__(self, material: NetworkMaterial, listening: dict[str, Any]) -> None:
        org = material.peer_orgs[0]
        ca = Path(listening["tls_ca"]).read_bytes()
        self.gateway = Gateway.connect(
            listening["grpc"],
            load_signer(org.client.msp_dir, org.msp_id),
            tls_root_certificates=ca,
        )
        network = self.gateway.network(material.config.channel)
        self.contract = VotingContract.over(network.contract(material.config.chaincode))
        #: The service core alone, in this process, over the same Gateway connection.
        self.service = VotingService(self.contract, network, chaincode=material.config.chaincode)
        self.http = httpx.Client(
            base_url=listening["rest"],
            timeout=120,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=256),
        )
        self.admin = load_signer(org.admin.msp_dir, org.msp_id)

    def create_question(self, spec: QuestionSpec) -> None:
        body = encoding.encode(spec.to_json())
        headers = signed_headers(self.admin, "POST", "/v1/questions", body, query="open=true")
        answer = self.http.post(
            "/v1/questions?open=true",
            content=body,
            headers={**headers, "content-type": "application/json"},
        )
        answer.raise_for_status()

    def gateway_cast(self, request: CastRequest) -> None:
        self.contract.cast(request)

    def service_cast(self, request: CastRequest) -> None:
        self.service.cast(encoding.encode(request.to_json())).result()

    def rest_cast(self, request: CastRequest) -> None:
        answer = self.http.post(
            "/v1/ballots",
            content=encoding.encode(request.to_json()),
            headers={"content-type": "application/json"},
        )
        if answer.status_code != 200:
            raise RuntimeError(f"REST cast: {answer.status_code} {answer.text[:300]}")

    def close(self) -> None:
        self.service.close()
        self.http.close()
        self.gateway.close()


def sequential(cast: Callable[[CastRequest], None], requests: list[CastRequest]) -> list[float]:
    """Seconds per ballot, one voter after the other."""
    times = []
    for request in requests:
        start = time.perf_counter()
        cast(request)
        times.append(time.perf_counter() - start)
    return times


def concurrent(
    cast: Callable[[CastRequest], None], requests: list[CastRequest], clients: int
) -> float:
    """Committed ballots/s with ``clients`` voters at once."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(cast, requests))
    return len(requests) / (time.perf_counter() - start)


def _start_node(directory: Path, log: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mvote", "node", "start", str(directory), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if process.stdout is None:
        raise RuntimeError("no stdout from the node")
    for raw in process.stdout:
        event = json.loads(raw)
        if event["event"] == "listening":
            return process, event
        if event["event"] == "error":
            break
    process.kill()
    raise RuntimeError(f"the node did not start; its log: {log}")


def run(ballots: int, clients: int) -> dict[str, float]:
    """Both paths on one node; the figures by name."""
    with tempfile.TemporaryDirectory() as tmp:
        material = init_network(Path(tmp) / "network", "cityhall,district,education")
        process, listening = _start_node(material.directory, Path(tmp) / "node.log")
        paths = Paths(material, listening)
        try:
            spec = _spec(time.time())
            paths.create_question(spec)
            channel = material.config.channel
            seq = max(4, ballots // 10)
            rounds: dict[str, list[float]] = {"gateway": [], "rest": []}
            for n in range(4):  # alternate: gateway, rest, gateway, rest
                name = "gateway" if n % 2 == 0 else "rest"
                cast = paths.gateway_cast if name == "gateway" else paths.rest_cast
                rounds[name] += sequential(cast, _ballots(channel, spec, seq, n * seq))
            base = 4 * seq
            gateway_rate = concurrent(
                paths.gateway_cast, _ballots(channel, spec, ballots, base), clients
            )
            service_rate = concurrent(
                paths.service_cast, _ballots(channel, spec, ballots, base + ballots), clients
            )
            rest_rate = concurrent(
                paths.rest_cast, _ballots(channel, spec, ballots, base + 2 * ballots), clients
            )
        finally:
            paths.close()
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    return {
        "sequential_gateway_ms": 1000 * median(rounds["gateway"]),
        "sequential_rest_ms": 1000 * median(rounds["rest"]),
        "concurrent_gateway_per_s": gateway_rate,
        "concurrent_service_per_s": service_rate,
        "concurrent_rest_per_s": rest_rate,
    }


def report(figures: dict[str, float], ballots: int, clients: int) -> None:
    print(f"REST API against the Gateway path ({ballots} ballots each, {clients} clients)")
    print(line("sequential ballot, Gateway", figures["sequential_gateway_ms"], "ms"))
    print(
        line(
            "sequential ballot, REST",
            figures["sequential_rest_ms"],
            "ms",
            limit=figures["sequential_gateway_ms"],
        )
    )
    print(line("concurrent, Gateway", figures["concurrent_gateway_per_s"], "ballots/s"))
    print(
        line(
            "concurrent, service core alone",
            figures["concurrent_service_per_s"],
            "ballots/s",
            limit=figures["concurrent_gateway_per_s"],
        )
    )
    print(
        line(
            "concurrent, REST",
            figures["concurrent_rest_per_s"],
            "ballots/s",
            limit=figures["concurrent_gateway_per_s"],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rest_bench")
    parser.add_argument("--ballots", type=int, default=int(os.environ.get("BENCH_BALLOTS", 400)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("BENCH_CLIENTS", 32)))
    args = parser.parse_args()
    figures = run(args.ballots, args.clients)
    report(figures, args.ballots, args.clients)


if __name__ == "__main__":
    main()
