"""The cost of verified reads (issue 12): what verifying the chain from the genesis hash adds to
a vote and to each trustee step, and what one read costs either way.

    .venv/bin/python -m bench.verified_bench [--voters N]

An embedded node in this process (TLS on 127.0.0.1), driven through the ``mvote`` commands as a
voter and a trustee run them (Typer's runner, in process). Every command that acts on chain
state first fetches every block over Deliver and verifies it (mvote.client._verified); the
figures split each command's time into that verification and the rest, so the ratio is the
added cost. Absolute times on a shared machine mean little; the ratios and the per-block slope
are what to compare.

For the choice between the two ways of verifying a read (docs/secret-ballots.md, "What a client
trusts"), it also times one read answered by endorsement: a read-only proposal that the node's
Gateway has endorsed by enough organisations for the endorsement policy (``Endorse`` of
``GetQuestion``), beside one ``Evaluate`` of it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mvote.cli import app
from mvote.cli._connect import connect
from mvote.node.config import BatchSettings
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.node.services.server import NodeServer

PASSPHRASE = "bench passphrase"


class Mvote:
    def __init__(self, material: NetworkMaterial, address: str) -> None:
        self.env = {
            "MVOTE_NETWORK": str(material.directory),
            "MVOTE_NODE": address,
            "MVOTE_PASSPHRASE": PASSPHRASE,
        }
        self.material = material
        self.address = address

    def __call__(self, *args: str | Path, code: int = 0) -> tuple[Any, float]:
        """Run a command; (its JSON output, seconds)."""
        start = time.perf_counter()
        result = CliRunner().invoke(app, [*map(str, args), "--json"], env=self.env)
        elapsed = time.perf_counter() - start
        if result.exit_code != code:
            raise RuntimeError(f"mvote {args}: exit {result.exit_code}\n{result.output}")
        return json.loads(result.stdout), elapsed

    def verify_seconds(self) -> tuple[float, int]:
        """One verified read's cost now: fetch every block and verify it (seconds, height)."""
        with connect(
            self.material.directory, self.address, None, None, default_role="client"
        ) as conn:
            start = time.perf_counter()
            chain = conn.contract.verified()
            return time.perf_counter() - start, chain.height

    def endorsed_seconds(self, qid: str, rounds: int = 20) -> tuple[float, float]:
        """Way (a): (seconds to verify the prefix that defines the chaincode, median seconds
        of one endorsed, checked read of the question)."""
        with connect(
            self.material.directory, self.address, None, None, default_role="client"
        ) as conn:
            start = time.perf_counter()
            records = conn.contract.records()
            setup = time.perf_counter() - start
            return setup, _median(lambda: records.question(qid), rounds)

    def read_seconds(self, qid: str, rounds: int = 20) -> tuple[float, float]:
        """Median seconds of one Evaluate and of one Endorse of GetQuestion(qid)."""
        with connect(
            self.material.directory, self.address, None, None, default_role="client"
        ) as conn:
            contract = conn.network().contract(conn.material.config.chaincode)
            evaluate = _median(lambda: contract.evaluate("GetQuestion", [qid]), rounds)
            endorse = _median(lambda: contract.new_proposal("GetQuestion", [qid]).endorse(), rounds)
        return evaluate, endorse


def _median(fn: Callable[[], object], rounds: int) -> float:
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _ceremony(mvote: Mvote, work: Path) -> dict[str, list[float]]:
    files = [work / f"t{i}.json" for i in (1, 2, 3)]
    regs = []
    for i, f in enumerate(files, 1):
        made, _ = mvote(
            "trustee", "keygen", f, "--ceremony", "board", "-n", "3", "-k", "2",
            "--index", str(i), "--kdf", "min",
        )  # fmt: skip
        regs.append(made["registration_file"])
    mvote("trustee", "ceremony", "create", "board", *regs, "--threshold", "2")
    steps: dict[str, list[float]] = {"deal": [], "check": [], "verify": []}
    for f in files:
        steps["verify"].append(mvote.verify_seconds()[0])
        steps["deal"].append(mvote("trustee", "ceremony", "deal", "--trustee", f)[1])
    for f in files:
        steps["verify"].append(mvote.verify_seconds()[0])
        steps["check"].append(mvote("trustee", "check", "--trustee", f)[1])
    return steps


