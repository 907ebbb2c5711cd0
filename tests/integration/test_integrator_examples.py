"""The Python worked examples of docs/integrators.md (docs/examples/grpc_integrator.py and
rest_integrator.py) run as written against a real node: each reads the question, prepares and
signs a voter's ballot, casts it through the voting service (gRPC with an integrator's client
certificate; REST), waits for the receipt and verifies it from the genesis hash; a second
ballot of the same voter is refused with its code."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from grpc_support import Served
from node_support import REGISTRAR, open_question_spec, voter_key
from rest_support import Rest, serve_rest

from mvote.chaincode import SignedCredential
from mvote.chaincode._errors import AlreadyVoted
from mvote.client._ballot import voter_public_hex
from mvote.client._registrar import issue_credential
from mvote.node.material import issue_integrator_certificate
from mvote.service._client import ClientTls
from mvote.service._grpc import IntegratorTrust, ServerTls, VotingServer
from mvote.verifier import Receipt

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rest(served: Served) -> Iterator[Rest]:
    yield from serve_rest(served)


@pytest.fixture(scope="module")
def question(rest: Rest) -> str:
    spec = open_question_spec("ex-q", time.time(), options=("park", "library", "pool"))
    assert rest.signed("POST", "/v1/questions", spec, params={"open": "true"}).status_code == 200
    return "ex-q"


def _credential(rest: Rest, qid: str, voter: int) -> SignedCredential:
    return issue_credential(
        REGISTRAR,
        channel=rest.channel,
        voter=voter_public_hex(voter_key(voter)),
        expires_at=int(time.time()) + 3600,
        scope=qid,
    )


def test_the_grpc_example_casts_and_verifies(rest: Rest, question: str, tmp_path: Path) -> None:
    served = rest.served
    org = served.material.org("cityhall")
    tls = ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes())
    trust = IntegratorTrust({org.msp_id: org.tlsca_cert_path.read_bytes()})
    server = VotingServer(rest.service, tls=tls, trust=trust).start()
    files = issue_integrator_certificate(org, "kiosk-ex", tmp_path)
    client_tls = ClientTls(
        org.node.tls_ca_path.read_bytes(), files.cert.read_bytes(), files.key.read_bytes()
    )
    example = _example("grpc_integrator")

    def cast(choice: int) -> Receipt:
        return example.cast_and_verify(
            server.address,
            client_tls,
            voter_key(301),
            channel=rest.channel,
            qid=question,
            choices=[choice],
            credential=_credential(rest, question, 301),
            genesis_hash=served.material.genesis_hash,
        )

    try:
        receipt = cast(1)
        assert receipt.qid == question and receipt.block > 0
        with pytest.raises(AlreadyVoted):
            cast(2)
    finally:
        server.stop(grace=1)


def test_the_rest_example_casts_and_verifies(rest: Rest, question: str) -> None:
    example = _example("rest_integrator")

    def cast(choice: int) -> Receipt:
        return example.cast_and_verify(
            rest.server.url,
            voter_key(302),
            channel=rest.channel,
            qid=question,
            choices=[choice],
            credential=_credential(rest, question, 302),
            genesis_hash=rest.served.material.genesis_hash,
        )

    receipt = cast(0)
    assert receipt.qid == question and receipt.block > 0
    with pytest.raises(example.Refused) as refused:
        cast(1)
    assert (refused.value.status, refused.value.code) == (409, "ALREADY_VOTED")
    assert refused.value.field == "ballot.voter"
