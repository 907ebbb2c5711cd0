"""Cast-or-audit through the voting service, in front of a real embedded node: a voter-signed
secret ballot audited (spoiled) over gRPC (SpoilBallot) and over REST (POST /v1/spoiled-ballots),
each answer's spoiled-ballot file checked as ``mvote-verify spoiled`` checks it from the genesis
hash; the client's spoil recipe through the ServiceTransactor; and each refusal (BALLOT_SPOILED,
AUDIT_MISMATCH, an open ballot, a bad signature) with its code, over both transports, with no
state change. A 2-of-2 key ceremony runs first, through the admin's Gateway."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from grpc_support import Served
from node_support import REGISTRAR, cast_request, open_question_spec, voter_key

from mvote.chaincode import encoding
from mvote.chaincode._crypto.group import Point, point_from_hex
from mvote.chaincode._errors import (
    AuditMismatch,
    BadSignature,
    BallotSpoiled,
    InvalidField,
    MvoteError,
)
from mvote.chaincode._records import QuestionSpec, SpoilRequest
from mvote.client import _trustee as trustees
from mvote.client import recipes
from mvote.client._ballot import voter_public_hex
from mvote.client._registrar import issue_credential
from mvote.client._secret import PreparedSecretBallot, prepare_secret_ballot
from mvote.client._verified import ChainReads, TrustAnchor
from mvote.client._voting import VotingContract
from mvote.service import VotingService
from mvote.service._client import ClientTls, VotingClient
from mvote.service._grpc import ServerTls, VotingServer
from mvote.service._proto import voting_pb2 as pb
from mvote.service._rest import RestServer, create_app
from mvote.service._rest_auth import AdminAuthority
from mvote.service._transactor import ServiceBlocks, ServiceTransactor
from mvote.verifier._receipt import Receipt
from mvote.verifier._spoiled import verify_spoiled

QID, CID = "spoil-q", "spoil-c"
JSON_TYPE = {"content-type": "application/json"}


@dataclass
class World:
    served: Served
    service: VotingService
    grpc_address: str
    tls_root: bytes
    http: httpx.Client
    spec: QuestionSpec
    election_key: Point

    @property
    def channel(self) -> str:
        return self.served.material.config.channel

    @property
    def anchor(self) -> bytes:
        return self.served.material.genesis_hash

    def client(self) -> VotingClient:
        return VotingClient(self.grpc_address, ClientTls(self.tls_root))

    def prepared(self, voter: int, choices: list[int]) -> PreparedSecretBallot:
        key = voter_key(voter)
        credential = issue_credential(
            REGISTRAR,
            channel=self.channel,
            voter=voter_public_hex(key),
            expires_at=self.spec.schedule.closes_at,
            scope=QID,
        )
        return prepare_secret_ballot(
            key,
            channel=self.channel,
            question=self.spec,
            election_key=self.election_key,
            choices=choices,
            credential=credential,
        )

    def state(self) -> tuple[int, Any]:
        """The committed height and the question's results: what a refusal must not change."""
        return self.service.height(), self.service.results(QID)


def _ceremony_and_question(admin: VotingContract, channel: str) -> tuple[QuestionSpec, Point]:
    """A complete 2-of-2 ceremony CID and the open secret question QID on it (open eligibility,
    REGISTRAR's credentials), through the admin's Gateway."""
    team = [trustees.new_trustee(channel, CID, 2, 2, i) for i in (1, 2)]
    regs = [t.registration() for t in team]
    transact = admin.transactor.transact
    transact("CreateCeremony", trustees.ceremony_spec(CID, 2, 2, regs))
    dealings = [trustees.dealing_posting(t, regs) for t in team]
    for dealing in dealings:
        transact("PostDealing", dealing)
    dealt = [encoding.decode(d, max_size=1 << 24) for d in dealings]
    for t in team:
        transact("PostCheck", trustees.check_posting(t, dealt))
    transact("CompleteCeremony", CID)
    ceremony = admin.transactor.query("GetCeremony", CID)
    spec_json = open_question_spec(QID, time.time()) | {"mode": "secret", "election": CID}
    transact("CreateQuestion", encoding.encode(spec_json))
    transact("OpenQuestion", QID)
    return QuestionSpec.from_json(spec_json), point_from_hex(ceremony["election_key"], "key")


