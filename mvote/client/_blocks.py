"""Committed blocks pulled through the peer's Deliver service: a range, or one by number.

:meth:`Network.block_events` follows the ledger as it grows; these helpers take what is already
committed and stop (``FAIL_IF_NOT_READY``), for exports and receipts.
"""

from __future__ import annotations

import threading

from mvote.client._network import Network
from mvote.verifier import _deliver as deliver


def fetch_blocks(
    network: Network, start: int = 0, stop: int | None = None, *, timeout: float | None = 120.0
) -> list[bytes]:
    """The raw committed blocks ``start..stop`` (inclusive; ``None``: up to the newest)."""
    return deliver.fetch_blocks(
        network.gateway.channel, network.gateway.signer, network.name, start, stop, timeout=timeout
    )


class BlockFetcher:
    """A :data:`mvote.client._receipt.BlockSource` over Deliver: block number -> raw block,
    each fetched once."""

    def __init__(self, network: Network) -> None:
        self._network = network
        self._cache: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, number: int) -> bytes:
        with self._lock:
            if number not in self._cache:
                (self._cache[number],) = fetch_blocks(self._network, number, number)
            return self._cache[number]
