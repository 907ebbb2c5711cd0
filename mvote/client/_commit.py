"""The commit stage: a submitted transaction's commit status, by a signed CommitStatus request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import transaction_pb2

from mvote.client._errors import CommitError, CommitStatusError

if TYPE_CHECKING:
    from mvote.client._network import Network

TX_VALID = 0


def validation_code_name(code: int) -> str:
    try:
        return str(transaction_pb2.TxValidationCode.Name(code))
    except ValueError:
        return f"UNKNOWN_CODE_{code}"


@dataclass(frozen=True)
class Status:
    """Where and how a transaction committed."""

    transaction_id: str
    #: ``peer.TxValidationCode`` number; 0 is VALID.
    code: int
    block_number: int

    @property
    def code_name(self) -> str:
        return validation_code_name(self.code)

    @property
    def successful(self) -> bool:
        return self.code == TX_VALID

    def require_valid(self) -> Status:
        """This status if VALID, else :class:`CommitError` with the id, code and block."""
        if self.successful:
            return self
        raise self.error()

    def error(self) -> CommitError:
        """The :class:`CommitError` of this status (precondition: not VALID)."""
        return CommitError(
            f"transaction {self.transaction_id} failed to commit with status code "
            f"{self.code} ({self.code_name}) in block {self.block_number}",
            transaction_id=self.transaction_id,
            status_code=self.code,
            block_number=self.block_number,
        )


class Commit:
    """A signed CommitStatus request for one transaction. ``bytes`` and ``digest()`` are what an
    offline signer signs (the request bytes; their SHA-256)."""

    def __init__(self, network: Network, transaction_id: str) -> None:
        self._network = network
        self.transaction_id = transaction_id
        request = gateway_pb2.CommitStatusRequest(
            transaction_id=transaction_id,
            channel_id=network.name,
            identity=network.gateway.signer.creator,
        )
        self.bytes: bytes = request.SerializeToString()
        self.signature = network.gateway.signer.sign(self.bytes)

    def digest(self) -> bytes:
        return hashlib.sha256(self.bytes).digest()

    def status(self, timeout: float | None = None) -> Status:
        """Wait until the transaction commits (or ``timeout`` seconds, default the gateway's
        commit status timeout) and return its status."""
        gateway = self._network.gateway
        try:
            response = gateway.stub.CommitStatus(
                gateway_pb2.SignedCommitStatusRequest(request=self.bytes, signature=self.signature),
                timeout=gateway.timeouts.commit_status if timeout is None else timeout,
            )
        except grpc.RpcError as exc:
            raise gateway.rpc_error(CommitStatusError, exc, self.transaction_id) from None
        return Status(self.transaction_id, int(response.result), int(response.block_number))


class SubmittedTransaction(Commit):
    """A transaction submitted for ordering: its result is known, its commit is awaited."""

    def __init__(self, network: Network, transaction_id: str, result: bytes) -> None:
        super().__init__(network, transaction_id)
        self.result = result
