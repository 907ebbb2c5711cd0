"""Defining the chaincode on the channel through ``_lifecycle``, as Fabric records it.

A Fabric peer refuses transactions of a chaincode that ``_lifecycle`` has not defined
(INVALID_CHAINCODE), and learns the endorsement policy from that definition. The embedded node
therefore bootstraps its channel with one CommitChaincodeDefinition transaction (block 1) whose
writes are exactly what Fabric's ``_lifecycle`` writes (see golden block 4): the definition's
metadata and its Sequence, EndorsementInfo, ValidationInfo and Collections fields. It is
submitted by an organisation admin and endorsed by every organisation's peer, which satisfies
the channel's LifecycleEndorsement policy.

One difference from a Fabric network, recorded in docs/node.md: there are no per-organisation
ApproveChaincodeDefinitionForMyOrg transactions, because one process hosts every organisation.
"""

from __future__ import annotations

from fabric_protos.peer import policy_pb2
from fabric_protos.peer.lifecycle import chaincode_definition_pb2, db_pb2, lifecycle_pb2

from mvote.chaincode._contract import OK, Response
from mvote.chaincode._simulation import Simulation

LIFECYCLE = "_lifecycle"
DEFAULT_ENDORSEMENT_POLICY = "/Channel/Application/Endorsement"
FIELDS = ("Sequence", "EndorsementInfo", "ValidationInfo", "Collections")


def sequence_key(chaincode: str) -> str:
    return f"namespaces/fields/{chaincode}/Sequence"


def metadata_key(chaincode: str) -> str:
    return f"namespaces/metadata/{chaincode}"


def commit_args(chaincode: str, version: str, sequence: int = 1) -> list[bytes]:
    """The ``_lifecycle`` invocation arguments of CommitChaincodeDefinition."""
    args = lifecycle_pb2.CommitChaincodeDefinitionArgs(
        sequence=sequence, name=chaincode, version=version
    )
    return [b"CommitChaincodeDefinition", args.SerializeToString()]


def _data(**kwargs: object) -> bytes:
    return bytes(db_pb2.StateData(**kwargs).SerializeToString())


def definition_simulation(chaincode: str, version: str, sequence: int = 1) -> Simulation:
    """The reads and writes of committing a first definition (no earlier sequence)."""
    endorsement = chaincode_definition_pb2.ChaincodeEndorsementInfo(
        version=version, endorsement_plugin="escc"
    ).SerializeToString()
    validation = chaincode_definition_pb2.ChaincodeValidationInfo(
        validation_plugin="vscc",
        validation_parameter=policy_pb2.ApplicationPolicy(
            channel_config_policy_reference=DEFAULT_ENDORSEMENT_POLICY
        ).SerializeToString(),
    ).SerializeToString()
    prefix = f"namespaces/fields/{chaincode}/"
    simulation = Simulation()
    simulation.reads[sequence_key(chaincode)] = None
    simulation.reads[metadata_key(chaincode)] = None
    simulation.writes[prefix + "Sequence"] = _data(Int64=sequence)
    simulation.writes[prefix + "EndorsementInfo"] = _data(Bytes=endorsement)
    simulation.writes[prefix + "ValidationInfo"] = _data(Bytes=validation)
    simulation.writes[prefix + "Collections"] = _data(Bytes=b"")
    simulation.writes[metadata_key(chaincode)] = bytes(
        db_pb2.StateMetadata(datatype="ChaincodeDefinition", fields=FIELDS).SerializeToString()
    )
    return simulation


DEFINITION_RESPONSE = Response(OK, "", b"")
