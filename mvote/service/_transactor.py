"""The voting contract through the voting service: a :class:`~mvote.client.Transactor` over a
:class:`~mvote.service._client.VotingClient`, so that the client's recipes (``vote``,
``prepare_vote``, receipts) run unchanged for a voter who holds only a profile and a key.

The service offers what voters, trustees and auditors do: ``Cast``, ``SpoilBallot`` (cast-or-audit,
audited), the trustee postings, and the reads of questions, ceremonies, results and history. An operator's function (create a
question, fill a roster, close, tally) is not offered there; asking for one raises
``UNSUPPORTED`` naming the function: operators act through the Gateway as their institution.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from mvote.chaincode._errors import Unsupported
from mvote.chaincode._functions import FunctionName
from mvote.client._voting import Arg, Committed
from mvote.service._client import VotingClient
from mvote.service._proto import voting_pb2 as pb

__all__ = ["ServiceBlocks", "ServiceTransactor"]

_POSTINGS = {
    FunctionName.POST_DEALING: pb.TrusteePosting.DEALING,
    FunctionName.POST_CHECK: pb.TrusteePosting.CHECK,
    FunctionName.POST_DECRYPTION: pb.TrusteePosting.DECRYPTION,
}


def _bytes(arg: Arg) -> bytes:
    return arg if isinstance(arg, bytes) else arg.encode("utf-8")


def _text(arg: Arg) -> str:
    return arg if isinstance(arg, str) else arg.decode("utf-8")


def _unsupported(function: str) -> Unsupported:
    return Unsupported(
        f"function: the voting service does not run {function}; operators act through the "
        "Gateway as their institution",
        field="function",
    )


class ServiceTransactor:
    """Runs the contract functions the voting service offers, on ``channel``."""

    def __init__(self, client: VotingClient, channel: str) -> None:
        self.client = client
        self._channel = channel

    @property
    def channel_name(self) -> str:
        return self._channel

    def transact(self, function: str, *args: Arg) -> Committed:
        if function == FunctionName.CAST:
            done = self.client.cast(_bytes(args[0]))
            result = {"qid": done.qid, "tracker": done.tracker, "shard": done.shard}
            return Committed(dict(result, tx=done.tx_id), done.tx_id, done.block_number)
        if function == FunctionName.SPOIL_BALLOT:
            return _spoiled(self.client.spoil(_bytes(args[0])))
        kind = _POSTINGS.get(FunctionName(function)) if function in _POSTINGS else None
        if kind is None:
            raise _unsupported(function)
        posted = self.client.post(pb.TrusteePosting(kind=kind, posting=_bytes(args[0])))
        return Committed(json.loads(posted.result), posted.tx_id, posted.block_number)

    def query(self, function: str, *args: Arg) -> Any:
        match function:
            case FunctionName.GET_QUESTION:
                return json.loads(self.client.question(_text(args[0])).record)
            case FunctionName.GET_CEREMONY:
                return json.loads(self.client.ceremony(_text(args[0])).record)
            case FunctionName.GET_HISTORY:
                entries = self.client.history(_text(args[0])).entries
                return [
                    {"qid": e.qid, "tracker": e.tracker, "tx": e.tx_id, "at": e.at} for e in entries
                ]
            case FunctionName.LIST_QUESTIONS:
                return self._all_questions()
            case FunctionName.GET_RESULTS:
                return _results_json(self.client.results(_text(args[0])))
        raise _unsupported(function)

    def _all_questions(self) -> list[Any]:
        found: list[Any] = []
        token = ""
        while True:
            page = self.client.questions(pb.ListQuestionsRequest(page_size=100, page_token=token))
            found.extend(json.loads(q.record) for q in page.questions)
            token = page.next_page_token
            if not token:
                return found

    def block_of(self, transaction_id: str) -> int:
        raise _unsupported("CommitStatus")


def _spoiled(done: pb.SpoilBallotResponse) -> Committed:
    """``SpoilBallot``'s answer as the contract returns it."""
    result = {
        "qid": done.qid,
        "tracker": done.tracker,
        "choices": list(done.choices),
        "tx": done.tx_id,
    }
    return Committed(result, done.tx_id, done.block_number)


def _results_json(results: pb.Results) -> dict[str, Any]:
    """``GetResults`` as the contract returns it."""
    out: dict[str, Any] = {"qid": results.qid, "state": results.state, "final": results.final}
    if results.final:
        out["tally"] = json.loads(results.tally)
        return out
    out["ballots"] = results.ballots
    out["counts"] = list(results.counts) if results.has_counts else None
    return out


class ServiceBlocks:
    """A :data:`mvote.client._receipt.BlockSource` through the service's GetBlocks, each block
    fetched once."""

    def __init__(self, client: VotingClient) -> None:
        self._client = client
        self._cache: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, number: int) -> bytes:
        with self._lock:
            if number not in self._cache:
                (self._cache[number],) = self._client.blocks(number, number)
            return self._cache[number]
