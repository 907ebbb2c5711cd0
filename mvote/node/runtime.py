"""The embedded node: one process hosting every organisation's peer and the ordering service.

What a Fabric network does across machines happens here between threads, with the same messages:

- ``evaluate`` / ``endorse`` / ``submit`` / ``commit_status``: the peer (peer.py), over the
  ledger this node commits;
- ``order``: a checked transaction joins the queue, with the tx id Submit read from it, unless
  that tx id is committed or pending;
- the ordering thread cuts blocks (orderer.py) and signs them as the orderer;
- the committer validates each block with the verifier's own code (one implementation of every
  rule), writes the validation codes and Fabric's commit hash into the metadata, and commits
  through the crash-consistent ledger what validation decided of each transaction (tx id, code,
  read-write set: nothing is parsed again), then tells its listeners (the gateway processes of
  serving.py follow the ledger from there).

The first start commits the genesis block and then block 1: the chaincode definition
(lifecycle.py), endorsed by every organisation.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_pb2

from mvote.client._identity import load_signer
from mvote.client._proposal import new_proposal, sign_envelope
from mvote.node import lifecycle
from mvote.node.endorser import Simulated, unpack_proposal
from mvote.node.errors import DuplicateTransaction, NotRunning, UnknownChaincode
from mvote.node.ledger.store import AppliedBlock, Ledger
from mvote.node.ledger.updates import VALID, TxOutcome
from mvote.node.material import NetworkMaterial, load_network
from mvote.node.metrics import metrics
from mvote.node.orderer import BlockCutter, Queued, new_block, sign_block
from mvote.node.parallel import LIFECYCLE, MIN_PARALLEL_TXS, ValidationWorker
from mvote.node.peer import (
    CHAINCODE_VERSION,
    Peer,
    assemble_transaction,
)
from mvote.node.rwset import tx_rwset_bytes
from mvote.verifier._commithash import commit_hash
from mvote.verifier._envelope import HEADER_TYPE_ENDORSER_TRANSACTION
from mvote.verifier._mvcc import BlockUpdates
from mvote.verifier._transaction import ParsedTransaction
from mvote.verifier._validation import (
    VERIFIER_ERROR,
    BlockContext,
    TxVerdict,
    finish_block_validation,
    validate_transaction,
)

__all__ = ["CHAINCODE_VERSION", "Node"]

log = logging.getLogger("mvote.node")

#: Called by the committer after each block commits, with what the block changed.
CommitListener = Callable[[AppliedBlock], None]


class Node(Peer):
    """Open with :meth:`open`, then :meth:`start`; :meth:`stop` (or the context manager) ends it."""

    def __init__(
        self,
        material: NetworkMaterial,
        ledger: Ledger,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(material, ledger, clock=clock)
        orderer = material.orderer_org.node
        self.orderer_signer = load_signer(orderer.msp_dir, orderer.msp_id)
        self._cutter = BlockCutter(self.config.batch)
        self._queue: queue.Queue[Queued | None] = queue.Queue()
        self._pending: set[str] = set()
        #: Whether order() takes transactions: cleared first by stop(), so that nothing is
        #: queued after the sentinel that ends the ordering thread.
        self._accepting = False
        self._thread: threading.Thread | None = None
        self._commit_hash = b""
        self._worker: ValidationWorker | None = None
        self._listeners: list[CommitListener] = []

    # -- life cycle -------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, *, clock: Callable[[], float] = time.time) -> Node:
        material = load_network(directory)
        ledger = Ledger.open(directory / material.config.ledger_dir)
        return cls(material, ledger, clock=clock)

    def start(self) -> None:
        if self.ledger.height == 0:
            self.ledger.commit(self.material.genesis.block)
        self._load_channel()
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
        metrics().height.set(self.ledger.height)
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
        self._halt()
        self.ledger.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_commit_listener(self, listener: CommitListener) -> None:
        """Call ``listener(commit)`` from the committer after each block commits."""
        self._listeners.append(listener)

    def _fresh(self) -> None:
        """The node's ledger is the one it commits to: nothing to catch up."""

    # -- ordering and committing (the ordering thread) --------------------------------------------

    def order(self, tx_id: str, raw: bytes | ParsedTransaction) -> None:
        """Queue the checked envelope ``raw`` for ordering. Precondition: ``tx_id`` is its
        channel header's tx id (Submit read it there)."""
        with self._lock:
            if not (self._running and self._accepting):
                raise NotRunning("the node is not running", field="node")
            if tx_id in self._pending or self.ledger.has_tx(tx_id):
                raise DuplicateTransaction(
                    f"tx_id: transaction {tx_id} was already submitted", field="tx_id"
                )
            self._pending.add(tx_id)
            # Under the lock: stop() cannot slip its end-of-queue sentinel in before this.
            self._queue.put(Queued(tx_id, ParsedTransaction.of(raw)))

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
            self._halt(exc)

    def _commit_batch(self, batch: list[Queued]) -> None:
        if not batch:
            return
        measured = metrics()
        cut = time.monotonic()
        for q in batch:
            measured.order_seconds.observe(cut - q.queued_at)
        block = new_block(self.ledger.height, self.ledger.last_hash, [q.envelope for q in batch])
        sign_block(block, self.orderer_signer)
        tx_ids = [q.tx_id for q in batch]
        codes, outcomes = self._validate(block, batch)
        commit = self.ledger.commit(block, outcomes)
        measured.commit_seconds.observe(time.monotonic() - cut)
        measured.committed(commit.updates, self.chaincode)
        with self._lock:
            self._pending.difference_update(tx_ids)
            self._committed(tx_ids)
        for listener in self._listeners:
            listener(commit)
        log.debug(
            "committed block %d: %d txs, codes %s", block.header.number, len(batch), list(codes)
        )

    def _validate(
        self, block: common_pb2.Block, batch: Sequence[Queued]
    ) -> tuple[bytes, list[TxOutcome]]:
        """Validation codes and commit hash into the block's metadata, by the verifier's rules;
        the codes, and what the ledger commits of each transaction. Precondition: ``batch`` holds
        the block's transactions, in order.

        The per-transaction checks of a large block run in the validation worker (parallel.py)
        while this process goes on endorsing; in-block duplicates and MVCC run here, in order."""
        number = int(block.header.number)
        verdicts, updates = self._verdicts(number, batch)
        for v in verdicts:
            for reason in v.reasons:
                if reason.check == VERIFIER_ERROR:
                    log.error("block %d tx %d (%s): %s", number, v.index, v.tx_id, reason.message)
        codes = bytes(v.code for v in verdicts)
        self._commit_hash = commit_hash(codes, updates, self._commit_hash)
        block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = codes
        block.metadata.metadata[common_pb2.COMMIT_HASH] = common_pb2.Metadata(
            value=self._commit_hash
        ).SerializeToString()
        return codes, [_outcome(q.tx_id, v) for q, v in zip(batch, verdicts, strict=True)]

    def _verdicts(
        self, number: int, batch: Sequence[Queued]
    ) -> tuple[list[TxVerdict], BlockUpdates]:
        """Every transaction's verdict and the MVCC updates, in the worker if it takes them."""
        with self.ledger.latest() as world:
            context = BlockContext(self.channel_config, world, self.ledger.has_tx)
            verdicts = None
            if self._worker is not None and len(batch) >= MIN_PARALLEL_TXS:
                lifecycle = {key: value for key, value, _ in world.entries(LIFECYCLE, "", "")}
                committed = {q.tx_id: self.ledger.has_tx(q.tx_id) for q in batch}
                verdicts = self._worker.verdicts(lifecycle, committed, [q.envelope for q in batch])
            if verdicts is None:
                verdicts = [
                    validate_transaction(context, i, q.transaction) for i, q in enumerate(batch)
                ]
            return finish_block_validation(context, number, verdicts)

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


def _outcome(tx_id: str, verdict: TxVerdict) -> TxOutcome:
    """What the ledger commits of a transaction validation decided: only a VALID endorser
    transaction's read-write set writes (the rule of ledger/updates.py)."""
    rwset = verdict.rwset
    if rwset is None or verdict.code != VALID:
        return TxOutcome(tx_id, verdict.code)
    if verdict.header_type != HEADER_TYPE_ENDORSER_TRANSACTION:
        return TxOutcome(tx_id, verdict.code)
    return TxOutcome(tx_id, verdict.code, (rwset,))
