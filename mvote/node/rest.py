"""The voting service's REST API as ``mvote node start`` serves it, on ``listen.rest``.

The node's own gRPC address is the peer the service talks to, through the Fabric Gateway, as
the first organisation's client identity (reads and ballots) and its admin identity (operator
requests and trustee postings): the same :class:`~mvote.service.VotingService` and REST app that
run in front of real Fabric. Operator requests must be signed by an admin of that first
organisation (docs/integrators.md, "Operator requests"). The embedded node holds every
organisation's keys in one trust domain (docs/architecture.md); on real Fabric each institution
runs its own service.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvote.client._gateway import Gateway
from mvote.client._identity import load_signer
from mvote.client._voting import VotingContract
from mvote.node.material import NetworkMaterial
from mvote.service._core import VotingService
from mvote.service._rest import RestServer, start_rest_api


@dataclass
class NodeRest:
    """The REST server the node runs, the service behind it and the Gateway connections this
    owns (none when it serves a service another part runs: that part closes it)."""

    server: RestServer
    service: VotingService
    gateways: tuple[Gateway, ...]

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        """Stop taking requests (finishing those in flight), then close what this owns."""
        self.server.stop()
        if self.gateways:
            self.service.close()
        for gateway in self.gateways:
            gateway.close()


def _own_service(
    material: NetworkMaterial, grpc_address: str, tls_ca: bytes | None
) -> tuple[VotingService, tuple[Gateway, ...]]:
    """A service in front of ``grpc_address`` as the first organisation's client and admin,
    and the Gateway connections it holds."""
    config = material.config
    org = material.peer_orgs[0]
    client = load_signer(org.client.msp_dir, org.msp_id)
    admin = load_signer(org.admin.msp_dir, org.msp_id)
    gateways = (
        Gateway.connect(grpc_address, client, tls_root_certificates=tls_ca),
        Gateway.connect(grpc_address, admin, tls_root_certificates=tls_ca),
    )
    network = gateways[0].network(config.channel)
    admin_network = gateways[1].network(config.channel)
    service = VotingService(
        VotingContract.over(network.contract(config.chaincode)),
        network,
        chaincode=config.chaincode,
        postings=VotingContract.over(admin_network.contract(config.chaincode)),
    )
    return service, gateways


def start_rest(
    material: NetworkMaterial,
    grpc_address: str,
    *,
    tls_ca: bytes | None,
    port: int | None = None,
    service: VotingService | None = None,
) -> NodeRest:
    """Serve the REST API on ``listen.rest`` (``port`` overrides its port; 0 picks a free one)
    over ``service`` (the voting service's core, when ``mvote.v1`` runs too: one service, one
    ballot intake), else over a service of its own in front of the node's gRPC services at
    ``grpc_address`` (TLS with ``tls_ca``, the PEM of the node's TLS CA; None: plaintext).
    Operator requests: admins of the first organisation. Raises OSError if the port cannot be
    bound."""
    config = material.config
    gateways: tuple[Gateway, ...] = ()
    if service is None:
        service, gateways = _own_service(material, grpc_address, tls_ca)
    endpoint = config.listen.rest
    try:
        server = start_rest_api(
            service,
            genesis_block=material.genesis_path.read_bytes(),
            msp_id=material.peer_orgs[0].msp_id,
            host=endpoint.host,
            port=endpoint.port if port is None else port,
            max_body_bytes=config.limits.max_rest_body_bytes,
        )
        return NodeRest(server, service, gateways)
    except BaseException:
        if gateways:
            service.close()
        for gateway in gateways:
            gateway.close()
        raise
