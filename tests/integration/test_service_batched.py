"""The voting service with the batching intake as its sink (``VotingService(..., sink=Intake)``)
over a real node: ballots the service takes are batched, each voter gets their own receipt, by
the result or later by voter and question, and each verifies from the genesis hash."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from grpc_support import Served
from node_support import cast_request, open_question_spec, voter_key

from mvote.chaincode import encoding
from mvote.chaincode._errors import AlreadyVoted
from mvote.client._voting import VotingContract
from mvote.service import Intake, IntakeSettings, VotingService
from mvote.verifier import verify_receipt

WAIT = 120.0


@pytest.fixture(scope="module")
def service(served: Served) -> Iterator[VotingService]:
    gateway = served.gateway()
    admin = served.gateway(served.signer(admin=True))
    channel, chaincode = served.material.config.channel, served.material.config.chaincode
    contract = gateway.network(channel).contract(chaincode)
    operator = VotingContract.over(admin.network(channel).contract(chaincode))
    spec = open_question_spec("batched", time.time())
    operator.transactor.transact("CreateQuestion", encoding.encode(spec))
    operator.transactor.transact("OpenQuestion", "batched")
    intake = Intake(contract, IntakeSettings(batchers=2, max_ballots=8, max_wait=0.05))
    svc = VotingService(
        VotingContract.over(contract), gateway.network(channel), chaincode=chaincode, sink=intake
    )
    try:
        yield svc
    finally:
        svc.close()
        gateway.close()
        admin.close()


def _raw(served: Served, voter: int, choice: int) -> bytes:
    spec = open_question_spec("batched", time.time())
    request = cast_request(served.material.config.channel, spec, voter_key(voter), choice)
    return encoding.encode(request.to_json())


def test_ballots_through_the_service_are_batched_and_each_voter_gets_a_receipt(
    served: Served, service: VotingService
) -> None:
    pending = [service.cast(_raw(served, 900 + i, i % 2)) for i in range(20)]
    done = [p.result(WAIT) for p in pending]
    assert [d.tracker for d in done] == [p.tracker for p in pending]
    assert all(d.ballot_index is not None for d in done)
    assert len({d.transaction_id for d in done}) < len(done)  # several ballots per transaction
    anchor = served.material.genesis_hash
    for result in done[:3]:
        receipt = service.receipt_of(result)
        assert receipt.ballot_index == result.ballot_index
        assert verify_receipt(receipt, anchor=anchor).verified
    # Later, by voter and question: the service finds the ballot's place in its batch.
    voter = bytes(voter_key(905).verify_key).hex()
    later = service.receipt("batched", voter)
    assert later.ballot_index == done[5].ballot_index
    assert verify_receipt(later, anchor=anchor).verified
    # A second ballot of a voter: the intake's future raises the contract's refusal.
    again = service.cast(_raw(served, 900, 1))
    with pytest.raises(AlreadyVoted):
        again.result(WAIT)
