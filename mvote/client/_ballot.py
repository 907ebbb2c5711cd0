"""Ballot preparation on the voter's device: check the choices, build and sign the ballot.

The choices are checked with the contract's own rule code before signing, so a voter learns of a
mistake before anything leaves the device.
"""

from __future__ import annotations

import nacl.signing

from mvote.chaincode import _rules as rules
from mvote.chaincode._errors import InvalidField
from mvote.chaincode._records import (
    BoundBallot,
    CastRequest,
    QuestionSpec,
    SignedCredential,
    question_hash,
)


def voter_public_hex(key: nacl.signing.SigningKey) -> str:
    return bytes(key.verify_key).hex()


def prepare_ballot(
    key: nacl.signing.SigningKey,
    *,
    channel: str,
    question: QuestionSpec,
    choices: list[int] | tuple[int, ...],
    credential: SignedCredential | None = None,
    code: str | None = None,
) -> CastRequest:
    """A signed cast request for ``choices`` (any order; sent ascending), binding the hash of
    ``question`` (``records.question_hash``): Cast refuses it (QUESTION_MISMATCH) if the question
    on the ledger differs from the one the voter was shown. Raises InvalidField for a repeated
    option, RuleViolation for choices the question's rule refuses."""
    ordered = tuple(sorted(set(choices)))
    if len(ordered) != len(choices):
        raise InvalidField(
            f"choices: expected distinct options, got {list(choices)}", field="choices"
        )
    rules.check_choices(question, ordered)
    ballot = BoundBallot(
        channel=channel,
        qid=question.qid,
        choices=ordered,
        voter=voter_public_hex(key),
        question=question_hash(question, None),
    )
    signature = key.sign(ballot.canonical_bytes()).signature
    return CastRequest(ballot=ballot, sig=signature.hex(), credential=credential, code=code)
