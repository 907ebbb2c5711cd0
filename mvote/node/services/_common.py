"""What the gRPC services share: rich error statuses, signed-data ACL checks, seek positions, and
the views of a committed block that Fabric's peer derives (chaincode events, filtered blocks)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import chaincode_event_pb2, events_pb2
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from mvote.chaincode._errors import MvoteError
from mvote.client._gateway import ERROR_INFO_TRAILER, REFUSAL_DOMAIN
from mvote.node.metrics import metrics
from mvote.node.peer import Peer
from mvote.verifier._envelope import HEADER_TYPE_CONFIG, HEADER_TYPE_ENDORSER_TRANSACTION
from mvote.verifier._errors import VerifierError
from mvote.verifier._policy import SignedData
from mvote.verifier._transaction import ActionEvent, ParsedTransaction

#: Fabric's default ACLs (core/aclmgmt/defaultaclprovider.go): event/Block, event/FilteredBlock,
#: _gateway/CommitStatus and _gateway/ChaincodeEvents are all the channel application's readers.
APPLICATION_READERS = "/Channel/Application/Readers"
#: The orderer's Deliver checks the channel's readers (orderer/common/server).
CHANNEL_READERS = "/Channel/Readers"
TX_VALID = 0


class _RichStatus(
    collections.namedtuple("_RichStatus", ("code", "details", "trailing_metadata")),
    grpc.Status,  # type: ignore[misc]
):
    """A ``grpc.Status`` with trailers of our choosing (grpc_status.rpc_status.to_status sets
    only the status details)."""


def error_info(code: str, field: str | None, message: str) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo of a refusal with this code, field and message (``field`` None: "")."""
    return error_details_pb2.ErrorInfo(
        reason=code, domain=REFUSAL_DOMAIN, metadata={"field": field or "", "message": message}
    )


