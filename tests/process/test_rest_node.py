"""`mvote node start` serves the REST API (listen.rest; a free port with --port 0): an admin of
the first organisation creates and opens a question with signed requests, a voter casts over
HTTP and the receipt verifies from the genesis hash; SIGTERM stops the REST server with the
node."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
from node_support import ORGS, cast_request, open_question_spec, voter_key
from served_support import Served

from mvote.chaincode import encoding
from mvote.client._identity import load_signer
from mvote.node.material import init_network
from mvote.service._rest_auth import signed_headers
from mvote.verifier import Receipt, verify_receipt


@pytest.mark.parametrize(
    "args", [(), ("--voting-port", "0")], ids=["rest-alone", "rest-over-the-voting-service"]
)
def test_node_start_serves_rest_and_a_ballot_cast_over_it_verifies(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    material = init_network(tmp_path / "network", ORGS)
    served = Served(material.directory, tmp_path / "node.log", *args)
    try:
        url = served.listening["rest"]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":8080")
        assert ("voting" in served.listening) == bool(args)
        org = material.peer_orgs[0]
        admin = load_signer(org.admin.msp_dir, org.msp_id)
        spec = open_question_spec("node-rest", time.time())
        body = encoding.encode(spec)
        with httpx.Client(base_url=url, timeout=60) as http:
            headers = signed_headers(admin, "POST", "/v1/questions", body, query="open=true")
            created = http.post(
                "/v1/questions?open=true",
                content=body,
                headers={**headers, "content-type": "application/json"},
            )
            assert created.status_code == 200, created.text
            ballot = cast_request(material.config.channel, spec, voter_key(7), 2)
            cast = http.post(
                "/v1/ballots",
                params={"receipt": "true"},
                content=encoding.encode(ballot.to_json()),
                headers={"content-type": "application/json"},
            )
            assert cast.status_code == 200, cast.text
        receipt = Receipt.from_bytes(encoding.encode(cast.json()["receipt"]))
        assert verify_receipt(receipt, anchor=material.genesis_hash).verified
        served.process.send_signal(signal.SIGTERM)
        assert served.event("stopped")["height"] >= receipt.block + 1
        assert served.process.wait(30) == 0
    finally:
        served.close()
