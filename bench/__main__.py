"""``make bench``: every benchmark, each figure beside a limit measured in the same run."""

from __future__ import annotations

import argparse
import os

from bench.audit_bench import run_audit
from bench.common import SignatureWork
from bench.node_bench import report, run_node


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--ballots", type=int, default=int(os.environ.get("BENCH_BALLOTS", 3000)))
    # Enough concurrent clients that the 250 ms batch timeout is not what limits a closed loop
    # (Little's law: 300 ballots/s at ~0.4 s submit-to-commit needs 120 ballots in flight).
    parser.add_argument("--clients", type=int, default=int(os.environ.get("BENCH_CLIENTS", 128)))
    parser.add_argument(
        "--client-processes", type=int, default=int(os.environ.get("BENCH_CLIENT_PROCESSES", 2))
    )
    args = parser.parse_args()
    work = SignatureWork()
    node = run_node(args.ballots, args.clients, processes=args.client_processes)
    report(node, work)
    run_audit(node, work)
    try:
        from bench import crypto_bench, verified_bench
    except ImportError:
        return
    crypto_bench.main()
    print("\nverified reads (issue 12): what they add to a vote and to each trustee step")
    verified_bench.run(30)


if __name__ == "__main__":
    main()
