"""The contract's largest requests fit the node's transaction limit, end to end."""

from __future__ import annotations

import time
from pathlib import Path

import nacl.signing
import pytest

from mvote.chaincode import encoding
from mvote.chaincode._errors import TooLarge
from mvote.chaincode._records import (
    MAX_OPTIONS,
    MAX_REGISTRARS,
    MAX_ROSTER_BATCH,
    Eligibility,
    MultiChoice,
    OnsiteCode,
    QuestionSpec,
    Schedule,
)
from mvote.client._identity import load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.node.config import BatchSettings, NodeLimits
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


def maximal_spec(qid: str) -> bytes:
    """The largest question spec the contract's shape allows: 1000 options of 200 four-byte
    characters, a 4000-character description, the most registrars, on-site eligibility."""
    registrars = sorted(
        nacl.signing.SigningKey(bytes([i]) * 32).verify_key.encode().hex()
        for i in range(1, MAX_REGISTRARS + 1)
    )
    now = int(time.time())
    spec = QuestionSpec(
        qid=qid,
        title="\U0001f5f3" * 200,
        description="\U0001f5f3" * 4000,
        options=tuple(f"{i:04d}" + "\U0001f5f3" * 196 for i in range(MAX_OPTIONS)),
        rule=MultiChoice(min=0, max=MAX_OPTIONS),
        eligibility=Eligibility.of_registrars(tuple(registrars), OnsiteCode("ab" * 16, "cd" * 32)),
        schedule=Schedule(now - 1, now + 3600),
        shards=1024,
    )
    return encoding.encode(spec.to_json())


def test_a_maximal_question_spec_fits_the_default_transaction_limit(tmp_path: Path) -> None:
    """The spec travels three times (argument, result, write): with the default limit the
    largest valid one is endorsed and commits; a node whose limit is smaller refuses it at
    Endorse (TOO_LARGE), before it endorses, rather than at Submit."""
    network = init_network(
        tmp_path / "net", "cityhall,district,education", batch=BatchSettings(timeout_ms=10)
    )
    admin = network.org("cityhall").admin
    signer = load_signer(admin.msp_dir, admin.msp_id)
    spec = maximal_spec("big")
    assert len(spec) > 800_000
    with Node.open(tmp_path / "net") as node:
        node.start()
        proposal = new_proposal(
            signer, channel_id="mvote", chaincode="mvote", args=["CreateQuestion", spec]
        )
        envelope, response = node.endorse(proposal.signed())
        assert response.status == 200, response.message
        signed = sign_envelope(envelope.payload, signer)
        size = len(signed.SerializeToString())
        assert 3 * len(spec) < size <= node.config.limits.max_transaction_bytes
        node.submit(signed)
        assert node.commit_status(proposal.transaction_id, 30).code == 0


def test_endorse_refuses_what_submit_could_never_order(tmp_path: Path) -> None:
    network = init_network(
        tmp_path / "net",
        "cityhall,district,education",
        limits=NodeLimits(max_transaction_bytes=1 << 20),
    )
    admin = network.org("cityhall").admin
    signer = load_signer(admin.msp_dir, admin.msp_id)
    spec = maximal_spec("big")
    with Node.open(tmp_path / "net") as node:
        node.start()
        height = node.ledger.height
        # The spec alone is under the limit, but it travels three times.
        proposal = new_proposal(
            signer, channel_id="mvote", chaincode="mvote", args=["CreateQuestion", spec]
        )
        with pytest.raises(TooLarge) as after:
            node.endorse(proposal.signed())
        assert after.value.field == "proposal"
        assert "expected at most 1048576 (limits.max_transaction_bytes)" in after.value.message
        # Arguments that alone exceed it: refused before any endorser runs the contract.
        huge = new_proposal(
            signer,
            channel_id="mvote",
            chaincode="mvote",
            args=["CreateQuestion", b"x" * (1 << 20)],
        )
        with pytest.raises(TooLarge) as before:
            node.endorse(huge.signed())
        assert before.value.field == "proposal.payload"
        assert "would be at least " in before.value.message
        assert node.ledger.height == height
