"""The peer's COMMIT_HASH: recomputed exactly as Fabric's kvledger does, checked by the verifier."""

from __future__ import annotations

from fabric_protos.common import common_pb2

from mvote.verifier._chain import verify_chain
from mvote.verifier._commithash import commit_hash, order_preserving_uint64, update_batch_bytes
from mvote.verifier._config import channel_config_from_block
from mvote.verifier._mvcc import BlockUpdates, MemoryWorldState
from mvote.verifier._validation import BlockContext, validate_block_transactions


def test_order_preserving_uint64_matches_fabric() -> None:
    # Fabric's EncodeOrderPreservingVarUint64: a size byte then the big-endian significant bytes.
    assert order_preserving_uint64(0) == b"\x00"
    assert order_preserving_uint64(1) == b"\x01\x01"
    assert order_preserving_uint64(256) == b"\x02\x01\x00"
    assert order_preserving_uint64(2**64 - 1) == b"\x08" + b"\xff" * 8


def test_every_golden_commit_hash_is_recomputed(golden_blocks: list[bytes]) -> None:
    config = channel_config_from_block(golden_blocks[0])
    state, seen, previous = MemoryWorldState(), set[str](), b""
    for number in range(1, len(golden_blocks)):
        block = common_pb2.Block.FromString(golden_blocks[number])
        context = BlockContext(config, state, seen.__contains__)
        verdicts, updates = validate_block_transactions(context, number, list(block.data.data))
        recorded = common_pb2.Metadata.FromString(block.metadata.metadata[4]).value
        assert commit_hash(bytes(block.metadata.metadata[2]), updates, previous) == recorded, number
        previous = recorded
        state.apply(updates)
        seen.update(v.tx_id for v in verdicts)


def test_update_batch_names_namespace_once_per_run() -> None:
    updates = BlockUpdates()
    updates.public[("ns", "b")] = (b"2", (1, 1))
    updates.public[("ns", "a")] = (None, (1, 0))
    raw = update_batch_bytes(updates)
    # Two KVWrite entries, keys in order, the namespace only on the first, the delete flagged.
    first_len = raw[1]
    first, second = raw[2 : 2 + first_len], raw[2 + first_len + 2 :]
    assert first.startswith(b"\x0a\x02ns\x1a\x01a\x20\x01")
    assert b"ns" not in second and second.startswith(b"\x1a\x01b*\x012")


def _with_commit_hash(raw: bytes, value: bytes) -> bytes:
    block = common_pb2.Block.FromString(raw)
    block.metadata.metadata[4] = common_pb2.Metadata(value=value).SerializeToString()
    return block.SerializeToString()


def test_a_tampered_commit_hash_is_named(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    blocks = list(golden_blocks)
    blocks[7] = _with_commit_hash(blocks[7], b"\x00" * 32)
    report = verify_chain(blocks, genesis_hash)
    # Block 7's own hash is wrong, and block 8's recorded hash no longer chains from it.
    assert [(f.block, f.check) for f in report.findings] == [(7, "commit_hash"), (8, "commit_hash")]


def test_a_missing_commit_hash_makes_the_next_uncheckable(
    golden_blocks: list[bytes], genesis_hash: bytes
) -> None:
    blocks = list(golden_blocks)
    block = common_pb2.Block.FromString(blocks[9])
    block.metadata.metadata[4] = b""
    blocks[9] = block.SerializeToString()
    report = verify_chain(blocks, genesis_hash)
    assert [(f.block, f.check) for f in report.findings] == [(10, "commit_hash")]
    assert "cannot be checked" in report.findings[0].message
