"""Secret mode in the contract: the key ceremony's records, trustees' signed postings, and the
decryption of a question's totals. docs/records.md ("Secret mode") shows every record.

The cryptography is in ``crypto/`` (docs/secret-ballots.md); this module only decides what goes
on chain and checks it: the contract (``contract.py``) reads and writes state, and calls these
pure functions before its first write. The verifier's tally recount uses the same functions.

Trustees sign what they post with an Ed25519 key (``signer``) registered when the ceremony is
created; an operator admin submits the posting, so it is endorsed like every other write. The
trustee's group key (``TrusteeKey``, with its Schnorr proof) is what shares are encrypted to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import _ed25519 as ed25519
from . import encoding
from ._crypto import ceremony as cer
from ._crypto import elgamal, group
from ._crypto.ceremony import (
    CeremonyParams,
    Complaint,
    Dealing,
    EncryptedShare,
    PartialDecryption,
    TrusteeKey,
)
from ._crypto.elgamal import Ciphertext
from ._crypto.group import IDENTITY, L, Point
from ._errors import InvalidField, NoQuorum, NotTrustee, WrongChannel
from ._records import (
    CHANNEL,
    IDENTIFIER,
    KEY_HEX,
    MSP_ID,
    SIG_HEX,
    TIME,
    TX_ID,
    Decryption,
    Opaque,
    TrusteePartials,
)
from ._schema import (
    TUPLE,
    Array,
    Codec,
    Const,
    Int,
    Nullable,
    Object,
    OneOf,
    Record,
    declared,
    decode_field,
    decode_fields,
    join_path,
    nested,
    of_record,
    optional,
    record,
    spread,
    tuple_of,
)

DEALING_TYPE = "mvote.ceremony.dealing.v1"
CHECK_TYPE = "mvote.ceremony.check.v1"
DECRYPTION_TYPE = "mvote.decryption.v1"

MAX_TRUSTEES = cer.MAX_TRUSTEES

CeremonyState = Literal["DEALING", "COMPLETE", "FAILED"]


@record("stamp")
@dataclass(frozen=True)
class Stamp(Record):
    """The transaction that made a change, and its time."""

    tx: str = declared(TX_ID)
    at: int = declared(TIME)


STAMP_SHAPE = Stamp.SHAPE

#: What an operator admin submits to CreateCeremony.
CEREMONY_SPEC_SHAPE = Object(
    {
        "cid": IDENTIFIER,
        "n": Int(1, MAX_TRUSTEES),
        "k": Int(1, MAX_TRUSTEES),
        # Trustee i+1's {"index", "key", "proof"} (TrusteeKey JSON) plus its Ed25519 "signer".
        "trustees": Array(Opaque(), min_len=1, max_len=MAX_TRUSTEES),
    }
)

_TRUSTEE_NUMBER = Int(0, 1 << 20)  # any number: outside 1..n is NOT_TRUSTEE, not a shape error

DEALING_BODY_SHAPE = Object(
    {
        "type": Const(DEALING_TYPE),
        "channel": CHANNEL,
        "ceremony": IDENTIFIER,
        "trustee": _TRUSTEE_NUMBER,
        "dealing": Opaque(),
        "shares": Array(Opaque(), min_len=0, max_len=MAX_TRUSTEES - 1),
    }
)
CHECK_BODY_SHAPE = Object(
    {
        "type": Const(CHECK_TYPE),
        "channel": CHANNEL,
        "ceremony": IDENTIFIER,
        "trustee": _TRUSTEE_NUMBER,
        # [] is an acceptance of every share received.
        "complaints": Array(Opaque(), min_len=0, max_len=MAX_TRUSTEES - 1),
    }
)
DECRYPTION_BODY_SHAPE = Object(
    {
        "type": Const(DECRYPTION_TYPE),
        "channel": CHANNEL,
        "ceremony": IDENTIFIER,
        "qid": IDENTIFIER,
        "trustee": _TRUSTEE_NUMBER,
        # Per option: PartialDecryption JSON, or null where the total's alpha is the identity.
        "partials": Array(Opaque(), min_len=2, max_len=1000),
    }
)


@dataclass(frozen=True)
class Trustee:
    key: TrusteeKey
    signer: str  # Ed25519 public key, hex

    @property
    def index(self) -> int:
        return self.key.index

    def to_json(self) -> dict[str, Any]:
        return {**self.key.to_json(), "signer": self.signer}

    @staticmethod
    def from_json(value: Any, path: str, params: CeremonyParams | None = None) -> Trustee:
        """``params``: the trustee is one of the ceremony's (``TrusteeKey.from_json``)."""
        v = group.json_object(value, path, ("index", "key", "proof", "signer"))
        signer = KEY_HEX.check(v["signer"], group.join(path, "signer"))
        key = TrusteeKey.from_json({k: v[k] for k in ("index", "key", "proof")}, path, params)
        return Trustee(key, signer)


