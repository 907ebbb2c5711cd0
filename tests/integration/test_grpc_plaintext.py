"""A plaintext server with small size limits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import proposal_pb2
from grpc_support import Served, question_spec, serve

from mvote.client._events import InMemoryCheckpointer
from mvote.node.config import MIB, BatchSettings, NodeLimits

GRPC_LIMIT = 2 * MIB


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(
        tmp_path_factory.mktemp("plain") / "network",
        tls=False,
        batch=BatchSettings(preferred_max_bytes=512 * 1024, absolute_max_bytes=1 * MIB),
        limits=NodeLimits(max_grpc_message_bytes=GRPC_LIMIT, max_transaction_bytes=256 * 1024),
    )


def test_plaintext_submit_and_block_checkpoints(plain: Served) -> None:
    with plain.gateway(plain.signer(admin=True)) as gw:
        network = gw.network("mvote")
        submitted = network.contract("mvote").submit_async(
            "CreateQuestion", [question_spec("q-plain", time.time())]
        )
        block_number = submitted.status(timeout=10).block_number
        checkpoint = InMemoryCheckpointer()
        with network.block_events(start_block=0, checkpointer=checkpoint) as blocks:
            for block in blocks:
                checkpoint.checkpoint_block(block.header.number)
                if block.header.number == block_number - 1:
                    break
        with network.block_events(checkpointer=checkpoint) as blocks:
            assert next(blocks).header.number == block_number


def test_message_over_the_grpc_limit(plain: Served) -> None:
    height = plain.node.ledger.height
    stub = gateway_pb2_grpc.GatewayStub(grpc.insecure_channel(plain.server.address))
    huge = proposal_pb2.SignedProposal(proposal_bytes=b"x" * (GRPC_LIMIT + 1), signature=b"s")
    with pytest.raises(grpc.RpcError) as info:
        stub.Endorse(gateway_pb2.EndorseRequest(proposed_transaction=huge), timeout=5)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert plain.node.ledger.height == height
