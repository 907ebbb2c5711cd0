"""The k-of-n key ceremony and threshold decryption (Pedersen's DKG with Feldman commitments, as
ElectionGuard 2.0 does it, on edwards25519).

Trustees are numbered 1..n. Every trustee i:

1. posts its trustee key ``T_i = t_i·G`` with a Schnorr proof (``TrusteeKey``): shares are
   encrypted to it, and complaints are proven with it;
2. deals: draws a polynomial ``P_i(x) = a_i0 + a_i1·x + … + a_i(k-1)·x^(k-1)`` and posts the
   Feldman commitments ``K_ij = a_ij·G`` with a Schnorr proof of knowledge of every ``a_ij``
   (``Dealing``);
3. sends each other trustee l the share ``P_i(l)``, encrypted to ``T_l`` (``EncryptedShare``:
   ECIES on this group, see ``encrypt_share``);
4. checks each share it receives against the dealer's commitments
   (``P_i(l)·G = Σ_j l^j·K_ij``): ``verify_share`` raises BadShare naming the dealer, and the
   trustee may post a ``Complaint`` that anyone can judge (``judge_complaint``) without learning
   the trustee's key.

The election key is ``K = Σ_i K_i0``. Trustee l's secret share is ``s_l = Σ_i P_i(l)``, and its
public share ``K_l = s_l·G = Σ_i Σ_j l^j·K_ij`` is computable by anyone from the commitments.
To decrypt a ciphertext (alpha, beta), each present trustee l posts ``M_l = s_l·alpha`` with a
Chaum-Pedersen proof that ``log_G K_l = log_alpha M_l``; with any set S of at least k present
trustees, ``s·alpha = Σ_{l∈S} λ_l·M_l`` with the Lagrange coefficients
``λ_l = Π_{j∈S, j≠l} j / (j - l)`` (mod L), which also compensates for the absent ones. The
plaintext is the discrete log of ``beta - s·alpha``.

Every proof's context binds the ceremony (channel, ceremony id, n, k) and the trustee's index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions

from .._errors import BadShare, InvalidField, NoQuorum
from .._schema import Int, Text
from . import elgamal, group, proofs
from .elgamal import Ciphertext
from .group import IDENTITY, G, L, Point
from .proofs import ChaumPedersen, Schnorr

MAX_TRUSTEES = 255
_SHARE_BOX_SIZE = group.SCALAR_SIZE + sodium.crypto_secretbox_MACBYTES
_NAME = Text(1, 249, pattern=r"[a-z0-9][a-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class CeremonyParams:
    """What a ceremony is: its channel, its id, n trustees, threshold k (1 <= k <= n)."""

    channel: str
    ceremony: str
    n: int
    k: int

    def __post_init__(self) -> None:
        _NAME.check(self.channel, "channel")
        _NAME.check(self.ceremony, "ceremony")
        Int(1, MAX_TRUSTEES).check(self.n, "n")
        Int(1, self.n).check(self.k, "k")

    def context(self) -> bytes:
        """SHA-512 of ``transcript("ceremony", channel, ceremony, n, k)``: in every proof."""
        return (
            group.Transcript("ceremony")
            .text(self.channel)
            .text(self.ceremony)
            .u32(self.n)
            .u32(self.k)
            .digest()
        )

    def check_index(self, index: Any, path: str) -> int:
        """``index`` if it names a trustee of this ceremony (1..n), else InvalidField."""
        value: int = Int(1, self.n).check(index, path)
        return value

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "ceremony": self.ceremony, "n": self.n, "k": self.k}


def _trustee_number(value: Any, path: str, params: CeremonyParams | None) -> int:
    """A trustee of ``params`` (1..n), or without params any trustee number (1..MAX_TRUSTEES)."""
    if params is not None:
        return params.check_index(value, path)
    number: int = Int(1, MAX_TRUSTEES).check(value, path)
    return number


def _index_context(params: CeremonyParams, tag: str, *numbers: int) -> bytes:
    t = group.Transcript(tag).data(params.context())
    for number in numbers:
        t.u32(number)
    return t.digest()


# --- trustee keys -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrusteeKey:
    """Trustee ``index``'s public key with a Schnorr proof of possession for this ceremony."""

    index: int
    key: Point
    proof: Schnorr

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "key": self.key.hex(), "proof": self.proof.to_json()}

    @staticmethod
    def from_json(value: Any, path: str, params: CeremonyParams | None = None) -> TrusteeKey:
        """``params``: the index is one of the ceremony's 1..n; without, any 1..MAX_TRUSTEES."""
        v = group.json_object(value, path, ("index", "key", "proof"))
        return TrusteeKey(
            _trustee_number(v["index"], group.join(path, "index"), params),
            group.point_from_hex(v["key"], group.join(path, "key")),
            Schnorr.from_json(v["proof"], group.join(path, "proof")),
        )


