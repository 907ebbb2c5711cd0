"""The embedded node's ledger: an append-only block file plus LevelDB, crash-consistent.

Commit order is the whole of crash consistency:

1. check the block is the next one and take its updates: those validation decided (checked
   against the block's validation filter), or else derived from its own bytes (refusals happen
   here, before anything is written);
2. append the raw block to the block file and ``fdatasync`` it;
3. write ONE LevelDB batch (``sync=True``): state, private-data hashes, history, block and tx
   indexes, and the marker (height, block-file end, last header hash).

A crash before 2 completes leaves at most a torn record past the marker, which ``open`` cuts
off; a crash between 2 and 3 leaves whole blocks past the marker, which ``open`` rolls forward
by deriving their updates from the block bytes (ledger/updates.py: the same rule as step 1's,
so the same changes). Step 3 is atomic, so state never runs ahead of or
behind the marker.

Threads: one committer calls :meth:`Ledger.commit`; any number of threads read. Reads of state
go through LevelDB snapshots (one consistent state per view), block reads through ``pread``.

A *follower* (:meth:`Ledger.open_follower`) is a read replica in another process: its own LevelDB
(state, history, indexes: the same batch per block as the ledger's), reading the ledger's block
file without writing it. :meth:`Ledger.follow` applies the blocks the ledger has committed, up to
a height it is told, through the same derivation; the block file stays the ledger's alone.
Follower batches are not synced: after a crash the follower rolls forward again from its marker,
and one that no longer matches the block file is rebuilt by its owner.

The block file is the truth. LevelDB is never created over an existing ledger (that would replay
its last log into a new database and drop the older tables): an index that is missing, that
LevelDB cannot open (lost or garbled ``CURRENT``, a torn ``MANIFEST``) or that lacks the entries
of blocks its marker counts is set aside as ``index.damaged`` and rebuilt by rolling every block
of the block file forward. A block file that contradicts a readable index is refused
(:class:`LedgerCorrupt`): rebuilding from it could drop committed blocks.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import plyvel

from mvote.chaincode._simulation import Version
from mvote.node.ledger import schema
from mvote.node.ledger.blockfile import BlockFile, Location
from mvote.node.ledger.errors import (
    BlockNotFound,
    BlockOutOfOrder,
    BlockRefused,
    IndexDamaged,
    LedgerCorrupt,
    LedgerUnavailable,
)
from mvote.node.ledger.updates import (
    BlockChanges,
    TxOutcome,
    block_updates,
    check_outcomes,
    derive_updates,
    read_block,
)
from mvote.verifier._block import block_header_hash
from mvote.verifier._envelope import BlockView

log = logging.getLogger("mvote.node.ledger")

BLOCK_FILE = "blocks.bin"
INDEX_DIR = "index"
#: Where an index that could not be used is set aside (the previous one set aside is replaced).
DAMAGED_INDEX_DIR = "index.damaged"


class TxLocation(NamedTuple):
    """Where the first transaction with a tx id sits, and the validation code it got."""

    block: int
    tx: int
    code: int


class AppliedBlock(NamedTuple):
    """What one committed block changed and where it sits in the block file: what a follower
    needs to apply the same block without deriving it again."""

    updates: BlockChanges
    location: Location


class HistoryEntry(NamedTuple):
    """One write of a key by a VALID transaction; ``value`` None is a delete."""

    version: Version
    tx_id: str
    value: bytes | None

    @property
    def is_delete(self) -> bool:
        return self.value is None


class WorldState:
    """Committed world state through one LevelDB reader.

    Over a snapshot it is one consistent state however many commits follow; over the live
    database (:meth:`Ledger.latest`) it is consistent only while no commit runs, which holds for
    the committer between its own commits. Implements ``mvote.verifier._mvcc.WorldStateView``.
    """

    def __init__(self, reader: Any, release: Callable[[], None] | None = None) -> None:
        self._reader = reader
        self._release = release
        marker = schema.decode_marker(reader.get(schema.MARKER))
        self.height = marker.height
        self.last_hash = marker.last_hash

    def get(self, namespace: str, key: str) -> tuple[bytes, Version] | None:
        raw = self._reader.get(schema.state_prefix(namespace) + schema.key_bytes(key))
        return None if raw is None else schema.decode_versioned(raw)

    def version(self, namespace: str, key: str) -> Version | None:
        found = self.get(namespace, key)
        return None if found is None else found[1]

    def value(self, namespace: str, key: str) -> bytes | None:
        found = self.get(namespace, key)
        return None if found is None else found[0]

    def hashed_version(self, namespace: str, collection: str, key_hash: bytes) -> Version | None:
        raw = self._reader.get(schema.hashed_key(namespace, collection, key_hash))
        return None if raw is None else schema.decode_versioned(raw)[1]

    def range(self, namespace: str, start: str, end: str) -> Iterator[tuple[str, Version]]:
        for key, _, version in self.entries(namespace, start, end):
            yield key, version

    def entries(self, namespace: str, start: str, end: str) -> Iterator[tuple[str, bytes, Version]]:
        """(key, value, version) for ``start <= key < end`` in byte order; ``end == ""``: no bound."""
        prefix = schema.state_prefix(namespace)
        stop = prefix + schema.key_bytes(end) if end else schema.prefix_end(prefix)
        iterator = self._reader.iterator(start=prefix + schema.key_bytes(start), stop=stop)
        for db_key, raw in iterator:
            value, version = schema.decode_versioned(raw)
            yield db_key[len(prefix) :].decode("utf-8"), value, version

    def items(self) -> Iterator[tuple[str, str, bytes, Version]]:
        """Every public (namespace, key, value, version), namespaces by length then bytes."""
        for db_key, raw in self._reader.iterator(prefix=schema.STATE):
            namespace, key = schema.split_name(db_key[1:], 2)
            value, version = schema.decode_versioned(raw)
            yield namespace, key.decode("utf-8"), value, version

    def hashed_items(self) -> Iterator[tuple[str, str, bytes, bytes, Version]]:
        """Every private-data hash (namespace, collection, key hash, value hash, version)."""
        for db_key, raw in self._reader.iterator(prefix=schema.HASHED):
            namespace, rest = schema.split_name(db_key[1:], 2)
            collection, key_hash = schema.split_name(rest, 2)
            value_hash, version = schema.decode_versioned(raw)
            yield namespace, collection, key_hash, value_hash, version

    def namespace(self, namespace: str) -> NamespaceState:
        return NamespaceState(self, namespace)

    def close(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None

    def __enter__(self) -> WorldState:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class NamespaceState:
    """One namespace of a :class:`WorldState`: ``mvote.chaincode._simulation.KeySpace``."""

    def __init__(self, world: WorldState, namespace: str) -> None:
        self.world = world
        self.namespace = namespace

    def get(self, key: str) -> tuple[bytes, Version] | None:
        return self.world.get(self.namespace, key)

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes, Version]]:
        return self.world.entries(self.namespace, start, end)

    def close(self) -> None:
        self.world.close()

    def __enter__(self) -> NamespaceState:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Ledger:
    """A channel's blocks, world state, indexes and key history in one directory.

    Layout: ``<directory>/blocks.bin`` (see :mod:`mvote.node.ledger.blockfile`) and
    ``<directory>/index/`` (LevelDB, see :mod:`mvote.node.ledger.schema`). Use :meth:`open`.
    """

    def __init__(self, directory: Path, db: Any, blocks: BlockFile) -> None:
        self.directory = directory
        self._db = db
        self._blocks = blocks
        self.follower = not blocks.writable
        self._tip = schema.decode_marker(db.get(schema.MARKER))
        self._commit_lock = threading.Lock()
        self._closed = False
        #: Why commits stopped: a commit failed after it began writing.
        self._broken: str | None = None

    # -- opening and closing ------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path) -> Ledger:
        """Open (creating if absent) the ledger in ``directory`` and recover it to its last
        whole block: cut a torn block-file tail, roll forward blocks the index lacks."""
        return cls._open(directory, directory / BLOCK_FILE, writable=True, ready=cls._recover)

    @classmethod
    def open_follower(cls, directory: Path, block_file: Path, height: int) -> Ledger:
        """Open (creating if absent) a follower in ``directory`` of the ledger whose block file is
        ``block_file``, and :meth:`follow` it to ``height`` (the ledger's committed height).

        :class:`LedgerCorrupt` if the follower's last block is not the block file's: the owner
        removes ``directory`` and opens it anew."""

        def ready(ledger: Ledger) -> None:
            ledger._check_last_committed(ledger._tip)
            ledger.follow(height)

        return cls._open(directory, block_file, writable=False, ready=ready)

    @classmethod
    def _open(
        cls, directory: Path, block_file: Path, *, writable: bool, ready: Callable[[Ledger], None]
    ) -> Ledger:
        """The ledger over ``directory``'s index and ``block_file``, made ``ready``; an index that
        cannot be used is set aside and rebuilt from the block file (once)."""
        directory.mkdir(parents=True, exist_ok=True)
        try:
            return cls._open_once(directory, block_file, writable=writable, ready=ready)
        except IndexDamaged as exc:
            log.warning(
                "ledger index %s: %s; set aside as %s, rebuilding it from the block file %s",
                directory / INDEX_DIR,
                exc.message,
                DAMAGED_INDEX_DIR,
                block_file,
            )
            _set_aside(directory)
            return cls._open_once(
                directory, block_file, writable=writable, ready=ready, rebuild=True
            )

    @classmethod
    def _open_once(
        cls,
        directory: Path,
        block_file: Path,
        *,
        writable: bool,
        ready: Callable[[Ledger], None],
        rebuild: bool = False,
    ) -> Ledger:
        """One attempt of :meth:`_open` (``rebuild``: create the index, set aside before, anew);
        on any failure both files are closed again."""
        index = directory / INDEX_DIR
        # Precondition of creating an index: no blocks it should already hold (or a rebuild,
        # which rolls them all forward). A follower's index is new when its directory is; the
        # ledger's when its block file is empty.
        holds_blocks = writable and block_file.exists() and block_file.stat().st_size > 0
        db = open_db(index, create=rebuild or (not index.exists() and not holds_blocks))
        blocks: BlockFile | None = None
        try:
            blocks = BlockFile(block_file, writable=writable)
            ledger = cls(directory, db, blocks)
            ready(ledger)
        except BaseException:
            if blocks is not None:
                blocks.close()
            db.close()
            raise
        return ledger

    def follow(self, height: int) -> list[BlockChanges]:
        """Follower only: apply the block file's blocks up to ``height`` (the ledger's committed
        height, so no block past a durable commit is applied); their updates, in order."""
        applied: list[BlockChanges] = []
        with self._commit_lock:
            self._check_usable()
            if self._tip.height >= height:
                return applied
            for location, raw in self._blocks.records_after(self._tip.end):
                updates = self._plan(read_block(raw))
                self._apply(updates, location)
                applied.append(updates)
                if self._tip.height >= height:
                    break
        return applied

    def follow_commit(self, commit: AppliedBlock) -> list[BlockChanges]:
        """Follower only: apply ``commit`` as the ledger derived it, if it is the next block;
        else :meth:`follow` the block file up to it. The updates applied, in order."""
        with self._commit_lock:
            self._check_usable()
            tip = self._tip
            updates = commit.updates
            if updates.number < tip.height:
                return []
            if (
                updates.number == tip.height
                and updates.previous_hash == tip.last_hash
                and commit.location.offset == tip.end
            ):
                self._apply(updates, commit.location)
                return [updates]
        return self.follow(updates.number + 1)

    def close(self) -> None:
        """Close the files. Precondition: no reader still uses this ledger or its views."""
        with self._commit_lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
            self._blocks.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the chain ----------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """The number of committed blocks."""
        return self._tip.height

    @property
    def last_hash(self) -> bytes:
        """The header hash of the last committed block; b"" while the ledger is empty."""
        return self._tip.last_hash

    def commit(self, block: Any, outcomes: Sequence[TxOutcome] | None = None) -> AppliedBlock:
        """Commit the validated ``common_pb2.Block`` ``block`` (TRANSACTIONS_FILTER set); what it
        changed, for followers (:meth:`follow_commit`).

        ``outcomes``: what validation decided of each transaction (tx id, code, rwsets), so the
        ledger commits those instead of parsing every transaction again; None (the genesis
        block, a block read from a file): derive them from the block's bytes, as recovery does.

        Refuses, persisting nothing, a block that is not the next one (:class:`BlockOutOfOrder`)
        or that contradicts itself or ``outcomes`` (:class:`BlockInconsistent`). If writing fails
        half-way the ledger stops taking commits (:class:`LedgerUnavailable`); reopening
        recovers it.
        """
        raw = block.SerializeToString()
        with self._commit_lock:
            self._check_usable()
            if self.follower:
                raise LedgerUnavailable(
                    f"ledger {self.directory}: a follower commits nothing itself", field="ledger"
                )
            if self._broken is not None:
                raise LedgerUnavailable(
                    f"ledger {self.directory}: commits stopped after a failed one ({self._broken});"
                    " reopen it to recover",
                    field="ledger",
                )
            updates = self._plan(read_block(raw), outcomes)
            try:
                location = self._blocks.append(raw)
                self._apply(updates, location)
            except BaseException as exc:
                # What is durable is unknown here; recovery on reopen finds out.
                self._broken = f"{type(exc).__name__}: {exc}"
                raise
        return AppliedBlock(updates, location)

    def _plan(self, block: BlockView, outcomes: Sequence[TxOutcome] | None = None) -> BlockChanges:
        """The changes of ``block``, the next block: from ``outcomes`` if given (checked against
        the block's filter), else derived from its bytes."""
        tip = self._tip
        if block.number != tip.height:
            raise BlockOutOfOrder(
                f"block header.number: expected {tip.height} (the ledger height), "
                f"got {block.number}",
                field="header.number",
            )
        if block.previous_hash != tip.last_hash:
            raise BlockOutOfOrder(
                f"block {block.number} header.previous_hash: expected "
                f"{tip.last_hash.hex() or '(empty)'} (the last block's header hash), "
                f"got {block.previous_hash.hex() or '(empty)'}",
                field="header.previous_hash",
            )
        if outcomes is None:
            return derive_updates(block)
        check_outcomes(block, outcomes)
        return block_updates(block, outcomes)

    def _apply(self, updates: BlockChanges, location: Location) -> None:
        """Write the one LevelDB batch of a block already durable at ``location``."""
        # A follower can roll forward again from the block file: its batches need no sync.
        with self._db.write_batch(transaction=True, sync=not self.follower) as batch:
            marker = put_block(batch, updates, location, self._db.get)
        self._tip = marker

    # -- recovery -----------------------------------------------------------------------------

    def _recover(self) -> None:
        committed = self._tip
        # An empty index over blocks is a rebuild: only a torn last append may be cut.
        beyond = self._blocks.recover(committed.end, cut_only_torn=committed.height == 0)
        self._check_last_committed(committed)
        for location, raw in beyond:
            try:
                updates = self._plan(read_block(raw))
            except BlockRefused as exc:
                raise LedgerCorrupt(
                    f"block file {self._blocks.path} record at offset {location.offset}, past the "
                    f"{self._tip.height} committed blocks, cannot be rolled forward: {exc.message}",
                    field="block_file",
                ) from exc
            self._apply(updates, location)

    def _check_last_committed(self, marker: schema.Marker) -> None:
        """The block the marker names must be in the block file, ending where the marker says;
        the index must hold the first and the last block the marker counts
        (:class:`IndexDamaged` if not: see docs/ledger.md for what is and is not checked)."""
        if marker.height == 0:
            return
        for number in {0, marker.height - 1}:
            if self._db.get(schema.block_number_key(number)) is None:
                raise IndexDamaged(
                    f"index block {number}: expected its block-file location (the marker counts "
                    f"{marker.height} blocks), got none",
                    field="index",
                )
        try:
            view = read_block(self._read_block(marker.height - 1))
        except BlockRefused as exc:
            raise LedgerCorrupt(
                f"block file {self._blocks.path} block {marker.height - 1}: {exc.message}",
                field="block_file",
            ) from exc
        found = block_header_hash(view.number, view.previous_hash, view.data_hash)
        if view.number != marker.height - 1 or found != marker.last_hash:
            raise LedgerCorrupt(
                f"block file {self._blocks.path} block {marker.height - 1}: expected header hash "
                f"{marker.last_hash.hex()} (the index's last block), got block {view.number} "
                f"with {found.hex()}",
                field="block_file",
            )

    # -- reads --------------------------------------------------------------------------------

    def block(self, number: int) -> bytes:
        """The raw serialized block ``number`` (:class:`BlockNotFound` if not committed)."""
        self._check_usable()
        # The index, not the in-memory height: a snapshot reader may already see a block whose
        # commit has not returned yet, and must be able to read it.
        raw = self._db.get(schema.block_number_key(number)) if number >= 0 else None
        if raw is None:
            raise BlockNotFound(
                f"block number: expected 0..{self._tip.height - 1}, got {number}", field="number"
            )
        return self._blocks.read(schema.decode_location(raw))

    def block_by_hash(self, header_hash: bytes) -> bytes:
        """The raw serialized block whose header hash is ``header_hash``."""
        self._check_usable()
        raw = self._db.get(schema.block_hash_key(header_hash))
        if raw is None:
            raise BlockNotFound(
                f"block hash: expected the header hash of a committed block, got "
                f"{header_hash.hex()}",
                field="hash",
            )
        return self._read_block(schema.decode_number(raw))

    def _read_block(self, number: int) -> bytes:
        raw = self._db.get(schema.block_number_key(number))
        if raw is None:
            raise LedgerCorrupt(
                f"index block {number}: expected its block-file location, got none",
                field="index",
            )
        return self._blocks.read(schema.decode_location(raw))

    def tx_location(self, tx_id: str) -> TxLocation | None:
        """Where the first transaction with ``tx_id`` is, with its validation code."""
        self._check_usable()
        raw = self._db.get(schema.tx_id_key(tx_id))
        return None if raw is None else TxLocation(*schema.decode_tx(raw))

    def has_tx(self, tx_id: str) -> bool:
        """Whether a committed block holds ``tx_id`` (validation's DUPLICATE_TXID check)."""
        return self.tx_location(tx_id) is not None

    def history(self, namespace: str, key: str) -> list[HistoryEntry]:
        """Every write of ``key`` in ``namespace`` by a VALID transaction, oldest first."""
        self._check_usable()
        return [
            HistoryEntry(*schema.decode_history(db_key, raw))
            for db_key, raw in self._db.iterator(prefix=schema.history_prefix(namespace, key))
        ]

    def snapshot(self) -> WorldState:
        """The committed state as of now, unchanged by later commits; close it when done."""
        self._check_usable()
        snap = self._db.snapshot()
        return WorldState(snap, snap.close)

    def state(self, namespace: str) -> NamespaceState:
        """One namespace of a fresh :meth:`snapshot`: what an endorsement simulation reads."""
        return self.snapshot().namespace(namespace)

    def latest(self) -> WorldState:
        """The live state, for the committer between its own commits (no snapshot to close)."""
        self._check_usable()
        return WorldState(self._db)

    def _check_usable(self) -> None:
        if self._closed:
            raise LedgerUnavailable(f"ledger {self.directory} is closed", field="ledger")


def put_block(
    batch: Any, updates: BlockChanges, location: Location, stored: Callable[[bytes], bytes | None]
) -> schema.Marker:
    """Put into ``batch`` (``put``/``delete``, applied in order) everything the block at
    ``location`` adds to the index: state, private-data hashes, history, the block and tx
    indexes, and the marker, which it returns. ``stored`` reads the index as it is before the
    block. The one rule of what the index holds, for commits, recovery, followers and
    ``mvote node check`` (ledger/check.py)."""
    _put_state(batch, updates)
    _put_indexes(batch, updates, location, stored)
    marker = schema.Marker(updates.number + 1, location.end, updates.header_hash)
    batch.put(schema.MARKER, schema.encode_marker(marker))
    return marker


def _put_state(batch: Any, updates: BlockChanges) -> None:
    # Batch operations apply in order, so a later write of a key in the block wins.
    for w in updates.writes:
        key = schema.state_prefix(w.namespace) + schema.key_bytes(w.key)
        if w.value is None:
            batch.delete(key)
        else:
            batch.put(key, schema.encode_versioned(w.value, w.version))
        batch.put(
            schema.history_key(w.namespace, w.key, w.version),
            schema.encode_history(w.tx_id, w.value),
        )
    for h in updates.hashed_writes:
        key = schema.hashed_key(h.namespace, h.collection, h.key_hash)
        if h.value_hash is None:
            batch.delete(key)
        else:
            batch.put(key, schema.encode_versioned(h.value_hash, h.version))


def _put_indexes(
    batch: Any, updates: BlockChanges, location: Location, stored: Callable[[bytes], bytes | None]
) -> None:
    batch.put(schema.block_number_key(updates.number), schema.encode_location(location))
    batch.put(schema.block_hash_key(updates.header_hash), schema.encode_number(updates.number))
    seen: set[str] = set()
    for tx in updates.txs:
        # The first occurrence of a tx id wins, as in Fabric (later ones are DUPLICATE_TXID).
        if not tx.tx_id or tx.tx_id in seen:
            continue
        seen.add(tx.tx_id)
        key = schema.tx_id_key(tx.tx_id)
        if stored(key) is None:
            batch.put(key, schema.encode_tx(updates.number, tx.index, tx.code))


#: The options every LevelDB of the ledger (the node's and each gateway process's follower)
#: opens with, chosen by the A/B in bench/leveldb_bench.py (docs/PERFORMANCE.md, "LevelDB
#: options"): no block compression (snappy cost CPU on every write and read and saved little on
#: ballot records, which are mostly hex), a 10-bit bloom filter per table (the double-vote rule
#: reads a key that is absent: the filter answers most misses without reading a block), and a
#: 64 MB block cache. Options of the files, not of the data: a LevelDB written with other
#: options opens and reads the same.
LEVELDB_OPTIONS: dict[str, Any] = {
    "compression": None,
    "bloom_filter_bits": 10,
    "lru_cache_size": 64 << 20,
}


def open_db(path: Path, *, create: bool) -> Any:
    """LevelDB at ``path``, created only if ``create`` (precondition: no blocks to index yet).

    :class:`LedgerUnavailable` if another process holds it; :class:`IndexDamaged` if it is
    missing or LevelDB cannot open it."""
    try:
        return plyvel.DB(str(path), create_if_missing=create, **LEVELDB_OPTIONS)
    except plyvel.Error as exc:
        reason = _reason(exc)
        if isinstance(exc, plyvel.IOError) and reason.startswith("IO error: lock "):
            raise LedgerUnavailable(
                f"ledger index {path}: expected to open it, got {reason} "
                "(another process may hold it)",
                field="index",
            ) from exc
        raise IndexDamaged(
            f"expected an index LevelDB can open, got {reason}", field="index"
        ) from exc


def _reason(exc: plyvel.Error) -> str:
    """LevelDB's message (plyvel carries it as bytes)."""
    arg = exc.args[0] if exc.args else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _set_aside(directory: Path) -> None:
    """Move ``directory``'s index to :data:`DAMAGED_INDEX_DIR`, for a human to look at."""
    damaged = directory / DAMAGED_INDEX_DIR
    if damaged.exists():
        shutil.rmtree(damaged)
    index = directory / INDEX_DIR
    if index.exists():
        index.rename(damaged)
