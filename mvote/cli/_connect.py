"""The node connection of the operator and voter commands: a network folder, an identity, a
Gateway to the node (TLS with the network's TLS CA unless ``--plaintext``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, get_type_hints

import typer

from mvote.chaincode._errors import MvoteError
from mvote.cli._common import (
    DEFAULT_NETWORK,
    JsonOpt,
    NetworkOpt,
    NodeOpt,
    OrgOpt,
    PlaintextOpt,
    fail,
    remote,
)
from mvote.client._blocks import BlockFetcher, fetch_blocks
from mvote.client._channel import GatewayChannel
from mvote.client._errors import GatewayError
from mvote.client._identity import Signer, load_signer
from mvote.client._network import Network
from mvote.client._receipt import BlockSource
from mvote.client._verified import ChainReads, TrustAnchor
from mvote.client._voting import VotingContract, typed
from mvote.node.listening import running_node
from mvote.node.material import NetworkMaterial, OrgMaterial, load_network
from mvote.service._client import ClientTls, VotingClient
from mvote.service._profile import Profile
from mvote.service._transactor import ServiceBlocks, ServiceTransactor

Role = Literal["admin", "client"]

IdentityOpt = Annotated[
    str | None,
    typer.Option(
        "--identity",
        help="admin (Admin@<org>) or client (User1@<org>); each command has its natural default.",
    ),
]


ProfileOpt = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        help="A public connection profile: act through its voting service with no Fabric "
        "identity (voters, trustees, auditors).",
    ),
]


class VoterConnection(Protocol):
    """What a voter's command needs: the contract, committed blocks, the chaincode's name and
    the trust anchor (from the network's material or the profile, never from an answer)."""

    @property
    def contract(self) -> VotingContract: ...

    def block_source(self) -> BlockSource: ...

    @property
    def chaincode(self) -> str: ...

    @property
    def genesis_hash(self) -> str: ...

    def __enter__(self) -> VoterConnection: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass
class ServiceConnection:
    """The voting service named in a public profile, with no client certificate."""

    profile: Profile
    client: VotingClient

    @property
    def contract(self) -> VotingContract:
        """The contract through the service, reading only what verifies from the profile's
        genesis hash (no proposals can be sent without a Fabric identity, so reads come from
        the verified chain)."""
        anchor = TrustAnchor(bytes.fromhex(self.profile.genesis_hash), self.profile.chaincode)
        reads = ChainReads(self.client.block_range, anchor)
        return VotingContract(ServiceTransactor(self.client, self.profile.channel), reads=reads)

    def block_source(self) -> BlockSource:
        return ServiceBlocks(self.client)

    @property
    def chaincode(self) -> str:
        return self.profile.chaincode

    @property
    def genesis_hash(self) -> str:
        return self.profile.genesis_hash

    def __enter__(self) -> ServiceConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def connect_profile(path: Path) -> ServiceConnection:
    """The voting service of the profile at ``path``; exits 2 naming the file if it is not a
    profile or names no service."""
    try:
        profile = Profile.load(path)
    except MvoteError as exc:
        fail(f"--profile: {exc.message}", error=exc.code)
    if profile.service is None:
        fail(
            f"--profile: {path} names no voting service",
            error="PROFILE_INVALID",
            hint="ask for a profile written with `mvote network profile --service HOST:PORT`",
        )
    client = VotingClient(profile.service.address, ClientTls(profile.service.tls_ca))
    return ServiceConnection(profile, client)


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

    @property
    def chaincode(self) -> str:
        return self.material.config.chaincode

    @property
    def genesis_hash(self) -> str:
        return self.material.genesis_hash.hex()

    def network(self) -> Network:
        return self.channel.gateway(self.creator).network(self.channel_name)

    @property
    def contract(self) -> VotingContract:
        """The voting contract as this connection's identity (typed errors, not Failures:
        run recipes inside ``remote()``). Its verified reads fetch blocks over Deliver and
        check them from the network's genesis block hash (the trust anchor held locally)."""
        anchor = TrustAnchor(self.material.genesis_hash, self.material.config.chaincode)
        reads = ChainReads(self._fetch, anchor, self._endorse_read)
        return VotingContract(self.channel.acting_as(self.creator), reads=reads)

    def _fetch(self, start: int, stop: int | None) -> list[bytes]:
        return fetch_blocks(self.network(), start, stop)

    def _endorse_read(self, function: str, args: Sequence[str]) -> tuple[str, bytes]:
        """A read-only proposal endorsed through the Gateway, signed: (its tx id, envelope). A
        refusal the endorsers answer (e.g. NotFound) is raised as its typed error: nothing is
        done with it but to stop."""
        contract = self.network().contract(self.material.config.chaincode)
        proposal = contract.new_proposal(function, list(args))
        try:
            endorsed = proposal.endorse()
        except GatewayError as exc:
            raise typed(exc) from exc
        return proposal.transaction_id, endorsed.envelope().SerializeToString()

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


def node_address(network_dir: Path, material: NetworkMaterial) -> str:
    """The gRPC address of the node: where the node running on ``network_dir`` says it listens
    (its listening.json: a node started with ``--port 0``), else ``listen.grpc``."""
    running = running_node(network_dir)
    return running.grpc if running is not None else str(material.config.listen.grpc)


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
    address = node or node_address(network_dir, material)
    tls = None if plaintext else material.peer_orgs[0].node.tls_ca_path.read_bytes()
    channel = GatewayChannel(
        address,
        [signer],
        channel=material.config.channel,
        chaincode=material.config.chaincode,
        tls_root_certificates=tls,
    )
    return Connection(material, chosen, signer, channel, address)


@dataclass(frozen=True)
class Target:
    """Where and as whom a command acts, and how it prints: the connection options that every
    command talking to a node takes, declared once (see :func:`connected`)."""

    network: NetworkOpt = DEFAULT_NETWORK
    node: NodeOpt = None
    org: OrgOpt = None
    identity: IdentityOpt = None
    plaintext: PlaintextOpt = False
    as_json: JsonOpt = False
    profile: ProfileOpt = None

    def voter(self) -> VoterConnection:
        """Through the profile's voting service if ``--profile`` was given, else the Gateway
        as the network folder's client identity."""
        if self.profile is not None:
            return connect_profile(self.profile)
        return self.connect("client")

    def trustee(self) -> VoterConnection:
        """A trustee's verified reads and postings: through the profile's voting service if
        ``--profile`` was given (the service relays the postings, which the trustee's own key
        signs), else the Gateway as the network folder's admin identity."""
        if self.profile is not None:
            return connect_profile(self.profile)
        return self.connect("admin")

    def connect(self, default_role: Role) -> Connection:
        if self.profile is not None:
            fail(
                "--profile: this command acts as an institution through the Gateway; give "
                "--network DIR (a profile serves voters, trustees and auditors)"
            )
        return connect(
            self.network,
            self.node,
            self.org,
            self.identity,
            default_role=default_role,
            plaintext=self.plaintext,
        )


#: The default of a command's ``target`` parameter (replaced by the options, see connected).
ANYWHERE = Target()

_TARGET_HINTS = get_type_hints(Target, include_extras=True)
_TARGET_PARAMS = [
    inspect.Parameter(
        f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=_TARGET_HINTS[f.name]
    )
    for f in fields(Target)
]


def connected(command: Callable[..., None]) -> Callable[..., None]:
    """``command(..., target: Target)`` as a Typer command taking the :class:`Target` options
    (``--network``, ``--node``, ``--org``, ``--identity``, ``--plaintext``, ``--json``,
    ``--profile``) after
    its own. Precondition: ``command`` has a parameter ``target`` and none of those names."""
    hints = get_type_hints(command, include_extras=True)
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(command).parameters.values()
        if p.name != "target"
    ]

    def as_typer(**options: Any) -> None:
        target = Target(**{p.name: options.pop(p.name) for p in _TARGET_PARAMS})
        command(**options, target=target)

    as_typer.__name__ = command.__name__
    as_typer.__qualname__ = command.__qualname__
    as_typer.__doc__ = command.__doc__
    as_typer.__module__ = command.__module__
    params = [*own, *_TARGET_PARAMS]
    as_typer.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    as_typer.__annotations__ = {p.name: p.annotation for p in params}
    return as_typer
