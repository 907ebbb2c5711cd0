"""mvote.chaincode declares its public names in ``__all__``, and each resolves."""

from __future__ import annotations

import mvote.chaincode as chaincode
from mvote.chaincode._errors import MvoteError


def test_every_public_name_resolves_and_is_listed_once() -> None:
    assert len(set(chaincode.__all__)) == len(chaincode.__all__)
    assert chaincode.__all__ == sorted(chaincode.__all__, key=lambda n: (not n.isupper(), n))
    for name in chaincode.__all__:
        assert getattr(chaincode, name) is not None, name


def test_the_public_errors_are_in_the_chaincode_table() -> None:
    public = [getattr(chaincode, n) for n in chaincode.__all__]
    errors = [c for c in public if isinstance(c, type) and issubclass(c, MvoteError)]
    assert errors and all(c in chaincode.ERRORS for c in errors)


def test_the_chaincode_has_no_assert() -> None:
    """An assert vanishes under ``python -O``: the chaincode states its checks as code."""
    import ast
    from pathlib import Path

    root = Path(chaincode.__file__).parent
    found = [
        f"{path.relative_to(root)}:{node.lineno}"
        for path in sorted(root.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert not found, f"assert statements in mvote/chaincode: {found}"


def test_no_chaincode_class_name_is_used_by_another_part() -> None:
    import ast
    from pathlib import Path

    root = Path(chaincode.__file__).parent
    mvote_root = root.parent

    def classes(paths: list[Path]) -> dict[str, str]:
        return {
            node.name: str(path.relative_to(mvote_root))
            for path in paths
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ClassDef)
        }

    ours = classes(sorted(root.rglob("*.py")))
    theirs = classes([p for p in sorted(mvote_root.rglob("*.py")) if root not in p.parents])
    clashes = {name: (ours[name], theirs[name]) for name in ours.keys() & theirs.keys()}
    assert not clashes, f"class names defined both in the chaincode and elsewhere: {clashes}"
