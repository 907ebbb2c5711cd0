"""Denial of service by one client: streams and waits that never end cannot freeze the server.

Each test serves the module's node with its own limits (a second NodeServer on the same node),
drives it over real TLS connections on loopback, and waits for the server's own counters (or each
call's end) rather than sleeping.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
import pytest
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2_grpc
from fabric_protos.peer import events_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import Served, question_spec

from mvote.client._commit import Commit
from mvote.client._gateway import Gateway, Timeouts, error_details
from mvote.client._identity import Signer
from mvote.client._proposal import new_proposal
from mvote.node.services.server import NodeServer

CHANNEL = "mvote"
CC = "mvote"
#: How long any wait of these tests may take before it fails (never how long it waits).
BOUND = 60.0


@contextmanager
def server_with(served: Served, **limits: int) -> Iterator[NodeServer]:
    base = served.node.config.limits
    server = NodeServer(
        served.node, port=0, tls=True, limits=dataclasses.replace(base, **limits)
    ).start()
    try:
        yield server
    finally:
        server.stop(grace=1)


def connect(server: NodeServer) -> grpc.Channel:
    """A channel with its own TCP connection (gRPC shares subchannels between channels)."""
    credentials = grpc.ssl_channel_credentials(server.tls_files.ca.read_bytes())
    return grpc.secure_channel(
        server.address, credentials, options=[("grpc.use_local_subchannel_pool", 1)]
    )


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` (the server's own counters) with a bound."""
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def never(release: threading.Event) -> Iterator[common_pb2.Envelope]:
    """A request stream that sends nothing until ``release`` is set."""
    release.wait(BOUND * 4)
    return
    yield  # pragma: no cover


def signed_commit_status(signer: Signer, tx_id: str) -> gateway_pb2.SignedCommitStatusRequest:
    request = gateway_pb2.CommitStatusRequest(
        transaction_id=tx_id, channel_id=CHANNEL, identity=signer.creator
    ).SerializeToString()
    return gateway_pb2.SignedCommitStatusRequest(request=request, signature=signer.sign(request))


def settled(server: NodeServer) -> int:
    """Calls the server holds open or refused."""
    counts = server.admission.counts()
    return sum(v for k, v in counts.items() if k == "open" or k.startswith("refused_"))


