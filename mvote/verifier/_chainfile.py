"""Chain files: how blocks travel to an auditor.

A chain file is Fabric's own block file format (a peer's ``blockfile_NNNNNN``): each block is a
protobuf varint of its length followed by the serialized ``common.Block``. So an auditor can read
a real Fabric peer's block file as well as an ``mvote export``. A directory of ``*.block`` files
(one raw block each: shared/fabric-golden's ``000007.block``, ``7.block``, or ``mvote_7.block`` as
``peer channel fetch`` names them) is read too, in the order of the blocks' header numbers, never
of the file names; two files of one number, or a number missing, are refused by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from mvote.verifier._envelope import unpack_block
from mvote.verifier._errors import BlockNumbering, MalformedProto

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
    """Blocks from a chain file, or from a directory of ``*.block`` files (by header number).

    Raises OSError, MalformedProto (a bad record, or a file that is not a block, named) or
    BlockNumbering (a folder whose numbers repeat or leave a gap, named)."""
    if path.is_dir():
        return read_block_folder(path)
    return decode_chain(path.read_bytes(), str(path))


def read_block_folder(path: Path) -> list[bytes]:
    """The ``*.block`` files of a folder, ordered by their header numbers, which must be
    exactly 0..N once each."""
    numbered: dict[int, list[tuple[str, bytes]]] = {}
    for file in sorted(path.glob("*.block")):
        raw = file.read_bytes()
        try:
            number = unpack_block(raw).number
        except MalformedProto as exc:
            raise MalformedProto(f"{file}: {exc.message}", field=str(file)) from exc
        numbered.setdefault(number, []).append((file.name, raw))
    if not numbered:
        raise MalformedProto(f"{path}: no *.block files", field=str(path))
    repeated = [
        f"block {n} in {' and '.join(name for name, _ in files)}"
        for n, files in sorted(numbered.items())
        if len(files) > 1
    ]
    if repeated:
        raise BlockNumbering(
            f"{path}: expected each block number once, got {'; '.join(repeated)}", field=str(path)
        )
    missing = sorted(set(range(max(numbered) + 1)) - set(numbered))
    if missing:
        raise BlockNumbering(
            f"{path}: expected blocks 0..{max(numbered)}, missing {_spans(missing)}",
            field=str(path),
        )
    return [numbered[n][0][1] for n in range(len(numbered))]


def _spans(numbers: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0..2, 5"``. Precondition: ``numbers`` ascending, not empty."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and spans[-1][1] == n - 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in spans)
