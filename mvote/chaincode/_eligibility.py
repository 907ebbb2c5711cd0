"""Who may vote on a question: a sealed roster, a registrar's credential, an on-site code."""

from __future__ import annotations

import hashlib
import hmac

from . import _ed25519 as ed25519
from ._errors import BadCredential, BadOnsiteCode, InvalidField, NotEligible
from ._records import Eligibility, OnsiteCode, OpenEligibility, SignedCredential

_ONSITE_DOMAIN = b"mvote/onsite-code/v1\x00"


def onsite_code_hash(salt: bytes, qid: str, code: str) -> bytes:
    """SHA-256(domain || salt || qid || 0x00 || code): what a question commits for its code.

    A short code is guessable from its hash by anyone who reads the ledger: it proves presence
    against remote voters, not secrecy. docs/records.md says how long a code should be.
    """
    return hashlib.sha256(_ONSITE_DOMAIN + salt + qid.encode() + b"\x00" + code.encode()).digest()


def check_onsite_code(eligibility: Eligibility, qid: str, code: str | None) -> None:
    """Raise unless ``code`` is what the question's eligibility asks: none, or the on-site code."""
    match eligibility.onsite_code, code:
        case None, None:
            return
        case None, str():
            raise InvalidField("code: this question takes no on-site code", field="code")
        case OnsiteCode(), None:
            raise BadOnsiteCode(
                "code: this on-site question needs the code shown on site", field="code"
            )
        case OnsiteCode(salt, code_hash), str(given):
            expected = bytes.fromhex(code_hash)
            if not hmac.compare_digest(onsite_code_hash(bytes.fromhex(salt), qid, given), expected):
                raise BadOnsiteCode(
                    "code: does not match the question's on-site code", field="code"
                )


def check_credential(
    eligibility: Eligibility,
    credential: SignedCredential | None,
    *,
    channel: str,
    qid: str,
    voter: str,
    now: int,
) -> None:
    """Raise unless ``credential`` admits ``voter`` to question ``qid`` (open eligibility)."""
    if not isinstance(eligibility.voters, OpenEligibility):
        if credential is not None:
            raise InvalidField(
                "credential: this question's eligibility is a roster, not a credential",
                field="credential",
            )
        return
    if credential is None:
        raise NotEligible(
            "credential: this question needs a registrar credential for the voter key",
            field="credential",
        )
    body = credential.body
    if body.registrar not in eligibility.voters.registrars:
        raise BadCredential(
            f"credential.body.registrar: expected one of the question's registrars, got {body.registrar}",
            field="credential.body.registrar",
        )
    if body.voter != voter:
        raise BadCredential(
            f"credential.body.voter: expected the ballot's voter {voter}, got {body.voter}",
            field="credential.body.voter",
        )
    if body.channel != channel:
        raise BadCredential(
            f"credential.body.channel: expected {channel}, got {body.channel}",
            field="credential.body.channel",
        )
    if body.scope not in ("*", qid):
        raise BadCredential(
            f"credential.body.scope: expected {qid!r} or '*', got {body.scope!r}",
            field="credential.body.scope",
        )
    if now >= body.expires_at:
        raise BadCredential(
            f"credential.body.expires_at: expired at {body.expires_at}, transaction time {now}",
            field="credential.body.expires_at",
        )
    registrar_key = ed25519.checked_public_key(
        bytes.fromhex(body.registrar), "credential.body.registrar"
    )
    ed25519.verify(
        registrar_key, body.canonical_bytes(), bytes.fromhex(credential.sig), "credential.sig"
    )
