"""The newcomer's path of README.md, as real console commands in a fresh folder: network init,
node start (its own process, TLS), a roster question, a wallet, a vote and its receipt, the
receipt verified offline, tally, export and the audit of the whole chain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvote.chaincode import encoding
from mvote.cli.demo_cmd import verify_command

BIN = Path(sys.executable).parent


def _mvote() -> list[str]:
    script = BIN / "mvote"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mvote"]


class Shell:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {**os.environ, "MVOTE_PASSPHRASE": "a long passphrase"}

    def run(self, argv: list[str], code: int = 0) -> str:
        done = subprocess.run(
            argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == code, (
            f"{argv}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        )
        return done.stdout

    def mvote(self, *args: str, code: int = 0) -> str:
        return self.run([*_mvote(), *args], code)

    def verify(self, *args: str, code: int = 0) -> str:
        return self.run([*verify_command(), *args], code)


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    yield Shell(tmp_path)


def test_newcomer_path_end_to_end(shell: Shell) -> None:
    out = shell.mvote("network", "init", "network")
    anchor = out.split("genesis block hash ")[1].split()[0]
    assert len(anchor) == 64

    node = subprocess.Popen(
        [*_mvote(), "node", "start", "network", "--port", "0"],
        cwd=shell.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert node.stdout is not None
        listening = json.loads(node.stdout.readline())
        assert listening["event"] == "listening" and listening["tls"] is True
        shell.env["MVOTE_NODE"] = listening["grpc"]

        wallet = json.loads(shell.mvote("wallet", "create", "me.json", "--kdf", "min", "--json"))
        shell.mvote("roster", "create", "class-3b", "--title", "Class 3B")
        shell.mvote("roster", "add", "class-3b", "--key", wallet["public_key"])
        shell.mvote("roster", "seal", "class-3b")
        shell.mvote(
            "question", "create", "--qid", "trip", "--title", "Where should the class trip go?",
            "-o", "Gyeongju", "-o", "Jeju", "-o", "Sokcho", "--rule", "single",
            "--roster", "class-3b", "--open",
        )  # fmt: skip
        assert "Jeju" in shell.mvote("question", "show", "trip")

        voted = shell.mvote("vote", "trip", "--wallet", "me.json", "-c", "Jeju", "--yes")
        assert f"mvote-verify receipt receipt-trip.json --genesis-hash {anchor}" in voted
        # Offline: the receipt alone, from the genesis hash the city publishes.
        checked = shell.verify("receipt", "receipt-trip.json", "--genesis-hash", anchor)
        assert "\nVERIFIED offline: validity as recorded by the issuing peer" in checked
        assert "NOT VERIFIED" not in checked

        assert "outcome: Jeju" in shell.mvote("tally", "trip", "--close")
        assert "final tally" in shell.mvote("results", "trip")
        assert "trip" in shell.mvote("history", "--wallet", "me.json")

        exported = shell.mvote("export", "chain.bin")
        assert "exported" in exported
        audit = shell.verify("audit", "--chain", "chain.bin", "--genesis-hash", anchor)
        assert audit.rstrip().endswith("VERIFIED") and "NOT VERIFIED" not in audit
        counted = shell.verify(
            "receipt", "receipt-trip.json", "--chain", "chain.bin", "--genesis-hash", anchor
        )
        assert "counted" in counted and counted.rstrip().endswith("VERIFIED")

        # A tampered receipt fails, exit 1.
        receipt = json.loads((shell.cwd / "receipt-trip.json").read_text())
        receipt["tracker"] = "0" * 64
        (shell.cwd / "bad.json").write_bytes(encoding.encode(receipt))
        assert "NOT VERIFIED" in shell.verify(
            "receipt", "bad.json", "--genesis-hash", anchor, code=1
        )
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=30)
    assert node.returncode == 0
