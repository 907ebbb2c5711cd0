"""`mvote serve --profile P --rest-port 0` as its own process in front of a running node's
Gateway (what an institution runs in front of real Fabric): an admin creates and opens a
question with a signed REST request, a voter casts over REST and the receipt verifies from the
profile's genesis hash; SIGTERM stops it. A profile whose genesis hash the peer's block 0 does
not match is refused (exit 2, GENESIS_MISMATCH): the REST API takes no MSP from a chain it cannot
anchor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from grpc_support import Served, serve
from node_support import cast_request, open_question_spec, voter_key

from mvote.chaincode import encoding
from mvote.node.voting import embedded_profile
from mvote.service._profile import Profile
from mvote.service._rest_auth import signed_headers
from mvote.verifier import Receipt, verify_receipt


def _serve_args(served: Served, profile: Path, *extra: str) -> list[str]:
    org = served.material.org("cityhall")
    return [
        *(sys.executable, "-m", "mvote", "serve", "--profile", str(profile)),
        *("--msp", str(org.client.msp_dir), "--msp-id", org.msp_id),
        *("--admin-msp", str(org.admin.msp_dir)),
        *("--tls-cert", str(org.node.tls_cert_path), "--tls-key", str(org.node.tls_key_path)),
        *("--integrator-ca", str(org.tlsca_cert_path), "--port", "0", *extra),
    ]


def test_mvote_serve_serves_rest_in_front_of_a_node(tmp_path: Path) -> None:
    node = serve(tmp_path / "network", tls=True)
    served = next(node)
    try:
        material = served.material
        profile = tmp_path / "profile.json"
        profile.write_bytes(embedded_profile(material, served.server.address).to_bytes())
        process = subprocess.Popen(
            _serve_args(served, profile, "--rest-port", "0"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            listening = json.loads(process.stdout.readline())
            assert listening["event"] == "listening" and listening["rest"].startswith("http://")
            admin = served.signer(admin=True)
            spec = open_question_spec("serve-rest", time.time())
            body = encoding.encode(spec)
            headers = signed_headers(admin, "POST", "/v1/questions", body, query="open=true")
            json_type = {"content-type": "application/json"}
            with httpx.Client(base_url=listening["rest"], timeout=60) as http:
                created = http.post(
                    "/v1/questions?open=true", content=body, headers={**headers, **json_type}
                )
                assert created.status_code == 200, created.text
                ballot = cast_request(material.config.channel, spec, voter_key(5), 1)
                cast = http.post(
                    "/v1/ballots?receipt=true",
                    content=encoding.encode(ballot.to_json()),
                    headers=json_type,
                )
                assert cast.status_code == 200, cast.text
            anchor = bytes.fromhex(Profile.load(profile).genesis_hash)
            receipt = Receipt.from_bytes(encoding.encode(cast.json()["receipt"]))
            assert verify_receipt(receipt, anchor=anchor).verified
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()

        lying = embedded_profile(material, served.server.address)
        lying = Profile(lying.channel, lying.chaincode, "ab" * 32, lying.service, lying.peers)
        profile.write_bytes(lying.to_bytes())
        done = subprocess.run(
            _serve_args(served, profile, "--rest-port", "0", "--json"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr[-2000:]
        error = json.loads(done.stdout)["error"]
        assert error["code"] == "GENESIS_MISMATCH" and "ab" * 32 in error["message"]
    finally:
        node.close()
