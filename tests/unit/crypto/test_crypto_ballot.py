"""ballot.py: encrypted ballots for a question, their verification, cast-or-audit."""

from __future__ import annotations

import dataclasses

import pytest
from crypto_support import SMALL_ORDER, scalar, seed

from mvote.chaincode import encoding
from mvote.chaincode._crypto import ballot, elgamal, group
from mvote.chaincode._crypto.ballot import BallotContext, EncryptedBallot
from mvote.chaincode._crypto.group import L
from mvote.chaincode._errors import (
    AuditMismatch,
    BadProof,
    InvalidField,
    InvalidPoint,
    InvalidScalar,
    RuleViolation,
)

SECRET = scalar("election secret")
KEY = elgamal.keypair(SECRET)
VOTER = bytes(range(32))


def ctx(options: int = 5, lo: int = 1, hi: int = 1, **kw: object) -> BallotContext:
    fields: dict[str, object] = {
        "election_key": KEY,
        "channel": "mvote",
        "question": "q1",
        "voter": VOTER,
        "options": options,
        "min": lo,
        "max": hi,
    }
    fields.update(kw)
    return BallotContext(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def three_of_ten() -> tuple[BallotContext, EncryptedBallot]:
    c = ctx(10, 0, 3)
    return c, ballot.encrypt_ballot(c, [1, 4, 9], seed("3of10"))


def test_context_is_checked() -> None:
    with pytest.raises(InvalidField, match=r"rule\.max"):
        ctx(5, 0, 6)
    with pytest.raises(InvalidField, match=r"rule\.max"):
        ctx(5, 3, 2)
    with pytest.raises(InvalidField, match=r"rule\.max"):
        ctx(5, 0, 0)
    with pytest.raises(InvalidField, match="options"):
        ctx(1001, 1, 1)
    with pytest.raises(InvalidField, match="voter"):
        ctx(voter=bytes(31))
    with pytest.raises(InvalidField, match="question"):
        ctx(question="Q 1")
    with pytest.raises(ValueError):
        ctx(election_key=group.IDENTITY)


@pytest.mark.parametrize(
    ("options", "lo", "hi", "choices"),
    [
        (5, 1, 1, [2]),
        (2, 1, 1, [0]),
        (10, 0, 3, []),
        (10, 0, 3, [0, 5, 9]),
        (4, 2, 4, [0, 1, 2, 3]),
    ],
)
def test_encrypt_verify_decrypt(options: int, lo: int, hi: int, choices: list[int]) -> None:
    c = ctx(options, lo, hi)
    b = ballot.encrypt_ballot(c, choices, seed(options, lo, hi, choices))
    ballot.verify_ballot(c, b)
    decoded = EncryptedBallot.from_json(
        encoding.decode(encoding.encode(b.to_json()), max_size=1 << 20)
    )
    assert decoded == b
    assert [elgamal.decrypt(ct, SECRET, 1) for ct in b.ciphertexts()] == [
        1 if i in choices else 0 for i in range(options)
    ]
    assert len(b.count.bits) == (hi - lo).bit_length()


def test_encryption_is_deterministic_in_the_seed() -> None:
    c = ctx()
    assert ballot.encrypt_ballot(c, [1], seed("s")) == ballot.encrypt_ballot(c, [1], seed("s"))
    assert ballot.encrypt_ballot(c, [1], seed("s")) != ballot.encrypt_ballot(c, [1], seed("t"))
    with pytest.raises(ValueError):
        ballot.encrypt_ballot(c, [1], bytes(16))


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        ([], "ballot.choices"),
        ([0, 1], "ballot.choices"),
        ([5], "ballot.choices[0]"),
        ([2, 2], "ballot.choices[1]"),
        ([3, 1], "ballot.choices[1]"),
    ],
)
def test_choices_breaking_the_rule_are_refused(choices: list[int], field: str) -> None:
    with pytest.raises(RuleViolation) as err:
        ballot.encrypt_ballot(ctx(), choices, seed("x"))
    assert err.value.field == field


@pytest.mark.parametrize(
    "change",
    [
        {"voter": bytes(32)},
        {"question": "q2"},
        {"channel": "other"},
        {"election_key": elgamal.keypair(scalar("other"))},
        {"max": 4},
        {"min": 1},
    ],
    ids=["voter", "question", "channel", "key", "max", "min"],
)
def test_ballot_cannot_be_moved(
    three_of_ten: tuple[BallotContext, EncryptedBallot], change: dict[str, object]
) -> None:
    c, b = three_of_ten
    with pytest.raises(BadProof):
        ballot.verify_ballot(dataclasses.replace(c, **change), b)  # type: ignore[arg-type]


