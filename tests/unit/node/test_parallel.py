"""The validation worker (mvote/node/parallel.py) gives the verdicts the committer would.

A block of ballots, some of them broken in different ways (a bad creator signature, a tx id
already on the ledger, a duplicate within the block), validated by the worker process and by
:func:`validate_block_transactions` in-process: the same codes, reasons and writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fabric_protos.common import common_pb2
from node_support import ORGS, Client, voter_key

from mvote.node.material import init_network
from mvote.node.parallel import LIFECYCLE, MIN_PARALLEL_TXS, ValidationWorker
from mvote.node.runtime import Node
from mvote.verifier._errors import VerifierError
from mvote.verifier._transaction import ParsedTransaction
from mvote.verifier._validation import (
    BlockContext,
    finish_block_validation,
    validate_block_transactions,
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    directory: Path = tmp_path_factory.mktemp("parallel") / "net"
    init_network(directory, ORGS)
    with Node.open(directory) as running:
        running.start()
        yield running


def test_worker_verdicts_equal_in_process_verdicts(node: Node) -> None:
    client = Client(node, node.material)
    spec = client.open_question("q-parallel")
    envelopes = []
    for i in range(MIN_PARALLEL_TXS + 4):
        _, envelope, _ = client.endorsed("Cast", client.cast_args(spec, voter_key(9000 + i), 0))
        envelopes.append(envelope.SerializeToString())
    tx_id, on_ledger, _ = client.endorsed("Cast", client.cast_args(spec, voter_key(9999), 1))
    node.submit(on_ledger)
    assert node.commit_status(tx_id, timeout=30).code == 0
    forged = common_pb2.Envelope.FromString(envelopes[1])
    forged.signature = bytes(len(forged.signature))
    second = client.endorsed("Cast", client.cast_args(spec, voter_key(9000), 1))[1]
    data = [
        *envelopes,
        forged.SerializeToString(),  # BAD_CREATOR_SIGNATURE
        envelopes[0],  # DUPLICATE_TXID within the block
        on_ledger.SerializeToString(),  # DUPLICATE_TXID: already on the ledger
        second.SerializeToString(),  # MVCC_READ_CONFLICT: voter 9000 voted earlier in the block
        b"\x0a\x01",  # not an envelope
    ]
    number = node.ledger.height
    worker = ValidationWorker(node.ledger.block(0))
    try:
        with node.ledger.latest() as world:
            lifecycle = {k: v for k, v, _ in world.entries(LIFECYCLE, "", "")}
            ids = [_tx_id(raw) for raw in data]
            known = {t: node.ledger.has_tx(t) for t in ids if t}
            deadline = time.monotonic() + 60
            verdicts = worker.verdicts(lifecycle, known, data)
            while verdicts is None and time.monotonic() < deadline:
                time.sleep(0.1)
                verdicts = worker.verdicts(lifecycle, known, data)
            assert verdicts is not None, "the worker did not answer"
            context = BlockContext(node.channel_config, world, node.ledger.has_tx)
            remote = finish_block_validation(context, number, verdicts)
            local = validate_block_transactions(context, number, data)
    finally:
        worker.close()
    assert [v.code for v in remote[0]] == [v.code for v in local[0]]
    assert remote[0] == local[0]
    assert remote[1] == local[1]
    codes = [v.code for v in local[0]]
    assert codes[: len(envelopes)] == [0] * len(envelopes)
    assert codes[len(envelopes) :] == [4, 9, 9, 11, 255], codes  # sig, dup, dup, mvcc, other


def test_worker_refuses_to_guess_state_it_was_not_sent(node: Node) -> None:
    worker = ValidationWorker(node.ledger.block(0))
    client = Client(node, node.material)
    spec = client.open_question("q-parallel-2")
    data = [
        client.endorsed("Cast", client.cast_args(spec, voter_key(8000 + i), 0))[
            1
        ].SerializeToString()
        for i in range(MIN_PARALLEL_TXS)
    ]
    try:
        deadline = time.monotonic() + 60
        answer = worker.verdicts({}, {}, data)
        while worker._process is not None and not worker._ready and time.monotonic() < deadline:
            time.sleep(0.1)
            answer = worker.verdicts({}, {}, data)
        # No tx id answers were sent: the worker answers None (validate in the committer).
        assert answer is None
        assert worker._ready
    finally:
        worker.close()


def _tx_id(raw: bytes) -> str | None:
    try:
        return str(ParsedTransaction.parse(raw).tx_id)
    except VerifierError:
        return None
