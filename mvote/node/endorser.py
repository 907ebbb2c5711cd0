"""Endorsement: unpack and check a signed proposal, run the contract, sign the result.

Follows Fabric's peer (core/endorser): ``unpack_proposal`` is UnpackProposal, ``check_proposal`` is
UnpackedProposal.Validate, and :meth:`Endorser.endorse` is ProcessProposalSuccessfullyOrError:
a chaincode status >= 400 gets the response back unendorsed; otherwise the endorser signs
``proposal_response_payload || endorser identity``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fabric_protos.common import common_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
)

from mvote.chaincode._contract import REFUSED, Response, invoke
from mvote.chaincode._errors import Malformed, Unauthorised
from mvote.chaincode._simulation import KeySpace, Simulation, TxContext, TxSimulator, Version
from mvote.chaincode._stub import ChaincodeStub
from mvote.client._identity import Signer
from mvote.node import lifecycle
from mvote.node.rwset import tx_rwset_bytes
from mvote.verifier._envelope import (
    HEADER_TYPE_CONFIG,
    HEADER_TYPE_ENDORSER_TRANSACTION,
    ChannelHeader,
    SignatureHeader,
    parse_proto,
    unpack_channel_header,
    unpack_signature_header,
)
from mvote.verifier._errors import VerifierError
from mvote.verifier._msp import MSPIdentity, MSPManager
from mvote.verifier._signatures import verify_p256_sha256
from mvote.verifier._transaction import TransactionHeaders, transaction_id

ContractFunction = Callable[[ChaincodeStub], Response]


@dataclass(frozen=True)
class UnpackedProposal(TransactionHeaders):
    signed: proposal_pb2.SignedProposal
    channel_header_bytes: bytes
    signature_header_bytes: bytes
    channel_header: ChannelHeader
    signature_header: SignatureHeader
    chaincode_name: str
    args: tuple[bytes, ...]
    #: The ChaincodeProposalPayload without its transient map: what goes into the transaction.
    payload_no_transient: bytes
    proposal_hash: bytes


@dataclass(frozen=True)
class ProposalMessages:
    """The messages of a signed proposal, each parsed once: what the gateway routes on
    (:attr:`channel_header`, :attr:`spec`) and what :func:`unpack_proposal` completes, so one RPC
    parses the proposal's bytes once."""

    signed: proposal_pb2.SignedProposal
    header: common_pb2.Header
    channel_header: ChannelHeader
    payload: proposal_pb2.ChaincodeProposalPayload
    spec: chaincode_pb2.ChaincodeInvocationSpec


def parse_proposal(signed: proposal_pb2.SignedProposal) -> ProposalMessages:
    """The proposal, header, channel header, payload and invocation spec of ``signed``.
    Raises MalformedProto naming the part that does not parse; checks nothing else."""
    proposal = parse_proto(proposal_pb2.Proposal, signed.proposal_bytes, "proposal_bytes")
    header = parse_proto(common_pb2.Header, proposal.header, "proposal.header")
    channel_header = unpack_channel_header(header.channel_header)
    payload = parse_proto(
        proposal_pb2.ChaincodeProposalPayload, proposal.payload, "proposal.payload"
    )
    spec = parse_proto(
        chaincode_pb2.ChaincodeInvocationSpec, payload.input, "proposal.payload.input"
    )
    return ProposalMessages(signed, header, channel_header, payload, spec)


def unpack_proposal(signed: proposal_pb2.SignedProposal | ProposalMessages) -> UnpackedProposal:
    """Fabric's UnpackProposal, of a signed proposal or of its messages already parsed.
    Raises MalformedProto/Malformed naming the part that is wrong."""
    messages = signed if isinstance(signed, ProposalMessages) else parse_proposal(signed)
    header, channel_header = messages.header, messages.channel_header
    signature_header = unpack_signature_header(
        header.signature_header, "proposal.header.signature_header"
    )
    extension = parse_proto(
        proposal_pb2.ChaincodeHeaderExtension, channel_header.extension, "channel_header.extension"
    )
    if not extension.HasField("chaincode_id") or not extension.chaincode_id.name:
        raise Malformed(
            "channel_header.extension: chaincode id or name is empty", field="chaincode_id"
        )
    spec = messages.spec
    if not spec.HasField("chaincode_spec") or not spec.chaincode_spec.HasField("input"):
        raise Malformed("proposal.payload.input: no chaincode spec or input", field="input")
    no_transient = proposal_pb2.ChaincodeProposalPayload(
        input=messages.payload.input
    ).SerializeToString()
    digest = hashlib.sha256(header.channel_header + header.signature_header + no_transient).digest()
    return UnpackedProposal(
        signed=messages.signed,
        channel_header_bytes=bytes(header.channel_header),
        signature_header_bytes=bytes(header.signature_header),
        channel_header=channel_header,
        signature_header=signature_header,
        chaincode_name=str(extension.chaincode_id.name),
        args=tuple(bytes(a) for a in spec.chaincode_spec.input.args),
        payload_no_transient=bytes(no_transient),
        proposal_hash=digest,
    )


