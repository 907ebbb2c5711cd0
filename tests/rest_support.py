"""Helpers of the REST tests: the voting service's REST API served by a real uvicorn server on
127.0.0.1 (an ephemeral port) in front of a real embedded node's Gateway, an HTTP client, signed
operator requests, and a certificate authority the network does not trust."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_support import Served

from mvote.chaincode import encoding
from mvote.client._gateway import Gateway
from mvote.client._identity import Identity, Signer
from mvote.client._voting import VotingContract
from mvote.service import VotingService
from mvote.service._rest import RestServer, create_app
from mvote.service._rest_auth import AdminAuthority, signed_headers


@dataclass
class Rest:
    """A running REST API over ``served``'s node."""

    served: Served
    service: VotingService
    server: RestServer
    http: httpx.Client

    @property
    def channel(self) -> str:
        return self.served.material.config.channel

    def admin(self, org: str = "cityhall") -> Signer:
        return self.served.signer(org, admin=True)

    def signed(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        signer: Signer | None = None,
        params: dict[str, str] | None = None,
        timestamp: int | None = None,
    ) -> httpx.Response:
        """An operator request signed by ``signer`` (city hall's admin by default); ``body``
        is sent as canonical JSON."""
        raw = b"" if body is None else encoding.encode(body)
        request = self.http.build_request(method, path, content=raw or None, params=params)
        headers = signed_headers(
            signer or self.admin(),
            method,
            request.url.raw_path.split(b"?")[0].decode(),
            raw,
            query=request.url.query.decode(),
            timestamp=timestamp,
        )
        request.headers.update(headers)
        if raw:
            request.headers["content-type"] = "application/json"
        return self.http.send(request)

    def cast(self, raw: bytes, **params: str) -> httpx.Response:
        return self.http.post(
            "/v1/ballots",
            content=raw,
            params=params,
            headers={"content-type": "application/json"},
        )

    def height(self) -> int:
        return int(self.http.get("/v1/chain").json()["height"])


def serve_rest(served: Served) -> Iterator[Rest]:
    """The REST API over ``served`` as city hall: reads and ballots as its client identity,
    operator requests and postings as its admin."""
    config = served.material.config
    gateway: Gateway = served.gateway()
    admin: Gateway = served.gateway(served.signer(admin=True))
    contract = VotingContract.over(gateway.network(config.channel).contract(config.chaincode))
    postings = VotingContract.over(admin.network(config.channel).contract(config.chaincode))
    service = VotingService(
        contract, gateway.network(config.channel), chaincode=config.chaincode, postings=postings
    )
    authority = AdminAuthority.from_genesis(
        served.material.genesis_path.read_bytes(), served.material.org("cityhall").msp_id
    )
    server = RestServer(create_app(service, authority=authority)).start()
    http = httpx.Client(base_url=server.url, timeout=60)
    try:
        yield Rest(served, service, server, http)
    finally:
        http.close()
        server.stop()
        service.close()
        gateway.close()
        admin.close()


def foreign_admin(msp_id: str) -> Signer:
    """An 'admin' of ``msp_id`` whose certificate a CA of its own made: right MSP id, admin OU,
    but a CA the channel's configuration does not list."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca.foreign.example")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "admin"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Admin@foreign.example"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    return Signer(Identity(msp_id, pem), key)
