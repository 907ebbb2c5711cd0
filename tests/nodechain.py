"""A small chain made by a real embedded node, for the verifier's replay, receipt, untrusted-bytes
and tamper tests: one way to start a node on a fresh network with an open question.

``running_chain`` starts the node and opens the question; ``Chain.submit`` endorses, orders and
waits for the commit; ``cast_args`` makes a credentialled ballot; ``Chain.lie`` lets a majority
of endorsers sign results the contract would never produce.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from mvote.chaincode import encoding
from mvote.chaincode._contract import VERSION, invoke
from mvote.chaincode._crypto.group import Point, point_from_hex
from mvote.chaincode._records import (
    Ballot,
    CastRequest,
    Eligibility,
    MultiChoice,
    QuestionSpec,
    Schedule,
    SecretMode,
    SingleChoice,
)
from mvote.chaincode._simulation import Simulation, TxContext, TxSimulator
from mvote.client import _trustee as tr
from mvote.client._ballot import prepare_ballot
from mvote.client._identity import Signer, load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.client._registrar import issue_credential
from mvote.node.config import BatchSettings
from mvote.node.endorser import Endorser, Simulated, unpack_proposal
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.peer import assemble_transaction
from mvote.node.runtime import Node
from mvote.node.rwset import tx_rwset_bytes
from mvote.verifier._chain import verify_chain
from mvote.verifier._replay import ReplayReport, replay_chain

REGISTRAR = nacl.signing.SigningKey(b"\x07" * 32)
VALID = 0


class Chain:
    """A running node, its first organisation's admin (the creator of every transaction here)
    and the question ``spec`` that ``running_chain`` opened."""

    def __init__(self, node: Node, network: NetworkMaterial, spec: QuestionSpec) -> None:
        admin = network.org("cityhall").admin
        self.node, self.network, self.spec = node, network, spec
        self.admin = load_signer(admin.msp_dir, admin.msp_id)
        self.genesis_hash = network.genesis_hash

    def submit(self, *args: bytes | str) -> int:
        """Endorse, order and commit; the block number (the commit must be VALID)."""
        return self.submit_tx(*args)[1]

    def submit_tx(self, *args: bytes | str) -> tuple[str, int]:
        """As ``submit``: the transaction id and the block number."""
        tx_id, envelope = self.endorsed(*args)
        self.node.submit(envelope)
        status = self.node.commit_status(tx_id, 10)
        assert status.code == VALID, f"{args[0]!r} committed with code {status.code}"
        return tx_id, status.block

    def orderer(self) -> Signer:
        """The orderer's signing identity (for tests that re-sign a changed block)."""
        orderer = self.network.orderer_org.node
        return load_signer(orderer.msp_dir, orderer.msp_id)

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
        rules: str = VERSION,
    ) -> int:
        """Two colluding endorsers sign ``tamper(simulation)`` instead of what the contract (the
        rules of contract version ``rules``) did, as chaincode version ``version``."""
        proposal = new_proposal(self.admin, channel_id="mvote", chaincode="mvote", args=args)
        up = unpack_proposal(proposal.signed())
        endorser = Endorser(
            self.node.endorsers[0].signer,
            chaincode_name="mvote",
            chaincode_version=version,
            contract=functools.partial(invoke, version=rules),
        )
        with self.node.ledger.snapshot() as world:
            honest = endorser.simulate(up, world)
            context = TxContext(up.tx_id, up.channel_id, up.timestamp, up.creator, up.args)
            simulator = TxSimulator(world.namespace("mvote"), context)
            invoke(simulator, rules)
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

    def submit_as(self, version: str, *args: bytes | str) -> int:
        """Endorse ``args`` with a majority of organisations running the contract rules of
        ``version`` and signing that version (as peers of a channel still defined at
        ``version`` do), then order and commit it."""
        proposal = new_proposal(self.admin, channel_id="mvote", chaincode="mvote", args=list(args))
        up = unpack_proposal(proposal.signed())
        old = [
            Endorser(
                e.signer,
                chaincode_name="mvote",
                chaincode_version=version,
                contract=functools.partial(invoke, version=version),
            )
            for e in self.node.endorsers[:2]
        ]
        with self.node.ledger.snapshot() as world:
            simulated = [e.simulate(up, world) for e in old]
        responses = [e.sign(up, s, ("mvote", version)) for e, s in zip(old, simulated, strict=True)]
        self.node.submit(sign_envelope(assemble_transaction(up, responses), self.admin))
        return self.node.commit_status(proposal.transaction_id, 10).block

    def blocks(self) -> list[bytes]:
        return [self.node.ledger.block(i) for i in range(self.node.ledger.height)]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    yield from open_chain(tmp_path, BatchSettings(timeout_ms=20))