@pytest.fixture(scope="module")
def world(served: Served) -> Iterator[World]:
    config = served.material.config
    gateway = served.gateway()
    admin_gateway = served.gateway(served.signer(admin=True))
    contract = VotingContract.over(gateway.network(config.channel).contract(config.chaincode))
    admin = VotingContract.over(admin_gateway.network(config.channel).contract(config.chaincode))
    spec, election_key = _ceremony_and_question(admin, config.channel)
    service = VotingService(contract, gateway.network(config.channel), chaincode=config.chaincode)
    org = served.material.org("cityhall")
    tls = ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes())
    public = VotingServer(service, tls=tls, trust=None).start()
    authority = AdminAuthority.from_genesis(served.material.genesis_path.read_bytes(), org.msp_id)
    rest = RestServer(create_app(service, authority=authority)).start()
    http = httpx.Client(base_url=rest.url, timeout=60)
    try:
        yield World(
            served,
            service,
            public.address,
            org.node.tls_ca_path.read_bytes(),
            http,
            spec,
            election_key,
        )
    finally:
        http.close()
        rest.stop()
        public.stop(grace=1)
        service.close()
        gateway.close()
        admin_gateway.close()


def _spoil_bytes(prepared: PreparedSecretBallot, nonce_key: str | None = None) -> bytes:
    spoil = prepared.spoil_request()
    if nonce_key is not None:
        spoil = SpoilRequest(spoil.request, nonce_key)
    return encoding.encode(spoil.to_json())


