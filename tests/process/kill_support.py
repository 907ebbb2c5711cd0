"""What the kill tests share: the network they kill a node on, the receipts its clients were given,
and the checks of a crash image (see test_node_kill.py for what each check means)."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import plyvel
from fabric_protos.common import common_pb2
from ledger_support import scan_bytes
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
from mvote.node.ledger.store import BLOCK_FILE, INDEX_DIR
from mvote.node.material import NetworkMaterial, init_network
from mvote.node.runtime import Node
from mvote.verifier._block import block_header_hash

#: Small, quick batches: many blocks, so that kills often land inside a commit.
BATCH = BatchSettings(
    max_message_count=4, preferred_max_bytes=1 << 20, absolute_max_bytes=2 << 20, timeout_ms=30
)
QID = "q-kill"


@dataclass(frozen=True)
class Receipt:
    tx_id: str
    block: int
    #: The transaction's index in its block; None where the client was not told it (CommitStatus).
    tx: int | None
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
            found = ledger.tx_location(r.tx_id)
            assert found is not None and (found.block, found.code) == (r.block, r.code), r
            assert r.tx in (None, found.tx), r
            block = common_pb2.Block.FromString(chain[r.block])
            assert block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER][found.tx] == r.code
            payload = common_pb2.Payload.FromString(
                common_pb2.Envelope.FromString(block.data.data[found.tx]).payload
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
