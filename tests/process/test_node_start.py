"""`mvote node start` as its own process: it serves over TLS and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import question_spec

from mvote.client._gateway import Gateway
from mvote.client._identity import load_signer
from mvote.node.runtime import Node


def test_node_start_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    directory = tmp_path / "network"
    init = subprocess.run(
        [sys.executable, "-m", "mvote", "network", "init", str(directory), "--orgs", "a,b"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert init.returncode == 0, init.stderr
    assert "genesis block hash" in init.stdout
    process = subprocess.Popen(
        [sys.executable, "-m", "mvote", "node", "start", str(directory), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        listening = json.loads(process.stdout.readline())
        assert listening["event"] == "listening" and listening["tls"] is True
        ca = Path(listening["tls_ca"]).read_bytes()
        channel = grpc.secure_channel(listening["grpc"], grpc.ssl_channel_credentials(ca))
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        admin = (
            directory / "organizations/peerOrganizations/a.mvote.local/users/Admin@a.mvote.local"
        )
        signer = load_signer(admin / "msp", "AMSP")
        with Gateway.connect(listening["grpc"], signer, tls_root_certificates=ca) as gw:
            gw.network("mvote").contract("mvote").submit(
                "CreateQuestion", [question_spec("q-process", time.time())]
            )
        channel.close()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    stopped = json.loads(out.strip().splitlines()[-1])
    assert stopped["event"] == "stopped" and stopped["height"] == 3
    # The ledger is intact: it reopens at the same height with the transaction committed.
    node = Node.open(directory)
    try:
        assert node.ledger.height == 3
    finally:
        node.ledger.close()
