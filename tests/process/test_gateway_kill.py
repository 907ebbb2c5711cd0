"""SIGKILL ``mvote node start`` (the node process and its gateway processes) at random instants
while clients cast ballots through the Gateway over TLS; and SIGKILL one gateway process.

test_node_kill.py kills an in-process node 50 times; this test kills the whole served node, to
check what the gateway processes add: after the node process dies, its gateway processes exit by
themselves within seconds (none serves a chain no one commits to) and free the port; every
receipt a client was given through CommitStatus, by either gateway process, is in the recovered
ledger at its block with its code; the crash image passes every check of kill_support.check; and
the next start rolls the followers forward from their markers and serves again.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import threading
import time
from pathlib import Path

from kill_support import Network, Receipt, check, prepare
from node_support import cast_request, voter_key
from served_support import Served, wait_gone

from mvote.chaincode import encoding
from mvote.client._gateway import Gateway
from mvote.client._identity import load_signer

SEED = 20261123
KILLS = 8
CLIENTS = 4
#: How long the voters may take to hold their first receipt of a run.
RECEIPT_WAIT = 60


class Voters:
    """CLIENTS threads, each with its own Gateway connection, casting fresh voters' ballots and
    keeping a receipt for each one CommitStatus reports."""

    def __init__(self, net: Network, served: Served, first_voter: int) -> None:
        self.receipts: list[Receipt] = []
        self._lock = threading.Lock()
        self._receipted = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._next = first_voter
        org = net.material.peer_orgs[0]
        self._signer = load_signer(org.client.msp_dir, org.client.msp_id)
        self._ca = Path(served.listening["tls_ca"]).read_bytes()
        self._address = served.listening["grpc"]
        self._net = net
        self._threads = [threading.Thread(target=self._run) for _ in range(CLIENTS)]
        for t in self._threads:
            t.start()

    def _voter(self) -> int:
        with self._lock:
            self._next += 1
            return self._next

    def _run(self) -> None:
        channel = self._net.material.config.channel
        try:
            with Gateway.connect(self._address, self._signer, tls_root_certificates=self._ca) as gw:
                contract = gw.network(channel).contract(self._net.material.config.chaincode)
                while not self._stop.is_set():
                    key = voter_key(self._voter())
                    request = cast_request(channel, self._net.spec, key, 0)
                    submitted = contract.submit_async("Cast", [encoding.encode(request.to_json())])
                    status = submitted.status(30)
                    with self._lock:
                        self.receipts.append(
                            Receipt(
                                status.transaction_id,
                                status.block_number,
                                None,
                                status.code,
                                bytes(key.verify_key).hex(),
                                request.ballot.tracker(),
                            )
                        )
                        self._receipted.notify_all()
        except Exception:
            return  # the node was killed under it: what it was told so far is in receipts

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait (bounded) until ``count`` receipts are held; whether they are."""
        with self._receipted:
            return self._receipted.wait_for(lambda: len(self.receipts) >= count, timeout)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


def test_sigkill_the_served_node_and_its_gateway_processes(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    net = prepare(tmp_path / "net")
    log = tmp_path / "node.log"
    counted = 0
    for run in range(KILLS):
        served = Served(net.material.directory, log)
        try:
            assert len(served.gateways) == 2, served.gateways
            voters = Voters(net, served, first_voter=(run + 1) * 1_000_000)
            # Ballots commit through the gateways (so every run counts), then the kill comes at a
            # random instant: the delay is the fault injected, and decides no outcome.
            voters.wait_for(1, RECEIPT_WAIT)
            time.sleep(rng.uniform(0.0, 1.2))
            served.process.send_signal(signal.SIGKILL)
            served.process.wait()
            left = wait_gone(served.gateways, 10)
            assert not left, f"gateway processes {left} outlived the node process"
            voters.stop()
        finally:
            served.close()
        net.receipts.extend(voters.receipts)
        counted += len(voters.receipts)
        image = tmp_path / f"image{run}"
        shutil.copytree(net.ledger_dir, image)
        check(net, image, net.receipts)
        shutil.rmtree(image)
    assert counted >= KILLS, f"only {counted} ballots committed through the gateways"

    # One gateway process killed: the node stops by itself, exit 1, and the ledger holds.
    served = Served(net.material.directory, log)
    try:
        os.kill(served.gateways[0], signal.SIGKILL)
        served.event("stopped")
        assert served.process.wait(30) == 1
        assert not wait_gone(served.gateways, 10)
    finally:
        served.close()
    check(net, net.ledger_dir, net.receipts)
    # And it starts again, followers rolled forward.
    served = Served(net.material.directory, log)
    try:
        served.process.send_signal(signal.SIGTERM)
        served.event("stopped")
        assert served.process.wait(30) == 0
    finally:
        served.close()
    print(f"\n{KILLS} kills of the served node, {counted} receipts through gateway processes")
