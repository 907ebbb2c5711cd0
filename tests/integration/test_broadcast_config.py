"""The embedded node orders no config transactions (its channel config is the genesis block's):
over the real AtomicBroadcast service, a config update signed by a majority of the org admins
(one Fabric's orderer would accept) and the orderer-signed CONFIG envelope made from it are both
refused with BAD_REQUEST, and nothing of them is ever ordered."""

from __future__ import annotations

import time

import grpc
from configchain import ConfigChain, set_application_policy
from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.orderer import ab_pb2_grpc
from grpc_support import Served, question_spec

from mvote.verifier._chain import verify_chain
from mvote.verifier._envelope import (
    HEADER_TYPE_ENDORSER_TRANSACTION,
    unpack_block,
)
from mvote.verifier._transaction import ParsedTransaction


def test_config_transactions_are_refused_over_broadcast(served: Served) -> None:
    chain = ConfigChain(served.material)
    update = chain.propose(
        set_application_policy("Admins", "ANY"), [chain.admin("cityhall"), chain.admin("district")]
    )
    config_tx = common_pb2.Envelope.FromString(chain.config_envelope(update))
    payload = common_pb2.Payload.FromString(config_tx.payload)
    last_update = configtx_pb2.ConfigEnvelope.FromString(payload.data).last_update
    ca = served.server.tls_files.ca.read_bytes()
    channel = grpc.secure_channel(served.server.address, grpc.ssl_channel_credentials(ca))
    stub = ab_pb2_grpc.AtomicBroadcastStub(channel)
    height = served.node.ledger.height
    for envelope, kind in ((last_update, common_pb2.CONFIG_UPDATE), (config_tx, common_pb2.CONFIG)):
        (reply,) = stub.Broadcast(iter([envelope]), timeout=10)
        assert reply.status == common_pb2.BAD_REQUEST
        assert reply.info == (
            f"MALFORMED: channel_header.type: expected ENDORSER_TRANSACTION (3), got {kind} "
            "(this node orders no config transactions)"
        )
    channel.close()

    # The next transaction commits; every block since holds endorser transactions only, and the
    # whole chain still verifies under the genesis config.
    with served.gateway(served.signer(admin=True)) as gw:
        gw.network("mvote").contract("mvote").submit(
            "CreateQuestion", [question_spec("q-after-config", time.time())]
        )
    blocks = [served.node.ledger.block(i) for i in range(served.node.ledger.height)]
    assert len(blocks) > height
    for raw in blocks[height:]:
        for data in unpack_block(raw).data:
            assert ParsedTransaction.parse(data).header_type == (HEADER_TYPE_ENDORSER_TRANSACTION)
    assert verify_chain(blocks, served.material.genesis_hash).verified
