"""Fabric identities as a client presents them: an MSP id and an X.509 certificate.

A transaction's creator and a proposal's signer are a serialized ``msp.SerializedIdentity``.
"""

from __future__ import annotations

from fabric_protos.msp import identities_pb2


def serialize_identity(msp_id: str, certificate_pem: bytes) -> bytes:
    """The bytes Fabric puts in a signature header's ``creator``."""
    return bytes(
        identities_pb2.SerializedIdentity(
            mspid=msp_id, id_bytes=certificate_pem
        ).SerializeToString()
    )
