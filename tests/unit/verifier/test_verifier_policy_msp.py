"""Policies, MSP roles and certificate chains on freshly made real X.509 / ECDSA material."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2, configtx_pb2, policies_pb2
from fabric_protos.msp import identities_pb2, msp_config_pb2, msp_principal_pb2
from msp_support import node_role

from mvote.verifier._config import ChannelConfig, config_from_envelope
from mvote.verifier._errors import BadIdentity, HighS, SignatureMismatch
from mvote.verifier._msp import Role
from mvote.verifier._policy import (
    PolicyEvaluator,
    SignedData,
    evaluate_signature_policy,
    valid_identities,
)
from mvote.verifier._signatures import P256_ORDER, is_low_s, verify_p256_sha256
from mvote.verifier._transaction import ParsedTransaction

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _name(cn: str, ou: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, cn.split(".", 1)[-1])]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


@dataclass
class Org:
    mspid: str
    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate

    def issue(
        self, cn: str, ou: str | None, days: int = 365
    ) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, ou))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        pem = cert.public_bytes(serialization.Encoding.PEM)
        sid = identities_pb2.SerializedIdentity(mspid=self.mspid, id_bytes=pem)
        return key, sid.SerializeToString()


def _make_org(mspid: str) -> Org:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"ca.{mspid.lower()}.example.com")
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Org(mspid, key, ca)


def _msp_value(org: Org, admins: Sequence[bytes] = ()) -> bytes:
    pem = org.ca.public_bytes(serialization.Encoding.PEM)
    ous = msp_config_pb2.FabricNodeOUs(enable=True)
    for attr in ("client", "peer", "admin", "orderer"):
        getattr(ous, f"{attr}_ou_identifier").CopyFrom(
            msp_config_pb2.FabricOUIdentifier(certificate=pem, organizational_unit_identifier=attr)
        )
    fc = msp_config_pb2.FabricMSPConfig(
        name=org.mspid, root_certs=[pem], admins=list(admins), fabric_node_ous=ous
    )
    return bytes(
        msp_config_pb2.MSPConfig(type=0, config=fc.SerializeToString()).SerializeToString()
    )


def _role_principal(mspid: str, role: int) -> msp_principal_pb2.MSPPrincipal:
    r = msp_principal_pb2.MSPRole(msp_identifier=mspid, role=role)
    return msp_principal_pb2.MSPPrincipal(
        principal_classification=0, principal=r.SerializeToString()
    )


def _n_of(n: int, principals: list[msp_principal_pb2.MSPPrincipal]) -> bytes:
    rule = policies_pb2.SignaturePolicy(
        n_out_of=policies_pb2.SignaturePolicy.NOutOf(
            n=n, rules=[policies_pb2.SignaturePolicy(signed_by=i) for i in range(len(principals))]
        )
    )
    env = policies_pb2.SignaturePolicyEnvelope(rule=rule, identities=principals)
    return bytes(env.SerializeToString())


def _channel(orgs: list[Org], extra_admin: bytes | None = None) -> ChannelConfig:
    app = configtx_pb2.ConfigGroup(mod_policy="Admins")
    for org in orgs:
        g = configtx_pb2.ConfigGroup(mod_policy="Admins")
        admins = []
        if extra_admin is not None and org is orgs[0]:
            admins = [identities_pb2.SerializedIdentity.FromString(extra_admin).id_bytes]
        g.values["MSP"].value = _msp_value(org, admins)
        g.policies["Endorsement"].policy.CopyFrom(
            policies_pb2.Policy(type=1, value=_n_of(1, [_role_principal(org.mspid, 3)]))
        )
        app.groups[org.mspid].CopyFrom(g)
    meta = policies_pb2.ImplicitMetaPolicy(sub_policy="Endorsement", rule=2)
    app.policies["Endorsement"].policy.CopyFrom(
        policies_pb2.Policy(type=3, value=meta.SerializeToString())
    )
    root = configtx_pb2.ConfigGroup(mod_policy="Admins")
    root.groups["Application"].CopyFrom(app)
    env = configtx_pb2.ConfigEnvelope(config=configtx_pb2.Config(sequence=0, channel_group=root))
    return config_from_envelope(env, "testchannel")


@pytest.fixture(scope="module")
def orgs() -> list[Org]:
    return [_make_org(f"Org{i}MSP") for i in (1, 2, 3)]


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return encode_dss_signature(r, min(s, P256_ORDER - s))


def _signed(orgs_used: list[Org], data: bytes = b"payload", ou: str = "peer") -> list[SignedData]:
    out = []
    for org in orgs_used:
        key, sid = org.issue(f"peer0.{org.mspid}", ou)
        out.append(SignedData(data + sid, sid, _sign(key, data + sid)))
    return out


@pytest.mark.parametrize(("count", "ok"), [(0, False), (1, False), (2, True), (3, True)])
def test_majority_of_three(orgs: list[Org], count: int, ok: bool) -> None:
    cfg = _channel(orgs)
    satisfied, problems = PolicyEvaluator(cfg).evaluate_signed(
        "/Channel/Application/Endorsement", _signed(orgs[:count])
    )
    assert problems == []
    assert satisfied is ok


def test_majority_needs_peers_not_clients(orgs: list[Org]) -> None:
    cfg = _channel(orgs)
    satisfied, _ = PolicyEvaluator(cfg).evaluate_signed(
        "/Channel/Application/Endorsement", _signed(orgs[:2], ou="client")
    )
    assert not satisfied


def test_duplicate_signer_counted_once(orgs: list[Org]) -> None:
    cfg = _channel(orgs)
    one = _signed(orgs[:1])
    ids, _ = valid_identities(one + one, cfg.msps)
    assert len(ids) == 1
    # Two principals of the same org: the same identity twice cannot satisfy both.
    policy = _n_of(2, [_role_principal("Org1MSP", 3), _role_principal("Org1MSP", 3)])
    assert not evaluate_signature_policy(policy, ids, cfg.msps)
    two_peers = one + _signed(orgs[:1])
    ids2, _ = valid_identities(two_peers, cfg.msps)
    assert evaluate_signature_policy(policy, ids2, cfg.msps)


def test_n_out_of_with_member_principals(orgs: list[Org]) -> None:
    cfg = _channel(orgs)
    ids, _ = valid_identities(_signed(orgs[1:3], ou="client"), cfg.msps)
    principals = [_role_principal(o.mspid, 0) for o in orgs]
    assert evaluate_signature_policy(_n_of(2, principals), ids, cfg.msps)
    assert not evaluate_signature_policy(_n_of(3, principals), ids, cfg.msps)


def test_bad_signature_dropped_from_set(orgs: list[Org]) -> None:
    cfg = _channel(orgs)
    signed = _signed(orgs[:2])
    bad = SignedData(signed[1].data + b"x", signed[1].identity, signed[1].signature)
    satisfied, problems = PolicyEvaluator(cfg).evaluate_signed(
        "/Channel/Application/Endorsement", [signed[0], bad]
    )
    assert not satisfied
    assert [p.index for p in problems] == [1]
    assert isinstance(problems[0].error, SignatureMismatch)


@pytest.mark.parametrize(
    ("ou", "role"),
    [
        ("client", Role.CLIENT),
        ("peer", Role.PEER),
        ("admin", Role.ADMIN),
        ("orderer", Role.ORDERER),
    ],
)
def test_node_ou_classification(orgs: list[Org], ou: str, role: Role) -> None:
    cfg = _channel(orgs)
    _, sid = orgs[0].issue("x", ou)
    ident = cfg.msps.deserialize(sid)
    msp = cfg.msps.msps["Org1MSP"]
    assert node_role(msp, ident) == role
    assert msp.satisfies_role(ident, Role.MEMBER)
    for other in (Role.CLIENT, Role.PEER, Role.ADMIN, Role.ORDERER):
        assert msp.satisfies_role(ident, other) is (other == role)


def test_identity_without_node_ou_is_invalid(orgs: list[Org]) -> None:
    cfg = _channel(orgs)
    _, sid = orgs[0].issue("x", None)
    ident = cfg.msps.deserialize(sid)
    with pytest.raises(BadIdentity, match="exactly one of the client, peer, admin, orderer"):
        cfg.msps.validate(ident)
    assert not cfg.msps.msps["Org1MSP"].satisfies_role(ident, Role.MEMBER)


def test_explicit_admin_is_admin_without_admin_ou(orgs: list[Org]) -> None:
    _, sid = orgs[0].issue("boss", "client")
    cfg = _channel(orgs, extra_admin=sid)
    ident = cfg.msps.deserialize(sid)
    msp = cfg.msps.msps["Org1MSP"]
    assert msp.satisfies_role(ident, Role.ADMIN)
    assert node_role(msp, ident) == Role.CLIENT


def test_cert_chain_to_wrong_root_rejected(orgs: list[Org]) -> None:
    cfg = _channel(orgs)
    # Signed by Org2's CA but claiming to be Org1: no chain to Org1's root.
    _, sid = orgs[1].issue("impostor", "peer")
    forged = identities_pb2.SerializedIdentity.FromString(sid)
    forged.mspid = "Org1MSP"
    ident = cfg.msps.deserialize(forged.SerializeToString())
    with pytest.raises(BadIdentity, match="expected exactly one certification chain"):
        cfg.msps.validate(ident)
    assert not cfg.msps.msps["Org1MSP"].satisfies_role(ident, Role.PEER)


def test_expired_certificate_still_valid_for_audit(orgs: list[Org]) -> None:
    cfg = _channel(orgs)
    _, sid = orgs[0].issue("old-peer", "peer", days=1)  # expired long before today
    cfg.msps.validate(cfg.msps.deserialize(sid))


def test_low_s_enforced() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    data = b"block header"
    low = _sign(key, data)
    r, s = decode_dss_signature(low)
    high = encode_dss_signature(r, P256_ORDER - s)
    assert is_low_s(low) and not is_low_s(high)
    verify_p256_sha256(key.public_key(), data, low)
    # The high-S twin is a mathematically valid signature, and still refused.
    key.public_key().verify(high, data, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(HighS):
        verify_p256_sha256(key.public_key(), data, high)
    with pytest.raises(SignatureMismatch):
        verify_p256_sha256(key.public_key(), data + b"!", low)


def test_malformed_inputs_are_typed_errors() -> None:
    from mvote.verifier._envelope import unpack_block, unpack_rwset
    from mvote.verifier._errors import BadSignatureEncoding, MalformedProto

    with pytest.raises(MalformedProto, match="block"):
        unpack_block(b"\xff\xff\xff")
    with pytest.raises(MalformedProto):
        ParsedTransaction.parse(common_pb2.Envelope(payload=b"\x0a\xff").SerializeToString())
    with pytest.raises(MalformedProto, match="results"):
        unpack_rwset(b"\x12\x05abc")
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(BadSignatureEncoding):
        verify_p256_sha256(key.public_key(), b"x", _sign(key, b"x") + b"\x00")
