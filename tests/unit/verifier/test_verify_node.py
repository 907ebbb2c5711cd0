"""``mvote-verify --node``: the chain read from a peer's Deliver service over TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2_grpc
from nodechain import Chain, cast_args, chain

from mvote.chaincode import encoding
from mvote.chaincode._records import ballot_from_json
from mvote.client._receipt import issue_receipt
from mvote.node.services.server import NodeServer
from mvote.verifier import _cli as cli
from mvote.verifier import _deliver as deliver
from mvote.verifier._chainfile import write_chain
from mvote.verifier._envelope import unpack_block
from mvote.verifier._identity import load_signer
from mvote.verifier._transaction import ParsedTransaction

__all__ = ["chain"]  # the fixture


def test_audit_and_receipt_read_the_chain_from_a_node(chain: Chain, tmp_path: Path) -> None:
    args = cast_args(chain, 4, 1)
    block = chain.submit(*args)
    tx_id = ParsedTransaction.parse(unpack_block(chain.node.ledger.block(block)).data[-1]).tx_id
    ballot = ballot_from_json(encoding.decode(args[1], max_size=1 << 16)["ballot"])  # type: ignore[arg-type]
    receipt = issue_receipt(
        chain.node.ledger.block, tx_id=tx_id, block_number=block, qid="q1", tracker=ballot.tracker()
    )
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_bytes(receipt.to_bytes())

    server = NodeServer(chain.node, port=0).start()
    try:
        member = chain.node.material.org("district").client
        peer = chain.node.material.peer_orgs[0].node
        node = [
            "--node",
            server.address,
            "--msp",
            str(member.msp_dir),
            "--msp-id",
            member.msp_id,
            "--tls-ca",
            str(peer.tls_ca_path),
            "--tls-name",
            peer.name,
        ]
        anchor = chain.genesis_hash.hex()
        assert cli.main(["audit", *node, "--genesis-hash", anchor]) == 0
        assert cli.main(["receipt", str(receipt_file), *node, "--genesis-hash", anchor]) == 0
        # Without an identity there is no signed request to make: bad usage, exit 2.
        assert cli.main(["audit", "--node", server.address, "--genesis-hash", anchor]) == 2
        # A node that is not there: exit 2 (the input could not be read), never a crash.
        assert (
            cli.main(["audit", *node[:1], "127.0.0.1:1", *node[2:], "--genesis-hash", anchor]) == 2
        )
    finally:
        server.stop()


def test_an_orderers_copy_from_a_nodes_atomic_broadcast_is_audited(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chain.submit(*cast_args(chain, 6, 2))
    server = NodeServer(chain.node, port=0).start()
    try:
        member = chain.node.material.org("district").client
        peer = chain.node.material.peer_orgs[0].node
        channel = deliver.connect(
            server.address,
            tls_root_certificates=peer.tls_ca_path.read_bytes(),
            server_name=peer.name,
        )
        request = deliver.seek_envelope(
            load_signer(member.msp_dir, member.msp_id),
            "mvote",
            start=deliver.seek_position(0),
            stop=deliver.seek_position(chain.node.ledger.height - 1),
            wait=False,
        )
        replies = ab_pb2_grpc.AtomicBroadcastStub(channel).Deliver(iter([request]), timeout=30)
        blocks = [r.block.SerializeToString() for r in replies if r.WhichOneof("Type") == "block"]
        channel.close()
    finally:
        server.stop()
    assert len(blocks) == chain.node.ledger.height
    assert all(not common_pb2.Block.FromString(b).metadata.metadata[2] for b in blocks)
    path = tmp_path / "orderer.chain"
    write_chain(path, blocks)
    anchor = chain.genesis_hash.hex()
    assert cli.main(["audit", "--chain", str(path), "--genesis-hash", anchor]) == 0
    out = capsys.readouterr().out
    assert "an orderer's copy" in out and out.rstrip().endswith("VERIFIED")
