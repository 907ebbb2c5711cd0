"""Make a small chain with the embedded node and a receipt for one ballot in it.

Usage: python make_receipt.py OUT_DIR  ->  OUT_DIR/receipt.json, OUT_DIR/chain.bin and
OUT_DIR/profile.json (the public connection profile: the genesis hash the city publishes)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nacl.signing

from mvote.chaincode import encoding
from mvote.chaincode._records import Eligibility, QuestionSpec, Schedule, SingleChoice
from mvote.client._ballot import prepare_ballot
from mvote.client._identity import load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.client._receipt import issue_receipt
from mvote.client._registrar import issue_credential
from mvote.node.config import BatchSettings
from mvote.node.material import init_network
from mvote.node.runtime import Node
from mvote.verifier._chainfile import write_chain


def main(out: Path) -> None:
    network = init_network(
        out / "net", "cityhall,district,education", batch=BatchSettings(timeout_ms=20)
    )
    admin = network.org("cityhall").admin
    signer = load_signer(admin.msp_dir, admin.msp_id)
    registrar = nacl.signing.SigningKey(b"\x05" * 32)
    voter = nacl.signing.SigningKey(b"\x06" * 32)
    now = int(time.time())
    spec = QuestionSpec(
        "q1",
        "Question",
        "",
        ("yes", "no"),
        SingleChoice(),
        Eligibility.of_registrars((bytes(registrar.verify_key).hex(),)),
        Schedule(now - 5, now + 3600),
    )
    with Node.open(out / "net") as node:
        node.start()

        def submit(*args: bytes | str) -> tuple[str, int]:
            proposal = new_proposal(signer, channel_id="mvote", chaincode="mvote", args=list(args))
            envelope, _ = node.endorse(proposal.signed())
            node.submit(sign_envelope(envelope.payload, signer))
            return proposal.transaction_id, node.commit_status(proposal.transaction_id, 10).block

        submit("CreateQuestion", encoding.encode(spec.to_json()))
        submit("OpenQuestion", "q1")
        credential = issue_credential(
            registrar, channel="mvote", voter=bytes(voter.verify_key).hex(), expires_at=now + 3600
        )
        request = prepare_ballot(
            voter, channel="mvote", question=spec, choices=[0], credential=credential
        )
        tx_id, block = submit("Cast", encoding.encode(request.to_json()))
        submit("CloseQuestion", "q1", "done")
        submit("Aggregate", "q1", "0")
        submit("Tally", "q1")
        receipt = issue_receipt(
            node.ledger.block,
            tx_id=tx_id,
            block_number=block,
            qid="q1",
            tracker=request.ballot.tracker(),
        )
        (out / "receipt.json").write_bytes(receipt.to_bytes())
        profile = {"channel": "mvote", "genesis_hash": network.genesis_hash.hex()}
        (out / "profile.json").write_text(json.dumps(profile, indent=2))
        write_chain(out / "chain.bin", [node.ledger.block(i) for i in range(node.ledger.height)])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
