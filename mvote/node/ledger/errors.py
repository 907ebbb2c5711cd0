"""Errors of the embedded node's ledger, each with a stable code under the mvote error root.

A refused block (:class:`BlockOutOfOrder`, :class:`BlockInconsistent`) leaves the ledger exactly
as it was; :class:`LedgerCorrupt` means the files on disk contradict each other and a human must
look; :class:`LedgerUnavailable` means this handle cannot be used (closed, locked by another
process, or a commit failed half-way and only a reopen, which recovers, can tell what is durable).
"""

from __future__ import annotations

from mvote.chaincode._errors import MvoteError


class LedgerError(MvoteError):
    """Root of the ledger's own errors; never raised itself."""


class BlockRefused(LedgerError):
    """A block the ledger will not commit; nothing of it was persisted. Never raised itself."""


class BlockOutOfOrder(BlockRefused):
    code = "LEDGER_BLOCK_OUT_OF_ORDER"
    summary = "a block to commit is not the next one: its number is not the ledger height, or its previous hash is not the last block's header hash"


class BlockInconsistent(BlockRefused):
    code = "LEDGER_BLOCK_INCONSISTENT"
    summary = "a block to commit contradicts itself: no header, a wrong data hash, a validation filter missing or of the wrong length, or a VALID transaction whose rwset does not parse"


class BlockNotFound(LedgerError):
    code = "LEDGER_BLOCK_NOT_FOUND"
    summary = "the ledger holds no block with that number or header hash"


class LedgerCorrupt(LedgerError):
    code = "LEDGER_CORRUPT"
    summary = "the block file and the index disagree beyond what a crash can cause (fewer blocks than committed, a bad checksum inside committed blocks, a stored block that does not chain)"


class LedgerUnavailable(LedgerError):
    code = "LEDGER_UNAVAILABLE"
    summary = "the ledger is closed, opened by another process, or stopped after a failed commit (reopen it to recover)"


class IndexDamaged(LedgerCorrupt):
    """The index cannot be used (missing, unreadable by LevelDB, or without the entries of blocks
    its marker counts) while the block file holds blocks. Opening a ledger rebuilds such an index
    from the block file; raised only if the rebuilt one fails too."""