def _params_to_json(params: CeremonyParams) -> dict[str, Any]:
    return {"cid": params.ceremony, "channel": params.channel, "n": params.n, "k": params.k}


def _params_from_json(checked: Any, where: str) -> CeremonyParams:
    """The ceremony's parameters (``CeremonyParams`` checks k <= n, naming ``k``)."""
    return CeremonyParams(checked["channel"], checked["cid"], checked["n"], checked["k"])


def _point_from_json(value: Any, path: str) -> Point:
    return group.point_from_hex(value, path)


_POINT = Codec(lambda p: p.hex(), _point_from_json)


def _trustees_to_json(trustees: Sequence[Trustee]) -> list[Any]:
    return [t.to_json() for t in trustees]


def _trustees_from_json(
    values: Sequence[Any], path: str, params: CeremonyParams | None = None
) -> tuple[Trustee, ...]:
    return tuple(Trustee.from_json(t, f"{path}[{i}]", params) for i, t in enumerate(values))


@record(
    "ceremony",
    order=(
        "cid",
        "channel",
        "owner",
        "n",
        "k",
        "trustees",
        "state",
        "election_key",
        "public_shares",
        "faulty",
        "created",
        "closed",
    ),
)
@dataclass(frozen=True)
class Ceremony(Record):
    """ceremony~{cid}: the trustees, the state, and once COMPLETE the election key and every
    trustee's public share (K_l, what its partial decryptions are checked against)."""

    #: Keys ``cid``, ``channel``, ``n`` and ``k``.
    params: CeremonyParams = spread(  # noqa: RUF009
        Object(
            {
                "cid": IDENTIFIER,
                "channel": CHANNEL,
                "n": Int(1, MAX_TRUSTEES),
                "k": Int(1, MAX_TRUSTEES),
            }
        ),
        Codec(_params_to_json, _params_from_json),
    )
    owner: str = declared(MSP_ID)
    #: Each trustee's key is checked against ``params`` (``decode_checked``).
    trustees: tuple[Trustee, ...] = declared(
        Array(Opaque(), min_len=1, max_len=MAX_TRUSTEES),
        nested(_trustees_to_json, _trustees_from_json),
    )
    state: CeremonyState = declared(OneOf(("DEALING", "COMPLETE", "FAILED")))  # noqa: RUF009
    election_key: Point | None = declared(Nullable(KEY_HEX), optional(_POINT))  # noqa: RUF009
    public_shares: tuple[Point, ...] = declared(
        Array(KEY_HEX, min_len=0, max_len=MAX_TRUSTEES), tuple_of(_POINT)
    )
    faulty: tuple[int, ...] = declared(
        Array(Int(1, MAX_TRUSTEES), min_len=0, max_len=MAX_TRUSTEES, ascending=True), TUPLE
    )
    created: Stamp = declared(STAMP_SHAPE, of_record(Stamp))  # noqa: RUF009
    closed: Stamp | None = declared(Nullable(STAMP_SHAPE), optional(of_record(Stamp)))  # noqa: RUF009

    @property
    def cid(self) -> str:
        return self.params.ceremony

    def trustee(self, index: int, field: str) -> Trustee:
        """The trustee with this index, else NotTrustee naming ``field``."""
        if not 1 <= index <= self.params.n:
            raise NotTrustee(
                f"{field}: trustee {index} is not part of ceremony {self.cid!r} "
                f"(trustees 1..{self.params.n})",
                field=field,
            )
        return self.trustees[index - 1]

    @classmethod
    def decode_checked(cls, checked: Mapping[str, Any], where: str) -> Ceremony:
        """After the shape: the parameters, then the trustees against them, then the rest."""
        params = decode_field(cls, "params", checked, where)
        trustees = _trustees_from_json(checked["trustees"], join_path(where, "trustees"), params)
        rest = decode_fields(cls, checked, where, but=frozenset({"params", "trustees"}))
        return cls(params=params, trustees=trustees, **rest)


