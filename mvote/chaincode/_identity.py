"""The transaction creator as the chaincode sees it: MSP id, certificate and NodeOU roles.

The peer has already checked the creator's signature and certificate chain against the channel's
MSPs before the chaincode runs (and the verifier re-checks it); here we only read who it is. Roles
come from the certificate subject's OU values, which is how Fabric classifies identities when
NodeOUs are enabled (cryptogen and Fabric CA use the OU names ``admin``, ``client``, ``peer`` and
``orderer``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID
from fabric_protos.msp import identities_pb2
from google.protobuf.message import DecodeError

from ._errors import Malformed, Unauthorised

ADMIN_OU = "admin"


@dataclass(frozen=True)
class Creator:
    msp_id: str
    organizational_units: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_OU in self.organizational_units


def parse_creator(serialized: bytes) -> Creator:
    identity = identities_pb2.SerializedIdentity()
    try:
        identity.ParseFromString(serialized)
    except DecodeError as exc:
        raise Malformed("creator: not a serialized MSP identity", field="creator") from exc
    if not identity.mspid:
        raise Malformed("creator: missing MSP id", field="creator")
    try:
        cert = x509.load_pem_x509_certificate(identity.id_bytes)
    except ValueError as exc:
        raise Malformed("creator: id_bytes is not a PEM certificate", field="creator") from exc
    units = frozenset(
        str(attribute.value)
        for attribute in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    )
    return Creator(msp_id=identity.mspid, organizational_units=units)


def require_admin(serialized_creator: bytes, action: str) -> Creator:
    creator = parse_creator(serialized_creator)
    if not creator.is_admin:
        raise Unauthorised(
            f"{action}: expected an admin identity of a channel organisation, got an identity of "
            f"{creator.msp_id} with roles {sorted(creator.organizational_units) or ['none']}",
            field="creator",
        )
    return creator


def require_owner(creator: Creator, owner_msp: str, action: str) -> None:
    if creator.msp_id != owner_msp:
        raise Unauthorised(
            f"{action}: expected an admin of the owning organisation {owner_msp}, "
            f"got {creator.msp_id}",
            field="creator",
        )
