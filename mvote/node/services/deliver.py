"""Deliver: blocks from the ledger to a client that asks with a signed seek request.

``DeliverHandler`` is Fabric's common/deliver Handler.deliverBlocks: for each signed
``common.Envelope`` carrying an ``orderer.SeekInfo`` it answers BAD_REQUEST for an unparsable
envelope, a missing timestamp or one outside the time window, a malformed SeekInfo, a missing
start or stop, or a stop before the start; NOT_FOUND for another channel (and, with
FAIL_IF_NOT_READY, for a block not yet committed); FORBIDDEN when the signer does not satisfy the
reader policy; otherwise the blocks from start to stop, each re-checked against the policy, then
SUCCESS. A status other than SUCCESS ends the stream, as in Fabric.

The peer's ``protos.Deliver`` (``PeerDeliver``) checks /Channel/Application/Readers and sends
blocks, filtered blocks, or blocks with an empty private data map (this node keeps no private
data); the orderer's Deliver (broadcast.py) checks /Channel/Readers and sends the orderer's copy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import events_pb2, events_pb2_grpc
from google.protobuf.message import DecodeError

from mvote.node.errors import IdentityExpired
from mvote.node.peer import Peer
from mvote.node.services._common import (
    APPLICATION_READERS,
    Streams,
    check_signed_acl,
    filtered_block,
    is_config_block,
    start_number,
)
from mvote.node.services.admission import Admission, Ticket, TimedRequests
from mvote.verifier.envelope import unpack_full_envelope
from mvote.verifier.errors import VerifierError

log = logging.getLogger("mvote.node.deliver")

#: Fabric's peer.deliveryclient / orderer General.Authentication.TimeWindow default: 15 minutes.
TIME_WINDOW_SECONDS = 15 * 60
_NO_STOP = 2**64 - 1

Status = int
#: Turns a committed block into the responses to send for it.
Sender = Callable[[common_pb2.Block], object]


class DeliverHandler:
    """One implementation of Fabric's deliver loop, parametrised by policy and response shape."""

    def __init__(
        self,
        node: Peer,
        policy: str,
        *,
        streams: Streams,
        admission: Admission,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.node = node
        self.policy = policy
        self._streams = streams
        self._admission = admission
        self._clock = clock

    def handle(
        self,
        requests: Iterator[common_pb2.Envelope],
        context: grpc.ServicerContext,
        send: Sender,
        status_response: Callable[[Status], object],
    ) -> Iterator[object]:
        """Answer each seek request in turn until the client hangs up or a request fails; a
        stream beyond the limits is refused, one that sends no request in time is ended
        (admission.py)."""
        ticket = self._admission.enter(context, "deliver")
        stop = self._streams.open(context)
        reader = TimedRequests(requests, context)
        wait = self._admission.limits.stream_request_seconds
        while True:
            try:
                envelope = reader.next(wait)
            except TimeoutError:
                self._admission.idle(context)
            if envelope is None:
                return
            outcome: list[Status] = []
            yield from self._deliver_blocks(envelope, context, send, stop, outcome, ticket)
            status = outcome[0] if outcome else common_pb2.INTERNAL_SERVER_ERROR
            yield status_response(status)
            if status != common_pb2.SUCCESS:
                return

    def _deliver_blocks(
        self,
        envelope: common_pb2.Envelope,
        context: grpc.ServicerContext,
        send: Sender,
        stop: threading.Event,
        outcome: list[Status],
        ticket: Ticket,
    ) -> Iterator[object]:
        peer = context.peer()
        try:
            parsed = unpack_full_envelope(envelope.SerializeToString())
        except VerifierError as exc:
            log.warning("deliver: error parsing envelope from %s: %s", peer, exc.message)
            outcome.append(common_pb2.BAD_REQUEST)
            return
        header = parsed.channel_header
        if header.timestamp_seconds == 0 and header.timestamp_nanos == 0:
            log.warning("deliver: channel header in envelope must contain timestamp (%s)", peer)
            outcome.append(common_pb2.BAD_REQUEST)
            return
        skew = abs(header.timestamp_seconds + header.timestamp_nanos / 1e9 - self._clock())
        if skew > TIME_WINDOW_SECONDS:
            log.warning(
                "deliver: envelope timestamp is %.0f s from server time (window %d s)",
                skew,
                TIME_WINDOW_SECONDS,
            )
            outcome.append(common_pb2.BAD_REQUEST)
            return
        if header.channel_id != self.node.channel_id:
            log.info("deliver: rejecting %s, channel %r not found", peer, header.channel_id)
            outcome.append(common_pb2.NOT_FOUND)
            return
        try:
            seek = ab_pb2.SeekInfo.FromString(parsed.data)
        except DecodeError:
            log.warning("deliver: malformed seekInfo payload from %s", peer)
            outcome.append(common_pb2.BAD_REQUEST)
            return

        creator = parsed.signature_header.creator

        def refusal() -> str | None:
            denied = check_signed_acl(
                self.node,
                header.channel_id,
                self.policy,
                parsed.payload,
                creator,
                parsed.signature,
            )
            if denied is None:
                # Fabric's SessionAccessControl: checked again before every block.
                try:
                    self.node.check_identity_bytes(creator, "creator")
                except IdentityExpired as exc:
                    denied = str(exc)
            return denied

        denied = refusal()
        if denied is not None:
            log.warning("deliver: client %s is not authorized: %s", peer, denied)
            outcome.append(common_pb2.FORBIDDEN)
            return
        self._admission.identify(context, ticket, creator)
        if not seek.HasField("start") or not seek.HasField("stop"):
            outcome.append(common_pb2.BAD_REQUEST)
            return

        height = self.node.ledger.height
        number = start_number(seek.start, height)
        stop_kind = seek.stop.WhichOneof("Type")
        if stop_kind == "oldest":
            stop_number = number
        elif stop_kind == "newest":
            stop_number = number if seek.start == seek.stop else height - 1
        elif stop_kind == "specified":
            stop_number = int(seek.stop.specified.number)
            if stop_number < number:
                log.warning("deliver: start %d greater than stop %d", number, stop_number)
                outcome.append(common_pb2.BAD_REQUEST)
                return
        else:
            stop_number = _NO_STOP

        # Peer.blocks waits for each next block until this stream's stop is set or the node stops.
        blocks = self.node.blocks(number, stop)
        while True:
            if (
                seek.behavior == ab_pb2.SeekInfo.FAIL_IF_NOT_READY
                and number > self.node.ledger.height - 1
            ):
                log.info("deliver: block %d not found, beyond the chain", number)
                outcome.append(common_pb2.NOT_FOUND)
                return
            block = next(blocks, None)
            if block is None:
                # The client went away or the node is stopping (Fabric: context finished).
                outcome.append(
                    common_pb2.SERVICE_UNAVAILABLE
                    if self._streams.closing
                    else common_pb2.INTERNAL_SERVER_ERROR
                )
                return
            number += 1
            denied = refusal()
            if denied is not None:
                log.warning("deliver: authorization revoked for %s: %s", peer, denied)
                outcome.append(common_pb2.FORBIDDEN)
                return
            to_send = block
            if seek.content_type == ab_pb2.SeekInfo.HEADER_WITH_SIG and not is_config_block(block):
                to_send = common_pb2.Block(header=block.header, metadata=block.metadata)
            yield send(to_send)
            if block.header.number == stop_number:
                break
        outcome.append(common_pb2.SUCCESS)


class PeerDeliver(events_pb2_grpc.DeliverServicer):  # type: ignore[misc]
    """Fabric's peer DeliverServer: blocks, filtered blocks, blocks with private data."""

    def __init__(self, node: Peer, streams: Streams, admission: Admission) -> None:
        self._handler = DeliverHandler(
            node, APPLICATION_READERS, streams=streams, admission=admission
        )

    @staticmethod
    def _status(status: Status) -> events_pb2.DeliverResponse:
        return events_pb2.DeliverResponse(status=status)

    def Deliver(
        self, request_iterator: Iterator[common_pb2.Envelope], context: grpc.ServicerContext
    ) -> Iterator[object]:
        return self._handler.handle(
            request_iterator,
            context,
            lambda block: events_pb2.DeliverResponse(block=block),
            self._status,
        )

    def DeliverFiltered(
        self, request_iterator: Iterator[common_pb2.Envelope], context: grpc.ServicerContext
    ) -> Iterator[object]:
        return self._handler.handle(
            request_iterator,
            context,
            lambda block: events_pb2.DeliverResponse(filtered_block=filtered_block(block)),
            self._status,
        )

    def DeliverWithPrivateData(
        self, request_iterator: Iterator[common_pb2.Envelope], context: grpc.ServicerContext
    ) -> Iterator[object]:
        # No collections exist on this channel, so every block's private data map is empty.
        return self._handler.handle(
            request_iterator,
            context,
            lambda block: events_pb2.DeliverResponse(
                block_and_private_data=events_pb2.BlockAndPrivateData(block=block)
            ),
            self._status,
        )
