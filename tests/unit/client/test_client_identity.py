"""Signing identities: Fabric needs DER ECDSA with low S, and keys loaded from MSP folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.msp import identities_pb2

from mvote.chaincode._errors import InvalidField
from mvote.client._identity import load_signer, sign_low_s
from mvote.node.material import init_network
from mvote.verifier._signatures import is_low_s, verify_p256_sha256


def test_sign_low_s_always_folds_and_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    high_seen = False
    for i in range(64):
        data = f"message {i}".encode()
        signature = sign_low_s(key, data)
        assert is_low_s(signature)
        verify_p256_sha256(key.public_key(), data, signature)
        high_seen |= not is_low_s(key.sign(data, ec.ECDSA(hashes.SHA256())))
    # Plain signatures are high-S about half the time: the fold is doing work.
    assert high_seen


def test_sign_low_s_refuses_other_curves() -> None:
    with pytest.raises(InvalidField):
        sign_low_s(ec.generate_private_key(ec.SECP384R1()), b"x")


def test_load_signer_from_a_cryptogen_msp_folder(tmp_path: Path) -> None:
    network = init_network(tmp_path / "net", "cityhall,district")
    admin = network.org("cityhall").admin
    signer = load_signer(admin.msp_dir, admin.msp_id)
    creator = identities_pb2.SerializedIdentity.FromString(signer.creator)
    assert creator.mspid == "CityhallMSP"
    assert creator.id_bytes == admin.certificate_pem()
    verify_p256_sha256(signer.identity.certificate.public_key(), b"data", signer.sign(b"data"))  # type: ignore[arg-type]


def test_load_signer_refuses_a_key_of_another_identity(tmp_path: Path) -> None:
    network = init_network(tmp_path / "net", "cityhall")
    org = network.org("cityhall")
    (org.admin.msp_dir / "keystore" / "priv_sk").write_bytes(org.client.key_path.read_bytes())
    with pytest.raises(InvalidField, match="does not match"):
        load_signer(org.admin.msp_dir, org.admin.msp_id)
