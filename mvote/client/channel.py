"""The voting contract over a Fabric Gateway, for scripts: JSON in, JSON out, typed refusals.

:class:`GatewayChannel` is the ``Channel`` the demo scenario talks to (``mvote.demo``) and what
the ``mvote`` command line uses: ``submit`` / ``evaluate`` as one of several identities (one
Gateway connection per identity, opened on first use), the result decoded from its canonical
JSON, and a refusal raised as the typed error the contract or the node named
(``AlreadyVoted``, ``NotEligible``, ...) with the Gateway error as its ``__cause__``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mvote.chaincode.errors import MvoteError
from mvote.client.errors import CommitError, GatewayError
from mvote.client.gateway import Gateway, Timeouts
from mvote.client.identity import Signer


@dataclass(frozen=True)
class Committed:
    """A VALID transaction: its decoded result and where it committed."""

    result: Any
    transaction_id: str
    block_number: int


def typed(exc: GatewayError) -> MvoteError:
    """The typed error a Gateway error carries (a chaincode refusal), else the error itself."""
    return exc.cause if exc.cause is not None else exc


def decode_result(payload: bytes) -> Any:
    return json.loads(payload) if payload else None


class GatewayChannel:
    """The contract ``chaincode`` on ``channel`` through the Gateway at ``target``."""

    def __init__(
        self,
        target: str,
        signers: Iterable[Signer],
        *,
        channel: str = "mvote",
        chaincode: str = "mvote",
        tls_root_certificates: bytes | None = None,
        timeouts: Timeouts | None = None,
        commit_timeout: float | None = 60.0,
    ) -> None:
        self.name = channel
        self.chaincode = chaincode
        self.target = target
        self._tls = tls_root_certificates
        self._timeouts = timeouts or Timeouts()
        self._commit_timeout = commit_timeout
        self._signers = {s.creator: s for s in signers}
        self._gateways: dict[bytes, Gateway] = {}
        self._lock = threading.Lock()
        #: tx id -> block number of every transaction this channel committed.
        self.blocks: dict[str, int] = {}

    def signer(self, creator: bytes) -> Signer:
        try:
            return self._signers[creator]
        except KeyError:
            raise MvoteError("creator: no signer for this identity was given") from None

    def gateway(self, creator: bytes) -> Gateway:
        with self._lock:
            gateway = self._gateways.get(creator)
            if gateway is None:
                gateway = Gateway.connect(
                    self.target,
                    self.signer(creator),
                    tls_root_certificates=self._tls,
                    timeouts=self._timeouts,
                )
                self._gateways[creator] = gateway
            return gateway

    def transact(self, creator: bytes, function: str, *args: bytes | str) -> Committed:
        """Endorse, order and wait for the commit; a refusal raises its typed error."""
        contract = self.gateway(creator).network(self.name).contract(self.chaincode)
        try:
            submitted = contract.submit_async(function, args)
            status = submitted.status(self._commit_timeout)
        except GatewayError as exc:
            raise typed(exc) from exc
        if not status.successful:
            raise CommitError(
                f"transaction {status.transaction_id} failed to commit with status code "
                f"{status.code} ({status.code_name}) in block {status.block_number}",
                transaction_id=status.transaction_id,
                status_code=status.code,
                block_number=status.block_number,
            )
        with self._lock:
            self.blocks[status.transaction_id] = status.block_number
        return Committed(
            decode_result(submitted.result), status.transaction_id, status.block_number
        )

    def submit(self, creator: bytes, function: str, *args: bytes | str) -> Any:
        return self.transact(creator, function, *args).result

    def evaluate(self, creator: bytes, function: str, *args: bytes | str) -> Any:
        contract = self.gateway(creator).network(self.name).contract(self.chaincode)
        try:
            return decode_result(contract.evaluate(function, args))
        except GatewayError as exc:
            raise typed(exc) from exc

    def close(self) -> None:
        with self._lock:
            for gateway in self._gateways.values():
                gateway.close()
            self._gateways.clear()

    def __enter__(self) -> GatewayChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