def open_chain(tmp_path: Path, batch: BatchSettings) -> Iterator[Chain]:
    """A running node with question q1 open; stopped when the generator is closed."""
    with running_chain(tmp_path / "net", batch) as c:
        yield c


@contextmanager
def running_chain(
    directory: Path,
    batch: BatchSettings,
    *,
    qid: str = "q1",
    options: tuple[str, ...] = ("a", "b", "c"),
) -> Iterator[Chain]:
    """A node on a fresh three-organisation network in ``directory``, with question ``qid``
    (open to holders of REGISTRAR's credential) created and opened; stopped on exit."""
    network = init_network(directory, "cityhall,district,education", batch=batch)
    node = Node.open(directory)
    node.start()
    try:
        now = int(time.time())
        spec = QuestionSpec(
            qid,
            "Q",
            "",
            options,
            SingleChoice(),
            Eligibility.of_registrars((bytes(REGISTRAR.verify_key).hex(),)),
            Schedule(now - 5, now + 3600),
        )
        c = Chain(node, network, spec)
        c.submit("CreateQuestion", encoding.encode(spec.to_json()))
        c.submit("OpenQuestion", qid)
        yield c
    finally:
        node.stop()


def cast_args(chain: Chain, seed: int, choice: int) -> list[bytes | str]:
    voter = nacl.signing.SigningKey(bytes([seed]) * 32)
    credential = issue_credential(
        REGISTRAR, channel="mvote", voter=bytes(voter.verify_key).hex(), expires_at=2**40
    )
    request = prepare_ballot(
        voter, channel="mvote", question=chain.spec, choices=[choice], credential=credential
    )
    return ["Cast", encoding.encode(request.to_json())]


def audit(chain: Chain) -> ReplayReport:
    blocks = chain.blocks()
    report = verify_chain(blocks, chain.genesis_hash)
    assert report.verified, [str(f) for f in report.findings]
    return replay_chain(blocks, report.codes)


def old_cast_args(chain: Chain, seed: int, choice: int) -> list[bytes | str]:
    """A Cast of an mvote-1 ballot (no question binding), as clients of mvote-1 made them."""
    voter = nacl.signing.SigningKey(bytes([seed]) * 32)
    credential = issue_credential(
        REGISTRAR, channel="mvote", voter=bytes(voter.verify_key).hex(), expires_at=2**40
    )
    ballot = Ballot("mvote", "q1", (choice,), bytes(voter.verify_key).hex())
    request = CastRequest(ballot, voter.sign(ballot.canonical_bytes()).signature.hex(), credential)
    return ["Cast", encoding.encode(request.to_json())]


def open_secret_question(
    chain: Chain,
) -> tuple[list[tr.TrusteeSecrets], QuestionSpec, Point]:
    """A complete 2-of-3 ceremony c1 and the open secret question s1 (2 of 4 options, open
    eligibility by REGISTRAR): the trustees, the spec and the election key."""
    team = [
        tr.new_trustee("mvote", "c1", 3, 2, i, nacl.signing.SigningKey(bytes([40 + i]) * 32))
        for i in range(1, 4)
    ]
    regs = [t.registration() for t in team]
    chain.submit("CreateCeremony", tr.ceremony_spec("c1", 3, 2, regs))
    postings = [tr.dealing_posting(t, regs) for t in team]
    for p in postings:
        chain.submit("PostDealing", p)
    dealt = [encoding.decode(p, max_size=1 << 24) for p in postings]
    for t in team:
        chain.submit("PostCheck", tr.check_posting(t, dealt))
    chain.submit("CompleteCeremony", "c1")
    # The election key, as CompleteCeremony fixed it: K = sum of K_i0.
    key = sum(
        (point_from_hex(d["body"]["dealing"]["commitments"][0], "k") for d in dealt[1:]),
        point_from_hex(dealt[0]["body"]["dealing"]["commitments"][0], "k"),
    )
    now = int(time.time())
    spec = QuestionSpec(
        "s1",
        "S",
        "",
        ("a", "b", "c", "d"),
        MultiChoice(min=0, max=2),
        Eligibility.of_registrars((bytes(REGISTRAR.verify_key).hex(),)),
        Schedule(now - 5, now + 3600),
        secret=SecretMode("c1"),
    )
    chain.submit("CreateQuestion", encoding.encode(spec.to_json()))
    chain.submit("OpenQuestion", "s1")
    return team, spec, key
