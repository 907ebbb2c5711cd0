"""A JavaScript integrator casts through the mvote.v1 gRPC voting service.

tests/interop/service_client.mjs uses npm's ``@grpc/grpc-js`` and ``@grpc/proto-loader`` (pinned
in tests/interop/package-lock.json, installed with ``npm ci`` as for the Fabric Gateway test)
with the proto file the package ships, and js/ballot to prepare and sign the ballots. Against a
real embedded node and a real voting service with mutual TLS: the ballot commits with a receipt
that verifies from the genesis hash, JavaScript's tracker is the service's, a second ballot is
refused with ALREADY_VOTED in the ErrorInfo trailer, and a CastStream relays more voters.

Skipped only when Node.js (node and npm) is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest
from google.rpc import error_details_pb2
from grpc_support import Served, serve
from node_support import REGISTRAR, open_question_spec
from test_fabric_gateway_node import NODE, NPM, install_packages

from mvote.chaincode import encoding
from mvote.client._ballot import voter_public_hex
from mvote.client._registrar import issue_credential
from mvote.client._voting import VotingContract
from mvote.node.material import issue_integrator_certificate
from mvote.service import VotingService
from mvote.service._grpc import IntegratorTrust, ServerTls, VotingServer
from mvote.verifier import verify_receipt
from mvote.verifier._receipt import Receipt

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "service_client.mjs"
PROTO_ROOT = HERE.parents[1] / "mvote" / "service" / "proto"
SCRIPT_TIMEOUT = 180

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="Node.js (node and npm) is not installed: the JavaScript integrator cannot run",
)


def _seed(index: int) -> bytes:
    return hashlib.sha256(b"js integrator voter %d" % index).digest()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(tmp_path_factory.mktemp("js-service") / "network", tls=True)


def test_a_javascript_integrator_casts_through_grpc(served: Served, tmp_path: Path) -> None:
    modules = install_packages()
    channel, chaincode = served.material.config.channel, served.material.config.chaincode
    gateway = served.gateway()
    admin = served.gateway(served.signer(admin=True))
    operator = VotingContract.over(admin.network(channel).contract(chaincode))
    spec = open_question_spec("js-q", time.time(), options=("yes", "no"))
    operator.transactor.transact("CreateQuestion", encoding.encode(spec))
    operator.transactor.transact("OpenQuestion", "js-q")
    contract = VotingContract.over(gateway.network(channel).contract(chaincode))
    service = VotingService(contract, gateway.network(channel), chaincode=chaincode)
    org = served.material.org("cityhall")
    server = VotingServer(
        service,
        tls=ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes()),
        trust=IntegratorTrust({org.msp_id: org.tlsca_cert_path.read_bytes()}),
    ).start()
    files = issue_integrator_certificate(org, "js-site", tmp_path / "integrator")
    seeds = [_seed(i) for i in range(4)]
    credentials = {}
    for seed in seeds:
        voter = voter_public_hex(nacl.signing.SigningKey(seed))
        credential = issue_credential(
            REGISTRAR,
            channel=channel,
            voter=voter,
            expires_at=spec["schedule"]["closes_at"],
            scope="js-q",
        )
        credentials[seed.hex()] = credential.to_json()
    config = {
        "modules": str(modules),
        "proto": "mvote/v1/voting.proto",
        "protoRoot": str(PROTO_ROOT),
        "address": server.address,
        "ca": org.node.tls_ca_path.read_text(),
        "cert": files.cert.read_text(),
        "key": files.key.read_text(),
        "channel": channel,
        "qid": "js-q",
        "seedHex": seeds[0].hex(),
        "choice": 0,
        "credentials": credentials,
        "streamSeeds": [s.hex() for s in seeds[1:]],
    }
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    try:
        assert NODE is not None
        done = subprocess.run(
            [NODE, str(SCRIPT), str(config_path)],
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        out = json.loads(done.stdout)
        results = service.results("js-q")
    finally:
        server.stop(grace=1)
        service.close()
        gateway.close()
        admin.close()

    cast = out["cast"]
    assert cast["tracker"] == out["jsTracker"] and cast["qid"] == "js-q"
    receipt = Receipt.from_bytes(base64.b64decode(cast["receipt"]))
    report = verify_receipt(receipt, anchor=served.material.genesis_hash)
    assert report.verified, [c for c in report.checks if not c.ok]
    second = out["second"]
    assert second["refused"] and second["grpcCode"] == 6  # ALREADY_EXISTS
    info = error_details_pb2.ErrorInfo.FromString(base64.b64decode(second["errorInfo"]))
    assert (info.domain, info.reason, info.metadata["field"]) == (
        "mvote",
        "ALREADY_VOTED",
        "ballot.voter",
    )
    outcomes = {(a["ref"], a["outcome"]) for a in out["stream"]}
    assert outcomes == {(f"js-{i}", kind) for i in range(3) for kind in ("accepted", "committed")}
    # The first voter chose yes; the streamed voters yes, no, yes.
    assert results.ballots == 4 and results.counts == (3, 1)
