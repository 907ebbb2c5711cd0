"""eligibility.py on its own: the on-site code hash and the credential checks, in their order."""

from __future__ import annotations

import dataclasses
import hashlib

import nacl.signing
import pytest

from mvote.chaincode._eligibility import check_credential, check_onsite_code, onsite_code_hash
from mvote.chaincode._errors import (
    BadCredential,
    BadOnsiteCode,
    BadSignature,
    InvalidField,
    NotEligible,
)
from mvote.chaincode._records import Eligibility, OnsiteCode
from mvote.client._registrar import issue_credential

REGISTRAR = nacl.signing.SigningKey(b"R" * 32)
REG_HEX = bytes(REGISTRAR.verify_key).hex()
VOTER = "ab" * 32
OPEN = Eligibility.of_registrars((REG_HEX,))


def test_onsite_code_hash_layout() -> None:
    salt = bytes(range(16))
    expected = hashlib.sha256(b"mvote/onsite-code/v1\x00" + salt + b"q1\x00SITE-1").digest()
    assert onsite_code_hash(salt, "q1", "SITE-1") == expected
    # qid and code are separated: moving a character across the boundary changes the hash.
    assert onsite_code_hash(salt, "q1", "1") != onsite_code_hash(salt, "q11", "")


def test_check_onsite_code() -> None:
    salt = bytes(16)
    onsite = Eligibility.of_roster(
        "r", OnsiteCode(salt.hex(), onsite_code_hash(salt, "q", "CODE").hex())
    )
    check_onsite_code(onsite, "q", "CODE")
    for code in (None, "CODE2", "code"):
        with pytest.raises(BadOnsiteCode) as info:
            check_onsite_code(onsite, "q", code)
        assert info.value.field == "code"
    with pytest.raises(BadOnsiteCode):
        check_onsite_code(onsite, "q2", "CODE")
    check_onsite_code(Eligibility.of_roster("r"), "q", None)
    with pytest.raises(InvalidField) as bad:
        check_onsite_code(Eligibility.of_roster("r"), "q", "CODE")
    assert bad.value.field == "code"


def _check(credential, eligibility=OPEN, now=100, voter=VOTER):  # type: ignore[no-untyped-def]
    check_credential(eligibility, credential, channel="mvote", qid="q1", voter=voter, now=now)


def test_credential_checks_name_their_field() -> None:
    good = issue_credential(REGISTRAR, channel="mvote", voter=VOTER, expires_at=101)
    _check(good)
    _check(issue_credential(REGISTRAR, channel="mvote", voter=VOTER, expires_at=101, scope="q1"))
    with pytest.raises(NotEligible):
        _check(None)
    body = good.body
    cases = [
        (
            dataclasses.replace(body, registrar="cd" * 32),
            BadCredential,
            "credential.body.registrar",
        ),
        (dataclasses.replace(body, voter="cd" * 32), BadCredential, "credential.body.voter"),
        (dataclasses.replace(body, channel="other"), BadCredential, "credential.body.channel"),
        (dataclasses.replace(body, scope="q2"), BadCredential, "credential.body.scope"),
        (dataclasses.replace(body, expires_at=100), BadCredential, "credential.body.expires_at"),
        (dataclasses.replace(body, expires_at=102), BadSignature, "credential.sig"),
    ]
    for changed, error, field in cases:
        with pytest.raises(error) as info:
            _check(dataclasses.replace(good, body=changed))
        assert info.value.field == field
        assert info.value.message.startswith(field)
    with pytest.raises(InvalidField) as info:
        _check(good, eligibility=Eligibility.of_roster("r"))
    assert info.value.field == "credential"
    _check(None, eligibility=Eligibility.of_roster("r"))
