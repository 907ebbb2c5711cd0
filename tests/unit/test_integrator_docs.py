"""The worked examples docs/integrators.md shows are the code the tests run: every code block
marked ``<!-- quoted from PATH ... -->`` is a verbatim part of the file PATH (the Python
examples in docs/examples/, the JavaScript integrators in tests/interop/), and each of the four
(Python and JavaScript, gRPC and REST) is quoted."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrators.md"
QUOTE = re.compile(r"<!-- quoted from (\S+) [^\n]*-->\n```\w+\n(.*?)\n```", re.DOTALL)


def _quotes(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in QUOTE.finditer(text)]


def test_every_quote_is_verbatim_from_its_file() -> None:
    quotes = _quotes(DOC.read_text(encoding="utf-8"))
    assert quotes
    for path, code in quotes:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert code in source, f"docs/integrators.md quotes {path}, which no longer holds it"


def test_the_four_worked_examples_are_quoted() -> None:
    quoted = {path for path, _ in _quotes(DOC.read_text(encoding="utf-8"))}
    assert quoted >= {
        "docs/examples/grpc_integrator.py",
        "docs/examples/rest_integrator.py",
        "tests/interop/service_client.mjs",
        "tests/interop/rest_client.mjs",
    }


def test_a_changed_quote_is_caught() -> None:
    text = DOC.read_text(encoding="utf-8").replace("with_receipt=True", "with_receipt=False", 1)
    path, code = next(q for q in _quotes(text) if "with_receipt=False" in q[1])
    assert code not in (ROOT / path).read_text(encoding="utf-8")
