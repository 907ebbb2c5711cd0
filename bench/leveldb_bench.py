"""LevelDB options A/B: the ledger's key layout and ballot-sized records under each option set.

The workload is the ballot path's own: per ballot, the committer writes two state keys (the
ballot record, ~700 bytes, and the participation) with their history entries and a tx-id entry,
in one write batch per block of 64-ballot transactions; an endorsement reads the voter's absent
ballot key (the double-vote rule: a miss) and a present key. Each option set loads the same
records into a fresh database and reads the same keys; every figure is a ratio to LevelDB's
defaults (snappy, no bloom filter, 8 MB cache) measured in the same run, rounds interleaved.

``python -m bench.leveldb_bench [--records N]``.

Times are CPU seconds of this process (``time.process_time``: LevelDB's compaction threads
included), not wall time: the machine is shared, and CPU time is what the figure is about.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plyvel

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._simulation import Version
from mvote.node.ledger import schema
from mvote.node.ledger.store import LEVELDB_OPTIONS

DEFAULTS: dict[str, Any] = {}
#: The option sets compared; "chosen" is what the ledger opens its LevelDB with.
OPTION_SETS: Mapping[str, Mapping[str, Any]] = {
    "default (snappy, no bloom, 8 MB cache)": DEFAULTS,
    "no compression": {"compression": None},
    "bloom filter 10 bits": {"bloom_filter_bits": 10},
    "64 MB cache": {"lru_cache_size": 64 << 20},
    "chosen (ledger)": LEVELDB_OPTIONS,
}
BALLOTS_PER_BLOCK = 512
NAMESPACE = "mvote"


@dataclass
class Figures:
    load_us: list[float]
    miss_us: list[float]
    hit_us: list[float]
    bytes_per_ballot: float = 0.0


def _record(voter: str, index: int) -> bytes:
    """A ballot record of the size and shape the contract writes (an open, credentialed one)."""
    return encoding.encode(
        {
            "ballot": {
                "channel": "mvote",
                "qid": "bench",
                "choices": [index % 5],
                "voter": voter,
                "type": "mvote.ballot.v1",
            },
            "sig": hashlib.sha512(voter.encode()).hexdigest(),
            "credential": {
                "body": {"voter": voter, "scope": "bench", "expires_at": 2_000_000_000},
                "sig": hashlib.sha512(b"c" + voter.encode()).hexdigest(),
            },
            "onsite": False,
            "shard": index % 16,
            "tracker": hashlib.sha256(voter.encode()).hexdigest(),
            "tx": hashlib.sha256(b"tx%d" % (index // 64)).hexdigest(),
            "at": 1_800_000_000,
        }
    )


def _voter(index: int) -> str:
    return hashlib.sha256(b"voter %d" % index).hexdigest()


def _ballot_state_key(voter: str, index: int) -> bytes:
    key = keys.ballot_key("bench", index % 16, voter)
    return schema.state_prefix(NAMESPACE) + schema.key_bytes(key)


def _load(db: Any, records: int) -> float:
    """Write ``records`` ballots as the committer does; seconds."""
    started = time.process_time()
    for first in range(0, records, BALLOTS_PER_BLOCK):
        with db.write_batch() as batch:
            for i in range(first, min(first + BALLOTS_PER_BLOCK, records)):
                voter = _voter(i)
                version = Version(i // BALLOTS_PER_BLOCK + 1, (i % BALLOTS_PER_BLOCK) // 64)
                value = _record(voter, i)
                part = encoding.encode({"qid": "bench", "tracker": voter, "at": 1_800_000_000})
                for key, raw in (
                    (keys.ballot_key("bench", i % 16, voter), value),
                    (keys.participation_key(voter, "bench"), part),
                ):
                    batch.put(
                        schema.state_prefix(NAMESPACE) + schema.key_bytes(key),
                        schema.encode_versioned(raw, version),
                    )
                    batch.put(
                        schema.history_key(NAMESPACE, key, version),
                        schema.encode_history(voter, raw),
                    )
                if i % 64 == 0:
                    batch.put(schema.tx_id_key(voter), schema.encode_tx(version.block, 0, 0))
    return time.process_time() - started


def _reads(db: Any, records: int, lookups: int, seed: int) -> tuple[float, float]:
    """Seconds for ``lookups`` misses (new voters' ballot keys) and as many hits."""
    rng = random.Random(seed)
    misses = [_ballot_state_key(_voter(records + rng.randrange(10**9)), i) for i in range(lookups)]
    present = [rng.randrange(records) for _ in range(lookups)]
    hits = [_ballot_state_key(_voter(i), i) for i in present]
    started = time.process_time()
    for key in misses:
        if db.get(key) is not None:
            raise RuntimeError("a new voter's key is present")
    miss = time.process_time() - started
    started = time.process_time()
    for key in hits:
        if db.get(key) is None:
            raise RuntimeError("a loaded key is absent")
    return miss, time.process_time() - started


def _disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def measure(records: int, lookups: int, rounds: int, out: Any = print) -> dict[str, Figures]:
    figures = {name: Figures([], [], []) for name in OPTION_SETS}
    root = Path(tempfile.mkdtemp(prefix="mvote-leveldb-"))
    try:
        order = list(OPTION_SETS.items())
        for r in range(rounds):
            random.Random(r).shuffle(order)  # no option set always runs first or last
            for name, options in order:
                path = root / f"{r}-{abs(hash(name))}"
                db = plyvel.DB(str(path), create_if_missing=True, **options)
                try:
                    load = _load(db, records)
                    db.compact_range()
                    miss, hit = _reads(db, records, lookups, seed=r)
                finally:
                    db.close()
                f = figures[name]
                f.load_us.append(load / records * 1e6)
                f.miss_us.append(miss / lookups * 1e6)
                f.hit_us.append(hit / lookups * 1e6)
                f.bytes_per_ballot = _disk(path) / records
                shutil.rmtree(path)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return figures


def report(figures: dict[str, Figures], records: int, out: Any = print) -> None:
    base = figures[next(iter(OPTION_SETS))]
    b_load, b_miss, b_hit = (
        statistics.median(x) for x in (base.load_us, base.miss_us, base.hit_us)
    )
    out(
        f"leveldb A/B: {records} ballots (2 state keys + history each), medians, ratio to the "
        "default in the same run"
    )
    out(
        f"  {'options':<40} {'write/ballot':>16} {'miss read':>16} {'hit read':>16} {'disk/ballot':>12}"
    )
    for name, f in figures.items():
        load, miss, hit = (statistics.median(x) for x in (f.load_us, f.miss_us, f.hit_us))
        out(
            f"  {name:<40} {load:>7.1f} us {load / b_load:>4.2f}x {miss:>7.1f} us "
            f"{miss / b_miss:>4.2f}x {hit:>7.1f} us {hit / b_hit:>4.2f}x "
            f"{f.bytes_per_ballot:>9.0f} B"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.leveldb_bench")
    parser.add_argument(
        "--records", type=int, default=int(os.environ.get("BENCH_LEVELDB", 100_000))
    )
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    report(measure(args.records, args.lookups, args.rounds), args.records)


if __name__ == "__main__":
    main()