def trustee_key(params: CeremonyParams, index: int, secret: int, nonce: int) -> TrusteeKey:
    """Trustee ``index`` publishes ``secret·G``. Secret and nonce: uniform in 1..L-1."""
    params.check_index(index, "index")
    context = _index_context(params, "trustee-key", index)
    return TrusteeKey(index, elgamal.keypair(secret), proofs.schnorr_prove(context, secret, nonce))


def verify_trustee_key(params: CeremonyParams, tk: TrusteeKey, path: str) -> None:
    context = _index_context(params, "trustee-key", tk.index)
    proofs.schnorr_verify(context, tk.key, tk.proof, group.join(path, "proof"))


# --- dealing: polynomial commitments ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dealing:
    """Dealer ``dealer``'s Feldman commitments K_j = a_j·G (j = 0..k-1) and a Schnorr proof of
    knowledge of each a_j."""

    dealer: int
    commitments: tuple[Point, ...]
    proofs: tuple[Schnorr, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "dealer": self.dealer,
            "commitments": [c.hex() for c in self.commitments],
            "proofs": [p.to_json() for p in self.proofs],
        }

    @staticmethod
    def from_json(value: Any, path: str, params: CeremonyParams) -> Dealing:
        v = group.json_object(value, path, ("dealer", "commitments", "proofs"))
        cpath, ppath = group.join(path, "commitments"), group.join(path, "proofs")
        commitments = group.json_array(v["commitments"], cpath, params.k, params.k)
        proof_items = group.json_array(v["proofs"], ppath, params.k, params.k)
        return Dealing(
            params.check_index(v["dealer"], group.join(path, "dealer")),
            tuple(group.point_from_hex(c, group.join(cpath, j)) for j, c in enumerate(commitments)),
            tuple(Schnorr.from_json(p, group.join(ppath, j)) for j, p in enumerate(proof_items)),
        )


def deal(
    params: CeremonyParams, dealer: int, coefficients: Sequence[int], nonces: Sequence[int]
) -> Dealing:
    """Commit to the dealer's polynomial. ``coefficients`` (k of them) and ``nonces`` (k): secret,
    uniform in 1..L-1, drawn by the trustee's client."""
    params.check_index(dealer, "dealer")
    if len(coefficients) != params.k or len(nonces) != params.k:
        raise ValueError(f"a dealing has k = {params.k} coefficients and nonces")
    if not all(0 < a < L for a in coefficients):
        raise ValueError("coefficients must be in 1..L-1")
    return Dealing(
        dealer,
        tuple(group.base_mul(a) for a in coefficients),
        tuple(
            proofs.schnorr_prove(_index_context(params, "coefficient", dealer, j), a, u)
            for j, (a, u) in enumerate(zip(coefficients, nonces, strict=True))
        ),
    )


def verify_dealing(params: CeremonyParams, dealing: Dealing, path: str) -> None:
    """Raise BadProof naming the coefficient unless every proof of knowledge verifies."""
    if len(dealing.commitments) != params.k or len(dealing.proofs) != params.k:
        raise InvalidField(f"{path}: expected k = {params.k} commitments and proofs", field=path)
    for j, (c, p) in enumerate(zip(dealing.commitments, dealing.proofs, strict=True)):
        context = _index_context(params, "coefficient", dealing.dealer, j)
        proofs.schnorr_verify(context, c, p, group.join(group.join(path, "proofs"), j))


def evaluate(coefficients: Sequence[int], x: int) -> int:
    """P(x) mod L (Horner)."""
    value = 0
    for a in reversed(coefficients):
        value = (value * x + a) % L
    return value


def _commitment_at(commitments: Sequence[Point], x: int) -> Point:
    """Σ_j x^j·K_j (Horner on points): P(x)·G for the committed polynomial."""
    value = IDENTITY
    for c in reversed(commitments):
        value = group.mul(x % L, value) + c
    return value


def verify_share(dealing: Dealing, recipient: int, share: int) -> None:
    """Raise BadShare naming the dealer unless ``share``·G = Σ_j recipient^j·K_j."""
    if group.base_mul(share) != _commitment_at(dealing.commitments, recipient):
        field = f"shares.dealer[{dealing.dealer}]"
        raise BadShare(
            f"{field}: the share from dealer {dealing.dealer} to trustee {recipient} does not "
            "match the dealer's commitments",
            field=field,
        )


