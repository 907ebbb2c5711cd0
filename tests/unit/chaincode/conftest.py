"""Fixtures of the chaincode's unit tests (helpers live in chaincode_env.py)."""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing
import pytest

from mvote.chaincode._simulation import SerialLedger

# The helpers' asserts are checks of the tests: rewrite them like a test module's, so that they
# run (and explain themselves) under ``python -O`` too.
pytest.register_assert_rewrite("chaincode_env", "secret_env")

from chaincode_env import Env  # noqa: E402


@pytest.fixture
def env(
    ledger: SerialLedger,
    identity: Callable[[str, str], bytes],
    voter_key: Callable[[int], nacl.signing.SigningKey],
) -> Env:
    return Env(ledger, identity, voter_key)
