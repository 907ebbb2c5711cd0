"""Fabric X.509 MSPs: deserialize identities, validate them, classify roles, match principals.

Mirrors Fabric's ``msp/mspimpl*.go`` (the v1.4.3+ behaviour with NodeOUs) for what a channel's
policies need: SerializedIdentity -> certificate -> unique chain to a root of the MSP -> NodeOU
role -> MSPPrincipal satisfaction.

Certificate validity is judged at the leaf's own notBefore plus one second, never at the wall
clock. That is Fabric's rule too (FAB-3678, ``getValidityOptsForCert``), and it is the only one
an audit can use: the audit runs years after the certificates expired, and a signature made
while a certificate was valid stays valid evidence.

Certificates and identities arrive from anyone (a proposal's creator, an endorsement, a block's
signer), so every parse of their bytes ends in :class:`BadIdentity` whatever the parser raised,
and what is remembered about them is bounded: the identities deserialized and the validation
verdicts (as compact texts, never exception objects with their tracebacks) each keep their
:data:`~mvote.verifier._memo.MEMO_ENTRIES` most recently used entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding
from fabric_protos.msp import identities_pb2, msp_config_pb2, msp_principal_pb2

from mvote.verifier._envelope import parse_proto
from mvote.verifier._errors import BadConfig, BadIdentity, UnknownMSP
from mvote.verifier._memo import Memo
from mvote.verifier._signatures import P256_HALF_ORDER, P256_ORDER

MSP_TYPE_FABRIC = 0
_MAX_CHAIN_DEPTH = 8


@dataclass(frozen=True)
class Verdict:
    """A remembered validation answer: None for a valid identity, else the refusal's text."""

    message: str | None = None
    field: str | None = None


_VALID = Verdict()


class Role(IntEnum):
    """``msp.MSPRole.MSPRoleType`` values."""

    MEMBER = 0
    ADMIN = 1
    CLIENT = 2
    PEER = 3
    ORDERER = 4


class PrincipalClass(IntEnum):
    """``msp.MSPPrincipal.Classification`` values."""

    ROLE = 0
    ORGANIZATION_UNIT = 1
    IDENTITY = 2
    ANONYMITY = 3
    COMBINED = 4


# --- DER surgery for Fabric's certificate sanitisation ------------------------------------------


