"""The services' metrics in one process (the node served in-process, its values in this
process's registry): refusals counted by code and status, whatever the service, and open
streams by kind while they are open."""

from __future__ import annotations

import grpc
import pytest
from fabric_protos.common import common_pb2
from fabric_protos.peer import events_pb2_grpc
from grpc_support import Served

from mvote.chaincode._errors import NotFound
from mvote.node.metrics import UNTYPED, metrics
from mvote.verifier._deliver import seek_envelope, seek_position


def sample(name: str, **labels: str) -> float:
    value = metrics().registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def channel_for(served: Served) -> grpc.Channel:
    ca = served.server.tls_files.ca.read_bytes()
    return grpc.secure_channel(served.server.address, grpc.ssl_channel_credentials(ca))


def test_refusals_are_counted_by_code_and_status(served: Served) -> None:
    not_found = {"code": "NOT_FOUND", "status": "UNKNOWN"}
    forbidden = {"code": UNTYPED, "status": "FORBIDDEN"}
    before = (
        sample("mvote_refusals_total", **not_found),
        sample("mvote_refusals_total", **forbidden),
    )

    with served.gateway() as gateway:
        contract = gateway.network("mvote").contract("mvote")
        with pytest.raises(NotFound):
            contract.evaluate("GetQuestion", ["no-such-question"])
    signer = served.signer()
    forged = seek_envelope(
        signer, "mvote", start=seek_position(0), stop=seek_position(0), wait=True
    )
    forged.signature = served.signer("district").sign(forged.payload)
    with channel_for(served) as channel:
        (reply,) = events_pb2_grpc.DeliverStub(channel).Deliver(iter([forged]), timeout=10)
    assert reply.status == common_pb2.FORBIDDEN

    assert sample("mvote_refusals_total", **not_found) == before[0] + 1
    assert sample("mvote_refusals_total", **forbidden) == before[1] + 1


def test_an_open_deliver_stream_is_counted_while_open(served: Served) -> None:
    future = served.node.ledger.height + 100
    seek = seek_envelope(
        served.signer(), "mvote", start=seek_position(future), stop=seek_position(future), wait=True
    )
    with channel_for(served) as channel:
        call = events_pb2_grpc.DeliverStub(channel).Deliver(iter([seek]), timeout=30)
        call.initial_metadata()  # the server admitted the stream (admission.py)
        # At least this one: a stream of an earlier test may still be ending (its release runs
        # when the server sees the call end, after its client had the last answer).
        assert sample("mvote_streams_open", kind="deliver") >= 1
        call.cancel()
    text = metrics().exposition().decode()
    assert "# TYPE mvote_streams_open gauge" in text