# --- encrypted shares ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    """``dealer``'s share for ``recipient``: ephemeral E = e·G and a secretbox of the 32-byte
    scalar under a key derived from e·T_recipient."""

    dealer: int
    recipient: int
    ephemeral: Point
    box: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "dealer": self.dealer,
            "recipient": self.recipient,
            "ephemeral": self.ephemeral.hex(),
            "box": self.box.hex(),
        }

    @staticmethod
    def from_json(value: Any, path: str, params: CeremonyParams) -> EncryptedShare:
        v = group.json_object(value, path, ("dealer", "recipient", "ephemeral", "box"))
        box_path = group.join(path, "box")
        box = v["box"]
        if not isinstance(box, str) or len(box) != 2 * _SHARE_BOX_SIZE or box != box.lower():
            raise InvalidField(
                f"{box_path}: expected {2 * _SHARE_BOX_SIZE} lowercase hex digits", field=box_path
            )
        try:
            data = bytes.fromhex(box)
        except ValueError as exc:
            raise InvalidField(f"{box_path}: not hex", field=box_path) from exc
        return EncryptedShare(
            params.check_index(v["dealer"], group.join(path, "dealer")),
            params.check_index(v["recipient"], group.join(path, "recipient")),
            group.point_from_hex(v["ephemeral"], group.join(path, "ephemeral")),
            data,
        )


def _share_key(
    params: CeremonyParams, dealer: int, recipient: int, ephemeral: Point, key: Point, shared: Point
) -> tuple[bytes, bytes]:
    """(secretbox key, nonce) = SHA-512(transcript("share-key", ceremony context, dealer,
    recipient, E, T, Z))[0:32], [32:56]. Each key is used once (fresh E), and the nonce is
    derived too; the context in the hash plays the role of associated data."""
    digest = (
        group.Transcript("share-key")
        .data(params.context())
        .u32(dealer)
        .u32(recipient)
        .point(ephemeral)
        .point(key)
        .point(shared)
        .digest()
    )
    return digest[:32], digest[32:56]


def encrypt_share(
    params: CeremonyParams,
    dealer: int,
    recipient: TrusteeKey,
    share: int,
    ephemeral_secret: int,
) -> EncryptedShare:
    """Encrypt ``share`` to ``recipient``'s trustee key. ``ephemeral_secret``: uniform in 1..L-1,
    fresh for every share. Precondition: the recipient's key was verified."""
    params.check_index(dealer, "dealer")
    ephemeral = group.base_mul(ephemeral_secret)
    shared = group.mul(ephemeral_secret, recipient.key)
    key, nonce = _share_key(params, dealer, recipient.index, ephemeral, recipient.key, shared)
    box = sodium.crypto_secretbox(group.scalar_bytes(share), nonce, key)
    return EncryptedShare(dealer, recipient.index, ephemeral, box)


def _open_share(
    params: CeremonyParams, enc: EncryptedShare, recipient_key: Point, shared: Point
) -> int:
    key, nonce = _share_key(params, enc.dealer, enc.recipient, enc.ephemeral, recipient_key, shared)
    field = f"shares.dealer[{enc.dealer}]"
    try:
        plain = sodium.crypto_secretbox_open(enc.box, nonce, key)
    except nacl.exceptions.CryptoError as exc:
        raise BadShare(
            f"{field}: the share from dealer {enc.dealer} to trustee {enc.recipient} does not "
            "decrypt",
            field=field,
        ) from exc
    if len(plain) != group.SCALAR_SIZE or int.from_bytes(plain, "little") >= L:
        raise BadShare(f"{field}: the share from dealer {enc.dealer} is not a scalar", field=field)
    return int.from_bytes(plain, "little")


def decrypt_share(
    params: CeremonyParams, enc: EncryptedShare, recipient_secret: int, dealing: Dealing
) -> int:
    """The recipient opens its share and checks it against the dealer's commitments; BadShare
    names the dealer if either fails (the recipient then posts a ``complain``)."""
    if dealing.dealer != enc.dealer:
        raise ValueError("the dealing is not the share's dealer's")
    key = group.base_mul(recipient_secret)
    share = _open_share(params, enc, key, group.mul(recipient_secret, enc.ephemeral))
    verify_share(dealing, enc.recipient, share)
    return share


