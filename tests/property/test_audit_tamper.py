"""Any changed byte of any block fails the audit, and the report names that block.

A chain made by the embedded node (genesis, chaincode definition, roster, question, ballots,
close, aggregate, tally); hypothesis flips a byte anywhere in a block, and the audit must not
verify and must report a finding at that block (a change can also be felt by later blocks, e.g. a
broken hash chain; those may be named too).
"""

from __future__ import annotations

import time
from pathlib import Path

import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvote.chaincode import encoding
from mvote.chaincode._records import Eligibility, QuestionSpec, Schedule, SingleChoice
from mvote.client._ballot import prepare_ballot
from mvote.client._identity import load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.client._registrar import issue_credential
from mvote.node.config import BatchSettings
from mvote.node.material import init_network
from mvote.node.runtime import Node
from mvote.verifier._audit import audit_chain

REGISTRAR = nacl.signing.SigningKey(b"\x09" * 32)


@pytest.fixture(scope="module")
def node_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[bytes], bytes]:
    directory: Path = tmp_path_factory.mktemp("tamper")
    network = init_network(
        directory / "net", "cityhall,district,education", batch=BatchSettings(timeout_ms=10)
    )
    admin = network.org("cityhall").admin
    signer = load_signer(admin.msp_dir, admin.msp_id)
    now = int(time.time())
    spec = QuestionSpec(
        "q",
        "Q",
        "",
        ("a", "b"),
        SingleChoice(),
        Eligibility.of_registrars((bytes(REGISTRAR.verify_key).hex(),)),
        Schedule(now - 5, now + 3600),
    )
    with Node.open(directory / "net") as node:
        node.start()

        def submit(*args: bytes | str) -> None:
            proposal = new_proposal(signer, channel_id="mvote", chaincode="mvote", args=list(args))
            envelope, _ = node.endorse(proposal.signed())
            node.submit(sign_envelope(envelope.payload, signer))
            assert node.commit_status(proposal.transaction_id, 10).code == 0

        submit("CreateQuestion", encoding.encode(spec.to_json()))
        submit("OpenQuestion", "q")
        for seed in range(1, 4):
            voter = nacl.signing.SigningKey(bytes([seed]) * 32)
            credential = issue_credential(
                REGISTRAR,
                channel="mvote",
                voter=bytes(voter.verify_key).hex(),
                expires_at=now + 3600,
            )
            request = prepare_ballot(
                voter, channel="mvote", question=spec, choices=[seed % 2], credential=credential
            )
            submit("Cast", encoding.encode(request.to_json()))
        submit("CloseQuestion", "q", "done")
        submit("Aggregate", "q", "0")
        submit("Tally", "q")
        return [node.ledger.block(i) for i in range(node.ledger.height)], network.genesis_hash


def test_the_untouched_chain_verifies(node_chain: tuple[list[bytes], bytes]) -> None:
    blocks, anchor = node_chain
    assert audit_chain(blocks, anchor, workers=1).verified


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_flipped_byte_is_named_at_its_block(
    node_chain: tuple[list[bytes], bytes], data: st.DataObject
) -> None:
    blocks, anchor = node_chain
    number = data.draw(st.integers(0, len(blocks) - 1), label="block")
    position = data.draw(st.integers(0, len(blocks[number]) - 1), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    tampered = list(blocks)
    raw = bytearray(tampered[number])
    raw[position] ^= flip
    tampered[number] = bytes(raw)
    report = audit_chain(tampered, anchor, workers=1)
    assert not report.verified
    assert number in {f.block for f in report.findings}, [str(f) for f in report.findings]
