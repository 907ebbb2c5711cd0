"""group.py: points, scalars, the explicit identity, checked decoding, hashing."""

from __future__ import annotations

import pytest
from crypto_support import SMALL_ORDER, non_canonical_y, off_curve, off_subgroup, scalar

from mvote.chaincode._crypto import group
from mvote.chaincode._crypto.group import IDENTITY, G, H, L, Point
from mvote.chaincode._errors import InvalidField, InvalidPoint, InvalidScalar


def test_generator_and_identity_encodings() -> None:
    assert G.hex() == "58" + "66" * 31
    assert IDENTITY.hex() == "01" + "00" * 31
    assert IDENTITY.is_identity and not G.is_identity
    assert group.base_mul(1) == G


def test_identity_is_neutral_and_multiplication_by_zero_gives_it() -> None:
    p = group.base_mul(scalar("p"))
    assert p + IDENTITY == p == IDENTITY + p
    assert p - IDENTITY == p
    assert IDENTITY - p == -p
    assert p - p == IDENTITY  # libsodium's encoding of the neutral result is IDENTITY's
    assert p + (-p) == IDENTITY
    assert group.mul(0, p) == IDENTITY
    assert group.mul(0, G) == IDENTITY
    assert group.mul(scalar("s"), IDENTITY) == IDENTITY
    assert -IDENTITY == IDENTITY
    assert group.sum_points([]) == IDENTITY


def test_arithmetic_matches_scalars() -> None:
    a, b = scalar("a"), scalar("b")
    pa, pb = group.base_mul(a), group.base_mul(b)
    assert pa + pb == group.base_mul((a + b) % L)
    assert pa - pb == group.base_mul((a - b) % L)
    assert group.mul(b, pa) == group.base_mul(a * b % L) == b * pa
    assert group.mul(a, H) == group.mul(a, Point(H.encoded))
    assert group.small_mul(-1, pa) == -pa
    assert group.base_mul(L - 1) == -G
    assert group.mul(group.inverse(a), pa) == G


def test_scalar_out_of_range_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        group.mul(L, G)
    with pytest.raises(ValueError):
        group.mul(-1, G)
    with pytest.raises(ValueError):
        group.scalar_bytes(L)
    with pytest.raises(ValueError):
        group.inverse(0)


def test_points_are_immutable_and_hashable() -> None:
    with pytest.raises(AttributeError):
        G._data = b""  # type: ignore[misc]
    assert len({G, Point(G.encoded), H}) == 2
    assert G.encoded != G
    assert repr(G).startswith("Point(5866")


def test_decode_accepts_valid_points() -> None:
    p = group.base_mul(scalar("x"))
    assert group.decode_point(p.encoded, "f") == p
    assert group.point_from_hex(p.hex(), "f") == p
    assert group.decode_point(H.encoded, "f") == H


@pytest.mark.parametrize("index", range(len(SMALL_ORDER)))
def test_decode_refuses_small_order_points(index: int) -> None:
    with pytest.raises(InvalidPoint) as err:
        group.decode_point(SMALL_ORDER[index], "ballot.alpha")
    assert err.value.field == "ballot.alpha"


def test_identity_only_where_admitted_and_only_canonically() -> None:
    with pytest.raises(InvalidPoint, match="identity"):
        group.decode_point(IDENTITY.encoded, "k")
    assert group.decode_point(IDENTITY.encoded, "k", allow_identity=True) == IDENTITY
    # The other small-order points stay refused even when the identity is admitted.
    for data in SMALL_ORDER[1:]:
        with pytest.raises(InvalidPoint):
            group.decode_point(data, "k", allow_identity=True)


@pytest.mark.parametrize(
    "make", [off_subgroup, off_curve, non_canonical_y], ids=["off-subgroup", "off-curve", "y>=p"]
)
def test_decode_refuses_points_outside_the_group(make: object) -> None:
    data = make()  # type: ignore[operator]
    with pytest.raises(InvalidPoint) as err:
        group.decode_point(data, "election_key")
    assert err.value.code == "INVALID_POINT" and err.value.field == "election_key"


def test_sign_bit_flip_of_a_valid_point_is_its_negation_not_a_second_spelling() -> None:
    p = group.base_mul(scalar("p"))
    flipped = bytearray(p.encoded)
    flipped[31] ^= 0x80
    assert group.decode_point(bytes(flipped), "f") == -p != p