CEREMONY_SHAPE = Ceremony.SHAPE


def new_ceremony(spec_value: Any, *, channel: str, owner: str, tx: str, at: int) -> Ceremony:
    """Check a CreateCeremony spec: n, k, and n trustees in index order, each with a valid
    Schnorr proof of its group key and a valid, distinct Ed25519 signer key."""
    spec = CEREMONY_SPEC_SHAPE.check(spec_value, "$")
    n, k = spec["n"], spec["k"]
    if k > n:
        raise InvalidField(f"k: expected at most n ({n}), got {k}", field="k")
    params = CeremonyParams(channel, spec["cid"], n, k)
    if len(spec["trustees"]) != n:
        raise InvalidField(
            f"trustees: expected n = {n} trustees, got {len(spec['trustees'])}", field="trustees"
        )
    trustees = []
    signers: set[str] = set()
    keys_seen: set[Point] = set()
    for i, value in enumerate(spec["trustees"]):
        path = f"trustees[{i}]"
        trustee = Trustee.from_json(value, path, params)
        if trustee.index != i + 1:
            raise InvalidField(
                f"{path}.index: expected {i + 1} (trustees in index order), got {trustee.index}",
                field=f"{path}.index",
            )
        ed25519.checked_public_key(bytes.fromhex(trustee.signer), f"{path}.signer")
        if trustee.signer in signers:
            raise InvalidField(f"{path}.signer: used by another trustee", field=f"{path}.signer")
        if trustee.key.key in keys_seen:
            raise InvalidField(f"{path}.key: used by another trustee", field=f"{path}.key")
        cer.verify_trustee_key(params, trustee.key, path)
        signers.add(trustee.signer)
        keys_seen.add(trustee.key.key)
        trustees.append(trustee)
    return Ceremony(params, owner, tuple(trustees), "DEALING", None, (), (), Stamp(tx, at), None)


# --- postings -----------------------------------------------------------------------------------


@record("$")
@dataclass(frozen=True)
class Posting(Record):
    """A trustee's signed posting: ``sig`` is Ed25519 over the canonical bytes of ``body``."""

    body: dict[str, Any] = declared(Opaque())  # noqa: RUF009 (a field)
    sig: str = declared(SIG_HEX)

    def stored(self, tx: str, at: int) -> StoredPosting:
        return StoredPosting(self.body, self.sig, tx, at)


@record("posting")
@dataclass(frozen=True)
class StoredPosting(Posting):
    """A stored posting: the signed posting plus the transaction that wrote it."""

    tx: str = declared(TX_ID)
    at: int = declared(TIME)


POSTING_SHAPE = Posting.SHAPE
STORED_POSTING_SHAPE = StoredPosting.SHAPE


def parse_posting(value: Any, body_shape: Object) -> Posting:
    posting = Posting.from_json(value)
    return Posting(body_shape.check(posting.body, "body"), posting.sig)


def authenticate(posting: Posting, ceremony: Ceremony, channel: str) -> Trustee:
    """The posting's trustee, after checking the channel, that the trustee belongs to the
    ceremony (NotTrustee) and that the trustee's registered key signed the body (BadSignature
    naming ``sig``)."""
    body = posting.body
    if body["channel"] != channel:
        raise WrongChannel(
            f"body.channel: expected {channel!r}, got {body['channel']!r}", field="body.channel"
        )
    trustee = ceremony.trustee(body["trustee"], "body.trustee")
    ed25519.verify(
        bytes.fromhex(trustee.signer),
        encoding.encode(body),
        bytes.fromhex(posting.sig),
        "sig",
    )
    return trustee


def check_dealing(ceremony: Ceremony, body: Mapping[str, Any]) -> Dealing:
    """A dealing posting's commitments (every Schnorr proof verified) and its n-1 encrypted
    shares, one per other trustee in index order, all from this dealer."""
    params = ceremony.params
    dealer = body["trustee"]
    dealing = Dealing.from_json(body["dealing"], "body.dealing", params)
    if dealing.dealer != dealer:
        raise InvalidField(
            f"body.dealing.dealer: expected the posting's trustee {dealer}, got {dealing.dealer}",
            field="body.dealing.dealer",
        )
    cer.verify_dealing(params, dealing, "body.dealing")
    recipients = [i for i in range(1, params.n + 1) if i != dealer]
    shares = body["shares"]
    if len(shares) != len(recipients):
        raise InvalidField(
            f"body.shares: expected {len(recipients)} shares (one per other trustee), got "
            f"{len(shares)}",
            field="body.shares",
        )
    for i, (value, recipient) in enumerate(zip(shares, recipients, strict=True)):
        path = f"body.shares[{i}]"
        share = EncryptedShare.from_json(value, path, params)
        if (share.dealer, share.recipient) != (dealer, recipient):
            raise InvalidField(
                f"{path}: expected dealer {dealer} to recipient {recipient}, got dealer "
                f"{share.dealer} to recipient {share.recipient}",
                field=path,
            )
    return dealing


