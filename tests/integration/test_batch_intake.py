"""The batching intake against a real node (TLS gRPC, LevelDB, 3 organisations, MAJORITY):
mixed good and bad ballots, a batch too large for a transaction split in halves, receipts of
batched ballots verified offline, and the audit replaying the batches."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from grpc_support import Served, serve
from node_support import cast_request, open_question_spec, voter_key

from mvote.chaincode import encoding
from mvote.chaincode._errors import AlreadyVoted, BadSignature, InvalidField, NotEligible
from mvote.client._contract import Contract
from mvote.client._errors import EndorseError
from mvote.client._gateway import Gateway
from mvote.client._receipt import issue_receipt
from mvote.client._voting import CastResult
from mvote.node.config import NodeLimits
from mvote.service._errors import IntakeClosed
from mvote.service._intake import Intake, IntakeSettings, Refused, batch_outcomes
from mvote.verifier._audit import audit_chain
from mvote.verifier._receipt import Receipt, verify_receipt

#: Small enough that 100 ballots with credentials do not fit one transaction.
MAX_TRANSACTION_BYTES = 96 << 10
WAIT = 120.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(
        tmp_path_factory.mktemp("net") / "network",
        tls=True,
        limits=NodeLimits(max_transaction_bytes=MAX_TRANSACTION_BYTES),
    )


@pytest.fixture(scope="module")
def contract(served: Served) -> Iterator[Contract]:
    with served.gateway() as gateway:
        yield gateway.network("mvote").contract("mvote")


def _question(served: Served, qid: str) -> dict[str, Any]:
    spec = open_question_spec(qid, time.time())
    with served.gateway(served.signer(admin=True)) as gateway:
        admin = gateway.network("mvote").contract("mvote")
        admin.submit("CreateQuestion", [encoding.encode(spec)])
        admin.submit("OpenQuestion", [qid])
    return spec


def _blocks(served: Served) -> list[bytes]:
    ledger = served.node.ledger
    return [ledger.block(n) for n in range(ledger.height)]


def _receipt(served: Served, result: CastResult) -> Receipt:
    return issue_receipt(
        served.node.ledger.block,
        tx_id=result.transaction_id,
        block_number=result.block_number,
        qid=result.qid,
        tracker=result.tracker,
        ballot_index=result.ballot_index,
    )


def test_mixed_batches_commit_the_good_ballots_and_refuse_each_bad_one(
    served: Served, contract: Contract
) -> None:
    spec = _question(served, "mixed")
    channel = served.material.config.channel
    good = [cast_request(channel, spec, voter_key(i), i % 3) for i in range(1, 25)]
    signed = cast_request(channel, spec, voter_key(100), 0)
    forged = dataclasses.replace(
        signed, ballot=dataclasses.replace(signed.ballot, choices=(1,))
    )  # BAD_SIGNATURE
    uncredentialed = dataclasses.replace(
        cast_request(channel, spec, voter_key(101), 0), credential=None
    )
    # NOT_ELIGIBLE: a credential is needed (re-signing is not: the credential is not signed over)
    settings = IntakeSettings(batchers=2, max_ballots=8, max_wait=0.02)
    with Intake(contract, settings) as intake:
        futures = [intake.submit(r) for r in good]
        bad: dict[type[Exception], Future[CastResult]] = {
            BadSignature: intake.submit(forged),
            NotEligible: intake.submit(uncredentialed),
        }
        results = [f.result(WAIT) for f in futures]
        for error, future in bad.items():
            with pytest.raises(error):
                future.result(WAIT)
        # A second ballot of a voter whose first committed: refused at endorsement.
        again = intake.submit(cast_request(channel, spec, voter_key(1), 2))
        with pytest.raises(AlreadyVoted):
            again.result(WAIT)
    assert [r.tracker for r in results] == [r.ballot.tracker() for r in good]
    assert all(r.ballot_index is not None for r in results)
    assert len({r.transaction_id for r in results}) >= len(good) // settings.max_ballots
    results_by_tx: dict[str, list[CastResult]] = {}
    for r in results:
        results_by_tx.setdefault(r.transaction_id, []).append(r)
    for batch in results_by_tx.values():
        assert len({r.ballot_index for r in batch}) == len(batch)

    # Each voter's receipt verifies offline, from the genesis hash alone.
    anchor = served.material.genesis_hash
    for result in results[:5]:
        receipt = Receipt.from_bytes(_receipt(served, result).to_bytes())
        assert receipt.ballot_index == result.ballot_index
        report = verify_receipt(receipt, anchor=anchor)
        assert report.verified, [c for c in report.checks if not c.ok]
        assert any(c.name == "in_batch" and c.ok for c in report.checks)

    # The audit replays every batch with the contract and recounts.
    audit = audit_chain(_blocks(served), anchor, workers=1)
    assert audit.verified, audit.findings[:3]
    assert audit.replay is not None and audit.replay.replayed >= len(results_by_tx)
    assert contract.evaluate("GetResults", ["mixed"]) and (
        encoding.decode(contract.evaluate("GetResults", ["mixed"]), max_size=1 << 20)["ballots"]
        == len(good)
    )


def test_a_receipt_naming_another_place_in_the_batch_does_not_verify(
    served: Served, contract: Contract
) -> None:
    spec = _question(served, "places")
    channel = served.material.config.channel
    requests = [cast_request(channel, spec, voter_key(200 + i), 0) for i in range(4)]
    settings = IntakeSettings(batchers=1, max_ballots=4, max_wait=5.0)
    with Intake(contract, settings) as intake:
        results = [f.result(WAIT) for f in [intake.submit(r) for r in requests]]
    assert len({r.transaction_id for r in results}) == 1  # cut by count: one batch
    anchor = served.material.genesis_hash
    receipt = _receipt(served, results[0])
    moved = dataclasses.replace(receipt, ballot_index=1)
    failed = {c.name for c in verify_receipt(moved, anchor=anchor).checks if not c.ok}
    assert "tracker" in failed
    # The receipt of a batched ballot read as a Cast's: refused, naming the transaction's args.
    single = dataclasses.replace(receipt, ballot_index=None)
    report = verify_receipt(single, anchor=anchor)
    assert not report.verified
    assert any("expected a Cast invocation" in c.message for c in report.checks)


def test_a_batch_refused_for_its_size_is_split_never_refused(
    served: Served, contract: Contract
) -> None:
    spec = _question(served, "split")
    channel = served.material.config.channel
    requests = [cast_request(channel, spec, voter_key(300 + i), i % 3) for i in range(100)]
    total = sum(len(encoding.encode(r.to_json())) for r in requests)
    assert total * 2 > MAX_TRANSACTION_BYTES  # one transaction of them all would be refused
    settings = IntakeSettings(batchers=1, max_ballots=100, max_bytes=1 << 22, max_wait=5.0)
    with Intake(contract, settings) as intake:
        results = [f.result(WAIT) for f in [intake.submit(r) for r in requests]]
        splits = intake.splits
    assert splits >= 1
    assert [r.tracker for r in results] == [r.ballot.tracker() for r in requests]
    assert len({r.transaction_id for r in results}) >= 2
    anchor = served.material.genesis_hash
    assert verify_receipt(_receipt(served, results[-1]), anchor=anchor).verified


def test_batches_are_cut_by_bytes(served: Served, contract: Contract) -> None:
    spec = _question(served, "bytes")
    channel = served.material.config.channel
    requests = [cast_request(channel, spec, voter_key(500 + i), 0) for i in range(6)]
    one = len(encoding.encode(requests[0].to_json()))
    settings = IntakeSettings(batchers=1, max_ballots=64, max_bytes=2 * one + 10, max_wait=5.0)
    with Intake(contract, settings) as intake:
        results = [f.result(WAIT) for f in [intake.submit(r) for r in requests]]
        assert intake.splits == 0
    by_tx: dict[str, int] = {}
    for r in results:
        by_tx[r.transaction_id] = by_tx.get(r.transaction_id, 0) + 1
    assert sorted(by_tx.values()) == [2, 2, 2]


def test_a_voter_is_always_routed_to_the_same_batcher(contract: Contract) -> None:
    with Intake(contract, IntakeSettings(batchers=4)) as intake:
        voters = [bytes(voter_key(i).verify_key).hex() for i in range(200)]
        first = [intake.batcher_of(v) for v in voters]
        assert first == [intake.batcher_of(v) for v in voters]
        assert set(first) == {0, 1, 2, 3}
    with Intake(contract, IntakeSettings(batchers=4)) as other:
        assert first == [other.batcher_of(v) for v in voters]


def test_batches_spread_over_several_connections(served: Served) -> None:
    """An intake over three Gateway connections: every ballot commits once, and each
    connection carries batches (the next batch goes over the one with the fewest out)."""
    spec = _question(served, "spread")
    channel = served.material.config.channel
    requests = [cast_request(channel, spec, voter_key(900 + i), i % 3) for i in range(9)]
    with contextlib.ExitStack() as stack:
        gateways = [stack.enter_context(served.gateway()) for _ in range(3)]
        contracts = [g.network("mvote").contract("mvote") for g in gateways]
        settings = IntakeSettings(batchers=1, max_wait=0.0, in_flight=1)
        with Intake(contracts, settings) as intake:
            # One ballot at a time: nine batches, one out at a time, each connection in turn.
            results = [intake.submit(r).result(WAIT) for r in requests]
        assert intake.sent == [3, 3, 3]
        recorded = contracts[0].evaluate("GetResults", ["spread"])
    assert [r.tracker for r in results] == [r.ballot.tracker() for r in requests]
    assert len({r.transaction_id for r in results}) == len(requests)
    assert encoding.decode(recorded, max_size=1 << 20)["ballots"] == len(requests)


def test_an_intake_needs_a_contract() -> None:
    with pytest.raises(InvalidField) as caught:
        Intake([])
    assert caught.value.field == "contract"


def test_a_closed_intake_takes_no_ballots(served: Served, contract: Contract) -> None:
    spec = _question(served, "closed")
    request = cast_request(served.material.config.channel, spec, voter_key(600), 0)
    intake = Intake(contract)
    intake.close()
    with pytest.raises(IntakeClosed) as caught:
        intake.submit(request)
    assert caught.value.field == "intake"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batchers", 0),
        ("max_ballots", 0),
        ("max_ballots", 257),
        ("max_bytes", 0),
        ("max_wait", -1.0),
        ("in_flight", 0),
        ("max_attempts", 0),
        ("commit_timeout", 0.0),
        ("batchers", True),
    ],
)
def test_settings_refuse_each_bad_value(field: str, value: Any) -> None:
    with pytest.raises(InvalidField) as caught:
        IntakeSettings(**{field: value})
    assert caught.value.field == field


def test_a_receipt_for_a_ballot_the_batch_refused_does_not_verify(
    served: Served, contract: Contract
) -> None:
    spec = _question(served, "refusedplace")
    channel = served.material.config.channel
    good = cast_request(channel, spec, voter_key(700), 0)
    refused = dataclasses.replace(cast_request(channel, spec, voter_key(701), 1), credential=None)
    args = [encoding.encode(r.to_json()) for r in (good, refused)]
    submitted = contract.new_proposal("CastBatch", args).endorse().submit()
    status = submitted.status(WAIT).require_valid()
    outcomes = batch_outcomes(submitted.result, 2)
    assert isinstance(outcomes[1], Refused) and outcomes[1].refusal.code == "NOT_ELIGIBLE"
    anchor = served.material.genesis_hash
    for index, request in enumerate((good, refused)):
        receipt = issue_receipt(
            served.node.ledger.block,
            tx_id=status.transaction_id,
            block_number=status.block_number,
            qid="refusedplace",
            tracker=request.ballot.tracker(),
            ballot_index=index,
        )
        report = verify_receipt(receipt, anchor=anchor)
        in_batch = next(c for c in report.checks if c.name == "in_batch")
        # The transaction is VALID and the refused ballot is in its arguments, signed by its
        # voter: only the write set shows the batch did not record it.
        assert report.verified is (index == 0)
        assert in_batch.ok is (index == 0), in_batch.message
    assert "refused" in in_batch.message


def test_a_gateway_that_is_down_fails_each_ballot_never_hangs(served: Served) -> None:
    """No server on the port: every ballot's future raises the Gateway's EndorseError
    (UNAVAILABLE); close() returns."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = open_question_spec("down", time.time())
    requests = [cast_request("mvote", spec, voter_key(800 + i), 0) for i in range(3)]
    with Gateway.connect(f"127.0.0.1:{port}", served.signer()) as gateway:
        contract = gateway.network("mvote").contract("mvote")
        with Intake(contract, IntakeSettings(batchers=1, max_ballots=3, max_wait=5.0)) as intake:
            futures = [intake.submit(r) for r in requests]
            for future in futures:
                with pytest.raises(EndorseError) as caught:
                    future.result(WAIT)
                assert caught.value.grpc_code == "UNAVAILABLE"
