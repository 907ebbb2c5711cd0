"""``mvote-verify --node``: the chain read from a peer's Deliver service over TLS."""

from __future__ import annotations

from pathlib import Path

from nodechain import Chain, cast_args, chain

from mvote.chaincode import encoding
from mvote.chaincode.records import Ballot
from mvote.client.receipt import issue_receipt
from mvote.node.services.server import NodeServer
from mvote.verifier import cli
from mvote.verifier.envelope import unpack_block, unpack_full_envelope

__all__ = ["chain"]  # the fixture


def test_audit_and_receipt_read_the_chain_from_a_node(chain: Chain, tmp_path: Path) -> None:
    args = cast_args(chain, 4, 1)
    block = chain.submit(*args)
    tx_id = unpack_full_envelope(
        unpack_block(chain.node.ledger.block(block)).data[-1]
    ).channel_header.tx_id
    ballot = Ballot.from_json(encoding.decode(args[1], max_size=1 << 16)["ballot"])  # type: ignore[arg-type]
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
        assert cli.main(["receipt", str(receipt_file), *node]) == 0
        # Without an identity there is no signed request to make: bad usage, exit 2.
        assert cli.main(["audit", "--node", server.address, "--genesis-hash", anchor]) == 2
        # A node that is not there: exit 2 (the input could not be read), never a crash.
        assert (
            cli.main(["audit", *node[:1], "127.0.0.1:1", *node[2:], "--genesis-hash", anchor]) == 2
        )
    finally:
        server.stop()
