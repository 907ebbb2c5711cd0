"""Crypto material: cryptogen's layout, certificates shaped like those of a real Fabric v3.1.5
network (the golden chain), keys matching certificates, low-S signatures."""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.msp import identities_pb2, msp_config_pb2
from fabric_protos.orderer import configuration_pb2 as orderer_pb2
from fabric_protos.orderer.etcdraft import configuration_pb2 as etcdraft_pb2
from fabric_protos.peer import transaction_pb2

from mvote.node.config import domain_for, msp_id_for, parse_org_names
from mvote.node.errors import ConfigInvalid, MaterialInvalid, NetworkExists
from mvote.node.material import (
    NetworkMaterial,
    OrgMaterial,
    init_network,
    load_network,
    node_ou_config_yaml,
    subject_key_id,
    verify_org_material,
)

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def msp_files(prefix: str, name: str, domain: str) -> set[str]:
    return {
        f"{prefix}/msp/cacerts/ca.{domain}-cert.pem",
        f"{prefix}/msp/tlscacerts/tlsca.{domain}-cert.pem",
        f"{prefix}/msp/keystore/priv_sk",
        f"{prefix}/msp/signcerts/{name}-cert.pem",
        f"{prefix}/msp/config.yaml",
    }


def expected_org_files(org: OrgMaterial) -> set[str]:
    """Every file cryptogen v3 writes for a NodeOUs organisation with one node and the users."""
    d = org.domain
    files = {
        f"ca/ca.{d}-cert.pem",
        "ca/priv_sk",
        f"tlsca/tlsca.{d}-cert.pem",
        "tlsca/priv_sk",
        f"msp/cacerts/ca.{d}-cert.pem",
        f"msp/tlscacerts/tlsca.{d}-cert.pem",
        "msp/config.yaml",
    }
    node_dir = "peers" if org.kind == "peer" else "orderers"
    node = f"{node_dir}/{org.node.name}"
    files |= msp_files(node, org.node.name, d) | {
        f"{node}/tls/{f}" for f in ("ca.crt", "server.crt", "server.key")
    }
    users = [f"Admin@{d}"] + ([f"User1@{d}"] if org.kind == "peer" else [])
    for user in users:
        files |= msp_files(f"users/{user}", user, d)
        files |= {f"users/{user}/tls/{f}" for f in ("ca.crt", "client.crt", "client.key")}
    return files


def all_orgs(network: NetworkMaterial) -> list[OrgMaterial]:
    return [*network.peer_orgs, network.orderer_org]


def test_org_name_mapping() -> None:
    assert msp_id_for("cityhall") == "CityhallMSP"
    assert domain_for("education") == "education.mvote.local"
    assert parse_org_names(" cityhall, district ") == ("cityhall", "district")
    for bad in ["", "City", "city-hall", "1st", "orderer", "cityhall,cityhall", "a" * 33]:
        with pytest.raises(ConfigInvalid):
            parse_org_names(bad)


def test_layout_is_cryptogens(network: NetworkMaterial) -> None:
    root = network.organizations_dir
    assert sorted(p.name for p in (root / "peerOrganizations").iterdir()) == [
        "cityhall.mvote.local",
        "district.mvote.local",
        "education.mvote.local",
    ]
    assert [p.name for p in (root / "ordererOrganizations").iterdir()] == ["mvote.local"]
    for org in all_orgs(network):
        assert files_under(org.directory) == expected_org_files(org), org.msp_id
        # NodeOUs: admins are recognised by OU, so every admincerts folder exists and is empty.
        admincerts = [org.msp_dir / "admincerts"] + [
            i.msp_dir / "admincerts" for i in org.identities
        ]
        for folder in admincerts:
            assert folder.is_dir() and not any(folder.iterdir()), folder
    assert (network.directory / "genesis.block").is_file()
    assert (network.directory / "mvote-node.yaml").is_file()


