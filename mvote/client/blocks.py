"""Committed blocks pulled through the peer's Deliver service: a range, or one by number.

:meth:`Network.block_events` follows the ledger as it grows; these helpers take what is already
committed and stop (``FAIL_IF_NOT_READY``), for exports and receipts.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from google.protobuf import timestamp_pb2

from mvote.chaincode.errors import NotFound
from mvote.client.errors import GatewayError
from mvote.client.network import Network
from mvote.client.proposal import NONCE_SIZE


def _seek_envelope(network: Network, start: int, stop: int | None) -> common_pb2.Envelope:
    seek = ab_pb2.SeekInfo(
        start=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start)),
        stop=(
            ab_pb2.SeekPosition(newest=ab_pb2.SeekNewest())
            if stop is None
            else ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=stop))
        ),
        behavior=ab_pb2.SeekInfo.FAIL_IF_NOT_READY,
    )
    now = time.time()
    signer = network.gateway.signer
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.DELIVER_SEEK_INFO,
        channel_id=network.name,
        timestamp=timestamp_pb2.Timestamp(seconds=int(now), nanos=int((now % 1) * 1e9)),
    )
    signature_header = common_pb2.SignatureHeader(
        creator=signer.creator, nonce=os.urandom(NONCE_SIZE)
    )
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=channel_header.SerializeToString(),
            signature_header=signature_header.SerializeToString(),
        ),
        data=seek.SerializeToString(),
    ).SerializeToString()
    return common_pb2.Envelope(payload=payload, signature=signer.sign(payload))


def fetch_blocks(
    network: Network, start: int = 0, stop: int | None = None, *, timeout: float | None = 120.0
) -> list[bytes]:
    """The raw committed blocks ``start..stop`` (inclusive; ``None``: up to the newest)."""
    gateway = network.gateway
    envelope = _seek_envelope(network, start, stop)
    call: Any = gateway.deliver_stub.Deliver(iter([envelope]), timeout=timeout)
    blocks: list[bytes] = []
    try:
        for response in call:
            kind = response.WhichOneof("Type")
            if kind == "block":
                blocks.append(response.block.SerializeToString())
                continue
            if kind == "status":
                if response.status == common_pb2.NOT_FOUND:
                    raise NotFound(
                        f"block: the peer has no block {start if not blocks else start + len(blocks)} "
                        "(not committed yet)",
                        field="block",
                    )
                if response.status != common_pb2.SUCCESS:
                    name = common_pb2.Status.Name(response.status)
                    raise GatewayError(
                        f"deliver: the peer ended the stream with status {name}",
                        grpc_code="OK",
                        field="status",
                    )
                break
    except grpc.RpcError as exc:
        raise gateway.rpc_error(GatewayError, exc, "") from None
    finally:
        call.cancel()
    return blocks


class BlockFetcher:
    """A :data:`mvote.client.receipt.BlockSource` over Deliver: block number -> raw block,
    each fetched once."""

    def __init__(self, network: Network) -> None:
        self._network = network
        self._cache: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, number: int) -> bytes:
        with self._lock:
            if number not in self._cache:
                (self._cache[number],) = fetch_blocks(self._network, number, number)
            return self._cache[number]
