"""The embedded node: one process hosting every organisation's peer and the ordering service.

What a Fabric network does across machines happens here between threads, with the same messages:

- ``evaluate`` / ``endorse``: unpack and check a signed proposal (endorser.py), run the contract on
  one consistent snapshot of the world state for every endorsing organisation, and assemble the
  unsigned transaction from identical endorsements (as Fabric's gateway does in Endorse);
- ``submit``: check a signed transaction before anything is queued (size, channel, creator
  signature, /Channel/Writers, a tx id neither committed nor pending), then order it;
- the ordering thread cuts blocks (orderer.py) and signs them as the orderer;
- the committer validates each block with the verifier's own code (one implementation of every
  rule), writes the validation codes and Fabric's commit hash into the metadata, and commits
  through the crash-consistent ledger.

The first start commits the genesis block and then block 1: the chaincode definition
(lifecycle.py), endorsed by every organisation.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2

from mvote.chaincode import contract
from mvote.chaincode.errors import Malformed, TooLarge, Unauthorised, WrongChannel
from mvote.client.identity import load_signer
from mvote.client.proposal import new_proposal, sign_envelope
from mvote.node import lifecycle
from mvote.node.endorser import (
    Endorser,
    Simulated,
    UnpackedProposal,
    check_proposal,
    unpack_proposal,
)
from mvote.node.errors import (
    ClockSkew,
    CommitTimeout,
    DuplicateTransaction,
    EndorsementFailed,
    EndorsementMismatch,
    NotRunning,
    UnknownChaincode,
)
from mvote.node.ledger.store import Ledger, TxLocation
from mvote.node.material import NetworkMaterial, load_network
from mvote.node.orderer import BlockCutter, new_block, sign_block
from mvote.node.parallel import LIFECYCLE, MIN_PARALLEL_TXS, ValidationWorker
from mvote.node.rwset import tx_rwset_bytes
from mvote.verifier.commithash import commit_hash
from mvote.verifier.config import ChannelConfig, config_from_block
from mvote.verifier.envelope import HEADER_TYPE_ENDORSER_TRANSACTION, unpack_full_envelope
from mvote.verifier.errors import VerifierError
from mvote.verifier.msp import Identity
from mvote.verifier.policy import PolicyEvaluator, SignedData
from mvote.verifier.validation import (
    BlockContext,
    chaincode_endorsement_policy,
    finish_block_validation,
    validate_block_transactions,
)

log = logging.getLogger("mvote.node")

CHAINCODE_VERSION = contract.VERSION
#: How far a proposal's timestamp may be from the node's clock.
MAX_CLOCK_SKEW_SECONDS = 300
WRITERS = "/Channel/Writers"
APPLICATION_WRITERS = "/Channel/Application/Writers"


@dataclass(frozen=True)
class Committed:
    """A block as committed, with its validation codes."""

    block: common_pb2.Block
    codes: bytes

    @property
    def number(self) -> int:
        return int(self.block.header.number)


@dataclass(frozen=True)
class Checked:
    """A proposal already unpacked and checked by :func:`check_proposal` (the gateway's
    preProcess), with its creator: the node does not unpack and verify the same bytes again."""

    proposal: UnpackedProposal
    creator: Identity


class Node:
    """Open with :meth:`open`, then :meth:`start`; :meth:`stop` (or the context manager) ends it."""

    def __init__(
        self,
        material: NetworkMaterial,
        ledger: Ledger,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.material = material
        self.config = material.config
        self.channel_id = self.config.channel
        self.chaincode = self.config.chaincode
        self.ledger = ledger
        self._clock = clock
        self.endorsers = [
            Endorser(
                load_signer(org.node.msp_dir, org.msp_id),
                chaincode_name=self.chaincode,
                chaincode_version=CHAINCODE_VERSION,
            )
            for org in material.peer_orgs
        ]
        orderer = material.orderer_org.node
        self.orderer_signer = load_signer(orderer.msp_dir, orderer.msp_id)
        self._cutter = BlockCutter(self.config.batch)
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._pending: set[str] = set()
        self._lock = threading.Condition()
        #: Futures of commit-status waiters by tx id, resolved by the committer when the tx
        #: commits (or by stop/failure): a waiter sleeps until its own tx, not every block.
        self._waiters: dict[str, list[Future[None]]] = {}
        self._running = False
        #: Whether submit() takes transactions: cleared first by stop(), so that nothing is
        #: queued after the sentinel that ends the ordering thread.
        self._accepting = False
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._channel_config: ChannelConfig | None = None
        self._policies: PolicyEvaluator | None = None
        self._endorsing: list[Endorser] = []
        self._commit_hash = b""
        self._worker: ValidationWorker | None = None

    # -- life cycle -------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, *, clock: Callable[[], float] = time.time) -> Node:
        material = load_network(directory)
        ledger = Ledger.open(directory / material.config.ledger_dir)
        return cls(material, ledger, clock=clock)

    def start(self) -> None:
        if self.ledger.height == 0:
            self.ledger.commit(self.material.genesis.block)
        self._channel_config = config_from_block(self.ledger.block(0))
        self._policies = PolicyEvaluator(self._channel_config)
        last = common_pb2.Block.FromString(self.ledger.block(self.ledger.height - 1))
        slot = last.metadata.metadata[common_pb2.COMMIT_HASH] if last.header.number else b""
        self._commit_hash = common_pb2.Metadata.FromString(slot).value if slot else b""
        self._worker = ValidationWorker(self.ledger.block(0))
        self._running = True
        self._accepting = True
        self._thread = threading.Thread(target=self._order_loop, name="mvote-orderer", daemon=True)
        self._thread.start()
        if self.ledger.height == 1:
            self._define_chaincode()
        self._endorsing = self._endorsers_for_policy()
        log.info(
            "node started: channel %s, height %d, endorsing orgs %s",
            self.channel_id,
            self.ledger.height,
            [e.msp_id for e in self._endorsing],
        )

    def stop(self) -> None:
        """Order what is queued, then stop and close the ledger."""
        with self._lock:
            self._accepting = False
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._worker is not None:
            self._worker.close()
        with self._lock:
            self._running = False
            self._wake_all_waiters()
            self._lock.notify_all()
        self.ledger.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def channel_config(self) -> ChannelConfig:
        assert self._channel_config is not None, "start() first"
        return self._channel_config

    @property
    def policies(self) -> PolicyEvaluator:
        assert self._policies is not None, "start() first"
        return self._policies

    # -- evaluate and endorse ---------------------------------------------------------------------

    def _checked(
        self, signed: proposal_pb2.SignedProposal, checked: Checked | None = None
    ) -> UnpackedProposal:
        up = unpack_proposal(signed) if checked is None else checked.proposal
        if up.channel_id != self.channel_id:
            raise WrongChannel(
                f"channel_header.channel_id: expected {self.channel_id!r}, got {up.channel_id!r}",
                field="channel_id",
            )
        if up.chaincode_name != self.chaincode:
            raise UnknownChaincode(
                f"chaincode_id: channel {self.channel_id} runs {self.chaincode!r}, "
                f"got {up.chaincode_name!r}",
                field="chaincode_id",
            )
        if checked is None:
            creator = check_proposal(up, self.channel_config.msps)
        else:
            creator = checked.creator
        # Fabric's peer/Propose ACL: the creator must be a writer of the application.
        if not self.policies.evaluate(APPLICATION_WRITERS, [creator]):
            raise Unauthorised(
                f"creator: {creator.mspid} identity does not satisfy {APPLICATION_WRITERS}",
                field="creator",
            )
        return up

    def evaluate(
        self, signed: proposal_pb2.SignedProposal, *, checked: Checked | None = None
    ) -> proposal_response_pb2.Response:
        """Run a query on the latest committed state; nothing is endorsed or ordered.
        ``checked``: ``signed`` as :func:`check_proposal` already passed it."""
        up = self._checked(signed, checked)
        with self.ledger.snapshot() as world:
            simulated = self._endorsing[0].simulate(up, world)
        r = simulated.response
        return proposal_response_pb2.Response(status=r.status, message=r.message, payload=r.payload)

    def endorse(
        self,
        signed: proposal_pb2.SignedProposal,
        organizations: Sequence[str] = (),
        *,
        checked: Checked | None = None,
    ) -> tuple[common_pb2.Envelope, proposal_response_pb2.Response]:
        """Endorse with enough organisations for the policy (or exactly ``organizations``) and
        return the unsigned transaction envelope and the chaincode response. ``checked``:
        ``signed`` as :func:`check_proposal` already passed it."""
        up = self._checked(signed, checked)
        skew = abs(up.timestamp.seconds - self._clock())
        if skew > MAX_CLOCK_SKEW_SECONDS:
            raise ClockSkew(
                f"channel_header.timestamp: {up.timestamp.seconds} is {skew:.0f} s from the "
                f"node's clock (at most {MAX_CLOCK_SKEW_SECONDS} s)",
                field="timestamp",
            )
        endorsers = self._endorsers_named(organizations) if organizations else self._endorsing
        with self.ledger.snapshot() as world:
            responses = [e.endorse(up, world) for e in endorsers]
        refused = [
            (e.msp_id, r.response.message)
            for e, r in zip(endorsers, responses, strict=True)
            if not r.HasField("endorsement")
        ]
        if refused:
            raise EndorsementFailed(
                f"{len(refused)} of {len(endorsers)} endorsers refused: {refused[0][1]}",
                details=refused,
            )
        if len({r.payload for r in responses}) != 1:
            raise EndorsementMismatch(
                f"endorsers {[e.msp_id for e in endorsers]} returned different results",
                field="proposal",
            )
        payload = assemble_transaction(up, responses)
        return common_pb2.Envelope(payload=payload), responses[0].response

    def _endorsers_named(self, organizations: Sequence[str]) -> list[Endorser]:
        by_msp = {e.msp_id: e for e in self.endorsers}
        unknown = [o for o in organizations if o not in by_msp]
        if unknown:
            raise Malformed(
                f"endorsing_organizations: expected some of {sorted(by_msp)}, got {unknown}",
                field="endorsing_organizations",
            )
        return [by_msp[o] for o in dict.fromkeys(organizations)]

    def _endorsers_for_policy(self) -> list[Endorser]:
        """The fewest organisations, in configuration order, that satisfy the chaincode's
        endorsement policy (the gateway's own organisation first, as Fabric's gateway prefers)."""
        with self.ledger.snapshot() as world:
            policy = chaincode_endorsement_policy(world, self.chaincode)
        if policy is None:
            raise UnknownChaincode(
                f"chaincode {self.chaincode!r} is not defined on channel {self.channel_id}",
                field="chaincode_id",
            )
        chosen: list[Endorser] = []
        for endorser in self.endorsers:
            chosen.append(endorser)
            ids = [self.channel_config.msps.deserialize(e.signer.creator) for e in chosen]
            if self.policies.evaluate_application_policy(policy, ids):
                return chosen
        raise UnknownChaincode(
            f"chaincode {self.chaincode!r}: its endorsement policy cannot be met by this node's "
            f"organisations {[e.msp_id for e in self.endorsers]}",
            field="chaincode_id",
        )

    # -- submit and commit ------------------------------------------------------------------------

    def submit(self, envelope: common_pb2.Envelope) -> str:
        """Check a signed transaction and queue it for ordering; return its tx id."""
        raw = envelope.SerializeToString()
        limit = self.config.limits.max_transaction_bytes
        if len(raw) > limit:
            raise TooLarge(
                f"envelope: expected at most {limit} bytes, got {len(raw)}", field="envelope"
            )
        try:
            parsed = unpack_full_envelope(raw)
        except VerifierError as exc:
            raise Malformed(f"envelope: {exc.message}", field="envelope") from exc
        header = parsed.channel_header
        if header.channel_id != self.channel_id:
            raise WrongChannel(
                f"channel_header.channel_id: expected {self.channel_id!r}, got {header.channel_id!r}",
                field="channel_id",
            )
        if header.type != HEADER_TYPE_ENDORSER_TRANSACTION:
            raise Malformed(
                f"channel_header.type: expected ENDORSER_TRANSACTION (3), got {header.type}",
                field="channel_header.type",
            )
        signed = SignedData(parsed.payload, parsed.signature_header.creator, parsed.signature)
        ok, problems = self.policies.evaluate_signed(WRITERS, [signed])
        if not ok:
            why = problems[0].error.message if problems else f"creator does not satisfy {WRITERS}"
            raise Unauthorised(f"envelope signature: {why}", field="signature")
        with self._lock:
            if not (self._running and self._accepting):
                raise NotRunning("the node is not running", field="node")
            if header.tx_id in self._pending or self.ledger.has_tx(header.tx_id):
                raise DuplicateTransaction(
                    f"tx_id: transaction {header.tx_id} was already submitted", field="tx_id"
                )
            self._pending.add(header.tx_id)
            # Under the lock: stop() cannot slip its end-of-queue sentinel in before this.
            self._queue.put(raw)
        return header.tx_id

    def commit_status(self, tx_id: str, timeout: float | None = None) -> TxLocation:
        """Wait until ``tx_id`` is committed; its block and validation code."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waiter: Future[None] | None = None
        try:
            while True:
                with self._lock:
                    found = self.ledger.tx_location(tx_id)
                    if found is not None:
                        return found
                    if self._failure is not None:
                        raise NotRunning(f"ordering stopped: {self._failure}", field="node")
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if (remaining is not None and remaining <= 0) or not self._running:
                        raise CommitTimeout(f"tx_id: {tx_id} not committed yet", field="tx_id")
                    if waiter is None or waiter.done():
                        if waiter is not None:
                            self._drop_waiter(tx_id, waiter)
                        # Registered under the lock that the committer resolves under: no
                        # commit between the lookup above and this can be missed.
                        waiter = Future()
                        self._waiters.setdefault(tx_id, []).append(waiter)
                with suppress(TimeoutError):
                    waiter.result(remaining)
        finally:
            if waiter is not None:
                self.release_waiter(tx_id, waiter)

    def commit_waiter(self, tx_id: str) -> Future[None]:
        """A future resolved when ``tx_id`` commits or the node stops (whichever first); then
        :meth:`commit_status` with ``timeout=0`` answers at once. Pass it to
        :meth:`release_waiter` if it is abandoned unresolved."""
        waiter: Future[None] = Future()
        with self._lock:
            if not self._running or self._failure is not None:
                resolve(waiter)
            else:
                self._waiters.setdefault(tx_id, []).append(waiter)
        return waiter

    def release_waiter(self, tx_id: str, waiter: Future[None]) -> None:
        with self._lock:
            self._drop_waiter(tx_id, waiter)

    def _drop_waiter(self, tx_id: str, waiter: Future[None]) -> None:
        waiters = self._waiters.get(tx_id)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[tx_id]

    def _wake_all_waiters(self) -> None:
        """Under the lock: resolve every waiter (the node stopped or failed)."""
        waiters, self._waiters = self._waiters, {}
        for futures in waiters.values():
            for waiter in futures:
                resolve(waiter)

    def blocks(self, start: int, stop: threading.Event | None = None) -> Iterator[common_pb2.Block]:
        """Committed blocks from ``start`` on, waiting for new ones until ``stop`` is set or the
        node stops."""
        number = start
        while True:
            with self._lock:
                while self.ledger.height <= number:
                    if not self._running or (stop is not None and stop.is_set()):
                        return
                    self._lock.wait(0.2)
            yield common_pb2.Block.FromString(self.ledger.block(number))
            number += 1

    def wait_for_height(self, height: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.ledger.height < height:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    # -- ordering and committing (the ordering thread) --------------------------------------------

    def _order_loop(self) -> None:
        timeout = self.config.batch.timeout_ms / 1000
        deadline: float | None = None
        try:
            while True:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    deadline = None
                    self._commit_batch(self._cutter.cut())
                    continue
                if item is None:
                    self._commit_batch(self._cutter.cut())
                    return
                for batch in self._cutter.ordered(item):
                    self._commit_batch(batch)
                if self._cutter.pending and deadline is None:
                    deadline = time.monotonic() + timeout
                elif not self._cutter.pending:
                    deadline = None
        except BaseException as exc:  # the ledger refused a block: stop taking transactions
            log.exception("ordering stopped")
            with self._lock:
                self._failure = exc
                self._running = False
                self._wake_all_waiters()
                self._lock.notify_all()

    def _commit_batch(self, batch: list[bytes]) -> None:
        if not batch:
            return
        block = new_block(self.ledger.height, self.ledger.last_hash, batch)
        sign_block(block, self.orderer_signer)
        tx_ids = [_tx_id(raw) for raw in batch]
        codes = self._validate(block, tx_ids)
        self.ledger.commit(block)
        with self._lock:
            for raw, known in zip(batch, tx_ids, strict=True):
                tx_id = (
                    known if known is not None else unpack_full_envelope(raw).channel_header.tx_id
                )
                self._pending.discard(tx_id)
                for waiter in self._waiters.pop(tx_id, ()):
                    resolve(waiter)
            self._lock.notify_all()
        log.debug(
            "committed block %d: %d txs, codes %s", block.header.number, len(batch), list(codes)
        )

    def _validate(self, block: common_pb2.Block, tx_ids: Sequence[str | None] = ()) -> bytes:
        """Validation codes and commit hash into the block's metadata, by the verifier's rules.

        The per-transaction checks of a large block run in the validation worker (parallel.py)
        while this process goes on endorsing; in-block duplicates and MVCC run here, in order."""
        number = int(block.header.number)
        data = list(block.data.data)
        with self.ledger.latest() as world:
            context = BlockContext(self.channel_config, world, self.ledger.has_tx)
            verdicts = None
            if self._worker is not None and len(data) >= MIN_PARALLEL_TXS:
                lifecycle = {key: value for key, value, _ in world.entries(LIFECYCLE, "", "")}
                committed = {t: self.ledger.has_tx(t) for t in tx_ids if t is not None}
                verdicts = self._worker.verdicts(lifecycle, committed, data)
            if verdicts is None:
                verdicts, updates = validate_block_transactions(context, number, data)
            else:
                verdicts, updates = finish_block_validation(context, number, verdicts)
        codes = bytes(v.code for v in verdicts)
        self._commit_hash = commit_hash(codes, updates, self._commit_hash)
        block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = codes
        block.metadata.metadata[common_pb2.COMMIT_HASH] = common_pb2.Metadata(
            value=self._commit_hash
        ).SerializeToString()
        return codes

    # -- bootstrap --------------------------------------------------------------------------------

    def _define_chaincode(self) -> None:
        """Block 1: the chaincode definition, proposed by the first organisation's admin."""
        admin = self.material.peer_orgs[0].admin
        signer = load_signer(admin.msp_dir, admin.msp_id)
        proposal = new_proposal(
            signer,
            channel_id=self.channel_id,
            chaincode=lifecycle.LIFECYCLE,
            args=lifecycle.commit_args(self.chaincode, CHAINCODE_VERSION),
            timestamp=self._clock(),
            # As `peer lifecycle chaincode commit` sends it (golden block 4): no spec type.
            chaincode_type=chaincode_pb2.ChaincodeSpec.UNDEFINED,
        )
        up = unpack_proposal(proposal.signed())
        simulated = Simulated(
            lifecycle.DEFINITION_RESPONSE,
            tx_rwset_bytes(
                {
                    lifecycle.LIFECYCLE: lifecycle.definition_simulation(
                        self.chaincode, CHAINCODE_VERSION
                    )
                }
            ),
            b"",
        )
        responses = [e.sign(up, simulated, (lifecycle.LIFECYCLE, "syscc")) for e in self.endorsers]
        envelope = sign_envelope(assemble_transaction(up, responses), signer)
        self.submit(envelope)
        found = self.commit_status(proposal.transaction_id, timeout=30)
        if found.code != 0:
            raise UnknownChaincode(
                f"defining chaincode {self.chaincode!r} failed with validation code {found.code}",
                field="chaincode_id",
            )


def _tx_id(raw: bytes) -> str | None:
    try:
        return str(unpack_full_envelope(raw).channel_header.tx_id)
    except VerifierError:
        return None


def resolve(waiter: Future[None]) -> None:
    """Resolve a commit waiter unless someone else already did (thread-safe)."""
    with suppress(InvalidStateError):
        waiter.set_result(None)


def assemble_transaction(
    up: UnpackedProposal, responses: Sequence[proposal_response_pb2.ProposalResponse]
) -> bytes:
    """The transaction payload a Fabric gateway returns from Endorse (protoutil.CreateTx)."""
    action_payload = transaction_pb2.ChaincodeActionPayload(
        chaincode_proposal_payload=up.payload_no_transient,
        action=transaction_pb2.ChaincodeEndorsedAction(
            proposal_response_payload=responses[0].payload,
            endorsements=[r.endorsement for r in responses],
        ),
    )
    transaction = transaction_pb2.Transaction(
        actions=[
            transaction_pb2.TransactionAction(
                header=up.signature_header_bytes, payload=action_payload.SerializeToString()
            )
        ]
    )
    return bytes(
        common_pb2.Payload(
            header=common_pb2.Header(
                channel_header=up.channel_header_bytes, signature_header=up.signature_header_bytes
            ),
            data=transaction.SerializeToString(),
        ).SerializeToString()
    )