def test_certificates_chain_to_their_ca(network: NetworkMaterial) -> None:
    for org in all_orgs(network):
        ca = x509.load_pem_x509_certificate(org.ca_cert_path.read_bytes())
        tlsca = x509.load_pem_x509_certificate(org.tlsca_cert_path.read_bytes())
        ca.verify_directly_issued_by(ca)
        tlsca.verify_directly_issued_by(tlsca)
        for ident in org.identities:
            cert = ident.certificate()
            cert.verify_directly_issued_by(ca)
            tls = x509.load_pem_x509_certificate(ident.tls_cert_path.read_bytes())
            tls.verify_directly_issued_by(tlsca)
            # The two CAs are distinct: an enrollment certificate does not chain to the TLS CA.
            with pytest.raises(ValueError):
                cert.verify_directly_issued_by(tlsca)
            assert ident.tls_ca_path.read_bytes() == org.tlsca_cert_path.read_bytes()


def test_node_ous_in_subjects(network: NetworkMaterial) -> None:
    expected = {}
    for org in network.peer_orgs:
        expected[org.node.name] = "peer"
        expected[f"Admin@{org.domain}"] = "admin"
        expected[f"User1@{org.domain}"] = "client"
    expected[network.orderer_org.node.name] = "orderer"
    expected["Admin@mvote.local"] = "admin"
    seen = {}
    for org in all_orgs(network):
        for ident in org.identities:
            cert = ident.certificate()
            cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            ous = [
                a.value
                for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
            ]
            assert cn == ident.name
            seen[cn] = ous[0] if len(ous) == 1 else ous
    assert seen == expected


