"""Proposals: what a client asks peers to endorse or evaluate, exactly as Fabric's SDKs build them.

A proposal binds the channel, the chaincode, the arguments, a fresh nonce and the creator; its
transaction id is hex SHA-256(nonce || creator). Each stage exposes its bytes, its digest and its
transaction id, as in fabric-gateway.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2
from google.protobuf import timestamp_pb2

from mvote.client._identity import Signer
from mvote.verifier._transaction import transaction_id

NONCE_SIZE = 24


@dataclass(frozen=True)
class Proposal:
    """A signed proposal, ready to send to a Gateway's Evaluate or Endorse."""

    transaction_id: str
    channel_id: str
    proposal_bytes: bytes
    signature: bytes

    def digest(self) -> bytes:
        """What was signed: SHA-256 of the proposal bytes (as fabric-gateway exposes it)."""
        return hashlib.sha256(self.proposal_bytes).digest()

    def signed(self) -> proposal_pb2.SignedProposal:
        return proposal_pb2.SignedProposal(
            proposal_bytes=self.proposal_bytes, signature=self.signature
        )


def new_proposal(
    signer: Signer,
    *,
    channel_id: str,
    chaincode: str,
    args: Sequence[bytes | str],
    transient: Mapping[str, bytes] | None = None,
    timestamp: float | None = None,
    nonce: bytes | None = None,
    chaincode_type: int = chaincode_pb2.ChaincodeSpec.NODE,
) -> Proposal:
    """Build and sign a proposal. ``args[0]`` is the function name.

    ``chaincode_type`` is the ChaincodeSpec type: NODE, as fabric-gateway's clients set it for
    every chaincode; Fabric's peer CLI leaves it UNDEFINED (0, so absent on the wire) for its
    ``_lifecycle`` invocations.
    """
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    creator = signer.creator
    tx_id = transaction_id(nonce, creator)
    when = time.time() if timestamp is None else timestamp
    stamp = timestamp_pb2.Timestamp(seconds=int(when), nanos=int((when % 1) * 1e9))
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.ENDORSER_TRANSACTION,
        channel_id=channel_id,
        tx_id=tx_id,
        timestamp=stamp,
        extension=proposal_pb2.ChaincodeHeaderExtension(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode)
        ).SerializeToString(),
    )
    signature_header = common_pb2.SignatureHeader(creator=creator, nonce=nonce)
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=signature_header.SerializeToString(),
    )
    spec = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(
            type=chaincode_type,
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
            input=chaincode_pb2.ChaincodeInput(
                args=[a.encode() if isinstance(a, str) else a for a in args]
            ),
        )
    )
    payload = proposal_pb2.ChaincodeProposalPayload(
        input=spec.SerializeToString(), TransientMap=dict(transient or {})
    )
    proposal_bytes = proposal_pb2.Proposal(
        header=header.SerializeToString(), payload=payload.SerializeToString()
    ).SerializeToString()
    return Proposal(tx_id, channel_id, proposal_bytes, signer.sign(proposal_bytes))


def sign_envelope(payload: bytes, signer: Signer) -> common_pb2.Envelope:
    """The transaction as submitted: its payload signed by the proposal's creator."""
    return common_pb2.Envelope(payload=payload, signature=signer.sign(payload))
