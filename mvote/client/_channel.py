"""The voting contract over a Fabric Gateway, for scripts: JSON in, JSON out, typed refusals.

:class:`GatewayChannel` is the ``Channel`` the demo scenario talks to (``mvote.demo``) and what
the ``mvote`` command line uses: ``submit`` / ``evaluate`` as one of several identities (one
Gateway connection per identity, opened on first use), the result decoded from its canonical
JSON, and a refusal raised as the typed error the contract or the node named
(``AlreadyVoted``, ``NotEligible``, ...) with the Gateway error as its ``__cause__``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from mvote.chaincode._errors import MvoteError
from mvote.client._gateway import Gateway, Timeouts
from mvote.client._identity import Signer
from mvote.client._voting import Arg, Committed, GatewayTransactor


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

    def acting_as(self, creator: bytes) -> _ChannelTransactor:
        """A :class:`~mvote.client._voting.Transactor` acting as ``creator``'s identity."""
        return _ChannelTransactor(self, creator)

    def _transactor(self, creator: bytes) -> GatewayTransactor:
        contract = self.gateway(creator).network(self.name).contract(self.chaincode)
        return GatewayTransactor(contract, commit_timeout=self._commit_timeout)

    def transact(self, creator: bytes, function: str, *args: Arg) -> Committed:
        """Endorse, order and wait for the commit; a refusal raises its typed error."""
        done = self._transactor(creator).transact(function, *args)
        with self._lock:
            self.blocks[done.transaction_id] = done.block_number
        return done

    def submit(self, creator: bytes, function: str, *args: Arg) -> Any:
        return self.transact(creator, function, *args).result

    def evaluate(self, creator: bytes, function: str, *args: Arg) -> Any:
        return self._transactor(creator).query(function, *args)

    def close(self) -> None:
        with self._lock:
            for gateway in self._gateways.values():
                gateway.close()
            self._gateways.clear()

    def __enter__(self) -> GatewayChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ChannelTransactor:
    """One identity's view of a :class:`GatewayChannel` (commits recorded in its ``blocks``)."""

    def __init__(self, channel: GatewayChannel, creator: bytes) -> None:
        self._channel = channel
        self._creator = creator

    @property
    def channel_name(self) -> str:
        return self._channel.name

    def transact(self, function: str, *args: Arg) -> Committed:
        return self._channel.transact(self._creator, function, *args)

    def query(self, function: str, *args: Arg) -> Any:
        return self._channel.evaluate(self._creator, function, *args)

    def block_of(self, transaction_id: str) -> int:
        return self._channel._transactor(self._creator).block_of(transaction_id)
