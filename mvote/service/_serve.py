"""One institution's voting service in front of a network it reaches through a profile: the
Gateway of the institution's peer, as the institution's client identity (and, for trustee
postings, its admin identity). The same code serves the embedded node and real Fabric."""

from __future__ import annotations

from dataclasses import dataclass

from mvote.chaincode._errors import InvalidField
from mvote.client._gateway import Gateway
from mvote.client._identity import Signer
from mvote.client._voting import VotingContract
from mvote.service._core import VotingService
from mvote.service._grpc import IntegratorTrust, ServerTls, VotingServer
from mvote.service._intake import Intake, IntakeSettings
from mvote.service._limits import PUBLIC_LIMITS, Limits
from mvote.service._profile import Profile

__all__ = ["INTAKE_CONNECTIONS", "Running", "start_service"]

#: Gateway connections the intake spreads its batches over by default. A node serves each
#: connection from one of its gateway processes, chosen at random by the kernel: over 8, two
#: processes both get one with probability 127/128 (docs/PERFORMANCE.md).
INTAKE_CONNECTIONS = 8


@dataclass
class Running:
    """A started service and the Gateway connections it owns."""

    server: VotingServer
    service: VotingService
    gateways: tuple[Gateway, ...]
    #: The public address (voters, trustees, auditors: no client certificate), if served.
    public: VotingServer | None = None

    def unhealthy(self) -> str | None:
        """Why the service (or its public address) is not serving, or None."""
        servers = (self.server,) if self.public is None else (self.server, self.public)
        return next((r for r in (s.unhealthy() for s in servers) if r is not None), None)

    def stop(self, grace: float = 5.0) -> None:
        if self.public is not None:
            self.public.stop(grace)
        self.server.stop(grace)
        self.service.close()
        for gateway in self.gateways:
            gateway.close()


def start_service(
    profile: Profile,
    signer: Signer,
    *,
    tls: ServerTls,
    trust: IntegratorTrust,
    admin: Signer | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    public_port: int | None = None,
    limits: Limits = Limits(),  # noqa: B008 (frozen, never mutated)
    public_limits: Limits = PUBLIC_LIMITS,
    intake: IntakeSettings | None = IntakeSettings(),  # noqa: B008 (frozen, never mutated)
    intake_connections: int = INTAKE_CONNECTIONS,
) -> Running:
    """Serve ``mvote.v1`` on ``host:port`` for the institution of ``signer`` (its client
    identity), through its peer in ``profile``: the integrators' address (mutual TLS with
    ``trust``) and, with ``public_port``, the public address (no client certificate) on the
    same service. Ballots go through a batching :class:`Intake` with ``intake`` (CastBatch
    transactions) over ``intake_connections`` Gateway connections of its own (1 to 64;
    InvalidField naming it otherwise), or one transaction each with ``intake=None``. Raises
    ProfileInvalid if the profile lists no peer of that institution."""
    if type(intake_connections) is not int or not 1 <= intake_connections <= 64:
        raise InvalidField(
            f"intake_connections: expected an integer 1..64, got {intake_connections!r}",
            field="intake_connections",
        )
    peer = profile.peer(signer.identity.msp_id)
    gateway = Gateway.connect(peer.address, signer, tls_root_certificates=peer.tls_ca)
    gateways = [gateway]
    network = gateway.network(profile.channel)
    contract = VotingContract.over(network.contract(profile.chaincode))
    postings = None
    if admin is not None:
        admin_gateway = Gateway.connect(peer.address, admin, tls_root_certificates=peer.tls_ca)
        gateways.append(admin_gateway)
        postings = VotingContract.over(
            admin_gateway.network(profile.channel).contract(profile.chaincode)
        )
    sink = None
    if intake is not None:
        own = [
            Gateway.connect(peer.address, signer, tls_root_certificates=peer.tls_ca)
            for _ in range(intake_connections)
        ]
        gateways.extend(own)
        contracts = [g.network(profile.channel).contract(profile.chaincode) for g in own]
        sink = Intake(contracts, intake)
    service = VotingService(
        contract, network, chaincode=profile.chaincode, postings=postings, sink=sink
    )
    server = VotingServer(service, tls=tls, trust=trust, host=host, port=port, limits=limits)
    running = Running(server.start(), service, tuple(gateways))
    if public_port is not None:
        public = VotingServer(
            service, tls=tls, trust=None, host=host, port=public_port, limits=public_limits
        )
        running.public = public.start()
    return running
