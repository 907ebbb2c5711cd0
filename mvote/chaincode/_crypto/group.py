"""The prime-order subgroup of edwards25519: points, scalars, hashing into both.

Points are immutable ``Point`` objects holding their canonical 32-byte encoding (RFC 8032 §5.1.2:
y little-endian, the sign of x in the top bit). Arithmetic goes through libsodium's
``crypto_core_ed25519_*`` and ``crypto_scalarmult_ed25519_*_noclamp`` bindings, which refuse the
identity element (``0·P`` and ``s·O`` raise there); this module represents the identity
explicitly (``IDENTITY``, encoding ``01 00…00``) and handles it before calling them.

Scalars are Python ints in ``0..L-1``; on the wire a scalar is 32 bytes little-endian (the
libsodium and RFC 8032 convention), as 64 lowercase hex digits.

Every point or scalar that arrives from outside goes through ``decode_point``/``point_from_hex``
or ``decode_scalar``/``scalar_from_hex``: canonical encoding, on the curve, in the prime-order
subgroup, not of small order (so not the identity, unless the caller explicitly admits it), and
scalars below L. Refusals raise ``InvalidPoint``/``InvalidScalar`` naming the field.

Preconditions for the arithmetic below: its ``Point`` arguments came from this module (decoded,
a generator, or the result of arithmetic), and its scalar arguments are ints in ``0..L-1``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

import nacl.bindings as sodium

from .._errors import InvalidField, InvalidPoint, InvalidScalar

#: Order of the prime-order subgroup (and of the base point G).
L: Final = 2**252 + 27742317777372353535851937790883648493

POINT_SIZE: Final = 32
SCALAR_SIZE: Final = 32

_HEX64 = re.compile(r"[0-9a-f]{64}")
#: Domain tags of every hash in this package start with this (docs/secret-ballots.md).
DOMAIN: Final = "mvote/crypto/v1/"


class Point:
    """An element of the prime-order subgroup of edwards25519 (or the identity), immutable.

    Construct one only with ``decode_point``/``point_from_hex`` (from outside), with the
    generators, or by arithmetic: the constructor itself does not check its bytes.
    """

    __slots__ = ("_data",)
    _data: bytes

    def __init__(self, data: bytes) -> None:
        object.__setattr__(self, "_data", bytes(data))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Point is immutable")

    @property
    def encoded(self) -> bytes:
        """The canonical 32-byte encoding."""
        return self._data

    def hex(self) -> str:
        return self._data.hex()

    @property
    def is_identity(self) -> bool:
        return self._data == _IDENTITY_BYTES

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and self._data == other._data

    def __hash__(self) -> int:
        return hash(self._data)

    def __repr__(self) -> str:
        return f"Point({self._data.hex()})"

    def __add__(self, other: Point) -> Point:
        return add(self, other)

    def __sub__(self, other: Point) -> Point:
        return sub(self, other)

    def __neg__(self) -> Point:
        return neg(self)

    def __rmul__(self, scalar: int) -> Point:
        return mul(scalar, self)


_IDENTITY_BYTES: Final = bytes([1]) + bytes(31)
#: The neutral element, (x, y) = (0, 1). Never accepted from outside unless the caller says so.
IDENTITY: Final = Point(_IDENTITY_BYTES)
#: The RFC 8032 base point, generator of the prime-order subgroup.
G: Final = Point(bytes.fromhex("58" + "66" * 31))


# --- scalars ----------------------------------------------------------------------------------


def scalar_bytes(s: int) -> bytes:
    """32-byte little-endian encoding of ``s``. Precondition: ``0 <= s < L``."""
    if not 0 <= s < L:
        raise ValueError("scalar out of range 0..L-1")
    return s.to_bytes(SCALAR_SIZE, "little")


def scalar_hex(s: int) -> str:
    return scalar_bytes(s).hex()


def decode_scalar(data: bytes, field: str, *, nonzero: bool = False) -> int:
    """The scalar encoded by ``data`` (32 bytes little-endian, below L), else InvalidScalar."""
    if len(data) != SCALAR_SIZE:
        raise InvalidScalar(f"{field}: expected {SCALAR_SIZE} bytes, got {len(data)}", field=field)
    value = int.from_bytes(data, "little")
    if value >= L:
        raise InvalidScalar(f"{field}: expected a scalar below the group order L", field=field)
    if nonzero and value == 0:
        raise InvalidScalar(f"{field}: expected a non-zero scalar, got 0", field=field)
    return value


def scalar_from_hex(value: Any, field: str, *, nonzero: bool = False) -> int:
    """The scalar spelled by ``value``: exactly 64 lowercase hex digits, below L."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise InvalidScalar(
            f"{field}: expected 64 lowercase hex digits, got {str(value)[:80]!r}", field=field
        )
    return decode_scalar(bytes.fromhex(value), field, nonzero=nonzero)


