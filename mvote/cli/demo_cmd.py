"""``mvote demo``: the whole story on the embedded node, through the Fabric Gateway, then the
voter's and the auditor's checks with ``mvote-verify`` on the chain it made."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from mvote import demo as scenario
from mvote.chaincode._records import Plurality, YesNoOutcome
from mvote.client._blocks import fetch_blocks
from mvote.client._channel import GatewayChannel
from mvote.client._identity import load_signer
from mvote.client._receipt import issue_receipt
from mvote.node.config import BatchSettings
from mvote.node.material import init_network
from mvote.verifier._chainfile import write_chain

DEMO_ORGS = ("cityhall", "district", "education")
#: The demo's block cut timeout: the operators' steps are sequential, each waits for its block.
DEMO_BATCH_TIMEOUT_MS = 50
STEPS = 10


def verify_command() -> list[str]:
    """``mvote-verify`` as installed beside this Python (else the module)."""
    script = Path(sys.executable).parent / "mvote-verify"
    if script.is_file():
        return [str(script)]
    found = shutil.which("mvote-verify")
    return [found] if found else [sys.executable, "-m", "mvote.verifier._cli"]


def _run_verify(args: list[str], echo: scenario.Printer) -> tuple[int, str]:
    command = [*verify_command(), *args]
    shown = " ".join(["mvote-verify", *args])
    echo(f"      $ {shown}")
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    passed = 0
    for line in (done.stdout + done.stderr).rstrip().splitlines():
        # The receipt check lists every check it made: show the count, and anything not ok.
        if line.startswith("ok "):
            passed += 1
            continue
        if passed and not line.startswith("ok "):
            echo(f"        ({passed} checks ok)")
            passed = 0
        echo(f"        {line}")
    verdict = "VERIFIED" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
    return done.returncode, verdict


def _verdict(t: scenario.Tally) -> str:
    """A tally's outcome in a few words: passed or not, or the winning options."""
    match t.result.outcome:
        case YesNoOutcome(passed=passed):
            return "PASSED" if passed else "NOT PASSED"
        case Plurality(winners=winners):
            return ", ".join(t.question.options[i] for i in winners) or "none"