# --- complaints -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Complaint:
    """A trustee's claim that its share from ``dealer`` is bad, with the Diffie-Hellman value
    Z = t·E and a Chaum-Pedersen proof that log_G(T) = log_E(Z): anyone can then open the share
    and judge, without learning the trustee's key."""

    dealer: int
    recipient: int
    shared: Point
    proof: ChaumPedersen

    def to_json(self) -> dict[str, Any]:
        return {
            "dealer": self.dealer,
            "recipient": self.recipient,
            "shared": self.shared.hex(),
            "proof": self.proof.to_json(),
        }

    @staticmethod
    def from_json(value: Any, path: str, params: CeremonyParams) -> Complaint:
        v = group.json_object(value, path, ("dealer", "recipient", "shared", "proof"))
        return Complaint(
            params.check_index(v["dealer"], group.join(path, "dealer")),
            params.check_index(v["recipient"], group.join(path, "recipient")),
            group.point_from_hex(v["shared"], group.join(path, "shared")),
            ChaumPedersen.from_json(v["proof"], group.join(path, "proof")),
        )


def complain(
    params: CeremonyParams, enc: EncryptedShare, recipient_secret: int, nonce: int
) -> Complaint:
    context = _index_context(params, "complaint", enc.dealer, enc.recipient)
    shared = group.mul(recipient_secret, enc.ephemeral)
    proof = proofs.cp_prove(context, G, enc.ephemeral, recipient_secret, nonce)
    return Complaint(enc.dealer, enc.recipient, shared, proof)


def judge_complaint(
    params: CeremonyParams,
    complaint: Complaint,
    enc: EncryptedShare,
    recipient: TrusteeKey,
    dealing: Dealing,
    path: str,
) -> bool:
    """True if the dealer is at fault (the share does not open, or does not match), False if the
    complaint is unfounded. BadProof naming ``path`` if the complaint's proof is bad."""
    if not (
        complaint.dealer == enc.dealer == dealing.dealer
        and complaint.recipient == enc.recipient == recipient.index
    ):
        raise InvalidField(f"{path}: complaint, share and dealing do not match", field=path)
    context = _index_context(params, "complaint", enc.dealer, enc.recipient)
    proofs.cp_verify(
        context,
        G,
        recipient.key,
        enc.ephemeral,
        complaint.shared,
        complaint.proof,
        group.join(path, "proof"),
    )
    try:
        share = _open_share(params, enc, recipient.key, complaint.shared)
        verify_share(dealing, enc.recipient, share)
    except BadShare:
        return True
    return False


# --- the election key and trustees' shares ------------------------------------------------------


def _complete(params: CeremonyParams, dealings: Sequence[Dealing], path: str) -> None:
    dealers = [d.dealer for d in dealings]
    if dealers != list(range(1, params.n + 1)):
        raise InvalidField(
            f"{path}: expected the dealings of trustees 1..{params.n} in order, got dealers "
            f"{dealers}",
            field=path,
        )


def election_key(params: CeremonyParams, dealings: Sequence[Dealing]) -> Point:
    """K = Σ_i K_i0 over the dealings of all n trustees (in order 1..n; verified by the caller)."""
    _complete(params, dealings, "dealings")
    return group.sum_points(d.commitments[0] for d in dealings)


def public_share(params: CeremonyParams, dealings: Sequence[Dealing], trustee: int) -> Point:
    """K_l = s_l·G = Σ_j l^j·(Σ_i K_ij): the key trustee l's partial decryptions are checked
    against. n·k additions and k scalar multiplications."""
    _complete(params, dealings, "dealings")
    params.check_index(trustee, "trustee")
    column_sums = [group.sum_points(d.commitments[j] for d in dealings) for j in range(params.k)]
    return _commitment_at(column_sums, trustee)


def secret_share(shares: Iterable[int]) -> int:
    """s_l = Σ_i P_i(l): trustee l's secret share, from the n shares it received (its own too)."""
    return sum(shares) % L


# --- threshold decryption ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartialDecryption:
    """Trustee ``trustee``'s M = s_l·alpha with a proof that log_G(K_l) = log_alpha(M)."""

    trustee: int
    share: Point
    proof: ChaumPedersen

    def to_json(self) -> dict[str, Any]:
        return {"trustee": self.trustee, "share": self.share.hex(), "proof": self.proof.to_json()}

    @staticmethod
    def from_json(value: Any, path: str, params: CeremonyParams | None = None) -> PartialDecryption:
        """``params``: the trustee is one of the ceremony's 1..n; without (a stored tally read
        on its own), any trustee number 1..MAX_TRUSTEES."""
        v = group.json_object(value, path, ("trustee", "share", "proof"))
        return PartialDecryption(
            _trustee_number(v["trustee"], group.join(path, "trustee"), params),
            group.point_from_hex(v["share"], group.join(path, "share")),
            ChaumPedersen.from_json(v["proof"], group.join(path, "proof")),
        )


