"""Audit throughput and receipt verification latency, on the chain the node benchmark made.

Audit: ``mvote-verify audit`` work (verify_chain + replay) in transactions/s, beside the
crypto-bound limit of the same checks (per ballot transaction: 3 ECDSA verifies for creator and
two endorsements, 1 Ed25519 verify in replay). Receipt: ``mvote-verify receipt`` as a voter runs
it, a new process from a cold start, median of 3.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import SignatureWork, line, median, per_second
from bench.node_bench import NodeRun
from mvote.client._receipt import issue_receipt
from mvote.node.ledger.store import Ledger
from mvote.verifier._audit import audit_chain
from mvote.verifier._chainfile import write_chain

FLOOR = 1000.0


def run_audit(node: NodeRun, work: SignatureWork, out: object = print) -> list[str]:
    say = out if callable(out) else print
    with Ledger.open(node.directory / "net" / "ledger") as ledger:
        blocks = [ledger.block(i) for i in range(ledger.height)]
        tx_id, block, tracker = node.receipts[len(node.receipts) // 2]
        receipt = issue_receipt(
            ledger.block, tx_id=tx_id, block_number=block, qid="bench", tracker=tracker
        )
    started = time.perf_counter()
    audit = audit_chain(blocks, node.network.genesis_hash)
    seconds = time.perf_counter() - started
    if not audit.verified:
        raise RuntimeError(f"the benchmark chain does not audit: {audit.findings[:3]}")
    rate = audit.transactions / seconds
    limit = 1 / (3 / per_second(work.ecdsa_verify) + 1 / per_second(work.ed25519_verify))

    receipt_file = node.directory / "receipt.json"
    receipt_file.write_bytes(receipt.to_bytes())
    cold = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mvote.verifier._cli",
                "receipt",
                str(receipt_file),
                "--genesis-hash",
                node.network.genesis_hash.hex(),
            ],
            check=True,
            capture_output=True,
        )
        cold.append(time.perf_counter() - started)
    startup = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        startup.append(time.perf_counter() - started)
    write_chain(node.directory / "chain.bin", blocks)
    lines = [
        line(
            f"audit transactions/s ({audit.transactions} txs, {len(blocks)} blocks)",
            rate,
            "/s",
            limit,
            FLOOR,
        ),
        line("receipt verification, cold start", median(cold) * 1000, "ms"),
        line("  of which a bare Python start", median(startup) * 1000, "ms"),
    ]
    for text in lines:
        say(text)
    return lines
