"""The mvote.v1 gRPC voting service in front of a real embedded node: mutual TLS with an
integrator certificate its institution issued, casts with verifiable receipts, the bidirectional
stream, and every refusal with its code and no state change (bad signature, malformed protobuf,
oversized message, unknown question, second ballot, no client certificate, a foreign CA, rate
limit, too many streams). Real servers on 127.0.0.1, ephemeral ports."""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_support import Served
from node_support import cast_request, open_question_spec, voter_key

from mvote.chaincode import encoding
from mvote.chaincode._errors import (
    AlreadyExists,
    AlreadyVoted,
    BadSignature,
    InvalidField,
    Malformed,
    NotFound,
    Unsupported,
)
from mvote.client import _trustee as trustees
from mvote.client import recipes
from mvote.client._errors import CommitStatusError, GatewayError
from mvote.client._verified import ChainReads, TrustAnchor
from mvote.client._voting import CastResult, VotingContract
from mvote.node.material import issue_integrator_certificate
from mvote.service import (
    IntegratorUnknown,
    Limits,
    NoPostingIdentity,
    Rate,
    RateLimited,
    StreamLimit,
    VotingService,
)
from mvote.service._client import ClientTls, VotingClient, error_of
from mvote.service._grpc import IntegratorTrust, ServerTls, VotingServer
from mvote.service._proto import voting_pb2 as pb
from mvote.service._transactor import ServiceTransactor
from mvote.verifier import verify_receipt
from mvote.verifier._receipt import Receipt


@dataclass
class Setup:
    served: Served
    service: VotingService
    server: VotingServer
    tls: ClientTls
    admin: VotingContract

    def client(self, tls: ClientTls | None = None) -> VotingClient:
        return VotingClient(self.server.address, tls or self.tls)

    def raw(self, qid: str, voter: int, choice: int = 0) -> bytes:
        spec = open_question_spec(qid, time.time())
        channel = self.served.material.config.channel
        return encoding.encode(cast_request(channel, spec, voter_key(voter), choice).to_json())

    def height(self) -> int:
        return self.service.height()


def _server(setup_service: VotingService, served: Served, limits: Limits) -> VotingServer:
    org = served.material.org("cityhall")
    tls = ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes())
    trust = IntegratorTrust({org.msp_id: org.tlsca_cert_path.read_bytes()})
    return VotingServer(setup_service, tls=tls, trust=trust, limits=limits).start()


