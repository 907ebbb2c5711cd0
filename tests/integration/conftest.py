"""One network and one running node with its TLS gRPC server per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from grpc_support import Served, serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(tmp_path_factory.mktemp("net") / "network", tls=True)