def _der_read(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER TLV at ``pos``."""
    if pos + 2 > len(buf):
        raise ValueError("truncated DER")
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise ValueError("bad DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def sanitize_cert_der(der: bytes) -> bytes:
    """The certificate with its ECDSA signature's S forced low, as Fabric's sanitizeCert does.

    Fabric identifies an identity by the hash of its *sanitized* certificate, so the high-S
    twin of a certificate (same TBS, signature (r, n-s), equally valid) is the same identity
    and cannot be counted twice by a policy. Non-ECDSA certificates are returned unchanged.
    """
    tag, start, end = _der_read(der, 0)
    if tag != 0x30:
        raise ValueError("certificate is not a SEQUENCE")
    _, _, tbs_end = _der_read(der, start)
    _, _, alg_end = _der_read(der, tbs_end)
    sig_tag, sig_start, sig_end = _der_read(der, alg_end)
    if sig_tag != 0x03 or sig_end != end or der[sig_start] != 0:
        raise ValueError("certificate signature is not a BIT STRING")
    sig = der[sig_start + 1 : sig_end]
    try:
        r, s = decode_dss_signature(sig)
    except ValueError:
        return der
    if s <= P256_HALF_ORDER:
        return der
    new_sig = b"\x00" + encode_dss_signature(r, P256_ORDER - s)
    body = der[start:tbs_end] + der[tbs_end:alg_end] + b"\x03" + _der_len(len(new_sig)) + new_sig
    return b"\x30" + _der_len(len(body)) + body


# --- identities ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MSPIdentity:
    """A deserialized X.509 identity (certificate sanitized as Fabric does)."""

    mspid: str
    serialized: bytes
    cert: x509.Certificate
    cert_der: bytes

    @property
    def id(self) -> str:
        """Fabric's IdentityIdentifier.Id: SHA-256 of the sanitized certificate."""
        return hashlib.sha256(self.cert_der).hexdigest()

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        key = self.cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise BadIdentity(
                f"identity {self.mspid}: expected an ECDSA public key, got {type(key).__name__}",
                field="identity.public_key",
            )
        return key


def deserialize_identity(serialized: bytes) -> tuple[str, bytes]:
    """(mspid, id_bytes) of a ``msp.SerializedIdentity``."""
    sid = parse_proto(identities_pb2.SerializedIdentity, serialized, "serialized_identity")
    return str(sid.mspid), bytes(sid.id_bytes)


def load_certificate(pem_or_der: bytes, what: str) -> x509.Certificate:
    """A certificate from PEM (as Fabric stores them) or DER; sanitized to low-S.

    Raises :class:`BadIdentity` for bytes that are not one. cryptography refuses malformed
    certificates with many exception types (ValueError, TypeError, ``x509.InvalidVersion``,
    ``x509.DuplicateExtension``, ``UnsupportedAlgorithm``, ...), some only when a part is first
    read; this is the parse of untrusted bytes, so any of them is that refusal.
    """
    try:
        if b"-----BEGIN" in pem_or_der:
            cert = x509.load_pem_x509_certificate(pem_or_der)
        else:
            cert = x509.load_der_x509_certificate(pem_or_der)
        der = cert.public_bytes(Encoding.DER)
        clean = sanitize_cert_der(der)
        cert = cert if clean == der else x509.load_der_x509_certificate(clean)
        # cryptography parses a certificate's parts lazily: touch every part this verifier
        # uses now, so a malformed one is refused here with a typed error, not later mid-check.
        cert.public_key()
        _ = cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc
        _ = list(cert.extensions), cert.signature_hash_algorithm
        return cert
    except Exception as exc:  # any failure to parse untrusted bytes is the typed refusal
        raise BadIdentity(
            f"{what}: expected a well-formed X.509 certificate, got bytes that do not parse "
            f"({type(exc).__name__}: {exc})",
            field=what,
        ) from exc


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    # InvalidSignature, ValueError, TypeError, or whatever an unusual certificate makes
    # cryptography raise: not signed by ``issuer``.
    except Exception:
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        # Absent, repeated or unparsable extensions: not a certificate authority.
        return False
    return bool(bc.ca)


@dataclass(frozen=True)
class NodeOU:
    ou: str
    #: SHA-256 over the DER of the chain of the certificate the config names; empty: any.
    certifiers: bytes


@dataclass
class MSP:
    """One organisation's X.509 MSP, built from its ``FabricMSPConfig``."""

    name: str
    roots: list[x509.Certificate]
    intermediates: list[x509.Certificate]
    admins: set[bytes]
    node_ous: bool
    client_ou: NodeOU | None = None
    peer_ou: NodeOU | None = None
    admin_ou: NodeOU | None = None
    orderer_ou: NodeOU | None = None
    ou_identifiers: list[NodeOU] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    #: Validation verdicts by sanitized certificate DER (bounded; texts, not exceptions).
    _validated: Memo[bytes, Verdict] = field(default_factory=Memo, repr=False)

    # -- construction --

    @classmethod
    def from_config(cls, msp_config: bytes) -> MSP:
        """Precondition: ``msp_config`` is a serialized ``msp.MSPConfig`` of type FABRIC."""
        mc = parse_proto(msp_config_pb2.MSPConfig, msp_config, "msp_config")
        if int(mc.type) != MSP_TYPE_FABRIC:
            raise BadConfig(
                f"msp_config.type: expected FABRIC (0), got {int(mc.type)}", field="msp_config.type"
            )
        fc = parse_proto(msp_config_pb2.FabricMSPConfig, mc.config, "msp_config.config")
        name = str(fc.name)
        try:
            roots = [load_certificate(bytes(c), f"{name}.root_certs") for c in fc.root_certs]
            inters = [
                load_certificate(bytes(c), f"{name}.intermediate_certs")
                for c in fc.intermediate_certs
            ]
            admins = {_der(load_certificate(bytes(c), f"{name}.admins")) for c in fc.admins}
        except BadIdentity as exc:
            raise BadConfig(exc.message, field=exc.field) from exc
        if not roots:
            raise BadConfig(
                f"msp {name}: expected at least one root cert, got none", field="root_certs"
            )
        crls = [_load_crl(bytes(raw), name) for raw in fc.revocation_list]
        msp = cls(
            name=name, roots=roots, intermediates=inters, admins=admins, node_ous=False, crls=crls
        )
        msp.ou_identifiers = [
            msp._node_ou(o.organizational_unit_identifier, bytes(o.certificate))
            for o in fc.organizational_unit_identifiers
        ]
        if fc.HasField("fabric_node_ous") and fc.fabric_node_ous.enable:
            msp._enable_node_ous(fc.fabric_node_ous)
        return msp

    def _enable_node_ous(self, nous: Any) -> None:
        """Turn NodeOUs on with the client/peer/admin/orderer OUs of a ``FabricNodeOUs``."""
        self.node_ous = True
        for attr in ("client", "peer", "admin", "orderer"):
            ident = getattr(nous, f"{attr}_ou_identifier")
            if nous.HasField(f"{attr}_ou_identifier"):
                setattr(
                    self,
                    f"{attr}_ou",
                    self._node_ou(
                        str(ident.organizational_unit_identifier), bytes(ident.certificate)
                    ),
                )

    def _node_ou(self, ou: str, cert_pem: bytes) -> NodeOU:
        if not cert_pem:
            return NodeOU(str(ou), b"")
        cert = load_certificate(cert_pem, f"{self.name}.node_ou.certificate")
        der = _der(cert)
        if any(_der(r) == der for r in self.roots):
            chain = [cert]
        elif any(_der(i) == der for i in self.intermediates):
            chain = self._chain(cert)
        else:
            raise BadConfig(
                f"msp {self.name}: NodeOU {ou} names a certificate that is not a root or intermediate",
                field="fabric_node_ous",
            )
        return NodeOU(str(ou), hashlib.sha256(b"".join(_der(c) for c in chain)).digest())

    # -- chains --

    def _chain(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """The unique chain [cert, ..., root], each link checked at cert.notBefore + 1s."""
        at = cert.not_valid_before_utc + timedelta(seconds=1)
        root_ders = {_der(r) for r in self.roots}
        chains: list[list[x509.Certificate]] = []

        def extend(path: list[x509.Certificate]) -> None:
            top = path[-1]
            if _der(top) in root_ders:
                chains.append(path)
                return
            if len(path) > _MAX_CHAIN_DEPTH:
                return
            for cand in self.intermediates + self.roots:
                if any(_der(cand) == _der(p) for p in path):
                    continue
                if cand.subject != top.issuer or not _signed_by(top, cand):
                    continue
                if not cand.not_valid_before_utc <= at <= cand.not_valid_after_utc:
                    continue
                if _der(cand) not in root_ders and not _is_ca(cand):
                    continue
                extend([*path, cand])

        extend([cert])
        if len(chains) != 1:
            raise BadIdentity(
                f"identity of {self.name}: expected exactly one certification chain to a root of "
                f"the MSP, got {len(chains)}",
                field="identity.certificate",
            )
        return chains[0]

    def certification_chain(self, identity: MSPIdentity) -> list[x509.Certificate]:
        """[leaf, ..., root]; raises :class:`BadIdentity` if the identity is not of this MSP."""
        if _is_ca(identity.cert):
            raise BadIdentity(
                f"identity of {self.name}: expected a non-CA certificate, got one with CA=true",
                field="identity.certificate",
            )
        leaf_at = identity.cert.not_valid_before_utc + timedelta(seconds=1)
        if leaf_at > identity.cert.not_valid_after_utc:
            raise BadIdentity(
                f"identity of {self.name}: expected a validity period, got notAfter before notBefore",
                field="identity.certificate",
            )
        return self._chain(identity.cert)

    def _ous(self, identity: MSPIdentity, chain: list[x509.Certificate]) -> list[tuple[str, bytes]]:
        certifiers = hashlib.sha256(b"".join(_der(c) for c in chain[1:])).digest()
        ous = identity.cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
        return [(str(a.value), certifiers) for a in ous]

    def _check_revoked(self, identity: MSPIdentity, chain: list[x509.Certificate]) -> None:
        for crl in self.crls:
            for issuer in chain[1:]:
                if crl.issuer != issuer.subject:
                    continue
                if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                    continue
                for link in chain[:-1]:
                    if crl.get_revoked_certificate_by_serial_number(link.serial_number) is not None:
                        raise BadIdentity(
                            f"identity of {self.name}: certificate serial {link.serial_number} is revoked",
                            field="identity.certificate",
                        )

    def validate(self, identity: MSPIdentity) -> None:
        """Fabric's MSP.Validate: chain, revocation, and (with NodeOUs) exactly one role OU."""
        verdict = self._validated.get(identity.cert_der)
        if verdict is None:
            try:
                self._validate(identity)
                verdict = _VALID
            except BadIdentity as exc:
                verdict = Verdict(exc.message, exc.field)
            self._validated[identity.cert_der] = verdict
        if verdict.message is not None:
            raise BadIdentity(verdict.message, field=verdict.field)

    def _validate(self, identity: MSPIdentity) -> None:
        """Fabric's validateIdentity: this MSP's, chains to its roots, not revoked, carries one
        of its OUs (if it names any) and exactly one NodeOU role (if NodeOUs are on)."""
        if identity.mspid != self.name:
            raise BadIdentity(
                f"identity: expected MSP {self.name}, got {identity.mspid}", field="identity.mspid"
            )
        chain = self.certification_chain(identity)
        self._check_revoked(identity, chain)
        ous = self._ous(identity, chain)
        self._check_ou_identifiers(ous)
        if self.node_ous:
            self._check_one_node_role(ous)

    def _check_ou_identifiers(self, ous: list[tuple[str, bytes]]) -> None:
        """Precondition: ``ous`` are the identity's OUs with their certifiers (``_ous``)."""
        if self.ou_identifiers and not any(
            ou == want.ou and (not want.certifiers or cid == want.certifiers)
            for ou, cid in ous
            for want in self.ou_identifiers
        ):
            raise BadIdentity(
                f"identity of {self.name}: expected one of the MSP's OUs, got {[o for o, _ in ous]}",
                field="identity.certificate.subject.OU",
            )

    def _check_one_node_role(self, ous: list[tuple[str, bytes]]) -> None:
        """Precondition: NodeOUs are on; ``ous`` as for :meth:`_check_ou_identifiers`."""
        roles = [ou for ou in (self.client_ou, self.peer_ou, self.admin_ou, self.orderer_ou) if ou]
        counter = 0
        for ou, cid in ous:
            match = next((r for r in roles if r.ou == ou), None)
            if match is None:
                continue
            if match.certifiers and match.certifiers != cid:
                raise BadIdentity(
                    f"identity of {self.name}: OU {ou} certified by another chain than the MSP's",
                    field="identity.certificate.subject.OU",
                )
            counter += 1
        if counter != 1:
            raise BadIdentity(
                f"identity of {self.name}: expected exactly one of the client, peer, admin, "
                f"orderer OUs, got {counter} (OUs {[o for o, _ in ous]})",
                field="identity.certificate.subject.OU",
            )

    def is_valid(self, identity: MSPIdentity) -> bool:
        try:
            self.validate(identity)
        except BadIdentity:
            return False
        return True

    # -- roles --

    def has_ou_role(self, identity: MSPIdentity, role: Role) -> bool:
        """Fabric's hasOURole: the identity carries the OU configured for ``role``."""
        if not self.node_ous:
            return False
        node_ou = {
            Role.CLIENT: self.client_ou,
            Role.PEER: self.peer_ou,
            Role.ADMIN: self.admin_ou,
            Role.ORDERER: self.orderer_ou,
        }.get(role)
        if node_ou is None:
            return False
        subj = identity.cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
        return any(str(a.value) == node_ou.ou for a in subj)

    def satisfies_role(self, identity: MSPIdentity, role: Role) -> bool:
        """Fabric v1.4.2+ ``satisfiesPrincipal`` for a ROLE principal of this MSP."""
        if identity.mspid != self.name:
            return False
        if role == Role.MEMBER:
            return self.is_valid(identity)
        if role == Role.ADMIN:
            # Admins named in the config are trusted as listed, without chain validation,
            # exactly as Fabric's isInAdmins check runs before Validate.
            if identity.cert_der in self.admins:
                return True
            return self.is_valid(identity) and self.has_ou_role(identity, Role.ADMIN)
        return self.is_valid(identity) and self.has_ou_role(identity, role)


@dataclass
class MSPManager:
    """The channel's MSPs by id; deserializes identities against them."""

    msps: dict[str, MSP]
    #: Deserialized identities by their serialized bytes (bounded).
    _cache: Memo[bytes, MSPIdentity] = field(default_factory=Memo, repr=False)
    #: Compiled signature policies by their envelope bytes (see policy.evaluate_signature_policy).
    compiled_policies: Memo[bytes, Any] = field(default_factory=Memo, repr=False)

    def deserialize(self, serialized: bytes) -> MSPIdentity:
        """MSPIdentity of a ``SerializedIdentity``; does not validate it (see :meth:`MSP.validate`)."""
        cached = self._cache.get(serialized)
        if cached is not None:
            return cached
        mspid, id_bytes = deserialize_identity(serialized)
        msp = self.msps.get(mspid)
        if msp is None:
            raise UnknownMSP(
                f"identity.mspid: expected one of {sorted(self.msps)}, got {mspid!r}",
                field="identity.mspid",
            )
        if b"-----BEGIN" not in id_bytes:
            raise BadIdentity(
                f"identity of {mspid}: expected PEM certificate bytes, got {len(id_bytes)} other bytes",
                field="identity.id_bytes",
            )
        cert = load_certificate(id_bytes, "identity.id_bytes")
        ident = MSPIdentity(mspid=mspid, serialized=serialized, cert=cert, cert_der=_der(cert))
        self._cache[serialized] = ident
        return ident

    def validate(self, identity: MSPIdentity) -> None:
        self.msps[identity.mspid].validate(identity)

    def satisfies_principal(self, identity: MSPIdentity, principal: object) -> bool:
        """Whether ``identity`` satisfies a ``msp.MSPPrincipal`` message (Fabric semantics):
        one check per principal classification (:data:`_PRINCIPAL_CHECKS`); an unknown
        classification or MSP is never satisfied."""
        cls = int(principal.principal_classification)  # type: ignore[attr-defined]
        body = bytes(principal.principal)  # type: ignore[attr-defined]
        msp = self.msps.get(identity.mspid)
        check = _PRINCIPAL_CHECKS.get(cls)
        if msp is None or check is None:
            return False
        return check(self, msp, identity, body)

    def _satisfies_role(self, msp: MSP, identity: MSPIdentity, body: bytes) -> bool:
        role = parse_proto(msp_principal_pb2.MSPRole, body, "msp_principal.principal (MSPRole)")
        if str(role.msp_identifier) != identity.mspid:
            return False
        try:
            r = Role(int(role.role))
        except ValueError:
            return False
        return msp.satisfies_role(identity, r)

    def _satisfies_identity(self, msp: MSP, identity: MSPIdentity, body: bytes) -> bool:
        try:
            other = self.deserialize(body)
        except (BadIdentity, UnknownMSP):
            return False
        return other.cert_der == identity.cert_der and msp.is_valid(identity)

    def _satisfies_ou(self, msp: MSP, identity: MSPIdentity, body: bytes) -> bool:
        ou = parse_proto(
            msp_principal_pb2.OrganizationUnit,
            body,
            "msp_principal.principal (OrganizationUnit)",
        )
        if str(ou.msp_identifier) != identity.mspid or not msp.is_valid(identity):
            return False
        chain = msp.certification_chain(identity)
        return any(
            name == str(ou.organizational_unit_identifier)
            and cid == bytes(ou.certifiers_identifier)
            for name, cid in msp._ous(identity, chain)
        )

    def _satisfies_anonymity(self, msp: MSP, identity: MSPIdentity, body: bytes) -> bool:
        anon = parse_proto(
            msp_principal_pb2.MSPIdentityAnonymity, body, "msp_principal.principal (anonymity)"
        )
        # X.509 identities are never anonymous: they satisfy NOMINAL (0) only.
        return int(anon.anonymity_type) == 0

    def _satisfies_combined(self, msp: MSP, identity: MSPIdentity, body: bytes) -> bool:
        comb = parse_proto(
            msp_principal_pb2.CombinedPrincipal, body, "msp_principal.principal (combined)"
        )
        return len(comb.principals) > 0 and all(
            self.satisfies_principal(identity, sub) for sub in comb.principals
        )


def _load_crl(raw: bytes, msp_name: str) -> x509.CertificateRevocationList:
    """A PEM or DER CRL of MSP ``msp_name``'s revocation list, or BadConfig."""
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_crl(raw)
        return x509.load_der_x509_crl(raw)
    except Exception as exc:  # any failure to parse the bytes is the typed refusal
        raise BadConfig(
            f"msp {msp_name}.revocation_list: expected a CRL, got bytes that do not parse",
            field="revocation_list",
        ) from exc


#: One check per ``MSPPrincipal.principal_classification``.
_PRINCIPAL_CHECKS: dict[int, Callable[[MSPManager, MSP, MSPIdentity, bytes], bool]] = {
    PrincipalClass.ROLE: MSPManager._satisfies_role,
    PrincipalClass.IDENTITY: MSPManager._satisfies_identity,
    PrincipalClass.ORGANIZATION_UNIT: MSPManager._satisfies_ou,
    PrincipalClass.ANONYMITY: MSPManager._satisfies_anonymity,
    PrincipalClass.COMBINED: MSPManager._satisfies_combined,
}
