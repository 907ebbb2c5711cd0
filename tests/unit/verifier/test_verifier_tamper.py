"""Each tampering of the golden chain is caught, at the exact block (and tx) and check."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from fabric_protos.common import common_pb2
from fabric_protos.peer import transaction_pb2

from mvote.verifier._chain import Finding, verify_chain
from mvote.verifier._signatures import P256_ORDER


def _block(raw: bytes) -> common_pb2.Block:
    b = common_pb2.Block()
    b.ParseFromString(raw)
    return b


def _edit(blocks: list[bytes], n: int, fn: Callable[[common_pb2.Block], None]) -> list[bytes]:
    b = _block(blocks[n])
    fn(b)
    out = list(blocks)
    out[n] = b.SerializeToString()
    return out


def _edit_envelope(b: common_pb2.Block, i: int, fn: Callable[[common_pb2.Envelope], None]) -> None:
    env = common_pb2.Envelope.FromString(b.data.data[i])
    fn(env)
    b.data.data[i] = env.SerializeToString()


def _edit_endorsed_action(
    b: common_pb2.Block, i: int, fn: Callable[[transaction_pb2.ChaincodeActionPayload], None]
) -> None:
    def on_env(env: common_pb2.Envelope) -> None:
        payload = common_pb2.Payload.FromString(env.payload)
        tx = transaction_pb2.Transaction.FromString(payload.data)
        cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        fn(cap)
        tx.actions[0].payload = cap.SerializeToString()
        payload.data = tx.SerializeToString()
        env.payload = payload.SerializeToString()

    _edit_envelope(b, i, on_env)


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def _keys(findings: list[Finding]) -> set[tuple[int, int | None, str]]:
    return {(f.block, f.tx_index, f.check) for f in findings}


def _only_block(findings: list[Finding], n: int) -> None:
    assert findings, "expected findings"
    assert {f.block for f in findings} == {n}, [str(f) for f in findings]


def test_unmodified_serialization_round_trips(
    golden_blocks: list[bytes], genesis_hash: bytes
) -> None:
    # The tamper helpers re-serialize protobufs; an identity edit must leave the chain verified,
    # so every finding below is caused by the tampering itself.
    blocks = _edit(golden_blocks, 6, lambda b: _edit_endorsed_action(b, 0, lambda cap: None))
    assert blocks[6] == golden_blocks[6]
    assert verify_chain(blocks, genesis_hash).findings == []


def test_flipped_byte_in_block_data(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    def fn(b: common_pb2.Block) -> None:
        raw = b.data.data[2]
        b.data.data[2] = _flip(raw, len(raw) - 100)

    report = verify_chain(_edit(golden_blocks, 7, fn), genesis_hash)
    _only_block(report.findings, 7)
    assert (7, None, "data_hash") in _keys(report.findings)


def test_flipped_byte_in_orderer_signature(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    def fn(b: common_pb2.Block) -> None:
        md = common_pb2.Metadata.FromString(b.metadata.metadata[0])
        md.signatures[0].signature = _flip(md.signatures[0].signature, 10)
        b.metadata.metadata[0] = md.SerializeToString()

    report = verify_chain(_edit(golden_blocks, 9, fn), genesis_hash)
    _only_block(report.findings, 9)
    assert _keys(report.findings) == {
        (9, None, "orderer_signature"),
        (9, None, "block_validation_policy"),
    }


def test_flipped_byte_in_creator_signature(
    golden_blocks: list[bytes], genesis_hash: bytes, golden_index: dict[str, object]
) -> None:
    def fn(b: common_pb2.Block) -> None:
        _edit_envelope(b, 1, lambda env: setattr(env, "signature", _flip(env.signature, 12)))

    report = verify_chain(_edit(golden_blocks, 8, fn), genesis_hash)
    _only_block(report.findings, 8)
    keys = _keys(report.findings)
    assert (8, 1, "creator_signature") in keys
    assert (8, 1, "validation_code") in keys
    assert (8, None, "data_hash") in keys
    tx_id = next(f.tx_id for f in report.findings if f.check == "creator_signature")
    assert tx_id == golden_index["blocks"][8]["tx_ids"][1]  # type: ignore[index]
    assert report.codes[8] == [0, 4, 0, 0]  # BAD_CREATOR_SIGNATURE


def test_flipped_byte_in_endorsement(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    def on_cap(cap: transaction_pb2.ChaincodeActionPayload) -> None:
        e = cap.action.endorsements[1]
        e.signature = _flip(e.signature, 20)

    report = verify_chain(
        _edit(golden_blocks, 5, lambda b: _edit_endorsed_action(b, 0, on_cap)), genesis_hash
    )
    _only_block(report.findings, 5)
    keys = _keys(report.findings)
    # The endorsements sit inside the creator-signed payload, so the creator signature breaks
    # too; the endorsement is still named, and with one of two endorsements gone, the policy.
    assert (5, 0, "endorsement_signature") in keys
    assert (5, 0, "endorsement_policy") in keys
    assert (5, 0, "creator_signature") in keys
    assert (5, 0, "validation_code") in keys


def test_dropped_transaction(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    def fn(b: common_pb2.Block) -> None:
        del b.data.data[3]

    report = verify_chain(_edit(golden_blocks, 6, fn), genesis_hash)
    _only_block(report.findings, 6)
    assert _keys(report.findings) == {
        (6, None, "data_hash"),
        (6, None, "transactions_filter"),
        (6, None, "commit_hash"),
    }


def test_reordered_transactions(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    def fn(b: common_pb2.Block) -> None:
        first, second = b.data.data[0], b.data.data[2]
        b.data.data[0], b.data.data[2] = second, first

    report = verify_chain(_edit(golden_blocks, 9, fn), genesis_hash)
    # Versions are (block, tx index): the reordered writes change the peer's commit hash too.
    assert _keys(report.findings) == {(9, None, "data_hash"), (9, None, "commit_hash")}


def test_reordered_conflicting_transactions_change_the_codes(
    golden_blocks: list[bytes], genesis_hash: bytes
) -> None:
    # Moving the first ballot after its duplicates: another tx id now wins, and the recorded
    # codes no longer name the right transactions... except that all three carry the same
    # ballot, so the codes per position stay [0, 11, 11]; the data hash is what catches it.
    def fn(b: common_pb2.Block) -> None:
        b.data.data[0], b.data.data[1] = b.data.data[1], b.data.data[0]

    report = verify_chain(_edit(golden_blocks, 10, fn), genesis_hash)
    assert _keys(report.findings) == {(10, None, "data_hash"), (10, None, "commit_hash")}
    assert report.codes[10] == [0, 11, 11]


def test_endorsement_swapped_from_another_tx(
    golden_blocks: list[bytes], genesis_hash: bytes
) -> None:
    donor = _block(golden_blocks[7])
    env = common_pb2.Envelope.FromString(donor.data.data[0])
    tx = transaction_pb2.Transaction.FromString(common_pb2.Payload.FromString(env.payload).data)
    donor_cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)

    def on_cap(cap: transaction_pb2.ChaincodeActionPayload) -> None:
        want = cap.action.endorsements[0].endorser
        match = next(e for e in donor_cap.action.endorsements if e.endorser == want)
        assert match.signature != cap.action.endorsements[0].signature
        cap.action.endorsements[0].CopyFrom(match)

    report = verify_chain(
        _edit(golden_blocks, 6, lambda b: _edit_endorsed_action(b, 0, on_cap)), genesis_hash
    )
    _only_block(report.findings, 6)
    assert (6, 0, "endorsement_signature") in _keys(report.findings)


def test_changed_validation_code(
    golden_blocks: list[bytes], genesis_hash: bytes, golden_index: dict[str, object]
) -> None:
    def fn(b: common_pb2.Block) -> None:
        b.metadata.metadata[2] = bytes([0, 11, 0, 0])

    report = verify_chain(_edit(golden_blocks, 6, fn), genesis_hash)
    assert [(f.block, f.tx_index, f.tx_id, f.check) for f in report.findings] == [
        (6, 1, golden_index["blocks"][6]["tx_ids"][1], "validation_code"),  # type: ignore[index]
        (6, None, None, "commit_hash"),  # the peer's commit hash covers the recorded codes
    ]


def test_invalid_tx_recorded_as_valid(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    def fn(b: common_pb2.Block) -> None:
        b.metadata.metadata[2] = bytes([0, 0, 11])

    report = verify_chain(_edit(golden_blocks, 12, fn), genesis_hash)
    assert _keys(report.findings) == {
        (12, 1, "validation_code"),
        (12, 1, "mvcc"),
        (12, None, "commit_hash"),
    }


def test_wrong_genesis_hash(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    report = verify_chain(golden_blocks, _flip(genesis_hash, 0))
    assert _keys(report.findings) == {(0, None, "genesis_hash")}


def test_broken_previous_hash(golden_blocks: list[bytes], genesis_hash: bytes) -> None:
    def fn(b: common_pb2.Block) -> None:
        b.header.previous_hash = _flip(b.header.previous_hash, 0)

    report = verify_chain(_edit(golden_blocks, 3, fn), genesis_hash)
    keys = _keys(report.findings)
    assert (3, None, "previous_hash") in keys
    # The header changed, so the orderer signature over it no longer holds, and block 4's
    # previous_hash no longer matches block 3's new hash.
    assert (3, None, "orderer_signature") in keys
    assert (4, None, "previous_hash") in keys


def test_high_s_twin_of_orderer_signature_rejected(
    golden_blocks: list[bytes], genesis_hash: bytes
) -> None:
    def fn(b: common_pb2.Block) -> None:
        md = common_pb2.Metadata.FromString(b.metadata.metadata[0])
        r, s = decode_dss_signature(md.signatures[0].signature)
        md.signatures[0].signature = encode_dss_signature(r, P256_ORDER - s)
        b.metadata.metadata[0] = md.SerializeToString()

    report = verify_chain(_edit(golden_blocks, 2, fn), genesis_hash)
    assert _keys(report.findings) == {
        (2, None, "orderer_signature"),
        (2, None, "block_validation_policy"),
    }
    assert "low-S" in next(f.message for f in report.findings if f.check == "orderer_signature")


def test_truncated_block_is_a_finding_not_a_crash(
    golden_blocks: list[bytes], genesis_hash: bytes
) -> None:
    blocks = list(golden_blocks)
    blocks[5] = blocks[5][:-7]
    report = verify_chain(blocks, genesis_hash)
    assert report.findings and report.findings[0].block == 5
