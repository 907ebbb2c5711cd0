"""The Gateway, Deliver and AtomicBroadcast services on a real server over TLS on loopback, driven
by the Python Gateway client: the happy paths, and every refusal with its gRPC status code and
ErrorDetails, persisting nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.orderer import ab_pb2, ab_pb2_grpc
from fabric_protos.peer import events_pb2_grpc, proposal_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import Served, question_spec

from mvote.chaincode._errors import AlreadyExists, UnknownFunction
from mvote.client._commit import Commit
from mvote.client._errors import CommitStatusError, EndorseError, GatewayError, SubmitError
from mvote.client._events import FileCheckpointer
from mvote.client._gateway import Gateway, error_details
from mvote.client._identity import Signer
from mvote.client._proposal import new_proposal
from mvote.node.material import init_network
from mvote.node.orderer import orderer_copy
from mvote.node.services.server import NodeServer
from mvote.verifier._deliver import seek_envelope, seek_position
from mvote.verifier._transaction import ParsedTransaction

CHANNEL = "mvote"
CC = "mvote"


def channel_for(served: Served) -> grpc.Channel:
    ca = served.server.tls_files.ca.read_bytes()
    return grpc.secure_channel(served.server.address, grpc.ssl_channel_credentials(ca))


#: Bound on waiting for the block of a transaction the refusal wrongly queued.
COMMIT_BOUND = 10.0


@contextmanager
def unchanged(served: Served) -> Iterator[None]:
    """Asserts the refusal inside persisted nothing: same height, same world state.

    A transaction reaches a block only through ``Node.order`` (the queue of the ordering thread),
    so the block records the tx ids ordered inside it, forwarding each call to the real method.
    None ordered: nothing can be cut, and the state is compared at once. One ordered: the check
    waits (bounded) for its commit, which the comparison then catches. Nothing waits on a timer.
    Precondition: the tests before it waited for their own commits (every one here does).
    """
    node = served.node
    height = node.ledger.height
    before = node.ledger.block(height - 1)
    gw = served.gateway()
    questions = gw.network(CHANNEL).contract(CC).evaluate("ListQuestions")
    ordered: list[str] = []
    order = node.order

    def recording(tx_id: str, raw: bytes) -> None:
        order(tx_id, raw)
        ordered.append(tx_id)

    node.order = recording  # type: ignore[method-assign]
    try:
        yield
    finally:
        del node.order
    for tx_id in ordered:
        node.commit_status(tx_id, timeout=COMMIT_BOUND)
    assert node.ledger.height == height
    assert node.ledger.block(height - 1) == before
    assert gw.network(CHANNEL).contract(CC).evaluate("ListQuestions") == questions
    gw.close()


def details_of(exc: grpc.RpcError) -> list[str]:
    return [d.message for d in error_details(exc)]


def test_health_serving(served: Served) -> None:
    stub = health_pb2_grpc.HealthStub(channel_for(served))
    for service in ("", "gateway.Gateway", "protos.Deliver", "orderer.AtomicBroadcast"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_submit_evaluate_and_commit(served: Served) -> None:
    with served.gateway(served.signer(admin=True)) as gw:
        contract = gw.network(CHANNEL).contract(CC)
        result = contract.submit("CreateQuestion", [question_spec("q-submit", time.time())])
        assert json.loads(result)["qid"] == "q-submit"
        listed = json.loads(contract.evaluate("GetQuestion", ["q-submit"]))
        assert "q-submit" in json.dumps(listed)


def test_stages_expose_bytes_digest_and_tx_id(served: Served) -> None:
    with served.gateway(served.signer(admin=True)) as gw:
        network = gw.network(CHANNEL)
        proposal = network.contract(CC).new_proposal(
            "CreateQuestion", [question_spec("q-stages", time.time())]
        )
        assert len(proposal.digest()) == 32 and proposal.bytes
        transaction = proposal.endorse()
        assert transaction.transaction_id == proposal.transaction_id
        assert len(transaction.digest()) == 32
        submitted = transaction.submit()
        status = submitted.status(timeout=10)
        assert status.successful and status.code_name == "VALID"
        assert submitted.digest() and submitted.bytes
        # Commit status by id alone, as another process would ask.
        again = network.new_commit(proposal.transaction_id).status(timeout=5)
        assert again.block_number == status.block_number
        location = served.node.ledger.tx_location(proposal.transaction_id)
        assert location is not None and location.block == status.block_number


def test_chaincode_events_with_checkpoint_resume(served: Served, tmp_path: Path) -> None:
    with served.gateway(served.signer(admin=True)) as gw:
        network = gw.network(CHANNEL)
        contract = network.contract(CC)
        start = served.node.ledger.height
        tx_ids = []
        for i in range(3):
            sub = contract.submit_async("CreateQuestion", [question_spec(f"q-ev{i}", time.time())])
            assert sub.status(timeout=10).successful
            tx_ids.append(sub.transaction_id)
        checkpoint = FileCheckpointer(tmp_path / "events.json")
        with network.chaincode_events(CC, start_block=start, checkpointer=checkpoint) as events:
            first = next(events)
            assert (first.transaction_id, first.event_name) == (tx_ids[0], "QuestionCreated")
            assert json.loads(first.payload)["qid"] == "q-ev0"
            checkpoint.checkpoint_chaincode_event(first)
        # A new stream (and a new checkpointer reading the file) resumes after event 0.
        resumed = FileCheckpointer(tmp_path / "events.json")
        assert resumed.transaction_id == tx_ids[0]
        with network.chaincode_events(CC, checkpointer=resumed) as events:
            got = [next(events).transaction_id for _ in range(2)]
        assert got == tx_ids[1:]
        # Unsigned by the named identity: refused.
        other = served.signer("district")
        raw = gateway_pb2.ChaincodeEventsRequest(
            channel_id=CHANNEL, chaincode_id=CC, identity=gw.signer.creator
        ).SerializeToString()
        stub = gateway_pb2_grpc.GatewayStub(channel_for(served))
        with pytest.raises(grpc.RpcError) as info:
            next(
                stub.ChaincodeEvents(
                    gateway_pb2.SignedChaincodeEventsRequest(request=raw, signature=other.sign(raw))
                )
            )
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Fabric accepts only next_commit and specified start positions here.
        raw = gateway_pb2.ChaincodeEventsRequest(
            channel_id=CHANNEL,
            chaincode_id=CC,
            identity=gw.signer.creator,
            start_position=ab_pb2.SeekPosition(oldest=ab_pb2.SeekOldest()),
        ).SerializeToString()
        with pytest.raises(grpc.RpcError) as info:
            next(
                stub.ChaincodeEvents(
                    gateway_pb2.SignedChaincodeEventsRequest(
                        request=raw, signature=gw.signer.sign(raw)
                    )
                )
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_block_events_and_filtered_blocks(served: Served) -> None:
    with served.gateway() as gw:
        network = gw.network(CHANNEL)
        with network.block_events(start_block=0) as blocks:
            genesis = next(blocks)
            assert genesis.SerializeToString() == served.node.ledger.block(0)
            assert next(blocks).header.number == 1
        with network.filtered_block_events(start_block=1) as filtered:
            block = next(filtered)
        assert block.number == 1 and block.channel_id == CHANNEL
        (tx,) = block.filtered_transactions
        assert tx.tx_validation_code == 0 and tx.type == common_pb2.ENDORSER_TRANSACTION
        with network.block_and_private_data_events(start_block=1) as both:
            item = next(both)
        assert item.block.header.number == 1 and not item.private_data_map


def _seek(signer: Signer, start: int, stop: int, *, wait: bool = True) -> common_pb2.Envelope:
    return seek_envelope(
        signer, CHANNEL, start=seek_position(start), stop=seek_position(stop), wait=wait
    )


def test_peer_deliver_statuses(served: Served) -> None:
    stub = events_pb2_grpc.DeliverStub(channel_for(served))
    signer = served.signer()
    replies = list(stub.DeliverFiltered(iter([_seek(signer, 0, 1)]), timeout=10))
    assert [r.WhichOneof("Type") for r in replies] == ["filtered_block", "filtered_block", "status"]
    assert replies[-1].status == common_pb2.SUCCESS
    # Beyond the chain with FAIL_IF_NOT_READY: NOT_FOUND; stop before start: BAD_REQUEST.
    far = served.node.ledger.height + 5
    (reply,) = stub.Deliver(iter([_seek(signer, far, far, wait=False)]), timeout=10)
    assert reply.status == common_pb2.NOT_FOUND
    (reply,) = stub.Deliver(iter([_seek(signer, 1, 0)]), timeout=10)
    assert reply.status == common_pb2.BAD_REQUEST
    # Signed by someone else than the creator named: FORBIDDEN.
    forged = _seek(signer, 0, 0)
    forged.signature = served.signer("district").sign(forged.payload)
    (reply,) = stub.Deliver(iter([forged]), timeout=10)
    assert reply.status == common_pb2.FORBIDDEN
    (reply,) = stub.Deliver(iter([common_pb2.Envelope(payload=b"\xff\xff")]), timeout=10)
    assert reply.status == common_pb2.BAD_REQUEST


def test_orderer_deliver_is_the_orderers_copy(served: Served) -> None:
    stub = ab_pb2_grpc.AtomicBroadcastStub(channel_for(served))
    replies = list(stub.Deliver(iter([_seek(served.signer(), 1, 1)]), timeout=10))
    assert replies[-1].status == common_pb2.SUCCESS
    peer_block = common_pb2.Block.FromString(served.node.ledger.block(1))
    assert replies[0].block == orderer_copy(peer_block)
    assert replies[0].block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] == b""


# --- refusals --------------------------------------------------------------------------------


def test_unknown_function_is_aborted_with_details(served: Served) -> None:
    with unchanged(served), served.gateway() as gw:
        contract = gw.network(CHANNEL).contract(CC)
        with pytest.raises(EndorseError) as info:
            contract.submit("NoSuchFunction")
        err = info.value
        assert err.grpc_code == "ABORTED"
        assert err.message == "failed to endorse transaction, see attached details for more info"
        assert len(err.details) == 2  # one per endorsing organisation of the MAJORITY policy
        assert {d.msp_id for d in err.details} == {"CityhallMSP", "DistrictMSP"}
        assert all(
            d.message.startswith("chaincode response 400, UNKNOWN_FUNCTION: ") for d in err.details
        )
        assert isinstance(err, UnknownFunction) and err.reason_code == "UNKNOWN_FUNCTION"
        assert err.transaction_id
        # Evaluate: Fabric answers a chaincode error response with UNKNOWN.
        with pytest.raises(GatewayError) as evaluated:
            contract.evaluate("NoSuchFunction")
        assert evaluated.value.grpc_code == "UNKNOWN"
        assert isinstance(evaluated.value, UnknownFunction)


def test_chaincode_refusal_carries_its_typed_error(served: Served) -> None:
    with served.gateway(served.signer(admin=True)) as gw:
        contract = gw.network(CHANNEL).contract(CC)
        spec = question_spec("q-dup", time.time())
        contract.submit("CreateQuestion", [spec])
        with unchanged(served), pytest.raises(AlreadyExists) as info:
            contract.submit("CreateQuestion", [spec])
        assert isinstance(info.value, EndorseError)


def test_malformed_proposal_is_invalid_argument(served: Served) -> None:
    stub = gateway_pb2_grpc.GatewayStub(channel_for(served))
    garbage = proposal_pb2.SignedProposal(proposal_bytes=b"\x0a\xff\xff", signature=b"x")
    with unchanged(served):
        for call in (stub.Evaluate, stub.Endorse):
            request_type = (
                gateway_pb2.EvaluateRequest if call is stub.Evaluate else gateway_pb2.EndorseRequest
            )
            with pytest.raises(grpc.RpcError) as info:
                call(request_type(proposed_transaction=garbage), timeout=5)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as info:
            stub.Submit(gateway_pb2.SubmitRequest(channel_id=CHANNEL), timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details() == "a prepared transaction is required"


def test_wrong_channel_and_unknown_chaincode(served: Served) -> None:
    with unchanged(served), served.gateway() as gw:
        with pytest.raises(EndorseError) as info:
            gw.network("elsewhere").contract(CC).submit("ListQuestions")
        assert info.value.grpc_code == "FAILED_PRECONDITION"
        with pytest.raises(GatewayError) as evaluated:
            gw.network("elsewhere").contract(CC).evaluate("ListQuestions")
        assert evaluated.value.grpc_code == "UNAVAILABLE"
        with pytest.raises(EndorseError) as info:
            gw.network(CHANNEL).contract("nosuchcc").submit("ListQuestions")
        assert info.value.grpc_code == "FAILED_PRECONDITION"
        assert "nosuchcc" in info.value.message


def test_bad_signature_and_outsider(served: Served, tmp_path: Path) -> None:
    stub = gateway_pb2_grpc.GatewayStub(channel_for(served))
    signer = served.signer()
    proposal = new_proposal(signer, channel_id=CHANNEL, chaincode=CC, args=["ListQuestions"])
    forged = proposal_pb2.SignedProposal(
        proposal_bytes=proposal.proposal_bytes, signature=served.signer("district").sign(b"other")
    )
    # An identity of an organisation that is not on the channel (another network's CA).
    outsider_net = init_network(tmp_path / "other", "cityhall")
    outsider = Served(outsider_net, served.node, served.server, True).signer()
    with unchanged(served):
        with pytest.raises(grpc.RpcError) as info:
            stub.Endorse(gateway_pb2.EndorseRequest(proposed_transaction=forged), timeout=5)
        assert info.value.code() == grpc.StatusCode.ABORTED
        assert details_of(info.value)[0].startswith("UNAUTHORISED: ")
        with pytest.raises(grpc.RpcError) as info:
            stub.Evaluate(gateway_pb2.EvaluateRequest(proposed_transaction=forged), timeout=5)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert info.value.details().startswith("evaluate call to endorser returned error: ")
        with Gateway.connect(
            served.server.address,
            outsider,
            tls_root_certificates=served.server.tls_files.ca.read_bytes(),
        ) as gw:
            with pytest.raises(EndorseError) as endorse:
                gw.network(CHANNEL).contract(CC).submit("ListQuestions")
            assert endorse.value.grpc_code == "ABORTED"
            assert endorse.value.reason_code == "UNAUTHORISED"


def test_replayed_transaction(served: Served) -> None:
    with served.gateway(served.signer(admin=True)) as gw:
        contract = gw.network(CHANNEL).contract(CC)
        proposal = contract.new_proposal("CreateQuestion", [question_spec("q-replay", time.time())])
        transaction = proposal.endorse()
        assert transaction.submit().status(timeout=10).successful
        with unchanged(served):
            # The same signed transaction again: refused before ordering.
            with pytest.raises(SubmitError) as info:
                transaction.submit()
            assert info.value.grpc_code == "ABORTED"
            assert "status=BAD_REQUEST" in info.value.message
            assert info.value.reason_code == "DUPLICATE_TRANSACTION"
            # The same proposal again: the peer refuses a tx id already on the ledger.
            with pytest.raises(EndorseError) as endorse:
                proposal.endorse()
            assert endorse.value.grpc_code == "ABORTED"
            assert endorse.value.reason_code == "DUPLICATE_TRANSACTION"


def test_oversized_transaction(served: Served) -> None:
    with served.gateway(served.signer(admin=True)) as gw:
        contract = gw.network(CHANNEL).contract(CC)
        limit = served.node.config.limits.max_transaction_bytes
        transaction = contract.new_proposal("ListQuestions").endorse()
        stub = gateway_pb2_grpc.GatewayStub(channel_for(served))
        big = common_pb2.Envelope(payload=transaction.bytes, signature=b"s" * (limit + 1))
        with unchanged(served), pytest.raises(grpc.RpcError) as info:
            stub.Submit(
                gateway_pb2.SubmitRequest(channel_id=CHANNEL, prepared_transaction=big), timeout=10
            )
        assert info.value.code() == grpc.StatusCode.ABORTED
        assert "TOO_LARGE" in details_of(info.value)[0]


def test_clock_skew(served: Served) -> None:
    signer = served.signer()
    skewed = new_proposal(
        signer,
        channel_id=CHANNEL,
        chaincode=CC,
        args=["ListQuestions"],
        timestamp=time.time() - 3600,
    )
    stub = gateway_pb2_grpc.GatewayStub(channel_for(served))
    with unchanged(served), pytest.raises(grpc.RpcError) as info:
        stub.Endorse(gateway_pb2.EndorseRequest(proposed_transaction=skewed.signed()), timeout=5)
    assert info.value.code() == grpc.StatusCode.ABORTED
    assert details_of(info.value)[0].startswith("CLOCK_SKEW: ")


def test_commit_status_unsigned_or_forged(served: Served) -> None:
    with served.gateway() as gw:
        network = gw.network(CHANNEL)
        tx_id = next(iter(_committed_tx_ids(served)))
        commit = network.new_commit(tx_id)
        assert commit.status(timeout=5).successful
        stub = gateway_pb2_grpc.GatewayStub(channel_for(served))
        for signature in (b"", served.signer("district").sign(commit.bytes)):
            with pytest.raises(grpc.RpcError) as info:
                stub.CommitStatus(
                    gateway_pb2.SignedCommitStatusRequest(
                        request=commit.bytes, signature=signature
                    ),
                    timeout=5,
                )
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as info:
            stub.CommitStatus(gateway_pb2.SignedCommitStatusRequest(), timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # A transaction that never commits: the client's deadline ends the wait.
        with pytest.raises(CommitStatusError) as waited:
            Commit(network, "0" * 64).status(timeout=0.5)
        assert waited.value.grpc_code == "DEADLINE_EXCEEDED"


def _committed_tx_ids(served: Served) -> Iterator[str]:

    block = common_pb2.Block.FromString(served.node.ledger.block(1))
    yield ParsedTransaction.parse(block.data.data[0]).tx_id


def test_broadcast_statuses(served: Served) -> None:
    stub = ab_pb2_grpc.AtomicBroadcastStub(channel_for(served))
    with unchanged(served):
        (reply,) = stub.Broadcast(iter([common_pb2.Envelope(payload=b"\xff")]), timeout=5)
        assert reply.status == common_pb2.BAD_REQUEST and reply.info.startswith("MALFORMED: ")
    with served.gateway(served.signer(admin=True)) as gw:
        transaction = (
            gw.network(CHANNEL)
            .contract(CC)
            .new_proposal("CreateQuestion", [question_spec("q-broadcast", time.time())])
            .endorse()
        )
    forged = common_pb2.Envelope(
        payload=transaction.bytes, signature=served.signer("district").sign(transaction.bytes)
    )
    with unchanged(served):
        (reply,) = stub.Broadcast(iter([forged]), timeout=5)
        assert reply.status == common_pb2.FORBIDDEN
    (reply,) = stub.Broadcast(iter([transaction.envelope()]), timeout=5)
    assert reply.status == common_pb2.SUCCESS
    assert served.node.commit_status(transaction.transaction_id, timeout=10).code == 0


def test_server_uses_tls(served: Served) -> None:
    plain = grpc.insecure_channel(served.server.address)
    with pytest.raises(grpc.RpcError):
        health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=2)
    assert isinstance(served.server, NodeServer) and served.server.tls
