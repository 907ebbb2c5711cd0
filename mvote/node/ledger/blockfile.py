"""The append-only block file: one framed, checksummed record per committed block.

Record layout (all integers big-endian)::

    u32 payload length | u32 CRC-32 of (the 4 length bytes || payload) | payload

The payload is the raw serialized ``common.Block``. The checksum covers the length too, so a
torn or garbled header is caught as surely as a torn payload. A block is appended with one
``pwrite`` and made durable with ``fdatasync`` before the index learns of it; after a crash only
the last record can be incomplete, and :meth:`BlockFile.recover` cuts it off.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from mvote.node.ledger.errors import LedgerCorrupt, LedgerUnavailable

HEADER = struct.Struct(">II")
#: A length above this is garbage, not a block we wrote (Fabric's AbsoluteMaxBytes is far less).
MAX_PAYLOAD = 1 << 30


class Location(NamedTuple):
    """Where one record sits: the offset of its header and the length of its payload."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + HEADER.size + self.length


def encode_record(payload: bytes) -> bytes:
    """The framed record of ``payload``. Precondition: ``0 < len(payload) <= MAX_PAYLOAD``."""
    if not 0 < len(payload) <= MAX_PAYLOAD:
        raise ValueError(f"payload length: expected 1..{MAX_PAYLOAD}, got {len(payload)}")
    length = len(payload).to_bytes(4, "big")
    return length + zlib.crc32(payload, zlib.crc32(length)).to_bytes(4, "big") + payload


#: Reads up to ``n`` bytes at ``offset`` (fewer at the end of the data).
Reader = Callable[[int, int], bytes]


def scan(read: Reader, start: int) -> Iterator[tuple[Location, bytes]]:
    """Every whole, intact record from ``start`` on, stopping at the first that is not.

    Precondition: ``start`` is the offset of a record boundary. What follows the last yielded
    record (its ``Location.end``, or ``start``) is a torn tail or garbage.
    """
    offset = start
    while True:
        record = _record_at(read, offset)
        if record is None:
            return
        yield record
        offset = record[0].end


def _record_at(read: Reader, offset: int) -> tuple[Location, bytes] | None:
    header = read(offset, HEADER.size)
    if len(header) < HEADER.size:
        return None
    length, crc = HEADER.unpack(header)
    if not 0 < length <= MAX_PAYLOAD:
        return None
    payload = read(offset + HEADER.size, length)
    if len(payload) < length or zlib.crc32(payload, zlib.crc32(header[:4])) != crc:
        return None
    return Location(offset, length), payload


class BlockFile:
    """The block file of one ledger. One writer (the committer); reads from any thread, and
    from other processes that open it ``writable=False`` (the gateway processes' followers).

    Reads and writes use ``pread``/``pwrite`` at explicit offsets, so concurrent readers never
    move a shared file position under the writer.
    """

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        self.path = path
        self.writable = writable
        if writable:
            created = not path.exists()
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if created:
                # The file's directory entry must be durable too, or a crash could lose the file.
                _fsync_directory(path.parent)
        else:
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._end = os.fstat(self._fd).st_size

    @property
    def end(self) -> int:
        """Offset just past the last whole record (after :meth:`recover`)."""
        return self._end

    def recover(
        self, committed_end: int, *, cut_only_torn: bool = False
    ) -> list[tuple[Location, bytes]]:
        """Cut off a torn tail (read-only: leave it) and return the whole records after
        ``committed_end``.

        Precondition: ``committed_end`` is the end of the last block the index holds. A file
        shorter than that lost committed blocks: :class:`LedgerCorrupt`. With ``cut_only_torn``
        (an index being rebuilt: which blocks were committed is unknown) only a torn append is
        cut, one whose record the file ends inside of; other bytes after the last whole record
        (a damaged record, garbage) could be committed blocks: :class:`LedgerCorrupt`.
        """
        size = os.fstat(self._fd).st_size
        if size < committed_end:
            raise LedgerCorrupt(
                f"block file {self.path} size: expected at least {committed_end} bytes "
                f"(the blocks the index holds), got {size}",
                field="block_file",
            )
        records = list(scan(self._pread, committed_end))
        whole_end = records[-1][0].end if records else committed_end
        if whole_end < size and cut_only_torn and not self._torn_at(whole_end, size):
            raise LedgerCorrupt(
                f"block file {self.path} at offset {whole_end}: expected a whole block or a torn "
                f"last write, got a damaged record with {size - whole_end} bytes from there; "
                "the index is being rebuilt, so whether blocks after it were committed is "
                "unknown and nothing is cut (see `mvote node check`)",
                field="block_file",
            )
        if whole_end < size and self.writable:
            os.ftruncate(self._fd, whole_end)
            os.fsync(self._fd)
        self._end = whole_end
        return records

    def _torn_at(self, offset: int, size: int) -> bool:
        """Whether the file ends inside the record that starts at ``offset`` (an append cut
        short), rather than holding a damaged record there."""
        header = self._pread(offset, HEADER.size)
        if len(header) < HEADER.size:
            return True
        length: int = HEADER.unpack(header)[0]
        return 0 < length <= MAX_PAYLOAD and offset + HEADER.size + length > size

    def records_after(self, end: int) -> Iterator[tuple[Location, bytes]]:
        """The whole records from offset ``end`` (a record boundary) on, as they are now."""
        return scan(self._pread, end)

    def append(self, payload: bytes) -> Location:
        """Write ``payload`` as the next record and make it durable."""
        if not self.writable:
            raise LedgerUnavailable(f"block file {self.path}: opened read-only", field="block_file")
        record = encode_record(payload)
        offset = self._end
        written = 0
        while written < len(record):
            written += os.pwrite(self._fd, record[written:], offset + written)
        os.fdatasync(self._fd)
        self._end = offset + len(record)
        return Location(offset, len(payload))

    def read(self, location: Location) -> bytes:
        """The payload at ``location``, checked against its frame and checksum."""
        found = _record_at(self._pread, location.offset)
        if found is None or found[0] != location:
            raise LedgerCorrupt(
                f"block file {self.path} at offset {location.offset}: expected an intact record "
                f"of {location.length} bytes, got a torn, garbled or different one",
                field="block_file",
            )
        return found[1]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _pread(self, offset: int, n: int) -> bytes:
        return os.pread(self._fd, n, offset)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
