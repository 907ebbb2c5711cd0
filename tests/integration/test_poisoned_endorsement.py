"""One transaction never stops the node: a client that corrupts an endorser's certificate in its
own endorsed ballot, re-signs the envelope with its genuine key and submits it over the Gateway
gets that transaction committed INVALID (ENDORSEMENT_POLICY_FAILURE), and the next ballot commits.

Before the fix, cryptography's ``x509.InvalidVersion`` (a flipped version byte) or ``TypeError``
(a subject string retagged as a BIT STRING) escaped the committer's validation: the node logged
"ordering stopped", lost the batch and answered NOT_RUNNING until restarted.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

import grpc
import nacl.signing
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import transaction_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import Served

from mvote.chaincode import encoding
from mvote.chaincode._records import Eligibility, QuestionSpec, Schedule, SingleChoice
from mvote.client._ballot import prepare_ballot, voter_public_hex
from mvote.client._network import Network
from mvote.client._registrar import issue_credential
from mvote.client._transaction import Transaction

CHANNEL = "mvote"
CC = "mvote"
ENDORSEMENT_POLICY_FAILURE = transaction_pb2.ENDORSEMENT_POLICY_FAILURE
REGISTRAR = nacl.signing.SigningKey(b"\x11" * 32)
#: The X.509 version INTEGER's value byte: SEQUENCE { SEQUENCE (TBS) { [0] { INTEGER 2 } ...
VERSION_VALUE = 12
#: OBJECT IDENTIFIER 2.5.4.10 (organizationName), as DER.
ORGANIZATION_NAME_OID = bytes.fromhex("060355040a")


def _version_flipped(der: bytes) -> bytes:
    assert der[VERSION_VALUE - 4 : VERSION_VALUE] == bytes.fromhex("a0030201"), der[:16].hex()
    return der[:VERSION_VALUE] + bytes([der[VERSION_VALUE] ^ 0x01]) + der[VERSION_VALUE + 1 :]


def _subject_retagged(der: bytes) -> bytes:
    """The subject's organisation name (the issuer's comes first) as a BIT STRING."""
    tag = der.rindex(ORGANIZATION_NAME_OID) + len(ORGANIZATION_NAME_OID)
    assert der[tag] in (0x0C, 0x13), hex(der[tag])
    return der[:tag] + b"\x03" + der[tag + 1 :]


def _question(qid: str) -> QuestionSpec:
    now = int(time.time())
    return QuestionSpec(
        qid,
        f"Question {qid}",
        "",
        ("yes", "no"),
        SingleChoice(),
        Eligibility.of_registrars((voter_public_hex(REGISTRAR),)),
        Schedule(now - 5, now + 3600),
    )


def _cast_args(spec: QuestionSpec, seed: int) -> list[bytes | str]:
    voter = nacl.signing.SigningKey(bytes([seed]) * 32)
    credential = issue_credential(
        REGISTRAR,
        channel=CHANNEL,
        voter=voter_public_hex(voter),
        expires_at=spec.schedule.closes_at,
    )
    request = prepare_ballot(
        voter, channel=CHANNEL, question=spec, choices=[0], credential=credential
    )
    return [encoding.encode(request.to_json())]


def _poisoned(
    network: Network, transaction: Transaction, corrupt: Callable[[bytes], bytes]
) -> Transaction:
    """The endorsed transaction with its first endorser's certificate corrupted, signed again by
    the client's genuine key (as any client identity can)."""
    payload = common_pb2.Payload.FromString(transaction.bytes)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    endorsement = cap.action.endorsements[0]
    sid = identities_pb2.SerializedIdentity.FromString(endorsement.endorser)
    der = x509.load_pem_x509_certificate(sid.id_bytes).public_bytes(Encoding.DER)
    sid.id_bytes = ssl.DER_cert_to_PEM_cert(corrupt(der)).encode()
    endorsement.endorser = sid.SerializeToString()
    tx.actions[0].payload = cap.SerializeToString()
    payload.data = tx.SerializeToString()
    return Transaction(network, transaction.transaction_id, payload.SerializeToString())


@pytest.mark.parametrize(
    "corrupt", [_version_flipped, _subject_retagged], ids=["version_byte", "subject_tag"]
)
def test_a_poisoned_endorsement_is_committed_invalid_and_the_next_ballot_commits(
    served: Served, corrupt: Callable[[bytes], bytes]
) -> None:
    qid = f"q-poison-{corrupt.__name__.strip('_')}"
    spec = _question(qid)
    with served.gateway(served.signer(admin=True)) as gw:
        contract = gw.network(CHANNEL).contract(CC)
        contract.submit("CreateQuestion", [encoding.encode(spec.to_json())])
        contract.submit("OpenQuestion", [qid])
    with served.gateway(served.signer()) as gw:
        network = gw.network(CHANNEL)
        contract = network.contract(CC)
        honest = contract.new_proposal("Cast", _cast_args(spec, 1)).endorse()
        status = _poisoned(network, honest, corrupt).submit().status(timeout=30)
        assert status.code == ENDORSEMENT_POLICY_FAILURE, status.code_name
        # The node goes on: the next ballot commits, and the service still answers SERVING.
        following = contract.new_proposal("Cast", _cast_args(spec, 2)).endorse()
        assert following.submit().status(timeout=30).successful
    assert served.node.ledger.tx_location(honest.transaction_id) is not None
    ca = served.server.tls_files.ca.read_bytes()
    channel = grpc.secure_channel(served.server.address, grpc.ssl_channel_credentials(ca))
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="gateway.Gateway"), timeout=5
    )
    channel.close()
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_poisoned_identity_in_a_signed_request_is_permission_denied(served: Served) -> None:
    """The ACL checks of CommitStatus (and Deliver, ChaincodeEvents) deserialize the request's
    identity with the same MSP code: a corrupt certificate is refused, not an UNKNOWN error."""
    signer = served.signer()
    sid = identities_pb2.SerializedIdentity.FromString(signer.creator)
    der = x509.load_pem_x509_certificate(sid.id_bytes).public_bytes(Encoding.DER)
    sid.id_bytes = ssl.DER_cert_to_PEM_cert(_version_flipped(der)).encode()
    request = gateway_pb2.CommitStatusRequest(
        channel_id=CHANNEL, transaction_id="0" * 64, identity=sid.SerializeToString()
    ).SerializeToString()
    ca = served.server.tls_files.ca.read_bytes()
    channel = grpc.secure_channel(served.server.address, grpc.ssl_channel_credentials(ca))
    try:
        with pytest.raises(grpc.RpcError) as info:
            gateway_pb2_grpc.GatewayStub(channel).CommitStatus(
                gateway_pb2.SignedCommitStatusRequest(
                    request=request, signature=signer.sign(request)
                ),
                timeout=5,
            )
    finally:
        channel.close()
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, info.value.details()
    assert "identity.id_bytes" in str(info.value.details())