def check_proposal(up: UnpackedProposal, msps: MSPManager) -> MSPIdentity:
    """Fabric's UnpackedProposal.Validate; returns the creator identity.

    Raises Malformed for a malformed header, Unauthorised for an unknown, invalid or non-signing
    creator (the message says which, unlike Fabric's generic "access denied").
    """
    if up.channel_header.type not in (HEADER_TYPE_ENDORSER_TRANSACTION, HEADER_TYPE_CONFIG):
        raise Malformed(
            f"channel_header.type: expected ENDORSER_TRANSACTION, got {up.channel_header.type}",
            field="channel_header.type",
        )
    if up.channel_header.epoch != 0:
        raise Malformed("channel_header.epoch: expected 0", field="channel_header.epoch")
    if not up.signature_header.nonce:
        raise Malformed("signature_header.nonce: empty", field="signature_header.nonce")
    if not up.creator:
        raise Malformed("signature_header.creator: empty", field="signature_header.creator")
    expected = transaction_id(up.signature_header.nonce, up.creator)
    if up.tx_id != expected:
        raise Malformed(
            f"channel_header.tx_id: incorrectly computed txid {up.tx_id!r}, expected {expected!r}",
            field="channel_header.tx_id",
        )
    if not up.signed.signature:
        raise Malformed("signature: empty signature bytes", field="signature")
    try:
        creator = msps.deserialize(up.creator)
        msps.validate(creator)
        verify_p256_sha256(creator.public_key, up.signed.proposal_bytes, up.signed.signature)
    except VerifierError as exc:
        raise Unauthorised(
            f"access denied: channel [{up.channel_id}] creator: {exc.message}", field="creator"
        ) from exc
    return creator


class World(Protocol):
    """Committed state as an endorser reads it: per namespace, one consistent snapshot."""

    def namespace(self, namespace: str) -> KeySpace: ...

    def version(self, namespace: str, key: str) -> Version | None: ...


@dataclass(frozen=True)
class Simulated:
    response: Response
    results: bytes
    events: bytes


class Endorser:
    """One organisation's endorsing peer: runs the contract and signs what it did."""

    def __init__(
        self,
        signer: Signer,
        *,
        chaincode_name: str,
        chaincode_version: str,
        contract: ContractFunction = invoke,
    ) -> None:
        self.signer = signer
        self.msp_id = signer.identity.msp_id
        self.chaincode_name = chaincode_name
        self.chaincode_version = chaincode_version
        self._contract = contract
        self._endorser_bytes = signer.creator

    def simulate(self, up: UnpackedProposal, world: World) -> Simulated:
        """Run the contract on ``world``. Like a Fabric peer, record the read of the chaincode
        definition's Sequence in ``_lifecycle``, so a redefinition invalidates the result."""
        context = TxContext(up.tx_id, up.channel_id, up.timestamp, up.creator, up.args)
        simulator = TxSimulator(world.namespace(self.chaincode_name), context)
        response = self._contract(simulator)
        simulation = simulator.simulation
        events = b""
        if simulation.event is not None:
            name, payload = simulation.event
            events = chaincode_event_pb2.ChaincodeEvent(
                chaincode_id=self.chaincode_name, tx_id=up.tx_id, event_name=name, payload=payload
            ).SerializeToString()
        definition = Simulation()
        key = lifecycle.sequence_key(self.chaincode_name)
        definition.reads[key] = world.version(lifecycle.LIFECYCLE, key)
        results = tx_rwset_bytes({self.chaincode_name: simulation, lifecycle.LIFECYCLE: definition})
        return Simulated(response, results, events)

    def sign(
        self, up: UnpackedProposal, simulated: Simulated, chaincode: tuple[str, str]
    ) -> proposal_response_pb2.ProposalResponse:
        """An endorsed response: the signature covers ``payload || endorser``."""
        action = proposal_pb2.ChaincodeAction(
            results=simulated.results,
            events=simulated.events,
            response=_response_proto(simulated.response),
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode[0], version=chaincode[1]),
        )
        payload = proposal_response_pb2.ProposalResponsePayload(
            proposal_hash=up.proposal_hash, extension=action.SerializeToString()
        ).SerializeToString()
        return proposal_response_pb2.ProposalResponse(
            version=1,
            response=_response_proto(simulated.response),
            payload=payload,
            endorsement=proposal_response_pb2.Endorsement(
                endorser=self._endorser_bytes,
                signature=self.signer.sign(payload + self._endorser_bytes),
            ),
        )

    def endorse(self, up: UnpackedProposal, world: World) -> proposal_response_pb2.ProposalResponse:
        """ProcessProposalSuccessfullyOrError for a checked proposal of this chaincode."""
        if up.chaincode_name != self.chaincode_name:
            raise Malformed(
                f"chaincode: expected {self.chaincode_name!r}, got {up.chaincode_name!r}",
                field="chaincode_id",
            )
        simulated = self.simulate(up, world)
        if simulated.response.status >= REFUSED:
            # Fabric returns a refused chaincode response unendorsed and without a payload.
            return proposal_response_pb2.ProposalResponse(
                response=_response_proto(simulated.response)
            )
        return self.sign(up, simulated, (self.chaincode_name, self.chaincode_version))


def _response_proto(response: Response) -> proposal_response_pb2.Response:
    return proposal_response_pb2.Response(
        status=response.status, message=response.message, payload=response.payload
    )
