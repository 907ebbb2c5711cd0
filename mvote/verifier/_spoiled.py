"""Spoiled ballots (cast-or-audit): check, on a second device, what an audited ballot encrypted.

When a voter audits a prepared secret ballot instead of casting it, the device records it as
spoiled with ``SpoilBallot``: the signed ballot and its opening (the nonce key every nonce of the
ballot derives from). The device then writes a *spoiled-ballot file*: the receipt format
(``mvote.receipt.v1``) for the SpoilBallot transaction, with the blocks that wrote the question
and ceremony records it read.

:func:`verify_spoiled` checks that file from the genesis hash alone, as a ballot receipt is
checked (orderer signatures, the endorsement policy, the validation code, the voter's signature,
the question binding, the ballot's proofs), then opens the ballot itself with the recorded nonce
key: each ciphertext must open under the election key of the question's ceremony, and the
choices it shows must equal those the contract recorded. The report names the choices by their
labels from the verified question record, so the voter compares them with what they chose.
"""

from __future__ import annotations

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._crypto.ballot import open_ballot
from mvote.chaincode._errors import MvoteError
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import SecretBallot, SpoiledBallot, SpoilRequest
from mvote.verifier._errors import unexpected
from mvote.verifier._receipt import (
    Reached,
    Receipt,
    ReceiptReport,
    ballot_context,
    recorded_ballot,
    verify_offline,
    written_value,
)


def verify_spoiled(receipt: Receipt, *, anchor: bytes) -> ReceiptReport:
    """Every check of a spoiled-ballot file (a receipt of a SpoilBallot transaction), from
    ``anchor`` (the genesis hash the city publishes), then the opening: ``report.recorded``
    holds the choices the ballot encrypts, by label."""
    report = ReceiptReport()
    if not report.add(
        "trust_anchor",
        receipt.genesis_hash == anchor.hex(),
        f"the file names genesis hash {receipt.genesis_hash}, the trust anchor is {anchor.hex()}",
    ):
        return report
    try:
        reached = verify_offline(receipt, report, function=FunctionName.SPOIL_BALLOT)
        if reached is not None:
            _check_opening(receipt, reached, report)
    except MvoteError as exc:
        report.add("receipt_format", False, str(exc))
    except Exception as exc:  # a failure no check foresaw: named, never raised
        report.add("verifier_error", False, unexpected(exc))
    return report


def _check_opening(receipt: Receipt, reached: Reached, report: ReceiptReport) -> None:
    """Open the spoiled ballot with its nonce key under the verified question's election key;
    the choices must equal the ones the transaction recorded."""
    ballot = reached.request.ballot
    if not isinstance(ballot, SecretBallot):
        report.add("opening", False, "a spoiled ballot is a secret ballot")
        return
    question, ceremony = reached.records if reached.records is not None else (None, None)
    if question is None or ceremony is None:
        report.add(
            "opening",
            False,
            "the file carries no blocks of the question and ceremony records the ballot was "
            "spoiled against: it cannot be opened from the genesis hash alone",
        )
        return
    args = list(reached.tx.args)
    nonce_key = SpoilRequest.from_json(encoding.decode(args[1], max_size=1 << 24)).nonce_key
    context = ballot_context(question, ceremony, ballot)
    try:
        vector = open_ballot(
            context, ballot.encrypted, bytes.fromhex(nonce_key), "ballot.encrypted"
        )
    except MvoteError as exc:
        report.add("opening", False, f"{exc.code}: {exc.message}")
        return
    choices = tuple(i for i, b in enumerate(vector) if b)
    stored = written_value(
        reached.tx, receipt.chaincode, keys.spoiled_key(receipt.qid, receipt.tracker)
    )
    recorded = (
        SpoiledBallot.from_json(encoding.decode(stored, max_size=1 << 24)).choices
        if stored is not None
        else None
    )
    report.add(
        "opening",
        recorded == choices,
        f"the nonce key opens every ciphertext: options {[i + 1 for i in choices]} (numbered "
        f"from 1); the transaction recorded {None if recorded is None else [i + 1 for i in recorded]}",
    )
    report.recorded = recorded_ballot(receipt, ballot, reached.records, report, choices=choices)
