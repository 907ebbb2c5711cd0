"""The REST API's routes: each a thin translation of an HTTP request into one operation of
:class:`mvote.service.VotingService` (or, for operators, of the client's recipes run as the
institution's admin) and of its typed answer into JSON.

Voters, integrators and auditors call the ``/v1`` reads, ``POST /v1/ballots``,
``POST /v1/spoiled-ballots`` and the trustee postings without an identity (the ballot's and the posting's own signatures authenticate them);
operator routes take a request signed by an institution admin (``_rest_auth``). docs/openapi.json
is the OpenAPI document these routes produce; docs/integrators.md explains them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from mvote.chaincode._records import (
    BALLOT_RECORD_SHAPE,
    CAST_SHAPE,
    IDENTIFIER,
    MAX_ROSTER_BATCH,
    PARTICIPATION_SHAPE,
    QUESTION_SHAPE,
    QUESTION_SPEC_SHAPE,
    QUESTION_STATES,
    ROSTER_SHAPE,
    ROSTER_SPEC_SHAPE,
    SPOIL_SHAPE,
    Question,
    QuestionSpec,
)
from mvote.chaincode._schema import Array, Hex, Object
from mvote.chaincode._secret import CEREMONY_SHAPE
from mvote.client import recipes
from mvote.client._voting import CastResult, Recorded, SpoilResult, VotingContract
from mvote.service._core import VotingService
from mvote.service._rest_app import RestContext, decode_body, operator_of, read_body
from mvote.service._rest_errors import OperatorUnavailable
from mvote.service._rest_schema import JsonSchema, json_schema
from mvote.service._values import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Caller,
    PostingKind,
    QuestionFilter,
)
from mvote.verifier._receipt import RECEIPT_SHAPE

T = TypeVar("T")

#: The body of ``POST /v1/rosters/{rid}/entries``: the voters' public keys (not their hashes;
#: the service hashes them as the CLI does).
ROSTER_KEYS_SHAPE = Object({"public_keys": Array(Hex(32), min_len=1, max_len=MAX_ROSTER_BATCH)})

#: A question state, as the records list them.
STATE_PATTERN = f"^({'|'.join(QUESTION_STATES)})$"

Qid = Annotated[
    str,
    Path(
        description="question id",
        min_length=IDENTIFIER.min_len,
        max_length=IDENTIFIER.max_len,
        pattern=f"^(?:{IDENTIFIER.pattern})$",
    ),
]
Rid = Annotated[
    str,
    Path(
        description="roster id",
        min_length=IDENTIFIER.min_len,
        max_length=IDENTIFIER.max_len,
        pattern=f"^(?:{IDENTIFIER.pattern})$",
    ),
]
Cid = Annotated[
    str,
    Path(
        description="ceremony id",
        min_length=IDENTIFIER.min_len,
        max_length=IDENTIFIER.max_len,
        pattern=f"^(?:{IDENTIFIER.pattern})$",
    ),
]
Voter = Annotated[
    str, Path(description="the voter's Ed25519 public key, 64 hex digits", pattern="^[0-9a-f]{64}$")
]

# --- OpenAPI: schemas of the answers -------------------------------------------------------------

_COMMITTED: JsonSchema = {
    "transaction_id": {"type": "string"},
    "block_number": {"type": "integer", "minimum": 0},
}


def _object(properties: dict[str, JsonSchema], *, name: str) -> JsonSchema:
    return {
        "title": name,
        "type": "object",
        "properties": properties,
        "required": list(properties),
    }


def _json_answer(schema: JsonSchema, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"application/json": {"schema": schema}}}}


def _json_body(schema: JsonSchema, description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


CAST_ANSWER = _object(
    {
        "qid": {"type": "string"},
        "tracker": {"type": "string"},
        "shard": {"type": "integer", "minimum": 0},
        **_COMMITTED,
        "receipt": {"anyOf": [json_schema(RECEIPT_SHAPE), {"type": "null"}]},
    },
    name="CastAnswer",
)
SPOILED_ANSWER = _object(
    {
        "qid": {"type": "string"},
        "tracker": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        **_COMMITTED,
        "spoiled_file": {"anyOf": [json_schema(RECEIPT_SHAPE), {"type": "null"}]},
    },
    name="SpoiledAnswer",
)
QUESTION_PAGE = _object(
    {
        "questions": {"type": "array", "items": json_schema(QUESTION_SHAPE)},
        "next_page_token": {"type": "string"},
        "total": {"type": "integer", "minimum": 0},
    },
    name="QuestionPage",
)
RESULTS = _object(
    {
        "qid": {"type": "string"},
        "state": {"type": "string", "enum": list(QUESTION_STATES)},
        "final": {"type": "boolean"},
        "ballots": {"type": ["integer", "null"]},
        "counts": {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
        "tally": {"anyOf": [{"type": "object"}, {"type": "null"}]},
    },
    name="Results",
)
HISTORY = _object(
    {
        "voter": {"type": "string"},
        "history": {"type": "array", "items": json_schema(PARTICIPATION_SHAPE)},
    },
    name="History",
)
CHAIN = _object(
    {
        "channel": {"type": "string"},
        "genesis_hash": {"type": "string"},
        "height": {"type": "integer", "minimum": 1},
    },
    name="ChainInfo",
)
QUESTION_WRITTEN = _object(
    {"question": json_schema(QUESTION_SHAPE), **_COMMITTED}, name="QuestionWritten"
)
ROSTER_WRITTEN = _object({"roster": json_schema(ROSTER_SHAPE), **_COMMITTED}, name="RosterWritten")
ROSTER_ADDED = _object(
    {
        "roster": {"anyOf": [json_schema(ROSTER_SHAPE), {"type": "null"}]},
        "added": {"type": "integer", "minimum": 0},
        "transactions": {"type": "array", "items": _object(_COMMITTED, name="Committed")},
    },
    name="RosterAdded",
)
TALLIED = _object(
    {
        "qid": {"type": "string"},
        "tally": {"type": "object"},
        **_COMMITTED,
        "already": {"type": "boolean"},
        "aggregate_transactions": {"type": "integer", "minimum": 0},
    },
    name="Tallied",
)
POSTED = _object({"result": {}, **_COMMITTED}, name="Posted")
SIGNED: dict[str, Any] = {"security": [{"MvoteRequestSignature": []}]}


# --- answers ---------------------------------------------------------------------------------


def _committed(recorded: Recorded[Any]) -> dict[str, Any]:
    return {"transaction_id": recorded.transaction_id, "block_number": recorded.block_number}


def _question_written(recorded: Recorded[Question]) -> dict[str, Any]:
    return {"question": recorded.value.to_json(), **_committed(recorded)}


def _cast_answer(done: CastResult, receipt: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "qid": done.qid,
        "tracker": done.tracker,
        "shard": done.shard,
        "transaction_id": done.transaction_id,
        "block_number": done.block_number,
        "receipt": receipt,
    }


def _spoiled_answer(done: SpoilResult, spoiled_file: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "qid": done.qid,
        "tracker": done.tracker,
        "choices": list(done.choices),
        "transaction_id": done.transaction_id,
        "block_number": done.block_number,
        "spoiled_file": spoiled_file,
    }


async def blocking(call: Callable[..., T], *args: Any) -> T:
    """Run a blocking service call off the event loop (the Gateway waits for commits)."""
    return await run_in_threadpool(call, *args)


def source_of(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


# --- the routers -----------------------------------------------------------------------------


class RestRoutes:
    """The routes of one app over ``service``; ``limiter`` admits each call (per source for
    anonymous callers, per admin for operators)."""

    def __init__(self, service: VotingService, context: RestContext) -> None:
        self.service = service
        self.context = context

    def admit(self, request: Request, caller: Caller | None = None) -> None:
        """Count the call against its caller's rate limits (RATE_LIMITED beyond them)."""
        if self.context.limiter is None:
            return
        source = source_of(request)
        self.context.limiter.admit(caller or Caller("", source, source))

    def operator_contract(self) -> VotingContract:
        if self.service.postings is None:
            raise OperatorUnavailable(
                "this service was started without an institution admin identity: it takes no "
                "operator requests",
                field="operator",
            )
        return self.service.postings

    async def signed_body(self, request: Request) -> bytes:
        """The body of an operator request whose signature verified; the call is admitted
        under the admin's name."""
        body = await read_body(request, self.context.max_body_bytes)
        operator = await operator_of(request, self.context, body)
        self.admit(request, Caller(operator.msp_id, operator.subject, source_of(request)))
        return body

    def install(self, app: FastAPI) -> None:
        """Add every route to ``app``, under ``/v1``."""
        router = APIRouter(prefix="/v1")
        _voter_routes(self, router)
        _chain_routes(self, router)
        _question_operator_routes(self, router)
        _roster_operator_routes(self, router)
        app.include_router(router)


