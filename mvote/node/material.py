"""``mvote network init``: crypto material in cryptogen's layout, the genesis block, the node config.

The material is what Fabric v3's ``cryptogen generate`` writes for NodeOUs-enabled
organisations (one peer, one admin, one client user per peer organisation; one orderer and an
admin for the ordering organisation), made with the ``cryptography`` package and real random
P-256 keys. The layout, subjects and extensions are documented in docs/network.md, together
with where this differs from cryptogen.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mvote.client._files import PRIVATE, create_file
from mvote.node.config import (
    CONFIG_FILE_NAME,
    DEFAULT_BASE_DOMAIN,
    DEFAULT_CHAINCODE,
    DEFAULT_CHANNEL,
    ORDERER_GROUP_NAME,
    BatchSettings,
    Endpoint,
    NodeConfig,
    NodeLimits,
    OrdererOrg,
    PeerOrg,
    default_node_config,
    load_node_config,
    save_node_config,
)
from mvote.node.errors import MaterialInvalid, NetworkExists
from mvote.node.genesis import (
    ApplicationOrgSpec,
    GenesisBlock,
    OrdererOrgSpec,
    RaftConsenter,
    build_genesis_block,
    msp_configs_in,
    read_genesis_block,
)
from mvote.verifier._signatures import is_low_s

NodeOU = Literal["client", "peer", "admin", "orderer"]
NODE_OUS: tuple[NodeOU, ...] = ("client", "peer", "admin", "orderer")
TlsRole = Literal["server", "client"]

#: cryptogen: ten years from a not-before rounded to the minute and backdated five minutes.
_VALIDITY = datetime.timedelta(days=3650)
_BACKDATE = datetime.timedelta(minutes=5)
_GENESIS_FILE_NAME = "genesis.block"
# Go's asn1 marshals a string as PrintableString when every byte is in this set ('*' allowed,
# '&' not), else UTF8String; "Admin@..." is therefore a UTF8String and "peer0..." is not.
_PRINTABLE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?*"
)


@dataclass(frozen=True)
class SubjectLocation:
    """Country, province and locality of every subject; the defaults are cryptogen's."""

    country: str = "US"
    province: str = "California"
    locality: str = "San Francisco"


# --- the layout --------------------------------------------------------------------------------


def cert_file_name(name: str) -> str:
    """cryptogen's x509Filename: ``<name>-cert.pem``."""
    return f"{name}-cert.pem"


@dataclass(frozen=True)
class IdentityMaterial:
    """One local MSP (peer, orderer or user) in cryptogen's folder layout."""

    name: str
    msp_id: str
    node_ou: NodeOU
    directory: Path

    @property
    def msp_dir(self) -> Path:
        return self.directory / "msp"

    @property
    def tls_dir(self) -> Path:
        return self.directory / "tls"

    @property
    def cert_path(self) -> Path:
        return self.msp_dir / "signcerts" / cert_file_name(self.name)

    @property
    def key_path(self) -> Path:
        return self.msp_dir / "keystore" / "priv_sk"

    @property
    def tls_role(self) -> TlsRole:
        # cryptogen names the TLS pair client.* for users (clients and admins), server.* else.
        return "client" if self.node_ou in ("client", "admin") else "server"

    @property
    def tls_cert_path(self) -> Path:
        return self.tls_dir / f"{self.tls_role}.crt"

    @property
    def tls_key_path(self) -> Path:
        return self.tls_dir / f"{self.tls_role}.key"

    @property
    def tls_ca_path(self) -> Path:
        return self.tls_dir / "ca.crt"

    def certificate_pem(self) -> bytes:
        return _read(self.cert_path)

    def certificate(self) -> x509.Certificate:
        return _load_certificate(self.cert_path)

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return _load_private_key(self.key_path)

    def tls_certificate_pem(self) -> bytes:
        return _read(self.tls_cert_path)


