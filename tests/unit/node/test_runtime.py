"""The embedded node's transaction flow through its runtime API (no gRPC): bootstrap, endorsement,
evaluation, submission and commit, block cutting, MVCC between ballots, and every refusal, which
must raise its typed error and persist nothing.

One network and one running node per module (per xdist worker). Every test leaves the node able
to commit; the last test (and the fixture's teardown) verifies the whole chain from the genesis
hash and compares the state with a serial replay of the chain.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_pb2, transaction_pb2
from node_support import (
    ENDORSEMENT_POLICY_FAILURE,
    MVCC_READ_CONFLICT,
    ORGS,
    VALID,
    Client,
    ballot_record,
    chain_of,
    check_chain,
    check_state_is_replay,
    voter_key,
)

from mvote.chaincode import encoding
from mvote.chaincode._errors import (
    Malformed,
    MvoteError,
    Refusal,
    TooLarge,
    Unauthorised,
    WrongChannel,
)
from mvote.client._identity import Signer, load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.node import lifecycle
from mvote.node.config import BatchSettings, NodeLimits
from mvote.node.errors import (
    ClockSkew,
    CommitTimeout,
    DuplicateTransaction,
    EndorsementFailed,
    NotRunning,
    UnknownChaincode,
)
from mvote.node.ledger import Ledger
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.peer import MAX_CLOCK_SKEW_SECONDS
from mvote.node.runtime import Node
from mvote.verifier._errors import MalformedProto

#: Small batches so that cutting by count, by bytes and by time all show within a few txs. A
#: ballot envelope (two endorsements) is about 6.5 kB: five of them stay under the preferred size.
BATCH = BatchSettings(
    max_message_count=5,
    preferred_max_bytes=48_000,
    absolute_max_bytes=1 << 20,
    timeout_ms=150,
)
LIMITS = NodeLimits(max_transaction_bytes=160_000)
TIMEOUT = BATCH.timeout_ms / 1000
QID = "q-main"


class Clock:
    """The node's clock: real time plus an offset a test may set."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Harness:
    material: NetworkMaterial
    node: Node
    client: Client
    clock: Clock
    spec: dict[str, Any]
    voters: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**9)))

    @property
    def ledger(self) -> Any:
        return self.node.ledger

    def voter(self) -> nacl.signing.SigningKey:
        return voter_key(next(self.voters))

    def ballot(self, choice: int = 0, key: nacl.signing.SigningKey | None = None) -> bytes:
        return self.client.cast_args(self.spec, key or self.voter(), choice)

    def endorsed_ballot(
        self, choice: int = 0, key: nacl.signing.SigningKey | None = None
    ) -> tuple[str, common_pb2.Envelope]:
        tx_id, envelope, _ = self.client.endorsed("Cast", self.ballot(choice, key))
        return tx_id, envelope

    def persisted(self) -> tuple[Any, ...]:
        """Everything a refusal must leave alone: the chain's tip, the whole world state, the
        transactions waiting to be ordered."""
        with self.node._lock:
            pending = frozenset(self.node._pending)
        with self.ledger.snapshot() as world:
            state = list(world.items())
        return self.ledger.height, self.ledger.last_hash, state, pending


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    material = init_network(
        tmp_path_factory.mktemp("runtime") / "net", ORGS, batch=BATCH, limits=LIMITS
    )
    clock = Clock()
    node = Node.open(material.directory, clock=clock)
    node.start()
    client = Client(node, material)
    spec = client.open_question(QID)
    h = Harness(material, node, client, clock, spec)
    try:
        yield h
        # Whatever the tests of this worker did, the chain verifies and the state is a replay.
        check_chain(chain_of(node.ledger), material.genesis_hash)
        check_state_is_replay(node.ledger, material.config.chaincode)
    finally:
        node.stop()


def block_at(h: Harness, number: int) -> common_pb2.Block:
    return common_pb2.Block.FromString(h.ledger.block(number))


def tx_ids_of(block: common_pb2.Block) -> list[str]:
    ids = []
    for raw in block.data.data:
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw).payload)
        ids.append(common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id)
    return ids


