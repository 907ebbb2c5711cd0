"""Fixtures of the chaincode's unit tests (helpers live in chaincode_env.py)."""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing
import pytest
from chaincode_env import Env

from mvote.chaincode.simulation import SerialLedger


@pytest.fixture
def env(
    ledger: SerialLedger,
    identity: Callable[[str, str], bytes],
    voter_key: Callable[[int], nacl.signing.SigningKey],
) -> Env:
    return Env(ledger, identity, voter_key)
