"""Shared fixtures: real X.509 identities as Fabric creators, voter keys, an in-process ledger."""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing
import pytest
from testkit import creator_bytes

from mvote.chaincode.simulation import SerialLedger


@pytest.fixture
def identity() -> Callable[[str, str], bytes]:
    return creator_bytes


@pytest.fixture
def ledger() -> SerialLedger:
    return SerialLedger("mvote")


@pytest.fixture
def voter_key() -> Callable[[int], nacl.signing.SigningKey]:
    """Deterministic voter keys by index (seeded), so vectors and failures are reproducible."""

    def make(i: int) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(i.to_bytes(4, "big") * 8)

    return make
