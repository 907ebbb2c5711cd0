"""The embedded node's ledger: block file, LevelDB state and indexes, crash recovery.

See docs/ledger.md for the file format, the write order and what recovery guarantees.
"""

from mvote.node.ledger.errors import (
    BlockInconsistent,
    BlockNotFound,
    BlockOutOfOrder,
    BlockRefused,
    LedgerCorrupt,
    LedgerError,
    LedgerUnavailable,
)
from mvote.node.ledger.store import HistoryEntry, Ledger, NamespaceState, TxLocation, WorldState

__all__ = [
    "BlockInconsistent",
    "BlockNotFound",
    "BlockOutOfOrder",
    "BlockRefused",
    "HistoryEntry",
    "Ledger",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerUnavailable",
    "NamespaceState",
    "TxLocation",
    "WorldState",
]
