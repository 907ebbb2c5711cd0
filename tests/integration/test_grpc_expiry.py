"""Expired certificates at the node's entry points: a real enrollment certificate issued by the
organisation's CA with its notAfter in the past is refused at Evaluate, Endorse, Submit,
Broadcast, Deliver, CommitStatus and ChaincodeEvents, naming the notAfter; a transaction of that
identity already recorded stays VALID (Fabric's committer does not look at expiry)."""

from __future__ import annotations

import datetime
import time

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2_grpc
from fabric_protos.peer import events_pb2_grpc
from grpc_support import Served, question_spec

from mvote.client._errors import EndorseError, GatewayError
from mvote.client._gateway import error_details
from mvote.client._identity import Identity, Signer
from mvote.client._proposal import new_proposal
from mvote.node.endorser import unpack_proposal
from mvote.node.errors import IdentityExpired
from mvote.node.material import (
    _CA,
    OrgMaterial,
    SubjectLocation,
    _issue,
    _load_certificate,
    _load_private_key,
)
from mvote.node.peer import assemble_transaction
from mvote.verifier._deliver import seek_envelope, seek_position


def issue_enrollment_certificate(
    org: OrgMaterial,
    public_key: ec.EllipticCurvePublicKey,
    *,
    common_name: str,
    organizational_unit: str,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> x509.Certificate:
    """(Test-only: moved from mvote.node.material, which ships no code only tests use.)
    An enrollment certificate for ``public_key`` signed by ``org``'s signing CA, valid from
    ``not_before`` to ``not_after`` (a short-lived or already expired identity; ``network init``
    issues ten-year ones). Precondition: the window lies within the CA's own."""
    ca_cert = _load_certificate(org.ca_cert_path)
    location = SubjectLocation(
        *(
            str(ca_cert.subject.get_attributes_for_oid(oid)[0].value)
            for oid in (NameOID.COUNTRY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.LOCALITY_NAME)
        )
    )
    ca = _CA(_load_private_key(org.ca_key_path), ca_cert, org.ca_name, location)
    return _issue(
        ca,
        public_key,
        common_name=common_name,
        organizational_unit=organizational_unit,
        sans=(),
        tls=False,
        now=not_before,
        validity=(not_before, not_after),
    )


CHANNEL = "mvote"
CC = "mvote"


def expired_signer(served: Served, org: str = "cityhall", *, admin: bool = False) -> Signer:
    """A client (or admin) of ``org`` whose certificate, issued by the org's own CA, expired a
    few minutes ago: valid for one minute after the CA's notBefore (network init less 5 min)."""
    material = served.material.org(org)
    ca = x509.load_pem_x509_certificate(material.ca_cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    start = ca.not_valid_before_utc + datetime.timedelta(minutes=1)
    cert = issue_enrollment_certificate(
        material,
        key.public_key(),
        common_name=f"Expired@{material.domain}",
        organizational_unit="admin" if admin else "client",
        not_before=start,
        not_after=start + datetime.timedelta(minutes=1),
    )
    assert cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC)
    return Signer(Identity(material.msp_id, cert.public_bytes(Encoding.PEM)), key)


def not_after(signer: Signer) -> str:
    return signer.identity.certificate.not_valid_after_utc.isoformat()


def channel_for(served: Served) -> grpc.Channel:
    ca = served.server.tls_files.ca.read_bytes()
    return grpc.secure_channel(served.server.address, grpc.ssl_channel_credentials(ca))


def endorsed_by_all(served: Served, signer: Signer, args: list[bytes | str]) -> bytes:
    """A transaction payload of ``signer``'s proposal endorsed by every organisation's peer
    directly (as a peer would have while the certificate was valid)."""
    proposal = new_proposal(signer, channel_id=CHANNEL, chaincode=CC, args=args)
    up = unpack_proposal(proposal.signed())
    with served.node.ledger.snapshot() as world:
        responses = [e.endorse(up, world) for e in served.node.endorsers]
    assert all(r.HasField("endorsement") for r in responses)
    return assemble_transaction(up, responses)


def test_evaluate_and_endorse_refuse_an_expired_creator(served: Served) -> None:
    expired = expired_signer(served)
    with served.gateway(expired) as gw:
        contract = gw.network(CHANNEL).contract(CC)
        with pytest.raises(GatewayError) as evaluated:
            contract.evaluate("ListQuestions")
        assert evaluated.value.reason_code == "IDENTITY_EXPIRED"
        with pytest.raises(EndorseError) as endorsed:
            contract.new_proposal("ListQuestions").endorse()
        assert endorsed.value.grpc_code == "ABORTED"
        assert endorsed.value.reason_code == "IDENTITY_EXPIRED"
        # The client types only the codes of the parts it may import (chaincode, verifier,
        # client: explicit tables, no registration on import); a node code is its reason_code.
        assert endorsed.value.cause is None
        assert f"notAfter {not_after(expired)}" in endorsed.value.details[0].message


def test_submit_and_broadcast_refuse_an_expired_creator(served: Served) -> None:
    expired = expired_signer(served, admin=True)
    payload = endorsed_by_all(
        served, expired, ["CreateQuestion", question_spec("q-expired", time.time())]
    )
    envelope = common_pb2.Envelope(payload=payload, signature=expired.sign(payload))
    height = served.node.ledger.height
    stub = gateway_pb2_grpc.GatewayStub(channel_for(served))
    with pytest.raises(grpc.RpcError) as info:
        stub.Submit(
            gateway_pb2.SubmitRequest(channel_id=CHANNEL, prepared_transaction=envelope),
            timeout=10,
        )
    assert info.value.code() == grpc.StatusCode.ABORTED
    (detail,) = [d.message for d in error_details(info.value)]
    assert "info=IDENTITY_EXPIRED: creator: identity expired: " in detail
    assert f"notAfter {not_after(expired)}" in detail
    # The orderer's Broadcast: BAD_REQUEST, as Fabric's ExpirationRejectRule.
    (reply,) = ab_pb2_grpc.AtomicBroadcastStub(channel_for(served)).Broadcast(
        iter([envelope]), timeout=10
    )
    assert reply.status == common_pb2.BAD_REQUEST
    assert reply.info.startswith("IDENTITY_EXPIRED: ")
    assert served.node.ledger.height == height
    assert (
        served.node.ledger.tx_location(
            common_pb2.ChannelHeader.FromString(
                common_pb2.Payload.FromString(payload).header.channel_header
            ).tx_id
        )
        is None
    )


def _seek(signer: Signer, start: int, stop: int) -> common_pb2.Envelope:
    return seek_envelope(
        signer, CHANNEL, start=seek_position(start), stop=seek_position(stop), wait=True
    )


def test_deliver_refuses_an_expired_reader(served: Served) -> None:
    expired = expired_signer(served)
    for stub in (
        events_pb2_grpc.DeliverStub(channel_for(served)),
        ab_pb2_grpc.AtomicBroadcastStub(channel_for(served)),
    ):
        (reply,) = stub.Deliver(iter([_seek(expired, 0, 0)]), timeout=10)
        assert reply.status == common_pb2.FORBIDDEN
    # The same seek by a valid reader is served.
    replies = list(
        events_pb2_grpc.DeliverStub(channel_for(served)).Deliver(
            iter([_seek(served.signer(), 0, 0)]), timeout=10
        )
    )
    assert replies[-1].status == common_pb2.SUCCESS


def test_commit_status_and_chaincode_events_refuse_an_expired_identity(served: Served) -> None:
    expired = expired_signer(served)
    stub = gateway_pb2_grpc.GatewayStub(channel_for(served))
    request = gateway_pb2.CommitStatusRequest(
        transaction_id="a" * 64, channel_id=CHANNEL, identity=expired.creator
    ).SerializeToString()
    with pytest.raises(grpc.RpcError) as info:
        stub.CommitStatus(
            gateway_pb2.SignedCommitStatusRequest(request=request, signature=expired.sign(request)),
            timeout=10,
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (info.value.details() or "").startswith("IDENTITY_EXPIRED: identity: identity expired")
    events = gateway_pb2.ChaincodeEventsRequest(
        channel_id=CHANNEL, chaincode_id=CC, identity=expired.creator
    ).SerializeToString()
    with pytest.raises(grpc.RpcError) as info:
        list(
            stub.ChaincodeEvents(
                gateway_pb2.SignedChaincodeEventsRequest(
                    request=events, signature=expired.sign(events)
                ),
                timeout=10,
            )
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"notAfter {not_after(expired)}" in (info.value.details() or "")


def test_expiry_is_judged_by_the_nodes_injected_clock(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    expired = expired_signer(served)
    identity = served.node.channel_config.msps.deserialize(expired.creator)
    end = expired.identity.certificate.not_valid_after_utc.timestamp()
    monkeypatch.setattr(served.node, "_clock", lambda: end - 1)
    served.node.check_not_expired(identity, "creator")
    monkeypatch.setattr(served.node, "_clock", lambda: end + 1)
    with pytest.raises(IdentityExpired) as info:
        served.node.check_not_expired(identity, "creator")
    assert info.value.field == "creator"


def test_a_recorded_transaction_of_an_expired_creator_stays_valid(served: Served) -> None:
    """What the orderer took while the certificate was valid commits, and the verifier's rule
    for recorded transactions (Fabric's committer) never looks at expiry."""
    expired = expired_signer(served, admin=True)
    payload = endorsed_by_all(
        served, expired, ["CreateQuestion", question_spec("q-recorded", time.time())]
    )
    envelope = common_pb2.Envelope(payload=payload, signature=expired.sign(payload))
    tx_id = common_pb2.ChannelHeader.FromString(
        common_pb2.Payload.FromString(payload).header.channel_header
    ).tx_id
    # Past Submit's checks, as when the certificate was still valid: straight to ordering.
    served.node.order(tx_id, envelope.SerializeToString())
    assert served.node.commit_status(tx_id, timeout=30).code == 0
