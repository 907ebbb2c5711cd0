"""Receipts: issued only for VALID transactions, verified offline from the genesis hash alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fabric_protos.common import common_pb2
from nodechain import Chain, cast_args, chain, old_cast_args, open_chain

from mvote.chaincode import encoding
from mvote.chaincode._errors import InvalidField
from mvote.chaincode._records import ballot_from_json
from mvote.client._receipt import issue_receipt
from mvote.node.config import BatchSettings
from mvote.verifier import _cli as cli
from mvote.verifier._block import block_data_hash
from mvote.verifier._chainfile import write_chain
from mvote.verifier._envelope import unpack_block
from mvote.verifier._receipt import Receipt, verify_receipt, with_context_blocks
from mvote.verifier._transaction import ParsedTransaction

__all__ = ["chain"]  # the fixture


@pytest.fixture
def pair_chain(tmp_path: Path) -> Iterator[Chain]:
    """Blocks cut at two transactions (or after 0.5 s): two ballots submitted together share one."""
    yield from open_chain(tmp_path, BatchSettings(max_message_count=2, timeout_ms=500))


def _tracker(args: list[bytes | str]) -> str:
    request = encoding.decode(args[1], max_size=1 << 16)  # type: ignore[arg-type]
    return ballot_from_json(request["ballot"]).tracker()


def _receipt(chain: Chain, seed: int = 1, choice: int = 0) -> Receipt:
    args = cast_args(chain, seed, choice)
    block = chain.submit(*args)
    tx_id = _last_tx_id(chain, block)
    return issue_receipt(
        chain.node.ledger.block, tx_id=tx_id, block_number=block, qid="q1", tracker=_tracker(args)
    )


def _lying_receipt(chain: Chain, tx_id: str, args: list[bytes | str]) -> tuple[Receipt, bytes]:
    """A receipt for a transaction the peer recorded invalid, issued from its block with every
    TRANSACTIONS_FILTER byte set to VALID (no signature covers them); and that block."""
    where = chain.node.commit_status(tx_id, 10)
    block = common_pb2.Block.FromString(chain.node.ledger.block(where.block))
    block.metadata.metadata[2] = bytes(len(block.data.data))
    lying = block.SerializeToString()
    receipt = issue_receipt(
        lambda n: lying if n == where.block else chain.node.ledger.block(n),
        tx_id=tx_id,
        block_number=where.block,
        qid="q1",
        tracker=_tracker(args),
    )
    return receipt, lying


def _last_tx_id(chain: Chain, block: int) -> str:
    data = unpack_block(chain.node.ledger.block(block)).data
    return ParsedTransaction.parse(data[-1]).tx_id


def _failed(receipt: Receipt, anchor: bytes) -> list[str]:
    return [c.name for c in verify_receipt(receipt, anchor=anchor).checks if not c.ok]


def test_a_receipt_verifies_offline_and_round_trips(chain: Chain) -> None:
    receipt = _receipt(chain)
    report = verify_receipt(Receipt.from_bytes(receipt.to_bytes()), anchor=chain.genesis_hash)
    assert report.verified, [c for c in report.checks if not c.ok]
    assert report.verdict.startswith("VERIFIED offline: validity as recorded by the issuing peer")
    assert report.not_proven  # what only the chain proves is said
    names = {c.name for c in report.checks}
    assert {
        "genesis_hash",
        "orderer_signature",
        "definition",
        "transaction",
        "validation_code",
        "tracker",
        "voter_signature",
        "trust_anchor",
        "in_block",
    } <= names
    assert sorted(receipt.proof) == [0, 1, receipt.block]  # genesis, definition, the ballot's block


def test_a_receipt_shows_the_recorded_choices_by_label(chain: Chain) -> None:
    bare = _receipt(chain, seed=4, choice=2)
    report = verify_receipt(bare, anchor=chain.genesis_hash)
    assert report.verified
    assert report.recorded is not None
    # Without the question's block: the choice by number only, said so.
    assert (report.recorded.choices, report.recorded.labels) == ((2,), None)
    assert "no question record" in "\n".join(report.recorded.lines())
    full = with_context_blocks(bare, chain.node.ledger.block)
    assert len(full.proof) == len(bare.proof) + 1  # the block that created the question
    report = verify_receipt(full, anchor=chain.genesis_hash)
    assert report.verified, [c for c in report.checks if not c.ok]
    assert report.recorded is not None
    assert report.recorded.labels == ("c",)
    assert report.recorded.title == "Q"
    assert "the ballot records: 3. c" in report.recorded.lines()
    binding = [c for c in report.checks if c.name == "question_binding"]
    assert [c.ok for c in binding] == [True]
    # The question block altered (a label swapped): its data no longer hashes to its header.
    number = max(set(full.proof) - set(bare.proof))
    block = common_pb2.Block.FromString(full.proof[number])
    assert b'["a","b","c"]' in block.data.data[0]
    block.data.data[0] = block.data.data[0].replace(b'["a","b","c"]', b'["c","b","a"]')
    forged = Receipt(
        **{**full.__dict__, "proof": {**full.proof, number: block.SerializeToString()}}
    )
    assert "data_hash" in _failed(forged, chain.genesis_hash)


def test_altered_receipts_fail_naming_the_check(chain: Chain) -> None:
    receipt = _receipt(chain)
    anchor = chain.genesis_hash
    assert _failed(Receipt(**{**receipt.__dict__, "tracker": "00" * 32}), anchor) == ["tracker"]
    assert _failed(Receipt(**{**receipt.__dict__, "genesis_hash": "11" * 32}), anchor) == [
        "trust_anchor"
    ]
    # Another question: the ballot is not for it, and its transaction read no such record.
    assert _failed(Receipt(**{**receipt.__dict__, "qid": "q2"}), anchor) == [
        "ballot",
        "question_record",
    ]
    # The ballot's block with a changed choice: its data no longer hashes to the signed header.
    block = common_pb2.Block.FromString(receipt.proof[receipt.block])
    assert b'"choices":[0]' in block.data.data[-1]
    block.data.data[-1] = block.data.data[-1].replace(b'"choices":[0]', b'"choices":[1]')
    tampered = {**receipt.proof, receipt.block: block.SerializeToString()}
    assert _failed(Receipt(**{**receipt.__dict__, "proof": tampered}), anchor) == ["data_hash"]
    # ... and with the header's data hash updated too, the orderer signature no longer holds.
    block.header.data_hash = block_data_hash(block.data.data)
    tampered = {**receipt.proof, receipt.block: block.SerializeToString()}
    assert _failed(Receipt(**{**receipt.__dict__, "proof": tampered}), anchor) == [
        "orderer_signature"
    ]


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
    report = verify_receipt(receipt, blocks, anchor=chain.genesis_hash)
    assert report.verified and report.tallied
    assert report.verdict == "VERIFIED" and not report.not_proven
    assert {"audit", "in_chain", "recomputed_code", "ballot_in_state", "counted"} <= {
        c.name for c in report.checks
    }

    receipt_file, chain_file = tmp_path / "receipt.json", tmp_path / "chain.bin"
    receipt_file.write_bytes(receipt.to_bytes())
    write_chain(chain_file, blocks)
    anchor = ["--genesis-hash", chain.genesis_hash.hex()]
    assert cli.main(["receipt", str(receipt_file), "--chain", str(chain_file), *anchor]) == 0
    assert cli.main(["receipt", str(receipt_file), "--genesis-hash", "22" * 32]) == 1
    receipt_file.write_bytes(b"{not json")
    assert cli.main(["receipt", str(receipt_file), *anchor]) == 2


def test_receipt_json_is_canonical_and_readable(chain: Chain) -> None:
    receipt = _receipt(chain)
    value = json.loads(receipt.to_bytes())
    assert value["type"] == "mvote.receipt.v1" and value["tx_id"] == receipt.tx_id
    assert encoding.encode(value) == receipt.to_bytes()


# --- a receipt proves no more than it can (issue 10, section 5) -----------------------------------


def _in_one_block(chain: Chain, choices: list[tuple[int, int]]) -> list[tuple[str, Any]]:
    """Two ballots (seed, choice), endorsed on the same state and ordered into one block; retried
    with fresh seeds should the block be cut by time between them."""
    for attempt in range(6):
        ballots = [cast_args(chain, seed + 10 * attempt, choice) for seed, choice in choices]
        endorsed = [(*chain.endorsed(*args), args) for args in ballots]
        for _, envelope, _ in endorsed:
            chain.node.submit(envelope)
        blocks = {chain.node.commit_status(tx_id, 10).block for tx_id, _, _ in endorsed}
        if len(blocks) == 1:
            return [(tx_id, args) for tx_id, _, args in endorsed]
    pytest.fail("two ballots submitted together never shared a block")


def test_a_double_vote_inside_the_ballots_block_is_recomputed_not_read(pair_chain: Chain) -> None:
    chain = pair_chain
    (first, first_args), (second, second_args) = _in_one_block(chain, [(20, 0), (20, 1)])
    codes = [chain.node.commit_status(tx_id, 10).code for tx_id in (first, second)]
    assert codes == [0, 11]  # MVCC_READ_CONFLICT, recorded by the peer
    receipt, _ = _lying_receipt(chain, second, second_args)
    report = verify_receipt(receipt, anchor=chain.genesis_hash)
    failed = [c for c in report.checks if not c.ok]
    assert [c.name for c in failed] == ["in_block"], report.checks
    assert "code 11" in failed[0].message and first in failed[0].message
    assert report.verdict == "NOT VERIFIED"
    # The first ballot of the same (lying) block still verifies: its own block proves no conflict.
    honest, _ = _lying_receipt(chain, first, first_args)
    assert verify_receipt(honest, anchor=chain.genesis_hash).verified
    # Two voters in one block never conflict: the second one's receipt verifies.
    (_, _), (other, other_args) = _in_one_block(chain, [(21, 0), (22, 2)])
    assert chain.node.commit_status(other, 10).code == 0
    receipt = issue_receipt(
        chain.node.ledger.block,
        tx_id=other,
        block_number=chain.node.commit_status(other, 10).block,
        qid="q1",
        tracker=_tracker(other_args),
    )
    report = verify_receipt(receipt, anchor=chain.genesis_hash)
    assert report.verified and receipt.tx_index == 1, report.checks


def test_a_conflict_with_an_earlier_block_is_stated_as_not_proven_offline(
    chain: Chain, tmp_path: Path
) -> None:
    ballots = [cast_args(chain, 5, choice) for choice in (0, 1)]
    endorsed = [chain.endorsed(*args) for args in ballots]  # both before either commits
    for tx_id, envelope in endorsed:
        chain.node.submit(envelope)
        chain.node.commit_status(tx_id, 10)
    second = chain.node.commit_status(endorsed[1][0], 10)
    assert second.code == 11 and second.block > chain.node.commit_status(endorsed[0][0], 10).block
    receipt, lying = _lying_receipt(chain, endorsed[1][0], ballots[1])

    offline = verify_receipt(receipt, anchor=chain.genesis_hash)
    assert offline.verified  # the receipt alone cannot see block N-1's ballot ...
    assert offline.verdict == (
        "VERIFIED offline: validity as recorded by the issuing peer; --chain proves it"
    )
    assert any("earlier block" in limit for limit in offline.not_proven)  # ... and says so
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_bytes(receipt.to_bytes())
    out = _run(["receipt", str(receipt_file), "--genesis-hash", chain.genesis_hash.hex()])
    assert (
        out.code == 0 and "not proven offline: that no transaction of an earlier block" in out.text
    )
    assert out.text.rstrip().endswith("--chain proves it")

    blocks = chain.blocks()
    blocks[second.block] = lying  # the same lie in the chain: the audit recomputes the code
    with_chain = verify_receipt(receipt, blocks, anchor=chain.genesis_hash)
    assert not with_chain.verified
    assert {"audit", "recomputed_code"} <= {c.name for c in with_chain.checks if not c.ok}


class _Out:
    def __init__(self, code: int, text: str) -> None:
        self.code, self.text = code, text

    def json(self) -> Any:
        return json.loads(self.text)


def _run(argv: list[str]) -> _Out:
    """``mvote-verify`` in a child process (its stdout and exit code), environment as given."""
    return _run_env(argv, {})


def _run_env(argv: list[str], env: dict[str, str]) -> _Out:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k != "MVOTE_GENESIS_HASH"}
    done = subprocess.run(
        [sys.executable, "-m", "mvote.verifier._cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean, **env},
    )
    return _Out(done.returncode, done.stdout + done.stderr)


def test_a_receipt_needs_a_trust_anchor_from_outside_it(chain: Chain, tmp_path: Path) -> None:
    receipt = _receipt(chain)
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_bytes(receipt.to_bytes())
    anchor = chain.genesis_hash.hex()

    bare = _run(["receipt", str(receipt_file)])  # the receipt's own genesis hash is no anchor
    assert bare.code == 2, bare.text
    for where in ("--genesis-hash", "--profile", "MVOTE_GENESIS_HASH"):
        assert where in bare.text
    by_env = _run_env(["receipt", str(receipt_file)], {"MVOTE_GENESIS_HASH": anchor})
    assert by_env.code == 0, by_env.text
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"genesis_hash": anchor, "channel": "mvote"}, indent=2))
    assert _run(["receipt", str(receipt_file), "--profile", str(profile)]).code == 0
    assert _run(["receipt", str(receipt_file), "--genesis-hash", anchor]).code == 0
    other = _run(["receipt", str(receipt_file), "--genesis-hash", "22" * 32])
    assert other.code == 1 and "FAILED trust_anchor" in other.text

    # With --json, every outcome is one JSON object.
    missing = _run(["receipt", str(receipt_file), "--json"])
    assert missing.code == 2 and missing.json()["error"]["code"] == "VERIFY_BAD_ANCHOR"
    mismatch = _run(["receipt", str(receipt_file), "--json", "--genesis-hash", "22" * 32])
    assert mismatch.code == 1 and mismatch.json()["verified"] is False
    assert [c["check"] for c in mismatch.json()["checks"] if not c["ok"]] == ["trust_anchor"]
    ok = _run(["receipt", str(receipt_file), "--json", "--genesis-hash", anchor]).json()
    assert ok["verified"] and ok["offline"] and ok["not_proven"]
    assert ok["verdict"].startswith("VERIFIED offline")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"{not json")
    unreadable = _run(["receipt", str(bad), "--json", "--genesis-hash", anchor])
    assert unreadable.code == 2 and unreadable.json()["error"]["code"] == "MALFORMED"
    usage = _run(["receipt", str(receipt_file), "--json", "--no-such-flag"])
    assert usage.code == 2 and usage.json()["error"]["code"] == "USAGE"
    wrong = _run(["receipt", str(receipt_file), "--json", "--genesis-hash", "abc"])
    assert wrong.code == 2 and wrong.json()["error"]["code"] == "VERIFY_BAD_ANCHOR"


def test_a_receipt_with_unknown_fields_a_negative_index_or_a_repeated_block_is_refused(
    chain: Chain,
) -> None:
    value = json.loads(_receipt(chain).to_bytes())

    def refused(changed: dict[str, Any]) -> InvalidField:
        with pytest.raises(InvalidField) as caught:
            Receipt.from_bytes(encoding.encode({**value, **changed}))
        assert caught.value.code == "INVALID_FIELD"
        return caught.value

    unknown = refused({"note": "trust me"})
    assert unknown.field == "receipt.note" and "unknown field" in unknown.message
    negative = refused({"tx_index": -1})
    assert negative.field == "receipt.tx_index" and "got -1" in negative.message
    assert refused({"tx_index": True}).field == "receipt.tx_index"
    assert refused({"block": "5"}).field == "receipt.block"
    repeated = refused({"proof": [*value["proof"], value["proof"][0]]})
    assert repeated.field == f"receipt.proof[{len(value['proof'])}].block"
    assert "receipt.proof[0]" in repeated.message
    extra = [{**value["proof"][0], "sig": "00"}]
    assert refused({"proof": extra}).field == "receipt.proof[0].sig"
    assert refused({"proof": [{**value["proof"][0], "data": "@@"}]}).field == (
        "receipt.proof[0].data"
    )


def test_a_receipt_of_an_mvote_1_ballot_still_verifies(chain: Chain) -> None:
    """A ballot cast under contract mvote-1 (no question binding): its receipt verifies, shows
    the choice by label, and has no question_binding check to make."""
    args = old_cast_args(chain, 6, 1)
    block = chain.submit_as("mvote-1", *args)
    receipt = issue_receipt(
        chain.node.ledger.block,
        tx_id=_last_tx_id(chain, block),
        block_number=block,
        qid="q1",
        tracker=_tracker(args),
    )
    report = verify_receipt(
        with_context_blocks(receipt, chain.node.ledger.block), anchor=chain.genesis_hash
    )
    assert report.verified, [c for c in report.checks if not c.ok]
    assert "question_binding" not in {c.name for c in report.checks}
    assert report.recorded is not None and report.recorded.labels == ("b",)
