"""Fabric block hashing, exactly as Fabric computes it (protoutil.BlockHeaderHash/BlockDataHash).

The node cuts blocks with these functions and the verifier checks them with the same ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def _der_unsigned_integer(value: int) -> bytes:
    # Minimal two's complement: a leading zero byte where the high bit would read as a sign.
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return _der_tlv(0x02, body)


def block_header_bytes(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """ASN.1 DER ``SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }``.

    Precondition: ``0 <= number < 2**64``. This is what a block's hash covers and what an
    orderer signature covers after the signature header.
    """
    if not 0 <= number < 2**64:
        raise ValueError(f"block number must be a uint64, got {number}")
    return _der_tlv(
        0x30,
        _der_unsigned_integer(number) + _der_tlv(0x04, previous_hash) + _der_tlv(0x04, data_hash),
    )


def block_header_hash(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """SHA-256 of :func:`block_header_bytes`: the block's hash, the next block's previous_hash."""
    return hashlib.sha256(block_header_bytes(number, previous_hash, data_hash)).digest()


def block_data_hash(data: Iterable[bytes]) -> bytes:
    """SHA-256 over the concatenation of ``Block.data.data`` (Fabric v2 and later)."""
    h = hashlib.sha256()
    for item in data:
        h.update(item)
    return h.digest()
