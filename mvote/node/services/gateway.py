"""The Fabric Gateway service (``gateway.Gateway``) over the embedded node.

Every RPC follows Fabric's peer gateway (internal/pkg/gateway: evaluate.go, endorse.go, submit.go,
commitstatus.go, chaincodeevents.go, apiutils.go) in its checks, its flow, and the gRPC status
codes and messages it answers with; per-endorser and per-orderer failures travel as
``gateway.ErrorDetail`` messages in the status details. The embedded node plays every
organisation's peer and the orderer, so the messages a remote peer or orderer would have sent
come from the node's typed errors, whose ``CODE: text`` form a client maps back to the type.
docs/node.md has the table of mappings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import suppress
from functools import partial
from typing import NoReturn

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import proposal_pb2
from google.rpc import error_details_pb2

from mvote.chaincode._contract import REFUSED
from mvote.chaincode._errors import MvoteError, Refusal
from mvote.node.endorser import (
    ProposalMessages,
    check_proposal,
    parse_proposal,
    unpack_proposal,
)
from mvote.node.errors import (
    CommitTimeout,
    DuplicateTransaction,
    EndorsementFailed,
    EndorsementMismatch,
    IdentityExpired,
    NotRunning,
    UnknownChaincode,
)
from mvote.node.metrics import metrics, timed
from mvote.node.peer import Checked, Peer, resolve
from mvote.node.services._common import (
    APPLICATION_READERS,
    Streams,
    abort,
    chaincode_events,
    check_signed_acl,
    error_info,
    error_info_of,
    start_number,
)
from mvote.node.services.admission import Admission
from mvote.node.services.broadcast import broadcast_status
from mvote.verifier._envelope import parse_proto
from mvote.verifier._errors import VerifierError

log = logging.getLogger("mvote.node.gateway")

_ENDORSE_FAILED = "failed to endorse transaction, see attached details for more info"
_EVALUATE_FAILED = "failed to evaluate transaction, see attached details for more info"
_COLLECT_FAILED = (
    "failed to collect enough transaction endorsements, see attached details for more info"
)


def chaincode_response_message(status: int, message: str) -> str:
    """apiutils.responseStatus's text for a chaincode error response."""
    return f"chaincode response {status}, {message}"


def _channel_and_chaincode(
    signed: proposal_pb2.SignedProposal,
) -> tuple[ProposalMessages, str, str]:
    """evaluate.go's getChannelAndChaincodeFromSignedProposal, over the proposal parsed once
    (the messages go on to the peer); raises ValueError."""
    if not signed.proposal_bytes:
        raise ValueError("a signed proposal is required")
    try:
        messages = parse_proposal(signed)
    except VerifierError as exc:
        raise ValueError(exc.message) from exc
    channel = messages.channel_header.channel_id
    if not channel:
        raise ValueError("no channel id provided")
    spec = messages.spec
    if not spec.HasField("chaincode_spec"):
        raise ValueError(f"no chaincode spec is provided, channel id [{channel}]")
    if not spec.chaincode_spec.HasField("chaincode_id"):
        raise ValueError(f"no chaincode id is provided, channel id [{channel}]")
    name = str(spec.chaincode_spec.chaincode_id.name)
    if not name:
        raise ValueError(f"no chaincode name is provided, channel id [{channel}]")
    return messages, channel, name


