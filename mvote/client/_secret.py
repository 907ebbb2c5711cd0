"""Secret-ballot preparation on the voter's device: encrypt the choices under the question's
election key, prove them, sign the encrypted ballot; then cast it or audit it.

Cast-or-audit (a Benaloh challenge): the device encrypts first and shows the tracker; only
then does the voter choose to cast the ballot or to audit it, so the device cannot know in
advance which ballots will be checked. An audited ballot is spoiled on the ledger
(``SpoilBallot``) with its opening, the *nonce key* every nonce of the ballot derives from, and
can never be cast; anyone can open it again (``mvote-verify spoiled``).

The randomness is here, on the device: one 32-byte seed from ``os.urandom`` per prepared
ballot. The nonce key is derived from the seed, the ballot header (which binds the question
record's hash) and the choices (``crypto.ballot.nonce_key``), so a reused seed gives unrelated
ballots, and revealing a nonce key reveals nothing of the seed. Never reveal the nonce key of
a ballot that is cast.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.signing

from mvote.chaincode import _rules as rules
from mvote.chaincode._crypto import ballot as crypto_ballot
from mvote.chaincode._crypto.ballot import BallotContext
from mvote.chaincode._crypto.group import Point
from mvote.chaincode._errors import InvalidField
from mvote.chaincode._records import (
    BoundSecretBallot,
    CastRequest,
    QuestionSpec,
    SignedCredential,
    SpoilRequest,
    question_hash,
)


def ballot_context(
    *, election_key: Point, channel: str, question: QuestionSpec, voter: bytes
) -> BallotContext:
    """The statement a voter's encrypted ballot is made for, exactly as the contract builds it
    (contract mvote-2: the question record's hash included)."""
    low, high = rules.selection_bounds(question.rule)
    return BallotContext(
        election_key,
        channel,
        question.qid,
        voter,
        len(question.options),
        low,
        high,
        bytes.fromhex(question_hash(question, election_key)),
    )


@dataclass(frozen=True)
class PreparedSecretBallot:
    """An encrypted, signed ballot not yet cast: show ``tracker`` to the voter, then either cast
    ``request`` or audit it (``spoil_request``); never both."""

    request: CastRequest
    #: Secret: reveal only to audit (spoil) this ballot instead of casting it.
    nonce_key: bytes
    context: BallotContext
    choices: tuple[int, ...]

    @property
    def ballot(self) -> BoundSecretBallot:
        ballot = self.request.ballot
        if not isinstance(ballot, BoundSecretBallot):  # prepare_secret_ballot builds only these
            raise TypeError("a prepared secret ballot holds a BoundSecretBallot")
        return ballot

    @property
    def tracker(self) -> str:
        return self.ballot.tracker()

    def spoil_request(self) -> SpoilRequest:
        """The SpoilBallot argument: this ballot (signed, with its eligibility) and its opening."""
        return SpoilRequest(self.request, self.nonce_key.hex())


def prepare_secret_ballot(
    key: nacl.signing.SigningKey,
    *,
    channel: str,
    question: QuestionSpec,
    election_key: Point,
    choices: Sequence[int],
    credential: SignedCredential | None = None,
    code: str | None = None,
    seed: bytes | None = None,
) -> PreparedSecretBallot:
    """A signed secret cast request for ``choices`` (any order), binding the hash of
    ``question`` and ``election_key`` (the key of the question's completed ceremony, read
    verified). Raises InvalidField for a repeated option, RuleViolation for choices the rule
    refuses. ``seed`` only for reproducible tests (vectors)."""
    ordered = tuple(sorted(set(choices)))
    if len(ordered) != len(choices):
        raise InvalidField(
            f"choices: expected distinct options, got {list(choices)}", field="choices"
        )
    rules.check_choices(question, ordered)
    voter = bytes(key.verify_key)
    ctx = ballot_context(election_key=election_key, channel=channel, question=question, voter=voter)
    seed = os.urandom(crypto_ballot.SEED_SIZE) if seed is None else seed
    encrypted = crypto_ballot.encrypt_ballot(ctx, ordered, seed)
    ballot = BoundSecretBallot(
        channel=channel,
        qid=question.qid,
        encrypted=encrypted,
        voter=voter.hex(),
        question=question_hash(question, election_key),
    )
    signature = key.sign(ballot.canonical_bytes()).signature
    request = CastRequest(ballot=ballot, sig=signature.hex(), credential=credential, code=code)
    return PreparedSecretBallot(request, crypto_ballot.nonce_key(ctx, ordered, seed), ctx, ordered)


def audit_prepared(prepared: PreparedSecretBallot, intended: Sequence[int]) -> None:
    """Cast-or-audit on this device: raise AuditMismatch unless the ballot, opened with its
    nonce key, encrypts exactly ``intended``."""
    crypto_ballot.audit_ballot(
        prepared.context,
        prepared.ballot.encrypted,
        prepared.nonce_key,
        sorted(intended),
        "ballot.encrypted",
    )
