"""A real node whose ledger index lost ``CURRENT`` (LevelDB's pointer to its manifest) starts
again serving every block and the same state: the index is rebuilt from the block file, not
created anew from LevelDB's last log (which once dropped every older block)."""

from __future__ import annotations

from pathlib import Path

import plyvel
from node_support import ORGS, Client

from mvote.node.ledger.store import INDEX_DIR
from mvote.node.material import init_network
from mvote.node.runtime import Node


def test_a_node_whose_index_lost_current_serves_every_block_and_the_same_state(
    tmp_path: Path,
) -> None:
    # A real node's ledger: genesis, the chaincode definition, a question, compacted into tables.
    material = init_network(tmp_path / "net", ORGS)
    with Node.open(material.directory) as node:
        node.start()
        Client(node, material).open_question("q-index")
    ledger_dir = material.directory / material.config.ledger_dir
    plyvel_compact(ledger_dir / INDEX_DIR)
    with Node.open(material.directory) as node:
        node.start()
        Client(node, material).open_question("q-index-2")  # these only in LevelDB's log
        chain = [node.ledger.block(n) for n in range(node.ledger.height)]
        with node.ledger.snapshot() as world:
            state = list(world.items())
    (ledger_dir / INDEX_DIR / "CURRENT").unlink()
    with Node.open(material.directory) as node:
        node.start()
        assert [node.ledger.block(n) for n in range(len(chain))] == chain
        with node.ledger.snapshot() as world:
            assert list(world.items()) == state


def plyvel_compact(index: Path) -> None:
    db = plyvel.DB(str(index))
    try:
        db.compact_range()
    finally:
        db.close()