def reduce_wide(data: bytes) -> int:
    """An integer of any length (little-endian) reduced mod L: 64 uniform bytes give a uniform
    scalar (bias below 2^-250)."""
    return int.from_bytes(data, "little") % L


def inverse(s: int) -> int:
    """The inverse of ``s`` mod L. Precondition: ``0 < s < L``."""
    if not 0 < s < L:
        raise ValueError("cannot invert zero")
    return pow(s, -1, L)


# --- points -----------------------------------------------------------------------------------


def decode_point(data: bytes, field: str, *, allow_identity: bool = False) -> Point:
    """The point encoded by ``data``, checked: canonical, on the curve, in the prime-order
    subgroup, not of small order. The identity is refused unless ``allow_identity`` (and then
    only in its one canonical encoding). Raises InvalidPoint naming ``field``."""
    if len(data) != POINT_SIZE:
        raise InvalidPoint(f"{field}: expected {POINT_SIZE} bytes, got {len(data)}", field=field)
    if data == _IDENTITY_BYTES:
        if allow_identity:
            return IDENTITY
        raise InvalidPoint(f"{field}: the identity element is not allowed here", field=field)
    if not sodium.crypto_core_ed25519_is_valid_point(data):
        raise InvalidPoint(
            f"{field}: not the canonical encoding of a point of the prime-order subgroup of "
            "edwards25519 (or of small order)",
            field=field,
        )
    return Point(data)


