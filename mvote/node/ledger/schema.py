"""The LevelDB key layout. Every integer is big-endian so that byte order is numeric order.

==========  ==================================================  ==================================
prefix      key                                                  value
==========  ==================================================  ==================================
``m``       (marker)                                             u64 height, u64 block-file end,
                                                                 last header hash
``s``       u16 len, namespace, key (UTF-8)                      u64 block, u64 tx, value
``p``       u16 len, namespace, u16 len, collection, key hash    u64 block, u64 tx, value hash
``n``       u64 block number                                     u64 record offset, u64 length
``b``       block header hash                                    u64 block number
``t``       tx id (UTF-8)                                        u64 block, u64 tx, u8 code
``h``       u16 len, namespace, u32 len, key, u64 block, u64 tx  u8 kind (0 delete, 1 value),
                                                                 u16 len, tx id, value
==========  ==================================================  ==================================

State keys within a namespace follow the namespace prefix verbatim, so LevelDB's byte order is
the byte order of the UTF-8 keys (which is code point order: composite keys, starting with
``\\x00``, sort first). Length prefixes keep one namespace's (or key's) entries from running into
another's whose name merely starts the same.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from mvote.chaincode._simulation import Version
from mvote.node.ledger.blockfile import Location

MARKER = b"m"
STATE = b"s"
HASHED = b"p"
BLOCK_NUMBER = b"n"
BLOCK_HASH = b"b"
TX_ID = b"t"
HISTORY = b"h"

_U64 = struct.Struct(">Q")
_PAIR = struct.Struct(">QQ")
_TX = struct.Struct(">QQB")


class Marker(NamedTuple):
    """The last committed block: how many blocks, where the block file's committed part ends."""

    height: int
    end: int
    last_hash: bytes


EMPTY = Marker(0, 0, b"")


def _name(text: str, width: int) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    return len(raw).to_bytes(width, "big") + raw


def split_name(raw: bytes, width: int) -> tuple[str, bytes]:
    """(the length-prefixed name at the start of ``raw``, the bytes after it)."""
    length = int.from_bytes(raw[:width], "big")
    return raw[width : width + length].decode("utf-8"), raw[width + length :]


def key_bytes(key: str) -> bytes:
    # surrogatepass: a lookup with a key no block can hold finds nothing instead of raising.
    return key.encode("utf-8", "surrogatepass")


def encode_marker(marker: Marker) -> bytes:
    return _PAIR.pack(marker.height, marker.end) + marker.last_hash


def decode_marker(raw: bytes | None) -> Marker:
    if raw is None:
        return EMPTY
    height, end = _PAIR.unpack_from(raw)
    return Marker(height, end, raw[_PAIR.size :])


def state_prefix(namespace: str) -> bytes:
    return STATE + _name(namespace, 2)


def hashed_key(namespace: str, collection: str, key_hash: bytes) -> bytes:
    return HASHED + _name(namespace, 2) + _name(collection, 2) + key_hash


def encode_versioned(value: bytes, version: Version) -> bytes:
    return _PAIR.pack(version.block, version.tx) + value


def decode_versioned(raw: bytes) -> tuple[bytes, Version]:
    block, tx = _PAIR.unpack_from(raw)
    return raw[_PAIR.size :], Version(block, tx)


def block_number_key(number: int) -> bytes:
    return BLOCK_NUMBER + _U64.pack(number)


def encode_location(location: Location) -> bytes:
    return _PAIR.pack(location.offset, location.length)


def decode_location(raw: bytes) -> Location:
    offset, length = _PAIR.unpack(raw)
    return Location(offset, length)


def block_hash_key(header_hash: bytes) -> bytes:
    return BLOCK_HASH + header_hash


def encode_number(number: int) -> bytes:
    return _U64.pack(number)


def decode_number(raw: bytes) -> int:
    value: int = _U64.unpack(raw)[0]
    return value


def tx_id_key(tx_id: str) -> bytes:
    return TX_ID + key_bytes(tx_id)


def encode_tx(block: int, tx: int, code: int) -> bytes:
    return _TX.pack(block, tx, code)


def decode_tx(raw: bytes) -> tuple[int, int, int]:
    block, tx, code = _TX.unpack(raw)
    return block, tx, code


def history_prefix(namespace: str, key: str) -> bytes:
    return HISTORY + _name(namespace, 2) + _name(key, 4)


def history_key(namespace: str, key: str, version: Version) -> bytes:
    return history_prefix(namespace, key) + _PAIR.pack(version.block, version.tx)


def encode_history(tx_id: str, value: bytes | None) -> bytes:
    kind = b"\x00" if value is None else b"\x01"
    return kind + _name(tx_id, 2) + (value or b"")


def decode_history(key: bytes, raw: bytes) -> tuple[Version, str, bytes | None]:
    """(version, tx id, value or None for a delete) of one history entry."""
    block, tx = _PAIR.unpack_from(key, len(key) - _PAIR.size)
    id_len = int.from_bytes(raw[1:3], "big")
    tx_id = raw[3 : 3 + id_len].decode("utf-8")
    value = None if raw[:1] == b"\x00" else raw[3 + id_len :]
    return Version(block, tx), tx_id, value


def prefix_end(prefix: bytes) -> bytes | None:
    """The least key above every key starting with ``prefix``; None: no bound exists."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])
