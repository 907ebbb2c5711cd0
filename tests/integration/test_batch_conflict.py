"""Two batches carrying the same voter, in flight at once, on a real node: they conflict in MVCC
as a whole; the intake sends the other ballots of the losing batch again, and the voter's
ballot commits once.

The orderer cuts a block at 2 transactions (or after 2 s), so the two batches, each submitted
right after its endorsement, are ordered into one block before either commits: both were
endorsed against the state without the voter's ballot, and the second in the block conflicts
with the first. No sleep decides anything: the block is cut by count when the second arrives."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from grpc_support import Served, serve
from node_support import cast_request, open_question_spec, voter_key

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._errors import AlreadyVoted
from mvote.client._contract import Contract
from mvote.client._errors import CommitError
from mvote.client._receipt import issue_receipt
from mvote.client._voting import CastResult
from mvote.node.config import BatchSettings
from mvote.service._intake import Intake, IntakeSettings
from mvote.verifier._audit import audit_chain
from mvote.verifier._envelope import unpack_block
from mvote.verifier._receipt import verify_receipt

WAIT = 120.0
MVCC_READ_CONFLICT = 11


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(
        tmp_path_factory.mktemp("net") / "network",
        tls=True,
        batch=BatchSettings(max_message_count=2, timeout_ms=2000),
    )


def test_two_batches_with_one_voter_commit_the_voter_once_and_every_other_ballot(
    served: Served,
) -> None:
    spec = open_question_spec("race", time.time())
    channel = served.material.config.channel
    with served.gateway(served.signer(admin=True)) as gateway:
        admin = gateway.network("mvote").contract("mvote")
        admin.submit("CreateQuestion", [encoding.encode(spec)])
        admin.submit("OpenQuestion", ["race"])
    twice = voter_key(1)
    first = [cast_request(channel, spec, twice, 0)] + [
        cast_request(channel, spec, voter_key(i), 1) for i in (2, 3)
    ]
    second = [cast_request(channel, spec, twice, 2)] + [
        cast_request(channel, spec, voter_key(i), 1) for i in (4, 5)
    ]
    # One batcher, batches of 3 cut by count, both in flight at once.
    settings = IntakeSettings(batchers=1, max_ballots=3, max_wait=10.0, in_flight=2)
    with served.gateway() as gateway:
        contract: Contract = gateway.network("mvote").contract("mvote")
        with Intake(contract, settings) as intake:
            futures = [intake.submit(r) for r in first + second]
            outcomes: list[CastResult | AlreadyVoted] = []
            for future in futures:
                try:
                    outcomes.append(future.result(WAIT))
                except AlreadyVoted as exc:
                    outcomes.append(exc)
            resent, transactions = intake.resent_ballots, intake.transactions

    # The voter's two ballots: exactly one committed, the other refused as a second ballot.
    voter_outcomes = [outcomes[0], outcomes[3]]
    assert sum(isinstance(o, AlreadyVoted) for o in voter_outcomes) == 1
    committed = next(o for o in voter_outcomes if isinstance(o, CastResult))
    # Every other ballot committed, the losing batch's after being sent again.
    others = [o for o in outcomes[1:3] + outcomes[4:6] if isinstance(o, CastResult)]
    assert len(others) == 4
    assert resent == 3  # the losing batch's three accepted ballots went again
    assert transactions == 3

    # The chain: one batch invalid (MVCC), nothing of it written; the voter's record is the
    # committed ballot's.
    ledger = served.node.ledger
    blocks = [ledger.block(n) for n in range(ledger.height)]
    codes = [code for raw in blocks[1:] for code in unpack_block(raw).metadata_slot(2)]
    assert codes.count(MVCC_READ_CONFLICT) == 1
    voter = bytes(twice.verify_key).hex()
    shard = keys.shard_of(bytes.fromhex(voter), spec["shards"])
    with ledger.snapshot() as world:
        raw = world.value("mvote", keys.ballot_key("race", shard, voter))
    assert raw is not None
    assert encoding.decode(raw, max_size=1 << 20)["tracker"] == committed.tracker
    anchor = served.material.genesis_hash
    audit = audit_chain(blocks, anchor, workers=1)
    assert audit.verified, audit.findings[:3]
    for outcome in others:
        receipt = issue_receipt(
            ledger.block,
            tx_id=outcome.transaction_id,
            block_number=outcome.block_number,
            qid="race",
            tracker=outcome.tracker,
            ballot_index=outcome.ballot_index,
        )
        assert verify_receipt(receipt, anchor=anchor).verified


def test_a_ballot_is_sent_at_most_max_attempts_times(served: Served) -> None:
    """With one attempt allowed, the losing batch's ballots are not sent again: each fails with
    the CommitError of its MVCC-invalid transaction (the voter may submit again)."""
    spec = open_question_spec("race1", time.time())
    channel = served.material.config.channel
    with served.gateway(served.signer(admin=True)) as gateway:
        admin = gateway.network("mvote").contract("mvote")
        admin.submit("CreateQuestion", [encoding.encode(spec)])
        admin.submit("OpenQuestion", ["race1"])
    twice = voter_key(11)
    first = [cast_request(channel, spec, twice, 0), cast_request(channel, spec, voter_key(12), 1)]
    second = [cast_request(channel, spec, twice, 1), cast_request(channel, spec, voter_key(13), 1)]
    settings = IntakeSettings(batchers=1, max_ballots=2, max_wait=10.0, in_flight=2, max_attempts=1)
    with served.gateway() as gateway:
        contract: Contract = gateway.network("mvote").contract("mvote")
        with Intake(contract, settings) as intake:
            futures = [intake.submit(r) for r in first + second]
            outcomes: list[CastResult | CommitError] = []
            for future in futures:
                try:
                    outcomes.append(future.result(WAIT))
                except CommitError as exc:
                    outcomes.append(exc)
            assert intake.resent_ballots == 0
    lost = [o for o in outcomes if isinstance(o, CommitError)]
    assert len(lost) == 2
    assert {o.status_code for o in lost} == {MVCC_READ_CONFLICT}
    assert len({o.transaction_id for o in lost}) == 1  # the one losing batch, as a whole
