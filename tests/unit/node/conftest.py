"""Fixtures for network init: one generated network per session, the golden Fabric block 0."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fabric_protos.common import common_pb2
from testkit import GOLDEN

from mvote.node.material import NetworkMaterial, init_network

ORGS = "cityhall,district,education"


def golden_path(name: str) -> Path:
    path = GOLDEN / name
    if not path.is_file():
        # Not a skip: the golden comparison is what these tests are for.
        pytest.fail(f"golden Fabric file {path} is missing (expected in the repository)")
    return path


@pytest.fixture(scope="session")
def golden() -> Callable[[str], Path]:
    """The path of a golden file by name; fails the test when it is missing."""
    return golden_path


@pytest.fixture(scope="session")
def golden_block0() -> object:
    return common_pb2.Block.FromString(golden_path("000000.block").read_bytes())


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> NetworkMaterial:
    return init_network(tmp_path_factory.mktemp("net") / "mvote", ORGS)
