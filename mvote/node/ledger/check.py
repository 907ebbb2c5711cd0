"""``mvote node check``: the whole block file and index of a ledger checked against each other.

Opening a ledger checks only what recovery needs (docs/ledger.md, "What opening checks"): the
marker's last block. This reads everything, writing no block and no index entry (LevelDB may
rewrite its own log files when it opens the index):

- every record of the block file is whole and intact, and every block parses, derives (data
  hash, validation filter, readable VALID transactions) and chains: block ``n`` has number ``n``
  and the previous block's header hash;
- every block the index's marker counts has an index entry pointing at its offset and length in
  the block file;
- the index holds exactly what committing those blocks writes (the same rule, ``put_block``):
  block and hash indexes, the tx index, the marker (height, end, last header hash) and, with
  ``state``, the world state, private-data hashes and key history replayed from the blocks.

What a crash leaves and the next open repairs (a torn tail past the marker, whole blocks past
it) is reported as a note, not an inconsistency. The first inconsistency found is reported; an
index that LevelDB cannot open is one (opening the ledger rebuilds such an index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvote.node.ledger import schema
from mvote.node.ledger.blockfile import BlockFile, Location
from mvote.node.ledger.errors import BlockRefused, IndexDamaged, LedgerUnavailable
from mvote.node.ledger.store import BLOCK_FILE, INDEX_DIR, open_db, put_block
from mvote.node.ledger.updates import derive_updates, read_block

#: Key prefixes of what the blocks' indexes hold; ``state`` adds the state's.
INDEX_PREFIXES = (schema.MARKER, schema.BLOCK_NUMBER, schema.BLOCK_HASH, schema.TX_ID)
STATE_PREFIXES = (schema.STATE, schema.HASHED, schema.HISTORY)


@dataclass
class CheckReport:
    """What :func:`check_ledger` found; ``inconsistency`` None: the files agree."""

    directory: Path
    #: Whole blocks in the block file, and how many the index's marker counts.
    blocks: int = 0
    height: int = 0
    transactions: int = 0
    state_checked: bool = False
    notes: list[str] = field(default_factory=list)
    inconsistency: str | None = None

    @property
    def ok(self) -> bool:
        return self.inconsistency is None

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "blocks": self.blocks,
            "height": self.height,
            "transactions": self.transactions,
            "state_checked": self.state_checked,
            "notes": self.notes,
            "inconsistency": self.inconsistency,
        }


class _Inconsistent(Exception):
    """The first inconsistency: ends the check."""


class _DictBatch:
    """A write batch into a dict: what ``put_block`` writes, kept to compare with the index."""

    def __init__(self, entries: dict[bytes, bytes]) -> None:
        self.entries = entries

    def put(self, key: bytes, value: bytes) -> None:
        self.entries[key] = value

    def delete(self, key: bytes) -> None:
        self.entries.pop(key, None)


def check_ledger(directory: Path, *, state: bool = False) -> CheckReport:
    """Check the ledger in ``directory`` (see the module docstring); write no entry.

    :class:`LedgerUnavailable` if it cannot be checked: no block file, or its index is held by
    another process (a running node: stop it first)."""
    block_path = directory / BLOCK_FILE
    if not block_path.is_file():
        raise LedgerUnavailable(
            f"ledger {directory}: expected a ledger directory with {BLOCK_FILE}, got none",
            field="directory",
        )
    report = CheckReport(directory, state_checked=state)
    db: Any = None
    try:
        db = open_db(directory / INDEX_DIR, create=False)
    except IndexDamaged as exc:
        report.inconsistency = f"index {directory / INDEX_DIR}: {exc.message}"
    blocks = BlockFile(block_path, writable=False)
    try:
        _check(report, blocks, db)
    except _Inconsistent as exc:
        report.inconsistency = report.inconsistency or str(exc)
    finally:
        blocks.close()
        if db is not None:
            db.close()
    return report


def _check(report: CheckReport, blocks: BlockFile, db: Any) -> None:
    """Precondition: ``db`` is the index, or None if it could not be opened (already reported:
    then only the block file is checked)."""
    marker = schema.decode_marker(db.get(schema.MARKER)) if db is not None else schema.EMPTY
    report.height = marker.height
    expected: dict[bytes, bytes] = {}
    batch = _DictBatch(expected)
    previous = b""
    end = 0
    for number, (location, raw) in enumerate(blocks.records_after(0)):
        where = f"block {number} (block file offset {location.offset})"
        try:
            updates = derive_updates(read_block(raw))
        except BlockRefused as exc:
            raise _Inconsistent(f"{where}: {exc.message}") from exc
        if updates.number != number:
            raise _Inconsistent(f"{where} header.number: expected {number}, got {updates.number}")
        if updates.previous_hash != previous:
            raise _Inconsistent(
                f"{where} header.previous_hash: expected {previous.hex() or '(empty)'} (block "
                f"{number - 1}'s header hash), got {updates.previous_hash.hex() or '(empty)'}"
            )
        previous, end = updates.header_hash, location.end
        report.blocks += 1
        report.transactions += len(updates.txs)
        if db is not None and number < marker.height:
            _check_location(db, number, location)
            put_block(batch, updates, location, expected.get)
    _check_extent(report, blocks, marker, end)
    if db is not None:
        prefixes = INDEX_PREFIXES + (STATE_PREFIXES if report.state_checked else ())
        _compare(db, expected, prefixes)


def _check_location(db: Any, number: int, location: Location) -> None:
    raw = db.get(schema.block_number_key(number))
    found = schema.decode_location(raw) if raw is not None else None
    if found != location:
        raise _Inconsistent(
            f"index block {number}: expected block-file offset {location.offset} length "
            f"{location.length}, got {_location_text(found)}"
        )


def _location_text(location: Location | None) -> str:
    return "none" if location is None else f"offset {location.offset} length {location.length}"


def _check_extent(report: CheckReport, blocks: BlockFile, marker: schema.Marker, end: int) -> None:
    """The whole blocks against the marker: fewer is an inconsistency, more (and a torn tail
    past the marker) is what a crash leaves and the next open repairs."""
    size = blocks.path.stat().st_size
    if report.blocks < marker.height or end < marker.end:
        raise _Inconsistent(
            f"block file: expected the {marker.height} blocks the index counts (ending at offset "
            f"{marker.end}), got {report.blocks} whole blocks ending at offset {end}"
            + (f", then {size - end} bytes that are not a whole block" if size > end else "")
        )
    if report.blocks > marker.height:
        report.notes.append(
            f"{report.blocks - marker.height} whole blocks past the index's marker (a crash "
            "after the block-file write): the next open rolls them forward"
        )
    if size > end:
        report.notes.append(
            f"{size - end} bytes after the last whole block (a torn write): the next open cuts "
            "them off"
        )


def _compare(db: Any, expected: dict[bytes, bytes], prefixes: tuple[bytes, ...]) -> None:
    """The index's entries under ``prefixes`` must be exactly ``expected``'s."""
    for prefix in prefixes:
        want = sorted((k, v) for k, v in expected.items() if k.startswith(prefix))
        have = db.iterator(prefix=prefix)
        for key, value in want:
            got = next(have, None)
            if got is None or got[0] > key:
                raise _Inconsistent(f"{describe(key)}: expected {_value(key, value)}, got none")
            if got[0] < key:
                raise _Inconsistent(f"{describe(got[0])}: expected none, got {_value(*got)}")
            if got[1] != value:
                raise _Inconsistent(
                    f"{describe(key)}: expected {_value(key, value)}, got {_value(key, got[1])}"
                )
        extra = next(have, None)
        if extra is not None:
            raise _Inconsistent(f"{describe(extra[0])}: expected none, got {_value(*extra)}")


def describe(key: bytes) -> str:
    """What an index key is, for a report."""
    kind, rest = key[:1], key[1:]
    if kind == schema.MARKER:
        return "index marker"
    if kind == schema.BLOCK_NUMBER and len(rest) == 8:
        return f"index block {int.from_bytes(rest, 'big')}"
    if kind == schema.BLOCK_HASH:
        return f"index block hash {rest.hex()}"
    if kind == schema.TX_ID:
        return f"tx index {rest.decode('utf-8', 'replace')}"
    names = {schema.STATE: "state", schema.HASHED: "private-data hash", schema.HISTORY: "history"}
    return f"{names.get(kind, 'index')} key {key.hex()[:80]}"


def _value(key: bytes, value: bytes) -> str:
    kind = key[:1]
    if kind == schema.MARKER:
        m = schema.decode_marker(value)
        return f"height {m.height} end {m.end} last hash {m.last_hash.hex() or '(empty)'}"
    if kind == schema.BLOCK_NUMBER and len(value) == 16:
        return _location_text(schema.decode_location(value))
    if kind == schema.TX_ID and len(value) == 17:
        block, tx, code = schema.decode_tx(value)
        return f"block {block} tx {tx} code {code}"
    return f"{len(value)} bytes {value.hex()[:32]}"
