"""How Cast's cost grows with the state: a CastBatch endorsement on a ledger state that already
holds 10^5, 10^6 or 10^7 ballots.

A fast loader writes the ballot records straight into a LevelDB opened as the ledger opens its
own (``store.LEVELDB_OPTIONS``, the ledger's key layout, sorted keys in large write batches):
only the records a ballot's endorsement can read (the question, the roster entries, every loaded
voter's ballot record, ~900 bytes each); the history, participation and tx-id entries a real
ledger also keeps are not loaded (they are never read on the ballot path, and would triple the
loader's time). Then 64-ballot CastBatch transactions of new roster voters run through the
contract on a ``TxSimulator`` over a snapshot, exactly as an endorser runs them; the figure is
the contract's time per ballot, and its ratio to the smallest state in the same run.

``python -m bench.state_bench [--points 5,6,7]``.

Times are CPU seconds of this process (``time.process_time``: LevelDB's compaction threads
included), not wall time: the machine is shared, and CPU time is what the figure is about.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import plyvel

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import invoke
from mvote.chaincode._records import (
    Eligibility,
    Question,
    QuestionSpec,
    Schedule,
    SingleChoice,
    Transition,
)
from mvote.chaincode._simulation import TxContext, TxSimulator, Version
from mvote.chaincode._stub import Timestamp
from mvote.client._ballot import prepare_ballot
from mvote.node.ledger import schema
from mvote.node.ledger.store import LEVELDB_OPTIONS, WorldState

NAMESPACE = "mvote"
QID = "state"
RID = "state-roster"
SHARDS = 16
BATCH = 64
NOW = 1_800_000_000
LOAD_BATCH = 20_000


def _spec() -> QuestionSpec:
    return QuestionSpec(
        qid=QID,
        title="State-size question",
        description="",
        options=("a", "b", "c", "d", "e"),
        rule=SingleChoice(),
        eligibility=Eligibility.of_roster(RID),
        schedule=Schedule(NOW - 3600, NOW + 3600),
        shards=SHARDS,
    )


def _state_key(key: str) -> bytes:
    return schema.state_prefix(NAMESPACE) + schema.key_bytes(key)


def _loaded_items(count: int) -> Iterator[tuple[bytes, bytes]]:
    """``count`` ballot records in key order (the fast loader's input: sorted keys are LevelDB's
    cheapest bulk load). Their voters are numbers written as 64 hex digits, spread over the
    16 shards and evenly over the key space (never verified, only there to be passed over: the measured voters' keys fall
    between them, as a new voter's key falls between the committed ones)."""
    per_shard = -(-count // SHARDS)
    step = (1 << 256) // per_shard  # voters spread evenly over the key space, ascending
    written = 0
    for shard in range(SHARDS):
        for j in range(min(per_shard, count - written)):
            i = written + j
            voter = f"{j * step + shard:064x}"
            version = Version(2 + i // 4096, (i // BATCH) % 64)
            key = keys.ballot_key(QID, shard, voter)
            yield _state_key(key), schema.encode_versioned(_loaded_record(voter, i, shard), version)
        written += min(per_shard, count - written)


def _loaded_record(voter: str, i: int, shard: int) -> bytes:
    """A ballot record of the contract's shape (an open ballot on a roster question), in
    canonical JSON. The loader's fast path: formatted rather than encoded (the keys in RFC 8785
    order, only hex, digits and fixed ASCII), and held equal to ``encoding.encode`` of the same
    record by :func:`_check_fast_record` before each load."""
    return _RECORD % (
        i % 5,
        QID.encode(),
        voter.encode(),
        shard,
        (voter * 2).encode(),
        voter.encode(),
        b"%064x" % (i // BATCH),
    )


_RECORD = (
    b'{"at":%d,"ballot":{"channel":"mvote","choices":[%%d],"qid":"%%s","type":"mvote.ballot.v1",'
    b'"voter":"%%s"},"credential":null,"onsite":false,"shard":%%d,"sig":"%%s","tracker":"%%s",'
    b'"tx":"%%s"}' % (NOW - 60)
)


def _check_fast_record() -> None:
    voter, i, shard = "ab" * 32, 70, 3
    expected = encoding.encode(
        {
            "ballot": {
                "channel": "mvote",
                "qid": QID,
                "choices": [i % 5],
                "voter": voter,
                "type": "mvote.ballot.v1",
            },
            "sig": voter * 2,
            "credential": None,
            "onsite": False,
            "shard": shard,
            "tracker": voter,
            "tx": "%064x" % (i // BATCH),
            "at": NOW - 60,
        }
    )
    if _loaded_record(voter, i, shard) != expected:
        raise RuntimeError("the loader's fast record differs from its canonical encoding")


def load(path: Path, count: int, voters: list[nacl.signing.SigningKey]) -> float:
    """A state with the open question, the roster (``voters`` on it) and ``count`` ballot
    records; returns the loader's seconds."""
    _check_fast_record()
    started = time.process_time()
    db = plyvel.DB(str(path), create_if_missing=True, **LEVELDB_OPTIONS)
    try:
        question = Question(
            _spec(),
            "CityhallMSP",
            "OPEN",
            len(voters) + count,
            (
                Transition("DRAFT", "0" * 64, NOW - 7200),
                Transition("OPEN", "1" * 64, NOW - 7000),
            ),
        )
        with db.write_batch() as batch:
            batch.put(schema.MARKER, schema.encode_marker(schema.Marker(2, 0, b"")))
            batch.put(
                _state_key(keys.question_key(QID)),
                schema.encode_versioned(encoding.encode(question.to_json()), Version(1, 0)),
            )
            for v in voters:
                entry = keys.voter_hash(bytes(v.verify_key)).hex()
                batch.put(
                    _state_key(keys.roster_entry_key(RID, entry)),
                    schema.encode_versioned(encoding.encode({"tx": "2" * 64}), Version(1, 1)),
                )
        items = _loaded_items(count)
        while True:
            with db.write_batch() as batch:
                n = 0
                for key, value in items:
                    batch.put(key, value)
                    n += 1
                    if n == LOAD_BATCH:
                        break
            if n < LOAD_BATCH:
                break
        db.compact_range()
    finally:
        db.close()
    return time.process_time() - started


def cast_cost(db: Any, voters: list[nacl.signing.SigningKey], creator: bytes) -> list[float]:
    """Seconds per ballot of each 64-ballot CastBatch of ``voters``, run by the contract on a
    snapshot of the open LevelDB ``db`` (every ballot accepted: checked). The database stays
    open from one call to the next, as the node keeps its own: its table cache is warm."""
    spec = _spec()
    requests = [
        encoding.encode(
            prepare_ballot(v, channel="mvote", question=spec, choices=[i % 5]).to_json()
        )
        for i, v in enumerate(voters)
    ]
    costs = []
    for first in range(0, len(requests), BATCH):
        args = [b"CastBatch", *requests[first : first + BATCH]]
        snapshot = db.snapshot()
        world = WorldState(snapshot, snapshot.close)
        context = TxContext(f"{first:064x}", "mvote", Timestamp(NOW, 0), creator, args)
        started = time.process_time()
        response = invoke(TxSimulator(world.namespace(NAMESPACE), context))
        elapsed = time.process_time() - started
        world.close()
        result = encoding.decode(response.payload, max_size=1 << 24)
        if not response.ok or result["accepted"] != len(args) - 1:
            raise RuntimeError(f"a ballot was refused: {response.message or result}")
        costs.append(elapsed / (len(args) - 1))
    return costs


def _disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def _voters(count: int) -> list[nacl.signing.SigningKey]:
    """The new voters of the measurement, on every state's roster; each 64-voter block is cast
    once, on one state, so no memo of the contract (signature checks, request parses) carries
    over from one measurement to another."""
    return [
        nacl.signing.SigningKey(hashlib.sha256(b"state voter %d" % i).digest())
        for i in range(count)
    ]


def run(points: list[int], creator: bytes, out: Any = print, rounds: int = 32) -> None:
    """Load one state per point, then measure in ``rounds`` rounds, each casting one 64-ballot
    batch on every state in a rotating order: a drift of the machine's load during the run
    falls on every point alike."""
    voters = _voters(BATCH * (1 + len(points) + rounds * len(points)))
    out(
        f"state size: CastBatch ({BATCH} ballots, roster eligibility) on a LevelDB state "
        f"holding N ballot records (loaded directly, {', '.join(f'10^{p}' for p in points)}); "
        f"{rounds} interleaved rounds, CPU time of the contract per ballot"
    )
    root = Path(tempfile.mkdtemp(prefix="mvote-state-"))
    try:
        paths, loaded = {}, {}
        for power in points:
            paths[power] = root / f"index-{power}"
            loaded[power] = load(paths[power], 10**power, voters)
        dbs = {p: plyvel.DB(str(paths[p]), **LEVELDB_OPTIONS) for p in points}
        try:
            # One batch per state warms the process and each database: not counted.
            for k, power in enumerate(points):
                cast_cost(dbs[power], voters[k * BATCH : (k + 1) * BATCH], creator)
            costs: dict[int, list[float]] = {power: [] for power in points}
            for r in range(rounds):
                for k in range(len(points)):
                    power = points[(r + k) % len(points)]
                    block = len(points) + r * len(points) + k
                    batch = voters[block * BATCH : (block + 1) * BATCH]
                    costs[power] += cast_cost(dbs[power], batch, creator)
        finally:
            for db in dbs.values():
                db.close()
        base = statistics.median(costs[points[0]])
        for power in points:
            cost = statistics.median(costs[power])
            disk = _disk(paths[power])
            out(
                f"  10^{power} ballots in state: Cast {cost * 1e6:>7.1f} us/ballot, "
                f"{cost / base:>4.2f}x the 10^{points[0]} figure; state {disk / 10**power:>5.0f} "
                f"B/ballot on disk; loaded in {loaded[power]:.0f} s CPU"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.state_bench")
    parser.add_argument("--points", default=os.environ.get("BENCH_STATE_POINTS", "5,6,7"))
    args = parser.parse_args()
    # Cast reads no creator (any integrator may cast): an empty one changes nothing measured.
    run([int(p) for p in args.points.split(",")], b"")


if __name__ == "__main__":
    main()
