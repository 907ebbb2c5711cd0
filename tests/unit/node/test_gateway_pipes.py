"""The pipes between the node process and its gateway processes under large frames, and the
gateway processes' lifecycle around the node's (serving.py, frames.py).

With ~100 KB transactions every ``order`` frame and every ``committed`` frame is larger than a
pipe's buffer. The node once deadlocked with its gateway processes there: a gateway process's
reader waited on the send lock held by a gRPC thread blocked writing into the full pipe to the
node, while the node's committer held its own send lock writing a large ``committed`` frame into
the full pipe the gateway process no longer read. Submits then failed after 30 s and the node
ignored SIGTERM.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

from node_support import ORGS, open_question_spec
from served_support import Served, wait_gone

from mvote.chaincode import encoding
from mvote.client.gateway import Gateway
from mvote.client.identity import load_signer
from mvote.node.material import NetworkMaterial, init_network

CLIENTS = 16
PER_CLIENT = 25
#: Options of a question: ~35 KB of text, which the transaction carries three times (argument,
#: write, response payload): ~110 KB per transaction.
OPTIONS = 200
OPTION_CHARS = 175


def big_spec(qid: str) -> dict[str, Any]:
    options = [f"{i:04d} " + "x" * (OPTION_CHARS - 5) for i in range(OPTIONS)]
    return open_question_spec(qid, time.time(), options=options)


def submit_big_questions(
    material: NetworkMaterial, served: Served, client: int, results: list[object]
) -> None:
    """Submit PER_CLIENT large CreateQuestion transactions, then wait for their commits; append
    the validation code of each, or the error that ended the client."""
    org = material.peer_orgs[0]
    admin = load_signer(org.admin.msp_dir, org.admin.msp_id)
    ca = Path(served.listening["tls_ca"]).read_bytes()
    try:
        with Gateway.connect(served.listening["grpc"], admin, tls_root_certificates=ca) as gw:
            contract = gw.network(material.config.channel).contract(material.config.chaincode)
            submitted = []
            for n in range(PER_CLIENT):
                spec = encoding.encode(big_spec(f"q-big-{client}-{n}"))
                assert len(spec) > 30_000
                submitted.append(contract.submit_async("CreateQuestion", [spec]))
            for s in submitted:
                results.append(s.status(120).code)
    except Exception as exc:
        results.append(exc)


def test_large_transactions_through_gateway_processes_all_commit_and_sigterm_stops(
    tmp_path: Path,
) -> None:
    material = init_network(tmp_path / "net", ORGS)
    served = Served(material.directory, tmp_path / "node.log")
    try:
        assert len(served.gateways) == 2
        results: list[object] = []
        clients = [
            threading.Thread(target=submit_big_questions, args=(material, served, i, results))
            for i in range(CLIENTS)
        ]
        for c in clients:
            c.start()
        for c in clients:
            c.join(600)
        assert not any(c.is_alive() for c in clients), "clients still waiting after 600 s"
        errors = [r for r in results if not isinstance(r, int)]
        assert not errors, f"{len(errors)} clients failed, first: {errors[0]!r}"
        assert results == [0] * (CLIENTS * PER_CLIENT)
        served.process.send_signal(signal.SIGTERM)
        stopped = served.event("stopped")
        assert served.process.wait(30) == 0
        assert stopped["height"] >= 3
        assert not wait_gone(served.gateways, 10)
    finally:
        served.close()
