"""The public API of the four importable packages is their `__all__`; every other module is private.

An integrator or auditor imports from `mvote.chaincode`, `mvote.verifier`, `mvote.client` or `mvote.service`
(and the two public modules `mvote.chaincode.encoding` and `mvote.client.recipes`); everything
else is an implementation module whose name starts with an underscore, so that moving code
between modules never breaks a user.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PUBLIC_MODULES = {
    "mvote.chaincode": {"encoding"},
    "mvote.verifier": set(),
    "mvote.client": {"recipes"},
    "mvote.service": set(),
}


@pytest.mark.parametrize("package", sorted(PUBLIC_MODULES))
def test_only_the_declared_modules_are_public(package: str) -> None:
    pkg = importlib.import_module(package)
    public = {m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")}
    assert public == PUBLIC_MODULES[package], (
        f"{package}: expected public modules {PUBLIC_MODULES[package]}, got {public}"
    )
