"""Helpers of the ``mvote`` command tests: one real node per module, the CLI in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from mvote.cli import app
from mvote.client._identity import load_signer
from mvote.node.config import BatchSettings
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.node.services.server import NodeServer
from mvote.service._grpc import IntegratorTrust, ServerTls
from mvote.service._profile import Endpoint, Profile
from mvote.service._serve import Running, start_service

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


def serve_profile(cli: Cli, server_address: str, base: Path, *, postings: bool) -> ProfileService:
    """City hall's voting service in front of the node at ``server_address`` (its integrators'
    address and a public one, both on ephemeral ports), and the public profile naming it
    (written as ``mvote network profile`` does, with the service's address), at
    ``base/profile.json``. With ``postings`` the service relays trustee postings as city hall's
    admin. Stop it with ``.running.stop()``."""
    written = base / "published.json"
    cli("network", "profile", cli.material.directory, "--out", written)
    published = Profile.load(written)
    # The node listens where its server was bound (port 0): the profile names that address.
    peers = tuple(Endpoint(server_address, p.tls_ca, p.msp_id) for p in published.peers)
    org = cli.material.org("cityhall")
    running = start_service(
        Profile(published.channel, published.chaincode, published.genesis_hash, None, peers),
        load_signer(org.client.msp_dir, org.msp_id),
        tls=ServerTls(org.node.tls_cert_path.read_bytes(), org.node.tls_key_path.read_bytes()),
        trust=IntegratorTrust({org.msp_id: org.tlsca_cert_path.read_bytes()}),
        admin=load_signer(org.admin.msp_dir, org.msp_id) if postings else None,
        public_port=0,
    )
    assert running.public is not None
    service = Endpoint(running.public.address, org.tlsca_cert_path.read_bytes())
    profile = base / "profile.json"
    profile.write_bytes(
        Profile(
            published.channel, published.chaincode, published.genesis_hash, service, peers
        ).to_bytes()
    )
    return ProfileService(running, profile)


@dataclass
class ProfileService:
    running: Running
    profile: Path
