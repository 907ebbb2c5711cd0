"""The stages of a transaction as fabric-gateway has them: a signed ``Proposal`` (evaluate, or
endorse into a ``Transaction``), a signed ``Transaction`` (submit into a ``SubmittedTransaction``).
Each stage exposes ``bytes`` (what is signed and sent), ``digest()`` (SHA-256 of the signed bytes)
and ``transaction_id``."""

from __future__ import annotations

import builtins
import hashlib
from typing import TYPE_CHECKING

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import proposal_pb2

from mvote.client import _proposal as proposals
from mvote.client._commit import SubmittedTransaction
from mvote.client._errors import EndorseError, GatewayError, SubmitError
from mvote.verifier._transaction import ParsedTransaction

if TYPE_CHECKING:
    from mvote.client._network import Network


class Proposal:
    def __init__(
        self,
        network: Network,
        signed: proposals.Proposal,
        *,
        endorsing_organizations: tuple[str, ...] = (),
    ) -> None:
        self._network = network
        self._signed = signed
        self.endorsing_organizations = endorsing_organizations

    @property
    def transaction_id(self) -> str:
        return self._signed.transaction_id

    @property
    def bytes(self) -> bytes:
        return self._signed.proposal_bytes

    def digest(self) -> builtins.bytes:
        return self._signed.digest()

    def signed(self) -> proposal_pb2.SignedProposal:
        return self._signed.signed()

    def evaluate(self) -> builtins.bytes:
        """Run the transaction function on one peer; nothing is ordered. Returns its result."""
        gateway = self._network.gateway
        request = gateway_pb2.EvaluateRequest(
            transaction_id=self.transaction_id,
            channel_id=self._network.name,
            proposed_transaction=self.signed(),
            target_organizations=list(self.endorsing_organizations),
        )
        try:
            response = gateway.stub.Evaluate(request, timeout=gateway.timeouts.evaluate)
        except grpc.RpcError as exc:
            raise gateway.rpc_error(GatewayError, exc, self.transaction_id) from None
        return bytes(response.result.payload)

    def endorse(self) -> Transaction:
        """Collect endorsements (the gateway picks enough organisations for the policy, or uses
        ``endorsing_organizations``) and sign the prepared transaction."""
        gateway = self._network.gateway
        request = gateway_pb2.EndorseRequest(
            transaction_id=self.transaction_id,
            channel_id=self._network.name,
            proposed_transaction=self.signed(),
            endorsing_organizations=list(self.endorsing_organizations),
        )
        try:
            response = gateway.stub.Endorse(request, timeout=gateway.timeouts.endorse)
        except grpc.RpcError as exc:
            raise gateway.rpc_error(EndorseError, exc, self.transaction_id) from None
        prepared = response.prepared_transaction
        return Transaction(self._network, self.transaction_id, bytes(prepared.payload))


def transaction_result(payload: bytes) -> bytes:
    """The chaincode response payload inside an endorsed transaction's payload (the unsigned
    envelope the gateway prepared). Raises MalformedProto naming the field it cannot read."""
    envelope = common_pb2.Envelope(payload=payload).SerializeToString()
    return ParsedTransaction.parse(envelope).response.payload


class Transaction:
    """An endorsed transaction, signed by the client; ``bytes`` is the envelope payload."""

    def __init__(self, network: Network, transaction_id: str, payload: bytes) -> None:
        self._network = network
        self.transaction_id = transaction_id
        self.bytes = payload
        self.signature = network.gateway.signer.sign(payload)
        self.result = transaction_result(payload)

    def digest(self) -> bytes:
        return hashlib.sha256(self.bytes).digest()

    def envelope(self) -> common_pb2.Envelope:
        return common_pb2.Envelope(payload=self.bytes, signature=self.signature)

    def submit(self) -> SubmittedTransaction:
        """Send to the orderer; returns at once, before the transaction commits."""
        gateway = self._network.gateway
        request = gateway_pb2.SubmitRequest(
            transaction_id=self.transaction_id,
            channel_id=self._network.name,
            prepared_transaction=self.envelope(),
        )
        try:
            gateway.stub.Submit(request, timeout=gateway.timeouts.submit)
        except grpc.RpcError as exc:
            raise gateway.rpc_error(SubmitError, exc, self.transaction_id) from None
        return SubmittedTransaction(self._network, self.transaction_id, self.result)
