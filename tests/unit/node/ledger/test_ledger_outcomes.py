"""Committing what validation decided (``Ledger.commit(block, outcomes)``): the outcomes must
match the block, else the block is refused and nothing is persisted."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ledger_support import directory_bytes

from mvote.node.ledger import BlockInconsistent, Ledger
from mvote.node.ledger.updates import TxOutcome, derive_outcomes, read_block


def _outcomes(block: Any) -> list[TxOutcome]:
    """The outcomes of ``block`` as recovery reads them from its bytes."""
    return derive_outcomes(read_block(block.SerializeToString()))


def test_golden_blocks_commit_the_same_with_or_without_outcomes(
    tmp_path: Path, golden: list[Any]
) -> None:
    with Ledger.open(tmp_path / "a") as derived, Ledger.open(tmp_path / "b") as given:
        for block in golden:
            one = derived.commit(block)
            two = given.commit(block, _outcomes(block))
            assert one == two
        assert directory_bytes(tmp_path / "a" / "blocks.bin") == directory_bytes(
            tmp_path / "b" / "blocks.bin"
        )


def _wrong_code(o: list[TxOutcome]) -> None:
    o[0] = dataclasses.replace(o[0], code=o[0].code ^ 1)


def _one_missing(o: list[TxOutcome]) -> None:
    o.pop()


def _writes_of_an_invalid_tx(o: list[TxOutcome]) -> None:
    valid = next(x for x in o if x.rwsets)
    o[0] = dataclasses.replace(o[0], code=11, rwsets=valid.rwsets)


@pytest.mark.parametrize("damage", [_wrong_code, _one_missing, _writes_of_an_invalid_tx])
def test_outcomes_that_contradict_the_block_are_refused(
    tmp_path: Path, golden: list[Any], damage: Callable[[list[TxOutcome]], None]
) -> None:
    with Ledger.open(tmp_path / "ledger") as ledger:
        for block in golden[:6]:
            ledger.commit(block)
        before = directory_bytes(tmp_path / "ledger")
        outcomes = _outcomes(golden[6])
        damage(outcomes)
        with pytest.raises(BlockInconsistent) as refused:
            ledger.commit(golden[6], outcomes)
        assert refused.value.field == "metadata.transactions_filter"
        assert directory_bytes(tmp_path / "ledger") == before
        ledger.commit(golden[6], _outcomes(golden[6]))
        assert ledger.height == 7