def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to create the demo network (default: a temporary folder)."
        ),
    ] = None,
    voters: Annotated[
        int,
        typer.Option(
            min=12, max=100_000, help="How many citizens vote (plus students, residents)."
        ),
    ] = 240,
    seed: Annotated[int, typer.Option(help="Seed of the simulated voters' choices.")] = 7,
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="Voters casting at the same time.")
    ] = 32,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Progress on stderr; a JSON summary on stdout."),
    ] = False,
) -> None:
    """Run the whole story on the embedded node: three institutions, three questions, voters,
    refusals, tallies; then export the chain, verify a receipt and audit the chain."""
    # Imported here: `mvote --help` should not load the node.
    from mvote.node.runtime import Node
    from mvote.node.services.server import NodeServer

    def echo(text: str) -> None:
        typer.echo(text, err=as_json)

    with tempfile.TemporaryDirectory(prefix="mvote-demo-") as scratch:
        root = directory or Path(scratch)
        started = time.perf_counter()
        net_dir = root / "network"
        network = init_network(
            net_dir, DEMO_ORGS, batch=BatchSettings(timeout_ms=DEMO_BATCH_TIMEOUT_MS)
        )
        anchor = network.genesis_hash.hex()
        echo(
            f"[1/{STEPS}] network init: {', '.join(o.msp_id for o in network.peer_orgs)} and "
            f"{network.orderer_org.msp_id} in {net_dir}"
        )
        echo(f"      channel {network.config.channel}, genesis block hash {anchor}")

        node = Node.open(net_dir)
        node.start()
        server = NodeServer(node, port=0, tls=True).start()
        echo(
            f"[2/{STEPS}] node start: Gateway, Deliver and AtomicBroadcast on {server.address} "
            f"(TLS), blocks cut every {DEMO_BATCH_TIMEOUT_MS} ms, MAJORITY endorsement"
        )
        try:
            signers = {
                name: load_signer(network.org(name).admin.msp_dir, network.org(name).admin.msp_id)
                for name in DEMO_ORGS
            }
            kiosk = network.org("cityhall").client
            client = load_signer(kiosk.msp_dir, kiosk.msp_id)
            operators = scenario.Operators(
                cityhall=signers["cityhall"].creator,
                district=signers["district"].creator,
                education=signers["education"].creator,
                client=client.creator,
            )
            with GatewayChannel(
                server.address,
                [*signers.values(), client],
                channel=network.config.channel,
                chaincode=network.config.chaincode,
                tls_root_certificates=server.tls_files.ca.read_bytes(),
            ) as channel:
                story = scenario.run(
                    channel,
                    operators,
                    voters=voters,
                    seed=seed,
                    concurrency=concurrency,
                    out=echo,
                    first_step=3,
                    total_steps=STEPS,
                )
                chain = fetch_blocks(
                    channel.gateway(client.creator).network(network.config.channel)
                )
                blocks_committed = dict(channel.blocks)
        finally:
            server.stop(grace=2)
            height = node.ledger.height
            node.stop()

        chain_file = root / "chain.bin"
        write_chain(chain_file, chain)
        transactions = len(blocks_committed)
        echo(
            f"[9/{STEPS}] export: {len(chain)} blocks ({transactions} transactions committed "
            f"through the Gateway) pulled over Deliver into {chain_file}"
        )

        ballot = random.Random(seed).choice(story.ballots)
        receipt = issue_receipt(
            lambda n: chain[n],
            tx_id=ballot["tx"],
            block_number=blocks_committed[ballot["tx"]],
            qid=ballot["qid"],
            tracker=ballot["tracker"],
            chaincode=network.config.chaincode,
        )
        receipt_file = root / "receipt.json"
        receipt_file.write_bytes(receipt.to_bytes())
        echo(
            f"[10/{STEPS}] verify: a receipt for one voter's ballot on {receipt.qid} "
            f"(block {receipt.block}, tracker {receipt.tracker[:16]}...), checked offline "
            "from its own proof blocks, then against the exported chain; then the whole chain "
            "audited"
        )
        offline = ["receipt", str(receipt_file), "--genesis-hash", anchor]
        offline_code, _ = _run_verify(offline, echo)
        chain_code, receipt_verdict = _run_verify([*offline, "--chain", str(chain_file)], echo)
        receipt_code = offline_code or chain_code
        audit_code, audit_verdict = _run_verify(
            ["audit", "--chain", str(chain_file), "--genesis-hash", anchor], echo
        )

        elapsed = time.perf_counter() - started
        echo("\nsummary")
        echo(f"  network      3 organisations + orderer, channel {network.config.channel}")
        echo(f"  trust anchor genesis block hash {anchor}")
        echo(
            f"  ledger       {height} blocks; {transactions} transactions through the Gateway, "
            f"{len(story.ballots)} of them ballots"
        )
        for t in story.tallies:
            echo(f"  {t.question.qid:<20} {t.result.ballots:>4} ballots  {_verdict(t)}")
        echo(f"  receipt      {receipt_verdict}  (mvote-verify receipt)")
        echo(f"  audit        {audit_verdict}  (mvote-verify audit)")
        echo(f"  time         {elapsed:.1f} s; node stopped")
        if directory is not None:
            echo(f"  files        {net_dir}, {chain_file}, {receipt_file}")
        if as_json:
            summary = {
                "network": str(net_dir) if directory is not None else None,
                "channel": network.config.channel,
                "genesis_hash": anchor,
                "blocks": height,
                "transactions": transactions,
                "ballots": len(story.ballots),
                "tallies": [t.result.to_json() for t in story.tallies],
                "receipt": {
                    "qid": receipt.qid,
                    "tx_id": receipt.tx_id,
                    "verified": not receipt_code,
                },
                "audit": {"verified": not audit_code},
                "seconds": round(elapsed, 1),
            }
            typer.echo(json.dumps(summary, indent=2))
        if receipt_code or audit_code:
            raise typer.Exit(1)
