"""The voting service core: every operation of the voting API as a typed Python method, over the
client's :class:`~mvote.client.VotingContract` and a Fabric Gateway.

The same class runs in front of the embedded node (``mvote node start``) and in front of a real
Fabric network (``mvote serve --profile P``): it talks to the ledger only through the Gateway
and Deliver, as its institution's client identity. Transports (gRPC in :mod:`._grpc`, REST)
turn their messages into these calls and the typed errors back into their status codes.

Ballots go through a :class:`BallotSink`, the one seam a batching intake implements: the
default :class:`ContractSink` submits one Fabric transaction per ballot. Before a ballot
reaches the sink the service runs the contract's own stateless checks on it (the parse, the
channel, the voter's key and signature: the same functions the contract calls), so a malformed
or badly signed ballot costs no endorsement; the contract checks everything again.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import grpc

from mvote.chaincode import _ed25519 as ed25519
from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._contract import MAX_SECRET_CAST_BYTES
from mvote.chaincode._errors import InvalidField, NotFound, TooLarge, WrongChannel
from mvote.chaincode._events import CheckAccepted, DealingAccepted, DecryptionAccepted
from mvote.chaincode._records import (
    BOUND_SECRET_BALLOT_TYPE,
    BallotRecord,
    BoundSecretBallot,
    CastRequest,
    Participation,
    Question,
    SpoilRequest,
    tracker_of,
)
from mvote.chaincode._secret import Ceremony
from mvote.client._blocks import BlockFetcher, fetch_blocks
from mvote.client._network import Network
from mvote.client._receipt import issue_receipt
from mvote.client._voting import CastResult, Recorded, SpoilResult, VotingContract
from mvote.client.recipes import receipt_for
from mvote.service._errors import NoPostingIdentity
from mvote.service._values import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ChainInfo,
    PendingCast,
    PostingKind,
    QuestionFilter,
    QuestionPage,
    Results,
    page_of,
)
from mvote.verifier import _deliver as deliver
from mvote.verifier._block import block_header_hash
from mvote.verifier._envelope import unpack_block
from mvote.verifier._errors import DeliverFailed
from mvote.verifier._receipt import Receipt, with_context_blocks

#: The filter every question matches.
ANY_QUESTION = QuestionFilter()

__all__ = [
    "BallotSink",
    "ContractSink",
    "VotingService",
    "parse_cast_request",
    "parse_spoil_request",
]

#: Ballots one :class:`ContractSink` has in flight at once (each a Fabric transaction).
DEFAULT_SINK_WORKERS = 16

#: What the contract answers a relayed trustee posting with.
PostingAccepted = DealingAccepted | CheckAccepted | DecryptionAccepted


class BallotSink(Protocol):
    """Where checked ballots go: ``submit`` returns at once with a future of the committed
    ballot (or of its typed refusal). A batching intake implements the same two methods."""

    def submit(self, request: CastRequest) -> Future[CastResult]: ...

    def close(self) -> None: ...


class ContractSink:
    """One Fabric transaction per ballot through ``contract`` (endorse, submit, wait for the
    commit), ``workers`` at a time."""

    def __init__(self, contract: VotingContract, *, workers: int = DEFAULT_SINK_WORKERS) -> None:
        self._contract = contract
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cast")

    def submit(self, request: CastRequest) -> Future[CastResult]:
        return self._pool.submit(self._contract.cast, request)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def parse_cast_request(raw: bytes, channel: str) -> CastRequest:
    """The ``Cast`` argument ``raw`` (canonical JSON, exactly as the contract takes it) parsed and
    checked as the contract checks it before reading any state: size, canonical encoding, shape,
    channel, the voter's key and signature. Raises the contract's typed errors (TOO_LARGE,
    NON_CANONICAL, MALFORMED, INVALID_FIELD, WRONG_CHANNEL, INVALID_KEY, BAD_SIGNATURE)."""
    _check_size(raw)
    request = CastRequest.from_json(
        encoding.decode(raw, max_size=MAX_SECRET_CAST_BYTES, what="request")
    )
    _check_signed(request, channel)
    return request


def _check_size(raw: bytes) -> None:
    if len(raw) > MAX_SECRET_CAST_BYTES:
        raise TooLarge(
            f"request: expected at most {MAX_SECRET_CAST_BYTES} bytes, got {len(raw)}",
            field="request",
        )


def _check_signed(request: CastRequest, channel: str) -> None:
    """The contract's stateless checks of a signed ballot: its channel, the voter's key and
    signature (the same functions and fields as the contract's ``_admit``)."""
    ballot = request.ballot
    if ballot.channel != channel:
        raise WrongChannel(
            f"ballot.channel: expected {channel!r}, got {ballot.channel!r}", field="ballot.channel"
        )
    voter = ed25519.checked_public_key(bytes.fromhex(ballot.voter), "ballot.voter")
    ed25519.verify(voter, ballot.canonical_bytes(), bytes.fromhex(request.sig), "sig")


def parse_spoil_request(raw: bytes, channel: str) -> SpoilRequest:
    """The ``SpoilBallot`` argument ``raw`` (canonical JSON of a signed secret ballot and its
    opening) checked as the contract checks it before reading any state: as
    :func:`parse_cast_request`, and the ballot must be a secret ballot of contract mvote-2
    (INVALID_FIELD naming ``request.ballot.type`` otherwise: only those are audited)."""
    _check_size(raw)
    spoil = SpoilRequest.from_json(
        encoding.decode(raw, max_size=MAX_SECRET_CAST_BYTES, what="request")
    )
    if not isinstance(spoil.request.ballot, BoundSecretBallot):
        raise InvalidField(
            f"request.ballot.type: only secret ballots are audited; expected "
            f"{BOUND_SECRET_BALLOT_TYPE!r}",
            field="request.ballot.type",
        )
    _check_signed(spoil.request, channel)
    return spoil


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _matches(question: Question, where: QuestionFilter) -> bool:
    spec = question.spec
    checks = (
        (where.state, question.state),
        (where.owner, question.owner),
        (where.mode, spec.mode),
        (where.eligibility, spec.eligibility.to_json()["kind"]),
    )
    if any(wanted is not None and wanted != actual for wanted, actual in checks):
        return False
    if where.search:
        needle = _folded(where.search)
        haystack = (spec.title, spec.description, *spec.options)
        return any(needle in _folded(text) for text in haystack)
    return True


class VotingService:
    """The voting API over ``contract`` (reads and, through ``sink``, ballots) and ``network``
    (blocks, through Deliver), both as the institution's client identity. ``postings``: the
    contract as an institution admin (the contract takes trustee postings only from an admin
    identity); None refuses postings with NO_POSTING_IDENTITY."""

    def __init__(
        self,
        contract: VotingContract,
        network: Network,
        *,
        chaincode: str,
        sink: BallotSink | None = None,
        postings: VotingContract | None = None,
    ) -> None:
        self.contract = contract
        self.network = network
        self.chaincode = chaincode
        self.sink: BallotSink = sink if sink is not None else ContractSink(contract)
        self.postings = postings
        self._genesis: bytes | None = None
        self._lock = threading.Lock()

    @property
    def channel(self) -> str:
        return self.contract.channel_name

    def close(self) -> None:
        self.sink.close()

    # --- ballots ---------------------------------------------------------------------------

    def cast(self, raw: bytes) -> PendingCast:
        """Check the voter-signed ``Cast`` argument ``raw`` (see :func:`parse_cast_request`) and
        hand it to the sink; the tracker is known at once, the commit through the result."""
        request = parse_cast_request(raw, self.channel)
        ballot = request.ballot
        tracker = tracker_of(ballot.canonical_bytes())
        return PendingCast(ballot.qid, tracker, ballot.voter, self.sink.submit(request))

    def receipt_of(self, done: CastResult) -> Receipt:
        """The receipt of a committed ballot (for a secret one with its question's and
        ceremony's blocks when the chain has them)."""
        secret = self.contract.get_question(done.qid).spec.mode == "secret"
        return receipt_for(
            done, BlockFetcher(self.network), chaincode=self.chaincode, secret=secret
        ).receipt

    def receipt(self, qid: str, voter: str) -> Receipt:
        """The receipt of ``voter``'s committed ballot on ``qid`` (from the voter's history on the
        ledger). Raises NotFound (field ``voter``) when the voter has no ballot there."""
        entry = next((p for p in self.history(voter) if p.qid == qid), None)
        if entry is None:
            raise NotFound(f"voter: no ballot from {voter} on {qid!r}", field="voter")
        question = self.contract.get_question(qid)
        shard = keys.shard_of(bytes.fromhex(voter), question.spec.shards)
        block = self.contract.transactor.block_of(entry.tx)
        done = CastResult(qid, entry.tracker, shard, entry.tx, block)
        return receipt_for(
            done,
            BlockFetcher(self.network),
            chaincode=self.chaincode,
            secret=question.spec.mode == "secret",
        ).receipt

    def spoil(self, raw: bytes) -> SpoilResult:
        """Cast-or-audit, audited: check the ``SpoilBallot`` argument ``raw`` (see
        :func:`parse_spoil_request`) and record the ballot as spoiled with its opening, as the
        institution's client identity; returns once committed. The contract refuses a ballot
        already spoiled (BALLOT_SPOILED) and an opening that does not open it (AUDIT_MISMATCH).
        Not through the sink: an audit is rare and answered alone."""
        return self.contract.spoil_ballot(parse_spoil_request(raw, self.channel))

    def spoiled_file(self, done: SpoilResult) -> Receipt:
        """The spoiled-ballot file of the committed audit ``done`` (what ``mvote-verify spoiled``
        checks): its transaction's block, and the blocks of its question and ceremony."""
        blocks = BlockFetcher(self.network)
        receipt = issue_receipt(
            blocks,
            tx_id=done.transaction_id,
            block_number=done.block_number,
            qid=done.qid,
            tracker=done.tracker,
            chaincode=self.chaincode,
        )
        return with_context_blocks(receipt, blocks)

    def history(self, voter: str) -> tuple[Participation, ...]:
        """Every question ``voter`` (64 hex digits, the public key) has a ballot on."""
        return tuple(self.contract.get_history(voter))

    def ballot(self, qid: str, voter: str) -> BallotRecord:
        """``voter``'s ballot record on ``qid`` as the ledger holds it."""
        return self.contract.get_ballot(qid, voter)

    # --- questions -------------------------------------------------------------------------

    def question(self, qid: str) -> Question:
        return self.contract.get_question(qid)

    def questions(
        self,
        where: QuestionFilter = ANY_QUESTION,
        *,
        page_token: str = "",
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> QuestionPage:
        """The questions that match ``where``, in qid order, ``page_size`` at a time after
        ``page_token``. Raises InvalidField naming ``page_size`` out of 1..MAX_PAGE_SIZE."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidField(
                f"page_size: expected 1 to {MAX_PAGE_SIZE}, got {page_size}", field="page_size"
            )
        found = sorted(
            (q for q in self.contract.list_questions() if _matches(q, where)), key=lambda q: q.qid
        )
        page, token = page_of(found, page_token, page_size)
        return QuestionPage(page, token, len(found))

    def results(self, qid: str) -> Results:
        return Results.from_contract(self.contract.get_results(qid))

    # --- trustees --------------------------------------------------------------------------

    def post(self, kind: PostingKind, posting: bytes) -> Recorded[PostingAccepted]:
        """Relay a trustee's posting (signed by the trustee's own key; the contract checks the
        signature against the ceremony) as the institution's admin identity."""
        if self.postings is None:
            raise NoPostingIdentity(
                f"posting: this service has no admin identity to post a {kind} with",
                field="posting",
            )
        posts: dict[PostingKind, Callable[[bytes], Recorded[PostingAccepted]]] = {
            PostingKind.DEALING: self.postings.post_dealing,
            PostingKind.CHECK: self.postings.post_check,
            PostingKind.DECRYPTION: self.postings.post_decryption,
        }
        return posts[kind](posting)

    def ceremony(self, cid: str) -> Ceremony:
        return self.contract.get_ceremony(cid)

    # --- the chain -------------------------------------------------------------------------

    def block(self, number: int) -> bytes:
        """The committed block ``number`` as the peer serialized it. Raises NotFound beyond the
        height."""
        if number < 0:
            raise InvalidField(f"block: expected a number >= 0, got {number}", field="block")
        (raw,) = fetch_blocks(self.network, number, number)
        return raw

    def blocks(self, start: int, stop: int) -> list[bytes]:
        """Blocks ``start..stop`` inclusive. Precondition: 0 <= start <= stop < height."""
        return fetch_blocks(self.network, start, stop)

    def genesis_hash(self) -> bytes:
        with self._lock:
            if self._genesis is None:
                genesis = unpack_block(self.block(0))
                self._genesis = block_header_hash(0, genesis.previous_hash, genesis.data_hash)
            return self._genesis

    def height(self) -> int:
        """The committed height (the newest block's number + 1)."""
        gateway = self.network.gateway
        envelope = deliver.seek_envelope(
            gateway.signer,
            self.network.name,
            start=deliver.seek_position(None),
            stop=deliver.seek_position(None),
            wait=False,
        )
        newest = _first_block(gateway.deliver_stub.Deliver(iter([envelope]), timeout=30))
        return int(unpack_block(newest).number) + 1

    def chain_info(self) -> ChainInfo:
        return ChainInfo(self.channel, self.genesis_hash().hex(), self.height())


def _first_block(call: Any) -> bytes:
    try:
        for response in call:
            if response.WhichOneof("Type") == "block":
                return bytes(response.block.SerializeToString())
            break
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        raise DeliverFailed(f"deliver: {code}: {exc}", field="deliver") from exc
    finally:
        call.cancel()
    raise DeliverFailed("deliver: the peer sent no newest block", field="deliver")