@pytest.fixture(scope="module")
def setup(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    channel, chaincode = served.material.config.channel, served.material.config.chaincode
    gateway = served.gateway()
    admin_gateway = served.gateway(served.signer(admin=True))
    contract = VotingContract.over(gateway.network(channel).contract(chaincode))
    admin = VotingContract.over(admin_gateway.network(channel).contract(chaincode))
    service = VotingService(contract, gateway.network(channel), chaincode=chaincode)
    for qid in ("g-open", "g-stream"):
        spec = open_question_spec(qid, time.time())
        admin.transactor.transact("CreateQuestion", encoding.encode(spec))
        admin.transactor.transact("OpenQuestion", qid)
    limits = Limits(max_streams=2, max_message_bytes=256 << 10)
    server = _server(service, served, limits)
    org = served.material.org("cityhall")
    files = issue_integrator_certificate(org, "kiosk-1", tmp_path_factory.mktemp("integrator"))
    tls = ClientTls(
        org.node.tls_ca_path.read_bytes(), files.cert.read_bytes(), files.key.read_bytes()
    )
    try:
        yield Setup(served, service, server, tls, admin)
    finally:
        server.stop(grace=1)
        service.close()
        gateway.close()
        admin_gateway.close()


def test_cast_returns_a_receipt_that_verifies(setup: Setup) -> None:
    with setup.client() as client:
        done = client.cast(setup.raw("g-open", 100), with_receipt=True)
        assert done.qid == "g-open" and done.block_number > 0 and len(done.tracker) == 64
        receipt = Receipt.from_bytes(done.receipt)
        report = verify_receipt(receipt, anchor=setup.served.material.genesis_hash)
        assert report.verified, [c for c in report.checks if not c.ok]
        voter = voter_key(100).verify_key.encode().hex()
        again = client.receipt("g-open", voter)
        assert (again.tx_id, again.tracker) == (done.tx_id, done.tracker)
        (entry,) = client.history(voter).entries
        assert entry.tx_id == done.tx_id
        assert list(client.results("g-open").counts) == [1, 0, 0]
        info = client.chain_info()
        assert info.genesis_hash == setup.served.material.genesis_hash.hex()
        assert client.question("g-open").state == "OPEN"
        listed = client.questions(pb.ListQuestionsRequest(search="g-stream"))
        assert [q.qid for q in listed.questions] == ["g-stream"]


def test_refusals_keep_their_codes_and_change_nothing(setup: Setup) -> None:
    with setup.client() as client:
        client.cast(setup.raw("g-open", 101))
        height = setup.height()
        ballots = client.results("g-open").ballots
        value = encoding.decode(setup.raw("g-open", 102), max_size=1 << 20)
        flipped = ("0" if value["sig"][0] != "0" else "1") + value["sig"][1:]
        with pytest.raises(BadSignature):
            client.cast(encoding.encode(dict(value, sig=flipped)))
        with pytest.raises(AlreadyVoted):
            client.cast(setup.raw("g-open", 101, 1))
        with pytest.raises(NotFound):
            client.cast(setup.raw("g-missing", 103))
        with pytest.raises(NotFound):
            client.question("g-missing")
        backwards = client.channel.unary_stream(
            "/mvote.v1.Voting/GetBlocks",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.Block.FromString,
        )(pb.GetBlocksRequest(start=5, stop=2), timeout=30)
        with pytest.raises(grpc.RpcError) as refused:
            list(backwards)
        bad_stop = error_of(refused.value)
        assert isinstance(bad_stop, InvalidField) and bad_stop.field == "GetBlocksRequest.stop"
        assert client.blocks(0, height - 1, chunk=2) == setup.service.blocks(0, height - 1)
        with pytest.raises(InvalidField) as bad:
            client.questions(pb.ListQuestionsRequest(page_size=101))
        assert bad.value.field == "page_size"
        with pytest.raises(NotFound):
            client.blocks(height + 3, height + 3)
        assert setup.height() == height
        assert client.results("g-open").ballots == ballots  # none of the refused ballots


def test_a_malformed_protobuf_is_refused_as_malformed(setup: Setup) -> None:
    with setup.client() as client:
        raw_call = client.channel.unary_unary("/mvote.v1.Voting/Cast")
        with pytest.raises(grpc.RpcError) as refused:
            raw_call(b"\x0a\xff\xff\xff", timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = error_of(refused.value)
    assert isinstance(error, Malformed) and error.field == "CastRequest"


def test_an_oversized_message_is_refused_by_grpc(setup: Setup) -> None:
    with setup.client() as client, pytest.raises(GatewayError) as refused:
        client.cast(b"x" * (300 << 10))
    assert refused.value.grpc_code == "RESOURCE_EXHAUSTED"


def _foreign_client_files(tmp_path: Path) -> ClientTls:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "foreign-ca")])
    now = datetime.datetime.now(datetime.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")]))
        .issuer_name(name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    del ca
    pem = leaf.public_bytes(serialization.Encoding.PEM)
    leaf_key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return ClientTls(b"", pem, leaf_key_pem)


def test_no_client_certificate_or_a_foreign_ca_is_refused(setup: Setup, tmp_path: Path) -> None:
    height = setup.height()
    without = ClientTls(setup.tls.root)
    foreign = _foreign_client_files(tmp_path)
    foreign = ClientTls(setup.tls.root, foreign.cert, foreign.key)
    for tls in (without, foreign):
        with setup.client(tls) as client, pytest.raises(GatewayError) as refused:
            client.cast(setup.raw("g-open", 110), timeout=10)
        assert refused.value.grpc_code == "UNAVAILABLE"
    assert setup.height() == height


def test_integrators_are_known_by_their_institution(setup: Setup) -> None:
    trust = setup.server.trust
    cert = x509.load_pem_x509_certificate(setup.tls.cert or b"")
    assert trust.msp_of(cert) == "CityhallMSP"
    other = setup.served.material.org("district")
    other_ca = x509.load_pem_x509_certificate(other.tlsca_cert_path.read_bytes())
    assert trust.msp_of(other_ca) is None


def test_health_and_reflection_are_served(setup: Setup) -> None:
    with setup.client() as client:
        health = health_pb2_grpc.HealthStub(client.channel)
        answer = health.Check(health_pb2.HealthCheckRequest(service="mvote.v1.Voting"), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
        names = {s.name for s in response.list_services_response.service}
        assert "mvote.v1.Voting" in names


def test_the_stream_relays_many_ballots(setup: Setup) -> None:
    voters = range(200, 240)
    requests = [pb.CastStreamRequest(ref=f"r{v}", request=setup.raw("g-stream", v)) for v in voters]
    # A second ballot of one voter and a malformed request in the same stream.
    requests.append(pb.CastStreamRequest(ref="again", request=setup.raw("g-stream", 200, 1)))
    requests.append(pb.CastStreamRequest(ref="junk", request=b"not json"))
    with setup.client() as client:
        answers = list(client.cast_stream(requests, timeout=120))
    accepted = {a.ref for a in answers if a.HasField("accepted")}
    committed = {a.ref: a.committed for a in answers if a.HasField("committed")}
    refused = {a.ref: a.refused.code for a in answers if a.HasField("refused")}
    assert set(committed) == {f"r{v}" for v in voters}
    assert accepted == {*committed, "again"}
    assert refused == {"again": "ALREADY_VOTED", "junk": "MALFORMED"}
    with setup.client() as client:
        assert client.results("g-stream").ballots == len(voters)


def test_rate_limits_answer_resource_exhausted(setup: Setup) -> None:
    limits = Limits(per_integrator=Rate(1e-6, 2), per_source=Rate(1e-6, 100))
    server = _server(setup.service, setup.served, limits)
    try:
        with VotingClient(server.address, setup.tls) as client:
            client.chain_info()
            client.chain_info()
            height = setup.height()
            with pytest.raises(RateLimited) as refused:
                client.cast(setup.raw("g-open", 120))
            assert refused.value.field == "integrator"
            assert setup.height() == height
    finally:
        server.stop(grace=1)
    limits = Limits(per_integrator=Rate(1e-6, 100), per_source=Rate(1e-6, 1))
    server = _server(setup.service, setup.served, limits)
    try:
        with VotingClient(server.address, setup.tls) as client:
            client.chain_info()
            with pytest.raises(RateLimited) as refused:
                client.chain_info()
            assert refused.value.field == "source"
    finally:
        server.stop(grace=1)


def test_too_many_streams_are_refused(setup: Setup) -> None:
    # Two streams held open (the server allows two), then a third is refused.
    release = threading.Event()
    opened = threading.Semaphore(0)

    def held() -> Iterator[pb.CastStreamRequest]:
        yield pb.CastStreamRequest(ref="x", request=b"not json")
        release.wait(60)

    clients = [setup.client() for _ in range(3)]
    streams = [c.cast_stream(held(), timeout=60) for c in clients[:2]]
    try:
        for stream in streams:
            first = next(stream)
            assert first.refused.code == "MALFORMED"
            opened.release()
        with pytest.raises(StreamLimit):
            list(clients[2].cast_stream(iter([]), timeout=30))
    finally:
        release.set()
        for stream in streams:
            list(stream)
        for c in clients:
            c.close()


def test_the_public_address_serves_voters_without_a_certificate(setup: Setup) -> None:
    org = setup.served.material.org("cityhall")
    tls = ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes())
    limits = Limits(per_source=Rate(1e-6, 3))
    public = VotingServer(setup.service, tls=tls, trust=None, limits=limits).start()
    try:
        with VotingClient(public.address, ClientTls(setup.tls.root)) as voter:
            done = voter.cast(setup.raw("g-open", 130))
            assert done.block_number > 0
            with pytest.raises(IntegratorUnknown):
                list(voter.cast_stream(iter([]), timeout=30))
            voter.chain_info()
            height = setup.height()
            with pytest.raises(RateLimited) as refused:
                voter.cast(setup.raw("g-open", 131))
            assert refused.value.field == "source"
            assert setup.height() == height
    finally:
        public.stop(grace=1)


def test_each_call_is_attributed_and_refusals_log_only_their_code(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    voter = voter_key(140).verify_key.encode().hex()
    with caplog.at_level(logging.INFO, logger="mvote.service"), setup.client() as client:
        client.cast(setup.raw("g-open", 140))
        with pytest.raises(AlreadyVoted):
            client.cast(setup.raw("g-open", 140, 1))
    lines = [r.getMessage() for r in caplog.records if r.name == "mvote.service"]
    (cast,) = [line for line in lines if line.startswith("cast ")]
    assert "by CityhallMSP/" in cast and "CN=kiosk-1" in cast
    (refused,) = [line for line in lines if "refused" in line]
    assert "ALREADY_VOTED" in refused and "CityhallMSP/" in refused
    assert all(voter not in line for line in lines)


def test_trustees_post_through_the_public_address(setup: Setup) -> None:
    served = setup.served
    channel, chaincode = served.material.config.channel, served.material.config.chaincode
    admin_gateway = served.gateway(served.signer(admin=True))
    postings = VotingContract.over(admin_gateway.network(channel).contract(chaincode))
    service = VotingService(
        setup.service.contract, setup.service.network, chaincode=chaincode, postings=postings
    )
    org = served.material.org("cityhall")
    tls = ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes())
    public = VotingServer(service, tls=tls, trust=None).start()
    team = [trustees.new_trustee(channel, "svc-ceremony", 2, 2, i) for i in (1, 2)]
    spec = trustees.ceremony_spec("svc-ceremony", 2, 2, [t.registration() for t in team])
    setup.admin.create_ceremony(spec)
    try:
        with VotingClient(public.address, ClientTls(setup.tls.root)) as client:
            # Trustee 1 with the raw call; trustee 2 through the client's recipes over the service.
            record = json.loads(client.ceremony("svc-ceremony").record)
            first = trustees.dealing_posting(team[0], record["trustees"])
            kind = pb.TrusteePosting.DEALING
            posted = client.post(pb.TrusteePosting(kind=kind, posting=first))
            assert json.loads(posted.result)["trustee"] == 1 and posted.block_number > 0
            with pytest.raises(AlreadyExists):
                client.post(pb.TrusteePosting(kind=kind, posting=first))
            anchor = TrustAnchor(served.material.genesis_hash, chaincode)
            reads = ChainReads(client.block_range, anchor)
            contract = VotingContract(ServiceTransactor(client, channel), reads=reads)
            second = recipes.dealing_posting(contract, team[1])
            forged = encoding.decode(second, max_size=1 << 24)
            forged["sig"] = ("0" if forged["sig"][0] != "0" else "1") + forged["sig"][1:]
            height = setup.height()
            with pytest.raises(BadSignature):
                contract.post_dealing(encoding.encode(forged))
            assert setup.height() == height
            assert contract.post_dealing(second).value.trustee == 2
            with pytest.raises(InvalidField) as unknown:
                client.post(pb.TrusteePosting(posting=first))
            assert unknown.value.field == "TrusteePosting.kind"
            with pytest.raises(Unsupported):
                contract.tally("g-open")
        # The integrators' service of this module has no admin identity: postings are refused.
        with setup.client() as client, pytest.raises(NoPostingIdentity):
            client.post(pb.TrusteePosting(kind=kind, posting=first))
    finally:
        public.stop(grace=1)
        admin_gateway.close()


class NeverCommits:
    """A sink whose ballots never commit (a stalled orderer)."""

    def __init__(self) -> None:
        self.held: list[Future[CastResult]] = []

    def submit(self, request: object) -> Future[CastResult]:
        self.held.append(Future())
        return self.held[-1]

    def close(self) -> None:
        for future in self.held:
            future.cancel()


def test_a_cast_that_does_not_commit_in_time_says_so(setup: Setup) -> None:
    sink = NeverCommits()
    stalled = VotingService(
        setup.service.contract, setup.service.network, chaincode="mvote", sink=sink
    )
    org = setup.served.material.org("cityhall")
    tls = ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes())
    server = VotingServer(stalled, tls=tls, trust=setup.server.trust, commit_wait=0.2).start()
    try:
        with VotingClient(server.address, setup.tls) as client:
            with pytest.raises(CommitStatusError) as late:
                client.cast(setup.raw("g-open", 150))
            assert late.value.field == "request" and len(sink.held) == 1
    finally:
        server.stop(grace=1)
        stalled.close()
