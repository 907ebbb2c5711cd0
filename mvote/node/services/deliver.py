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
from dataclasses import dataclass

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import events_pb2, events_pb2_grpc
from google.protobuf.message import DecodeError

from mvote.node.errors import IdentityExpired
from mvote.node.metrics import metrics
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
from mvote.verifier._errors import VerifierError
from mvote.verifier._transaction import ParsedTransaction

log = logging.getLogger("mvote.node.deliver")

#: Fabric's peer.deliveryclient / orderer General.Authentication.TimeWindow default: 15 minutes.
TIME_WINDOW_SECONDS = 15 * 60
_NO_STOP = 2**64 - 1

DeliverStatus = int
_BAD_REQUEST: DeliverStatus = common_pb2.BAD_REQUEST
_NOT_FOUND: DeliverStatus = common_pb2.NOT_FOUND
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
        status_response: Callable[[DeliverStatus], object],
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
            outcome: list[DeliverStatus] = []
            yield from self._deliver_blocks(envelope, context, send, stop, outcome, ticket)
            status = outcome[0] if outcome else common_pb2.INTERNAL_SERVER_ERROR
            if status != common_pb2.SUCCESS:  # counted before the client can see the answer
                metrics().refused(None, common_pb2.Status.Name(status), "deliver")
            yield status_response(status)
            if status != common_pb2.SUCCESS:
                return

    def _deliver_blocks(
        self,
        envelope: common_pb2.Envelope,
        context: grpc.ServicerContext,
        send: Sender,
        stop: threading.Event,
        outcome: list[DeliverStatus],
        ticket: Ticket,
    ) -> Iterator[object]:
        """Fabric's deliverBlocks for one seek request: append its final status to ``outcome``
        after yielding the blocks it asks for (none when the request is refused)."""
        peer = context.peer()
        request = self._seek_request(envelope, peer)
        if not isinstance(request, _SeekRequest):
            outcome.append(request)
            return
        denied = self._refusal(request)
        if denied is not None:
            log.warning("deliver: client %s is not authorized: %s", peer, denied)
            outcome.append(common_pb2.FORBIDDEN)
            return
        self._admission.identify(context, ticket, request.creator)
        seek = request.seek
        if not seek.HasField("start") or not seek.HasField("stop"):
            outcome.append(common_pb2.BAD_REQUEST)
            return
        height = self.node.ledger.height
        start = start_number(seek.start, height)
        last = _stop_number(seek, start, height)
        if last is None:
            outcome.append(common_pb2.BAD_REQUEST)
            return
        yield from self._stream(request, start, last, send, stop, outcome, peer)

    def _seek_request(
        self, envelope: common_pb2.Envelope, peer: str
    ) -> _SeekRequest | DeliverStatus:
        """The seek request ``envelope`` carries, or the status refusing it: BAD_REQUEST when it
        does not parse, has no timestamp or one outside the window, NOT_FOUND for another
        channel."""
        try:
            parsed = ParsedTransaction.parse(envelope.SerializeToString())
        except VerifierError as exc:
            log.warning("deliver: error parsing envelope from %s: %s", peer, exc.message)
            return _BAD_REQUEST
        header = parsed.channel_header
        if header.timestamp_seconds == 0 and header.timestamp_nanos == 0:
            log.warning("deliver: channel header in envelope must contain timestamp (%s)", peer)
            return _BAD_REQUEST
        skew = abs(header.timestamp_seconds + header.timestamp_nanos / 1e9 - self._clock())
        if skew > TIME_WINDOW_SECONDS:
            log.warning(
                "deliver: envelope timestamp is %.0f s from server time (window %d s)",
                skew,
                TIME_WINDOW_SECONDS,
            )
            return _BAD_REQUEST
        if header.channel_id != self.node.channel_id:
            log.info("deliver: rejecting %s, channel %r not found", peer, header.channel_id)
            return _NOT_FOUND
        try:
            seek = ab_pb2.SeekInfo.FromString(parsed.data)
        except DecodeError:
            log.warning("deliver: malformed seekInfo payload from %s", peer)
            return _BAD_REQUEST
        return _SeekRequest(parsed, seek)

    def _refusal(self, request: _SeekRequest) -> str | None:
        """Why the request's signer may not read (the reader policy, an expired certificate), or
        None. Fabric's SessionAccessControl: checked again before every block."""
        parsed = request.envelope
        denied = check_signed_acl(
            self.node,
            parsed.channel_id,
            self.policy,
            parsed.envelope.payload,
            request.creator,
            parsed.envelope.signature,
        )
        if denied is None:
            try:
                self.node.check_identity_bytes(request.creator, "creator")
            except IdentityExpired as exc:
                denied = str(exc)
        return denied

    def _stream(
        self,
        request: _SeekRequest,
        number: int,
        last: int,
        send: Sender,
        stop: threading.Event,
        outcome: list[DeliverStatus],
        peer: str,
    ) -> Iterator[object]:
        """Blocks ``number`` to ``last`` (waiting for those not committed yet, unless the request
        says FAIL_IF_NOT_READY), each after the access check again; then SUCCESS."""
        seek = request.seek
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
            denied = self._refusal(request)
            if denied is not None:
                log.warning("deliver: authorization revoked for %s: %s", peer, denied)
                outcome.append(common_pb2.FORBIDDEN)
                return
            yield send(_content(block, seek))
            if block.header.number == last:
                break
        outcome.append(common_pb2.SUCCESS)


@dataclass(frozen=True)
class _SeekRequest:
    """A parsed seek request on this node's channel, with a valid timestamp."""

    envelope: ParsedTransaction
    seek: ab_pb2.SeekInfo

    @property
    def creator(self) -> bytes:
        return self.envelope.creator


def _stop_number(seek: ab_pb2.SeekInfo, start: int, height: int) -> int | None:
    """The last block ``seek`` asks for from ``start`` at ledger ``height``; None (BAD_REQUEST)
    for a specified stop before the start. Precondition: ``seek`` has a stop."""
    kind = seek.stop.WhichOneof("Type")
    if kind == "oldest":
        return start
    if kind == "newest":
        return start if seek.start == seek.stop else height - 1
    if kind == "specified":
        last = int(seek.stop.specified.number)
        if last < start:
            log.warning("deliver: start %d greater than stop %d", start, last)
            return None
        return last
    return _NO_STOP


def _content(block: common_pb2.Block, seek: ab_pb2.SeekInfo) -> common_pb2.Block:
    """What of ``block`` the seek asks for: HEADER_WITH_SIG strips a non-config block's data."""
    if seek.content_type == ab_pb2.SeekInfo.HEADER_WITH_SIG and not is_config_block(block):
        return common_pb2.Block(header=block.header, metadata=block.metadata)
    return block


class PeerDeliver(events_pb2_grpc.DeliverServicer):  # type: ignore[misc]
    """Fabric's peer DeliverServer: blocks, filtered blocks, blocks with private data."""

    def __init__(self, node: Peer, streams: Streams, admission: Admission) -> None:
        self._handler = DeliverHandler(
            node, APPLICATION_READERS, streams=streams, admission=admission
        )

    @staticmethod
    def _status(status: DeliverStatus) -> events_pb2.DeliverResponse:
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
