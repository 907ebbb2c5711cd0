"""Fabric identities as a client, a peer, an orderer or an auditor presents them, and signers.

It lives beside the checks it mirrors (signatures.py, msp.py): the verifier signs too, when an
auditor reads a node's blocks through Deliver, which requires a signed request.

An identity is an MSP id and an X.509 certificate; Fabric carries it as a serialized
``msp.SerializedIdentity`` (a transaction's creator, an endorser, an orderer's block signer). A
signer makes ECDSA P-256 signatures over SHA-256 in DER with S in the lower half of the group
order, because Fabric refuses the other half.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.msp import identities_pb2

from mvote.chaincode._errors import InvalidField
from mvote.verifier._signatures import P256_HALF_ORDER, P256_ORDER

#: The signature algorithm, built once rather than per signature; it holds only the hash choice.
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def serialize_identity(msp_id: str, certificate_pem: bytes) -> bytes:
    """The bytes Fabric puts in a signature header's ``creator``."""
    return bytes(
        identities_pb2.SerializedIdentity(
            mspid=msp_id, id_bytes=certificate_pem
        ).SerializeToString()
    )


def sign_low_s(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA-SHA256 over ``data``, DER, with S folded into the lower half of the P-256 order."""
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise InvalidField(
            f"private key: expected a P-256 key, got {private_key.curve.name}", field="private key"
        )
    r, s = decode_dss_signature(private_key.sign(data, _ECDSA_SHA256))
    if s > P256_HALF_ORDER:
        s = P256_ORDER - s
    return encode_dss_signature(r, s)


@dataclass(frozen=True)
class Identity:
    msp_id: str
    certificate_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem)

    def serialize(self) -> bytes:
        return serialize_identity(self.msp_id, self.certificate_pem)


@dataclass(frozen=True)
class Signer:
    """Signs with one identity's private key."""

    identity: Identity
    private_key: ec.EllipticCurvePrivateKey

    def sign(self, data: bytes) -> bytes:
        return sign_low_s(self.private_key, data)

    @property
    def creator(self) -> bytes:
        return self.identity.serialize()


def _single_file(directory: Path, what: str) -> Path:
    files = sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
    if len(files) != 1:
        raise InvalidField(
            f"{directory}: expected exactly one {what} file, got {len(files)}", field=str(directory)
        )
    return files[0]


def load_signer(msp_dir: Path, msp_id: str) -> Signer:
    """The signing identity of a Fabric local MSP folder (``signcerts/`` and ``keystore/``)."""
    cert_pem = _single_file(msp_dir / "signcerts", "certificate").read_bytes()
    key = serialization.load_pem_private_key(
        _single_file(msp_dir / "keystore", "private key").read_bytes(), password=None
    )
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidField(f"{msp_dir}/keystore: expected an EC private key", field="keystore")
    identity = Identity(msp_id, cert_pem)
    if identity.certificate.public_key() != key.public_key():
        raise InvalidField(
            f"{msp_dir}: the keystore key does not match the signcerts certificate",
            field="keystore",
        )
    return Signer(identity, key)