def endorsers_of(envelope: common_pb2.Envelope) -> list[str]:
    payload = common_pb2.Payload.FromString(envelope.payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    action = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    return [
        identities_pb2.SerializedIdentity.FromString(e.endorser).mspid
        for e in action.action.endorsements
    ]


def commit_alone(h: Harness) -> None:
    """The next valid transaction commits VALID, alone in the next block (so nothing a refusal
    might have queued is waiting)."""
    height = h.ledger.height
    tx_id, envelope = h.endorsed_ballot()
    h.node.submit(envelope)
    found = h.node.commit_status(tx_id, timeout=10)
    assert found == (height, 0, VALID)
    assert tx_ids_of(block_at(h, height)) == [tx_id]
    assert h.ledger.height == height + 1


def refused(h: Harness, error: type[MvoteError], action: Callable[[], object]) -> MvoteError:
    """``action`` raises exactly ``error``, persists nothing, and the node still commits."""
    before = h.persisted()
    with pytest.raises(MvoteError) as info:
        action()
    assert type(info.value) is error, f"expected {error.__name__}, got {info.value!r}"
    assert info.value.message, "a refusal must say what is wrong"
    assert h.persisted() == before, "a refused request changed the ledger or the pending set"
    commit_alone(h)
    return info.value


def reproposal(
    h: Harness,
    signer: Signer,
    mutate: Callable[[common_pb2.ChannelHeader], None],
) -> proposal_pb2.SignedProposal:
    """A ballot proposal whose channel header ``mutate`` changed, signed again by ``signer``."""
    proposal = h.client.proposal("Cast", h.ballot(), signer=signer)
    parsed = proposal_pb2.Proposal.FromString(proposal.proposal_bytes)
    header = common_pb2.Header.FromString(parsed.header)
    channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
    mutate(channel_header)
    header.channel_header = channel_header.SerializeToString()
    parsed.header = header.SerializeToString()
    raw = parsed.SerializeToString()
    return proposal_pb2.SignedProposal(proposal_bytes=raw, signature=signer.sign(raw))


# --- bootstrap -----------------------------------------------------------------------------------


def test_bootstrap_commits_genesis_then_the_chaincode_definition(harness: Harness) -> None:
    h = harness
    assert h.ledger.block(0) == h.material.genesis.raw
    block1 = block_at(h, 1)
    assert list(block1.metadata.metadata[common_pb2.TRANSACTIONS_FILTER]) == [VALID]
    assert len(block1.data.data) == 1
    payload = common_pb2.Payload.FromString(
        common_pb2.Envelope.FromString(block1.data.data[0]).payload
    )
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    assert header.type == common_pb2.ENDORSER_TRANSACTION
    extension = proposal_pb2.ChaincodeHeaderExtension.FromString(header.extension)
    assert extension.chaincode_id.name == lifecycle.LIFECYCLE
    creator = identities_pb2.SerializedIdentity.FromString(
        common_pb2.SignatureHeader.FromString(payload.header.signature_header).creator
    )
    assert creator.mspid == h.material.peer_orgs[0].msp_id
    # Every organisation endorsed the definition (the LifecycleEndorsement policy).
    assert endorsers_of(common_pb2.Envelope.FromString(block1.data.data[0])) == [
        o.msp_id for o in h.material.peer_orgs
    ]
    with h.ledger.snapshot() as world:
        assert world.value(lifecycle.LIFECYCLE, lifecycle.sequence_key("mvote")) is not None
        assert world.version(lifecycle.LIFECYCLE, lifecycle.sequence_key("mvote")) == (1, 0)
    check_chain(chain_of(h.ledger)[:2], h.material.genesis_hash)


def test_restart_keeps_the_chain_and_does_not_redefine(tmp_path: Path) -> None:
    material = init_network(tmp_path / "net", ORGS, batch=BATCH)
    with Node.open(material.directory) as node:
        node.start()
        assert node.ledger.height == 2
        client = Client(node, material)
        spec = client.open_question("q-restart")
        done = client.invoke("Cast", client.cast_args(spec, voter_key(1), 1))
        assert done.location.code == VALID
        chain = chain_of(node.ledger)
        _, late, _ = client.endorsed("Cast", client.cast_args(spec, voter_key(3), 1))
    with pytest.raises(NotRunning):
        node.submit(late)
    for _ in range(2):
        with Node.open(material.directory) as node:
            node.start()
            assert chain_of(node.ledger) == chain, "a restart changed or added blocks"
            assert node.commit_status(done.tx_id, timeout=1) == done.location
            assert [e.msp_id for e in node._endorsing] == ["CityhallMSP", "DistrictMSP"]
    with Node.open(material.directory) as node:
        node.start()
        client = Client(node, material)
        after = client.invoke("Cast", client.cast_args(spec, voter_key(2), 0))
        assert after.location == (len(chain), 0, VALID)
        check_chain(chain_of(node.ledger), material.genesis_hash)
        assert check_state_is_replay(node.ledger, "mvote") == 4


def test_start_after_a_crash_between_genesis_and_definition_defines_once(tmp_path: Path) -> None:
    material = init_network(tmp_path / "net", ORGS, batch=BATCH)
    # What a kill right after the first commit leaves: the genesis block alone.
    with Ledger.open(material.directory / material.config.ledger_dir) as ledger:
        ledger.commit(material.genesis.block)
    with Node.open(material.directory) as node:
        node.start()
        assert node.ledger.height == 2
        check_chain(chain_of(node.ledger), material.genesis_hash)
    with Node.open(material.directory) as node:
        node.start()
        assert node.ledger.height == 2


def test_a_transaction_accepted_while_stopping_is_committed(tmp_path: Path) -> None:
    """stop() orders what is queued; a submission it races with is refused or committed,
    never accepted and then dropped."""
    material = init_network(tmp_path / "net", ORGS, batch=BATCH)
    node = Node.open(material.directory)
    node.start()
    client = Client(node, material)
    spec = client.open_question("q-stop")
    ready = [client.endorsed("Cast", client.cast_args(spec, voter_key(i), 0)) for i in range(21)]
    for tx_id, envelope, _ in ready[:20]:
        assert node.submit(envelope) == tx_id
    began = threading.Event()

    def stop() -> None:
        began.set()
        node.stop()

    stopper = threading.Thread(target=stop)
    stopper.start()
    # The stopper is entering stop(): the submission below races it (either outcome is checked);
    # the ordering thread still has most of the 20 to commit.
    assert began.wait(30)
    last_tx, last_envelope, _ = ready[20]
    try:
        accepted = node.submit(last_envelope) == last_tx
    except NotRunning:
        accepted = False
    stopper.join(30)
    assert not stopper.is_alive()
    with Ledger.open(material.directory / material.config.ledger_dir) as ledger:
        for tx_id, _, _ in ready[:20]:
            assert ledger.tx_location(tx_id) is not None, "stop() dropped a queued transaction"
        if accepted:
            assert ledger.tx_location(last_tx) is not None, "accepted while stopping, then lost"


# --- endorse, evaluate, submit -------------------------------------------------------------------


def test_endorse_with_the_policy_minimal_set(harness: Harness) -> None:
    h = harness
    key = h.voter()
    tx_id, envelope, payload = h.client.endorsed("Cast", h.ballot(2, key))
    # MAJORITY of three organisations: two, the first two in configuration order.
    assert endorsers_of(envelope) == ["CityhallMSP", "DistrictMSP"]
    assert payload["tx"] == tx_id and payload["qid"] == QID
    assert h.node.submit(envelope) == tx_id
    location = h.node.commit_status(tx_id, timeout=10)
    assert location.code == VALID
    record = ballot_record(h.ledger, "mvote", h.spec, bytes(key.verify_key).hex())
    assert record["tracker"] == payload["tracker"] and record["tx"] == tx_id
    tx_ids = tx_ids_of(block_at(h, location.block))
    assert tx_ids[location.tx] == tx_id


def test_endorse_with_named_organisations(harness: Harness) -> None:
    h = harness
    tx_id, envelope, _ = h.client.endorsed(
        "Cast", h.ballot(), organizations=["EducationMSP", "DistrictMSP"]
    )
    assert endorsers_of(envelope) == ["EducationMSP", "DistrictMSP"]
    h.node.submit(envelope)
    assert h.node.commit_status(tx_id, timeout=10).code == VALID
    # All three.
    tx_id, envelope, _ = h.client.endorsed(
        "Cast", h.ballot(), organizations=["EducationMSP", "CityhallMSP", "DistrictMSP"]
    )
    assert endorsers_of(envelope) == ["EducationMSP", "CityhallMSP", "DistrictMSP"]
    h.node.submit(envelope)
    assert h.node.commit_status(tx_id, timeout=10).code == VALID


def test_too_few_named_organisations_commit_as_endorsement_policy_failure(
    harness: Harness,
) -> None:
    h = harness
    key = h.voter()
    tx_id, envelope, _ = h.client.endorsed("Cast", h.ballot(0, key), organizations=["EducationMSP"])
    assert endorsers_of(envelope) == ["EducationMSP"]
    h.node.submit(envelope)
    assert h.node.commit_status(tx_id, timeout=10).code == ENDORSEMENT_POLICY_FAILURE
    # Its writes did not apply: the voter may still vote.
    assert ballot_record(h.ledger, "mvote", h.spec, bytes(key.verify_key).hex()) is None
    tx_id, envelope, _ = h.client.endorsed("Cast", h.ballot(1, key))
    h.node.submit(envelope)
    assert h.node.commit_status(tx_id, timeout=10).code == VALID


def test_endorse_with_an_unknown_organisation_is_refused(harness: Harness) -> None:
    h = harness
    error = refused(
        h,
        Malformed,
        lambda: h.client.endorsed("Cast", h.ballot(), organizations=["CityhallMSP", "NopeMSP"]),
    )
    assert error.field == "endorsing_organizations" and "NopeMSP" in error.message


def test_evaluate_reads_committed_state_and_writes_nothing(harness: Harness) -> None:
    h = harness
    before = h.persisted()
    question = h.client.query("GetQuestion", QID)
    assert question["qid"] == QID and question["state"] == "OPEN"
    assert question["options"] == h.spec["options"] and question["owner"] == "CityhallMSP"
    response = h.node.evaluate(h.client.proposal("GetQuestion", "no-such-question").signed())
    assert response.status == 400 and response.message.startswith("NOT_FOUND: ")
    assert h.persisted() == before
    # Evaluate runs the contract but never orders: even a write function changes nothing.
    response = h.node.evaluate(h.client.proposal("Cast", h.ballot()).signed())
    assert response.status == 200
    assert not h.node.wait_for_height(h.ledger.height + 1, TIMEOUT * 2)
    assert h.persisted() == before


def test_evaluate_refuses_what_endorse_refuses(harness: Harness) -> None:
    h = harness
    other_channel = h.client.proposal("GetQuestion", QID, channel="elsewhere").signed()
    refused(h, WrongChannel, lambda: h.node.evaluate(other_channel))
    as_peer = h.client.proposal("GetQuestion", QID, signer=h.client.peer).signed()
    refused(h, Unauthorised, lambda: h.node.evaluate(as_peer))
    # The peer remembers each creator's ACL answer: a refusal stays a refusal, and the client
    # identity it remembered as a writer is still let through.
    again = h.client.proposal("GetQuestion", QID, signer=h.client.peer).signed()
    refused(h, Unauthorised, lambda: h.node.evaluate(again))
    for _ in range(2):
        h.node.evaluate(h.client.proposal("GetQuestion", QID).signed())


def test_commit_status_of_an_unknown_tx_times_out(harness: Harness) -> None:
    started = time.monotonic()
    with pytest.raises(CommitTimeout):
        harness.node.commit_status("00" * 32, timeout=0.2)
    assert time.monotonic() - started >= 0.2


def test_blocks_iterates_committed_blocks_and_follows_new_ones(harness: Harness) -> None:
    h = harness
    height = h.ledger.height
    stop = threading.Event()
    seen: list[common_pb2.Block] = []

    def follow() -> None:
        for block in h.node.blocks(height - 1, stop):
            seen.append(block)
            if len(seen) == 2:
                stop.set()

    follower = threading.Thread(target=follow)
    follower.start()
    commit_alone(h)
    follower.join(10)
    assert not follower.is_alive()
    assert [b.SerializeToString() for b in seen] == [
        h.ledger.block(height - 1),
        h.ledger.block(height),
    ]


# --- refusals: proposals -------------------------------------------------------------------------


def test_malformed_proposal_bytes_are_refused(harness: Harness) -> None:
    h = harness
    garbage = proposal_pb2.SignedProposal(proposal_bytes=b"\xff\xff\xff\xff", signature=b"x")
    error = refused(h, MalformedProto, lambda: h.node.endorse(garbage))
    assert error.field == "proposal_bytes"
    refused(h, MalformedProto, lambda: h.node.evaluate(garbage))
    # Parses, but is empty: no chaincode named.
    empty = proposal_pb2.SignedProposal(proposal_bytes=b"", signature=b"x")
    error = refused(h, Malformed, lambda: h.node.endorse(empty))
    assert error.field == "chaincode_id"


def test_wrong_channel_proposal_is_refused(harness: Harness) -> None:
    h = harness
    signed = h.client.proposal("Cast", h.ballot(), channel="otherchannel").signed()
    error = refused(h, WrongChannel, lambda: h.node.endorse(signed))
    assert "otherchannel" in error.message


def test_unknown_chaincode_is_refused(harness: Harness) -> None:
    h = harness
    signed = h.client.proposal("Cast", h.ballot(), chaincode="notmvote").signed()
    error = refused(h, UnknownChaincode, lambda: h.node.endorse(signed))
    assert "notmvote" in error.message
    # Nor may a client invoke the _lifecycle system chaincode through endorse.
    function, args = lifecycle.commit_args("mvote", "2.0", sequence=2)
    definition = h.client.proposal(
        function.decode(), args, chaincode=lifecycle.LIFECYCLE, signer=h.client.admin
    ).signed()
    refused(h, UnknownChaincode, lambda: h.node.endorse(definition))


def test_bad_proposal_signature_is_refused(harness: Harness) -> None:
    h = harness
    proposal = h.client.proposal("Cast", h.ballot())
    forged = proposal_pb2.SignedProposal(
        proposal_bytes=proposal.proposal_bytes,
        signature=h.client.user.sign(proposal.proposal_bytes + b"!"),
    )
    error = refused(h, Unauthorised, lambda: h.node.endorse(forged))
    assert error.field == "creator"
    # Signed by another identity of the same organisation.
    by_admin = proposal_pb2.SignedProposal(
        proposal_bytes=proposal.proposal_bytes,
        signature=h.client.admin.sign(proposal.proposal_bytes),
    )
    refused(h, Unauthorised, lambda: h.node.endorse(by_admin))
    unsigned = proposal_pb2.SignedProposal(proposal_bytes=proposal.proposal_bytes)
    refused(h, Malformed, lambda: h.node.endorse(unsigned))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """The client user of another network: same MSP id, same names, another CA."""
    other = init_network(tmp_path_factory.mktemp("stranger") / "net", ORGS)
    org = other.peer_orgs[0]
    return load_signer(org.client.msp_dir, org.client.msp_id)


def test_creator_of_no_channel_organisation_is_refused(harness: Harness, stranger: Signer) -> None:
    h = harness
    assert stranger.identity.msp_id == "CityhallMSP"
    signed = h.client.proposal("Cast", h.ballot(), signer=stranger).signed()
    error = refused(h, Unauthorised, lambda: h.node.endorse(signed))
    assert error.field == "creator"
    refused(h, Unauthorised, lambda: h.node.evaluate(signed))


def test_identity_without_writers_is_refused(harness: Harness) -> None:
    h = harness
    # A peer identity is a member but neither admin nor client: not in Application/Writers.
    signed = h.client.proposal("Cast", h.ballot(), signer=h.client.peer).signed()
    error = refused(h, Unauthorised, lambda: h.node.endorse(signed))
    assert "Writers" in error.message


def test_tx_id_not_matching_nonce_and_creator_is_refused(harness: Harness) -> None:
    h = harness

    def wrong_id(header: common_pb2.ChannelHeader) -> None:
        header.tx_id = "ab" * 32

    signed = reproposal(h, h.client.user, wrong_id)
    error = refused(h, Malformed, lambda: h.node.endorse(signed))
    assert error.field == "channel_header.tx_id"


def test_clock_skew_is_refused(harness: Harness) -> None:
    h = harness
    # The node's clock runs an hour ahead of the client's.
    before = h.persisted()
    h.clock.offset = 3600.0
    try:
        signed = h.client.proposal("Cast", h.ballot()).signed()
        with pytest.raises(ClockSkew) as info:
            h.node.endorse(signed)
        assert info.value.field == "timestamp"
    finally:
        h.clock.offset = 0.0
    assert h.persisted() == before
    commit_alone(h)
    # A proposal stamped too far in the past or the future.
    for delta in (-(MAX_CLOCK_SKEW_SECONDS + 60), MAX_CLOCK_SKEW_SECONDS + 60):
        stale = h.client.proposal("Cast", h.ballot(), timestamp=time.time() + delta).signed()
        refused(h, ClockSkew, lambda stale=stale: h.node.endorse(stale))
    # Within the bound is fine.
    within = h.client.proposal("Cast", h.ballot(), timestamp=time.time() - 60)
    unsigned, _ = h.node.endorse(within.signed())
    h.node.submit(sign_envelope(unsigned.payload, h.client.user))
    assert h.node.commit_status(within.transaction_id, timeout=10).code == VALID


def test_chaincode_refusal_names_every_organisation_and_the_code(harness: Harness) -> None:
    h = harness
    # A query the contract refuses (no such question), sent for endorsement.
    unknown_question = h.client.proposal("GetQuestion", "nope").signed()
    error = refused(h, EndorsementFailed, lambda: h.node.endorse(unknown_question))
    assert isinstance(error, EndorsementFailed)
    assert [org for org, _ in error.details] == ["CityhallMSP", "DistrictMSP"]
    assert all(message.startswith("NOT_FOUND: ") for _, message in error.details)
    # A voter without a credential: refused by the contract's eligibility rule.
    key = h.voter()
    request = encoding.decode(h.ballot(0, key), max_size=1 << 16)
    request["credential"] = None
    bare = h.client.proposal("Cast", encoding.encode(request)).signed()
    error = refused(h, EndorsementFailed, lambda: h.node.endorse(bare))
    assert isinstance(error, EndorsementFailed)
    assert Refusal.from_bytes(error.payload).code == "NOT_ELIGIBLE", error.details
    assert all(message.startswith("NOT_ELIGIBLE: ") for _, message in error.details)
    # A second ballot of a voter whose first ballot is committed: ALREADY_VOTED.
    tx_id, envelope = h.endorsed_ballot(1, key)
    h.node.submit(envelope)
    assert h.node.commit_status(tx_id, timeout=10).code == VALID
    again = h.client.proposal("Cast", h.ballot(2, key)).signed()
    error = refused(h, EndorsementFailed, lambda: h.node.endorse(again))
    assert isinstance(error, EndorsementFailed)
    assert Refusal.from_bytes(error.payload).code == "ALREADY_VOTED", error.details
    assert all(message.startswith("ALREADY_VOTED: ") for _, message in error.details)


# --- refusals: submitted transactions -----------------------------------------------------------


def big_question(h: Harness, options: int) -> tuple[str, common_pb2.Envelope]:
    """An endorsed CreateQuestion whose envelope grows with ``options`` (about 0.6 kB each)."""
    spec = dict(h.spec)
    spec["qid"] = f"big-{os.urandom(6).hex()}"
    spec["options"] = [f"{i:03d} " + "x" * 190 for i in range(options)]
    tx_id, envelope, _ = h.client.endorsed(
        "CreateQuestion", encoding.encode(spec), signer=h.client.admin
    )
    return tx_id, envelope


def test_envelope_over_the_transaction_limit_is_refused(harness: Harness) -> None:
    h = harness
    # Endorse refuses a transaction over the limit (test_limits.py); a client can still send one.
    _, endorsed = big_question(h, 200)
    pad = LIMITS.max_transaction_bytes - len(endorsed.SerializeToString()) + 1
    envelope = common_pb2.Envelope(
        payload=endorsed.payload, signature=endorsed.signature + b"s" * pad
    )
    size = len(envelope.SerializeToString())
    assert size > LIMITS.max_transaction_bytes
    error = refused(h, TooLarge, lambda: h.node.submit(envelope))
    assert str(LIMITS.max_transaction_bytes) in error.message and str(size) in error.message


def test_envelope_with_a_forged_signature_is_refused(harness: Harness, stranger: Signer) -> None:
    h = harness
    tx_id, envelope = h.endorsed_ballot()
    payload = envelope.payload
    for signature in (
        h.client.user.sign(payload + b"x"),  # the creator's key, other bytes
        h.client.admin.sign(payload),  # another identity's key
        stranger.sign(payload),
        b"",
    ):
        forged = common_pb2.Envelope(payload=payload, signature=signature)
        error = refused(h, Unauthorised, lambda forged=forged: h.node.submit(forged))
        assert error.field == "signature"
    # The genuine one still goes through once.
    h.node.submit(envelope)
    assert h.node.commit_status(tx_id, timeout=10).code == VALID


def test_envelope_for_another_channel_is_refused(harness: Harness) -> None:
    h = harness
    _, envelope = h.endorsed_ballot()
    payload = common_pb2.Payload.FromString(envelope.payload)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    header.channel_id = "otherchannel"
    payload.header.channel_header = header.SerializeToString()
    moved = sign_envelope(payload.SerializeToString(), h.client.user)
    error = refused(h, WrongChannel, lambda: h.node.submit(moved))
    assert "otherchannel" in error.message


def test_malformed_envelopes_are_refused(harness: Harness) -> None:
    h = harness
    refused(h, Malformed, lambda: h.node.submit(common_pb2.Envelope()))
    refused(h, Malformed, lambda: h.node.submit(common_pb2.Envelope(payload=b"\xff\xff")))


def test_replayed_tx_id_is_refused_while_pending_and_after_commit(harness: Harness) -> None:
    h = harness
    tx_id, envelope = h.endorsed_ballot()
    height = h.ledger.height
    assert h.node.submit(envelope) == tx_id
    # Submitted twice: the first is pending (the batch timeout has not passed).
    with pytest.raises(DuplicateTransaction):
        h.node.submit(envelope)
    # Also with another (valid) signature over the same payload: same tx id.
    resigned = sign_envelope(envelope.payload, h.client.user)
    with pytest.raises(DuplicateTransaction):
        h.node.submit(resigned)
    location = h.node.commit_status(tx_id, timeout=10)
    assert location == (height, 0, VALID)
    assert tx_ids_of(block_at(h, height)) == [tx_id]
    # Submitted again after commit.
    refused(h, DuplicateTransaction, lambda: h.node.submit(envelope))
    refused(h, DuplicateTransaction, lambda: h.node.submit(resigned))
    assert h.node.commit_status(tx_id, timeout=1) == location


def test_config_type_envelopes_are_refused(harness: Harness) -> None:
    h = harness
    # The genesis block's config transaction, replayed as a submission.
    genesis = common_pb2.Block.FromString(h.material.genesis.raw)
    config = common_pb2.Envelope.FromString(genesis.data.data[0])
    error = refused(h, Malformed, lambda: h.node.submit(config))
    assert error.field == "channel_header.type"
    # A CONFIG_UPDATE signed by an organisation admin (a channel writer).
    admin = h.client.admin
    nonce = os.urandom(24)
    header = common_pb2.Header(
        channel_header=common_pb2.ChannelHeader(
            type=common_pb2.CONFIG_UPDATE,
            channel_id=h.material.config.channel,
            tx_id=hashlib.sha256(nonce + admin.creator).hexdigest(),
        ).SerializeToString(),
        signature_header=common_pb2.SignatureHeader(
            creator=admin.creator, nonce=nonce
        ).SerializeToString(),
    )
    update = common_pb2.Payload(
        header=header, data=configtx_pb2.ConfigUpdateEnvelope().SerializeToString()
    ).SerializeToString()
    error = refused(h, Malformed, lambda: h.node.submit(sign_envelope(update, admin)))
    assert error.field == "channel_header.type"


def test_submit_by_an_identity_without_writers_is_refused(harness: Harness) -> None:
    h = harness
    # Build by hand what no endorser would endorse: a ballot transaction created by a peer
    # identity (every part consistent and signed, so only the Writers policy refuses it).
    proposal = new_proposal(
        h.client.user,
        channel_id=h.material.config.channel,
        chaincode="mvote",
        args=["Cast", h.ballot()],
    )
    unsigned, _ = h.node.endorse(proposal.signed())
    payload = common_pb2.Payload.FromString(unsigned.payload)
    signature_header = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    signature_header.creator = h.client.peer.creator
    payload.header.signature_header = signature_header.SerializeToString()
    as_peer = sign_envelope(payload.SerializeToString(), h.client.peer)
    error = refused(h, Unauthorised, lambda: h.node.submit(as_peer))
    assert "Writers" in error.message


# --- block cutting -------------------------------------------------------------------------------


def submit_all(h: Harness, envelopes: list[tuple[str, common_pb2.Envelope]]) -> list[Any]:
    for tx_id, envelope in envelopes:
        assert h.node.submit(envelope) == tx_id
    return [h.node.commit_status(tx_id, timeout=10) for tx_id, _ in envelopes]


def test_block_is_cut_at_max_message_count(harness: Harness) -> None:
    h = harness
    height = h.ledger.height
    ready = [h.endorsed_ballot() for _ in range(BATCH.max_message_count + 2)]
    assert sum(len(e.SerializeToString()) for _, e in ready[:5]) < BATCH.preferred_max_bytes
    locations = submit_all(h, ready)
    assert [tuple(loc) for loc in locations] == [(height, i, VALID) for i in range(5)] + [
        (height + 1, i, VALID) for i in range(2)
    ]
    assert tx_ids_of(block_at(h, height)) == [t for t, _ in ready[:5]]
    assert tx_ids_of(block_at(h, height + 1)) == [t for t, _ in ready[5:]]


def test_block_is_cut_at_preferred_max_bytes(harness: Harness) -> None:
    h = harness
    preferred = BATCH.preferred_max_bytes
    # Three transactions of which two fit under the preferred size, but not three.
    ready = [big_question(h, 25) for _ in range(3)]
    sizes = [len(e.SerializeToString()) for _, e in ready]
    assert all(preferred / 3 < s <= preferred / 2 for s in sizes), sizes
    height = h.ledger.height
    locations = submit_all(h, ready)
    assert [tuple(loc) for loc in locations] == [
        (height, 0, VALID),
        (height, 1, VALID),
        (height + 1, 0, VALID),
    ]
    # A transaction larger than the preferred size travels alone, cutting what is pending.
    small = h.endorsed_ballot()
    large = big_question(h, 100)
    assert preferred < len(large[1].SerializeToString()) <= LIMITS.max_transaction_bytes
    height = h.ledger.height
    locations = submit_all(h, [small, large])
    assert [tuple(loc) for loc in locations] == [(height, 0, VALID), (height + 1, 0, VALID)]
    assert tx_ids_of(block_at(h, height)) == [small[0]]
    assert tx_ids_of(block_at(h, height + 1)) == [large[0]]


def test_block_is_cut_at_the_batch_timeout(harness: Harness) -> None:
    h = harness
    height = h.ledger.height
    tx_id, envelope = h.endorsed_ballot()
    started = time.monotonic()
    h.node.submit(envelope)
    # Nothing is cut before the timeout...
    assert not h.node.wait_for_height(height + 1, TIMEOUT * 0.6)
    assert h.node.commit_status(tx_id, timeout=10) == (height, 0, VALID)
    waited = time.monotonic() - started
    # ...and the block comes once the first transaction has waited the timeout.
    assert TIMEOUT <= waited < TIMEOUT + 2.0, waited
    assert tx_ids_of(block_at(h, height)) == [tx_id]


# --- MVCC between ballots ------------------------------------------------------------------------


def test_second_ballot_of_a_voter_in_the_same_block_is_an_mvcc_conflict(harness: Harness) -> None:
    h = harness
    key = h.voter()
    # Both endorsed on the same state (no ballot yet), then ordered into one block.
    first = h.client.endorsed("Cast", h.ballot(0, key))
    second = h.client.endorsed("Cast", h.ballot(1, key))
    height = h.ledger.height
    locations = submit_all(h, [(first[0], first[1]), (second[0], second[1])])
    assert [tuple(loc) for loc in locations] == [
        (height, 0, VALID),
        (height, 1, MVCC_READ_CONFLICT),
    ]
    record = ballot_record(h.ledger, "mvote", h.spec, bytes(key.verify_key).hex())
    assert record["tx"] == first[0] and record["tracker"] == first[2]["tracker"]
    assert record["ballot"]["choices"] == [0]


def test_fifty_concurrent_ballots_of_distinct_voters_all_commit_valid(harness: Harness) -> None:
    h = harness
    keys = [h.voter() for _ in range(50)]
    height = h.ledger.height
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(10)

    def vote(chunk: list[int]) -> None:
        try:
            barrier.wait()
            for i in chunk:
                tx_id, envelope, payload = h.client.endorsed("Cast", h.ballot(i % 3, keys[i]))
                h.node.submit(envelope)
                results[i] = (tx_id, payload, h.node.commit_status(tx_id, timeout=30))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=vote, args=(list(range(k, 50, 10)),)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(results) == 50
    codes = [loc.code for _, _, loc in results.values()]
    assert codes.count(MVCC_READ_CONFLICT) == 0
    assert codes == [VALID] * 50
    blocks = {loc.block for _, _, loc in results.values()}
    assert min(blocks) >= height and len(blocks) >= 50 // BATCH.max_message_count
    for i, (tx_id, payload, _) in results.items():
        record = ballot_record(h.ledger, "mvote", h.spec, bytes(keys[i].verify_key).hex())
        assert record["tx"] == tx_id and record["tracker"] == payload["tracker"]


# --- the whole chain -----------------------------------------------------------------------------


def test_zz_chain_verifies_and_state_equals_a_replay(harness: Harness) -> None:
    """Runs last in this module (per worker): everything committed above verifies."""
    h = harness
    # Which tests ran before this one depends on how xdist split the module: cast one ballot
    # here so that the replay below always has one.
    cast = h.client.invoke("Cast", h.client.cast_args(h.spec, h.voter(), 0))
    assert cast.location.code == VALID
    chain = chain_of(h.ledger)
    report = check_chain(chain, h.material.genesis_hash)
    assert report.blocks == h.ledger.height > 2
    replayed = check_state_is_replay(h.ledger, "mvote")
    assert replayed >= 3  # at least the question's creation, opening and one ballot