def error_info_of(error: MvoteError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo of a typed error the node raised."""
    return error_info(error.code, error.field, error.message)


def abort(
    context: grpc.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    details: Sequence[gateway_pb2.ErrorDetail] = (),
    info: error_details_pb2.ErrorInfo | None = None,
    *,
    logged: bool = True,
) -> NoReturn:
    """End the call as Fabric's newRpcError does: a google.rpc.Status whose details are packed
    ``gateway.ErrorDetail`` messages, in the ``grpc-status-details-bin`` trailer; with ``info``,
    the refusal's ErrorInfo in the :data:`ERROR_INFO_TRAILER` trailer too. Every refusal is
    counted here, and logged (its code and field, never ``message``: metrics.py) unless
    ``logged`` is False (the caller logs it its own way: admission.py, once per client)."""
    metrics().refused(
        info.reason if info is not None else None,
        code.name,
        info.metadata.get("field") if info is not None else None,
        logged=logged,
    )
    packed = []
    for detail in details:
        item = any_pb2.Any()
        item.Pack(detail)
        packed.append(item)
    status = rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=message, details=packed)
    )
    if info is not None:
        trailers = (*status.trailing_metadata, (ERROR_INFO_TRAILER, info.SerializeToString()))
        status = _RichStatus(status.code, status.details, trailers)
    context.abort_with_status(status)
    raise AssertionError("abort_with_status returned")  # grpc raises; this is for mypy


def check_signed_acl(
    node: Peer, channel_id: str, policy: str, data: bytes, identity: bytes, signature: bytes
) -> str | None:
    """Fabric's policyChecker.CheckPolicyBySignedData; the refusal message, or None if allowed.

    The signature is checked with the verifier's MSP code, so an unsigned or forged request names
    an identity it cannot speak for and is refused like an outsider."""
    if channel_id != node.channel_id:
        return f"Failed to get policy manager for channel [{channel_id}]"
    try:
        ok, problems = node.policies.evaluate_signed(
            policy, [SignedData(data, identity, signature)]
        )
    except VerifierError as exc:
        ok, why = False, exc.message
    else:
        why = problems[0].error.message if problems else "signature set did not satisfy policy"
    if ok:
        return None
    return (
        f"Failed evaluating policy on signed data during check policy on channel [{channel_id}] "
        f"with policy [{policy}]: [{why}]"
    )


def start_number(position: ab_pb2.SeekPosition | None, height: int) -> int:
    """The block a seek position names (Fabric's ledger Iterator(start)): oldest is 0, newest the
    last committed block, next_commit (and an unset position) the next one to commit."""
    kind = position.WhichOneof("Type") if position is not None else None
    if kind == "oldest":
        return 0
    if kind == "newest":
        return max(height - 1, 0)
    if kind == "specified":
        return int(position.specified.number)  # type: ignore[union-attr]
    return height


def is_config_block(block: common_pb2.Block) -> bool:
    if len(block.data.data) != 1:
        return False
    try:
        return ParsedTransaction.parse(block.data.data[0]).header_type == HEADER_TYPE_CONFIG
    except VerifierError:
        return False


def _validation_codes(block: common_pb2.Block) -> bytes:
    slots = block.metadata.metadata
    return bytes(slots[common_pb2.TRANSACTIONS_FILTER]) if len(slots) > 2 else b""


def _event(event: ActionEvent) -> chaincode_event_pb2.ChaincodeEvent:
    return chaincode_event_pb2.ChaincodeEvent(
        chaincode_id=event.chaincode_id,
        tx_id=event.tx_id,
        event_name=event.event_name,
        payload=event.payload,
    )


def chaincode_events(block: common_pb2.Block) -> list[chaincode_event_pb2.ChaincodeEvent]:
    """The chaincode events of the block's VALID endorser transactions, in block order (Fabric's
    gateway event.chaincodeEventsFromBlock)."""
    codes = _validation_codes(block)
    events = []
    for index, raw in enumerate(block.data.data):
        if index >= len(codes) or codes[index] != TX_VALID:
            continue
        try:
            tx = ParsedTransaction.parse(raw)
            if tx.header_type != HEADER_TYPE_ENDORSER_TRANSACTION:
                continue
            # A VALID endorser transaction has exactly one action (validation's rule).
            event = tx.events
        except VerifierError:
            # A VALID transaction always unpacks; anything else carries no events to report.
            continue
        if event.chaincode_id:
            events.append(_event(event))
    return events


def filtered_block(block: common_pb2.Block) -> events_pb2.FilteredBlock:
    """Fabric's toFilteredBlock (core/peer/deliverevents.go): tx ids, types, validation codes and
    chaincode events without their payloads."""
    codes = _validation_codes(block)
    out = events_pb2.FilteredBlock(number=block.header.number)
    for index, raw in enumerate(block.data.data):
        try:
            tx = ParsedTransaction.parse(raw)
        except VerifierError:
            continue
        out.channel_id = tx.channel_id
        filtered = events_pb2.FilteredTransaction(
            txid=tx.tx_id,
            type=tx.header_type,
            tx_validation_code=codes[index] if index < len(codes) else 0,
        )
        if tx.header_type == HEADER_TYPE_ENDORSER_TRANSACTION:
            filtered.transaction_actions.CopyFrom(_filtered_actions(tx))
        out.filtered_transactions.append(filtered)
    return out


def _filtered_actions(tx: ParsedTransaction) -> events_pb2.FilteredTransactionActions:
    """The chaincode event of an endorser transaction's action, without its payload; none when
    the transaction does not have one readable action with an event."""
    actions = events_pb2.FilteredTransactionActions()
    try:
        event = tx.events
    except VerifierError:
        return actions
    if event.chaincode_id:
        actions.chaincode_actions.append(
            events_pb2.FilteredChaincodeAction(
                chaincode_event=chaincode_event_pb2.ChaincodeEvent(
                    tx_id=event.tx_id,
                    chaincode_id=event.chaincode_id,
                    event_name=event.event_name,
                )
            )
        )
    return actions


class Streams:
    """The stop events of open server streams, so a shutdown can end every wait at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: set[threading.Event] = set()
        #: Extra callables run when a stream's stop event is set (see :meth:`on_stop`).
        self._hooks: dict[threading.Event, list[Callable[[], None]]] = {}
        self.closing = False

    def open(self, context: grpc.ServicerContext) -> threading.Event:
        """A stop event set when the client hangs up or the server shuts down."""
        event = threading.Event()
        with self._lock:
            if self.closing:
                event.set()
            self._events.add(event)

        def done() -> None:
            self._stop(event)
            with self._lock:
                self._events.discard(event)
                self._hooks.pop(event, None)

        if not context.add_callback(done):
            done()  # the call already ended
        return event

    def on_stop(self, event: threading.Event, hook: Callable[[], None]) -> None:
        """Run ``hook`` when ``event`` is set by this registry (at once if it is set already)."""
        with self._lock:
            self._hooks.setdefault(event, []).append(hook)
        if event.is_set():
            hook()

    def off_stop(self, event: threading.Event, hook: Callable[[], None]) -> None:
        with self._lock:
            hooks = self._hooks.get(event)
            if hooks is not None and hook in hooks:
                hooks.remove(hook)

    def _stop(self, event: threading.Event) -> None:
        event.set()
        with self._lock:
            hooks = list(self._hooks.get(event, ()))
        for hook in hooks:
            hook()

    def close(self) -> None:
        with self._lock:
            self.closing = True
            events = list(self._events)
        for event in events:
            self._stop(event)
