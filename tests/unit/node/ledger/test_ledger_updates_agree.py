"""The ledger's writes and the verifier's updates come from one rule (BlockUpdates.add): a VALID
transaction's writes apply, a range read summarised as Merkle hashes included (Fabric applies
them; the verifier only notes that it could not re-check the range)."""

from __future__ import annotations

from typing import Any

from mvote.chaincode._simulation import Version
from mvote.node.ledger.updates import TxOutcome, block_updates
from mvote.verifier._checks import Check
from mvote.verifier._config import channel_config_from_block
from mvote.verifier._envelope import (
    HEADER_TYPE_ENDORSER_TRANSACTION,
    BlockView,
    KVWrite,
    NsRwSet,
    RangeQuery,
    TxRwSet,
)
from mvote.verifier._mvcc import VALID, KeyWrite, MemoryWorldState
from mvote.verifier._validation import BlockContext, TxVerdict, finish_block_validation


def test_merkle_summary_range_read_writes_in_verifier_and_ledger(golden: list[Any]) -> None:
    config = channel_config_from_block(golden[0].SerializeToString())
    summary = RangeQuery("a", "b", False, None)  # raw_reads None: Merkle hashes were sent
    rwset = TxRwSet((NsRwSet("cc", (), (summary,), (KVWrite("k", False, b"v"),), (), ()),))
    verdict = TxVerdict(0, "tx0", VALID, header_type=HEADER_TYPE_ENDORSER_TRANSACTION, rwset=rwset)
    context = BlockContext(config, MemoryWorldState(), set[str]().__contains__)

    (checked,), updates = finish_block_validation(context, 7, [verdict])

    assert checked.code == VALID
    assert [r.check for r in checked.unsupported] == [Check.RANGE_QUERY_SUMMARY]
    assert updates.public == {("cc", "k"): (b"v", (7, 0))}
    ledger = block_updates(BlockView(7, b"", b"", (b"",), ()), [TxOutcome("tx0", VALID, (rwset,))])
    assert ledger.writes == updates.writes == [KeyWrite("cc", "k", b"v", Version(7, 0), "tx0")]
