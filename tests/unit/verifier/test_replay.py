"""Replay catches what signatures cannot: endorsers who agree on a lie.

A chain is built by the embedded node; then a majority of endorsers sign results the contract
would never produce (a ballot with other choices, a tally with other counts). Every signature and
policy check passes, and replay names the block, the transaction and the check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nacl.signing
import pytest

from mvote.chaincode import encoding
from mvote.chaincode.contract import invoke
from mvote.chaincode.records import Eligibility, QuestionSpec, Rule
from mvote.chaincode.simulation import Simulation, TxContext, TxSimulator
from mvote.client.ballot import prepare_ballot
from mvote.client.identity import Signer, load_signer
from mvote.client.proposal import new_proposal, sign_envelope
from mvote.client.registrar import issue_credential
from mvote.node.config import BatchSettings
from mvote.node.endorser import Simulated, unpack_proposal
from mvote.node.material import init_network
from mvote.node.runtime import Node, assemble_transaction
from mvote.node.rwset import tx_rwset_bytes
from mvote.verifier.chain import verify_chain
from mvote.verifier.replay import ReplayReport, replay_chain

REGISTRAR = nacl.signing.SigningKey(b"\x07" * 32)


class Chain:
    def __init__(self, node: Node, admin: Signer, genesis_hash: bytes) -> None:
        self.node, self.admin, self.genesis_hash = node, admin, genesis_hash

    def submit(self, *args: bytes | str) -> int:
        proposal = new_proposal(self.admin, channel_id="mvote", chaincode="mvote", args=list(args))
        envelope, _ = self.node.endorse(proposal.signed())
        self.node.submit(sign_envelope(envelope.payload, self.admin))
        return self.node.commit_status(proposal.transaction_id, 10).block

    def lie(self, args: list[bytes | str], tamper: Callable[[Simulation], Simulation]) -> int:
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
        responses = [e.sign(up, simulated, ("mvote", "1.0")) for e in self.node.endorsers[:2]]
        self.node.submit(sign_envelope(assemble_transaction(up, responses), self.admin))
        return self.node.commit_status(proposal.transaction_id, 10).block

    def blocks(self) -> list[bytes]:
        return [self.node.ledger.block(i) for i in range(self.node.ledger.height)]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    network = init_network(
        tmp_path / "net", "cityhall,district,education", batch=BatchSettings(timeout_ms=20)
    )
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
        Rule("single"),
        Eligibility("open", registrars=(bytes(REGISTRAR.verify_key).hex(),)),
        now - 5,
        now + 3600,
    )
    c.submit("CreateQuestion", encoding.encode(spec.to_json()))
    c.submit("OpenQuestion", "q1")
    c.spec = spec  # type: ignore[attr-defined]
    yield c
    node.stop()


def _cast(chain: Chain, seed: int, choice: int) -> list[bytes | str]:
    voter = nacl.signing.SigningKey(bytes([seed]) * 32)
    credential = issue_credential(
        REGISTRAR, channel="mvote", voter=bytes(voter.verify_key).hex(), expires_at=2**40
    )
    request = prepare_ballot(
        voter, channel="mvote", question=chain.spec, choices=[choice], credential=credential
    )  # type: ignore[attr-defined]
    return ["Cast", encoding.encode(request.to_json())]


def _audit(chain: Chain) -> ReplayReport:
    blocks = chain.blocks()
    report = verify_chain(blocks, chain.genesis_hash)
    assert report.verified, [str(f) for f in report.findings]
    return replay_chain(blocks, report.codes)


def test_an_honest_chain_replays_without_findings(chain: Chain) -> None:
    for seed in range(1, 6):
        chain.submit(*_cast(chain, seed, seed % 3))
    chain.submit("CloseQuestion", "q1", "test")
    chain.submit("Aggregate", "q1", "0")
    chain.submit("Tally", "q1")
    replay = _audit(chain)
    assert replay.findings == []
    assert replay.tallies_recounted == 1
    assert replay.replayed == 5 + 5  # create, open, five ballots, close, aggregate, tally
    assert [n.chaincode for n in replay.not_replayed] == ["_lifecycle"]


def test_endorsers_who_change_a_ballot_are_named(chain: Chain) -> None:
    def other_choice(sim: Simulation) -> Simulation:
        for key, value in sim.writes.items():
            if value and b'"choices":[0]' in value:
                sim.writes[key] = value.replace(b'"choices":[0]', b'"choices":[2]')
        return sim

    block = chain.lie(_cast(chain, 9, 0), other_choice)
    replay = _audit(chain)
    assert [(f.block, f.check) for f in replay.findings] == [(block, "replay_writes")]


def test_endorsers_who_inflate_a_tally_are_named(chain: Chain) -> None:
    for seed in range(1, 4):
        chain.submit(*_cast(chain, seed, 1))
    chain.submit("CloseQuestion", "q1", "test")
    chain.submit("Aggregate", "q1", "0")

    def inflate(sim: Simulation) -> Simulation:
        for key, value in sim.writes.items():
            if value and b'"counts":[0,3,0]' in value and b'"outcome"' in value:
                sim.writes[key] = value.replace(b'"counts":[0,3,0]', b'"counts":[9,3,0]')
        return sim

    block = chain.lie(["Tally", "q1"], inflate)
    replay = _audit(chain)
    checks = {(f.block, f.check) for f in replay.findings}
    assert (block, "replay_writes") in checks
    assert any(check == "tally_recount" for _, check in checks)
