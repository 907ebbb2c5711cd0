"""No test decides by sleeping: a test waits on the event that matters (a bounded wait on a
condition, a file, a log line, a process exit).

Reads every Python file under tests/ and fails on any ``sleep`` call outside the few places
below, each a bounded poll of a condition or the random instant of an injected fault.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

#: (file under tests/, enclosing function) -> why a sleep is right there.
ALLOWED: dict[tuple[str, str], str] = {
    ("integration/test_grpc_limits.py", "wait_until"): "bounded poll of the server's counters",
    ("unit/node/test_parallel.py", "test_worker_verdicts_equal_in_process_verdicts"): (
        "bounded poll until the validation worker answers"
    ),
    ("unit/node/test_parallel.py", "test_worker_refuses_to_guess_state_it_was_not_sent"): (
        "bounded poll until the validation worker is ready"
    ),
    ("process/served_support.py", "wait_gone"): (
        "bounded poll of /proc: the gateway processes are not our children, so no waitpid"
    ),
    ("process/test_ledger_kill.py", "_run_child"): "the random instant of the injected SIGKILL",
    ("process/test_node_kill.py", "kill_at_random"): "the random instant of the injected SIGKILL",
    ("process/test_gateway_kill.py", "test_sigkill_the_served_node_and_its_gateway_processes"): (
        "the random instant of the injected SIGKILL, after the run's first receipt"
    ),
}


def _sleeps(path: Path) -> list[tuple[int, str]]:
    """(line, enclosing function) of every call to a function named ``sleep`` in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
            if name == "sleep":
                found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "")
    return found


def test_no_test_sleeps_outside_the_allowed_places() -> None:
    unexpected = [
        f"tests/{path.relative_to(TESTS)}:{line} in {function or 'module'}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, function in _sleeps(path)
        if (path.relative_to(TESTS).as_posix(), function) not in ALLOWED
    ]
    assert not unexpected, "wait on the event that matters instead of sleeping:\n" + "\n".join(
        unexpected
    )


def test_every_allowed_place_still_sleeps() -> None:
    """An entry whose sleep is gone is removed from the table."""
    present = {
        (path.relative_to(TESTS).as_posix(), function)
        for path in TESTS.rglob("*.py")
        for _, function in _sleeps(path)
    }
    assert set(ALLOWED) <= present, sorted(set(ALLOWED) - present)
