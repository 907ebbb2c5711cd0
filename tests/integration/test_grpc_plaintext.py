"""A plaintext server with small size limits, and ``mvote node start`` as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import proposal_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import Served, question_spec, serve

from mvote.client.events import InMemoryCheckpointer
from mvote.client.gateway import Gateway
from mvote.client.identity import load_signer
from mvote.node.config import MIB, BatchSettings, NodeLimits
from mvote.node.runtime import Node

GRPC_LIMIT = 2 * MIB


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(
        tmp_path_factory.mktemp("plain") / "network",
        tls=False,
        batch=BatchSettings(preferred_max_bytes=512 * 1024, absolute_max_bytes=1 * MIB),
        limits=NodeLimits(max_grpc_message_bytes=GRPC_LIMIT, max_transaction_bytes=256 * 1024),
    )


def test_plaintext_submit_and_block_checkpoints(plain: Served) -> None:
    with plain.gateway(plain.signer(admin=True)) as gw:
        network = gw.network("mvote")
        submitted = network.contract("mvote").submit_async(
            "CreateQuestion", [question_spec("q-plain", time.time())]
        )
        block_number = submitted.status(timeout=10).block_number
        checkpoint = InMemoryCheckpointer()
        with network.block_events(start_block=0, checkpointer=checkpoint) as blocks:
            for block in blocks:
                checkpoint.checkpoint_block(block.header.number)
                if block.header.number == block_number - 1:
                    break
        with network.block_events(checkpointer=checkpoint) as blocks:
            assert next(blocks).header.number == block_number


def test_message_over_the_grpc_limit(plain: Served) -> None:
    height = plain.node.ledger.height
    stub = gateway_pb2_grpc.GatewayStub(grpc.insecure_channel(plain.server.address))
    huge = proposal_pb2.SignedProposal(proposal_bytes=b"x" * (GRPC_LIMIT + 1), signature=b"s")
    with pytest.raises(grpc.RpcError) as info:
        stub.Endorse(gateway_pb2.EndorseRequest(proposed_transaction=huge), timeout=5)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert plain.node.ledger.height == height


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
