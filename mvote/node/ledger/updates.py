"""What a committed block changes: from what validation already derived, or from the block's
own bytes.

The committer knows each transaction's tx id (the orderer queue carries it), its validation code
and its read-write set (validation parsed it): :func:`block_updates` turns those into the
block's :class:`BlockChanges` (writes derived by the verifier's
:class:`~mvote.verifier._mvcc.BlockUpdates`, the one rule) without parsing anything again. Crash recovery and followers only
have the block file: :func:`derive_updates` parses the raw block into the same
:class:`TxOutcome` list and hands it to the same :func:`block_updates`, so a block rolled forward
after a crash changes exactly what its first commit did (a test checks both on real blocks,
invalid transactions included). The rule is Fabric's: only VALID (code 0) endorser transactions
write, each at version (block number, tx index), in block order (a later write of a key wins);
CONFIG transactions change no chaincode state; invalid transactions stay in the block and the tx
index but write nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mvote.chaincode._simulation import Version
from mvote.node.ledger.errors import BlockInconsistent
from mvote.verifier._block import block_data_hash, block_header_hash
from mvote.verifier._envelope import (
    HEADER_TYPE_CONFIG,
    HEADER_TYPE_ENDORSER_TRANSACTION,
    METADATA_TRANSACTIONS_FILTER,
    BlockView,
    TxRwSet,
    unpack_block,
)
from mvote.verifier._errors import MalformedProto
from mvote.verifier._mvcc import BlockUpdates, HashedKeyWrite, KeyWrite
from mvote.verifier._transaction import ParsedTransaction

VALID = 0
#: Fabric's placeholder before validation; a block that still carries it was never validated.
NOT_VALIDATED = 254


@dataclass(frozen=True)
class TxRecord:
    """One transaction of the block as the tx index records it."""

    index: int
    #: "" when an invalid transaction's envelope does not even give a tx id.
    tx_id: str
    code: int


@dataclass(frozen=True)
class TxOutcome:
    """One transaction as validation decided it: what :func:`block_updates` needs of it."""

    #: "" when an invalid transaction's envelope does not even give a tx id.
    tx_id: str
    code: int
    #: The read-write sets whose writes apply: a VALID endorser transaction's (Fabric accepts
    #: exactly one action, so one rwset); none for any other.
    rwsets: tuple[TxRwSet, ...] = ()


@dataclass(frozen=True)
class BlockChanges:
    """What one block changes in the ledger's index: its header, its transactions as the tx
    index records them, and the writes of its VALID transactions."""

    number: int
    previous_hash: bytes
    header_hash: bytes
    txs: tuple[TxRecord, ...]
    #: The writes of the VALID transactions, derived by the verifier's one rule
    #: (:meth:`mvote.verifier._mvcc.BlockUpdates.add`).
    updates: BlockUpdates

    @property
    def writes(self) -> list[KeyWrite]:
        """Every public write in block order, with its tx id; a later write of a key wins."""
        return self.updates.writes

    @property
    def hashed_writes(self) -> list[HashedKeyWrite]:
        """Every private-data hash write in block order."""
        return self.updates.hashed_writes


def read_block(raw: bytes) -> BlockView:
    """The serialized ``common.Block`` ``raw``; one that does not parse is :class:`BlockInconsistent`."""
    try:
        return unpack_block(raw)
    except MalformedProto as exc:
        raise BlockInconsistent(f"block: {exc.message}", field=exc.field) from exc


def derive_updates(block: BlockView) -> BlockChanges:
    """The changes ``block`` makes, from its bytes alone (recovery, followers, ``node check``).

    Refuses (:class:`BlockInconsistent`) a block whose data hash is wrong, whose
    TRANSACTIONS_FILTER is missing, of the wrong length or says NOT_VALIDATED, or with a VALID
    transaction that is not a readable config or endorser transaction.
    """
    return block_updates(block, derive_outcomes(block))


def derive_outcomes(block: BlockView) -> list[TxOutcome]:
    """Each transaction's outcome read from ``block``'s bytes (its filter and envelopes), with
    the refusals of :func:`derive_updates`."""
    codes = validation_codes(block)
    return [
        _transaction(envelope, code, Version(block.number, index))
        for index, (envelope, code) in enumerate(zip(block.data, codes, strict=True))
    ]


def block_updates(block: BlockView, outcomes: Sequence[TxOutcome]) -> BlockChanges:
    """The changes of ``block`` whose transactions validation decided as ``outcomes``.

    Precondition: one outcome per transaction of ``block``, in block order, each with the code
    the block's TRANSACTIONS_FILTER records (:func:`check_outcomes`)."""
    txs: list[TxRecord] = []
    updates = BlockUpdates()
    for index, outcome in enumerate(outcomes):
        txs.append(TxRecord(index, outcome.tx_id, outcome.code))
        for rwset in outcome.rwsets:
            updates.add(rwset, Version(block.number, index), outcome.tx_id)
    return BlockChanges(
        number=block.number,
        previous_hash=block.previous_hash,
        header_hash=block_header_hash(block.number, block.previous_hash, block.data_hash),
        txs=tuple(txs),
        updates=updates,
    )


