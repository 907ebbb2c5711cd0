"""Aggregation on the committed path: a shard larger than the batch (issue 10).

``Aggregate`` stops its range scan after ``limit`` ballots. Every transaction here is simulated
by the contract's :class:`TxSimulator`, recorded as the node's endorser records it
(:func:`mvote.node.rwset.tx_rwset_bytes`), parsed as the committer parses it
(:func:`mvote.verifier._envelope.unpack_rwset`) and committed only when the committer's MVCC rule
(:func:`mvote.verifier._mvcc.check_mvcc`) finds it VALID: the code the node runs, without the
node's I/O, so that 20,000 ballots stay quick.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from typing import Any

import nacl.signing
import pytest
import secret_env as se
from chaincode_env import CLOSES, T_VOTE, Env, entry_of
from hypothesis import example, given, settings
from hypothesis import strategies as st
from testkit import creator_bytes

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import DEFAULT_AGGREGATE_BATCH
from mvote.chaincode._records import BallotRecord, roster_batches
from mvote.chaincode._simulation import Executed, MemoryKeySpace, SerialLedger, Version
from mvote.chaincode._stub import partial_key_range
from mvote.node.rwset import tx_rwset_bytes
from mvote.verifier._envelope import unpack_rwset
from mvote.verifier._mvcc import VALID, BlockUpdates, check_mvcc

BALLOTS = 20_000
OPTIONS = ("alpha", "beta", "gamma")
AFTER = CLOSES + 1


class _CommittedView:
    """The committer's read-only view (``mvote.verifier._mvcc.WorldStateView``) of a ledger's state."""

    def __init__(self, state: MemoryKeySpace) -> None:
        self._state = state

    def version(self, namespace: str, key: str) -> tuple[int, int] | None:
        found = self._state.get(key)
        return None if found is None else (found[1].block, found[1].tx)

    def value(self, namespace: str, key: str) -> bytes | None:
        found = self._state.get(key)
        return None if found is None else found[0]

    def hashed_version(self, namespace: str, collection: str, key_hash: bytes) -> None:
        return None

    def range(self, namespace: str, start: str, end: str) -> list[tuple[str, tuple[int, int]]]:
        return [(k, (v.block, v.tx)) for k, _, v in self._state.range(start, end)]


def commit(ledger: SerialLedger, creator: bytes, function: str, *args: str) -> Executed:
    """Simulate, then commit through the committer's MVCC check (one transaction per block)."""
    executed = ledger.run(creator, function, *args, timestamp=AFTER, commit=False)
    assert executed.ok, executed.response.message
    rwset = unpack_rwset(tx_rwset_bytes({ledger.channel_id: executed.simulation}))
    code = check_mvcc(_CommittedView(ledger.state), BlockUpdates(), rwset)
    assert code == VALID, f"{function}{args}: the committer marks it {code}, not VALID"
    ledger.height += 1
    ledger.state.apply(executed.simulation.writes, Version(ledger.height, 0))
    return executed


def _voter(i: int) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(i.to_bytes(4, "big") * 8)


