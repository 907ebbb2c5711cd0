"""One ballot's transaction is parsed once while its receipt is verified."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from nodechain import Chain, cast_args, chain
from test_receipt import _last_tx_id, _tracker
from testkit import count_decodes

from mvote.client._receipt import issue_receipt
from mvote.verifier._envelope import unpack_block
from mvote.verifier._receipt import verify_receipt

__all__ = ["chain"]  # the fixture


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[tuple[str, bytes]]]:
    """Every protobuf decode the verifier makes, counted by (message type, bytes)."""
    yield count_decodes(monkeypatch)


def test_the_ballot_envelope_is_decoded_once_per_receipt_verification(
    chain: Chain, decodes: Counter[tuple[str, bytes]]
) -> None:
    args = cast_args(chain, 4, 1)
    block = chain.submit(*args)
    tx_id = _last_tx_id(chain, block)
    receipt = issue_receipt(
        chain.node.ledger.block, tx_id=tx_id, block_number=block, qid="q1", tracker=_tracker(args)
    )
    ballot_tx = unpack_block(receipt.proof[block]).data[receipt.tx_index]
    decodes.clear()
    report = verify_receipt(receipt, anchor=chain.genesis_hash)
    assert report.verified
    offline = decodes[("common.Envelope", ballot_tx)]
    decodes.clear()
    blocks = chain.blocks()
    report = verify_receipt(receipt, blocks, anchor=chain.genesis_hash)
    with_chain = decodes[("common.Envelope", ballot_tx)]
    print(f"\nballot envelope decodes: offline {offline}, with the chain {with_chain}")
    assert offline == 1
