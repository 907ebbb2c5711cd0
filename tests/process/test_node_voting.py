"""`mvote node start --voting-port 0 --voting-public-port 0` serves the mvote.v1 voting service
in front of its own Gateway (mvote.node.voting): an integrator of another organisation casts
with its institution's certificate, a voter reads through the public address, and SIGTERM stops
the service with the node."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from node_support import cast_request, open_question_spec, voter_key
from served_support import Served

from mvote.chaincode import encoding
from mvote.client._gateway import Gateway
from mvote.client._identity import load_signer
from mvote.client._voting import VotingContract
from mvote.node.material import init_network, issue_integrator_certificate
from mvote.service._client import ClientTls, VotingClient


def test_node_start_serves_the_voting_service(tmp_path: Path) -> None:
    directory = tmp_path / "network"
    material = init_network(directory, "cityhall,district")
    served = Served(
        directory, tmp_path / "node.log", "--voting-port", "0", "--voting-public-port", "0"
    )
    try:
        listening = served.listening
        assert listening["voting"] and listening["voting_public"]
        cityhall, district = material.org("cityhall"), material.org("district")
        admin = load_signer(cityhall.admin.msp_dir, cityhall.msp_id)
        ca = cityhall.node.tls_ca_path.read_bytes()
        with Gateway.connect(listening["grpc"], admin, tls_root_certificates=ca) as gateway:
            network = gateway.network(material.config.channel)
            operator = VotingContract.over(network.contract(material.config.chaincode))
            spec = open_question_spec("node-q", time.time())
            operator.transactor.transact("CreateQuestion", encoding.encode(spec))
            operator.transactor.transact("OpenQuestion", "node-q")
        files = issue_integrator_certificate(district, "district-site", tmp_path / "integrator")
        tls = ClientTls(ca, files.cert.read_bytes(), files.key.read_bytes())
        request = cast_request(material.config.channel, spec, voter_key(1), 1)
        with VotingClient(listening["voting"], tls) as integrator:
            done = integrator.cast(encoding.encode(request.to_json()))
        with VotingClient(listening["voting_public"], ClientTls(ca)) as voter:
            entries = voter.history(voter_key(1).verify_key.encode().hex()).entries
            assert [(e.qid, e.tx_id) for e in entries] == [("node-q", done.tx_id)]
            assert voter.chain_info().genesis_hash == material.genesis_hash.hex()
        served.process.send_signal(signal.SIGTERM)
        assert served.event("stopped")["height"] >= done.block_number + 1
        assert served.process.wait(timeout=60) == 0
    finally:
        served.close()
