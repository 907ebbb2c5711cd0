"""The REST API (mvote.service._rest) on a real uvicorn server in front of a real embedded node:
an operator's signed requests, a voter's ballot with a receipt that verifies from the genesis
hash, the reads, every refusal class with its stable code in an application/problem+json body
and no state change, and the OpenAPI document kept in docs/ equal to the one served."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest
from grpc_support import Served
from node_support import cast_request, open_question_spec, voter_key
from rest_support import Rest, foreign_admin, serve_rest

from mvote.chaincode import _errors as chaincode_errors
from mvote.chaincode import encoding
from mvote.chaincode._errors import error_types
from mvote.chaincode._records import QuestionSpec
from mvote.client import _errors as client_errors
from mvote.client._ballot import prepare_ballot, voter_public_hex
from mvote.client._voting import CastResult
from mvote.service import CallLimiter, Limits, Rate, VotingService
from mvote.service import _errors as service_errors
from mvote.service._rest import RestServer, create_app
from mvote.service._rest_auth import AdminAuthority, signed_headers
from mvote.verifier import Receipt, verify_receipt
from mvote.verifier import _errors as verifier_errors
from mvote.verifier._chain import verify_chain

JSON_TYPE = {"content-type": "application/json"}
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
TYPES = error_types(
    chaincode_errors.ERRORS, verifier_errors.ERRORS, client_errors.ERRORS, service_errors.ERRORS
)


@pytest.fixture(scope="module")
def rest(served: Served) -> Iterator[Rest]:
    yield from serve_rest(served)


@pytest.fixture(scope="module")
def question(rest: Rest) -> dict[str, Any]:
    """An OPEN single-choice question whose voters hold a registrar credential, created and
    opened by city hall's admin through REST."""
    spec = open_question_spec("rest-q", time.time(), options=("Jeju", "Busan", "Seoul"))
    created = rest.signed("POST", "/v1/questions", spec, params={"open": "true"})
    assert created.status_code == 200, created.text
    assert created.json()["question"]["state"] == "OPEN"
    assert created.json()["question"]["owner"] == "CityhallMSP"
    return spec


def _ballot(rest: Rest, spec: dict[str, Any], voter: int, choice: int) -> bytes:
    return encoding.encode(cast_request(rest.channel, spec, voter_key(voter), choice).to_json())


