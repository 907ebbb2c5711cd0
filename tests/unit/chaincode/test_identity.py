"""identity.py: the creator's MSP id and NodeOU roles from a serialized MSP identity."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fabric_protos.msp import identities_pb2

from mvote.chaincode._errors import Malformed, Unauthorised
from mvote.chaincode._identity import parse_creator, require_admin, require_owner


def test_parse_creator_reads_msp_and_roles(identity: Callable[[str, str], bytes]) -> None:
    creator = parse_creator(identity("Org1MSP", "admin"))
    assert creator.msp_id == "Org1MSP"
    assert creator.organizational_units == frozenset({"admin"})
    assert creator.is_admin
    client = parse_creator(identity("Org2MSP", "client"))
    assert (client.msp_id, client.is_admin) == ("Org2MSP", False)


def test_require_admin(identity: Callable[[str, str], bytes]) -> None:
    assert require_admin(identity("Org1MSP", "admin"), "X").msp_id == "Org1MSP"
    for role in ("client", "peer", "orderer", "Admin"):
        with pytest.raises(Unauthorised) as info:
            require_admin(identity("Org1MSP", role), "DoThing")
        assert info.value.message.startswith("DoThing:")
        assert "Org1MSP" in info.value.message


def test_require_owner(identity: Callable[[str, str], bytes]) -> None:
    admin = parse_creator(identity("Org2MSP", "admin"))
    require_owner(admin, "Org2MSP", "X")
    with pytest.raises(Unauthorised) as info:
        require_owner(admin, "Org1MSP", "OpenQuestion")
    assert "Org1MSP" in info.value.message
    assert "Org2MSP" in info.value.message


def test_malformed_creators(identity: Callable[[str, str], bytes]) -> None:
    pem = identities_pb2.SerializedIdentity.FromString(identity("Org1MSP", "admin")).id_bytes
    cases = [
        b"\xff\xff\xff",  # not a protobuf
        identities_pb2.SerializedIdentity(mspid="", id_bytes=pem).SerializeToString(),
        identities_pb2.SerializedIdentity(mspid="Org1MSP", id_bytes=b"nope").SerializeToString(),
        identities_pb2.SerializedIdentity(mspid="Org1MSP", id_bytes=pem[:100]).SerializeToString(),
        b"",
    ]
    for data in cases:
        with pytest.raises(Malformed) as info:
            parse_creator(data)
        assert info.value.field == "creator"
