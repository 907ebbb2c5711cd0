"""JSON Schemas for the REST API's OpenAPI document, derived from the records' declared shapes
(``mvote.chaincode._schema``): the shape that checks a record is the one place its fields,
bounds and patterns are written, and the document says the same.

A schema describes what a shape admits as far as JSON Schema can say it; the shape stays the
check (a sorted array, a canonical point, a valid signature are checked by the service, not by
the schema).
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from mvote.chaincode._records import (
    ANY_BALLOT_SHAPE,
    BALLOT_SHAPE,
    SECRET_BALLOT_SHAPE,
)
from mvote.chaincode._schema import (
    Array,
    Bool,
    Const,
    Hex,
    Int,
    Nullable,
    Object,
    OneOf,
    Shape,
    Tagged,
    Text,
)

JsonSchema = dict[str, Any]


def json_schema(shape: Shape) -> JsonSchema:
    """The JSON Schema of the values ``shape`` admits (an unknown shape admits any value)."""
    if shape is ANY_BALLOT_SHAPE:
        return {"oneOf": [json_schema(BALLOT_SHAPE), json_schema(SECRET_BALLOT_SHAPE)]}
    return _schema(shape)


@singledispatch
def _schema(shape: Shape) -> JsonSchema:
    return {}


@_schema.register
def _text(shape: Text) -> JsonSchema:
    out: JsonSchema = {"type": "string", "minLength": shape.min_len, "maxLength": shape.max_len}
    if shape.pattern is not None:
        out["pattern"] = f"^(?:{shape.pattern})$"
    return out


@_schema.register
def _hex(shape: Hex) -> JsonSchema:
    return {"type": "string", "pattern": f"^[0-9a-f]{{{2 * shape.size}}}$"}


@_schema.register
def _int(shape: Int) -> JsonSchema:
    return {"type": "integer", "minimum": shape.min, "maximum": shape.max}


@_schema.register
def _bool(shape: Bool) -> JsonSchema:
    return {"type": "boolean"}


@_schema.register
def _const(shape: Const) -> JsonSchema:
    return {"type": "string", "enum": [shape.value]}


@_schema.register
def _one_of(shape: OneOf) -> JsonSchema:
    return {"type": "string", "enum": list(shape.values)}


@_schema.register
def _array(shape: Array) -> JsonSchema:
    out: JsonSchema = {
        "type": "array",
        "items": json_schema(shape.item),
        "minItems": shape.min_len,
        "maxItems": shape.max_len,
    }
    if shape.unique or shape.ascending:
        out["uniqueItems"] = True
    return out


@_schema.register
def _nullable(shape: Nullable) -> JsonSchema:
    return {"anyOf": [json_schema(shape.inner), {"type": "null"}]}


@_schema.register
def _object(shape: Object) -> JsonSchema:
    return {
        "type": "object",
        "properties": {key: json_schema(field) for key, field in shape.fields.items()},
        "required": [key for key in shape.fields if key not in shape.optional],
        "additionalProperties": False,
    }


@_schema.register
def _tagged(shape: Tagged) -> JsonSchema:
    return {"oneOf": [json_schema(variant) for variant in shape.variants.values()]}
