"""Receipts: issued only for VALID transactions, verified offline from the genesis hash alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fabric_protos.common import common_pb2
from nodechain import Chain, cast_args, chain

from mvote.chaincode import encoding
from mvote.chaincode.errors import InvalidField
from mvote.chaincode.records import Ballot
from mvote.client.receipt import issue_receipt
from mvote.verifier import cli
from mvote.verifier.block import block_data_hash
from mvote.verifier.chainfile import write_chain
from mvote.verifier.envelope import unpack_block, unpack_full_envelope
from mvote.verifier.receipt import Receipt, verify_receipt

__all__ = ["chain"]  # the fixture


def _receipt(chain: Chain, seed: int = 1, choice: int = 0) -> Receipt:
    args = cast_args(chain, seed, choice)
    request = encoding.decode(args[1], max_size=1 << 16)  # type: ignore[arg-type]
    ballot = Ballot.from_json(request["ballot"])
    block = chain.submit(*args)
    tx_id = _last_tx_id(chain, block)
    return issue_receipt(
        chain.node.ledger.block, tx_id=tx_id, block_number=block, qid="q1", tracker=ballot.tracker()
    )


def _last_tx_id(chain: Chain, block: int) -> str:
    data = unpack_block(chain.node.ledger.block(block)).data
    return unpack_full_envelope(data[-1]).channel_header.tx_id


def _failed(receipt: Receipt) -> list[str]:
    return [c.name for c in verify_receipt(receipt).checks if not c.ok]


def test_a_receipt_verifies_offline_and_round_trips(chain: Chain) -> None:
    receipt = _receipt(chain)
    report = verify_receipt(Receipt.from_bytes(receipt.to_bytes()))
    assert report.verified, [c for c in report.checks if not c.ok]
    names = {c.name for c in report.checks}
    assert {
        "genesis_hash",
        "orderer_signature",
        "definition",
        "transaction",
        "validation_code",
        "tracker",
        "voter_signature",
    } <= names
    assert sorted(receipt.proof) == [0, 1, receipt.block]  # genesis, definition, the ballot's block


def test_altered_receipts_fail_naming_the_check(chain: Chain) -> None:
    receipt = _receipt(chain)
    assert _failed(Receipt(**{**receipt.__dict__, "tracker": "00" * 32})) == ["tracker"]
    assert _failed(Receipt(**{**receipt.__dict__, "genesis_hash": "11" * 32})) == ["genesis_hash"]
    assert _failed(Receipt(**{**receipt.__dict__, "qid": "q2"})) == ["ballot"]
    # The ballot's block with a changed choice: its data no longer hashes to the signed header.
    block = common_pb2.Block.FromString(receipt.proof[receipt.block])
    assert b'"choices":[0]' in block.data.data[-1]
    block.data.data[-1] = block.data.data[-1].replace(b'"choices":[0]', b'"choices":[1]')
    tampered = {**receipt.proof, receipt.block: block.SerializeToString()}
    assert _failed(Receipt(**{**receipt.__dict__, "proof": tampered})) == ["data_hash"]
    # ... and with the header's data hash updated too, the orderer signature no longer holds.
    block.header.data_hash = block_data_hash(block.data.data)
    tampered = {**receipt.proof, receipt.block: block.SerializeToString()}
    assert _failed(Receipt(**{**receipt.__dict__, "proof": tampered})) == ["orderer_signature"]


def test_no_receipt_for_a_transaction_that_is_not_valid(chain: Chain) -> None:
    receipt = _receipt(chain)
    block = common_pb2.Block.FromString(chain.node.ledger.block(receipt.block))
    block.metadata.metadata[2] = b"\x0b" * len(block.data.data)
    with pytest.raises(InvalidField, match="not VALID"):
        issue_receipt(
            lambda n: (
                block.SerializeToString() if n == receipt.block else chain.node.ledger.block(n)
            ),
            tx_id=receipt.tx_id,
            block_number=receipt.block,
            qid="q1",
            tracker=receipt.tracker,
        )


def test_with_the_chain_the_tally_counted_the_ballot(chain: Chain, tmp_path: Path) -> None:
    receipt = _receipt(chain, seed=3, choice=2)
    chain.submit("CloseQuestion", "q1", "test")
    chain.submit("Aggregate", "q1", "0")
    chain.submit("Tally", "q1")
    blocks = chain.blocks()
    report = verify_receipt(receipt, blocks)
    assert report.verified and report.tallied
    assert {"audit", "in_chain", "recomputed_code", "ballot_in_state", "counted"} <= {
        c.name for c in report.checks
    }

    receipt_file, chain_file = tmp_path / "receipt.json", tmp_path / "chain.bin"
    receipt_file.write_bytes(receipt.to_bytes())
    write_chain(chain_file, blocks)
    assert cli.main(["receipt", str(receipt_file), "--chain", str(chain_file)]) == 0
    assert cli.main(["receipt", str(receipt_file), "--genesis-hash", "22" * 32]) == 1
    receipt_file.write_bytes(b"{not json")
    assert cli.main(["receipt", str(receipt_file)]) == 2


def test_receipt_json_is_canonical_and_readable(chain: Chain) -> None:
    receipt = _receipt(chain)
    value = json.loads(receipt.to_bytes())
    assert value["type"] == "mvote.receipt.v1" and value["tx_id"] == receipt.tx_id
    assert encoding.encode(value) == receipt.to_bytes()