def contract_refusal_info(payload: bytes) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of a contract refusal, from the structured refusal its response payload
    carries (chaincode.errors.Refusal); None when the payload is not one."""
    try:
        refusal = Refusal.from_bytes(payload)
    except MvoteError:
        return None
    return error_info(refusal.code, refusal.field, refusal.message)


class GatewayService(gateway_pb2_grpc.GatewayServicer):  # type: ignore[misc]
    """Fabric's gateway Server with the node as its local peer, remote peers and orderer."""

    def __init__(self, node: Peer, streams: Streams, admission: Admission) -> None:
        self.node = node
        self._streams = streams
        self._admission = admission
        self._peer_address = {
            org.msp_id: str(org.peer_endpoint) for org in node.config.organizations
        }
        self._orderer = node.config.orderer

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def _local_msp(self) -> str:
        """The gateway's own organisation: the first endorser, as the node prefers it."""
        return str(self.node.endorsers[0].msp_id)

    def _detail(self, msp_id: str, message: str) -> gateway_pb2.ErrorDetail:
        return gateway_pb2.ErrorDetail(
            address=self._peer_address.get(msp_id, ""), msp_id=msp_id, message=message
        )

    def _orderer_detail(self, message: str) -> gateway_pb2.ErrorDetail:
        return gateway_pb2.ErrorDetail(
            address=str(self._orderer.endpoint), msp_id=self._orderer.msp_id, message=message
        )

    def _route(self, context: grpc.ServicerContext, channel: str, chaincode: str, rpc: str) -> None:
        """The registry's answer for a channel or chaincode this node does not serve."""
        if channel != self.node.channel_id:
            code = (
                grpc.StatusCode.UNAVAILABLE
                if rpc == "evaluate"
                else grpc.StatusCode.FAILED_PRECONDITION
            )
            abort(context, code, f"failed to get config for channel [{channel}]: channel not found")
        if chaincode != self.node.chaincode:
            abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"no peers available to evaluate chaincode {chaincode} in channel {channel}"
                if rpc == "evaluate"
                else f"failed to find any endorsing peers for chaincode {chaincode} in channel "
                f"{channel}: {UnknownChaincode.code}",
            )

    def _check_not_expired(self, context: grpc.ServicerContext, identity: bytes) -> None:
        """PERMISSION_DENIED for a request signed by an identity whose certificate expired."""
        try:
            self.node.check_identity_bytes(identity, "identity")
        except IdentityExpired as exc:
            abort(context, grpc.StatusCode.PERMISSION_DENIED, str(exc), info=error_info_of(exc))

    def _pre_process(self, messages: ProposalMessages) -> Checked:
        """The endorsing peer's preProcess: validate the proposal (header, tx id, creator and
        signature), then refuse a tx id already on the ledger. The /Channel/Application/Writers
        ACL is the node's own check, which follows (on this checked proposal, not a second
        unpacking and signature check of the same bytes)."""
        up = unpack_proposal(messages)
        creator = check_proposal(up, self.node.channel_config.msps)
        if self.node.ledger.has_tx(up.tx_id):
            raise DuplicateTransaction(
                f"tx_id: duplicate transaction found [{up.tx_id}]", field="tx_id"
            )
        return Checked(up, creator)

    # -- Evaluate ---------------------------------------------------------------------------------

    def Evaluate(
        self, request: gateway_pb2.EvaluateRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.EvaluateResponse:
        signed = request.proposed_transaction
        try:
            messages, channel, chaincode = _channel_and_chaincode(signed)
        except ValueError as exc:
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"failed to unpack transaction proposal: {exc}",
            )
        self._route(context, channel, chaincode, "evaluate")
        targets = list(request.target_organizations)
        msp_id = self._local_msp
        if targets:
            known = [t for t in targets if t in self._peer_address]
            if not known:
                abort(
                    context,
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"no peers available to evaluate chaincode {chaincode} in channel {channel}",
                )
            msp_id = self._local_msp if self._local_msp in known else known[0]
        try:
            response = self.node.evaluate(signed, checked=self._pre_process(messages))
        except MvoteError as exc:
            # A proposal the peer refuses before running the chaincode (apiutils: the peer
            # returned an error with its response): FAILED_PRECONDITION, not retried.
            message = str(exc)
            abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"evaluate call to endorser returned error: {message}",
                [self._detail(msp_id, message)],
                error_info_of(exc),
            )
        if response.status < 200 or response.status >= REFUSED:
            # A chaincode error response (status >= 400, with or without payload, not the
            # peer's own 500): UNKNOWN, with the chaincode's message.
            message = chaincode_response_message(response.status, response.message)
            abort(
                context,
                grpc.StatusCode.UNKNOWN,
                f"evaluate call to endorser returned error: {message}",
                [self._detail(msp_id, message)],
                contract_refusal_info(response.payload),
            )
        return gateway_pb2.EvaluateResponse(result=response)

    # -- Endorse ----------------------------------------------------------------------------------

    def Endorse(
        self, request: gateway_pb2.EndorseRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.EndorseResponse:
        signed = request.proposed_transaction
        if not signed.proposal_bytes:
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "the proposed transaction must contain a signed proposal",
            )
        try:
            messages, channel, chaincode = _channel_and_chaincode(signed)
        except ValueError as exc:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        orgs = self._endorsing_orgs(request, context, channel, chaincode)
        self._route(context, channel, chaincode, "endorse")
        try:
            with timed(metrics().endorse_seconds):
                envelope, _ = self.node.endorse(signed, orgs, checked=self._pre_process(messages))
        except MvoteError as exc:
            self._endorse_refused(context, exc, orgs[0] if orgs else self._local_msp)
        return gateway_pb2.EndorseResponse(prepared_transaction=envelope)

    def _endorsing_orgs(
        self,
        request: gateway_pb2.EndorseRequest,
        context: grpc.ServicerContext,
        channel: str,
        chaincode: str,
    ) -> list[str]:
        """The organisations the request names (UNAVAILABLE if this node cannot reach one of
        them, or serves another channel or chaincode); [] for the policy's choice."""
        orgs = list(request.endorsing_organizations)
        if orgs:
            missing = [o for o in orgs if o not in self._peer_address]
            if missing or channel != self.node.channel_id or chaincode != self.node.chaincode:
                abort(
                    context,
                    grpc.StatusCode.UNAVAILABLE,
                    "failed to find any endorsing peers for org(s): " + ", ".join(missing or orgs),
                )
        return orgs

    def _endorse_refused(
        self, context: grpc.ServicerContext, exc: MvoteError, first: str
    ) -> NoReturn:
        """End an Endorse the peer refused: ABORTED with Fabric's details, and the refusal's
        ErrorInfo (the contract's own for a chaincode refusal, else the node's error)."""
        if isinstance(exc, EndorsementFailed):
            details = [
                self._detail(msp_id, chaincode_response_message(REFUSED, message))
                for msp_id, message in exc.details
            ]
            info = contract_refusal_info(exc.payload)
            abort(context, grpc.StatusCode.ABORTED, _ENDORSE_FAILED, details, info)
        if isinstance(exc, EndorsementMismatch):
            detail = self._detail(first, f"ProposalResponsePayloads do not match: {exc}")
            abort(context, grpc.StatusCode.ABORTED, _COLLECT_FAILED, [detail], error_info_of(exc))
        detail = self._detail(first, str(exc))
        abort(context, grpc.StatusCode.ABORTED, _ENDORSE_FAILED, [detail], error_info_of(exc))

    # -- Submit -----------------------------------------------------------------------------------

    def Submit(
        self, request: gateway_pb2.SubmitRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.SubmitResponse:
        if not request.HasField("prepared_transaction"):
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a prepared transaction is required")
        txn = request.prepared_transaction
        if not txn.signature:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "prepared transaction must be signed")
        if request.channel_id != self.node.channel_id:
            abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"failed to get config for channel [{request.channel_id}]: channel not found",
            )
        try:
            tx_id = self.node.submit(txn)
        except MvoteError as exc:
            status, info = broadcast_status(exc)
            message = (
                "received unsuccessful response from orderer: "
                f"status={common_pb2.Status.Name(status)}, info={info}"
            )
            if 400 <= status < 500:
                # A client error: not retried (submit.go). Fabric sends no details here; the one
                # detail names the orderer so a client can read the typed error back.
                abort(
                    context,
                    grpc.StatusCode.ABORTED,
                    message,
                    [self._orderer_detail(message)],
                    error_info_of(exc),
                )
            abort(
                context,
                grpc.StatusCode.UNAVAILABLE,
                "no orderers could successfully process transaction",
                [self._orderer_detail(message)],
                error_info_of(exc),
            )
        # The envelope's own tx id: request.transaction_id is whatever the client wrote.
        log.info("submitted tx %s", tx_id)
        return gateway_pb2.SubmitResponse()

    # -- CommitStatus -----------------------------------------------------------------------------

    def CommitStatus(
        self, signed_request: gateway_pb2.SignedCommitStatusRequest, context: grpc.ServicerContext
    ) -> gateway_pb2.CommitStatusResponse:
        if not signed_request.request:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "a commit status request is required")
        try:
            request = parse_proto(
                gateway_pb2.CommitStatusRequest, signed_request.request, "request"
            )
        except VerifierError as exc:
            abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"invalid status request: {exc.message}"
            )
        if not request.identity:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no identity provided")
        if not request.channel_id:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "no channel ID provided")
        if not request.transaction_id:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "transaction ID should not be empty")
        denied = check_signed_acl(
            self.node,
            request.channel_id,
            APPLICATION_READERS,
            signed_request.request,
            request.identity,
            signed_request.signature,
        )
        if denied is not None:
            abort(context, grpc.StatusCode.PERMISSION_DENIED, denied)
        self._check_not_expired(context, request.identity)
        ticket = self._admission.enter(context, "commit status")
        self._admission.identify(context, ticket, request.identity)
        stop = self._streams.open(context)
        tx_id = request.transaction_id
        wait = self._admission.limits.commit_status_wait_seconds
        deadline = time.monotonic() + wait
        while True:
            # Sleep until this transaction commits, the node stops, or the call ends (the stream
            # stop event also resolves the waiter), instead of polling every block.
            waiter = self.node.commit_waiter(tx_id)
            wake = partial(resolve, waiter)
            self._streams.on_stop(stop, wake)
            try:
                found = self.node.commit_status(tx_id, timeout=0)
            except NotRunning as exc:
                abort(context, grpc.StatusCode.UNAVAILABLE, str(exc))
            except MvoteError:
                # Not committed yet: Fabric's commit finder waits until it is, or until the
                # client's deadline or cancellation ends the call.
                if stop.is_set() or not context.is_active():
                    abort(
                        context,
                        grpc.StatusCode.UNAVAILABLE
                        if self._streams.closing
                        else grpc.StatusCode.CANCELLED,
                        "context finished before the transaction committed",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    # The server's own bound on a wait (limits.commit_status_wait_seconds).
                    late = CommitTimeout(
                        f"tx_id: {tx_id} not committed within {wait} s "
                        "(limits.commit_status_wait_seconds)",
                        field="tx_id",
                    )
                    abort(context, grpc.StatusCode.DEADLINE_EXCEEDED, str(late))
                with suppress(TimeoutError):
                    waiter.result(min(1.0, remaining))
                continue
            finally:
                self._streams.off_stop(stop, wake)
                self.node.release_waiter(tx_id, waiter)
            return gateway_pb2.CommitStatusResponse(result=found.code, block_number=found.block)

    # -- ChaincodeEvents --------------------------------------------------------------------------

    def ChaincodeEvents(
        self,
        signed_request: gateway_pb2.SignedChaincodeEventsRequest,
        context: grpc.ServicerContext,
    ) -> Iterator[gateway_pb2.ChaincodeEventsResponse]:
        if not signed_request.request:
            abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "a chaincode events request is required"
            )
        try:
            request = parse_proto(
                gateway_pb2.ChaincodeEventsRequest, signed_request.request, "request"
            )
        except VerifierError as exc:
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"invalid chaincode events request: {exc.message}",
            )
        denied = check_signed_acl(
            self.node,
            request.channel_id,
            APPLICATION_READERS,
            signed_request.request,
            request.identity,
            signed_request.signature,
        )
        if denied is not None:
            abort(context, grpc.StatusCode.PERMISSION_DENIED, denied)
        self._check_not_expired(context, request.identity)
        ticket = self._admission.enter(context, "chaincode events")
        self._admission.identify(context, ticket, request.identity)
        start = self._events_start(request, context)
        matches = _event_matcher(request.chaincode_id, request.after_transaction_id)
        stop = self._streams.open(context)
        for block in self.node.blocks(start, stop):
            events = [e for e in chaincode_events(block) if matches(e)]
            if events:
                yield gateway_pb2.ChaincodeEventsResponse(
                    block_number=block.header.number, events=events
                )
        if self._streams.closing:
            abort(context, grpc.StatusCode.UNAVAILABLE, "the node is shutting down")

    def _events_start(
        self, request: gateway_pb2.ChaincodeEventsRequest, context: grpc.ServicerContext
    ) -> int:
        """chaincodeEventsStartBlock: the block of after_transaction_id if it is committed,
        else the start position: specified, or next commit (also when unset). Fabric refuses
        oldest and newest here."""
        if request.after_transaction_id:
            found = self.node.ledger.tx_location(request.after_transaction_id)
            if found is not None:
                return int(found.block)
        position = request.start_position if request.HasField("start_position") else None
        kind = position.WhichOneof("Type") if position is not None else None
        if kind not in (None, "next_commit", "specified"):
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"invalid start position type: *orderer.SeekPosition_{kind.capitalize() if kind else ''}",
            )
        return start_number(position, self.node.ledger.height)


def _event_matcher(chaincode_id: str, after_tx: str) -> _Matcher:
    return _Matcher(chaincode_id, after_tx)


class _Matcher:
    """chaincodeEventMatcher: events of the chaincode, and with after_transaction_id only those
    after that transaction's own event."""

    def __init__(self, chaincode_id: str, after_tx: str) -> None:
        self.chaincode_id = chaincode_id
        self.after_tx = after_tx
        self.passed = not after_tx

    def __call__(self, event: object) -> bool:
        tx_id = getattr(event, "tx_id", "")
        if not self.passed:
            if tx_id == self.after_tx:
                self.passed = True
            return False
        return bool(getattr(event, "chaincode_id", "") == self.chaincode_id)
