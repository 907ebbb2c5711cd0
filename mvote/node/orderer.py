"""Ordering: cut envelopes into batches, make them Fabric blocks, sign them as the orderer.

``BlockCutter`` is Fabric's blockcutter (orderer/common/blockcutter) as a pure object: a batch is
cut when it reaches the maximum message count, when the next message would take it past the
preferred byte size, or (driven by the caller's timer) when its first message has waited the batch
timeout; a message larger than the preferred size travels alone. ``new_block`` and ``sign_block``
are the block writer (orderer/common/multichannel/blockwriter.go): the SIGNATURES metadata holds
an ``OrdererBlockMetadata`` and one signature over ``value || signature_header || header``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from fabric_protos.common import common_pb2
from fabric_protos.orderer.etcdraft import metadata_pb2 as raft_metadata_pb2

from mvote.client._identity import Signer
from mvote.node.config import BatchSettings
from mvote.verifier._block import block_data_hash, block_header_bytes
from mvote.verifier._transaction import ParsedTransaction

METADATA_SLOTS = 5  # SIGNATURES, LAST_CONFIG, TRANSACTIONS_FILTER, ORDERER, COMMIT_HASH


@dataclass(frozen=True)
class Queued:
    """A checked transaction waiting for its block: its tx id as Submit read it from the
    envelope's channel header, and the transaction as Submit parsed it (its layers are reused
    by validation; from a gateway process it comes as bytes, parsed when first read)."""

    tx_id: str
    transaction: ParsedTransaction
    #: When it was queued (time.monotonic), for the order latency metric.
    queued_at: float = field(default_factory=time.monotonic, compare=False)

    @property
    def envelope(self) -> bytes:
        return self.transaction.raw


@dataclass
class BlockCutter:
    """Fabric's block cutter. Not thread-safe: one ordering thread owns it."""

    batch: BatchSettings
    pending: list[Queued] = field(default_factory=list)
    pending_bytes: int = 0

    def ordered(self, envelope: Queued) -> list[list[Queued]]:
        """Add one envelope; return the batches this cut (zero, one or two)."""
        size = len(envelope.envelope)
        if size > self.batch.preferred_max_bytes:
            # Too big to share a block: cut what is pending, then this one alone.
            return [b for b in (self.cut(), [envelope]) if b]
        batches = []
        if self.pending_bytes + size > self.batch.preferred_max_bytes:
            batches.append(self.cut())
        self.pending.append(envelope)
        self.pending_bytes += size
        if len(self.pending) >= self.batch.max_message_count:
            batches.append(self.cut())
        return batches

    def cut(self) -> list[Queued]:
        batch, self.pending, self.pending_bytes = self.pending, [], 0
        return batch


def new_block(number: int, previous_hash: bytes, envelopes: Sequence[bytes]) -> common_pb2.Block:
    """An unsigned block with its header computed and empty metadata slots."""
    block = common_pb2.Block()
    block.header.number = number
    block.header.previous_hash = previous_hash
    block.data.data.extend(envelopes)
    block.header.data_hash = block_data_hash(envelopes)
    block.metadata.metadata.extend([b""] * METADATA_SLOTS)
    return block


def raft_consenter_metadata(raft_index: int) -> bytes:
    """etcdraft BlockMetadata of a single-consenter cluster (consenter id 1)."""
    return bytes(
        raft_metadata_pb2.BlockMetadata(
            consenter_ids=[1], next_consenter_id=2, raft_index=raft_index
        ).SerializeToString()
    )


def sign_block(block: common_pb2.Block, signer: Signer, *, last_config: int = 0) -> None:
    """Fill the SIGNATURES slot exactly as Fabric's BlockWriter.addBlockSignature does."""
    value = common_pb2.OrdererBlockMetadata(
        last_config=common_pb2.LastConfig(index=last_config),
        consenter_metadata=common_pb2.Metadata(
            value=raft_consenter_metadata(block.header.number)
        ).SerializeToString(),
    ).SerializeToString()
    signature_header = common_pb2.SignatureHeader(
        creator=signer.creator, nonce=os.urandom(24)
    ).SerializeToString()
    header = block_header_bytes(
        block.header.number, block.header.previous_hash, block.header.data_hash
    )
    signature = signer.sign(value + signature_header + header)
    block.metadata.metadata[common_pb2.SIGNATURES] = common_pb2.Metadata(
        value=value,
        signatures=[
            common_pb2.MetadataSignature(signature_header=signature_header, signature=signature)
        ],
    ).SerializeToString()


def orderer_copy(block: common_pb2.Block) -> common_pb2.Block:
    """The ordering service's copy of a committed block: no peer metadata (filter, commit hash)."""
    copy = common_pb2.Block()
    copy.CopyFrom(block)
    copy.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = b""
    copy.metadata.metadata[common_pb2.COMMIT_HASH] = b""
    return copy
