"""A bounded, thread-safe memo for answers that are pure functions of their key.

The verifier remembers what it derived from bytes anyone can send (deserialized identities,
identity verdicts, signature checks, compiled policies) so that the same bytes are not checked
twice; it must never remember without bound, or a stranger sending new bytes grows it forever.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: Entries a memo keeps unless told otherwise: more than the distinct identities a channel's
#: members use (peers, orderers, admins, integrators' clients), few enough that strangers sending
#: new ones cannot grow it much (an identity with its parsed certificate is about 6 kB).
MEMO_ENTRIES = 1024


class Memo(Generic[K, V]):
    """A map that keeps its ``entries`` most recently used items; safe to share across threads.

    For answers that are pure functions of their key: forgetting one costs only its recomputation.
    """

    def __init__(self, entries: int = MEMO_ENTRIES) -> None:
        self._entries = entries
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