def test_keys_are_pkcs8_and_match_certificates(network: NetworkMaterial) -> None:
    for org in all_orgs(network):
        pairs = [(org.ca_cert_path, org.ca_key_path), (org.tlsca_cert_path, org.tlsca_key_path)]
        for ident in org.identities:
            pairs += [(ident.cert_path, ident.key_path), (ident.tls_cert_path, ident.tls_key_path)]
        for cert_path, key_path in pairs:
            pem = key_path.read_bytes()
            assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n"), key_path
            assert stat.S_IMODE(key_path.stat().st_mode) == 0o600, key_path
            key = serialization.load_pem_private_key(pem, None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            assert isinstance(key.curve, ec.SECP256R1)
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            assert key.public_key() == cert.public_key(), key_path
    # And keys differ across identities: nothing is reused.
    keys = {p.read_bytes() for org in all_orgs(network) for p in org.directory.rglob("*_sk")}
    keys |= {p.read_bytes() for org in all_orgs(network) for p in org.directory.rglob("*.key")}
    assert len(keys) == sum(2 + 2 * len(o.identities) for o in all_orgs(network))


def test_config_yaml_points_at_the_ca(network: NetworkMaterial) -> None:
    for org in all_orgs(network):
        for msp_dir in [org.msp_dir] + [i.msp_dir for i in org.identities]:
            text = (msp_dir / "config.yaml").read_text()
            assert text == node_ou_config_yaml(f"cacerts/ca.{org.domain}-cert.pem")
            doc = yaml.safe_load(text)
            node_ous = doc["NodeOUs"]
            assert node_ous["Enable"] is True
            for key, ou in [
                ("ClientOUIdentifier", "client"),
                ("PeerOUIdentifier", "peer"),
                ("AdminOUIdentifier", "admin"),
                ("OrdererOUIdentifier", "orderer"),
            ]:
                assert node_ous[key]["OrganizationalUnitIdentifier"] == ou
                target = msp_dir / node_ous[key]["Certificate"]
                assert target.read_bytes() == org.ca_cert_path.read_bytes()


# --- certificate shapes against the golden network ---------------------------------------------


def golden_certificates(golden_path: Callable[[str], Path]) -> dict[str, x509.Certificate]:
    """CA, TLS CA, consenter TLS, peer, admin, client and orderer certificates of the golden
    chain: block 0's MSPs and consenter, block 1's admin creator, endorser and orderer signer,
    block 5's client creator."""
    out: dict[str, x509.Certificate] = {}
    block0 = common_pb2.Block.FromString(golden_path("000000.block").read_bytes())
    env = common_pb2.Envelope.FromString(block0.data.data[0])
    config = configtx_pb2.ConfigEnvelope.FromString(
        common_pb2.Payload.FromString(env.payload).data
    ).config
    org = config.channel_group.groups["Application"].groups["Org1MSP"]
    msp = msp_config_pb2.FabricMSPConfig.FromString(
        msp_config_pb2.MSPConfig.FromString(org.values["MSP"].value).config
    )
    out["ca"] = x509.load_pem_x509_certificate(msp.root_certs[0])
    out["tlsca"] = x509.load_pem_x509_certificate(msp.tls_root_certs[0])
    consensus = orderer_pb2.ConsensusType.FromString(
        config.channel_group.groups["Orderer"].values["ConsensusType"].value
    )
    raft = etcdraft_pb2.ConfigMetadata.FromString(consensus.metadata)
    out["orderer-tls"] = x509.load_pem_x509_certificate(raft.consenters[0].server_tls_cert)

    def identity(raw: bytes) -> x509.Certificate:
        return x509.load_pem_x509_certificate(
            identities_pb2.SerializedIdentity.FromString(raw).id_bytes
        )

    block1 = common_pb2.Block.FromString(golden_path("000001.block").read_bytes())
    meta = common_pb2.Metadata.FromString(block1.metadata.metadata[0])
    out["orderer"] = identity(
        common_pb2.SignatureHeader.FromString(meta.signatures[0].signature_header).creator
    )
    payload = common_pb2.Payload.FromString(
        common_pb2.Envelope.FromString(block1.data.data[0]).payload
    )
    out["admin"] = identity(
        common_pb2.SignatureHeader.FromString(payload.header.signature_header).creator
    )
    tx = transaction_pb2.Transaction.FromString(payload.data)
    action = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    out["peer"] = identity(action.action.endorsements[0].endorser)
    block5 = common_pb2.Block.FromString(golden_path("000005.block").read_bytes())
    payload5 = common_pb2.Payload.FromString(
        common_pb2.Envelope.FromString(block5.data.data[0]).payload
    )
    out["client"] = identity(
        common_pb2.SignatureHeader.FromString(payload5.header.signature_header).creator
    )
    return out


def cert_shape(cert: x509.Certificate) -> dict[str, object]:
    """What must agree with cryptogen: subject attribute order and string types, the extension
    list (order, criticality, values), the key and signature algorithms, the validity span.
    What may differ: names, keys, serials, dates, key identifiers (only their length counts) and
    SAN values (only their kinds count)."""
    extensions: list[tuple[str, bool, object]] = []
    for ext in cert.extensions:
        value: object = ext.value
        if isinstance(value, x509.SubjectKeyIdentifier):
            value = len(value.digest)
        elif isinstance(value, x509.AuthorityKeyIdentifier):
            value = (
                len(value.key_identifier or b""),
                value.authority_cert_issuer,
                value.authority_cert_serial_number,
            )
        elif isinstance(value, x509.SubjectAlternativeName):
            value = [type(n).__name__ for n in value]
        extensions.append((ext.oid.dotted_string, ext.critical, value))
    return {
        "version": cert.version,
        "subject": [(a.oid.dotted_string, a._type) for a in cert.subject],
        "issuer": [(a.oid.dotted_string, a._type) for a in cert.issuer],
        "extensions": extensions,
        "signature": cert.signature_algorithm_oid.dotted_string,
        "key": type(cert.public_key()).__name__
        + getattr(cert.public_key(), "curve", ec.SECP256R1()).name,
        "validity": cert.not_valid_after_utc - cert.not_valid_before_utc,
        "serial_bits_le_128": cert.serial_number.bit_length() <= 128,
        "minute_aligned": cert.not_valid_before_utc.second == 0,
    }


def test_certificate_shapes_match_golden(
    network: NetworkMaterial, golden: Callable[[str], Path]
) -> None:
    golden_certs = golden_certificates(golden)
    org = network.org("cityhall")
    orderer = network.orderer_org
    ours = {
        "ca": x509.load_pem_x509_certificate(org.ca_cert_path.read_bytes()),
        "tlsca": x509.load_pem_x509_certificate(org.tlsca_cert_path.read_bytes()),
        "orderer-tls": x509.load_pem_x509_certificate(orderer.node.tls_cert_path.read_bytes()),
        "orderer": orderer.node.certificate(),
        "admin": org.admin.certificate(),
        "peer": org.node.certificate(),
        "client": org.client.certificate(),
    }
    for role, cert in golden_certs.items():
        assert cert_shape(ours[role]) == cert_shape(cert), role
    # Also the orderer org's own CA, and its admin, like the golden ones.
    assert cert_shape(
        x509.load_pem_x509_certificate(orderer.ca_cert_path.read_bytes())
    ) == cert_shape(golden_certs["ca"])
    assert cert_shape(orderer.admin.certificate()) == cert_shape(golden_certs["admin"])


def test_ca_subject_and_key_identifiers(network: NetworkMaterial) -> None:
    for org in all_orgs(network):
        for path, cn in [
            (org.ca_cert_path, f"ca.{org.domain}"),
            (org.tlsca_cert_path, f"tlsca.{org.domain}"),
        ]:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            assert cert.subject.rfc4514_string() == (
                f"CN={cn},O={org.domain},L=San Francisco,ST=California,C=US"
            )
            assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(
                days=3650
            )
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            point = cert.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            assert ski == hashlib.sha256(point).digest() == subject_key_id(cert.public_key())  # type: ignore[arg-type]
        ca = x509.load_pem_x509_certificate(org.ca_cert_path.read_bytes())
        ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        for ident in org.identities:
            aki = ident.certificate().extensions.get_extension_for_class(
                x509.AuthorityKeyIdentifier
            )
            assert aki.value.key_identifier == ca_ski


def test_tls_certificates(network: NetworkMaterial) -> None:
    for org in all_orgs(network):
        node_tls = x509.load_pem_x509_certificate(org.node.tls_cert_path.read_bytes())
        san = node_tls.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        short = org.node.name.split(".")[0]
        assert san.get_values_for_type(x509.DNSName) == [org.node.name, short, "localhost"]
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        eku = node_tls.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        assert org.node.tls_cert_path.name == "server.crt"
        for user in [org.admin, *org.users]:
            tls = x509.load_pem_x509_certificate(user.tls_cert_path.read_bytes())
            assert user.tls_cert_path.name == "client.crt"
            with pytest.raises(x509.ExtensionNotFound):
                tls.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)


