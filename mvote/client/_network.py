"""A channel as seen through a Gateway: contracts, commit status, chaincode and block events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import events_pb2

from mvote.client._commit import Commit
from mvote.client._contract import Contract
from mvote.client._errors import GatewayError
from mvote.client._events import ChaincodeEvent, Checkpointer, EventStream
from mvote.verifier import _deliver as deliver

if TYPE_CHECKING:
    from mvote.client._gateway import Gateway

#: fabric-gateway's block events stop position: as far as the ledger will ever go.


def _start_position(start_block: int | None) -> ab_pb2.SeekPosition:
    if start_block is None:
        return ab_pb2.SeekPosition(next_commit=ab_pb2.SeekNextCommit())
    if start_block < 0:
        raise ValueError(f"start_block: expected a block number >= 0, got {start_block}")
    return ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block))


class Network:
    def __init__(self, gateway: Gateway, name: str) -> None:
        self.gateway = gateway
        self.name = name

    def contract(self, chaincode_name: str, contract_name: str = "") -> Contract:
        return Contract(self, chaincode_name, contract_name)

    def new_commit(self, transaction_id: str) -> Commit:
        """A commit status request for a transaction submitted earlier (by id)."""
        return Commit(self, transaction_id)

    # -- chaincode events -------------------------------------------------------------------------

    def chaincode_events(
        self,
        chaincode_name: str,
        *,
        start_block: int | None = None,
        checkpointer: Checkpointer | None = None,
        after_transaction_id: str = "",
    ) -> EventStream[ChaincodeEvent]:
        """Events of VALID transactions of ``chaincode_name`` from ``start_block`` (default: the
        next block to commit). A checkpointer with a position overrides both options."""
        if checkpointer is not None and checkpointer.block_number is not None:
            start_block = checkpointer.block_number
            after_transaction_id = checkpointer.transaction_id
        request = gateway_pb2.ChaincodeEventsRequest(
            channel_id=self.name,
            chaincode_id=chaincode_name,
            identity=self.gateway.signer.creator,
            start_position=_start_position(start_block),
            after_transaction_id=after_transaction_id,
        )
        raw = request.SerializeToString()
        signed = gateway_pb2.SignedChaincodeEventsRequest(
            request=raw, signature=self.gateway.signer.sign(raw)
        )
        call = self.gateway.stub.ChaincodeEvents(signed, timeout=self.gateway.timeouts.events)

        def items(call: Any) -> Iterator[ChaincodeEvent]:
            try:
                for response in call:
                    for event in response.events:
                        yield ChaincodeEvent(
                            block_number=int(response.block_number),
                            transaction_id=str(event.tx_id),
                            chaincode_name=str(event.chaincode_id),
                            event_name=str(event.event_name),
                            payload=bytes(event.payload),
                        )
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.CANCELLED:
                    return
                raise self.gateway.rpc_error(GatewayError, exc, "") from None

        return EventStream(call, items)

    # -- block events -----------------------------------------------------------------------------

    def seek_envelope(self, start_block: int | None) -> common_pb2.Envelope:
        """The signed DELIVER_SEEK_INFO envelope fabric-gateway sends for block events."""
        return deliver.seek_envelope(
            self.gateway.signer,
            self.name,
            start=_start_position(start_block),
            stop=deliver.seek_position(deliver.MAX_BLOCK),
            wait=True,
        )

    def _deliver(
        self,
        method: str,
        field: str,
        start_block: int | None,
        checkpointer: Checkpointer | None,
    ) -> EventStream[Any]:
        if checkpointer is not None and checkpointer.block_number is not None:
            start_block = checkpointer.block_number
        envelope = self.seek_envelope(start_block)
        call = getattr(self.gateway.deliver_stub, method)(
            iter([envelope]), timeout=self.gateway.timeouts.events
        )

        def items(call: Any) -> Iterator[Any]:
            try:
                for response in call:
                    kind = response.WhichOneof("Type")
                    if kind == "status":
                        if response.status != common_pb2.SUCCESS:
                            name = common_pb2.Status.Name(response.status)
                            raise GatewayError(
                                f"deliver: the peer ended the stream with status {name}",
                                grpc_code="OK",
                                field="status",
                            )
                        return
                    if kind == field:
                        yield getattr(response, field)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.CANCELLED:
                    return
                raise self.gateway.rpc_error(GatewayError, exc, "") from None

        return EventStream(call, items)

    def block_events(
        self, *, start_block: int | None = None, checkpointer: Checkpointer | None = None
    ) -> EventStream[common_pb2.Block]:
        """Whole committed blocks (with the peer's validation codes in their metadata)."""
        return self._deliver("Deliver", "block", start_block, checkpointer)

    def filtered_block_events(
        self, *, start_block: int | None = None, checkpointer: Checkpointer | None = None
    ) -> EventStream[events_pb2.FilteredBlock]:
        """Blocks reduced to tx ids, validation codes and chaincode events without payloads."""
        return self._deliver("DeliverFiltered", "filtered_block", start_block, checkpointer)

    def block_and_private_data_events(
        self, *, start_block: int | None = None, checkpointer: Checkpointer | None = None
    ) -> EventStream[events_pb2.BlockAndPrivateData]:
        return self._deliver(
            "DeliverWithPrivateData", "block_and_private_data", start_block, checkpointer
        )
