"""The voting service of the embedded node: ``mvote node start --voting-port P`` serves
``mvote.v1`` (mvote.service) in front of the node's own Gateway, the same code as ``mvote serve
--profile`` in front of real Fabric.

The embedded node is one trust domain (it holds every organisation's keys), so its voting service
acts as the first organisation's client identity (and its admin, for trustee postings), serves
with that organisation's peer TLS certificate, and accepts integrators of every organisation
(each organisation's TLS CA, calls attributed to its MSP id).
"""

from __future__ import annotations

from mvote.client._identity import load_signer
from mvote.node.material import NetworkMaterial
from mvote.service._grpc import IntegratorTrust, ServerTls
from mvote.service._profile import Endpoint, Profile
from mvote.service._serve import Running, start_service

__all__ = ["embedded_profile", "start_embedded_service"]


def embedded_profile(
    material: NetworkMaterial, grpc_address: str, service: str | None = None
) -> Profile:
    """The public profile of the embedded node serving every organisation's peer at
    ``grpc_address``; ``service``: the voting service's public address, if any."""
    config = material.config
    peers = tuple(
        Endpoint(grpc_address, org.tlsca_cert_path.read_bytes(), org.msp_id)
        for org in material.peer_orgs
    )
    first = material.peer_orgs[0]
    endpoint = None if service is None else Endpoint(service, first.tlsca_cert_path.read_bytes())
    return Profile(config.channel, config.chaincode, material.genesis_hash.hex(), endpoint, peers)


def start_embedded_service(
    material: NetworkMaterial,
    grpc_address: str,
    *,
    port: int,
    public_port: int | None = None,
) -> Running:
    """Start the voting service on 127.0.0.1:``port`` (mutual TLS, integrators of every
    organisation) and, with ``public_port``, its public address, in front of the node's Gateway
    at ``grpc_address``. Precondition: the node serves TLS there."""
    first = material.peer_orgs[0]
    trust = IntegratorTrust({o.msp_id: o.tlsca_cert_path.read_bytes() for o in material.peer_orgs})
    return start_service(
        embedded_profile(material, grpc_address),
        load_signer(first.client.msp_dir, first.msp_id),
        tls=ServerTls(first.node.tls_cert_path.read_bytes(), first.node.tls_key_path.read_bytes()),
        trust=trust,
        admin=load_signer(first.admin.msp_dir, first.msp_id),
        port=port,
        public_port=public_port,
    )
