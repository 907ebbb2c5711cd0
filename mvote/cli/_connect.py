"""The node connection of the operator and voter commands: a network folder, an identity, a
Gateway to the node (TLS with the network's TLS CA unless ``--plaintext``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from mvote.cli._common import fail, remote
from mvote.client.blocks import BlockFetcher, fetch_blocks
from mvote.client.channel import Committed, GatewayChannel
from mvote.client.identity import Signer, load_signer
from mvote.client.network import Network
from mvote.node.material import NetworkMaterial, OrgMaterial, load_network

Role = Literal["admin", "client"]

IdentityOpt = Annotated[
    str | None,
    typer.Option(
        "--identity",
        help="admin (Admin@<org>) or client (User1@<org>); each command has its natural default.",
    ),
]


@dataclass
class Connection:
    material: NetworkMaterial
    org: OrgMaterial
    signer: Signer
    channel: GatewayChannel
    address: str

    @property
    def creator(self) -> bytes:
        return self.signer.creator

    @property
    def channel_name(self) -> str:
        return self.material.config.channel

    def submit(self, function: str, *args: bytes | str) -> Committed:
        with remote():
            return self.channel.transact(self.creator, function, *args)

    def evaluate(self, function: str, *args: bytes | str) -> Any:
        with remote():
            return self.channel.evaluate(self.creator, function, *args)

    def network(self) -> Network:
        return self.channel.gateway(self.creator).network(self.channel_name)

    def committed_block(self, transaction_id: str) -> int:
        """The block of a transaction the ledger already holds (the node answers at once)."""
        with remote():
            return self.network().new_commit(transaction_id).status().block_number

    def blocks(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        with remote():
            return fetch_blocks(self.network(), start, stop)

    def block_source(self) -> BlockFetcher:
        return BlockFetcher(self.network())

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_material(directory: Path) -> NetworkMaterial:
    if not (directory / "mvote-node.yaml").is_file():
        fail(
            f"--network: {directory} holds no network (no mvote-node.yaml)",
            error="NO_NETWORK",
            hint="pass --network DIR (or set $MVOTE_NETWORK) to a folder made by `mvote network init DIR`",
        )
    return load_network(directory)


def connect(
    network_dir: Path,
    node: str | None,
    org: str | None,
    identity: str | None,
    *,
    default_role: Role,
    plaintext: bool = False,
) -> Connection:
    material = load_material(network_dir)
    role = identity or default_role
    if role not in ("admin", "client"):
        fail(f"--identity: expected admin or client, got {role!r}")
    chosen = material.org(org) if org else material.peer_orgs[0]
    who = chosen.admin if role == "admin" else chosen.client
    signer = load_signer(who.msp_dir, who.msp_id)
    address = node or str(material.config.listen.grpc)
    tls = None if plaintext else material.peer_orgs[0].node.tls_ca_path.read_bytes()
    channel = GatewayChannel(
        address,
        [signer],
        channel=material.config.channel,
        chaincode=material.config.chaincode,
        tls_root_certificates=tls,
    )
    return Connection(material, chosen, signer, channel, address)
