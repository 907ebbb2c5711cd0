"""Golden Fabric chain fixtures for the verifier tests.

The golden blocks live in ``tests/vectors/fabric-golden`` (``testkit.GOLDEN``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from testkit import GOLDEN


def _golden_dir() -> Path:
    if not (GOLDEN / "blocks.json").is_file():
        pytest.fail(f"golden Fabric chain not found at {GOLDEN} (expected in the repository)")
    return GOLDEN


@pytest.fixture(scope="session")
def golden_index() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_golden_dir() / "blocks.json").read_text())
    return data


@pytest.fixture(scope="session")
def golden_blocks() -> list[bytes]:
    d = _golden_dir()
    return [(d / f"{i:06d}.block").read_bytes() for i in range(16)]


@pytest.fixture(scope="session")
def genesis_hash(golden_index: dict[str, Any]) -> bytes:
    return bytes.fromhex(golden_index["blocks"][0]["header_hash"])
