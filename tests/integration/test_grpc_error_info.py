"""Refusals over real gRPC carry a ``google.rpc.ErrorInfo`` (reason = the stable code, domain
"mvote", metadata field and message) in the ``mvote-error-info-bin`` trailer, while the status
details stay exactly Fabric's ``gateway.ErrorDetail`` messages (what Fabric's SDKs decode)."""

from __future__ import annotations

import time

import grpc
import pytest
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_support import Served, question_spec

from mvote.client._gateway import ERROR_INFO_TRAILER, REFUSAL_DOMAIN, refusal_info
from mvote.client._proposal import Proposal, new_proposal

CHANNEL = "mvote"


def _stub(served: Served) -> gateway_pb2_grpc.GatewayStub:
    ca = served.server.tls_files.ca.read_bytes()
    channel = grpc.secure_channel(served.server.address, grpc.ssl_channel_credentials(ca))
    return gateway_pb2_grpc.GatewayStub(channel)


def _info(exc: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    found = [v for k, v in exc.trailing_metadata() or () if k == ERROR_INFO_TRAILER]
    assert len(found) == 1, f"expected one {ERROR_INFO_TRAILER} trailer, got {len(found)}"
    info = error_details_pb2.ErrorInfo.FromString(found[0])
    # The client reads the same refusal from it (not from the message text).
    refusal = refusal_info(exc)
    assert refusal is not None
    assert (refusal.code, refusal.field or "", refusal.message) == (
        info.reason,
        info.metadata["field"],
        info.metadata["message"],
    )
    return info


def _only_fabric_details(exc: grpc.RpcError) -> None:
    status = rpc_status.from_call(exc)
    assert status is not None and status.details
    assert all(d.Is(gateway_pb2.ErrorDetail.DESCRIPTOR) for d in status.details)


def _proposal(served: Served, *args: str | bytes, timestamp: float | None = None) -> Proposal:
    return new_proposal(
        served.signer(admin=True),
        channel_id=CHANNEL,
        chaincode="mvote",
        args=list(args),
        timestamp=time.time() if timestamp is None else timestamp,
    )


def _refused(call: object, request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=30)  # type: ignore[operator]
    return info.value


def test_a_node_refusal_at_endorse_carries_its_code_and_field(served: Served) -> None:
    late = _proposal(served, "GetQuestion", "q", timestamp=time.time() - 3600)
    exc = _refused(
        _stub(served).Endorse, gateway_pb2.EndorseRequest(proposed_transaction=late.signed())
    )
    assert exc.code() == grpc.StatusCode.ABORTED
    _only_fabric_details(exc)
    info = _info(exc)
    assert (info.reason, info.domain) == ("CLOCK_SKEW", REFUSAL_DOMAIN)
    assert info.metadata["field"] == "timestamp"
    assert "from the node's clock" in info.metadata["message"]


def test_a_duplicate_transaction_at_evaluate_and_submit_carries_its_code(served: Served) -> None:
    stub = _stub(served)
    proposal = _proposal(served, "CreateQuestion", question_spec("q-info", time.time()))
    endorsed = stub.Endorse(
        gateway_pb2.EndorseRequest(proposed_transaction=proposal.signed()), timeout=30
    )
    envelope = endorsed.prepared_transaction
    envelope.signature = served.signer(admin=True).sign(envelope.payload)
    submit = gateway_pb2.SubmitRequest(
        transaction_id=proposal.transaction_id, channel_id=CHANNEL, prepared_transaction=envelope
    )
    stub.Submit(submit, timeout=30)
    assert served.node.commit_status(proposal.transaction_id, timeout=30).code == 0

    exc = _refused(
        stub.Evaluate, gateway_pb2.EvaluateRequest(proposed_transaction=proposal.signed())
    )
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
    _only_fabric_details(exc)
    info = _info(exc)
    assert (info.reason, info.metadata["field"]) == ("DUPLICATE_TRANSACTION", "tx_id")

    exc = _refused(stub.Submit, submit)
    assert exc.code() == grpc.StatusCode.ABORTED
    _only_fabric_details(exc)
    info = _info(exc)
    assert (info.reason, info.metadata["field"]) == ("DUPLICATE_TRANSACTION", "tx_id")
    assert info.metadata["message"].startswith("tx_id: transaction ")


def test_a_contract_refusal_at_evaluate_carries_the_contracts_code_and_field(
    served: Served,
) -> None:
    query = _proposal(served, "GetRoster", "no-such-roster")
    exc = _refused(
        _stub(served).Evaluate, gateway_pb2.EvaluateRequest(proposed_transaction=query.signed())
    )
    assert exc.code() == grpc.StatusCode.UNKNOWN
    _only_fabric_details(exc)
    info = _info(exc)
    assert (info.reason, info.domain, info.metadata["field"]) == (
        "NOT_FOUND",
        REFUSAL_DOMAIN,
        "rid",
    )
    # The ErrorDetail keeps Fabric's text, which says the same.
    assert f"NOT_FOUND: {info.metadata['message']}" in exc.details()


def test_a_contract_refusal_at_endorse_carries_the_contracts_code_and_field(
    served: Served,
) -> None:
    stub = _stub(served)
    spec = question_spec("q-twice", time.time())
    first = _proposal(served, "CreateQuestion", spec)
    endorsed = stub.Endorse(
        gateway_pb2.EndorseRequest(proposed_transaction=first.signed()), timeout=30
    )
    envelope = endorsed.prepared_transaction
    envelope.signature = served.signer(admin=True).sign(envelope.payload)
    stub.Submit(
        gateway_pb2.SubmitRequest(
            transaction_id=first.transaction_id, channel_id=CHANNEL, prepared_transaction=envelope
        ),
        timeout=30,
    )
    assert served.node.commit_status(first.transaction_id, timeout=30).code == 0
    again = _proposal(served, "CreateQuestion", spec)
    exc = _refused(stub.Endorse, gateway_pb2.EndorseRequest(proposed_transaction=again.signed()))
    assert exc.code() == grpc.StatusCode.ABORTED
    _only_fabric_details(exc)
    info = _info(exc)
    assert (info.reason, info.domain) == ("ALREADY_EXISTS", REFUSAL_DOMAIN)
    assert info.metadata["field"] == "qid"
    assert "q-twice" in info.metadata["message"]
