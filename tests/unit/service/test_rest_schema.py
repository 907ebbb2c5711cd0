"""The OpenAPI schemas derived from the records' shapes (mvote.service._rest_schema): every value
a shape accepts (the test vectors' ballots and credentials, question specs) is valid under its
schema, and values a shape refuses for what JSON Schema can say (a pattern, a bound, an unknown
or missing field, a wrong type) are refused by the schema too."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from node_support import open_question_spec

from mvote.chaincode._errors import MvoteError
from mvote.chaincode._records import CAST_SHAPE, QUESTION_SPEC_SHAPE
from mvote.chaincode._schema import Shape
from mvote.service._rest_schema import json_schema

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


def _casts() -> list[dict[str, Any]]:
    ballots = json.loads((VECTORS / "ballots.json").read_text(encoding="utf-8"))["vectors"]
    return [
        {"ballot": v["fields"], "sig": v["sig"], "credential": None, "code": None} for v in ballots
    ]


def _specs() -> list[dict[str, Any]]:
    roster = dict(
        open_question_spec("q-roster", time.time()), eligibility={"kind": "roster", "roster": "r1"}
    )
    return [open_question_spec("q-open", time.time()), roster]


def _accepts(shape: Shape, value: Any) -> bool:
    try:
        shape.check(value, "$")
    except MvoteError:
        return False
    return True


@pytest.mark.parametrize(
    ("shape", "values"),
    [(CAST_SHAPE, _casts()), (QUESTION_SPEC_SHAPE, _specs())],
    ids=["cast", "spec"],
)
def test_what_a_shape_accepts_its_schema_accepts(
    shape: Shape, values: list[dict[str, Any]]
) -> None:
    validator = jsonschema_rs.validator_for(json_schema(shape))
    assert values
    for value in values:
        assert _accepts(shape, value)
        assert validator.is_valid(value), list(validator.iter_errors(value))[:3]


def _mutations(value: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, path, new in (
        ("uppercase hex", ("ballot", "voter"), value["ballot"]["voter"].upper()),
        ("short signature", ("sig",), value["sig"][:-2]),
        ("unknown ballot type", ("ballot", "type"), "mvote.ballot.v0"),
        ("choice out of range", ("ballot", "choices"), [100000]),
        ("qid pattern", ("ballot", "qid"), "Not An Id"),
        ("wrong type", ("ballot", "choices"), "0"),
    ):
        mutated = copy.deepcopy(value)
        target = mutated
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = new
        out.append((name, mutated))
    unknown = copy.deepcopy(value)
    unknown["extra"] = 1
    missing = copy.deepcopy(value)
    del missing["sig"]
    return [*out, ("unknown field", unknown), ("missing field", missing)]


def test_what_a_shape_refuses_by_pattern_bound_or_field_its_schema_refuses() -> None:
    validator = jsonschema_rs.validator_for(json_schema(CAST_SHAPE))
    for name, mutated in _mutations(_casts()[0]):
        assert not _accepts(CAST_SHAPE, mutated), name
        assert not validator.is_valid(mutated), name
