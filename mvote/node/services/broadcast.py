"""The ordering service's ``orderer.AtomicBroadcast``: Broadcast and Deliver.

Broadcast answers each envelope with one ``BroadcastResponse`` (orderer/common/broadcast): the
node's submit checks become the statuses Fabric's orderer gives for the same failures
(msgprocessor.ClassifyError: a permission failure is FORBIDDEN, an unknown channel NOT_FOUND, a
malformed or oversized message BAD_REQUEST, an orderer that cannot take messages
SERVICE_UNAVAILABLE). Unlike Fabric's Raft orderer, a tx id already committed or pending is
refused here (BAD_REQUEST) rather than ordered and then marked DUPLICATE_TXID, so a replay
persists nothing.

Deliver serves the orderer's copy of each block (no peer metadata) to /Channel/Readers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2, ab_pb2_grpc

from mvote.chaincode._errors import MvoteError, Unauthorised, WrongChannel
from mvote.node.errors import IdentityExpired, NotRunning
from mvote.node.metrics import metrics
from mvote.node.orderer import orderer_copy
from mvote.node.peer import Peer
from mvote.node.services._common import CHANNEL_READERS, Streams
from mvote.node.services.admission import Admission, TimedRequests
from mvote.node.services.deliver import DeliverHandler
from mvote.verifier._transaction import ParsedTransaction

log = logging.getLogger("mvote.node.broadcast")


def broadcast_status(error: MvoteError) -> tuple[int, str]:
    """The ``common.Status`` and info Fabric's orderer answers for a refusal like ``error``."""
    if isinstance(error, IdentityExpired):
        # orderer/common/msgprocessor ExpirationRejectRule: not a permission error to Fabric.
        status = common_pb2.BAD_REQUEST
    elif isinstance(error, Unauthorised):
        status = common_pb2.FORBIDDEN
    elif isinstance(error, WrongChannel):
        status = common_pb2.NOT_FOUND
    elif isinstance(error, NotRunning):
        status = common_pb2.SERVICE_UNAVAILABLE
    else:
        status = common_pb2.BAD_REQUEST
    return status, str(error)


class AtomicBroadcast(ab_pb2_grpc.AtomicBroadcastServicer):  # type: ignore[misc]
    def __init__(self, node: Peer, streams: Streams, admission: Admission) -> None:
        self.node = node
        self._admission = admission
        self._deliver = DeliverHandler(node, CHANNEL_READERS, streams=streams, admission=admission)

    def Broadcast(
        self, request_iterator: Iterator[common_pb2.Envelope], context: grpc.ServicerContext
    ) -> Iterator[ab_pb2.BroadcastResponse]:
        ticket = self._admission.enter(context, "broadcast")
        reader = TimedRequests(request_iterator, context)
        while True:
            try:
                envelope = reader.next(self._admission.limits.stream_request_seconds)
            except TimeoutError:
                self._admission.idle(context)
            if envelope is None:
                return
            try:
                tx_id = self.node.submit(envelope)
            except MvoteError as exc:
                status, info = broadcast_status(exc)
                metrics().refused(exc.code, common_pb2.Status.Name(status), exc.field)
                yield ab_pb2.BroadcastResponse(status=status, info=info)
                return  # as Fabric's broadcast Handle: a failed message ends the stream
            log.debug("broadcast tx %s ordered", tx_id)
            yield ab_pb2.BroadcastResponse(status=common_pb2.SUCCESS)
            if ticket.identity is None:
                # Counted against its creator once submit proved it by its signature.
                creator = ParsedTransaction.parse(envelope.SerializeToString()).creator
                self._admission.identify(context, ticket, creator)

    def Deliver(
        self, request_iterator: Iterator[common_pb2.Envelope], context: grpc.ServicerContext
    ) -> Iterator[object]:
        return self._deliver.handle(
            request_iterator,
            context,
            lambda block: ab_pb2.DeliverResponse(block=orderer_copy(block)),
            lambda status: ab_pb2.DeliverResponse(status=status),
        )
