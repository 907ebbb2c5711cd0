"""A Python integrator of the ``mvote.v1`` gRPC voting service, end to end: read the question,
prepare and sign the voter's ballot (on the voter's device), cast it, wait for the commit and
its receipt, and verify the receipt from the genesis hash the city publishes (never from the
service). docs/integrators.md quotes it; tests/integration/test_integrator_examples.py runs it
against a real node, so it is the code that works.
"""

from __future__ import annotations

import nacl.signing

from mvote.chaincode import Question, SignedCredential, encoding
from mvote.client import prepare_ballot
from mvote.service._client import ClientTls, VotingClient
from mvote.verifier import Receipt, verify_receipt

#: The largest question record read (a record is a few kB).
MAX_RECORD_BYTES = 1 << 20


class ReceiptRejected(Exception):
    """The receipt the service returned does not verify from the genesis hash (or is not the
    ballot's): keep the ballot's tracker and report it; never trust the service's word."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(f"the receipt does not verify: {', '.join(failed) or 'tracker differs'}")
        self.failed = failed


def cast_and_verify(
    address: str,
    tls: ClientTls,
    voter_key: nacl.signing.SigningKey,
    *,
    channel: str,
    qid: str,
    choices: list[int],
    credential: SignedCredential | None,
    genesis_hash: bytes,
) -> Receipt:
    """Cast the voter's ballot for ``choices`` on ``qid`` through the service at ``address``
    and return its receipt, verified from ``genesis_hash``. Raises the refusal's typed error
    (``AlreadyVoted``, ``NotEligible``, ...) or ReceiptRejected naming the failed checks."""
    with VotingClient(address, tls) as client:
        record = encoding.decode(client.question(qid).record, max_size=MAX_RECORD_BYTES)
        question = Question.from_json(record).spec
        # On the voter's device: the ballot binds the question it was shown (a forged question
        # fails at Cast) and is signed by the voter's own key.
        request = prepare_ballot(
            voter_key, channel=channel, question=question, choices=choices, credential=credential
        )
        done = client.cast(encoding.encode(request.to_json()), with_receipt=True)
    receipt = Receipt.from_bytes(done.receipt)
    report = verify_receipt(receipt, anchor=genesis_hash)
    if not report.verified or receipt.tracker != done.tracker:
        raise ReceiptRejected([check.name for check in report.checks if not check.ok])
    return receipt
