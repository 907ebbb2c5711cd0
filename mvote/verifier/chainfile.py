"""Chain files: how blocks travel to an auditor.

A chain file is Fabric's own block file format (a peer's ``blockfile_NNNNNN``): each block is a
protobuf varint of its length followed by the serialized ``common.Block``. So an auditor can read
a real Fabric peer's block file as well as an ``mvote export``. A directory of ``*.block`` files
(one raw block each, in name order, like shared/fabric-golden) is read too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from mvote.verifier.errors import MalformedProto

MAX_BLOCK_BYTES = 1 << 30


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_chain(blocks: Iterable[bytes]) -> Iterator[bytes]:
    for raw in blocks:
        yield _varint(len(raw)) + raw


def write_chain(path: Path, blocks: Iterable[bytes]) -> int:
    """Write ``blocks`` as a chain file; return how many were written."""
    count = 0
    with path.open("wb") as out:
        for record in encode_chain(blocks):
            out.write(record)
            count += 1
    return count


def decode_chain(data: bytes, source: str = "chain") -> list[bytes]:
    """The blocks of a chain file. Raises MalformedProto naming the offset of a bad record."""
    blocks: list[bytes] = []
    offset = 0
    while offset < len(data):
        start, length, shift = offset, 0, 0
        while True:
            if offset >= len(data) or shift > 63:
                raise MalformedProto(
                    f"{source}: truncated length at byte {start} (block {len(blocks)})",
                    field=source,
                )
            byte = data[offset]
            offset += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if length > MAX_BLOCK_BYTES or offset + length > len(data):
            raise MalformedProto(
                f"{source}: block {len(blocks)} at byte {start} claims {length} bytes, "
                f"{len(data) - offset} remain",
                field=source,
            )
        blocks.append(data[offset : offset + length])
        offset += length
    return blocks


def read_chain(path: Path) -> list[bytes]:
    """Blocks from a chain file, or from a directory of ``*.block`` files."""
    if path.is_dir():
        files = sorted(path.glob("*.block"))
        if not files:
            raise MalformedProto(f"{path}: no *.block files", field=str(path))
        return [f.read_bytes() for f in files]
    return decode_chain(path.read_bytes(), str(path))
