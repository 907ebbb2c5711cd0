"""The contract's largest requests fit the node's transaction limit, end to end."""

from __future__ import annotations

from pathlib import Path

from mvote.chaincode import encoding
from mvote.chaincode.records import MAX_ROSTER_BATCH
from mvote.client.identity import load_signer
from mvote.client.proposal import new_proposal, sign_envelope
from mvote.node.config import BatchSettings
from mvote.node.material import init_network
from mvote.node.runtime import Node


def test_a_full_roster_batch_commits(tmp_path: Path) -> None:
    network = init_network(
        tmp_path / "net", "cityhall,district,education", batch=BatchSettings(timeout_ms=10)
    )
    admin = network.org("cityhall").admin
    signer = load_signer(admin.msp_dir, admin.msp_id)
    entries = [f"{i:064x}" for i in range(1, MAX_ROSTER_BATCH + 1)]
    with Node.open(tmp_path / "net") as node:
        node.start()
        for args in (
            ["CreateRoster", encoding.encode({"rid": "big", "title": "Big"})],
            ["AddRosterEntries", encoding.encode({"rid": "big", "entries": entries})],
        ):
            proposal = new_proposal(signer, channel_id="mvote", chaincode="mvote", args=args)
            envelope, _ = node.endorse(proposal.signed())
            signed = sign_envelope(envelope.payload, signer)
            assert len(signed.SerializeToString()) < node.config.limits.max_transaction_bytes
            node.submit(signed)
            assert node.commit_status(proposal.transaction_id, 30).code == 0
