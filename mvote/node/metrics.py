"""The node's metrics for operators (Prometheus), and the one place refusals are logged.

What is measured, and where (docs/operations.md lists every metric):

- the committer (node process): block height, ballots committed, transactions by validation
  code, MVCC conflicts, order latency (a transaction's wait from Submit to its block being cut)
  and commit latency (a block's validation and write);
- the peer (every gateway process): endorse latency;
- the gRPC services (every gateway process): refusals by code, open streams by kind.

No label ever carries a voter key, a voter id, a ballot or a client's text: labels are error
codes from the packages' ``ERRORS`` tables, Fabric validation code names, gRPC status names and
the fixed stream kinds. A refusal is logged with its code and field only, never its message (a
message may quote the ballot or the voter's key).

One node is several processes (serving.py). :func:`share_between_processes` makes every process
write its values into one folder (prometheus_client's multiprocess mode) that the operations
endpoint of the node process reads; without it (a node served from one process, as in-process
tests run it) the values stay in this process's registry.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from mvote.chaincode._keys import BALLOT
from mvote.chaincode._stub import COMPOSITE_KEY_NAMESPACE
from mvote.client._commit import validation_code_name
from mvote.node.errors import ALL_ERROR_TYPES
from mvote.node.ledger.updates import BlockChanges
from mvote.verifier._mvcc import MVCC_READ_CONFLICT, PHANTOM_READ_CONFLICT

log = logging.getLogger("mvote.node.refusals")

#: prometheus_client's folder of per-process value files (its multiprocess mode).
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The code label of a refusal that carries no mvote error code (a gRPC-level refusal).
UNTYPED = "UNTYPED"
#: The kinds of stream and wait a gRPC server admits (services/admission.py).
STREAM_KINDS = ("deliver", "broadcast", "chaincode events", "commit status")
_BALLOT_PREFIX = COMPOSITE_KEY_NAMESPACE + BALLOT + "\x00"


def refusal_code(code: str | None) -> str:
    """``code`` as a label: an error code of the packages' tables, else :data:`UNTYPED` (a
    label set bounded by the code, whatever a client sends)."""
    return code if code is not None and code in ALL_ERROR_TYPES else UNTYPED


class NodeMetrics:
    """Every metric of one node process (gateway processes included: each has its own)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.height = Gauge(
            "mvote_block_height",
            "Blocks committed (the next block's number).",
            registry=r,
            multiprocess_mode="max",
        )
        self.ballots = Counter(
            "mvote_ballots_committed", "Ballots written by VALID transactions.", registry=r
        )
        self.transactions = Counter(
            "mvote_transactions_committed",
            "Committed transactions by Fabric validation code.",
            ["validation_code"],
            registry=r,
        )
        self.conflicts = Counter(
            "mvote_mvcc_conflicts",
            "Transactions invalidated by MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT.",
            registry=r,
        )
        self.endorse_seconds = Histogram(
            "mvote_endorse_seconds", "Endorsement of a proposal (every organisation).", registry=r
        )
        self.order_seconds = Histogram(
            "mvote_order_seconds",
            "A transaction's wait from ordering to its block being cut.",
            registry=r,
        )
        self.commit_seconds = Histogram(
            "mvote_commit_seconds", "A block's validation and commit.", registry=r
        )
        self.refusals = Counter(
            "mvote_refusals",
            "Calls ended with an error, by mvote error code and status (gRPC's, or the Fabric "
            "status of a Broadcast or Deliver answer).",
            ["code", "status"],
            registry=r,
        )
        self.streams = Gauge(
            "mvote_streams_open",
            "Open streams and waits by kind (Deliver, Broadcast, gateway events and commit status).",
            ["kind"],
            registry=r,
            multiprocess_mode="livesum",
        )

    # -- the committer ----------------------------------------------------------------------------

    def committed(self, changes: BlockChanges, chaincode: str) -> None:
        """Count a committed block: its height, transactions, conflicts and the ballots its
        VALID transactions wrote to ``chaincode``."""
        self.height.set(changes.number + 1)
        for tx in changes.txs:
            self.transactions.labels(validation_code_name(tx.code)).inc()
            if tx.code in (MVCC_READ_CONFLICT, PHANTOM_READ_CONFLICT):
                self.conflicts.inc()
        ballots = sum(
            1
            for w in changes.writes
            if w.namespace == chaincode and w.value is not None and w.key.startswith(_BALLOT_PREFIX)
        )
        if ballots:
            self.ballots.inc(ballots)

    # -- the services -----------------------------------------------------------------------------

    def refused(
        self, code: str | None, status: str, field: str | None, *, logged: bool = True
    ) -> None:
        """Count a refusal, and log it (unless not ``logged``): its code, status and field,
        never its message."""
        label = refusal_code(code)
        self.refusals.labels(label, status).inc()
        if logged:
            log.info("refused: %s (%s) field %s", label, status, field or "-")

    def stream_opened(self, kind: str) -> None:
        """A stream or wait of ``kind`` (one of :data:`STREAM_KINDS`) was admitted."""
        self.streams.labels(kind).inc()

    def stream_closed(self, kind: str) -> None:
        """An admitted stream or wait of ``kind`` ended."""
        self.streams.labels(kind).dec()

    # -- exposition -------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The Prometheus text format of every process's values (this one's alone when the
        values are not shared between processes)."""
        directory = os.environ.get(MULTIPROCESS_ENV)
        if not directory:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


@contextmanager
def timed(histogram: Histogram) -> Iterator[None]:
    """Observe the seconds spent inside (also when it raises)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - start)


_lock = threading.Lock()
_metrics: NodeMetrics | None = None


def metrics() -> NodeMetrics:
    """This process's metrics, made on first use."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = NodeMetrics()
        return _metrics


def share_between_processes(directory: Path) -> None:
    """Have this process and the processes it starts afterwards (they inherit the environment)
    write their values into ``directory``, emptied first. Preconditions: called in the node
    process, before :func:`metrics` (raises RuntimeError after), and ``directory`` belongs to
    this node alone (stale files of an earlier run would be added to this run's values)."""
    with _lock:
        if _metrics is not None:
            raise RuntimeError("share_between_processes: metrics already in use")
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        os.environ[MULTIPROCESS_ENV] = str(directory)
        # prometheus_client chose its value class when it was imported; choose again.
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def process_gone(pid: int) -> None:
    """Drop the live values (open streams) of a process of this node that exited."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if directory:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