def _voter_routes(routes: RestRoutes, router: APIRouter) -> None:
    service = routes.service

    @router.post(
        "/ballots",
        summary="Cast a voter-signed ballot and wait for its commit",
        responses=_json_answer(CAST_ANSWER, "the ballot committed"),
        openapi_extra=_json_body(
            json_schema(CAST_SHAPE),
            "the Cast argument exactly as the contract takes it: canonical JSON (RFC 8785) of "
            "the signed ballot, its signature, and the credential or on-site code it needs",
        ),
    )
    async def cast(
        request: Request,
        receipt: Annotated[bool, Query(description="include the ballot's receipt")] = False,
    ) -> JSONResponse:
        routes.admit(request)
        body = await read_body(request, routes.context.max_body_bytes)
        pending = service.cast(body)
        done = await blocking(pending.committed, routes.context.commit_wait)
        proof = (await blocking(service.receipt_of, done)).to_json() if receipt else None
        return JSONResponse(_cast_answer(done, proof))

    @router.post(
        "/spoiled-ballots",
        summary="Audit a voter-signed secret ballot (cast-or-audit): record it as spoiled",
        responses=_json_answer(SPOILED_ANSWER, "the audited ballot committed as spoiled"),
        openapi_extra=_json_body(
            json_schema(SPOIL_SHAPE),
            "the SpoilBallot argument exactly as the contract takes it: canonical JSON (RFC 8785) "
            "of the signed secret ballot's Cast argument and its opening (the nonce key)",
        ),
    )
    async def spoil(
        request: Request,
        file: Annotated[bool, Query(description="include the spoiled-ballot file")] = False,
    ) -> JSONResponse:
        routes.admit(request)
        body = await read_body(request, routes.context.max_body_bytes)
        done = await blocking(service.spoil, body)
        spoiled = (await blocking(service.spoiled_file, done)).to_json() if file else None
        return JSONResponse(_spoiled_answer(done, spoiled))

    @router.get(
        "/questions",
        summary="List questions (filters, search, paging)",
        responses=_json_answer(QUESTION_PAGE, "one page of questions in qid order"),
    )
    async def questions(
        request: Request,
        state: Annotated[str | None, Query(pattern=STATE_PATTERN)] = None,
        owner: Annotated[str | None, Query(max_length=128)] = None,
        mode: Annotated[str | None, Query(max_length=16, description="open or secret")] = None,
        eligibility: Annotated[
            str | None,
            Query(max_length=16, description="the eligibility kind: roster, open, onsite"),
        ] = None,
        search: Annotated[str | None, Query(max_length=200)] = None,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
        page_token: Annotated[str, Query(max_length=64)] = "",
    ) -> JSONResponse:
        routes.admit(request)
        where = QuestionFilter(state, owner, mode, eligibility, search)
        page = await blocking(
            lambda: service.questions(where, page_token=page_token, page_size=page_size)
        )
        return JSONResponse(
            {
                "questions": [q.to_json() for q in page.questions],
                "next_page_token": page.next_page_token,
                "total": page.total,
            }
        )

    @router.get(
        "/questions/{qid}",
        summary="A question as the ledger holds it",
        responses=_json_answer(json_schema(QUESTION_SHAPE), "the question"),
    )
    async def question(request: Request, qid: Qid) -> JSONResponse:
        routes.admit(request)
        return JSONResponse((await blocking(service.question, qid)).to_json())

    @router.get(
        "/questions/{qid}/results",
        summary="Live results of an open question, or its tally",
        responses=_json_answer(RESULTS, "the results"),
    )
    async def results(request: Request, qid: Qid) -> JSONResponse:
        routes.admit(request)
        found = await blocking(service.results, qid)
        return JSONResponse(
            {
                "qid": found.qid,
                "state": found.state,
                "final": found.final,
                "ballots": found.ballots,
                "counts": None if found.counts is None else list(found.counts),
                "tally": None if found.tally is None else found.tally.to_json(),
            }
        )

    @router.get(
        "/questions/{qid}/receipts/{voter}",
        summary="The receipt of a voter's committed ballot",
        responses=_json_answer(json_schema(RECEIPT_SHAPE), "the receipt (mvote-verify receipt)"),
    )
    async def receipt(request: Request, qid: Qid, voter: Voter) -> JSONResponse:
        routes.admit(request)
        return JSONResponse((await blocking(service.receipt, qid, voter)).to_json())

    @router.get(
        "/questions/{qid}/ballots/{voter}",
        summary="A voter's ballot record as the ledger holds it",
        responses=_json_answer(json_schema(BALLOT_RECORD_SHAPE), "the ballot record"),
    )
    async def ballot(request: Request, qid: Qid, voter: Voter) -> JSONResponse:
        routes.admit(request)
        return JSONResponse((await blocking(service.ballot, qid, voter)).to_json())

    @router.get(
        "/ceremonies/{cid}",
        summary="A key ceremony of secret questions (trustees, election key, state)",
        responses=_json_answer(json_schema(CEREMONY_SHAPE), "the ceremony record"),
    )
    async def ceremony(request: Request, cid: Cid) -> JSONResponse:
        routes.admit(request)
        return JSONResponse((await blocking(service.ceremony, cid)).to_json())

    @router.get(
        "/voters/{voter}/history",
        summary="Every question a voter key has a ballot on",
        responses=_json_answer(HISTORY, "the voter's participation history"),
    )
    async def history(request: Request, voter: Voter) -> JSONResponse:
        routes.admit(request)
        found = await blocking(service.history, voter)
        return JSONResponse({"voter": voter, "history": [p.to_json() for p in found]})

    @router.post(
        "/trustee-postings/{kind}",
        summary="Relay a trustee's posting (signed by the trustee's own key)",
        responses=_json_answer(POSTED, "the posting committed"),
        openapi_extra=_json_body({"type": "object"}, "the posting, canonical JSON"),
    )
    async def post(request: Request, kind: PostingKind) -> JSONResponse:
        routes.admit(request)
        body = await read_body(request, routes.context.max_body_bytes)
        decode_body(body, routes.context.max_body_bytes)
        done = await blocking(service.post, kind, body)
        return JSONResponse({"result": done.value.to_json(), **_committed(done)})


