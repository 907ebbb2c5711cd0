"""``mvote node start`` as a real process with its gateway processes, for the process tests
(test_gateway_kill.py, test_gateway_pipes.py): its JSON events read from stdout, its children
found in /proc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

START_WAIT = 60.0


class Served:
    """``mvote node start`` on the network in ``directory``, with its "listening" event read."""

    def __init__(self, directory: Path, log: Path, *args: str) -> None:
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "mvote", "node", "start", str(directory)),
                *("--port", "0", "--log-level", "warning", *args),
            ],
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        self.stdout: IO[bytes] = self.process.stdout
        self.listening = self.event("listening")
        self.gateways = gateway_pids(self.process.pid)

    def event(self, name: str) -> dict[str, Any]:
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            line = self.stdout.readline()
            if not line:
                break
            event: dict[str, Any] = json.loads(line)
            if event["event"] == name:
                return event
        raise AssertionError(f"no {name} event from the node; its log: {self._log.name}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.stdout.close()
        self._log.close()


def gateway_pids(pid: int) -> list[int]:
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"mvote.node.serving" in cmdline:
                found.append(int(child))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    """Wait (bounded) until none of ``pids`` runs; those still running."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]
