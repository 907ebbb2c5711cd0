"""The five explicit error tables list every error class, and docs/errors.md lists every code.

Imports every mvote module (so that every error class exists), then checks that each class that
sets its own code is in one of the five ``ERRORS`` tables (and each class without one inherits
from a listed class), and compares the tables with docs/errors.md: a code missing from the docs,
a documented code that no table lists, or a summary that differs from the class's all fail. The
fix for the docs is always the same: regenerate with ``.venv/bin/python docs/gen_errors.py``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import re
from collections import Counter
from pathlib import Path

import pytest

import mvote
from mvote.chaincode import _errors as chaincode_errors
from mvote.chaincode._errors import ErrorTable, MvoteError, error_types
from mvote.client import _errors as client_errors
from mvote.node import errors as node_errors
from mvote.service import _errors as service_errors
from mvote.verifier import _errors as verifier_errors

TABLES: dict[str, ErrorTable] = {
    "mvote.chaincode": chaincode_errors.ERRORS,
    "mvote.verifier": verifier_errors.ERRORS,
    "mvote.client": client_errors.ERRORS,
    "mvote.service": service_errors.ERRORS,
    "mvote.node": node_errors.ERRORS,
}

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
REGENERATE = "regenerate the table with: .venv/bin/python docs/gen_errors.py"
CODE_FORMAT = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")
#: A table row: | `CODE` | summary | fields | module |  (a literal "|" is written "\|").
ROW = re.compile(r"^\|\s*`(?P<code>[^`]+)`\s*\|(?P<rest>.*)\|\s*$")


def _import_every_module() -> list[str]:
    """Import every module of mvote. A ``__main__`` module runs its program when imported, so it
    is read instead, and must define no class (an error class there would escape the table)."""
    names = []
    for info in pkgutil.walk_packages(mvote.__path__, "mvote.", onerror=_raise):
        if info.name.rpartition(".")[2] == "__main__":
            _check_defines_no_class(info.name)
        else:
            try:
                importlib.import_module(info.name)
            except ModuleNotFoundError as exc:
                # test_layering.py writes and deletes a probe module in mvote/chaincode; under
                # pytest-xdist it can vanish between listing and import. Only that is tolerated.
                if exc.name != info.name or importlib.util.find_spec(info.name) is not None:
                    raise
                continue
        names.append(info.name)
    return names


def _check_defines_no_class(name: str) -> None:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, name
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"), spec.origin)
    classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    assert not classes, (
        f"{name} defines classes {classes}: move them to a module that can be imported"
    )


def _raise(name: str) -> None:
    raise ImportError(f"cannot import package {name} while walking mvote")


def _cells(rest: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", rest)]


def _documented() -> list[tuple[str, str]]:
    """(code, summary) for every row of the error table in docs/errors.md, in order."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match["code"], _cells(match["rest"])[0]))
    return rows


def _all_subclasses(cls: type[MvoteError]) -> list[type[MvoteError]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def _defined_in_source(cls: type[MvoteError]) -> bool:
    """A class written in a module (not one made at run time, like the client's typed
    stage errors, which subclass listed classes)."""
    module = importlib.import_module(cls.__module__)
    return getattr(module, cls.__qualname__, None) is cls


@pytest.fixture(scope="module")
def defined() -> dict[str, type[MvoteError]]:
    modules = _import_every_module()
    assert "mvote.chaincode._errors" in modules, modules
    return dict(error_types(*TABLES.values()))


def test_every_error_class_is_in_its_packages_table(defined: dict[str, type[MvoteError]]) -> None:
    listed = {cls for table in TABLES.values() for cls in table}
    problems = []
    for cls in _all_subclasses(MvoteError):
        if not _defined_in_source(cls):
            continue
        if "code" in vars(cls) and cls not in listed:
            problems.append(f"{cls.__module__}.{cls.__qualname__} sets code {cls.code}: list it")
        if not any(base in listed for base in cls.__mro__):
            problems.append(f"{cls.__module__}.{cls.__qualname__} inherits no listed code")
    for package, table in TABLES.items():
        foreign = [c.__qualname__ for c in table if not c.__module__.startswith(package)]
        problems += [f"{package}.errors.ERRORS lists {name} of another part" for name in foreign]
    assert not problems, "\n".join(problems)


def test_a_code_listed_twice_is_refused_and_defining_a_class_registers_nothing() -> None:
    before = dict(chaincode_errors.ERROR_TYPES)

    class Twin(MvoteError):
        code = "NOT_FOUND"
        summary = "a second class with a code already listed"

    assert "__init_subclass__" not in vars(MvoteError)
    assert dict(chaincode_errors.ERROR_TYPES) == before

    with pytest.raises(TypeError, match="NOT_FOUND"):
        error_types(chaincode_errors.ERRORS, (Twin,))
    with pytest.raises(TypeError, match="sets no code"):
        error_types((type("NoCode", (MvoteError,), {}),))


def test_every_code_is_documented_with_its_summary(defined: dict[str, type[MvoteError]]) -> None:
    documented = dict(_documented())
    assert documented, f"{DOC} has no error table rows; {REGENERATE}"
    missing = sorted(set(defined) - set(documented))
    unknown = sorted(set(documented) - set(defined))
    differing = [
        f"{code}: doc says {documented[code]!r}, class {defined[code].__qualname__} says "
        f"{defined[code].summary!r}"
        for code in sorted(set(defined) & set(documented))
        if documented[code] != defined[code].summary
    ]
    problems = (
        [f"not in docs/errors.md: {code}" for code in missing]
        + [f"documented but defined by no class: {code}" for code in unknown]
        + differing
    )
    assert not problems, (
        "docs/errors.md is out of step with the code; " + REGENERATE + "\n" + ("\n".join(problems))
    )


def test_each_code_has_one_row() -> None:
    repeated = [code for code, n in Counter(c for c, _ in _documented()).items() if n > 1]
    assert not repeated, f"codes listed more than once in docs/errors.md: {repeated}; {REGENERATE}"


def test_codes_are_upper_snake_case_and_unique(defined: dict[str, type[MvoteError]]) -> None:
    badly_spelled = sorted(code for code in defined if not CODE_FORMAT.fullmatch(code))
    assert not badly_spelled, f"error codes must be UPPER_SNAKE_CASE: {badly_spelled}"
    # error_types refuses a code listed twice; check again over the class tree (a class not in
    # any table could repeat a code), and that every such class is the one its table maps.
    own = [
        cls
        for cls in _all_subclasses(MvoteError)
        if "code" in cls.__dict__ and _defined_in_source(cls)
    ]
    repeated = [code for code, n in Counter(cls.code for cls in own).items() if n > 1]
    assert not repeated, f"error codes defined by more than one class: {repeated}"
    unregistered = [cls.__qualname__ for cls in own if defined.get(cls.code) is not cls]
    assert not unregistered, f"error classes whose code is not in a table: {unregistered}"


def test_every_code_has_its_own_one_line_summary(defined: dict[str, type[MvoteError]]) -> None:
    inherited = sorted(
        code
        for code, cls in defined.items()
        if cls is not MvoteError and ("summary" not in vars(cls) or not cls.summary.strip())
    )
    assert not inherited, f"error classes without their own summary: {inherited}"
    multiline = sorted(code for code, cls in defined.items() if "\n" in cls.summary)
    assert not multiline, f"summaries must be one line (they are table cells): {multiline}"
