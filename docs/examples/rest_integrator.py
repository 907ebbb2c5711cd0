"""A Python integrator of the REST API, end to end: read the question, prepare and sign the
voter's ballot (on the voter's device), ``POST /v1/ballots?receipt=true`` with its canonical
bytes, wait for the commit and its receipt, and verify the receipt from the genesis hash the
city publishes (never from the service). docs/integrators.md quotes it;
tests/integration/test_integrator_examples.py runs it against a real node.
"""

from __future__ import annotations

import httpx
import nacl.signing

from mvote.chaincode import Question, SignedCredential, encoding
from mvote.client import prepare_ballot
from mvote.verifier import Receipt, verify_receipt


class ReceiptRejected(Exception):
    """The receipt the service returned does not verify from the genesis hash (or is not the
    ballot's): keep the ballot's tracker and report it; never trust the service's word."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(f"the receipt does not verify: {', '.join(failed) or 'tracker differs'}")
        self.failed = failed


class Refused(Exception):
    """The service refused the ballot: the problem's stable code and the field it names."""

    def __init__(self, status: int, code: str, field: str | None) -> None:
        super().__init__(f"{status} {code} ({field})")
        self.status, self.code, self.field = status, code, field


def cast_and_verify(
    url: str,
    voter_key: nacl.signing.SigningKey,
    *,
    channel: str,
    qid: str,
    choices: list[int],
    credential: SignedCredential | None,
    genesis_hash: bytes,
) -> Receipt:
    """Cast the voter's ballot for ``choices`` on ``qid`` through the REST API at ``url`` and
    return its receipt, verified from ``genesis_hash``. Raises Refused with the problem's code,
    or ReceiptRejected naming the failed checks."""
    with httpx.Client(base_url=url, timeout=90) as http:
        got = http.get(f"/v1/questions/{qid}")
        if got.status_code != 200:
            raise Refused(got.status_code, got.json()["code"], got.json()["field"])
        question = Question.from_json(got.json()).spec
        request = prepare_ballot(
            voter_key, channel=channel, question=question, choices=choices, credential=credential
        )
        cast = http.post(
            "/v1/ballots",
            params={"receipt": "true"},
            content=encoding.encode(request.to_json()),  # the canonical bytes, as they are
            headers={"content-type": "application/json"},
        )
    answer = cast.json()
    if cast.status_code != 200:  # application/problem+json
        raise Refused(cast.status_code, answer["code"], answer["field"])
    receipt = Receipt.from_bytes(encoding.encode(answer["receipt"]))
    report = verify_receipt(receipt, anchor=genesis_hash)
    if not report.verified or receipt.tracker != answer["tracker"]:
        raise ReceiptRejected([check.name for check in report.checks if not check.ok])
    return receipt
