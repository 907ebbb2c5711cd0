"""The folder layout is the architecture: chaincode <- verifier <- client <- service <- node.

Reads every module's imports (including imports inside functions) and fails on any that points
upward or sideways against the allowed direction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mvote"

#: part -> the parts of mvote it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "chaincode": set(),
    "verifier": {"chaincode"},
    "client": {"verifier", "chaincode"},
    "service": {"client", "verifier", "chaincode"},
    "node": {"service", "client", "verifier", "chaincode"},
}


def _part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else ""


def _imported_parts(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, part of mvote) for every import in ``path``, a module under package dir ``root``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ["mvote", *path.relative_to(root).parts[:-1]]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join([*base, *(node.module.split(".") if node.module else [])])]
            else:
                names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mvote" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _part_of(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_only(path: Path) -> None:
    part = _part_of(path)
    bad = [
        f"line {line}: imports mvote.{target}"
        for line, target in _imported_parts(path)
        if target != part and target not in ALLOWED[part]
    ]
    assert not bad, (
        f"{path.relative_to(PACKAGE)} ({part}) may import only {sorted(ALLOWED[part])}: {bad}"
    )


def test_the_checker_sees_upward_imports(tmp_path: Path) -> None:
    # Guard against a checker that passes everything: upward imports, absolute, relative and
    # inside a function, must all be found.
    module = tmp_path / "chaincode" / "probe.py"
    module.parent.mkdir()
    module.write_text(
        "from mvote.node import material\nfrom ..client import ballot\n"
        "def f():\n    import mvote.verifier._block\n"
    )
    assert [t for _, t in _imported_parts(module, tmp_path)] == ["node", "client", "verifier"]