def _forged_sig(prepared: PreparedSecretBallot) -> bytes:
    value = prepared.spoil_request().to_json()
    sig = value["request"]["sig"]
    value["request"]["sig"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    return encoding.encode(value)


def _open_ballot(world: World, voter: int) -> bytes:
    """A SpoilBallot argument around an open (plain) ballot: only secret ballots are audited."""
    spec = open_question_spec(QID, time.time())
    request = cast_request(world.channel, spec, voter_key(voter), 0)
    return encoding.encode({"request": request.to_json(), "nonce_key": "11" * 32})


def _check_file(world: World, raw: bytes, tracker: str) -> None:
    """The spoiled-ballot file verifies from the genesis hash alone (``mvote-verify spoiled``)."""
    receipt = Receipt.from_bytes(raw)
    report = verify_spoiled(receipt, anchor=world.anchor)
    assert report.verified, [c for c in report.checks if not c.ok]
    assert (receipt.qid, receipt.tracker) == (QID, tracker)


# --- gRPC ----------------------------------------------------------------------------------------


def test_a_ballot_is_audited_over_grpc_and_its_file_verifies(world: World) -> None:
    prepared = world.prepared(1, [2])
    with world.client() as client:
        done = client.spoil(_spoil_bytes(prepared), with_file=True)
        assert (done.qid, done.tracker, list(done.choices)) == (QID, prepared.tracker, [2])
        assert done.block_number > 0 and done.tx_id
        _check_file(world, done.spoiled_file, prepared.tracker)
        # Without with_file: no file, the same kind of answer.
        other = world.prepared(1, [0])
        plain = client.spoil(_spoil_bytes(other))
        assert plain.spoiled_file == b"" and list(plain.choices) == [0]
        # The voter then votes: a fresh ballot casts.
        cast = client.cast(encoding.encode(world.prepared(1, [1]).request.to_json()))
        assert cast.qid == QID


def test_grpc_refusals_keep_their_codes_and_change_nothing(world: World) -> None:
    prepared = world.prepared(2, [1])
    with world.client() as client:
        client.spoil(_spoil_bytes(prepared))
        before = world.state()
        cases: list[tuple[bytes, type[MvoteError], grpc.StatusCode]] = [
            (_spoil_bytes(prepared), BallotSpoiled, grpc.StatusCode.FAILED_PRECONDITION),
            (
                _spoil_bytes(world.prepared(2, [0]), "11" * 32),
                AuditMismatch,
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            (_open_ballot(world, 2), InvalidField, grpc.StatusCode.INVALID_ARGUMENT),
            (_forged_sig(world.prepared(2, [0])), BadSignature, grpc.StatusCode.INVALID_ARGUMENT),
        ]
        fields = ["ballot", None, "request.ballot.type", "sig"]
        for (raw, error, status), field in zip(cases, fields, strict=True):
            with pytest.raises(grpc.RpcError) as raw_call:
                client.channel.unary_unary("/mvote.v1.Voting/SpoilBallot")(
                    pb.SpoilBallotRequest(request=raw).SerializeToString(), timeout=60
                )
            assert raw_call.value.code() == status  # type: ignore[attr-defined]
            with pytest.raises(error) as refused:
                client.spoil(raw)
            if field is not None:
                assert refused.value.field == field, refused.value
        # A spoiled ballot can never be cast.
        with pytest.raises(BallotSpoiled):
            client.cast(encoding.encode(prepared.request.to_json()))
        assert world.state() == before


def test_the_spoil_recipe_runs_through_the_service_transactor(world: World) -> None:
    prepared = world.prepared(3, [0])
    with world.client() as client:
        reads = ChainReads(client.block_range, TrustAnchor(world.anchor, world.service.chaincode))
        contract = VotingContract(ServiceTransactor(client, world.channel), reads=reads)
        spoiled = recipes.spoil_prepared(
            contract, prepared, ServiceBlocks(client), chaincode=world.service.chaincode
        )
    assert spoiled.result.choices == (0,) and spoiled.result.tracker == prepared.tracker
    _check_file(world, spoiled.file.to_bytes(), prepared.tracker)


# --- REST ----------------------------------------------------------------------------------------


def _rest_spoil(world: World, raw: bytes, **params: str) -> httpx.Response:
    return world.http.post("/v1/spoiled-ballots", content=raw, params=params, headers=JSON_TYPE)


def _problem(response: httpx.Response, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["status"]) == (code, status), body
    if field is not None:
        assert body["field"] == field, body


def test_a_ballot_is_audited_over_rest_and_its_file_verifies(world: World) -> None:
    prepared = world.prepared(4, [1])
    answer = _rest_spoil(world, _spoil_bytes(prepared), file="true")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["qid"], body["tracker"], body["choices"]) == (QID, prepared.tracker, [1])
    _check_file(world, encoding.encode(body["spoiled_file"]), prepared.tracker)
    plain = _rest_spoil(world, _spoil_bytes(world.prepared(4, [2]))).json()
    assert plain["spoiled_file"] is None and plain["choices"] == [2]


def test_rest_refusals_keep_their_codes_and_change_nothing(world: World) -> None:
    prepared = world.prepared(5, [0])
    assert _rest_spoil(world, _spoil_bytes(prepared)).status_code == 200
    before = world.state()
    _problem(_rest_spoil(world, _spoil_bytes(prepared)), 409, "BALLOT_SPOILED", "ballot")
    wrong = _spoil_bytes(world.prepared(5, [1]), "11" * 32)
    _problem(_rest_spoil(world, wrong), 400, "AUDIT_MISMATCH", None)
    _problem(
        _rest_spoil(world, _open_ballot(world, 5)), 400, "INVALID_FIELD", "request.ballot.type"
    )
    _problem(_rest_spoil(world, _forged_sig(world.prepared(5, [1]))), 400, "BAD_SIGNATURE", "sig")
    _problem(_rest_spoil(world, b'{"request":1}'), 400, "INVALID_FIELD", "request")
    cast = world.http.post(
        "/v1/ballots", content=encoding.encode(prepared.request.to_json()), headers=JSON_TYPE
    )
    _problem(cast, 409, "BALLOT_SPOILED", None)
    assert world.state() == before
    assert json.loads(world.http.get("/v1/chain").text)["height"] == before[0]
