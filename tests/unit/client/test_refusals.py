"""A stage error's ``refusal``: from the ``google.rpc.ErrorInfo`` trailer when the gateway sent
one (the embedded node does), else read strictly from Fabric's known message forms; ``except AlreadyVoted`` keeps
working either way."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from fabric_protos.gateway import gateway_pb2
from google.rpc import error_details_pb2

from mvote.chaincode._errors import AlreadyVoted, NotFound, Refusal
from mvote.client._errors import (
    EndorseError,
    ErrorDetail,
    SubmitError,
    gateway_error,
    refusal_from_texts,
)
from mvote.client._gateway import error_details, refusal_info
from mvote.node.services._common import abort, error_info

ENDORSE_FAILED = "failed to endorse transaction, see attached details for more info"


def test_a_chaincode_refusal_in_a_detail_is_typed() -> None:
    detail = ErrorDetail("peer0:7051", "Org1MSP", "chaincode response 400, ALREADY_VOTED: voter v")
    err = gateway_error(EndorseError, ENDORSE_FAILED, grpc_code="ABORTED", details=[detail])
    assert err.refusal == Refusal("ALREADY_VOTED", None, "voter v")
    assert err.reason_code == "ALREADY_VOTED"
    assert isinstance(err, EndorseError) and isinstance(err, AlreadyVoted)
    with pytest.raises(AlreadyVoted):
        raise err


def test_the_orderer_form_is_read() -> None:
    text = (
        "received unsuccessful response from orderer: status=BAD_REQUEST, "
        "info=DUPLICATE_TRANSACTION: tx_id: duplicate"
    )
    err = gateway_error(SubmitError, text, grpc_code="ABORTED")
    assert err.refusal == Refusal("DUPLICATE_TRANSACTION", None, "tx_id: duplicate")


def test_the_error_info_refusal_wins_and_carries_the_field() -> None:
    detail = ErrorDetail("peer0:7051", "Org1MSP", "chaincode response 400, NOT_FOUND: other")
    given = Refusal("NOT_FOUND", "qid", "qid: no question 'q9'")
    err = gateway_error(EndorseError, ENDORSE_FAILED, details=[detail], refusal=given)
    assert err.refusal is given
    assert isinstance(err, NotFound) and isinstance(err.cause, NotFound)
    assert err.cause.field == "qid" and err.cause.message == "qid: no question 'q9'"


def test_an_unknown_code_is_kept_but_not_typed() -> None:
    err = gateway_error(EndorseError, ENDORSE_FAILED, refusal=Refusal("SOMETHING_NEW", None, "x"))
    assert err.reason_code == "SOMETHING_NEW" and err.cause is None
    assert type(err) is EndorseError


@pytest.mark.parametrize(
    "text",
    [
        "failed to endorse transaction, see attached details for more info",
        "ProposalResponsePayloads do not match: see ALREADY_VOTED: inside",
        "chaincode response 4000, ALREADY_VOTED: bad status",
        "no code here: at all",
    ],
)
def test_no_text_outside_the_known_forms_is_scanned(text: str) -> None:
    assert refusal_from_texts([text]) is None


def _refusing(
    detail: gateway_pb2.ErrorDetail, info: error_details_pb2.ErrorInfo
) -> grpc.GenericRpcHandler:
    """A handler that refuses as the embedded node's Gateway does (its own abort)."""

    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        abort(context, grpc.StatusCode.ABORTED, ENDORSE_FAILED, [detail], info=info)

    return grpc.method_handlers_generic_handler(
        "probe.Probe", {"Call": grpc.unary_unary_rpc_method_handler(handler)}
    )


@pytest.fixture
def refusing_server() -> Iterator[str]:
    info = error_info("ALREADY_VOTED", "voter", "voter: has a ballot on q1")
    detail = gateway_pb2.ErrorDetail(
        address="peer0:7051", msp_id="Org1MSP", message="chaincode response 400, ALREADY_VOTED: x"
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    server.add_generic_rpc_handlers((_refusing(detail, info),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def test_the_error_info_trailer_of_a_real_call(refusing_server: str) -> None:
    with grpc.insecure_channel(refusing_server) as channel:
        call = channel.unary_unary("/probe.Probe/Call")
        with pytest.raises(grpc.RpcError) as info:
            call(b"", timeout=10)
    exc = info.value
    assert refusal_info(exc) == Refusal("ALREADY_VOTED", "voter", "voter: has a ballot on q1")
    assert [d.msp_id for d in error_details(exc)] == ["Org1MSP"]
