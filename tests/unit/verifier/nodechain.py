"""A small chain made by a real embedded node, for the verifier's replay and receipt tests.

``Chain.lie`` lets a majority of endorsers sign results the contract would never produce.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from mvote.chaincode import encoding
from mvote.chaincode._contract import VERSION, invoke
from mvote.chaincode._records import Eligibility, QuestionSpec, Schedule, SingleChoice
from mvote.chaincode._simulation import Simulation, TxContext, TxSimulator
from mvote.client._ballot import prepare_ballot
from mvote.client._identity import Signer, load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.client._registrar import issue_credential
from mvote.node.config import BatchSettings
from mvote.node.endorser import Simulated, unpack_proposal
from mvote.node.material import init_network
from mvote.node.peer import assemble_transaction
from mvote.node.runtime import Node
from mvote.node.rwset import tx_rwset_bytes
from mvote.verifier._chain import verify_chain
from mvote.verifier._replay import ReplayReport, replay_chain

REGISTRAR = nacl.signing.SigningKey(b"\x07" * 32)


class Chain:
    def __init__(self, node: Node, admin: Signer, genesis_hash: bytes) -> None:
        self.node, self.admin, self.genesis_hash = node, admin, genesis_hash

    def submit(self, *args: bytes | str) -> int:
        tx_id, envelope = self.endorsed(*args)
        self.node.submit(envelope)
        return self.node.commit_status(tx_id, 10).block

    def endorsed(self, *args: bytes | str) -> tuple[str, Any]:
        """A transaction endorsed on the current state and signed, not yet submitted."""
        proposal = new_proposal(self.admin, channel_id="mvote", chaincode="mvote", args=list(args))
        envelope, _ = self.node.endorse(proposal.signed())
        return proposal.transaction_id, sign_envelope(envelope.payload, self.admin)

    def lie(
        self,
        args: list[bytes | str],
        tamper: Callable[[Simulation], Simulation],
        version: str = VERSION,
    ) -> int:
        """Two colluding endorsers sign ``tamper(simulation)`` instead of what the contract did."""
        proposal = new_proposal(self.admin, channel_id="mvote", chaincode="mvote", args=args)
        up = unpack_proposal(proposal.signed())
        with self.node.ledger.snapshot() as world:
            honest = self.node.endorsers[0].simulate(up, world)
            context = TxContext(up.tx_id, up.channel_id, up.timestamp, up.creator, up.args)
            simulator = TxSimulator(world.namespace("mvote"), context)
            invoke(simulator)
            lifecycle = Simulation()
            sequence = "namespaces/fields/mvote/Sequence"
            lifecycle.reads[sequence] = world.version("_lifecycle", sequence)
        forged = tamper(simulator.simulation)
        simulated = Simulated(
            honest.response,
            tx_rwset_bytes({"mvote": forged, "_lifecycle": lifecycle}),
            honest.events,
        )
        responses = [e.sign(up, simulated, ("mvote", version)) for e in self.node.endorsers[:2]]
        self.node.submit(sign_envelope(assemble_transaction(up, responses), self.admin))
        return self.node.commit_status(proposal.transaction_id, 10).block

    def blocks(self) -> list[bytes]:
        return [self.node.ledger.block(i) for i in range(self.node.ledger.height)]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    yield from open_chain(tmp_path, BatchSettings(timeout_ms=20))


def open_chain(tmp_path: Path, batch: BatchSettings) -> Iterator[Chain]:
    """A running node with question q1 open; stopped when the generator is closed."""
    network = init_network(tmp_path / "net", "cityhall,district,education", batch=batch)
    node = Node.open(tmp_path / "net")
    node.start()
    admin = network.org("cityhall").admin
    c = Chain(node, load_signer(admin.msp_dir, admin.msp_id), network.genesis_hash)
    now = int(time.time())
    spec = QuestionSpec(
        "q1",
        "Q",
        "",
        ("a", "b", "c"),
        SingleChoice(),
        Eligibility.of_registrars((bytes(REGISTRAR.verify_key).hex(),)),
        Schedule(now - 5, now + 3600),
    )
    c.submit("CreateQuestion", encoding.encode(spec.to_json()))
    c.submit("OpenQuestion", "q1")
    c.spec = spec  # type: ignore[attr-defined]
    yield c
    node.stop()


def cast_args(chain: Chain, seed: int, choice: int) -> list[bytes | str]:
    voter = nacl.signing.SigningKey(bytes([seed]) * 32)
    credential = issue_credential(
        REGISTRAR, channel="mvote", voter=bytes(voter.verify_key).hex(), expires_at=2**40
    )
    request = prepare_ballot(
        voter, channel="mvote", question=chain.spec, choices=[choice], credential=credential
    )  # type: ignore[attr-defined]
    return ["Cast", encoding.encode(request.to_json())]


def audit(chain: Chain) -> ReplayReport:
    blocks = chain.blocks()
    report = verify_chain(blocks, chain.genesis_hash)
    assert report.verified, [str(f) for f in report.findings]
    return replay_chain(blocks, report.codes)
