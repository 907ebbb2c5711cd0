"""Fixtures of the ledger tests: the golden Fabric chain (required, not skipped)."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_support import GOLDEN, golden_blocks, golden_json


@pytest.fixture(scope="session")
def golden() -> list[Any]:
    if not (GOLDEN / "blocks.json").is_file():
        # Not a skip: committing real Fabric blocks is what these tests are for.
        pytest.fail(f"golden Fabric chain {GOLDEN} is missing (expected in the repository)")
    return golden_blocks()


@pytest.fixture(scope="session")
def golden_meta(golden: list[Any]) -> dict[str, Any]:
    return golden_json()
