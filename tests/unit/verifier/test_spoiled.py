"""Cast-or-audit on a chain made by the embedded node: an audited ballot is spoiled on the
ledger with its opening, can never be cast, and its spoiled-ballot file is opened on a second
device from the genesis hash alone (``mvote-verify spoiled``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from fabric_protos.common import common_pb2
from nodechain import REGISTRAR, Chain, audit, chain, open_secret_question

from mvote.chaincode import encoding
from mvote.chaincode._errors import BallotSpoiled, Refusal
from mvote.chaincode._records import QuestionSpec
from mvote.chaincode._simulation import Simulation
from mvote.client._receipt import issue_receipt
from mvote.client._registrar import issue_credential
from mvote.client._secret import PreparedSecretBallot, prepare_secret_ballot
from mvote.node.errors import EndorsementFailed
from mvote.verifier import _cli as cli
from mvote.verifier._envelope import unpack_block
from mvote.verifier._receipt import Receipt, with_context_blocks
from mvote.verifier._spoiled import verify_spoiled
from mvote.verifier._transaction import ParsedTransaction

__all__ = ["chain"]  # the fixture


def _prepared(
    spec: QuestionSpec, key: Any, seed: int, choices: tuple[int, ...]
) -> PreparedSecretBallot:
    voter = nacl.signing.SigningKey(bytes([seed]) * 32)
    credential = issue_credential(
        REGISTRAR, channel="mvote", voter=bytes(voter.verify_key).hex(), expires_at=2**40
    )
    return prepare_secret_ballot(
        voter,
        channel="mvote",
        question=spec,
        election_key=key,
        choices=choices,
        credential=credential,
    )


def _file(chain: Chain, block: int, tracker: str) -> Receipt:
    data = unpack_block(chain.node.ledger.block(block)).data
    tx_id = ParsedTransaction.parse(data[-1]).tx_id
    receipt = issue_receipt(
        chain.node.ledger.block, tx_id=tx_id, block_number=block, qid="s1", tracker=tracker
    )
    return with_context_blocks(receipt, chain.node.ledger.block)


def _spoil(chain: Chain, prepared: PreparedSecretBallot) -> int:
    return chain.submit("SpoilBallot", encoding.encode(prepared.spoil_request().to_json()))


def test_a_spoiled_ballot_opens_from_the_genesis_hash_and_shows_labels(
    chain: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, spec, key = open_secret_question(chain)
    prepared = _prepared(spec, key, 1, (1, 3))
    block = _spoil(chain, prepared)
    spoiled = _file(chain, block, prepared.tracker)
    report = verify_spoiled(Receipt.from_bytes(spoiled.to_bytes()), anchor=chain.genesis_hash)
    assert report.verified, [c for c in report.checks if not c.ok]
    names = {c.name for c in report.checks}
    assert {"orderer_signature", "transaction", "question_binding", "ballot_proofs"} <= names
    assert {"opening", "voter_signature", "tracker"} <= names
    assert report.recorded is not None
    assert report.recorded.spoiled
    assert report.recorded.labels == ("b", "d")
    # The CLI: a file with a trailing newline, the anchor from outside, the labels shown.
    path = tmp_path / "spoiled.json"
    path.write_bytes(spoiled.to_bytes() + b"\n")
    assert cli.main(["spoiled", str(path), "--genesis-hash", chain.genesis_hash.hex()]) == 0
    out = capsys.readouterr().out
    assert "the opening shows: 2. b, 4. d" in out
    assert "never cast" in out
    assert (
        cli.main(["spoiled", str(path), "--genesis-hash", chain.genesis_hash.hex(), "--json"]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["recorded"]["labels"] == ["b", "d"]
    # No anchor: bad input, exit 2; another network's anchor: the check fails, exit 1.
    assert cli.main(["spoiled", str(path)]) == 2
    assert cli.main(["spoiled", str(path), "--genesis-hash", "11" * 32]) == 1
    # The spoiled ballot is never cast; the whole chain still audits clean.
    with pytest.raises(EndorsementFailed) as refused:
        chain.endorsed("Cast", encoding.encode(prepared.request.to_json()))
    assert Refusal.from_bytes(refused.value.payload).code == BallotSpoiled.code
    assert audit(chain).findings == []


def test_a_cast_receipt_is_not_a_spoiled_ballot_file(chain: Chain) -> None:
    _, spec, key = open_secret_question(chain)
    prepared = _prepared(spec, key, 2, (0,))
    block = chain.submit("Cast", encoding.encode(prepared.request.to_json()))
    report = verify_spoiled(_file(chain, block, prepared.tracker), anchor=chain.genesis_hash)
    assert not report.verified
    assert [c.name for c in report.checks if not c.ok] == ["receipt_format"]
    assert "expected a SpoilBallot invocation" in report.checks[-1].message


def test_endorsers_who_record_other_choices_are_caught_by_the_opening(chain: Chain) -> None:
    _, spec, key = open_secret_question(chain)
    prepared = _prepared(spec, key, 3, (0,))

    def other_choices(sim: Simulation) -> Simulation:
        for k, value in sim.writes.items():
            if value and b'"choices":[0]' in value:
                sim.writes[k] = value.replace(b'"choices":[0]', b'"choices":[2]')
        return sim

    block = chain.lie(
        ["SpoilBallot", encoding.encode(prepared.spoil_request().to_json())], other_choices
    )
    report = verify_spoiled(_file(chain, block, prepared.tracker), anchor=chain.genesis_hash)
    assert [c.name for c in report.checks if not c.ok] == ["opening"]
    # The tampered file: the opening changed inside the block breaks the block's data hash.
    honest = _prepared(spec, key, 4, (1,))
    good = _file(chain, _spoil(chain, honest), honest.tracker)
    raw = common_pb2.Block.FromString(good.proof[good.block])
    nonce = honest.nonce_key.hex().encode()
    assert nonce in raw.data.data[-1]
    raw.data.data[-1] = raw.data.data[-1].replace(nonce, b"11" * 32)
    forged = Receipt(
        **{**good.__dict__, "proof": {**good.proof, good.block: raw.SerializeToString()}}
    )
    assert "data_hash" in [
        c.name for c in verify_spoiled(forged, anchor=chain.genesis_hash).checks if not c.ok
    ]
