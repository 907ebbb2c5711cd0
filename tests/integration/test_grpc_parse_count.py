"""One parse per RPC: the gateway decodes a proposal once per Endorse, and a submitted
transaction's envelope is decoded once on its way through Submit, ordering, validation and
commit (the orderer queue carries the parsed transaction; the ledger commits what validation
derived)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from grpc_support import Served, question_spec
from testkit import count_decodes

from mvote.client._proposal import new_proposal
from mvote.node import endorser

CHANNEL = "mvote"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[tuple[str, bytes]]]:
    """Every protobuf decode of the verifier's and the endorser's, by (message type, bytes)."""
    yield count_decodes(monkeypatch, endorser)


def test_endorse_parses_the_proposal_once_and_commit_the_envelope_once(
    served: Served, decodes: Counter[tuple[str, bytes]]
) -> None:
    ca = served.server.tls_files.ca.read_bytes()
    channel = grpc.secure_channel(served.server.address, grpc.ssl_channel_credentials(ca))
    stub = gateway_pb2_grpc.GatewayStub(channel)
    admin = served.signer(admin=True)
    proposal = new_proposal(
        admin,
        channel_id=CHANNEL,
        chaincode="mvote",
        args=["CreateQuestion", question_spec("q-parse", time.time())],
        timestamp=time.time(),
    )
    endorsed = stub.Endorse(
        gateway_pb2.EndorseRequest(proposed_transaction=proposal.signed()), timeout=30
    )
    assert decodes[("protos.Proposal", proposal.proposal_bytes)] == 1
    prepared = endorsed.prepared_transaction
    prepared.signature = admin.sign(prepared.payload)
    raw = prepared.SerializeToString()
    decodes.clear()
    stub.Submit(
        gateway_pb2.SubmitRequest(
            transaction_id=proposal.transaction_id,
            channel_id=CHANNEL,
            prepared_transaction=prepared,
        ),
        timeout=30,
    )
    assert served.node.commit_status(proposal.transaction_id, timeout=30).code == 0
    assert decodes[("common.Envelope", raw)] == 1
    channel.close()
