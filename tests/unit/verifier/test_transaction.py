"""ParsedTransaction: one parse of an envelope, checked on the real Fabric golden chain."""

from __future__ import annotations

import pytest
from fabric_protos.common import common_pb2

from mvote.verifier._envelope import (
    HEADER_TYPE_CONFIG,
    HEADER_TYPE_ENDORSER_TRANSACTION,
    unpack_block,
)
from mvote.verifier._errors import MalformedProto
from mvote.verifier._transaction import ParsedTransaction


def _endorser_txs(blocks: list[bytes]) -> list[ParsedTransaction]:
    out = []
    for raw in blocks[1:]:
        for data in unpack_block(raw).data:
            tx = ParsedTransaction.parse(data)
            if tx.header_type == HEADER_TYPE_ENDORSER_TRANSACTION:
                out.append(tx)
    return out


def test_golden_endorser_transactions_parse_to_consistent_views(
    golden_blocks: list[bytes],
) -> None:
    txs = _endorser_txs(golden_blocks)
    assert txs
    for tx in txs:
        assert tx.tx_id == tx.computed_tx_id
        assert tx.proposal_hash == tx.computed_proposal_hash
        assert tx.chaincode_name == tx.chaincode_action.chaincode_name
        assert tx.args and tx.args[0]
        assert tx.endorsements
        assert tx.response.status == 200
        assert tx.namespaces == tx.rwset.ns_rwsets
        assert tx.creator == tx.signature_header.creator
        assert tx.timestamp[0] > 0
        assert tx.channel_id


def test_golden_config_transaction_has_a_config_and_no_endorser_parts(
    golden_blocks: list[bytes],
) -> None:
    tx = ParsedTransaction.parse(unpack_block(golden_blocks[0]).data[0])
    assert tx.header_type == HEADER_TYPE_CONFIG
    assert tx.config_envelope.HasField("config")
    for name in ("args", "namespaces", "endorsements", "chaincode_name", "response"):
        with pytest.raises(MalformedProto) as err:
            getattr(tx, name)
        assert err.value.field == "channel_header.type"


def test_each_layer_is_parsed_once(golden_blocks: list[bytes]) -> None:
    tx = _endorser_txs(golden_blocks)[0]
    assert tx.rwset is tx.rwset
    assert tx.action is tx.action
    assert tx.args is tx.args


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"\xff\xff", "envelope"),
        (common_pb2.Envelope(payload=b"\xff\xff").SerializeToString(), "envelope.payload"),
        (
            common_pb2.Envelope(
                payload=common_pb2.Payload(data=b"x").SerializeToString()
            ).SerializeToString(),
            "payload.header",
        ),
        (
            common_pb2.Envelope(
                payload=common_pb2.Payload(
                    header=common_pb2.Header(channel_header=b"\xff\xff")
                ).SerializeToString()
            ).SerializeToString(),
            "payload.header.channel_header",
        ),
    ],
)
def test_bad_bytes_raise_malformed_proto_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(MalformedProto) as err:
        ParsedTransaction.parse(raw)
    assert err.value.field == field


def test_an_endorser_transaction_without_exactly_one_action_is_malformed() -> None:
    header = common_pb2.Header(
        channel_header=common_pb2.ChannelHeader(
            type=HEADER_TYPE_ENDORSER_TRANSACTION
        ).SerializeToString()
    )
    raw = common_pb2.Envelope(
        payload=common_pb2.Payload(header=header, data=b"").SerializeToString()
    ).SerializeToString()
    tx = ParsedTransaction.parse(raw)
    with pytest.raises(MalformedProto) as err:
        _ = tx.args
    assert err.value.field == "transaction.actions"