def test_idle_streams_and_parked_waits_never_starve_unary_calls(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """2,000 idle unauthenticated Deliver streams and 2,000 CommitStatus calls for a tx id that
    never commits, from 8 connections of one client: the server holds what its limits allow,
    refuses the rest with RESOURCE_EXHAUSTED, logs each client once, and another client's
    Evaluate, Endorse, Submit and health check still answer within 2 s each."""
    connections, per_connection = 8, 250
    limits = {
        "max_streams": 256,
        "max_streams_per_connection": 48,
        "max_streams_per_identity": 96,
        "unary_workers": 16,
        "stream_request_seconds": 600,
        "commit_status_wait_seconds": 600,
    }
    attacker = served.signer("education")
    parked = signed_commit_status(attacker, "f" * 64)
    release = threading.Event()
    channels: list[grpc.Channel] = []
    calls: list[grpc.Future] = []
    caplog.set_level(logging.WARNING, logger="mvote.node.admission")
    with server_with(served, **limits) as server:
        try:
            for _ in range(connections):
                channel = connect(server)
                channels.append(channel)
                deliver = events_pb2_grpc.DeliverStub(channel)
                gateway = gateway_pb2_grpc.GatewayStub(channel)
                for _ in range(per_connection):
                    calls.append(deliver.Deliver(never(release), timeout=BOUND * 4))
                    calls.append(gateway.CommitStatus.future(parked, timeout=BOUND * 4))
            total = 2 * connections * per_connection
            wait_until(lambda: settled(server) == total, "the server to take or refuse them all")
            counts = server.admission.counts()
            assert limits["max_streams"] // 2 <= counts["open"] <= limits["max_streams"]
            refusals = sum(v for k, v in counts.items() if k.startswith("refused_"))
            wait_until(
                lambda: sum(c.done() for c in calls) == refusals, "the refusals to reach the client"
            )

            victim = Gateway(
                connect(server),
                served.signer("cityhall", admin=True),
                timeouts=Timeouts(evaluate=2.0, endorse=10.0, submit=2.0),
                owns_channel=True,
            )
            with victim:
                health = health_pb2_grpc.HealthStub(victim.channel)
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=2.0)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
                contract = victim.network(CHANNEL).contract(CC)
                contract.evaluate("ListQuestions")  # within its 2 s deadline
                transaction = contract.new_proposal(
                    "CreateQuestion", [question_spec("q-dos", time.time())]
                ).endorse()
                transaction.submit()  # within its 2 s deadline
                assert served.node.commit_status(transaction.transaction_id, timeout=30).code == 0

            refused = [c for c in calls if c.done() and c.code() is not None]
            assert refused and {c.code() for c in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
            assert all("TOO_MANY_STREAMS: " in (c.details() or "") for c in refused)
            # Counted, and logged once per client (8 connections and one identity), not per call.
            lines = [r for r in caplog.records if r.name == "mvote.node.admission"]
            assert 1 <= len(lines) <= connections + 1
            assert len(refused) == refusals
        finally:
            release.set()
            for channel in channels:
                channel.close()
        wait_until(lambda: server.admission.open == 0, "the streams to be released")


def test_per_connection_and_per_identity_caps(served: Served) -> None:
    signer = served.signer("district")
    parked = signed_commit_status(signer, "e" * 64)
    with server_with(
        served, max_streams_per_connection=3, max_streams_per_identity=4, max_streams=16
    ) as server:
        first, second = connect(server), connect(server)
        try:
            stub = gateway_pb2_grpc.GatewayStub(first)
            held = [stub.CommitStatus.future(parked, timeout=BOUND) for _ in range(3)]
            wait_until(lambda: server.admission.open == 3, "three waits")
            with pytest.raises(grpc.RpcError) as info:
                stub.CommitStatus(parked, timeout=BOUND)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "limits.max_streams_per_connection" in (info.value.details() or "")
            # Another connection of the same identity: one more, then the identity is full.
            other = gateway_pb2_grpc.GatewayStub(second)
            held.append(other.CommitStatus.future(parked, timeout=BOUND))
            wait_until(lambda: server.admission.open == 4, "the fourth wait")
            with pytest.raises(grpc.RpcError) as info:
                other.CommitStatus(parked, timeout=BOUND)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "limits.max_streams_per_identity" in (info.value.details() or "")
            # Another identity on that connection is not refused for the first one's count.
            mine = signed_commit_status(served.signer("cityhall"), "d" * 64)
            held.append(other.CommitStatus.future(mine, timeout=BOUND))
            wait_until(lambda: server.admission.open == 5, "another identity's wait")
            assert server.admission.refused == {"connection": 1, "identity": 1}
            for call in held:
                call.cancel()
            wait_until(lambda: server.admission.open == 0, "cancelled waits to be released")
        finally:
            first.close()
            second.close()


def test_stream_without_a_request_is_ended(served: Served) -> None:
    release = threading.Event()
    with server_with(served, stream_request_seconds=1) as server:
        channel = connect(server)
        try:
            for call in (
                events_pb2_grpc.DeliverStub(channel).Deliver(never(release), timeout=BOUND),
                ab_pb2_grpc.AtomicBroadcastStub(channel).Broadcast(never(release), timeout=BOUND),
            ):
                with pytest.raises(grpc.RpcError) as info:
                    list(call)
                assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                assert (info.value.details() or "").startswith("STREAM_IDLE: request: ")
            assert server.admission.refused["idle"] == 2
            wait_until(lambda: server.admission.open == 0, "ended streams to be released")
        finally:
            release.set()
            channel.close()


def test_commit_status_wait_is_bounded_by_the_server(served: Served) -> None:
    parked = signed_commit_status(served.signer(), "c" * 64)
    with server_with(served, commit_status_wait_seconds=1) as server:
        channel = connect(server)
        try:
            with pytest.raises(grpc.RpcError) as info:
                gateway_pb2_grpc.GatewayStub(channel).CommitStatus(parked, timeout=BOUND)
            assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert (info.value.details() or "").startswith("COMMIT_TIMEOUT: tx_id: ")
            wait_until(lambda: server.admission.open == 0, "the wait to be released")
        finally:
            channel.close()


def test_submit_logs_the_envelopes_own_tx_id(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """The client's SubmitRequest.transaction_id (any string, here 1 MiB) is not what is logged."""
    caplog.set_level(logging.INFO, logger="mvote.node.gateway")
    with served.gateway(served.signer(admin=True)) as gw:
        transaction = (
            gw.network(CHANNEL)
            .contract(CC)
            .new_proposal("CreateQuestion", [question_spec("q-logged", time.time())])
            .endorse()
        )
        gateway_pb2_grpc.GatewayStub(gw.channel).Submit(
            gateway_pb2.SubmitRequest(
                transaction_id="z" * (1 << 20),
                channel_id=CHANNEL,
                prepared_transaction=transaction.envelope(),
            ),
            timeout=10,
        )
        # Wait for its commit so that later tests of this module see a quiescent ledger.
        assert Commit(gw.network(CHANNEL), transaction.transaction_id).status(timeout=30).successful
    (line,) = [r.getMessage() for r in caplog.records if r.name == "mvote.node.gateway"]
    assert line == f"submitted tx {transaction.transaction_id}"


def test_endorse_refuses_a_proposal_too_large_to_order(served: Served) -> None:
    limit = served.node.config.limits.max_transaction_bytes
    signer = served.signer(admin=True)
    proposal = new_proposal(
        signer, channel_id=CHANNEL, chaincode=CC, args=["CreateQuestion", b"x" * limit]
    )
    height = served.node.ledger.height
    stub = gateway_pb2_grpc.GatewayStub(connect(served.server))
    with pytest.raises(grpc.RpcError) as info:
        stub.Endorse(gateway_pb2.EndorseRequest(proposed_transaction=proposal.signed()), timeout=30)
    assert info.value.code() == grpc.StatusCode.ABORTED
    (detail,) = [d.message for d in error_details(info.value)]
    assert detail.startswith("TOO_LARGE: proposal.payload: the transaction envelope would be ")
    assert served.node.ledger.height == height
