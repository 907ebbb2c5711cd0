"""Schemathesis fuzzing of the running REST API: for every operation of docs/openapi.json (the
document the app serves: test_rest.py keeps them equal), requests generated from the schema
(positive: what the schema admits; negative: what it does not) go to a real uvicorn server in
front of a real embedded node. Operator requests are signed as city hall's admin, so the
fuzzer reaches the contract through them too.

Every answer must be below 500; every refusal an application/problem+json body whose code is
one docs/errors.md lists (a code of the tables the service sees) with the status it maps to;
every success must match the operation's declared response schema. The number of examples is
bounded (``EXAMPLES`` per operation and mode, derandomized) so that this runs in CI in well
under a minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from grpc_support import Served
from hypothesis import HealthCheck, given, reject, settings
from rest_support import Rest, serve_rest
from schemathesis import checks

from mvote.chaincode import _errors as chaincode_errors
from mvote.chaincode import encoding
from mvote.chaincode._errors import MvoteError, error_types
from mvote.client import _errors as client_errors
from mvote.service import _errors as service_errors
from mvote.service._rest_auth import signed_headers
from mvote.service._rest_errors import PROBLEM_MEDIA_TYPE
from mvote.verifier import _errors as verifier_errors

DOCUMENT = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8")
)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
TYPES = error_types(
    chaincode_errors.ERRORS, verifier_errors.ERRORS, client_errors.ERRORS, service_errors.ERRORS
)
#: (operation, mode): every operation with schema-valid requests, and with requests the schema
#: does not admit where it has anything to break (parameters or a body).
CASES = [
    (label, mode)
    for label, operation in sorted(OPERATIONS.items())
    for mode in schemathesis.GenerationMode
    if mode is schemathesis.GenerationMode.POSITIVE
    or "parameters" in operation.definition.raw
    or "requestBody" in operation.definition.raw
]
#: Examples per operation and generation mode.
EXAMPLES = 15


@pytest.fixture(scope="module")
def rest(served: Served) -> Iterator[Rest]:
    yield from serve_rest(served)


def _body_bytes(kwargs: dict[str, Any]) -> bytes:
    """The body the case carries: canonical JSON where the value has one (so that fuzzed
    values reach the checks behind the encoding), else as Python's json writes it."""
    if "json" not in kwargs:
        data = kwargs.get("data", b"")
        return data.encode() if isinstance(data, str) else bytes(data or b"")
    try:
        return encoding.encode(kwargs["json"])
    except (MvoteError, TypeError, ValueError):
        return json.dumps(kwargs["json"]).encode()


def _request(rest: Rest, case: schemathesis.Case) -> httpx.Request:
    kwargs = case.as_transport_kwargs(base_url=rest.server.url)
    body = _body_bytes(kwargs)
    headers = {str(k): str(v) for k, v in kwargs.get("headers", {}).items()}
    try:
        request = rest.http.build_request(
            kwargs["method"], kwargs["url"], params=kwargs.get("params"), content=body or None
        )
        request.headers.update(headers)
    except (httpx.HTTPError, UnicodeError, ValueError, TypeError):
        reject()  # a request HTTP itself cannot carry: nothing for the server to answer
    if "security" in case.operation.definition.raw:  # an operator request: sign it
        request.headers.update(
            signed_headers(
                rest.admin(),
                request.method,
                request.url.raw_path.split(b"?")[0].decode(),
                body,
                query=request.url.query.decode(),
            )
        )
    return request


#: Schemathesis's checks of an answer against the document: no 5xx, a declared status, the
#: declared media type, the declared schema (success bodies and problems alike).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def _check(case: schemathesis.Case, response: httpx.Response) -> None:
    status = response.status_code
    assert status < 500, f"{case.operation.label}: {status} {response.text[:500]}"
    if status >= 400:
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, response.text[:300]
        problem = response.json()
        assert problem["code"] in TYPES, f"undocumented code {problem['code']}"
        assert problem["status"] == status and problem["type"].endswith(problem["code"])
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{a}-{m.value}" for a, m in CASES])
def test_fuzzed_requests_get_no_server_error_and_only_documented_codes(
    rest: Rest, label: str, mode: schemathesis.GenerationMode
) -> None:
    operation = OPERATIONS[label]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        _check(case, rest.http.send(_request(rest, case)))

    fuzz()
