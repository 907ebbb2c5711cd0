"""Helpers of the ``mvote`` command tests: one real node per module, the CLI in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from mvote.cli import app
from mvote.node.config import BatchSettings
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.node.services.server import NodeServer

ORGS = "cityhall,district,education"
PASSPHRASE = "correct horse battery staple"


@dataclass
class Cli:
    """``mvote`` against one running node, through Typer's CliRunner."""

    material: NetworkMaterial
    address: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str | Path, code: int = 0, input: str | None = None, **env: str
    ) -> Result:
        runner = CliRunner()
        result = runner.invoke(
            app,
            [str(a) for a in args],
            input=input,
            env={
                "MVOTE_NETWORK": str(self.material.directory),
                "MVOTE_NODE": self.address,
                "MVOTE_PASSPHRASE": PASSPHRASE,
                **self.env,
                **env,
            },
            catch_exceptions=False,
        )
        assert result.exit_code == code, (
            f"mvote {' '.join(map(str, args))}: exit {result.exit_code}, expected {code}\n"
            f"{result.output}"
        )
        return result

    def json(self, *args: str | Path, code: int = 0, **env: str) -> Any:
        return json.loads(self(*args, "--json", code=code, **env).stdout)


def serve(directory: Path, *, tls: bool = True) -> Iterator[tuple[NetworkMaterial, NodeServer]]:
    material = init_network(directory, ORGS, batch=BatchSettings(timeout_ms=20))
    node = Node.open(directory)
    node.start()
    server = NodeServer(node, port=0, tls=tls).start()
    try:
        yield material, server
    finally:
        server.stop(grace=1)
        node.stop()
