"""`mvote node start` with its default two gateway processes: connections are spread over both,
and a commit seen through one is read through every other at once (each reads the committed
height the node publishes and follows its ledger up to it before answering)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from grpc_support import question_spec

from mvote.client._gateway import Gateway
from mvote.client._identity import load_signer
from mvote.node.material import init_network

CONNECTIONS = 16


def test_gateway_processes_share_the_port_and_read_every_commit(tmp_path: Path) -> None:
    network = init_network(tmp_path / "net", "cityhall,district")
    assert network.config.listen.gateway_processes == 2
    log = tmp_path / "node.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "mvote", "node", "start", str(tmp_path / "net"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            listening = json.loads(process.stdout.readline())
            assert listening["event"] == "listening", listening
            assert listening["gateway_processes"] == 2
            ca = Path(listening["tls_ca"]).read_bytes()
            admin = network.org("cityhall").admin
            signer = load_signer(admin.msp_dir, admin.msp_id)
            gateways = [
                Gateway.connect(listening["grpc"], signer, tls_root_certificates=ca)
                for _ in range(CONNECTIONS)
            ]
            try:
                contracts = [g.network("mvote").contract("mvote") for g in gateways]
                for i, contract in enumerate(contracts):
                    qid = f"q{i}"
                    contract.submit("CreateQuestion", [question_spec(qid, time.time())])
                    # Every other connection, whichever process serves it, reads the commit.
                    for other in contracts:
                        assert json.loads(other.evaluate("GetQuestion", [qid]))["qid"] == qid
            finally:
                for g in gateways:
                    g.close()
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    serving = {r["pid"] for r in records if r["msg"].startswith("submitted tx")}
    # 16 connections all on one of two processes: 1 chance in 2**15.
    assert len(serving) == 2, f"Submit served by processes {serving}"
    assert process.pid not in serving