def stored_dealing(ceremony: Ceremony, value: Any) -> tuple[Dealing, dict[int, Any]]:
    """A stored dealing posting: the dealing and the share JSON per recipient."""
    body = StoredPosting.from_json(value, "dealing").body
    dealing = Dealing.from_json(body["dealing"], "dealing.body.dealing", ceremony.params)
    recipients = [i for i in range(1, ceremony.params.n + 1) if i != dealing.dealer]
    return dealing, dict(zip(recipients, body["shares"], strict=True))


def judge_complaints(
    ceremony: Ceremony,
    trustee: Trustee,
    complaints: Sequence[Any],
    dealings: Mapping[int, tuple[Dealing, dict[int, Any]]],
) -> list[int]:
    """The dealers found at fault by the trustee's complaints (each judged in public with
    ``judge_complaint``). A complaint with a bad proof is BadProof; an unfounded one (the share
    opens and matches) is refused, naming it: the trustee should post an acceptance."""
    params = ceremony.params
    faulty: list[int] = []
    for i, value in enumerate(complaints):
        path = f"body.complaints[{i}]"
        complaint = Complaint.from_json(value, path, params)
        if complaint.recipient != trustee.index:
            raise InvalidField(
                f"{path}.recipient: expected the posting's trustee {trustee.index}, got "
                f"{complaint.recipient}",
                field=f"{path}.recipient",
            )
        if complaint.dealer == trustee.index or (faulty and complaint.dealer <= faulty[-1]):
            raise InvalidField(
                f"{path}.dealer: expected another trustee, dealers in ascending order, got "
                f"{complaint.dealer}",
                field=f"{path}.dealer",
            )
        dealing, shares = dealings[complaint.dealer]
        enc = EncryptedShare.from_json(
            shares[trustee.index], f"dealing[{complaint.dealer}].shares", params
        )
        if not cer.judge_complaint(params, complaint, enc, trustee.key, dealing, path):
            raise InvalidField(
                f"{path}: unfounded: the share from dealer {complaint.dealer} opens and matches "
                "its commitments; post an acceptance instead",
                field=path,
            )
        faulty.append(complaint.dealer)
    return faulty


def _commitment_at(points: Sequence[Point], x: int) -> Point:
    value = IDENTITY
    for c in reversed(points):
        value = group.mul(x % L, value) + c
    return value


def complete(ceremony: Ceremony, dealings: Sequence[Dealing]) -> tuple[Point, tuple[Point, ...]]:
    """The election key and every trustee's public share, from the n dealings (in order)."""
    params = ceremony.params
    key = cer.election_key(params, dealings)
    columns = [group.sum_points(d.commitments[j] for d in dealings) for j in range(params.k)]
    shares = tuple(_commitment_at(columns, x) for x in range(1, params.n + 1))
    return key, shares


# --- decryption of a question's totals ---------------------------------------------------------


def label(qid: str, option: int) -> str:
    """What a partial decryption of option ``option``'s total is bound to."""
    return f"{qid}/{option}"