@pytest.mark.parametrize(
    "value",
    [
        "58" + "66" * 30,  # short
        "58" + "66" * 32,  # long
        H.hex().upper(),  # uppercase: a second spelling
        " " + "58" + "66" * 30 + "6",
        "zz" + "66" * 31,
        58,
        None,
        ["58"],
    ],
)
def test_point_hex_must_be_64_lowercase_digits(value: object) -> None:
    with pytest.raises(InvalidPoint):
        group.point_from_hex(value, "p")


def test_decode_refuses_wrong_length() -> None:
    with pytest.raises(InvalidPoint, match="expected 32 bytes, got 31"):
        group.decode_point(G.encoded[:31], "p")


def test_scalars_decode_canonically() -> None:
    assert group.scalar_from_hex(group.scalar_hex(L - 1), "s") == L - 1
    assert group.scalar_from_hex("00" * 32, "s") == 0
    assert group.decode_scalar((5).to_bytes(32, "little"), "s") == 5


@pytest.mark.parametrize(
    "value",
    [
        L.to_bytes(32, "little").hex(),  # = L: not reduced
        (L + 1).to_bytes(32, "little").hex(),
        "ff" * 32,
        "00" * 31,
        "00" * 33,
        ("ab" * 32).upper(),
        12,
    ],
)
def test_scalars_refused(value: object) -> None:
    with pytest.raises(InvalidScalar) as err:
        group.scalar_from_hex(value, "proof.c")
    assert err.value.field == "proof.c"


def test_zero_scalar_refused_where_asked() -> None:
    with pytest.raises(InvalidScalar, match="non-zero"):
        group.scalar_from_hex("00" * 32, "s", nonzero=True)
    with pytest.raises(InvalidScalar):
        group.decode_scalar(bytes(31), "s")


def test_reduce_wide_and_transcript_layout() -> None:
    assert group.reduce_wide(L.to_bytes(64, "little")) == 0
    t = group.Transcript("x").point(G).scalar(1).u32(7).text("é").data(b"\x00")
    raw = t.raw()
    tag = b"mvote/crypto/v1/x"
    assert raw == (
        len(tag).to_bytes(2, "big")
        + tag
        + G.encoded
        + (1).to_bytes(32, "little")
        + (7).to_bytes(4, "big")
        + (2).to_bytes(4, "big")
        + "é".encode()
        + (1).to_bytes(4, "big")
        + b"\x00"
    )
    assert 0 <= t.scalar_challenge() < L
    # Length prefixes make the layout injective: moving a byte between items changes the hash.
    assert group.Transcript("x").text("ab").text("c").digest() != (
        group.Transcript("x").text("a").text("bc").digest()
    )


def test_hash_to_point_is_in_the_group_and_domain_separated() -> None:
    p = group.hash_to_point("test", b"a")
    assert group.decode_point(p.encoded, "h") == p
    assert p != group.hash_to_point("test", b"b") != group.hash_to_point("other", b"a")
    assert group.hash_to_point("generator", b"H") == H
    assert H not in (G, IDENTITY)


def test_nonces_are_deterministic_labelled_and_need_a_32_byte_seed() -> None:
    n = group.Nonces(bytes(32))
    assert n.scalar("a", 1) == group.Nonces(bytes(32)).scalar("a", 1)
    assert n.scalar("a", 1) != n.scalar("a", 2) != n.scalar("a", G)
    assert n.scalar("a") != group.Nonces(bytes([1]) + bytes(31)).scalar("a")
    assert n.scalar(b"x") == n.scalar("x")  # text is its UTF-8 bytes, same layout
    with pytest.raises(ValueError):
        group.Nonces(bytes(31))


def test_json_helpers_name_the_field() -> None:
    with pytest.raises(InvalidField, match=r"p\.x: unknown field"):
        group.json_object({"x": 1}, "p", ("a",))
    with pytest.raises(InvalidField, match=r"p\.a: missing field"):
        group.json_object({}, "p", ("a",))
    with pytest.raises(InvalidField, match="expected an object"):
        group.json_object([], "p", ("a",))
    with pytest.raises(InvalidField, match=r"expected 1\.\.2 items, got 3"):
        group.json_array([1, 2, 3], "p", 1, 2)
    with pytest.raises(InvalidField, match="expected an array"):
        group.json_array({}, "p", 1, 2)
    assert group.join("$", "a") == "a" and group.join("p", 3) == "p[3]"