def test_every_certificate_signature_is_low_s(network: NetworkMaterial) -> None:
    for org in all_orgs(network):
        for path in org.directory.rglob("*"):
            if path.is_file() and (path.suffix in (".pem", ".crt")):
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                _, s = decode_dss_signature(cert.signature)
                assert s <= P256_ORDER // 2, path


def test_verify_org_material_detects_tampering(network: NetworkMaterial, tmp_path: Path) -> None:
    copy = tmp_path / "net"
    shutil.copytree(network.directory, copy)
    loaded = load_network(copy)
    cityhall, district = loaded.org("cityhall"), loaded.org("district")
    verify_org_material(cityhall)

    # A key that is not the certificate's.
    shutil.copy(district.node.key_path, cityhall.node.key_path)
    with pytest.raises(MaterialInvalid, match="does not match"):
        verify_org_material(cityhall)
    shutil.copy(network.org("cityhall").node.key_path, cityhall.node.key_path)
    verify_org_material(cityhall)

    # An enrollment certificate from another organisation's CA.
    shutil.copy(district.client.cert_path, cityhall.client.cert_path)
    with pytest.raises(MaterialInvalid, match="not issued by"):
        verify_org_material(cityhall)
    shutil.copy(network.org("cityhall").client.cert_path, cityhall.client.cert_path)

    # A missing file.
    os.remove(cityhall.admin.tls_key_path)
    with pytest.raises(MaterialInvalid, match="cannot read"):
        load_network(copy)


def test_load_network_refuses_a_foreign_genesis_block(
    network: NetworkMaterial, tmp_path: Path
) -> None:
    other = init_network(tmp_path / "other", "cityhall,district,education")
    assert other.genesis_hash != network.genesis_hash
    shutil.copy(network.genesis_path, other.genesis_path)
    with pytest.raises(MaterialInvalid, match="CA certificates"):
        load_network(other.directory)


def test_init_refuses_an_existing_network(network: NetworkMaterial) -> None:
    with pytest.raises(NetworkExists):
        init_network(network.directory, "cityhall")
    # And leaves it untouched.
    assert load_network(network.directory).genesis_hash == network.genesis_hash


def test_init_with_bad_names_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid):
        init_network(tmp_path / "x", "cityhall,City Hall")
    assert not (tmp_path / "x").exists()
