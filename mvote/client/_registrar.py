"""The registrar's side of open eligibility: after its light off-chain check of a person, a
registrar signs that person's voter key for a question (or every question that trusts it)."""

from __future__ import annotations

import nacl.signing

from mvote.chaincode._records import Credential, SignedCredential


def issue_credential(
    registrar: nacl.signing.SigningKey,
    *,
    channel: str,
    voter: str,
    expires_at: int,
    scope: str = "*",
) -> SignedCredential:
    body = Credential(
        channel=channel,
        scope=scope,
        voter=voter,
        registrar=bytes(registrar.verify_key).hex(),
        expires_at=expires_at,
    )
    return SignedCredential(body=body, sig=registrar.sign(body.canonical_bytes()).signature.hex())
