"""The public connection profile and the voting service started from it (what ``mvote serve
--profile P`` runs) in front of a real embedded node: the profile holds no private key, a
ballot cast through the service gets a receipt that verifies from the profile's genesis hash,
and the whole chain fetched through the service audits clean."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc_support import Served
from node_support import cast_request, open_question_spec, voter_key
from typer.testing import CliRunner

from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField
from mvote.cli import app
from mvote.client._identity import load_signer
from mvote.client._voting import VotingContract
from mvote.node.material import issue_integrator_certificate
from mvote.service import ProfileInvalid
from mvote.service._client import ClientTls, VotingClient
from mvote.service._grpc import IntegratorTrust, ServerTls
from mvote.service._profile import Profile
from mvote.service._serve import INTAKE_CONNECTIONS, Running, start_service
from mvote.verifier import verify_receipt
from mvote.verifier._audit import audit_chain
from mvote.verifier._receipt import Receipt


@pytest.fixture(scope="module")
def profile_file(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("profile") / "profile.json"
    result = CliRunner().invoke(
        app,
        ["network", "profile", str(served.material.directory), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def running(served: Served, profile_file: Path) -> Iterator[Running]:
    org = served.material.org("cityhall")
    profile = Profile.load(profile_file)
    # The embedded node listens on the port the server picked, not the configured one.
    peers = tuple(type(p)(served.server.address, p.tls_ca, p.msp_id) for p in profile.peers)
    profile = Profile(profile.channel, profile.chaincode, profile.genesis_hash, None, peers)
    started = start_service(
        profile,
        load_signer(org.client.msp_dir, org.msp_id),
        tls=ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes()),
        trust=IntegratorTrust({org.msp_id: org.tlsca_cert_path.read_bytes()}),
    )
    try:
        yield started
    finally:
        started.stop(grace=1)


def test_the_profile_holds_no_private_key(profile_file: Path, served: Served) -> None:
    text = profile_file.read_text()
    assert "PRIVATE KEY" not in text
    profile = Profile.load(profile_file)
    assert profile.genesis_hash == served.material.genesis_hash.hex()
    assert {p.msp_id for p in profile.peers} == {o.msp_id for o in served.material.peer_orgs}
    # A profile with a key in it is refused, naming the field.
    value = json.loads(text)
    key = served.material.org("cityhall").client.key_path.read_text()
    value["peers"][0]["note"] = key
    with pytest.raises(ProfileInvalid) as refused:
        Profile.from_json(value)
    assert refused.value.field == "profile"
    with pytest.raises(ProfileInvalid) as refused:
        Profile.from_json(dict(json.loads(text), genesis_hash="00"))
    assert refused.value.field == "genesis_hash"


def test_a_ballot_through_the_served_profile_verifies_and_the_chain_audits(
    served: Served, running: Running, profile_file: Path, tmp_path: Path
) -> None:
    org = served.material.org("cityhall")
    admin = served.gateway(served.signer(admin=True))
    channel, chaincode = served.material.config.channel, served.material.config.chaincode
    contract = VotingContract.over(admin.network(channel).contract(chaincode))
    spec = open_question_spec("p-open", time.time())
    contract.transactor.transact("CreateQuestion", encoding.encode(spec))
    contract.transactor.transact("OpenQuestion", "p-open")
    admin.close()
    files = issue_integrator_certificate(org, "site", tmp_path)
    tls = ClientTls(
        org.node.tls_ca_path.read_bytes(), files.cert.read_bytes(), files.key.read_bytes()
    )
    anchor = bytes.fromhex(Profile.load(profile_file).genesis_hash)
    request = cast_request(channel, spec, voter_key(7), 2)
    with VotingClient(running.server.address, tls) as client:
        done = client.cast(encoding.encode(request.to_json()), with_receipt=True)
        report = verify_receipt(Receipt.from_bytes(done.receipt), anchor=anchor)
        assert report.verified, [c for c in report.checks if not c.ok]
        height = client.chain_info().height
        chain = client.blocks(0, height - 1)
    assert len(chain) == height
    audit = audit_chain(chain, anchor)
    assert audit.verified, audit.findings[:5]


def test_the_intake_has_its_own_gateway_connections(running: Running) -> None:
    # The service's own connection, then INTAKE_CONNECTIONS for the intake's batches.
    assert len(running.gateways) == 1 + INTAKE_CONNECTIONS
    assert len({id(g.channel) for g in running.gateways}) == len(running.gateways)


@pytest.mark.parametrize("count", [0, 65, True])
def test_a_bad_intake_connection_count_is_refused_naming_it(
    served: Served, profile_file: Path, count: int
) -> None:
    org = served.material.org("cityhall")
    with pytest.raises(InvalidField) as refused:
        start_service(
            Profile.load(profile_file),
            load_signer(org.client.msp_dir, org.msp_id),
            tls=ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes()),
            trust=IntegratorTrust({org.msp_id: org.tlsca_cert_path.read_bytes()}),
            intake_connections=count,
        )
    assert refused.value.field == "intake_connections"
