"""A trustee's private state survives a round trip through JSON (what ``mvote trustee`` keeps on
the trustee's device between the ceremony steps)."""

from __future__ import annotations

from mvote.chaincode import encoding
from mvote.chaincode._crypto import group
from mvote.client import _trustee as tr


def test_trustee_secrets_round_trip() -> None:
    team = [tr.new_trustee("mvote", "c1", 3, 2, i) for i in (1, 2, 3)]
    regs = [t.registration() for t in team]
    postings = [encoding.decode(tr.dealing_posting(t, regs), max_size=1 << 24) for t in team]
    tr.check_posting(team[0], postings)
    assert team[0].share is not None
    again = tr.TrusteeSecrets.from_json(
        encoding.decode(encoding.encode(team[0].to_json()), max_size=1 << 16)
    )
    assert again.to_json() == team[0].to_json()
    assert group.base_mul(again.key_secret).hex() == regs[0]["key"]
    assert bytes(again.signer.verify_key).hex() == regs[0]["signer"]
