"""`mvote serve --profile P` as its own process, in front of a running node's Gateway: it prints
its listening event, an integrator casts through it, a voter reads through its public address,
and SIGTERM stops it. A profile that is not one exits 2 naming the field."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from grpc_support import serve
from node_support import cast_request, open_question_spec, voter_key

from mvote.chaincode import encoding
from mvote.client._voting import VotingContract
from mvote.node.material import issue_integrator_certificate
from mvote.node.voting import embedded_profile
from mvote.service._client import ClientTls, VotingClient


def _mvote(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "mvote", *map(str, args)]


def test_mvote_serve_runs_in_front_of_a_node(tmp_path: Path) -> None:
    for served in serve(tmp_path / "network", tls=True):
        material = served.material
        org = material.org("cityhall")
        profile = tmp_path / "profile.json"
        profile.write_bytes(embedded_profile(material, served.server.address).to_bytes())
        admin = served.gateway(served.signer(admin=True))
        network = admin.network(material.config.channel)
        operator = VotingContract.over(network.contract(material.config.chaincode))
        spec = open_question_spec("serve-q", time.time())
        operator.transactor.transact("CreateQuestion", encoding.encode(spec))
        operator.transactor.transact("OpenQuestion", "serve-q")
        admin.close()
        process = subprocess.Popen(
            _mvote(
                "serve",
                "--profile",
                profile,
                "--msp",
                org.client.msp_dir,
                "--msp-id",
                org.msp_id,
                "--tls-cert",
                org.node.tls_cert_path,
                "--tls-key",
                org.node.tls_key_path,
                "--integrator-ca",
                org.tlsca_cert_path,
                "--port",
                "0",
                "--public-port",
                "0",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            listening = json.loads(process.stdout.readline())
            assert listening["event"] == "listening" and listening["msp_id"] == org.msp_id
            files = issue_integrator_certificate(org, "site", tmp_path / "integrator")
            ca = org.node.tls_ca_path.read_bytes()
            tls = ClientTls(ca, files.cert.read_bytes(), files.key.read_bytes())
            request = cast_request(material.config.channel, spec, voter_key(3), 0)
            with VotingClient(listening["service"], tls) as integrator:
                done = integrator.cast(encoding.encode(request.to_json()))
            with VotingClient(listening["public"], ClientTls(ca)) as voter:
                (entry,) = voter.history(voter_key(3).verify_key.encode().hex()).entries
            assert entry.tx_id == done.tx_id
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def test_mvote_serve_refuses_a_file_that_is_not_a_profile(tmp_path: Path) -> None:
    bad = tmp_path / "profile.json"
    bad.write_text(json.dumps({"type": "mvote-profile", "version": 1, "channel": "mvote"}))
    done = subprocess.run(
        _mvote(
            "serve",
            "--profile",
            bad,
            "--msp",
            tmp_path,
            "--msp-id",
            "CityhallMSP",
            "--tls-cert",
            bad,
            "--tls-key",
            bad,
            "--integrator-ca",
            bad,
            "--json",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "PROFILE_INVALID" and "chaincode" in error["message"]
