"""The peer's commit hash (block metadata slot COMMIT_HASH), as Fabric's kvledger computes it.

``commit_hash = SHA-256(varint(len(filter)) || filter || update_batch_bytes || previous)`` where
``update_batch_bytes`` is the deterministic serialization of the block's public and hashed writes
(Fabric's txmgr ``deterministicBytesForPubAndHashUpdates``: a ``txmgr.Updates`` message of
``KVWrite``s, namespaces in order, public writes before collections, keys in order, the namespace
and collection named only on the first entry of their run). The hash chains every block's
validation codes and state changes, so two peers (or a peer and an auditor) that agree on it
agree on the whole state history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from mvote.verifier._mvcc import BlockUpdates


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire_type: int, body: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + body


def _bytes_field(number: int, value: bytes) -> bytes:
    # proto3 omits empty fields.
    return _field(number, 2, _varint(len(value)) + value) if value else b""


def order_preserving_uint64(number: int) -> bytes:
    """Fabric's EncodeOrderPreservingVarUint64: a size byte, then the big-endian bytes."""
    body = number.to_bytes(8, "big").lstrip(b"\x00")
    return bytes([len(body)]) + body


def version_bytes(version: tuple[int, int]) -> bytes:
    """Fabric's Height.ToBytes of (block number, tx number)."""
    return order_preserving_uint64(version[0]) + order_preserving_uint64(version[1])


def _kv_write(
    namespace: str, collection: str, key: bytes, value: bytes | None, version: tuple[int, int]
) -> bytes:
    body = (
        _bytes_field(1, namespace.encode())
        + _bytes_field(2, collection.encode())
        + _bytes_field(3, key)
        + (_field(4, 0, b"\x01") if value is None else b"")
        + _bytes_field(5, value or b"")
        + _bytes_field(6, version_bytes(version))
    )
    return _bytes_field(1, body) if body else _field(1, 2, b"\x00")


def _run(
    namespace: str,
    collection: str,
    items: Iterable[tuple[bytes, tuple[bytes | None, tuple[int, int]]]],
) -> bytes:
    out = bytearray()
    first = True
    for key, (value, version) in sorted(items):
        out += _kv_write(
            namespace if first else "", collection if first else "", key, value, version
        )
        first, namespace, collection = False, "", ""
    return bytes(out)


def update_batch_bytes(updates: BlockUpdates) -> bytes:
    """The deterministic bytes of a block's update batch (see the module docstring)."""
    namespaces = sorted({ns for ns, _ in updates.public} | {ns for ns, _, _ in updates.hashed})
    # The channel config's namespace ("") is left out of the hash, as in Fabric.
    return b"".join(_namespace_bytes(updates, ns) for ns in namespaces if ns != "")


def _namespace_bytes(updates: BlockUpdates, ns: str) -> bytes:
    """Namespace ``ns``'s public writes, then each collection's hashed writes, in order."""
    public = [(k.encode(), v) for (n, k), v in updates.public.items() if n == ns]
    run = _run(ns, "", public)
    collections = sorted({c for n, c, _ in updates.hashed if n == ns})
    for i, coll in enumerate(collections):
        items = [(kh, v) for (n, c, kh), v in updates.hashed.items() if n == ns and c == coll]
        # The namespace is named on the namespace's first entry, public or not.
        run += _run(ns if not run and i == 0 else "", coll, items)
    return bytes(run)


def commit_hash(transactions_filter: bytes, updates: BlockUpdates, previous: bytes) -> bytes:
    """The block's commit hash; ``previous`` is the last block's (empty before the first)."""
    value = (
        _varint(len(transactions_filter))
        + transactions_filter
        + update_batch_bytes(updates)
        + previous
    )
    return hashlib.sha256(value).digest()