def _partial_context(params: CeremonyParams, trustee: int, label: str, ct: Ciphertext) -> bytes:
    """Binds the ceremony, the trustee, the label and the whole ciphertext (beta too, though
    M = s_l·alpha depends on alpha only: a partial decryption is for one ciphertext)."""
    return (
        group.Transcript("partial-decryption")
        .data(params.context())
        .u32(trustee)
        .text(label)
        .point(ct.alpha)
        .point(ct.beta)
        .digest()
    )


def partial_decrypt(
    params: CeremonyParams, trustee: int, share: int, ct: Ciphertext, label: str, nonce: int
) -> PartialDecryption:
    """Trustee ``trustee`` decrypts its part of ``ct``. ``label`` names what is decrypted (e.g.
    ``"<question>/<option>"``) and is bound into the proof. ``nonce``: uniform in 1..L-1."""
    params.check_index(trustee, "trustee")
    if ct.alpha.is_identity:
        raise ValueError("cannot decrypt a ciphertext with alpha = identity (an empty sum)")
    proof = proofs.cp_prove(_partial_context(params, trustee, label, ct), G, ct.alpha, share, nonce)
    return PartialDecryption(trustee, group.mul(share, ct.alpha), proof)


def verify_partial(
    params: CeremonyParams,
    trustee_public_share: Point,
    ct: Ciphertext,
    partial: PartialDecryption,
    label: str,
    path: str,
) -> None:
    """Raise BadProof naming ``path`` unless the partial decryption is proven against the
    trustee's public share (``public_share``) for this ciphertext and label."""
    proofs.cp_verify(
        _partial_context(params, partial.trustee, label, ct),
        G,
        trustee_public_share,
        ct.alpha,
        partial.share,
        partial.proof,
        group.join(path, "proof"),
    )


def lagrange_coefficients(indices: Sequence[int]) -> dict[int, int]:
    """λ_l = Π_{j≠l} j / (j - l) mod L for each l in ``indices`` (distinct, in 1..L-1): the
    weights that interpolate P(0) from P at ``indices``."""
    if len(set(indices)) != len(indices):
        raise ValueError("indices must be distinct")
    out = {}
    for i in indices:
        num, den = 1, 1
        for j in indices:
            if j != i:
                num = num * j % L
                den = den * (j - i) % L
        out[i] = num * group.inverse(den) % L
    return out


def _present(params: CeremonyParams, partials: Sequence[PartialDecryption], path: str) -> list[int]:
    indices = []
    seen: set[int] = set()
    for i, p in enumerate(partials):
        where = group.join(group.join(path, i), "trustee")
        params.check_index(p.trustee, where)
        if p.trustee in seen:
            raise InvalidField(f"{where}: trustee {p.trustee} appears twice", field=where)
        seen.add(p.trustee)
        indices.append(p.trustee)
    if len(indices) < params.k:
        raise NoQuorum(
            f"{path}: expected partial decryptions from at least k = {params.k} trustees, got "
            f"{len(indices)}",
            field=path,
        )
    return indices


def combine(
    params: CeremonyParams, ct: Ciphertext, partials: Sequence[PartialDecryption], path: str
) -> Point:
    """m·G = beta - Σ_l λ_l·M_l over the present trustees (at least k, distinct, of 1..n).
    Precondition: every partial was verified (``verify_partial``)."""
    lambdas = lagrange_coefficients(_present(params, partials, path))
    secret_alpha = group.sum_points(group.mul(lambdas[p.trustee], p.share) for p in partials)
    return ct.beta - secret_alpha


def threshold_decrypt(
    params: CeremonyParams,
    public_shares: Mapping[int, Point],
    ct: Ciphertext,
    partials: Sequence[PartialDecryption],
    label: str,
    bound: int,
    path: str,
) -> int:
    """Verify every partial decryption of ``ct``, combine them and return the plaintext in
    0..bound. ``public_shares`` maps trustee index to ``public_share`` (computed once per
    ceremony). Errors: InvalidField (a trustee outside 1..n, or twice), NoQuorum, BadProof
    naming the partial, PlaintextOutOfRange."""
    _present(params, partials, path)
    for i, partial in enumerate(partials):
        verify_partial(
            params, public_shares[partial.trustee], ct, partial, label, group.join(path, i)
        )
    return elgamal.discrete_log(combine(params, ct, partials, path), bound, field=path)
