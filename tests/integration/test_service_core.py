"""The voting service core (mvote.service.VotingService) over a real embedded node's Gateway:
casts with receipts that verify from the genesis hash, each refusal with its code and no state
change, questions with filters and paging, results, history, the chain."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from grpc_support import Served
from node_support import cast_request, open_question_spec, voter_key

from mvote.chaincode import encoding
from mvote.chaincode._errors import (
    AlreadyVoted,
    BadSignature,
    InvalidField,
    NonCanonical,
    NotFound,
    TooLarge,
    WrongChannel,
)
from mvote.chaincode._records import CastRequest
from mvote.client._voting import CastResult, VotingContract
from mvote.service import (
    ContractSink,
    NoPostingIdentity,
    PostingKind,
    QuestionFilter,
    VotingService,
)
from mvote.verifier import verify_receipt
from mvote.verifier._chain import verify_chain


class CountingSink:
    """The service's default sink, counting what reaches it (the refusal tests assert that a
    ballot refused by the service's own checks never does)."""

    def __init__(self, contract: VotingContract) -> None:
        self.inner = ContractSink(contract, workers=4)
        self.submitted = 0

    def submit(self, request: CastRequest) -> Future[CastResult]:
        self.submitted += 1
        return self.inner.submit(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def service(served: Served) -> Iterator[VotingService]:
    gateway = served.gateway()
    admin = served.gateway(served.signer(admin=True))
    channel, chaincode = served.material.config.channel, served.material.config.chaincode
    contract = VotingContract.over(gateway.network(channel).contract(chaincode))
    postings = VotingContract.over(admin.network(channel).contract(chaincode))
    svc = VotingService(
        contract,
        gateway.network(channel),
        chaincode=chaincode,
        sink=CountingSink(contract),
    )
    for qid, options in (("core-a", ("yes", "no")), ("core-b", ("Jeju", "Busan", "Seoul"))):
        spec = open_question_spec(qid, time.time(), options=options)
        postings.transactor.transact("CreateQuestion", encoding.encode(spec))
        postings.transactor.transact("OpenQuestion", qid)
    try:
        yield svc
    finally:
        svc.close()
        gateway.close()
        admin.close()


def _raw(served: Served, qid: str, voter: int, choice: int) -> bytes:
    spec = open_question_spec(qid, time.time())
    request = cast_request(served.material.config.channel, spec, voter_key(voter), choice)
    return encoding.encode(request.to_json())


def test_cast_commits_and_the_receipt_verifies_from_the_genesis_hash(
    served: Served, service: VotingService
) -> None:
    pending = service.cast(_raw(served, "core-a", 1, 0))
    assert pending.qid == "core-a" and len(pending.tracker) == 64
    done = pending.result(60)
    assert done.tracker == pending.tracker and done.block_number > 0
    receipt = service.receipt_of(done)
    report = verify_receipt(receipt, anchor=served.material.genesis_hash)
    assert report.verified, [c for c in report.checks if not c.ok]
    # The same receipt from the voter's history alone.
    again = service.receipt("core-a", pending.voter)
    assert (again.tx_id, again.tracker, again.block) == (
        done.transaction_id,
        done.tracker,
        done.block_number,
    )
    (entry,) = [p for p in service.history(pending.voter) if p.qid == "core-a"]
    assert entry.tracker == pending.tracker and entry.tx == done.transaction_id


def test_refusals_before_the_sink_change_nothing(served: Served, service: VotingService) -> None:
    sink = service.sink
    assert isinstance(sink, CountingSink)
    before, height = sink.submitted, service.height()
    good = _raw(served, "core-a", 2, 1)
    value = encoding.decode(good, max_size=1 << 20)
    forged = dict(value, sig=("00" if value["sig"][:2] != "00" else "11") + value["sig"][2:])
    with pytest.raises(BadSignature) as bad:
        service.cast(encoding.encode(forged))
    assert bad.value.field == "sig"
    with pytest.raises(NonCanonical):
        service.cast(good.replace(b"{", b"{ ", 1))
    other = dict(value, ballot=dict(value["ballot"], channel="elsewhere"))
    with pytest.raises(WrongChannel):
        service.cast(encoding.encode(other))
    with pytest.raises(TooLarge):
        service.cast(b"{" + b" " * (800 << 10))
    assert sink.submitted == before
    assert service.height() == height
    with pytest.raises(NotFound):
        service.receipt("core-a", voter_key(2).verify_key.encode().hex())


def test_refusals_of_the_contract_keep_their_codes(served: Served, service: VotingService) -> None:
    service.cast(_raw(served, "core-b", 3, 0)).result(60)
    height = service.height()
    with pytest.raises(AlreadyVoted) as again:
        service.cast(_raw(served, "core-b", 3, 1)).result(60)
    assert again.value.field == "ballot.voter"
    with pytest.raises(NotFound):
        service.cast(_raw(served, "core-missing", 4, 0)).result(60)
    assert service.height() == height
    assert service.results("core-b").counts == (1, 0, 0)


def test_questions_filtered_and_paged(service: VotingService) -> None:
    page = service.questions(page_size=1)
    assert [q.qid for q in page.questions] == ["core-a"] and page.next_page_token == "core-a"
    rest = service.questions(page_token=page.next_page_token, page_size=1)
    assert [q.qid for q in rest.questions] == ["core-b"] and rest.next_page_token == ""
    assert [q.qid for q in service.questions(QuestionFilter(search="JEJU")).questions] == ["core-b"]
    assert service.questions(QuestionFilter(state="CLOSED")).total == 0
    assert service.questions(QuestionFilter(state="OPEN", mode="open")).total == 2
    with pytest.raises(InvalidField) as bad:
        service.questions(page_size=0)
    assert bad.value.field == "page_size"
    with pytest.raises(NotFound):
        service.question("core-missing")


def test_the_chain_through_the_service_verifies(served: Served, service: VotingService) -> None:
    info = service.chain_info()
    assert info.genesis_hash == served.material.genesis_hash.hex()
    blocks = service.blocks(0, info.height - 1)
    assert verify_chain(blocks, served.material.genesis_hash).findings == []
    assert service.block(info.height - 1) == blocks[-1]
    with pytest.raises(NotFound):
        service.block(info.height + 5)


def test_postings_need_an_admin_identity(service: VotingService) -> None:
    with pytest.raises(NoPostingIdentity) as refused:
        service.post(PostingKind.DEALING, b"{}")
    assert refused.value.field == "posting"