@dataclass(frozen=True)
class OrgMaterial:
    """An organisation's folder: CAs, verifying MSP, nodes and users."""

    kind: Literal["peer", "orderer"]
    #: The channel config group name (the MSP id for peer orgs, OrdererOrg for the orderer org).
    group_name: str
    msp_id: str
    domain: str
    directory: Path
    #: peer0.<domain> or orderer.<domain>
    node: IdentityMaterial
    #: Where the node is reachable: anchor peer or orderer endpoint in the genesis block.
    node_endpoint: Endpoint
    admin: IdentityMaterial
    users: tuple[IdentityMaterial, ...]

    @property
    def ca_name(self) -> str:
        return f"ca.{self.domain}"

    @property
    def tlsca_name(self) -> str:
        return f"tlsca.{self.domain}"

    @property
    def ca_cert_path(self) -> Path:
        return self.directory / "ca" / cert_file_name(self.ca_name)

    @property
    def ca_key_path(self) -> Path:
        return self.directory / "ca" / "priv_sk"

    @property
    def tlsca_cert_path(self) -> Path:
        return self.directory / "tlsca" / cert_file_name(self.tlsca_name)

    @property
    def tlsca_key_path(self) -> Path:
        return self.directory / "tlsca" / "priv_sk"

    @property
    def msp_dir(self) -> Path:
        return self.directory / "msp"

    @property
    def identities(self) -> tuple[IdentityMaterial, ...]:
        return (self.node, self.admin, *self.users)

    @property
    def client(self) -> IdentityMaterial:
        """The first non-admin user (User1@<domain>); peer organisations only."""
        if not self.users:
            raise MaterialInvalid(f"organisation {self.msp_id} has no client user")
        return self.users[0]


def peer_org_material(organizations_dir: Path, org: PeerOrg) -> OrgMaterial:
    """Where cryptogen puts a peer organisation's files (no I/O)."""
    base = organizations_dir / "peerOrganizations" / org.domain
    return OrgMaterial(
        kind="peer",
        group_name=org.msp_id,
        msp_id=org.msp_id,
        domain=org.domain,
        directory=base,
        node=IdentityMaterial(org.peer_host, org.msp_id, "peer", base / "peers" / org.peer_host),
        node_endpoint=org.peer_endpoint,
        admin=IdentityMaterial(
            org.admin_name, org.msp_id, "admin", base / "users" / org.admin_name
        ),
        users=(
            IdentityMaterial(
                org.client_name, org.msp_id, "client", base / "users" / org.client_name
            ),
        ),
    )


def orderer_org_material(organizations_dir: Path, orderer: OrdererOrg) -> OrgMaterial:
    base = organizations_dir / "ordererOrganizations" / orderer.domain
    host = orderer.orderer_host
    return OrgMaterial(
        kind="orderer",
        group_name=ORDERER_GROUP_NAME,
        msp_id=orderer.msp_id,
        domain=orderer.domain,
        directory=base,
        node=IdentityMaterial(host, orderer.msp_id, "orderer", base / "orderers" / host),
        node_endpoint=orderer.endpoint,
        admin=IdentityMaterial(
            orderer.admin_name, orderer.msp_id, "admin", base / "users" / orderer.admin_name
        ),
        users=(),
    )


# --- files -------------------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise MaterialInvalid(f"cannot read {path}: {err.strerror}") from None


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError as err:
        raise MaterialInvalid(f"{path} is not a PEM certificate: {err}") from None


