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
    parser.add_argument("--clients", type=int, default=int(os.environ.get("BENCH_CLIENTS", 32)))
    args = parser.parse_args()
    work = SignatureWork()
    node = run_node(args.ballots, args.clients)
    report(node, work)
    run_audit(node, work)
    try:
        from bench import crypto_bench
    except ImportError:
        return
    crypto_bench.main()


if __name__ == "__main__":
    main()
