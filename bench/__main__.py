"""``make bench``: every benchmark, each figure beside a limit measured in the same run."""

from __future__ import annotations

import argparse
import os

from bench.audit_bench import run_audit
from bench.batch_bench import report as batch_report
from bench.batch_bench import run_batched
from bench.common import SignatureWork
from bench.node_bench import report, run_node
from mvote.service._intake import IntakeSettings


def _env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--ballots", type=int, default=_env("BENCH_BALLOTS", 3000))
    # Enough concurrent clients that the 250 ms batch timeout is not what limits a closed loop
    # (Little's law: 300 ballots/s at ~0.4 s submit-to-commit needs 120 ballots in flight).
    parser.add_argument("--clients", type=int, default=_env("BENCH_CLIENTS", 128))
    parser.add_argument("--client-processes", type=int, default=_env("BENCH_CLIENT_PROCESSES", 2))
    parser.add_argument("--batch-ballots", type=int, default=_env("BENCH_BATCH_BALLOTS", 20000))
    parser.add_argument("--batch-size", type=int, default=_env("BENCH_BATCH_SIZE", 256))
    parser.add_argument("--batchers", type=int, default=_env("BENCH_BATCHERS", 2))
    parser.add_argument("--in-flight", type=int, default=_env("BENCH_IN_FLIGHT", 4))
    parser.add_argument(
        "--connections",
        type=int,
        default=_env("BENCH_CONNECTIONS", 16),
        help="Gateway connections the batched run's intake spreads its batches over",
    )
    parser.add_argument(
        "--gateway-processes",
        type=int,
        default=int(os.environ["BENCH_GATEWAY_PROCESSES"])
        if "BENCH_GATEWAY_PROCESSES" in os.environ
        else None,
        help="the node's gateway processes in the batched run (default: the node's default)",
    )
    parser.add_argument(
        "--state-points",
        default=os.environ.get("BENCH_STATE_POINTS", "5,6,7"),
        help="powers of ten of the state-size curve ('' skips it)",
    )
    parser.add_argument(
        "--leveldb-records",
        type=int,
        default=_env("BENCH_LEVELDB", 50_000),
        help="records of the LevelDB options A/B (0 skips it)",
    )
    parser.add_argument(
        "--only",
        choices=("batched", "node", "audit", "rest", "state", "leveldb", "crypto", "verified"),
        action="append",
        help="run only these parts (repeatable)",
    )
    args = parser.parse_args()
    parts = set(
        args.only or ("batched", "node", "audit", "rest", "state", "leveldb", "crypto", "verified")
    )
    work = SignatureWork()
    if "batched" in parts:
        settings = IntakeSettings(
            batchers=args.batchers, max_ballots=args.batch_size, in_flight=args.in_flight
        )
        batch_report(
            run_batched(
                args.batch_ballots,
                settings,
                gateway_processes=args.gateway_processes,
                connections=args.connections,
            ),
            work,
        )
    if parts & {"node", "audit"}:
        node = run_node(args.ballots, args.clients, processes=args.client_processes)
        report(node, work)
        if "audit" in parts:
            run_audit(node, work)
    if "state" in parts and args.state_points:
        from bench import state_bench

        state_bench.run([int(p) for p in args.state_points.split(",")], b"")
    if "leveldb" in parts and args.leveldb_records:
        from bench import leveldb_bench

        leveldb_bench.report(
            leveldb_bench.measure(args.leveldb_records, 20_000, 3), args.leveldb_records
        )
    if "rest" in parts:
        from bench import rest_bench

        rest_ballots = min(args.ballots, 400)
        rest_bench.report(rest_bench.run(rest_ballots, 32), rest_ballots, 32)
    if "crypto" in parts:
        try:
            from bench import crypto_bench
        except ImportError:
            return
        crypto_bench.main()
    if "verified" in parts:
        from bench import verified_bench

        print("\nverified reads (issue 12): what they add to a vote and to each trustee step")
        verified_bench.run(30)


if __name__ == "__main__":
    main()
