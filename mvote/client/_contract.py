"""A smart contract on a network: evaluate (query) and submit (endorse, order, commit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mvote.client import _proposal as proposals
from mvote.client._commit import SubmittedTransaction
from mvote.client._transaction import Proposal

if TYPE_CHECKING:
    from mvote.client._network import Network

Arg = str | bytes


class Contract:
    def __init__(self, network: Network, chaincode_name: str, contract_name: str = "") -> None:
        self.network = network
        self.chaincode_name = chaincode_name
        self.contract_name = contract_name

    def _qualified(self, function: str) -> str:
        # fabric-gateway's qualified transaction name: "contract:function" for a named contract.
        return f"{self.contract_name}:{function}" if self.contract_name else function

    def new_proposal(
        self,
        function: str,
        args: Sequence[Arg] = (),
        *,
        transient: Mapping[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> Proposal:
        """A signed proposal, for the stage-by-stage flow (or offline signing inspection)."""
        signed = proposals.new_proposal(
            self.network.gateway.signer,
            channel_id=self.network.name,
            chaincode=self.chaincode_name,
            args=[self._qualified(function), *args],
            transient=transient,
        )
        return Proposal(
            self.network, signed, endorsing_organizations=tuple(endorsing_organizations)
        )

    def evaluate(
        self,
        function: str,
        args: Sequence[Arg] = (),
        *,
        transient: Mapping[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> bytes:
        """Run ``function`` on a peer and return its result; nothing is committed."""
        return self.new_proposal(
            function,
            args,
            transient=transient,
            endorsing_organizations=endorsing_organizations,
        ).evaluate()

    def submit_async(
        self,
        function: str,
        args: Sequence[Arg] = (),
        *,
        transient: Mapping[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
    ) -> SubmittedTransaction:
        """Endorse, sign and submit; returns once ordered, with the result and a way to wait."""
        proposal = self.new_proposal(
            function,
            args,
            transient=transient,
            endorsing_organizations=endorsing_organizations,
        )
        return proposal.endorse().submit()

    def submit(
        self,
        function: str,
        args: Sequence[Arg] = (),
        *,
        transient: Mapping[str, bytes] | None = None,
        endorsing_organizations: Sequence[str] = (),
        commit_timeout: float | None = None,
    ) -> bytes:
        """Endorse, submit and wait for the commit; the result of a VALID transaction, else
        :class:`CommitError` with the transaction id and validation code."""
        submitted = self.submit_async(
            function,
            args,
            transient=transient,
            endorsing_organizations=endorsing_organizations,
        )
        submitted.status(commit_timeout).require_valid()
        return submitted.result
