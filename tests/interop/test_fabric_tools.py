"""Fabric's own tools read the embedded node's chain and pull blocks from it.

Needs Fabric's release binaries: set ``FABRIC_BIN`` to their bin/ folder (with the release's
config/ folder beside it, or ``FABRIC_CFG_PATH`` pointing at a folder holding core.yaml). No
package registry ships them, so without them these tests skip, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fabric_protos.common import common_pb2

from mvote.chaincode import encoding
from mvote.client._identity import load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.node.config import BatchSettings
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.orderer import orderer_copy
from mvote.node.runtime import Node
from mvote.node.services.server import NodeServer

FABRIC_BIN = os.environ.get("FABRIC_BIN")
pytestmark = pytest.mark.skipif(
    not FABRIC_BIN or not (Path(FABRIC_BIN) / "configtxlator").exists(),
    reason="Fabric's binaries are not installed: set FABRIC_BIN to a Fabric v3 release's bin/ "
    "folder (no package registry ships them)",
)


def _tool(name: str) -> str:
    assert FABRIC_BIN is not None
    return str(Path(FABRIC_BIN) / name)


def _config_dir() -> Path | None:
    for candidate in (
        os.environ.get("FABRIC_CFG_PATH"),
        str(Path(FABRIC_BIN or "").parent / "config"),
    ):
        if candidate and (Path(candidate) / "core.yaml").exists():
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[NetworkMaterial, Node, NodeServer]]:
    directory = tmp_path_factory.mktemp("fabric-tools")
    network = init_network(
        directory / "net", "cityhall,district,education", batch=BatchSettings(timeout_ms=20)
    )
    node = Node.open(directory / "net")
    node.start()
    admin = network.org("cityhall").admin
    signer = load_signer(admin.msp_dir, admin.msp_id)
    proposal = new_proposal(
        signer,
        channel_id="mvote",
        chaincode="mvote",
        args=["CreateRoster", encoding.encode({"rid": "r1", "title": "Roster"})],
    )
    envelope, _ = node.endorse(proposal.signed())
    node.submit(sign_envelope(envelope.payload, signer))
    node.commit_status(proposal.transaction_id, 10)
    server = NodeServer(node, port=0).start()
    yield network, node, server
    server.stop()
    node.stop()


def test_configtxlator_decodes_every_kind_of_block(
    served: tuple[NetworkMaterial, Node, NodeServer], tmp_path: Path
) -> None:
    _, node, _ = served
    for number in range(node.ledger.height):  # genesis, chaincode definition, a contract tx
        raw = tmp_path / f"{number}.block"
        raw.write_bytes(node.ledger.block(number))
        result = subprocess.run(
            [_tool("configtxlator"), "proto_decode", "--type", "common.Block", "--input", str(raw)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        decoded = json.loads(result.stdout)
        assert int(decoded["header"]["number"]) == number
        channel = decoded["data"]["data"][0]["payload"]["header"]["channel_header"]["channel_id"]
        assert channel == "mvote"


def test_peer_channel_fetch_pulls_blocks_from_the_node(
    served: tuple[NetworkMaterial, Node, NodeServer], tmp_path: Path
) -> None:
    network, node, server = served
    config = _config_dir()
    if config is None:
        pytest.skip("Fabric's config/core.yaml not found: set FABRIC_CFG_PATH (peer CLI needs it)")
    admin = network.org("cityhall").admin
    env = {
        **os.environ,
        "FABRIC_CFG_PATH": str(config),
        "CORE_PEER_LOCALMSPID": admin.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(admin.msp_dir),
        "CORE_PEER_TLS_ENABLED": "true",
    }
    orderer_tls = network.peer_orgs[0].node  # the node serves the ordering service on its port
    for number in range(node.ledger.height):
        out = tmp_path / f"fetched-{number}.block"
        result = subprocess.run(
            [
                _tool("peer"),
                "channel",
                "fetch",
                str(number),
                str(out),
                "--channelID",
                "mvote",
                "--orderer",
                server.address,
                "--ordererTLSHostnameOverride",
                orderer_tls.name,
                "--tls",
                "--cafile",
                str(orderer_tls.tls_ca_path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        expected = orderer_copy(common_pb2.Block.FromString(node.ledger.block(number)))
        assert out.read_bytes() == expected.SerializeToString()
