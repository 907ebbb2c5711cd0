"""Encrypted ballots for a secret question: encryption, verification, cast-or-audit.

A ballot for a question with n options selects between ``min`` and ``max`` of them (the contract
gets the bounds from ``rules.selection_bounds``). It is encrypted as:

- per option i, ``encrypt(b_i, K, r_i)`` with b_i in {0, 1} and a ``ZeroOne`` proof;
- for the count, a ``RangeProof`` that the sum of the n ciphertexts encrypts a value in
  min..max (for ``single`` and yes/no, min = max = 1: just a Chaum-Pedersen proof).

Strong Fiat-Shamir: every proof's context starts from the *ballot digest*, which hashes the
election key, channel, question id, the voter's Ed25519 key, n, min, max and every ciphertext of
the ballot (``BallotContext.digest``), then the position (option i, or the count). A ballot, or
any proof in it, verifies only for that key, question, voter and those ciphertexts.

All nonces come from one 32-byte *nonce key*, through ``group.Nonces``. For a context without
a question hash (contract ``mvote-1``) the nonce key is the secret seed the client draws
(``os.urandom(32)``). With a question hash (contract ``mvote-2``, ``header`` v2) the nonce key is
derived from the seed, the ballot header and the selection vector (``nonce_key``): a reused seed
gives unrelated nonces for other choices, voters or questions, and revealing a nonce key reveals
nothing about the seed. To audit a prepared ballot instead of casting it (cast-or-audit), the
device reveals the nonce key: ``open_ballot`` re-derives the encryption nonces and reads each
selection, and ``audit_ballot`` compares them with the voter's intended choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import AuditMismatch, InvalidField, PlaintextOutOfRange, RuleViolation
from .._schema import Int, Text
from . import elgamal, group, proofs
from .elgamal import Ciphertext
from .group import Point
from .proofs import RangeProof, ZeroOne

#: As records.MAX_OPTIONS: a question has at most this many options.
MAX_OPTIONS = 1000
SEED_SIZE = 32
_QUESTION = Text(1, 64, pattern=r"[a-z0-9][a-z0-9._-]*")
_CHANNEL = Text(1, 249, pattern=r"[a-z][a-z0-9.-]*")


@dataclass(frozen=True, slots=True)
class BallotContext:
    """The public statement a ballot is made for: election key, channel, question, voter (the
    Ed25519 public key that signs the ballot), number of options and selection bounds."""

    election_key: Point
    channel: str
    question: str
    voter: bytes
    options: int
    min: int
    max: int
    #: SHA-256 of the question binding (``records.question_hash``) the ballot is prepared
    #: against; None for contract ``mvote-1`` ballots, which bind no question record.
    question_hash: bytes | None = None

    def __post_init__(self) -> None:
        _CHANNEL.check(self.channel, "channel")
        _QUESTION.check(self.question, "question")
        if len(self.voter) != 32:
            raise InvalidField(f"voter: expected 32 bytes, got {len(self.voter)}", field="voter")
        Int(1, MAX_OPTIONS).check(self.options, "options")
        Int(0, self.options).check(self.min, "rule.min")
        Int(max(self.min, 1), self.options).check(self.max, "rule.max")
        if self.election_key.is_identity:
            raise ValueError("the election key cannot be the identity")
        if self.question_hash is not None and len(self.question_hash) != 32:
            raise InvalidField(
                f"question: expected a 32-byte hash, got {len(self.question_hash)} bytes",
                field="question",
            )

    def header(self) -> bytes:
        """SHA-512 of transcript("ballot-header", K, channel, question, voter, n, min, max);
        with a question hash, of transcript("ballot-header-v2", …, max, question hash)."""
        tag = "ballot-header" if self.question_hash is None else "ballot-header-v2"
        t = (
            group.Transcript(tag)
            .point(self.election_key)
            .text(self.channel)
            .text(self.question)
            .data(self.voter)
            .u32(self.options)
            .u32(self.min)
            .u32(self.max)
        )
        if self.question_hash is not None:
            t.data(self.question_hash)
        return t.digest()

    def digest(self, ciphertexts: Sequence[Ciphertext]) -> bytes:
        """The ballot digest: SHA-512 of transcript("ballot", header, n, alpha_0, beta_0, …)."""
        t = group.Transcript("ballot").data(self.header()).u32(len(ciphertexts))
        for ct in ciphertexts:
            t.point(ct.alpha).point(ct.beta)
        return t.digest()


def option_context(ballot_digest: bytes, index: int) -> bytes:
    return group.Transcript("ballot-option").data(ballot_digest).u32(index).digest()


def count_context(ballot_digest: bytes) -> bytes:
    return group.Transcript("ballot-count").data(ballot_digest).digest()


@dataclass(frozen=True, slots=True)
class EncryptedSelection:
    ciphertext: Ciphertext
    proof: ZeroOne

    def to_json(self) -> dict[str, Any]:
        return {"ciphertext": self.ciphertext.to_json(), "proof": self.proof.to_json()}

    @staticmethod
    def from_json(value: Any, path: str) -> EncryptedSelection:
        v = group.json_object(value, path, ("ciphertext", "proof"))
        return EncryptedSelection(
            Ciphertext.from_json(v["ciphertext"], group.join(path, "ciphertext")),
            ZeroOne.from_json(v["proof"], group.join(path, "proof")),
        )


@dataclass(frozen=True, slots=True)
class EncryptedBallot:
    """One ciphertext and 0/1 proof per option, and the range proof of the count."""

    selections: tuple[EncryptedSelection, ...]
    count: RangeProof

    def ciphertexts(self) -> list[Ciphertext]:
        return [s.ciphertext for s in self.selections]

    def to_json(self) -> dict[str, Any]:
        return {
            "selections": [s.to_json() for s in self.selections],
            "count": self.count.to_json(),
        }

    @staticmethod
    def from_json(value: Any, path: str = "ballot") -> EncryptedBallot:
        """Decode and check every point and scalar (InvalidPoint/InvalidScalar/InvalidField
        naming the path). Proofs are checked by ``verify_ballot``."""
        v = group.json_object(value, path, ("selections", "count"))
        spath = group.join(path, "selections")
        items = group.json_array(v["selections"], spath, 1, MAX_OPTIONS)
        return EncryptedBallot(
            tuple(
                EncryptedSelection.from_json(s, group.join(spath, i)) for i, s in enumerate(items)
            ),
            RangeProof.from_json(v["count"], group.join(path, "count")),
        )


def selection_vector(ctx: BallotContext, choices: Sequence[int]) -> list[int]:
    """The 0/1 vector of ``choices`` (ascending option indices), checked against the rule:
    RuleViolation naming ``ballot.choices`` otherwise (as rules.check_choices)."""
    vector = [0] * ctx.options
    previous = -1
    for i, choice in enumerate(choices):
        if not previous < choice < ctx.options:
            where = f"ballot.choices[{i}]"
            raise RuleViolation(
                f"{where}: expected an ascending option index below {ctx.options}, got {choice}",
                field=where,
            )
        vector[choice] = 1
        previous = choice
    if not ctx.min <= len(choices) <= ctx.max:
        expected = f"exactly {ctx.min}" if ctx.min == ctx.max else f"{ctx.min} to {ctx.max}"
        raise RuleViolation(
            f"ballot.choices: expected {expected} selections, got {len(choices)}",
            field="ballot.choices",
        )
    return vector


def _encryption_nonce(nonces: group.Nonces, header: bytes, index: int) -> int:
    return nonces.scalar("ballot-option-nonce", header, index)


def nonce_key(ctx: BallotContext, choices: Sequence[int], seed: bytes) -> bytes:
    """The 32-byte key every nonce of the ballot of ``choices`` comes from: the ``seed`` itself
    for a context without a question hash (``mvote-1``), else the first 32 bytes of SHA-512 of
    transcript("ballot-nonce-key", seed, header, n, b_0, …, b_{n-1}) over the selection vector.
    RuleViolation if the choices break the rule; ValueError for a seed of the wrong size."""
    if len(seed) != SEED_SIZE:
        raise ValueError(f"the ballot seed is {SEED_SIZE} bytes")
    vector = selection_vector(ctx, choices)
    if ctx.question_hash is None:
        return bytes(seed)
    t = group.Transcript("ballot-nonce-key").data(seed).data(ctx.header()).u32(len(vector))
    for b in vector:
        t.u32(b)
    return t.digest()[:SEED_SIZE]


def encrypt_ballot(ctx: BallotContext, choices: Sequence[int], seed: bytes) -> EncryptedBallot:
    """Encrypt the selection of ``choices`` (ascending option indices, within min..max) for
    ``ctx``, every nonce derived from ``nonce_key(ctx, choices, seed)``; ``seed``: 32 secret
    bytes from ``os.urandom``, fresh for every prepared ballot. RuleViolation if the choices
    break the rule."""
    vector = selection_vector(ctx, choices)
    nonces = group.Nonces(nonce_key(ctx, choices, seed))
    header = ctx.header()
    key = ctx.election_key
    rs = [_encryption_nonce(nonces, header, i) for i in range(ctx.options)]
    cts = [elgamal.encrypt(b, key, r) for b, r in zip(vector, rs, strict=True)]
    digest = ctx.digest(cts)
    selections = tuple(
        EncryptedSelection(
            ct, proofs.zero_one_prove_with(nonces, option_context(digest, i), key, ct, b, r)
        )
        for i, (ct, b, r) in enumerate(zip(cts, vector, rs, strict=True))
    )
    total = elgamal.sum_ciphertexts(cts)
    count = proofs.range_prove(
        nonces,
        count_context(digest),
        key,
        total,
        sum(vector),
        sum(rs) % group.L,
        ctx.min,
        ctx.max,
    )
    return EncryptedBallot(selections, count)


def verify_ballot(ctx: BallotContext, ballot: EncryptedBallot, path: str = "ballot") -> None:
    """Raise unless ``ballot`` is a valid encrypted ballot for ``ctx``: InvalidField if it has
    the wrong number of options, BadProof naming the first proof that fails
    (``ballot.selections[i].proof``, ``ballot.count.bits[j].proof``, ``ballot.count.proof``).
    Pure and deterministic; about 4 + 4 scalar multiplications per option."""
    spath = group.join(path, "selections")
    if len(ballot.selections) != ctx.options:
        raise InvalidField(
            f"{spath}: expected {ctx.options} encrypted selections, got {len(ballot.selections)}",
            field=spath,
        )
    cts = ballot.ciphertexts()
    digest = ctx.digest(cts)
    key = ctx.election_key
    for i, selection in enumerate(ballot.selections):
        proofs.zero_one_verify(
            option_context(digest, i),
            key,
            selection.ciphertext,
            selection.proof,
            group.join(group.join(spath, i), "proof"),
        )
    proofs.range_verify(
        count_context(digest),
        key,
        elgamal.sum_ciphertexts(cts),
        ctx.min,
        ctx.max,
        ballot.count,
        group.join(path, "count"),
    )


def open_ballot(
    ctx: BallotContext, ballot: EncryptedBallot, seed: bytes, path: str = "ballot"
) -> list[int]:
    """The 0/1 selection vector a spoiled ballot encrypts, read with the nonces derived from its
    revealed nonce key ``seed`` (``nonce_key``: the seed itself for ``mvote-1`` contexts).
    AuditMismatch naming the option if a nonce does not open its ciphertext or the ciphertext
    encrypts neither 0 nor 1."""
    if len(seed) != SEED_SIZE:
        raise InvalidField(f"seed: expected {SEED_SIZE} bytes, got {len(seed)}", field="seed")
    spath = group.join(path, "selections")
    if len(ballot.selections) != ctx.options:
        raise InvalidField(
            f"{spath}: expected {ctx.options} encrypted selections, got {len(ballot.selections)}",
            field=spath,
        )
    nonces = group.Nonces(seed)
    header = ctx.header()
    vector = []
    for i, selection in enumerate(ballot.selections):
        where = group.join(spath, i)
        r = _encryption_nonce(nonces, header, i)
        ct = selection.ciphertext
        if group.base_mul(r) != ct.alpha:
            raise AuditMismatch(
                f"{where}: the revealed seed does not open this ciphertext", field=where
            )
        try:
            vector.append(elgamal.decrypt_with_nonce(ct, ctx.election_key, r, 1))
        except PlaintextOutOfRange as exc:
            raise AuditMismatch(f"{where}: encrypts neither 0 nor 1", field=where) from exc
    return vector


def audit_ballot(
    ctx: BallotContext,
    ballot: EncryptedBallot,
    seed: bytes,
    intended: Sequence[int],
    path: str = "ballot",
) -> None:
    """Cast-or-audit: raise AuditMismatch naming the first option where the spoiled ``ballot``
    (opened with ``seed``) differs from the ``intended`` choices (ascending option indices)."""
    wanted = set(intended)
    for i, b in enumerate(open_ballot(ctx, ballot, seed, path)):
        if b != (1 if i in wanted else 0):
            where = group.join(group.join(path, "selections"), i)
            said = "selected" if i in wanted else "not selected"
            raise AuditMismatch(
                f"{where}: the voter {said} option {i}, the ballot encrypts {b}", field=where
            )
