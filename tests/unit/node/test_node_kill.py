"""Issue 4: SIGKILL the embedded node at random instants while ballots are being committed.

A child process (node_kill_child.py) opens and starts the node on a prepared network directory
and casts ballots from several threads, printing a receipt (tx id, block, code) after each
commit. The parent kills it at a random instant, then checks the ledger the next child will
reopen: no committed block lost (the chain checked last time is still its prefix, byte for
byte), no partial block (the block file holds exactly the indexed blocks, every block parses),
the chain verifies from the genesis hash alone, every receipt printed before any kill is in the
ledger at its block with its code (and a VALID ballot's record carries its tracker), and the
state equals a serial replay of the chain's valid transactions.

A fresh network is prepared every SEGMENT kills so that the full-chain checks stay cheap.
"""

from __future__ import annotations

import json
import random
import select
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import plyvel
from fabric_protos.common import common_pb2
from node_support import (
    MVCC_READ_CONFLICT,
    ORGS,
    VALID,
    Client,
    ballot_record,
    chain_of,
    check_chain,
    check_state_is_replay,
)

from mvote.node.config import BatchSettings
from mvote.node.ledger import Ledger
from mvote.node.ledger import schema as ledger_schema
from mvote.node.ledger.blockfile import scan_bytes
from mvote.node.ledger.store import BLOCK_FILE, INDEX_DIR
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.verifier.block import block_header_hash

HERE = Path(__file__).resolve().parent
CHILD = HERE / "node_kill_child.py"
SEED = 20260524
KILLS = 50
#: Kills per network before a fresh one: the per-kill checks walk the whole chain.
SEGMENT = 5
THREADS = 3
#: Small, quick batches: many blocks, so that kills often land inside a commit.
BATCH = BatchSettings(
    max_message_count=4, preferred_max_bytes=1 << 20, absolute_max_bytes=2 << 20, timeout_ms=30
)
QID = "q-kill"
#: How long a child may take to open and start the node before the test gives up on it.
START_WAIT = 30


@dataclass(frozen=True)
class Receipt:
    tx_id: str
    block: int
    tx: int
    code: int
    voter: str
    tracker: str


@dataclass
class Network:
    material: NetworkMaterial
    spec_path: Path
    spec: dict[str, object]
    receipts: list[Receipt] = field(default_factory=list)
    #: Header hashes of the chain as last checked.
    chain: list[bytes] = field(default_factory=list)

    @property
    def ledger_dir(self) -> Path:
        return self.material.directory / self.material.config.ledger_dir


def prepare(directory: Path) -> Network:
    """A network whose node has committed genesis, the definition and an open question."""
    material = init_network(directory, ORGS, batch=BATCH)
    with Node.open(material.directory) as node:
        node.start()
        spec = Client(node, material).open_question(QID)
    spec_path = directory / "question.json"
    spec_path.write_text(json.dumps(spec))
    return Network(material, spec_path, spec)


def spawn() -> subprocess.Popen[bytes]:
    """A child that imports everything, then waits for its orders on stdin."""
    return subprocess.Popen(
        [sys.executable, str(CHILD)],
        cwd=HERE,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def go(child: subprocess.Popen[bytes], net: Network, first_voter: int) -> None:
    assert child.stdin is not None
    order = f"{net.material.directory} {net.spec_path} {first_voter} {THREADS}\n"
    child.stdin.write(order.encode())
    child.stdin.flush()


def kill_at_random(child: subprocess.Popen[bytes], rng: random.Random) -> tuple[bool, bytes]:
    """SIGKILL the child at a random instant; (killed after it started, its stdout)."""
    assert child.stdout is not None
    started = False
    if rng.random() < 0.1:
        # Now and then during start-up: in Node.open (recovery) or start().
        time.sleep(rng.uniform(0.0, 0.1))
    else:
        ready, _, _ = select.select([child.stdout], [], [], START_WAIT)
        first = child.stdout.readline() if ready else b"(nothing within %d s)" % START_WAIT
        if not first.startswith(b"started "):
            child.kill()
            _, err = child.communicate()
            raise AssertionError(f"child did not start: {first!r}\n{err.decode()}")
        started = True
        time.sleep(rng.uniform(0.05, 0.6))
    child.kill()
    out, err = child.communicate()
    assert child.returncode == -9, (
        f"child exited with {child.returncode}:\n{out.decode()}\n{err.decode()}"
    )
    return started, out


def parse_receipts(out: bytes) -> list[Receipt]:
    receipts = []
    for line in out.decode().splitlines():
        assert not line.startswith("error"), line
        parts = line.split()
        # The last line may be cut by the kill; a receipt line is whole only with its newline,
        # and splitlines() keeps a cut last line, so require every field.
        if parts and parts[0] == "receipt" and len(parts) == 7 and len(parts[6]) == 64:
            tx_id, block, tx, code, voter, tracker = parts[1:]
            receipts.append(Receipt(tx_id, int(block), int(tx), int(code), voter, tracker))
    return receipts


def crash_state(ledger_dir: Path) -> str:
    """What the kill left, read before recovery: "torn" (a partial record at the block file's
    end), "ahead" (whole blocks past the index's marker) or "clean"."""
    data = (ledger_dir / BLOCK_FILE).read_bytes()
    records = scan_bytes(data)
    if (records[-1][0].end if records else 0) < len(data):
        return "torn"
    db = plyvel.DB(str(ledger_dir / INDEX_DIR))
    try:
        marker = ledger_schema.decode_marker(db.get(ledger_schema.MARKER))
    finally:
        db.close()
    return "ahead" if len(records) > marker.height else "clean"


def check(net: Network, ledger_dir: Path, receipts: list[Receipt]) -> tuple[int, int]:
    """Reopen (recover) a copy of the killed node's ledger and check everything against the
    chain checked last time and every receipt printed so far; (height, txs replayed)."""
    with Ledger.open(ledger_dir) as ledger:
        height = ledger.height
        # No partial block: the block file holds exactly the indexed blocks, nothing after.
        data = (ledger_dir / BLOCK_FILE).read_bytes()
        records = scan_bytes(data)
        assert len(records) == height, f"{len(records)} blocks in the file, height {height}"
        assert records[-1][0].end == len(data), "bytes after the last block survived recovery"
        chain = chain_of(ledger)
        hashes = []
        for number, raw in enumerate(chain):
            assert raw == records[number][1], f"block {number}: index and file disagree"
            block = common_pb2.Block.FromString(raw)
            assert block.header.number == number
            h = block.header
            hashes.append(block_header_hash(h.number, h.previous_hash, h.data_hash))
        assert hashes[-1] == ledger.last_hash
        # No committed block lost: what was checked before is still there, unchanged.
        assert hashes[: len(net.chain)] == net.chain, "a block checked earlier changed or vanished"
        net.chain = hashes
        check_chain(chain, net.material.genesis_hash)
        # Every receipt printed before a kill still holds.
        for r in receipts:
            assert ledger.tx_location(r.tx_id) == (r.block, r.tx, r.code), r
            block = common_pb2.Block.FromString(chain[r.block])
            assert block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER][r.tx] == r.code
            payload = common_pb2.Payload.FromString(
                common_pb2.Envelope.FromString(block.data.data[r.tx]).payload
            )
            assert common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id == (
                r.tx_id
            )
            assert r.code in (VALID, MVCC_READ_CONFLICT), r
            record = ballot_record(ledger, "mvote", net.spec, r.voter)
            assert record is not None, f"no ballot of {r.voter}"
            if r.code == VALID:
                assert (record["tx"], record["tracker"]) == (r.tx_id, r.tracker), r
            else:
                assert record["tx"] != r.tx_id, r
        replayed = check_state_is_replay(ledger, "mvote")
    return height, replayed