def run(voters: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        material = init_network(
            work / "network", "cityhall,district,education", batch=BatchSettings(timeout_ms=20)
        )
        node = Node.open(work / "network")
        node.start()
        server = NodeServer(node, port=0, tls=True).start()
        try:
            _measure(Mvote(material, server.address), work, voters)
        finally:
            server.stop(grace=1)
            node.stop()


def _measure(mvote: Mvote, work: Path, voters: int) -> None:
    ceremony = _ceremony(mvote, work)
    wallets = [work / "wallets" / f"v{i}.json" for i in range(voters)]
    for w in wallets:
        mvote("wallet", "create", w, "--kdf", "min")
    mvote("roster", "create", "members", "--title", "Members")
    mvote("roster", "add", "members", "--wallets", work / "wallets")
    mvote("roster", "seal", "members")
    mvote(
        "question", "create", "--qid", "budget", "--title", "Adopt?", "-o", "Yes", "-o", "No",
        "--rule", "yesno", "--roster", "members", "--mode", "secret", "--election", "board",
        "--shards", "2", "--open",
    )  # fmt: skip
    votes, verifies, heights, endorsed = [], [], [], []
    for i, w in enumerate(wallets):
        seconds, height = mvote.verify_seconds()
        verifies.append(seconds)
        heights.append(height)
        endorsed.append(mvote.endorsed_seconds("budget", rounds=5))
        pick, receipt = "Yes" if i % 3 else "No", work / f"receipt-{i}.json"
        votes.append(
            mvote("vote", "budget", "--wallet", w, "-c", pick, "--receipt", receipt, "--yes")[1]
        )
    mvote("tally", "budget", "--close", code=1)
    decrypt_verify, decrypt_height = mvote.verify_seconds()
    decrypt = mvote("trustee", "decrypt", "budget", "--trustee", work / "t1.json")[1]
    evaluate, endorse = mvote.read_seconds("budget")
    _report(ceremony, votes, verifies, heights, (decrypt, decrypt_verify, decrypt_height))
    setup = statistics.median(e[0] for e in endorsed)
    read = statistics.median(e[1] for e in endorsed)
    vote = statistics.median(votes)
    print(
        f"way (a), endorsed reads: prefix verified in {setup * 1e3:.1f} ms, then "
        f"{read * 1e3:.1f} ms per checked read; a vote's two reads (question, ceremony) "
        f"{(setup + 2 * read) * 1e3:.1f} ms = {(setup + 2 * read) / vote:.0%} of the vote"
    )
    print(
        f"one read of GetQuestion: Evaluate {evaluate * 1e3:.1f} ms, Endorse {endorse * 1e3:.1f} ms"
    )
    slope = (verifies[-1] - verifies[0]) / max(1, heights[-1] - heights[0])
    print(f"one verified read from blocks grows by {slope * 1e3:.2f} ms per block")


def _report(
    ceremony: dict[str, list[float]],
    votes: list[float],
    verifies: list[float],
    heights: list[int],
    decrypt: tuple[float, float, int],
) -> None:
    vote, verify = statistics.median(votes), statistics.median(verifies)
    print(f"chain {heights[0]}..{heights[-1]} blocks while {len(votes)} voters voted")
    print(
        f"vote (mvote vote, secret yes/no, end to end, endorsed reads): median {vote * 1e3:.0f} "
        f"ms; way (b) would add a verified chain: median {verify * 1e3:.0f} ms "
        f"({verify / vote:.0%} of the vote)"
    )
    print(
        f"  way (b) at the first vote (chain {heights[0]} blocks): {verifies[0] / votes[0]:.0%} "
        f"of it; at the last (chain {heights[-1]} blocks): {verifies[-1] / votes[-1]:.0%}"
    )
    for step in ("deal", "check"):
        total = statistics.median(ceremony[step])
        print(f"trustee {step}: median {total * 1e3:.0f} ms end to end")
    ceremony_verify = statistics.median(ceremony["verify"])
    print(f"  the verified chain (way b) in each: median {ceremony_verify * 1e3:.0f} ms")
    seconds, verify_s, height = decrypt
    print(
        f"trustee decrypt (chain {height} blocks): {seconds * 1e3:.0f} ms end to end, the "
        f"verified chain (way b) in it: {verify_s * 1e3:.0f} ms "
        f"({verify_s / seconds:.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.verified_bench")
    parser.add_argument("--voters", type=int, default=30)
    run(parser.parse_args().voters)


if __name__ == "__main__":
    main()
