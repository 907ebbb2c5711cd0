"""``mvote node check``: the whole block file and index checked against each other, the first
inconsistency named, exit 0 (agree), 1 (inconsistent) or 2 (nothing to check)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import plyvel
import pytest
from ledger_support import stream
from typer.testing import CliRunner, Result

from mvote.cli import app
from mvote.node.ledger import Ledger, schema
from mvote.node.ledger.blockfile import encode_record
from mvote.node.ledger.store import BLOCK_FILE, INDEX_DIR
from mvote.node.material import init_network
from mvote.node.runtime import Node

BLOCKS = stream(13)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("good")
    with Ledger.open(directory) as ledger:
        for block in BLOCKS[:12]:
            ledger.commit(block)
    return directory


@pytest.fixture
def ledger(good: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ledger"
    shutil.copytree(good, copy)
    return copy


def check(directory: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["node", "check", str(directory), *args])


def index(directory: Path, change: Callable[[plyvel.DB], None]) -> None:
    db = plyvel.DB(str(directory / INDEX_DIR))
    try:
        change(db)
    finally:
        db.close()


def first_tx_id(directory: Path) -> bytes:
    db = plyvel.DB(str(directory / INDEX_DIR))
    try:
        key: bytes = next(db.iterator(prefix=schema.TX_ID, include_value=False))
        return key
    finally:
        db.close()


def test_a_good_ledger_passes(ledger: Path) -> None:
    result = check(ledger, "--state")
    assert result.exit_code == 0, result.output
    assert "12 blocks in the block file, 12 indexed" in result.output
    assert "ok: block file, index, state and history agree" in result.output
    report = json.loads(check(ledger, "--json").output)
    assert report["ok"] and report["blocks"] == 12 and report["inconsistency"] is None


def test_a_node_ledger_passes_through_its_network_directory(tmp_path: Path) -> None:
    material = init_network(tmp_path / "net", "cityhall,district,education")
    with Node.open(material.directory) as node:
        node.start()
    result = check(material.directory, "--state")
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output


def test_what_a_crash_leaves_is_a_note_not_an_inconsistency(ledger: Path) -> None:
    before = (ledger / BLOCK_FILE).read_bytes()
    record = encode_record(BLOCKS[12].SerializeToString())
    (ledger / BLOCK_FILE).write_bytes(before + record + record[:10])
    result = check(ledger, "--state")
    assert result.exit_code == 0, result.output
    assert "1 whole blocks past the index's marker" in result.output
    assert "10 bytes after the last whole block" in result.output
    assert (ledger / BLOCK_FILE).read_bytes() == before + record + record[:10]  # unchanged


def _truncate(ledger: Path) -> None:
    data = (ledger / BLOCK_FILE).read_bytes()
    (ledger / BLOCK_FILE).write_bytes(data[: len(data) * 2 // 3])


def _garble_block_3(ledger: Path) -> None:
    with Ledger.open(ledger) as opened:
        offset = len(b"".join(encode_record(opened.block(n)) for n in range(3)))
    data = bytearray((ledger / BLOCK_FILE).read_bytes())
    data[offset + 20] ^= 0xFF
    (ledger / BLOCK_FILE).write_bytes(bytes(data))


def _swap_block_5_location(ledger: Path) -> None:
    index(ledger, lambda db: db.put(schema.block_number_key(5), db.get(schema.block_number_key(6))))


def _extra_block_entry(ledger: Path) -> None:
    index(
        ledger, lambda db: db.put(schema.block_number_key(99), db.get(schema.block_number_key(1)))
    )


def _drop_tx_entry(ledger: Path) -> None:
    key = first_tx_id(ledger)
    index(ledger, lambda db: db.delete(key))


def _wrong_marker(ledger: Path) -> None:
    def change(db: plyvel.DB) -> None:
        marker = schema.decode_marker(db.get(schema.MARKER))
        db.put(schema.MARKER, schema.encode_marker(marker._replace(last_hash=bytes(32))))

    index(ledger, change)


def _lost_current(ledger: Path) -> None:
    (ledger / INDEX_DIR / "CURRENT").unlink()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "block file truncated": (_truncate, "block file: expected the 12 blocks the index counts"),
    "block 3 garbled": (_garble_block_3, "got 3 whole blocks"),
    "block 5 indexed at block 6's place": (_swap_block_5_location, "index block 5: expected"),
    "an index entry for a block never committed": (_extra_block_entry, "index block 99"),
    "a tx index entry lost": (_drop_tx_entry, "tx index "),
    "marker's last hash wrong": (_wrong_marker, "index marker: expected height 12"),
    "CURRENT lost": (_lost_current, "expected an index LevelDB can open"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_named_with_exit_1(ledger: Path, damage: str) -> None:
    do, expected = DAMAGE[damage]
    do(ledger)
    result = check(ledger)
    assert result.exit_code == 1, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("inconsistent: ")]
    assert expected in line, line
    report = json.loads(check(ledger, "--json").output)
    assert not report["ok"] and expected in report["inconsistency"]


def test_state_is_checked_only_with_state(ledger: Path) -> None:
    def change(db: plyvel.DB) -> None:
        key, value = next(db.iterator(prefix=schema.STATE))
        db.put(key, value + b"!")

    index(ledger, change)
    assert check(ledger).exit_code == 0
    result = check(ledger, "--state")
    assert result.exit_code == 1, result.output
    assert "inconsistent: state key" in result.output


def test_nothing_to_check_is_exit_2(ledger: Path, tmp_path: Path) -> None:
    assert check(tmp_path / "nowhere").exit_code == 2
    with Ledger.open(ledger):  # a running node holds its index
        result = check(ledger)
    assert result.exit_code == 2
    assert "LEDGER_UNAVAILABLE" in result.output