def check_partials(
    ceremony: Ceremony,
    qid: str,
    totals: Sequence[Ciphertext],
    trustee: int,
    partials: Sequence[Any],
    path: str,
) -> list[PartialDecryption | None]:
    """Decode and verify a trustee's partial decryption of every option's total: one per
    option, null exactly where the total's alpha is the identity (nothing to decrypt there),
    made by ``trustee``, each Chaum-Pedersen proof verified against its public share (BadProof
    naming ``{path}[i].proof``)."""
    params = ceremony.params
    if len(partials) != len(totals):
        raise InvalidField(
            f"{path}: expected {len(totals)} partial decryptions (one per option), got "
            f"{len(partials)}",
            field=path,
        )
    public = ceremony.public_shares[trustee - 1]
    out: list[PartialDecryption | None] = []
    for i, (value, total) in enumerate(zip(partials, totals, strict=True)):
        where = f"{path}[{i}]"
        if total.alpha.is_identity:
            if value is not None:
                raise InvalidField(
                    f"{where}: expected null (the total's alpha is the identity)", field=where
                )
            out.append(None)
            continue
        if value is None:
            raise InvalidField(f"{where}: expected a partial decryption, got null", field=where)
        partial = PartialDecryption.from_json(value, where, params)
        if partial.trustee != trustee:
            raise InvalidField(
                f"{where}.trustee: expected {trustee}, got {partial.trustee}",
                field=f"{where}.trustee",
            )
        cer.verify_partial(params, public, total, partial, label(qid, i), where)
        out.append(partial)
    return out


def combine_totals(
    ceremony: Ceremony,
    totals: Sequence[Ciphertext],
    postings: Mapping[int, Sequence[PartialDecryption | None]],
    bound: int,
) -> tuple[list[int], dict[int, int]]:
    """The counts (each in 0..bound) and the Lagrange coefficients of the present trustees.
    Precondition: every partial was verified (``check_partials``)."""
    present = sorted(postings)
    needed = any(not t.alpha.is_identity for t in totals)
    if needed and len(present) < ceremony.params.k:
        raise NoQuorum(
            f"decryption: expected partial decryptions from at least k = {ceremony.params.k} "
            f"trustees, got {len(present)} ({present})",
            field="decryption",
        )
    lambdas = cer.lagrange_coefficients(present) if needed else {}
    counts = []
    for i, total in enumerate(totals):
        point = total.beta
        if not total.alpha.is_identity:
            shares = []
            for trustee in present:
                shares.append(group.mul(lambdas[trustee], _posted(postings, trustee, i).share))
            point = total.beta - group.sum_points(shares)
        counts.append(elgamal.discrete_log(point, bound, field=f"decryption.counts[{i}]"))
    return counts, lambdas


def decryption_record(
    ceremony: Ceremony,
    totals: Sequence[Ciphertext],
    postings: Mapping[int, Sequence[PartialDecryption | None]],
    lambdas: Mapping[int, int],
) -> Decryption:
    """What a secret tally records of its decryption: the present trustees (none when nothing
    needed decrypting), their Lagrange coefficients, the totals and every partial."""
    present = sorted(postings) if lambdas else []
    return Decryption(
        ceremony=ceremony.cid,
        trustees=tuple(present),
        lagrange=tuple(group.scalar_hex(lambdas[t]) for t in present),
        totals=tuple(totals),
        partials=tuple(TrusteePartials(t, tuple(postings[t])) for t in present),
    )


def _stored_point(value: Any, field: str) -> Point:
    if not isinstance(value, str) or len(value) != 64:
        raise InvalidField(f"{field}: expected 64 hex digits", field=field)
    return Point(bytes.fromhex(value))


def stored_ciphertexts(record: Any, options: int) -> tuple[str, list[Ciphertext]]:
    """The voter and the per-option ciphertexts of a secret ballot record read back from state.

    Only the contract writes ballot records, and only after ``Cast`` decoded every point with
    the subgroup check and verified every proof; so aggregation reads the ciphertexts back
    without checking the points again (the checks are most of the cost of decoding, about 3 ms
    of a 3-of-30 ballot). The auditor's recount decodes them fully (``BallotRecord.from_json``).
    """
    ballot = record["ballot"]
    selections = ballot["encrypted"]["selections"]
    if len(selections) != options:
        raise InvalidField(
            f"ballot.encrypted.selections: expected {options} options", field="ballot"
        )
    return ballot["voter"], [
        Ciphertext(
            _stored_point(s["ciphertext"]["alpha"], "alpha"),
            _stored_point(s["ciphertext"]["beta"], "beta"),
        )
        for s in selections
    ]


def _posted(
    postings: Mapping[int, Sequence[PartialDecryption | None]], trustee: int, i: int
) -> PartialDecryption:
    """Trustee's partial for total ``i``. Precondition (``check_partials``): a partial is null
    only where the total's alpha is the identity; a null here is refused naming it."""
    partial = postings[trustee][i]
    if partial is None:
        where = f"decryption.partials[{i}]"
        raise InvalidField(f"{where}: expected a partial decryption, got null", field=where)
    return partial