def _load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as err:
        raise MaterialInvalid(f"{path} is not an unencrypted PEM private key: {err}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise MaterialInvalid(f"{path} holds a {type(key).__name__}, expected an ECDSA key")
    return key


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """A new file of the network (init_network writes only into paths it checked are free)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with the final mode so a key is never readable by others, not even briefly.
    create_file(path, data, mode)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pkcs8, PRIVATE)


def node_ou_config_yaml(ca_cert_relpath: str) -> str:
    """``msp/config.yaml`` byte for byte as cryptogen v3 writes it (go-yaml v4's Marshal, four
    spaces of indent), every NodeOU identifier pointing at the signing CA certificate."""
    lines = ["NodeOUs:", "    Enable: true"]
    for key, ou in (
        ("ClientOUIdentifier", "client"),
        ("PeerOUIdentifier", "peer"),
        ("AdminOUIdentifier", "admin"),
        ("OrdererOUIdentifier", "orderer"),
    ):
        lines += [
            f"    {key}:",
            f"        Certificate: {ca_cert_relpath}",
            f"        OrganizationalUnitIdentifier: {ou}",
        ]
    return "\n".join(lines) + "\n"


# --- certificates ------------------------------------------------------------------------------


def _attribute(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    asn1_type = _ASN1Type.PrintableString if set(value) <= _PRINTABLE else _ASN1Type.UTF8String
    return x509.NameAttribute(oid, value, _type=asn1_type)


def _subject(
    location: SubjectLocation,
    *,
    common_name: str,
    organization: str | None = None,
    organizational_unit: str | None = None,
) -> x509.Name:
    # Go's pkix.Name order: C, ST, L, O, OU, CN.
    attrs = [
        _attribute(NameOID.COUNTRY_NAME, location.country),
        _attribute(NameOID.STATE_OR_PROVINCE_NAME, location.province),
        _attribute(NameOID.LOCALITY_NAME, location.locality),
    ]
    if organization is not None:
        attrs.append(_attribute(NameOID.ORGANIZATION_NAME, organization))
    if organizational_unit is not None:
        attrs.append(_attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit))
    attrs.append(_attribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def subject_key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """SHA-256 of the uncompressed public point (RFC 7093 method 4, cryptogen's stated rule)."""
    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(point)
    return digest.finalize()


def _validity(now: datetime.datetime | None) -> tuple[datetime.datetime, datetime.datetime]:
    now = now or datetime.datetime.now(datetime.UTC)
    # Go's Time.Round(time.Minute): halves round up.
    rounded = now.replace(second=0, microsecond=0)
    if now - rounded >= datetime.timedelta(seconds=30):
        rounded += datetime.timedelta(minutes=1)
    not_before = rounded - _BACKDATE
    return not_before, not_before + _VALIDITY


def _serial_number() -> int:
    # cryptogen: uniform in [0, 2^128); RFC 5280 wants it positive.
    return secrets.randbelow(2**128 - 1) + 1


def _sign_low_s_certificate(
    builder: x509.CertificateBuilder, signer: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    # cryptogen signs certificates low-S too; Fabric's MSP re-encodes high-S certificates, and
    # then the certificate it reasons about is not byte-equal to the one on disk.
    for _ in range(128):
        cert = builder.sign(signer, hashes.SHA256())
        if is_low_s(cert.signature):
            return cert
    raise MaterialInvalid("could not produce a low-S certificate signature in 128 tries")


@dataclass(frozen=True)
class _CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    name: str
    location: SubjectLocation

    @property
    def ski(self) -> bytes:
        return self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _new_ca(
    directory: Path, organization: str, name: str, location: SubjectLocation, now: datetime.datetime
) -> _CA:
    """cryptogen's ca.NewCA: a self-signed P-256 root written to ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _subject(location, common_name=name, organization=organization)
    not_before, not_after = _validity(now)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(subject_key_id(key.public_key())), critical=False)
    )
    cert = _sign_low_s_certificate(builder, key)
    _write(directory / cert_file_name(name), _pem(cert))
    _write_key(directory / "priv_sk", key)
    return _CA(key=key, cert=cert, name=name, location=location)


def _issue(
    ca: _CA,
    public_key: ec.EllipticCurvePublicKey,
    *,
    common_name: str,
    organizational_unit: str | None,
    sans: Sequence[str],
    tls: bool,
    now: datetime.datetime,
    validity: tuple[datetime.datetime, datetime.datetime] | None = None,
) -> x509.Certificate:
    """cryptogen's CA.SignCertificate for an enrollment (tls=False) or TLS certificate; valid
    for cryptogen's ten years from ``now``, or for ``validity`` (not before, not after)."""
    not_before, not_after = _validity(now) if validity is None else validity
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            _subject(ca.location, common_name=common_name, organizational_unit=organizational_unit)
        )
        .issuer_name(ca.cert.subject)
        .public_key(public_key)
        .serial_number(_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                # cryptogen asks for key encipherment on TLS certificates (meaningless for
                # ECDSA, but it is what Fabric's own TLS certificates carry).
                key_encipherment=tls,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if tls:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    builder = builder.add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    ).add_extension(
        x509.AuthorityKeyIdentifier(
            key_identifier=ca.ski, authority_cert_issuer=None, authority_cert_serial_number=None
        ),
        critical=False,
    )
    if sans:
        names: list[x509.GeneralName] = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return _sign_low_s_certificate(builder, ca.key)


# --- organisations -----------------------------------------------------------------------------


def node_sans(org: OrgMaterial) -> tuple[str, ...]:
    """TLS subject alternative names of a peer or orderer.

    cryptogen puts the common name and the host name first, then the spec's SANS; Fabric's test
    network lists ``localhost`` and the golden network also ``127.0.0.1``. The node's endpoint
    host is added when it is none of these, so TLS to the advertised address verifies.
    """
    fqdn = org.node.name
    sans = [fqdn, fqdn.split(".", 1)[0], "localhost", "127.0.0.1"]
    if org.node_endpoint.host not in sans:
        sans.append(org.node_endpoint.host)
    return tuple(sans)


def _generate_local_msp(
    identity: IdentityMaterial,
    sign_ca: _CA,
    tls_ca: _CA,
    sans: Sequence[str],
    now: datetime.datetime,
) -> None:
    """cryptogen's msp.GenerateLocalMSP with NodeOUs enabled."""
    for sub in ("admincerts", "cacerts", "tlscacerts", "keystore", "signcerts"):
        (identity.msp_dir / sub).mkdir(parents=True, exist_ok=True)
    identity.tls_dir.mkdir(parents=True, exist_ok=True)

    key = ec.generate_private_key(ec.SECP256R1())
    _write_key(identity.key_path, key)
    cert = _issue(
        sign_ca,
        key.public_key(),
        common_name=identity.name,
        organizational_unit=identity.node_ou,
        sans=(),
        tls=False,
        now=now,
    )
    _write(identity.cert_path, _pem(cert))
    ca_file = cert_file_name(sign_ca.name)
    _write(identity.msp_dir / "cacerts" / ca_file, _pem(sign_ca.cert))
    _write(identity.msp_dir / "tlscacerts" / cert_file_name(tls_ca.name), _pem(tls_ca.cert))
    _write(identity.msp_dir / "config.yaml", node_ou_config_yaml(f"cacerts/{ca_file}").encode())

    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls_cert = _issue(
        tls_ca,
        tls_key.public_key(),
        common_name=identity.name,
        organizational_unit=None,
        sans=sans,
        tls=True,
        now=now,
    )
    _write(identity.tls_ca_path, _pem(tls_ca.cert))
    _write(identity.tls_cert_path, _pem(tls_cert))
    _write_key(identity.tls_key_path, tls_key)


def _generate_verifying_msp(msp_dir: Path, sign_ca: _CA, tls_ca: _CA) -> None:
    """cryptogen's msp.GenerateVerifyingMSP with NodeOUs enabled: admincerts stays empty,
    admins are recognised by the ``admin`` OU."""
    for sub in ("admincerts", "cacerts", "tlscacerts"):
        (msp_dir / sub).mkdir(parents=True, exist_ok=True)
    ca_file = cert_file_name(sign_ca.name)
    _write(msp_dir / "cacerts" / ca_file, _pem(sign_ca.cert))
    _write(msp_dir / "tlscacerts" / cert_file_name(tls_ca.name), _pem(tls_ca.cert))
    _write(msp_dir / "config.yaml", node_ou_config_yaml(f"cacerts/{ca_file}").encode())


def generate_org_material(
    org: OrgMaterial,
    location: SubjectLocation = SubjectLocation(),
    *,
    now: datetime.datetime | None = None,
) -> None:
    """Write one organisation's CAs, verifying MSP, node and users (cryptogen's
    generatePeerOrg / generateOrdererOrg). Refuses to overwrite an existing folder."""
    if org.directory.exists():
        raise NetworkExists(f"{org.directory} already exists")
    now = now or datetime.datetime.now(datetime.UTC)
    sign_ca = _new_ca(org.directory / "ca", org.domain, org.ca_name, location, now)
    tls_ca = _new_ca(org.directory / "tlsca", org.domain, org.tlsca_name, location, now)
    _generate_verifying_msp(org.msp_dir, sign_ca, tls_ca)
    _generate_local_msp(org.node, sign_ca, tls_ca, node_sans(org), now)
    for user in (*org.users, org.admin):
        # cryptogen gives users no SANs: their TLS certificates are client certificates.
        _generate_local_msp(user, sign_ca, tls_ca, (), now)


def verify_org_material(org: OrgMaterial) -> None:
    """Check an organisation's folder the way a peer would load it: every file present, every
    certificate issued by its CA, every key matching its certificate, the NodeOU in each
    enrollment certificate's OU. Raises MaterialInvalid naming the first problem."""
    ca = _load_certificate(org.ca_cert_path)
    tlsca = _load_certificate(org.tlsca_cert_path)
    for cert, key_path in ((ca, org.ca_key_path), (tlsca, org.tlsca_key_path)):
        _check_key_matches(cert, key_path)
        _check_issued_by(cert, cert, f"CA {cert.subject.rfc4514_string()}")
    _check_same_file(org.msp_dir / "cacerts" / org.ca_cert_path.name, org.ca_cert_path)
    _check_same_file(org.msp_dir / "tlscacerts" / org.tlsca_cert_path.name, org.tlsca_cert_path)
    _check_file(org.msp_dir / "config.yaml")
    for ident in org.identities:
        cert = _load_certificate(ident.cert_path)
        _check_issued_by(cert, ca, ident.name)
        _check_key_matches(cert, ident.key_path)
        ous = [
            a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        ]
        if ous != [ident.node_ou]:
            raise MaterialInvalid(
                f"{ident.cert_path}: expected OU [{ident.node_ou!r}], got {ous}", field="OU"
            )
        tls_cert = _load_certificate(ident.tls_cert_path)
        _check_issued_by(tls_cert, tlsca, f"{ident.name} TLS")
        _check_key_matches(tls_cert, ident.tls_key_path)
        _check_same_file(ident.tls_ca_path, org.tlsca_cert_path)
        _check_same_file(ident.msp_dir / "cacerts" / org.ca_cert_path.name, org.ca_cert_path)
        _check_same_file(
            ident.msp_dir / "tlscacerts" / org.tlsca_cert_path.name, org.tlsca_cert_path
        )
        _check_file(ident.msp_dir / "config.yaml")


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise MaterialInvalid(f"{path} is missing")


def _check_same_file(path: Path, reference: Path) -> None:
    if _read(path) != _read(reference):
        raise MaterialInvalid(f"{path} differs from {reference}")


def _check_issued_by(cert: x509.Certificate, issuer: x509.Certificate, what: str) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as err:
        raise MaterialInvalid(
            f"{what}: certificate not issued by {issuer.subject.rfc4514_string()} ({err})"
        ) from None


def _check_key_matches(cert: x509.Certificate, key_path: Path) -> None:
    key = _load_private_key(key_path)
    if key.public_key() != cert.public_key():
        raise MaterialInvalid(f"{key_path} does not match the certificate of {cert.subject}")


# --- the network -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkMaterial:
    """Everything ``mvote network init`` wrote, loaded and checked."""

    directory: Path
    config: NodeConfig
    peer_orgs: tuple[OrgMaterial, ...]
    orderer_org: OrgMaterial
    genesis: GenesisBlock

    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_FILE_NAME

    @property
    def genesis_path(self) -> Path:
        return self.directory / self.config.genesis_block

    @property
    def organizations_dir(self) -> Path:
        return self.directory / self.config.organizations_dir

    @property
    def genesis_hash(self) -> bytes:
        """The trust anchor: the genesis block's header hash."""
        return self.genesis.header_hash

    def org(self, name: str) -> OrgMaterial:
        """A peer organisation by short name (``cityhall``) or MSP id (``CityhallMSP``)."""
        for entry, material in zip(self.config.organizations, self.peer_orgs, strict=True):
            if name in (entry.name, entry.msp_id):
                return material
        raise MaterialInvalid(f"no organisation {name!r} in {self.config_path}", field="org")


def _material_for(
    directory: Path, config: NodeConfig
) -> tuple[tuple[OrgMaterial, ...], OrgMaterial]:
    orgs_dir = directory / config.organizations_dir
    return (
        tuple(peer_org_material(orgs_dir, o) for o in config.organizations),
        orderer_org_material(orgs_dir, config.orderer),
    )


def genesis_block_for(
    config: NodeConfig,
    peer_orgs: Sequence[OrgMaterial],
    orderer_org: OrgMaterial,
    *,
    timestamp: int | None = None,
) -> GenesisBlock:
    """The channel genesis block for generated material: one etcdraft consenter (the orderer,
    its TLS server certificate as both client and server certificate, as configtxgen's
    test-network profile has it), anchor peers and orderer endpoints from the config."""
    tls_cert = orderer_org.node.tls_certificate_pem()
    return build_genesis_block(
        config.channel,
        [
            ApplicationOrgSpec(
                group_name=o.group_name,
                msp_id=o.msp_id,
                msp_dir=o.msp_dir,
                anchor_peers=(o.node_endpoint,),
            )
            for o in peer_orgs
        ],
        OrdererOrgSpec(
            group_name=orderer_org.group_name,
            msp_id=orderer_org.msp_id,
            msp_dir=orderer_org.msp_dir,
            endpoints=(orderer_org.node_endpoint,),
        ),
        [RaftConsenter(orderer_org.node_endpoint, tls_cert, tls_cert)],
        config.batch,
        timestamp=timestamp,
    )


def init_network(
    directory: Path,
    orgs: str | Sequence[str],
    *,
    channel: str = DEFAULT_CHANNEL,
    chaincode: str = DEFAULT_CHAINCODE,
    batch: BatchSettings | None = None,
    limits: NodeLimits | None = None,
    base_domain: str = DEFAULT_BASE_DOMAIN,
    location: SubjectLocation = SubjectLocation(),
) -> NetworkMaterial:
    """Create a network in ``directory``: ``organizations/`` (crypto material), ``genesis.block``
    (the raw serialized block 0) and ``mvote-node.yaml``.

    ``orgs`` is ``"cityhall,district,education"`` or a list of such names. Refuses a directory
    that already holds any of the three; on failure removes what it wrote.
    """
    config = default_node_config(
        orgs,
        channel=channel,
        chaincode=chaincode,
        batch=batch,
        limits=limits,
        base_domain=base_domain,
    )
    directory = Path(directory)
    targets = [
        directory / CONFIG_FILE_NAME,
        directory / config.genesis_block,
        directory / config.organizations_dir,
    ]
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise NetworkExists(f"{directory} already holds a network: {', '.join(existing)}")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        peer_orgs, orderer_org = _material_for(directory, config)
        now = datetime.datetime.now(datetime.UTC)
        generate_org_material(orderer_org, location, now=now)
        for org in peer_orgs:
            generate_org_material(org, location, now=now)
        genesis = genesis_block_for(config, peer_orgs, orderer_org)
        _write(directory / config.genesis_block, genesis.raw)
        # Written last: its presence marks a complete network.
        save_node_config(config, directory / CONFIG_FILE_NAME)
    except BaseException:
        for path in targets:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()
        raise
    return load_network(directory)


def load_network(directory: Path) -> NetworkMaterial:
    """Load and check a network directory written by :func:`init_network`.

    Checks every organisation's material (:func:`verify_org_material`), the genesis block's
    structure and data hash, its channel name, and that the MSPs it embeds are the ones on disk
    (root and TLS root certificates per MSP id), so the node never runs with a genesis block
    that trusts other CAs than its own material.
    """
    directory = Path(directory)
    config_path = directory / CONFIG_FILE_NAME
    if not config_path.is_file():
        raise MaterialInvalid(f"no {CONFIG_FILE_NAME} in {directory}; run `mvote network init`")
    config = load_node_config(config_path)
    peer_orgs, orderer_org = _material_for(directory, config)
    for org in (*peer_orgs, orderer_org):
        verify_org_material(org)
    genesis = read_genesis_block(_read(directory / config.genesis_block))
    if genesis.channel_id != config.channel:
        raise MaterialInvalid(
            f"genesis block is for channel {genesis.channel_id!r}, config says {config.channel!r}",
            field="channel",
        )
    msps = msp_configs_in(genesis.config)
    expected = {o.msp_id for o in (*peer_orgs, orderer_org)}
    if set(msps) != expected:
        raise MaterialInvalid(
            f"genesis block has MSPs {sorted(msps)}, config has {sorted(expected)}"
        )
    for org in (*peer_orgs, orderer_org):
        fabric = msps[org.msp_id]
        if list(fabric.root_certs) != [_read(org.ca_cert_path)] or list(fabric.tls_root_certs) != [
            _read(org.tlsca_cert_path)
        ]:
            raise MaterialInvalid(
                f"genesis block's CA certificates for {org.msp_id} are not those in {org.directory}"
            )
    return NetworkMaterial(
        directory=directory,
        config=config,
        peer_orgs=peer_orgs,
        orderer_org=orderer_org,
        genesis=genesis,
    )


# --- integrators of the voting service ----------------------------------------------------------


@dataclass(frozen=True)
class IntegratorFiles:
    """An integrator's TLS client certificate and key, and the CA that issued them."""

    cert: Path
    key: Path
    ca: Path


def _location_of(cert: x509.Certificate) -> SubjectLocation:
    def one(oid: x509.ObjectIdentifier, default: str) -> str:
        found = cert.subject.get_attributes_for_oid(oid)
        return str(found[0].value) if found else default

    base = SubjectLocation()
    return SubjectLocation(
        one(NameOID.COUNTRY_NAME, base.country),
        one(NameOID.STATE_OR_PROVINCE_NAME, base.province),
        one(NameOID.LOCALITY_NAME, base.locality),
    )


def issue_integrator_certificate(
    org: OrgMaterial, name: str, directory: Path, *, now: datetime.datetime | None = None
) -> IntegratorFiles:
    """A TLS client certificate for integrator ``name`` (its common name, OU ``integrator``),
    issued by ``org``'s TLS CA, with a new P-256 key: what the voting service's mutual TLS
    attributes to ``org``. Writes ``name.crt``, ``name.key`` (mode 0600) and ``ca.crt`` into
    ``directory``. Precondition: ``org``'s TLS CA key is in its folder (the institution's own
    machine); ``name`` is a file-name-safe identifier."""
    ca_cert = _load_certificate(org.tlsca_cert_path)
    ca = _CA(
        key=_load_private_key(org.tlsca_key_path),
        cert=ca_cert,
        name=org.tlsca_name,
        location=_location_of(ca_cert),
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(
        ca,
        key.public_key(),
        common_name=name,
        organizational_unit="integrator",
        sans=(),
        tls=True,
        now=now or datetime.datetime.now(datetime.UTC),
    )
    files = IntegratorFiles(
        directory / f"{name}.crt", directory / f"{name}.key", directory / "ca.crt"
    )
    directory.mkdir(parents=True, exist_ok=True)
    _write(files.cert, _pem(cert))
    _write_key(files.key, key)
    _write(files.ca, _pem(ca_cert))
    return files
