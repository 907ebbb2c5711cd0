"""Secret-ballot preparation on the voter's device: encrypt the choices under the question's
election key, prove them, sign the encrypted ballot.

The randomness is here, on the device: one 32-byte seed from ``os.urandom`` per prepared
ballot, from which every nonce of the ballot is derived (docs/secret-ballots.md, "Nonces, and
cast-or-audit"). Keep the seed to audit a spoiled ballot (``audit_prepared``); never reveal the
seed of a ballot that is cast.
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
from mvote.chaincode._records import CastRequest, QuestionSpec, SecretBallot, SignedCredential


def ballot_context(
    *, election_key: Point, channel: str, question: QuestionSpec, voter: bytes
) -> BallotContext:
    """The statement a voter's encrypted ballot is made for, exactly as the contract builds it."""
    low, high = rules.selection_bounds(question.rule)
    return BallotContext(
        election_key, channel, question.qid, voter, len(question.options), low, high
    )


@dataclass(frozen=True)
class PreparedSecretBallot:
    request: CastRequest
    #: Secret: reveal only to audit (spoil) this ballot instead of casting it.
    seed: bytes
    context: BallotContext


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
    """A signed secret cast request for ``choices`` (any order). ``election_key``: the
    ``election_key`` of the question's completed ceremony (``GetCeremony``). Raises
    RuleViolation for choices the rule refuses. ``seed`` only for reproducible tests."""
    ordered = tuple(sorted(set(choices)))
    if len(ordered) != len(choices):
        raise ValueError(f"choices: expected distinct options, got {list(choices)}")
    rules.check_choices(question, ordered)
    voter = bytes(key.verify_key)
    ctx = ballot_context(election_key=election_key, channel=channel, question=question, voter=voter)
    seed = os.urandom(crypto_ballot.SEED_SIZE) if seed is None else seed
    encrypted = crypto_ballot.encrypt_ballot(ctx, ordered, seed)
    ballot = SecretBallot(channel=channel, qid=question.qid, encrypted=encrypted, voter=voter.hex())
    signature = key.sign(ballot.canonical_bytes()).signature
    request = CastRequest(ballot=ballot, sig=signature.hex(), credential=credential, code=code)
    return PreparedSecretBallot(request, seed, ctx)


def audit_prepared(prepared: PreparedSecretBallot, intended: Sequence[int]) -> None:
    """Cast-or-audit: raise AuditMismatch unless the spoiled ballot encrypts ``intended``."""
    ballot = prepared.request.ballot
    assert isinstance(ballot, SecretBallot)
    crypto_ballot.audit_ballot(
        prepared.context, ballot.encrypted, prepared.seed, sorted(intended), "ballot.encrypted"
    )