def test_tampered_ciphertext_or_response_names_the_proof(
    three_of_ten: tuple[BallotContext, EncryptedBallot],
) -> None:
    c, b = three_of_ten
    sel = list(b.selections)
    # Re-randomise option 4's ciphertext: every proof's context changes (the ballot digest),
    # and the first failing one is named.
    ct = sel[4].ciphertext
    sel[4] = dataclasses.replace(sel[4], ciphertext=ct + elgamal.encrypt(0, KEY, 3))
    with pytest.raises(BadProof) as err:
        ballot.verify_ballot(c, dataclasses.replace(b, selections=tuple(sel)))
    assert err.value.field == "ballot.selections[0].proof"
    sel = list(b.selections)
    sel[7] = dataclasses.replace(
        sel[7], proof=dataclasses.replace(sel[7].proof, v0=(sel[7].proof.v0 + 1) % L)
    )
    with pytest.raises(BadProof) as err:
        ballot.verify_ballot(c, dataclasses.replace(b, selections=tuple(sel)))
    assert err.value.field == "ballot.selections[7].proof"
    count = dataclasses.replace(
        b.count,
        proof=dataclasses.replace(b.count.proof, challenge=(b.count.proof.challenge + 1) % L),
    )
    with pytest.raises(BadProof) as err:
        ballot.verify_ballot(c, dataclasses.replace(b, count=count))
    assert err.value.field == "ballot.count.proof"


def test_proofs_cannot_be_swapped_between_options(
    three_of_ten: tuple[BallotContext, EncryptedBallot],
) -> None:
    c, b = three_of_ten
    sel = list(b.selections)
    sel[0], sel[1] = (
        dataclasses.replace(sel[0], proof=sel[1].proof),
        dataclasses.replace(sel[1], proof=sel[0].proof),
    )
    with pytest.raises(BadProof):
        ballot.verify_ballot(c, dataclasses.replace(b, selections=tuple(sel)))


def test_a_sum_above_max_cannot_be_proven() -> None:
    # Four selections on an up-to-3 question: the client refuses, and a forged ballot that
    # copies a valid count proof fails on the count.
    c = ctx(10, 0, 3)
    four = ballot.encrypt_ballot(ctx(10, 0, 4), [0, 1, 2, 3], seed("four"))
    with pytest.raises(BadProof):
        ballot.verify_ballot(c, four)
    three = ballot.encrypt_ballot(c, [0, 1, 2], seed("three"))
    forged = dataclasses.replace(
        three, selections=(*three.selections[:3], four.selections[3], *three.selections[4:])
    )
    with pytest.raises(BadProof):
        ballot.verify_ballot(c, forged)


def test_wrong_number_of_options(three_of_ten: tuple[BallotContext, EncryptedBallot]) -> None:
    c, b = three_of_ten
    with pytest.raises(InvalidField, match="expected 10 encrypted selections, got 9"):
        ballot.verify_ballot(c, dataclasses.replace(b, selections=b.selections[:9]))


def test_decoder_refusals(three_of_ten: tuple[BallotContext, EncryptedBallot]) -> None:
    _, b = three_of_ten
    data = b.to_json()
    bad_point = encoding.decode(encoding.encode(data), max_size=1 << 20)
    bad_point["selections"][2]["ciphertext"]["beta"] = SMALL_ORDER[6].hex()
    with pytest.raises(InvalidPoint) as err:
        EncryptedBallot.from_json(bad_point)
    assert err.value.field == "ballot.selections[2].ciphertext.beta"
    bad_scalar = encoding.decode(encoding.encode(data), max_size=1 << 20)
    bad_scalar["count"]["proof"]["v"] = (L + 5).to_bytes(32, "little").hex()
    with pytest.raises(InvalidScalar) as err2:
        EncryptedBallot.from_json(bad_scalar)
    assert err2.value.field == "ballot.count.proof.v"
    with pytest.raises(InvalidField):
        EncryptedBallot.from_json({**data, "extra": 1})
    with pytest.raises(InvalidField):
        EncryptedBallot.from_json({**data, "selections": []})


def test_audit_accepts_the_intended_choices(
    three_of_ten: tuple[BallotContext, EncryptedBallot],
) -> None:
    c, b = three_of_ten
    assert ballot.open_ballot(c, b, seed("3of10")) == [0, 1, 0, 0, 1, 0, 0, 0, 0, 1]
    ballot.audit_ballot(c, b, seed("3of10"), [1, 4, 9])


def test_audit_names_the_first_differing_option(
    three_of_ten: tuple[BallotContext, EncryptedBallot],
) -> None:
    c, b = three_of_ten
    with pytest.raises(AuditMismatch) as err:
        ballot.audit_ballot(c, b, seed("3of10"), [1, 5, 9])
    assert err.value.field == "ballot.selections[4]"
    assert "not selected option 4, the ballot encrypts 1" in err.value.message


def test_audit_with_a_wrong_seed_or_a_foreign_ciphertext(
    three_of_ten: tuple[BallotContext, EncryptedBallot],
) -> None:
    c, b = three_of_ten
    with pytest.raises(AuditMismatch, match="does not open") as err:
        ballot.open_ballot(c, b, seed("other"))
    assert err.value.field == "ballot.selections[0]"
    # A device that encrypted 2 with the right nonce is caught too.
    nonce = group.Nonces(seed("3of10")).scalar("ballot-option-nonce", c.header(), 0)
    sel = list(b.selections)
    sel[0] = dataclasses.replace(sel[0], ciphertext=elgamal.encrypt(2, KEY, nonce))
    with pytest.raises(AuditMismatch, match="neither 0 nor 1"):
        ballot.open_ballot(c, dataclasses.replace(b, selections=tuple(sel)), seed("3of10"))
    with pytest.raises(InvalidField):
        ballot.open_ballot(c, b, bytes(3))
    with pytest.raises(InvalidField):
        ballot.open_ballot(c, dataclasses.replace(b, selections=b.selections[:2]), seed("3of10"))
