"""Process-level tests: each starts real processes (``mvote node start``, gateway worker processes,
kill-test children) and SIGKILLs or signals them. Every test collected here is marked ``process``,
so ``make test-fast`` (``-m "not process and not slow"``) leaves them out; ``make test`` runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.process)