class Checker:
    """Checks the crash images one after the other in a thread, while the next child runs."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.heights: dict[int, int] = {}
        self.replayed: dict[int, int] = {}

    def submit(self, segment: int, net: Network, image: Path) -> None:
        self.join()
        receipts = list(net.receipts)

        def run() -> None:
            try:
                height, replayed = check(net, image, receipts)
                self.heights[segment], self.replayed[segment] = height, replayed
                shutil.rmtree(image)
            except BaseException as exc:
                self._error = exc

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def wait(self) -> None:
        """Wait for the check under way, if any, without raising its error."""
        if self._thread is not None:
            self._thread.join()

    def join(self) -> None:
        """Wait for the check under way and raise its error."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error


def test_sigkill_the_node_while_it_commits_ballots(tmp_path: Path) -> None:
    """Each run: a child (started during the previous run) recovers the ledger the last kill left (Node.open -> Ledger.open) and
    commits until killed; the crash image is copied at once and checked (recovered by the same
    Ledger.open) while the next child runs on the original."""
    rng = random.Random(SEED)
    started_at = time.monotonic()
    networks = [prepare(tmp_path / "net0")]
    checker = Checker()
    kills = startup_kills = runs = 0
    codes: Counter[int] = Counter()
    states: Counter[str] = Counter()
    waiting = spawn()
    try:
        while kills < KILLS:
            runs += 1
            assert runs <= 2 * KILLS, f"only {kills} kills while committing in {runs} runs"
            net = networks[-1]
            child, waiting = waiting, None
            go(child, net, first_voter=runs * 1_000_000)
            waiting = spawn()
            started, out = kill_at_random(child, rng)
            kills += started
            startup_kills += not started
            receipts = parse_receipts(out)
            codes.update(r.code for r in receipts)
            net.receipts.extend(receipts)
            image = tmp_path / f"image{runs}"
            shutil.copytree(net.ledger_dir, image)
            states[crash_state(image)] += 1
            checker.submit(len(networks) - 1, net, image)
            if started and kills % SEGMENT == 0 and kills < KILLS:
                networks.append(prepare(tmp_path / f"net{len(networks)}"))
        checker.join()
    finally:
        if waiting is not None:
            waiting.kill()
            waiting.communicate()
        checker.wait()
    receipts_total = sum(len(n.receipts) for n in networks)
    elapsed = time.monotonic() - started_at
    print(
        f"\n{kills} kills while committing (+{startup_kills} during start-up) in {runs} runs, "
        f"{len(networks)} networks, {sum(checker.heights.values())} blocks, "
        f"{receipts_total} receipts (codes {dict(codes)}), "
        f"{sum(checker.replayed.values())} txs replayed, crash states {dict(states)}, "
        f"{elapsed:.1f} s"
    )
    assert len(checker.heights) == len(networks)
    assert receipts_total >= KILLS, "the children committed too little to test anything"
    assert codes[MVCC_READ_CONFLICT] > 0, "no double vote committed: the MVCC path went untested"