def _choice(i: int) -> int:
    return (i * 7 + i // 5) % len(OPTIONS)


@pytest.fixture(scope="module")
def closed() -> SerialLedger:
    """A CLOSED one-shard question holding BALLOTS ballots, cast through the contract."""
    env = Env(SerialLedger("mvote"), creator_bytes, _voter)
    members = [_voter(i) for i in range(BALLOTS)]
    env.ok("CreateRoster", encoding.encode({"rid": "r1", "title": "everyone"}))
    entries = sorted(entry_of(k) for k in members)
    for batch in roster_batches(entries):
        env.ok("AddRosterEntries", encoding.encode({"rid": "r1", "entries": batch}))
    env.ok("SealRoster", "r1")
    env.question(options=OPTIONS, shards=1)
    for i, key in enumerate(members):
        env.cast(key, "q1", (_choice(i),), at=T_VOTE)
    env.ok("CloseQuestion", "q1", at=CLOSES)
    return env.ledger


def _fresh(closed: SerialLedger) -> SerialLedger:
    ledger = SerialLedger(closed.channel_id)
    ledger.state, ledger.height = closed.state.copy(), closed.height
    return ledger


def _direct_count(ledger: SerialLedger) -> list[int]:
    """Every ballot of q1 read straight from state, counted here rather than by the contract."""
    start, end = partial_key_range(keys.BALLOT, ["q1"])
    counts = Counter(
        choice
        for _, raw, _ in ledger.state.range(start, end)
        for choice in BallotRecord.from_json(encoding.decode(raw, max_size=1 << 16)).ballot.choices
    )
    return [counts[i] for i in range(len(OPTIONS))]


def _aggregate_and_tally(ledger: SerialLedger, limits: Iterable[str | None]) -> tuple[int, Any]:
    """Aggregate the shard with the given limits (None: the default) until done, then tally."""
    admin = creator_bytes("Org1MSP", "admin")
    calls = 0
    for limit in limits:
        args = ("q1", "0") if limit is None else ("q1", "0", limit)
        calls += 1
        if commit(ledger, admin, "Aggregate", *args).payload()["done"]:
            break
    return calls, commit(ledger, admin, "Tally", "q1").payload()


def test_the_fixture_holds_every_ballot_in_one_shard(closed: SerialLedger) -> None:
    expected = Counter(_choice(i) for i in range(BALLOTS))
    assert _direct_count(closed) == [expected[i] for i in range(len(OPTIONS))]
    assert sum(expected.values()) == BALLOTS


def test_default_batch_aggregates_20000_ballots_then_tallies(closed: SerialLedger) -> None:
    ledger = _fresh(closed)
    calls, tally = _aggregate_and_tally(ledger, itertools.repeat(None))
    # 20 full batches, then one call that finds the shard exhausted.
    assert calls == BALLOTS // DEFAULT_AGGREGATE_BATCH + 1
    assert (tally["ballots"], tally["counts"]) == (BALLOTS, _direct_count(ledger))


@settings(max_examples=2, deadline=None, derandomize=True)
@given(batches=st.permutations(range(1, 8)))
@example(batches=[7])
def test_any_batch_sizes_1_to_7_aggregate_20000_ballots(
    closed: SerialLedger, batches: list[int]
) -> None:
    """Aggregate calls take their batch sizes, 1 to 7, in turn from the drawn order (every call
    resumes a scan that another batch size stopped): every call is VALID on the committed path,
    each reads its batch, and the tally equals a direct count. (One size throughout, 7 leaves a
    remainder; one run per size would cost 52,000 transactions.)"""
    ledger = _fresh(closed)
    calls, tally = _aggregate_and_tally(ledger, (str(b) for b in itertools.cycle(batches)))
    assert (tally["ballots"], tally["counts"]) == (BALLOTS, _direct_count(ledger))
    per_cycle = sum(batches)
    assert calls == (BALLOTS // per_cycle) * len(batches) + _calls_for(BALLOTS % per_cycle, batches)


def _calls_for(remaining: int, batches: list[int]) -> int:
    """Calls of one partial cycle to read ``remaining`` ballots, plus the call that finds the
    shard exhausted (a call reading fewer than its batch is that call)."""
    for calls, batch in enumerate(batches, 1):
        if remaining < batch:
            return calls
        remaining -= batch
    raise AssertionError("a partial cycle reads less than a full one")


def test_secret_aggregate_in_small_batches_is_valid_on_the_committed_path(env: Env) -> None:
    """Secret mode stops its scan the same way: each partial scan commits VALID."""
    voters = env.roster("r1", range(1, 7))
    se.ceremony(env)
    spec = se.secret_question(env)
    for i, voter in enumerate(voters):
        se.cast_secret(env, voter, spec, (i % 3,))
    env.ok("CloseQuestion", "q1", at=CLOSES)
    admin = creator_bytes("Org1MSP", "admin")
    steps = [commit(env.ledger, admin, "Aggregate", "q1", "0", "2").payload() for _ in range(4)]
    assert [(s["ballots"], s["done"]) for s in steps] == [
        (2, False),
        (4, False),
        (6, False),
        (6, True),
    ]
