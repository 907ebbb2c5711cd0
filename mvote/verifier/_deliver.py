"""Reading committed blocks from a peer's Deliver service, as Fabric's clients do.

A Deliver request is a signed ``DELIVER_SEEK_INFO`` envelope (the peer checks the signer against
the channel's Readers policy). An auditor or a voter's device reads the blocks it checks this way;
the client uses the same envelope for its block and chaincode event streams.
"""

from __future__ import annotations

import os
import time
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import events_pb2_grpc
from google.protobuf import timestamp_pb2

from mvote.chaincode._errors import NotFound
from mvote.verifier._errors import DeliverFailed
from mvote.verifier._identity import Signer

NONCE_SIZE = 24
#: The highest block number Fabric's SeekSpecified takes: "follow the ledger".
MAX_BLOCK = 2**64 - 1


def seek_position(block: int | None) -> ab_pb2.SeekPosition:
    """A specified block, or the newest when ``block`` is None."""
    if block is None:
        return ab_pb2.SeekPosition(newest=ab_pb2.SeekNewest())
    return ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=block))


def seek_envelope(
    signer: Signer,
    channel_id: str,
    *,
    start: ab_pb2.SeekPosition,
    stop: ab_pb2.SeekPosition,
    wait: bool,
) -> common_pb2.Envelope:
    """The signed seek request: blocks ``start..stop``; ``wait`` for blocks not yet committed
    (BLOCK_UNTIL_READY) or stop at the newest (FAIL_IF_NOT_READY)."""
    seek = ab_pb2.SeekInfo(
        start=start,
        stop=stop,
        behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY if wait else ab_pb2.SeekInfo.FAIL_IF_NOT_READY,
    )
    now = time.time()
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.DELIVER_SEEK_INFO,
        channel_id=channel_id,
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
    channel: grpc.Channel,
    signer: Signer,
    channel_id: str,
    start: int = 0,
    stop: int | None = None,
    *,
    timeout: float | None = 120.0,
) -> list[bytes]:
    """The raw committed blocks ``start..stop`` (inclusive; None: up to the newest)."""
    envelope = seek_envelope(
        signer, channel_id, start=seek_position(start), stop=seek_position(stop), wait=False
    )
    call: Any = events_pb2_grpc.DeliverStub(channel).Deliver(iter([envelope]), timeout=timeout)
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
                        f"block: the peer has no block {start + len(blocks)} (not committed yet)",
                        field="block",
                    )
                if response.status != common_pb2.SUCCESS:
                    raise DeliverFailed(
                        f"deliver: the peer ended the stream with status "
                        f"{common_pb2.Status.Name(response.status)}",
                        field="status",
                    )
                break
    except grpc.RpcError as exc:
        if not isinstance(exc, grpc.Call):
            raise DeliverFailed(f"deliver: {type(exc).__name__}", field="deliver") from exc
        name = exc.code().name
        raise DeliverFailed(f"deliver: {exc.details()}", field="deliver", grpc_code=name) from exc
    finally:
        call.cancel()
    return blocks


def connect(
    target: str, *, tls_root_certificates: bytes | None = None, server_name: str | None = None
) -> grpc.Channel:
    """A gRPC channel to ``host:port`` (TLS when the CA that issued the peer's certificate is given)."""
    options: list[tuple[str, Any]] = [("grpc.max_receive_message_length", 1 << 30)]
    if tls_root_certificates is None:
        return grpc.insecure_channel(target, options=options)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(
        target, grpc.ssl_channel_credentials(tls_root_certificates), options=options
    )
