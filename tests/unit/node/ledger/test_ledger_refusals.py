"""Blocks the ledger refuses: a typed error, and nothing persisted (height, files, LevelDB)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fabric_protos.common import common_pb2
from ledger_support import directory_bytes, endorser_envelope, header_hash, make_block, rwset

from mvote.node.ledger import (
    BlockInconsistent,
    BlockOutOfOrder,
    BlockRefused,
    Ledger,
    LedgerUnavailable,
)
from mvote.verifier._block import block_data_hash


@pytest.fixture
def ledger(tmp_path: Path, golden: list[Any]) -> Ledger:
    opened = Ledger.open(tmp_path / "ledger")
    for block in golden[:6]:
        opened.commit(block)
    return opened


def _copy(block: Any) -> Any:
    out = common_pb2.Block()
    out.CopyFrom(block)
    return out


def _wrong_number(b: Any) -> None:
    b.header.number = 7


def _wrong_previous_hash(b: Any) -> None:
    b.header.previous_hash = b"\x00" * 32


def _wrong_data_hash(b: Any) -> None:
    b.header.data_hash = bytes(32)


def _no_metadata(b: Any) -> None:
    del b.metadata.metadata[:]


def _empty_filter(b: Any) -> None:
    b.metadata.metadata[2] = b""


def _short_filter(b: Any) -> None:
    b.metadata.metadata[2] = b"\x00\x00\x00"


def _not_validated(b: Any) -> None:
    b.metadata.metadata[2] = bytes([0, 0, 254, 0])


def _valid_garbage_tx(b: Any) -> None:
    b.data.data[1] = b"\xff\xff garbage"
    b.header.data_hash = block_data_hash(b.data.data)


CASES: list[tuple[str, Callable[[Any], None], type[BlockRefused], str]] = [
    ("number", _wrong_number, BlockOutOfOrder, "header.number: expected 6 .*got 7"),
    ("previous_hash", _wrong_previous_hash, BlockOutOfOrder, "header.previous_hash: expected"),
    ("data_hash", _wrong_data_hash, BlockInconsistent, "header.data_hash: expected"),
    ("no metadata", _no_metadata, BlockInconsistent, "expected 4 validation codes .*got 0"),
    ("empty filter", _empty_filter, BlockInconsistent, "expected 4 validation codes .*got 0"),
    ("short filter", _short_filter, BlockInconsistent, "expected 4 validation codes .*got 3"),
    ("not validated", _not_validated, BlockInconsistent, r"\[2\]: expected a validation code"),
    ("valid garbage", _valid_garbage_tx, BlockInconsistent, "tx 1 is VALID but"),
]


@pytest.mark.parametrize(("name", "damage", "error", "message"), CASES, ids=[c[0] for c in CASES])
def test_refused_block_persists_nothing(
    tmp_path: Path,
    ledger: Ledger,
    golden: list[Any],
    name: str,
    damage: Callable[[Any], None],
    error: type[BlockRefused],
    message: str,
) -> None:
    before = directory_bytes(tmp_path / "ledger")
    height, last_hash = ledger.height, ledger.last_hash
    block = _copy(golden[6])
    damage(block)
    with pytest.raises(error, match=message) as refused:
        ledger.commit(block)
    assert refused.value.code.startswith("LEDGER_BLOCK_")
    assert (ledger.height, ledger.last_hash) == (height, last_hash)
    assert directory_bytes(tmp_path / "ledger") == before
    # The refusal left the ledger usable: the real block 6 commits.
    ledger.commit(golden[6])
    assert ledger.height == 7
    ledger.close()


def test_an_unreadable_invalid_transaction_is_kept_and_indexes_nothing(
    tmp_path: Path, ledger: Ledger
) -> None:
    good = endorser_envelope("tx-good", rwset({"mvote": {"k": b"v"}}))
    block = make_block(6, ledger.last_hash, [b"\x01not an envelope", good], [1, 0])
    ledger.commit(block)
    assert ledger.block(6) == block.SerializeToString()
    location = ledger.tx_location("tx-good")
    assert location is not None and (location.block, location.tx, location.code) == (6, 1, 0)
    with ledger.state("mvote") as view:
        assert view.get("k") == (b"v", (6, 1))
    ledger.close()


def test_a_duplicate_tx_id_keeps_its_first_location(tmp_path: Path, ledger: Ledger) -> None:
    first = endorser_envelope("tx-dup", rwset({"mvote": {"a": b"1"}}))
    again = endorser_envelope("tx-dup", rwset({"mvote": {"b": b"2"}}))
    block6 = make_block(6, ledger.last_hash, [first, again], [0, 9])
    ledger.commit(block6)
    ledger.commit(make_block(7, header_hash(block6), [again], [9]))
    location = ledger.tx_location("tx-dup")
    assert location is not None and tuple(location) == (6, 0, 0)
    with ledger.state("mvote") as view:
        assert view.get("b") is None
    ledger.close()


def test_closed_and_locked_ledgers_are_unavailable(
    tmp_path: Path, ledger: Ledger, golden: list[Any]
) -> None:
    with pytest.raises(LedgerUnavailable, match="another process may hold it"):
        Ledger.open(tmp_path / "ledger")
    ledger.close()
    ledger.close()  # idempotent
    with pytest.raises(LedgerUnavailable, match="is closed"):
        ledger.commit(golden[6])
    with pytest.raises(LedgerUnavailable, match="is closed"):
        ledger.block(0)