def point_from_hex(value: Any, field: str, *, allow_identity: bool = False) -> Point:
    """The point spelled by ``value``: exactly 64 lowercase hex digits of a checked encoding."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise InvalidPoint(
            f"{field}: expected 64 lowercase hex digits, got {str(value)[:80]!r}", field=field
        )
    return decode_point(bytes.fromhex(value), field, allow_identity=allow_identity)


def add(p: Point, q: Point) -> Point:
    if p.is_identity:
        return q
    if q.is_identity:
        return p
    # libsodium encodes an identity result as 01 00..00, which is IDENTITY's encoding.
    return Point(sodium.crypto_core_ed25519_add(p.encoded, q.encoded))


def neg(p: Point) -> Point:
    """-P: flip the sign bit of x (x is never 0 on a point of the subgroup but the identity)."""
    if p.is_identity:
        return p
    data = bytearray(p.encoded)
    data[31] ^= 0x80
    return Point(bytes(data))


def sub(p: Point, q: Point) -> Point:
    if q.is_identity:
        return p
    if p.is_identity:
        return neg(q)
    return Point(sodium.crypto_core_ed25519_sub(p.encoded, q.encoded))


def mul(s: int, p: Point) -> Point:
    """s·P. Precondition: ``0 <= s < L`` and P in the subgroup; 0·P and s·O give the identity."""
    if not 0 <= s < L:
        raise ValueError("scalar out of range 0..L-1")
    if s == 0 or p.is_identity:
        return IDENTITY
    n = s.to_bytes(SCALAR_SIZE, "little")
    if p == G:
        return Point(sodium.crypto_scalarmult_ed25519_base_noclamp(n))
    # P has prime order L and 0 < s < L, so s·P is never the identity (which libsodium refuses).
    return Point(sodium.crypto_scalarmult_ed25519_noclamp(n, p.encoded))


def base_mul(s: int) -> Point:
    """s·G (libsodium's fixed-base table: about 4 times faster than a variable base)."""
    return mul(s, G)


def small_mul(m: int, p: Point) -> Point:
    """m·P for an integer m of any sign (reduced mod L)."""
    return mul(m % L, p)


def sum_points(points: Any) -> Point:
    total = IDENTITY
    for p in points:
        total = add(total, p)
    return total


# --- hashing ----------------------------------------------------------------------------------


class Transcript:
    """The bytes hashed by Fiat-Shamir and key derivation, with an unambiguous layout.

    ``u16be(len(tag)) ‖ tag`` then the items in the order appended: points and scalars as their
    32 bytes, integers as 4 bytes big-endian, text and byte strings as ``u32be(len) ‖ bytes``.
    The sequence of item kinds is fixed by the tag, so fixed-size items need no length prefix.
    """

    __slots__ = ("_parts",)

    def __init__(self, tag: str) -> None:
        raw = (DOMAIN + tag).encode("ascii")
        self._parts: list[bytes] = [len(raw).to_bytes(2, "big"), raw]

    def point(self, p: Point) -> Transcript:
        self._parts.append(p.encoded)
        return self

    def points(self, ps: Any) -> Transcript:
        for p in ps:
            self.point(p)
        return self

    def scalar(self, s: int) -> Transcript:
        self._parts.append(scalar_bytes(s))
        return self

    def u32(self, n: int) -> Transcript:
        self._parts.append(n.to_bytes(4, "big"))
        return self

    def text(self, s: str) -> Transcript:
        return self.data(s.encode("utf-8"))

    def data(self, b: bytes) -> Transcript:
        self._parts.append(len(b).to_bytes(4, "big"))
        self._parts.append(b)
        return self

    def raw(self) -> bytes:
        return b"".join(self._parts)

    def digest(self) -> bytes:
        """SHA-512 of the transcript (64 bytes)."""
        return hashlib.sha512(self.raw()).digest()

    def scalar_challenge(self) -> int:
        """SHA-512 of the transcript reduced mod L (as RFC 8032 does for its challenges)."""
        return reduce_wide(self.digest())


def hash_to_point(tag: str, data: bytes) -> Point:
    """A point of the prime-order subgroup with no known discrete log: the first 32 bytes of
    SHA-512(transcript(tag, data)) through Elligator 2 and cofactor clearing (libsodium's
    ``crypto_core_ed25519_from_uniform``). Not the RFC 9380 suite: reproduce it from the
    vectors."""
    uniform = Transcript(tag).data(data).digest()[:32]
    encoded = sodium.crypto_core_ed25519_from_uniform(uniform)
    if not sodium.crypto_core_ed25519_is_valid_point(encoded):  # probability ~2^-250
        raise ValueError("hash_to_point hit a small-order point; change the input")
    return Point(encoded)


#: A second generator, independent of G: nobody knows log_G(H). Reserved for Pedersen-style
#: commitments; exponential ElGamal here uses G and the election key only.
H: Final = hash_to_point("generator", b"H")


class Nonces:
    """Deterministic secret nonces from one 32-byte secret seed (drawn by the client with
    ``os.urandom(32)``): ``nonce(labels…) = SHA-512(transcript("nonce", seed, labels…)) mod L``,
    never zero. Callers put the whole public statement (and the witness) in the labels of proof
    nonces, so two different statements never share a nonce even if a seed is reused (as
    RFC 6979 and RFC 8032 do); encryption nonces are labelled by position only, so revealing the
    seed of a spoiled ballot lets anyone re-derive them."""

    __slots__ = ("_seed",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("a nonce seed is 32 bytes")
        self._seed = bytes(seed)

    def scalar(self, *labels: str | int | bytes | Point) -> int:
        t = Transcript("nonce").data(self._seed)
        for label in labels:
            if isinstance(label, Point):
                t.point(label)
            elif isinstance(label, int):
                t.data(label.to_bytes(8, "big", signed=True))
            elif isinstance(label, str):
                t.text(label)
            else:
                t.data(label)
        value = t.scalar_challenge()
        if value == 0:  # probability 2^-252
            raise ValueError("nonce derivation gave 0; use another seed")
        return value


# --- JSON helpers for the decoders of this package ------------------------------------------


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return key if path in ("", "$") else f"{path}.{key}"


def json_object(value: Any, path: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """``value`` if it is a JSON object with exactly ``keys``, else InvalidField."""
    if not isinstance(value, dict):
        raise InvalidField(f"{path}: expected an object, got {type(value).__name__}", field=path)
    for key in value:
        if key not in keys:
            where = join(path, key)
            raise InvalidField(
                f"{where}: unknown field (expected one of {sorted(keys)})", field=where
            )
    for key in keys:
        if key not in value:
            where = join(path, key)
            raise InvalidField(f"{where}: missing field", field=where)
    return value


def json_array(value: Any, path: str, min_len: int, max_len: int) -> list[Any]:
    """``value`` if it is a JSON array of ``min_len..max_len`` items, else InvalidField."""
    if not isinstance(value, list):
        raise InvalidField(f"{path}: expected an array, got {type(value).__name__}", field=path)
    if not min_len <= len(value) <= max_len:
        raise InvalidField(
            f"{path}: expected {min_len}..{max_len} items, got {len(value)}", field=path
        )
    return value
