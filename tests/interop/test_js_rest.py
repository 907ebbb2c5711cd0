"""A JavaScript integrator casts through the REST API: Node.js 20's built-in fetch and
@mvote/ballot (js/ballot) prepare, sign and POST a ballot to a real uvicorn server in front of the
real embedded node; the receipt the service answers verifies in Python from the genesis hash, and
a second ballot of the same voter comes back as an application/problem+json ALREADY_VOTED.

Skipped only when ``node`` is not installed (nothing from npm is needed)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from grpc_support import Served, serve
from nacl.signing import SigningKey
from node_support import REGISTRAR, open_question_spec
from rest_support import Rest, serve_rest

from mvote.chaincode import encoding
from mvote.client._ballot import voter_public_hex
from mvote.client._registrar import issue_credential
from mvote.verifier import Receipt, verify_receipt

SCRIPT = Path(__file__).resolve().parent / "rest_client.mjs"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None, reason="Node.js (node) is not installed: the JavaScript integrator cannot run"
)


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    node = serve(tmp_path_factory.mktemp("net") / "network", tls=True)
    served: Served = next(node)
    try:
        yield from serve_rest(served)
    finally:
        node.close()


def _integrator(rest: Rest, qid: str, seed: bytes, credential: Any) -> dict[str, Any]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SCRIPT)],
        input=json.dumps(
            {"url": rest.server.url, "qid": qid, "seed_hex": seed.hex(), "credential": credential}
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_javascript_integrator_casts_over_rest_and_the_receipt_verifies(rest: Rest) -> None:
    spec = open_question_spec("js-rest", time.time(), options=("yes", "no", "abstain"))
    assert rest.signed("POST", "/v1/questions", spec, params={"open": "true"}).status_code == 200
    seed = hashlib.sha256(b"javascript voter").digest()
    voter = voter_public_hex(SigningKey(seed))
    credential = issue_credential(
        REGISTRAR,
        channel=rest.channel,
        voter=voter,
        expires_at=spec["schedule"]["closes_at"],
        scope="js-rest",
    ).to_json()

    first = _integrator(rest, "js-rest", seed, credential)
    assert first["status"] == 200, first
    answer = first["answer"]
    assert answer["tracker"] == first["tracker"] and answer["qid"] == "js-rest"
    receipt = Receipt.from_bytes(encoding.encode(answer["receipt"]))
    report = verify_receipt(receipt, anchor=rest.served.material.genesis_hash)
    assert report.verified, [c for c in report.checks if not c.ok]
    results = rest.http.get("/v1/questions/js-rest/results").json()
    assert results["counts"] == [0, 0, 1]

    again = _integrator(rest, "js-rest", seed, credential)
    assert again["status"] == 409 and again["contentType"] == "application/problem+json"
    assert (again["answer"]["code"], again["answer"]["field"]) == ("ALREADY_VOTED", "ballot.voter")
    assert rest.http.get("/v1/questions/js-rest/results").json() == results