def refused(response: httpx.Response, status: int, code: str, field: str | None) -> None:
    """``response`` is the problem of ``code`` naming ``field``, as docs/errors.md lists it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["field"], body["status"]) == (code, field, status), body
    assert body["type"] == f"urn:mvote:error:{code}"
    assert body["title"] == TYPES[code].summary
    assert body["detail"]


def _state(rest: Rest, qid: str) -> tuple[int, Any]:
    return rest.height(), rest.http.get(f"/v1/questions/{qid}/results").json()


# --- voters ------------------------------------------------------------------------------------


def test_a_voter_casts_over_rest_and_the_receipt_verifies(
    rest: Rest, question: dict[str, Any]
) -> None:
    raw = _ballot(rest, question, 1, 1)
    cast = rest.cast(raw, receipt="true")
    assert cast.status_code == 200, cast.text
    answer = cast.json()
    assert answer["qid"] == "rest-q" and answer["block_number"] > 0
    receipt = Receipt.from_bytes(encoding.encode(answer["receipt"]))
    report = verify_receipt(receipt, anchor=rest.served.material.genesis_hash)
    assert report.verified, [c for c in report.checks if not c.ok]
    assert (receipt.tracker, receipt.tx_id) == (answer["tracker"], answer["transaction_id"])
    # Later, from the voter's key alone: the same receipt, and the history entry.
    voter = voter_public_hex(voter_key(1))
    again = rest.http.get(f"/v1/questions/rest-q/receipts/{voter}")
    assert again.status_code == 200 and again.json() == answer["receipt"]
    history = rest.http.get(f"/v1/voters/{voter}/history").json()
    assert [(h["qid"], h["tracker"]) for h in history["history"]] == [("rest-q", answer["tracker"])]
    results = rest.http.get("/v1/questions/rest-q/results").json()
    assert results["counts"] == [0, 1, 0] and results["final"] is False
    record = rest.http.get(f"/v1/questions/rest-q/ballots/{voter}").json()
    assert record["ballot"]["voter"] == voter and record["ballot"]["choices"] == [1]


def test_questions_are_listed_filtered_and_paged(rest: Rest, question: dict[str, Any]) -> None:
    page = rest.http.get("/v1/questions", params={"page_size": "1", "search": "busan"}).json()
    assert [q["qid"] for q in page["questions"]] == ["rest-q"] and page["total"] == 1
    assert rest.http.get("/v1/questions", params={"state": "CLOSED"}).json()["total"] == 0
    assert rest.http.get("/v1/questions", params={"eligibility": "onsite"}).json()["total"] == 0
    open_ones = rest.http.get("/v1/questions", params={"eligibility": "open", "mode": "open"})
    assert "rest-q" in [q["qid"] for q in open_ones.json()["questions"]]
    refused(rest.http.get("/v1/questions", params={"state": "open"}), 400, "INVALID_FIELD", "state")
    one = rest.http.get("/v1/questions/rest-q").json()
    assert QuestionSpec.from_json({k: one[k] for k in question}).to_json() == question
    refused(
        rest.http.get("/v1/questions", params={"page_size": "0"}), 400, "INVALID_FIELD", "page_size"
    )
    refused(rest.http.get("/v1/questions/no-such-q"), 404, "NOT_FOUND", "qid")
    refused(rest.http.get("/v1/questions/NOT_AN_ID"), 400, "INVALID_FIELD", "qid")
    refused(rest.http.get("/v1/ceremonies/no-such-c"), 404, "NOT_FOUND", "cid")
    nobody = "00" * 32
    refused(rest.http.get(f"/v1/questions/rest-q/ballots/{nobody}"), 404, "NOT_FOUND", "voter")


def test_the_chain_read_over_rest_verifies_from_the_genesis_hash(rest: Rest) -> None:
    info = rest.http.get("/v1/chain").json()
    anchor = rest.served.material.genesis_hash
    assert info["genesis_hash"] == anchor.hex() and info["channel"] == rest.channel
    blocks = []
    for number in range(info["height"]):
        got = rest.http.get(f"/v1/blocks/{number}")
        assert got.headers["content-type"] == "application/octet-stream"
        blocks.append(got.content)
    assert verify_chain(blocks, anchor).findings == []
    refused(rest.http.get(f"/v1/blocks/{info['height'] + 100}"), 404, "NOT_FOUND", "block")


def test_refused_ballots_change_nothing(
    rest: Rest, question: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mvote.service.rest")
    rest.cast(_ballot(rest, question, 2, 0)).raise_for_status()
    before = _state(rest, "rest-q")
    good = _ballot(rest, question, 3, 0)
    value = json.loads(good)
    forged = dict(value, sig=("00" if value["sig"][:2] != "00" else "11") + value["sig"][2:])
    elsewhere = dict(value, ballot=dict(value["ballot"], channel="elsewhere"))
    spec = QuestionSpec.from_json(dict(question, qid="no-such-q"))
    unknown = prepare_ballot(voter_key(3), channel=rest.channel, question=spec, choices=(0,))
    cases = [
        (rest.cast(_ballot(rest, question, 2, 1)), 409, "ALREADY_VOTED", "ballot.voter"),
        (rest.cast(encoding.encode(forged)), 400, "BAD_SIGNATURE", "sig"),
        (rest.cast(good.replace(b"{", b"{ ", 1)), 400, "NON_CANONICAL", "request"),
        (rest.cast(b"{not json"), 400, "MALFORMED", "request"),
        (rest.cast(b""), 400, "MALFORMED", "request"),
        (rest.cast(encoding.encode(elsewhere)), 400, "WRONG_CHANNEL", "ballot.channel"),
        (rest.cast(encoding.encode(unknown.to_json())), 404, "NOT_FOUND", "qid"),
        (rest.cast(encoding.encode({"sig": value["sig"]})), 400, "INVALID_FIELD", "ballot"),
        (rest.cast(b"[" + b" " * (2 << 20) + b"]"), 413, "TOO_LARGE", "body"),
        (
            rest.http.post("/v1/ballots", content=good, headers={"content-type": "text/plain"}),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "content-type",
        ),
    ]
    for response, status, code, field in cases:
        refused(response, status, code, field)
    assert _state(rest, "rest-q") == before
    # Each refusal is logged with its code and route, never with the ballot or the voter's key.
    logged = [r.getMessage() for r in caplog.records if r.name == "mvote.service.rest"]
    assert any("POST /v1/ballots refused: 409 ALREADY_VOTED" in m for m in logged), logged
    assert any("BAD_SIGNATURE" in m for m in logged)
    voter = value["ballot"]["voter"]
    assert not [m for m in logged if voter in m or value["sig"] in m]


def test_unknown_routes_and_methods_are_problems(rest: Rest) -> None:
    refused(rest.http.get("/v1/nothing-here"), 404, "ROUTE_NOT_FOUND", "path")
    refused(rest.http.delete("/v1/questions"), 405, "METHOD_NOT_ALLOWED", "method")
    refused(rest.http.get("/v1/blocks/minus-one"), 400, "INVALID_FIELD", "number")


# --- operators ---------------------------------------------------------------------------------


def test_an_operator_runs_a_roster_question_to_its_tally(rest: Rest) -> None:
    voters = [voter_key(n) for n in (10, 11, 12)]
    keys = [voter_public_hex(v) for v in voters]
    made = rest.signed("POST", "/v1/rosters", {"rid": "rest-roster", "title": "Class 3B"})
    assert made.status_code == 200, made.text
    added = rest.signed("POST", "/v1/rosters/rest-roster/entries", {"public_keys": keys})
    assert added.json()["added"] == 3 and added.json()["roster"]["count"] == 3
    sealed = rest.signed("POST", "/v1/rosters/rest-roster/seal")
    assert sealed.json()["roster"]["sealed"] is True
    assert rest.http.get("/v1/rosters/rest-roster").json()["sealed"] is True
    now = int(time.time())
    spec = {
        "qid": "rest-trip",
        "title": "Where should the class trip go?",
        "description": "",
        "options": ["Gyeongju", "Jeju"],
        "rule": {"kind": "single"},
        "eligibility": {"kind": "roster", "roster": "rest-roster"},
        "schedule": {"opens_at": now - 60, "closes_at": now + 3600},
        "mode": "open",
        "shards": 2,
    }
    created = rest.signed("POST", "/v1/questions", spec)
    assert created.json()["question"]["state"] == "DRAFT"
    assert rest.signed("POST", "/v1/questions/rest-trip/open").json()["question"]["state"] == "OPEN"
    question = QuestionSpec.from_json(spec)
    for voter, choice in zip(voters, (1, 1, 0), strict=True):
        ballot = prepare_ballot(voter, channel=rest.channel, question=question, choices=(choice,))
        rest.cast(encoding.encode(ballot.to_json())).raise_for_status()
    early = rest.signed("POST", "/v1/questions/rest-trip/close")
    refused(early, 409, "INVALID_TRANSITION", "reason")
    closed = rest.signed("POST", "/v1/questions/rest-trip/close", params={"reason": "all voted"})
    assert closed.json()["question"]["state"] == "CLOSED"
    tallied = rest.signed("POST", "/v1/questions/rest-trip/tally")
    assert tallied.status_code == 200, tallied.text
    assert tallied.json()["already"] is False
    assert rest.http.get("/v1/questions/rest-trip").json()["state"] == "TALLIED"
    assert tallied.json()["tally"]["counts"] == [1, 2]
    results = rest.http.get("/v1/questions/rest-trip/results").json()
    assert results["final"] is True


def test_operator_requests_from_anyone_but_an_institution_admin_change_nothing(
    rest: Rest,
) -> None:
    spec = open_question_spec("rest-never", time.time())
    raw = encoding.encode(spec)
    height = rest.height()
    headers = signed_headers(rest.admin(), "POST", "/v1/questions", raw)
    json_type = {"content-type": "application/json"}
    cases = [
        # no signature at all
        (
            rest.http.post("/v1/questions", content=raw, headers=json_type),
            401,
            "SIGNATURE_REQUIRED",
            "Mvote-Identity",
        ),
        # a client (not an admin) of the institution
        (
            rest.signed("POST", "/v1/questions", spec, signer=rest.served.signer()),
            403,
            "ADMIN_REQUIRED",
            "Mvote-Identity",
        ),
        # an admin of another institution of the channel
        (
            rest.signed("POST", "/v1/questions", spec, signer=rest.admin("district")),
            403,
            "IDENTITY_REFUSED",
            "Mvote-Identity",
        ),
        # an 'admin' certificate from a CA the institution's MSP does not trust
        (
            rest.signed("POST", "/v1/questions", spec, signer=foreign_admin("CityhallMSP")),
            403,
            "IDENTITY_REFUSED",
            "Mvote-Identity",
        ),
        # a body other than the one signed
        (
            rest.http.post(
                "/v1/questions",
                content=raw.replace(b"rest-never", b"rest-other"),
                headers={**headers, **json_type},
            ),
            401,
            "REQUEST_SIGNATURE_INVALID",
            "Mvote-Signature",
        ),
        # a signature over another path
        (
            rest.http.post("/v1/rosters", content=raw, headers={**headers, **json_type}),
            401,
            "REQUEST_SIGNATURE_INVALID",
            "Mvote-Signature",
        ),
        # signed an hour ago
        (
            rest.signed("POST", "/v1/questions", spec, timestamp=int(time.time()) - 3600),
            401,
            "REQUEST_EXPIRED",
            "Mvote-Timestamp",
        ),
        # not base64
        (
            rest.http.post(
                "/v1/questions",
                content=raw,
                headers={**headers, **json_type, "Mvote-Signature": "%%%"},
            ),
            401,
            "REQUEST_SIGNATURE_INVALID",
            "Mvote-Signature",
        ),
    ]
    for response, status, code, field in cases:
        refused(response, status, code, field)
    assert rest.height() == height
    refused(rest.http.get("/v1/questions/rest-never"), 404, "NOT_FOUND", "qid")


def test_a_signed_operator_request_is_taken_once(rest: Rest) -> None:
    body = {"rid": "rest-once", "title": "Once"}
    raw = encoding.encode(body)
    headers = {
        **signed_headers(rest.admin(), "POST", "/v1/rosters", raw),
        "content-type": "application/json",
    }
    first = rest.http.post("/v1/rosters", content=raw, headers=headers)
    assert first.status_code == 200, first.text
    height = rest.height()
    refused(
        rest.http.post("/v1/rosters", content=raw, headers=headers),
        401,
        "REQUEST_REPLAYED",
        "Mvote-Signature",
    )
    assert rest.height() == height


def test_operator_refusals_of_the_contract_keep_their_codes(
    rest: Rest, question: dict[str, Any]
) -> None:
    height = rest.height()
    again = rest.signed("POST", "/v1/questions", question)
    refused(again, 409, "ALREADY_EXISTS", "qid")
    bad_spec = dict(question, qid="rest-bad", options=["only one"])
    refused(rest.signed("POST", "/v1/questions", bad_spec), 400, "INVALID_FIELD", "options")
    refused(rest.signed("POST", "/v1/questions/rest-q/open"), 409, "INVALID_TRANSITION", "state")
    refused(rest.signed("POST", "/v1/questions/rest-q/tally"), 409, "QUESTION_OPEN", "qid")
    refused(
        rest.signed("POST", "/v1/rosters/no-roster/entries", {"public_keys": ["zz"]}),
        400,
        "INVALID_FIELD",
        "body.public_keys[0]",
    )
    assert rest.height() == height


# --- the OpenAPI document ----------------------------------------------------------------------


def test_the_openapi_document_in_docs_is_the_one_served(rest: Rest) -> None:
    served = rest.http.get("/openapi.json")
    assert served.status_code == 200
    kept = json.loads(OPENAPI.read_text(encoding="utf-8"))
    assert served.json() == kept, (
        "docs/openapi.json differs from what the REST API serves; regenerate it with "
        ".venv/bin/python docs/gen_openapi.py"
    )
    # Kept in the one spelling docs/gen_openapi.py writes (sorted keys, two-space indent).
    assert json.dumps(kept, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == (
        OPENAPI.read_text(encoding="utf-8")
    )


# --- limits and a service without an admin identity ---------------------------------------------


def test_rate_limits_and_a_service_without_an_admin_identity(rest: Rest) -> None:
    """A second app over a service of city hall's client only, with a tight per-source limit:
    beyond it RATE_LIMITED (429, field source); an operator request whose signature verifies is
    OPERATOR_UNAVAILABLE (503) and runs nothing."""
    material = rest.served.material
    config = material.config
    service = VotingService(rest.service.contract, rest.service.network, chaincode=config.chaincode)
    authority = AdminAuthority.from_genesis(
        material.genesis_path.read_bytes(), material.org("cityhall").msp_id
    )
    limiter = CallLimiter(Limits(per_source=Rate(0.001, 3)))
    app = create_app(service, authority=authority, limiter=limiter)
    height = rest.height()
    with RestServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        body = encoding.encode({"rid": "rest-no-admin", "title": "No admin"})
        headers = signed_headers(rest.admin(), "POST", "/v1/rosters", body)
        refused(
            http.post("/v1/rosters", content=body, headers={**headers, **JSON_TYPE}),
            503,
            "OPERATOR_UNAVAILABLE",
            "operator",
        )
        assert http.get("/v1/chain").status_code == 200
        assert http.get("/v1/chain").status_code == 200
        refused(http.get("/v1/chain"), 429, "RATE_LIMITED", "source")
    service.close()
    assert rest.height() == height
    refused(rest.http.get("/v1/rosters/rest-no-admin"), 404, "NOT_FOUND", "rid")


class NeverCommits:
    """A sink whose ballots never commit (a stalled orderer)."""

    def __init__(self) -> None:
        self.held: list[Future[CastResult]] = []

    def submit(self, request: object) -> Future[CastResult]:
        self.held.append(Future())
        return self.held[-1]

    def close(self) -> None:
        for future in self.held:
            future.cancel()


def test_a_ballot_that_does_not_commit_in_time_is_a_504(
    rest: Rest, question: dict[str, Any]
) -> None:
    sink = NeverCommits()
    config = rest.served.material.config
    stalled = VotingService(
        rest.service.contract, rest.service.network, chaincode=config.chaincode, sink=sink
    )
    app = create_app(stalled, commit_wait=0.2)
    with RestServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        late = http.post("/v1/ballots", content=_ballot(rest, question, 40, 0), headers=JSON_TYPE)
    stalled.close()
    refused(late, 504, "COMMIT_STATUS_ERROR", "request")
    assert len(sink.held) == 1 and "may still commit" in late.json()["detail"]