def check_outcomes(block: BlockView, outcomes: Sequence[TxOutcome]) -> None:
    """Refuse (:class:`BlockInconsistent`) ``outcomes`` that are not one per transaction of
    ``block`` with the codes its TRANSACTIONS_FILTER records, or a block that contradicts itself
    (:func:`validation_codes`). Parses no transaction."""
    codes = validation_codes(block)
    given = bytes(o.code for o in outcomes)
    if given != codes:
        raise BlockInconsistent(
            f"block {block.number} metadata[TRANSACTIONS_FILTER]: expected the codes validation "
            f"decided ({given.hex()}), got {codes.hex()}",
            field="metadata.transactions_filter",
        )
    for index, outcome in enumerate(outcomes):
        if outcome.rwsets and outcome.code != VALID:
            raise BlockInconsistent(
                f"block {block.number} tx {index}: writes given for a transaction with "
                f"validation code {outcome.code}",
                field="metadata.transactions_filter",
            )


def validation_codes(block: BlockView) -> bytes:
    """The block's TRANSACTIONS_FILTER, after checking its data hash and the filter's length and
    that every transaction was validated (:class:`BlockInconsistent` if not)."""
    computed = block_data_hash(block.data)
    if computed != block.data_hash:
        raise BlockInconsistent(
            f"block {block.number} header.data_hash: expected {computed.hex()} (SHA-256 of the "
            f"data), got {block.data_hash.hex()}",
            field="header.data_hash",
        )
    codes = block.metadata_slot(METADATA_TRANSACTIONS_FILTER)
    if len(codes) != len(block.data):
        raise BlockInconsistent(
            f"block {block.number} metadata[TRANSACTIONS_FILTER]: expected {len(block.data)} "
            f"validation codes (one per transaction), got {len(codes)}",
            field="metadata.transactions_filter",
        )
    if NOT_VALIDATED in codes:
        raise BlockInconsistent(
            f"block {block.number} metadata[TRANSACTIONS_FILTER][{codes.index(NOT_VALIDATED)}]: "
            f"expected a validation code, got NOT_VALIDATED ({NOT_VALIDATED})",
            field="metadata.transactions_filter",
        )
    return codes


def _transaction(envelope: bytes, code: int, version: Version) -> TxOutcome:
    """The outcome of one transaction, from its bytes. Only a VALID endorser transaction has an
    rwset that applies."""
    where = f"block {version.block} tx {version.tx}"
    try:
        tx = ParsedTransaction.parse(envelope)
    except MalformedProto as exc:
        if code != VALID:
            return TxOutcome(
                "", code
            )  # Fabric keeps unreadable invalid transactions; they index nothing.
        raise BlockInconsistent(f"{where} is VALID but {exc.message}", field=exc.field) from exc
    if code != VALID or tx.header_type == HEADER_TYPE_CONFIG:
        return TxOutcome(tx.tx_id, code)
    if tx.header_type != HEADER_TYPE_ENDORSER_TRANSACTION:
        raise BlockInconsistent(
            f"{where} channel_header.type: expected CONFIG ({HEADER_TYPE_CONFIG}) or "
            f"ENDORSER_TRANSACTION ({HEADER_TYPE_ENDORSER_TRANSACTION}) for a VALID "
            f"transaction, got {tx.header_type}",
            field="channel_header.type",
        )
    try:
        rwset = tx.rwset
    except MalformedProto as exc:
        raise BlockInconsistent(f"{where} is VALID but {exc.message}", field=exc.field) from exc
    return TxOutcome(tx.tx_id, code, (rwset,))