def _chain_routes(routes: RestRoutes, router: APIRouter) -> None:
    service = routes.service

    @router.get(
        "/chain",
        summary="The channel, its genesis block hash (the trust anchor) and the height",
        responses=_json_answer(CHAIN, "the chain's head"),
    )
    async def chain(request: Request) -> JSONResponse:
        routes.admit(request)
        info = await blocking(service.chain_info)
        return JSONResponse(
            {"channel": info.channel, "genesis_hash": info.genesis_hash, "height": info.height}
        )

    @router.get(
        "/blocks/{number}",
        summary="A committed block, as the peer serialized it (common.Block)",
        response_class=Response,
        responses={
            200: {
                "description": "the block's protobuf bytes",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def block(request: Request, number: Annotated[int, Path(ge=0, le=2**53 - 1)]) -> Response:
        routes.admit(request)
        raw = await blocking(service.block, number)
        return Response(raw, media_type="application/octet-stream")

    @router.get(
        "/rosters/{rid}",
        summary="A roster's header (count, digest, sealed)",
        responses=_json_answer(json_schema(ROSTER_SHAPE), "the roster"),
    )
    async def roster(request: Request, rid: Rid) -> JSONResponse:
        routes.admit(request)
        return JSONResponse((await blocking(service.contract.get_roster, rid)).to_json())


def _question_operator_routes(routes: RestRoutes, router: APIRouter) -> None:
    @router.post(
        "/questions",
        summary="Create a question (DRAFT), and open it with open=true",
        responses=_json_answer(QUESTION_WRITTEN, "the question after the last step"),
        openapi_extra={
            **_json_body(json_schema(QUESTION_SPEC_SHAPE), "the question spec"),
            **SIGNED,
        },
    )
    async def create(
        request: Request, open: Annotated[bool, Query(description="open it too")] = False
    ) -> JSONResponse:
        body = await routes.signed_body(request)
        spec = QuestionSpec.from_json(decode_body(body, routes.context.max_body_bytes))
        contract = routes.operator_contract()
        done = await blocking(lambda: recipes.create_question(contract, spec, open_now=open))
        return JSONResponse({"question": done.question.to_json(), **_committed(done.created)})

    @router.post(
        "/questions/{qid}/open",
        summary="Open a DRAFT question",
        responses=_json_answer(QUESTION_WRITTEN, "the opened question"),
        openapi_extra=SIGNED,
    )
    async def open_question(request: Request, qid: Qid) -> JSONResponse:
        await routes.signed_body(request)
        contract = routes.operator_contract()
        return JSONResponse(_question_written(await blocking(contract.open_question, qid)))

    @router.post(
        "/questions/{qid}/close",
        summary="Close an OPEN question (a reason is required before its scheduled close)",
        responses=_json_answer(QUESTION_WRITTEN, "the closed question"),
        openapi_extra=SIGNED,
    )
    async def close(
        request: Request,
        qid: Qid,
        reason: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    ) -> JSONResponse:
        await routes.signed_body(request)
        contract = routes.operator_contract()
        return JSONResponse(_question_written(await blocking(contract.close_question, qid, reason)))

    @router.post(
        "/questions/{qid}/tally",
        summary="Aggregate every shard and record the tally (close=true closes it first)",
        responses=_json_answer(TALLIED, "the tally as the ledger holds it"),
        openapi_extra=SIGNED,
    )
    async def tally(
        request: Request,
        qid: Qid,
        close: Annotated[bool, Query(description="close an OPEN question first")] = False,
    ) -> JSONResponse:
        await routes.signed_body(request)
        contract = routes.operator_contract()
        done = await blocking(lambda: recipes.tally(contract, qid, close=close))
        return JSONResponse(
            {
                "qid": qid,
                "tally": done.tally.to_json(),
                "transaction_id": done.transaction_id,
                "block_number": done.block_number,
                "already": done.already,
                "aggregate_transactions": done.aggregate_transactions,
            }
        )


def _roster_operator_routes(routes: RestRoutes, router: APIRouter) -> None:
    @router.post(
        "/rosters",
        summary="Create a roster",
        responses=_json_answer(ROSTER_WRITTEN, "the new roster"),
        openapi_extra={**_json_body(json_schema(ROSTER_SPEC_SHAPE), "rid and title"), **SIGNED},
    )
    async def create(request: Request) -> JSONResponse:
        body = await routes.signed_body(request)
        spec = ROSTER_SPEC_SHAPE.check(decode_body(body, routes.context.max_body_bytes), "body")
        contract = routes.operator_contract()
        done = await blocking(contract.create_roster, spec["rid"], spec["title"])
        return JSONResponse({"roster": done.value.to_json(), **_committed(done)})

    @router.post(
        "/rosters/{rid}/entries",
        summary="Add voters (by public key) to an unsealed roster",
        responses=_json_answer(ROSTER_ADDED, "the roster after the last batch"),
        openapi_extra={
            **_json_body(json_schema(ROSTER_KEYS_SHAPE), "the voters' public keys"),
            **SIGNED,
        },
    )
    async def add(request: Request, rid: Rid) -> JSONResponse:
        body = await routes.signed_body(request)
        keys = ROSTER_KEYS_SHAPE.check(decode_body(body, routes.context.max_body_bytes), "body")
        contract = routes.operator_contract()
        done = await blocking(recipes.add_roster, contract, rid, keys["public_keys"])
        return JSONResponse(
            {
                "roster": None if done.roster is None else done.roster.to_json(),
                "added": done.added,
                "transactions": [_committed(t) for t in done.transactions],
            }
        )

    @router.post(
        "/rosters/{rid}/seal",
        summary="Seal a roster (it never changes again)",
        responses=_json_answer(ROSTER_WRITTEN, "the sealed roster"),
        openapi_extra=SIGNED,
    )
    async def seal(request: Request, rid: Rid) -> JSONResponse:
        await routes.signed_body(request)
        contract = routes.operator_contract()
        done = await blocking(contract.seal_roster, rid)
        return JSONResponse({"roster": done.value.to_json(), **_committed(done)})
