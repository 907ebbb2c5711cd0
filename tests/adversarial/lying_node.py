"""A lying node: a real gRPC server that answers like the node (it forwards every call to a real
embedded node behind it) but forges what an attacker would, and records what it receives.

The forgeries are :class:`Lies`: a rewrite of the contract's query answers (``Evaluate``), and
a rewrite of the blocks it delivers (``Deliver``): a forged write inside a committed block, a
block withheld, two blocks swapped. It holds no organisation's or orderer's key, as an operator
who runs a gateway in front of the others' peers: everything else it answers is the real node's.

Every ``Endorse`` request it receives is kept (:meth:`LyingNode.endorsed`), so a test can assert
that a client sent nothing secret: no partial decryption, no complaint, no ballot.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.peer import (
    chaincode_pb2,
    events_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)

from mvote.chaincode import encoding
from mvote.client._identity import Signer, load_signer
from mvote.node.material import NetworkMaterial
from mvote.node.orderer import sign_block
from mvote.verifier._block import block_data_hash, block_header_hash

UNARY = (
    "/gateway.Gateway/Evaluate",
    "/gateway.Gateway/Endorse",
    "/gateway.Gateway/Submit",
    "/gateway.Gateway/CommitStatus",
    "/grpc.health.v1.Health/Check",
)
UNARY_STREAM = ("/gateway.Gateway/ChaincodeEvents", "/grpc.health.v1.Health/Watch")
STREAMS = (
    "/protos.Deliver/Deliver",
    "/protos.Deliver/DeliverFiltered",
    "/protos.Deliver/DeliverWithPrivateData",
    "/orderer.AtomicBroadcast/Broadcast",
    "/orderer.AtomicBroadcast/Deliver",
)
MAX_MESSAGE = 1 << 28
OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]

#: (function, args) of a query, and the contract's JSON answer -> the answer to send.
AnswerLie = Callable[[str, list[str], Any], Any]
#: The committed blocks the node would deliver -> the blocks to deliver.
BlockLie = Callable[[list[bytes]], list[bytes]]


@dataclass
class Lies:
    """``answers``: rewrites what ``Evaluate`` answers; ``endorsed``: rewrites the contract's
    answer inside the transaction ``Endorse`` returns (the endorsers' signatures cover the
    original); ``blocks``: rewrites what ``Deliver`` sends."""

    answers: AnswerLie | None = None
    endorsed: AnswerLie | None = None
    blocks: BlockLie | None = None
    #: Re-endorses a forged endorsed answer with the insider's own peer (else the real
    #: endorsements are left over the original bytes).
    insider: Insider | None = None
    #: Answers every ``Endorse`` of a function with the first endorsed transaction of that
    #: function it saw (a genuine one, for another proposal).
    replay: bool = False
    #: With ``endorsed``: the chaincode response status to claim.
    status: int | None = None


@dataclass(frozen=True)
class Insider:
    """What one institution holds and a lying node run by it can sign with: its peer's key, its
    admin's key, and (if it runs the ordering service) the orderer's key. Not a majority."""

    peers: tuple[Signer, ...]
    admin: Signer
    orderer: Signer

    @staticmethod
    def of(material: NetworkMaterial, *orgs: int) -> Insider:
        """The insiders of organisations ``orgs`` (default: the first alone) colluding; the
        first one's admin submits."""
        chosen = [material.peer_orgs[i] for i in orgs or (0,)]
        ordering = material.orderer_org
        return Insider(
            tuple(load_signer(org.node.msp_dir, org.node.msp_id) for org in chosen),
            load_signer(chosen[0].admin.msp_dir, chosen[0].admin.msp_id),
            load_signer(ordering.node.msp_dir, ordering.node.msp_id),
        )

    def endorse(self, proposal_response_payload: bytes) -> list[proposal_response_pb2.Endorsement]:
        """Its own peers' endorsements of a (forged) proposal response, and no other."""
        return [
            proposal_response_pb2.Endorsement(
                endorser=peer.creator, signature=peer.sign(proposal_response_payload + peer.creator)
            )
            for peer in self.peers
        ]


def invocation_args(signed_proposal: proposal_pb2.SignedProposal) -> list[bytes]:
    """The chaincode arguments (function first) of a signed proposal."""
    proposal = proposal_pb2.Proposal.FromString(signed_proposal.proposal_bytes)
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input)
    return list(spec.chaincode_spec.input.args)


class LyingNode:
    """Serves on 127.0.0.1 (an ephemeral port, the node's own TLS certificate) and forwards to
    the real node at ``upstream``, applying :attr:`lies`."""

    def __init__(self, material: NetworkMaterial, upstream: str) -> None:
        peer = material.peer_orgs[0].node
        self._channel = grpc.secure_channel(
            upstream, grpc.ssl_channel_credentials(peer.tls_ca_path.read_bytes()), options=OPTIONS
        )
        self.lies = Lies()
        self._lock = threading.Lock()
        self._endorsed: list[list[bytes]] = []
        self._first: dict[bytes, bytes] = {}
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=OPTIONS)
        self._server.add_generic_rpc_handlers([_Handler(self)])
        credentials = grpc.ssl_server_credentials(
            [(peer.tls_key_path.read_bytes(), peer.tls_cert_path.read_bytes())]
        )
        self.port = self._server.add_secure_port("127.0.0.1:0", credentials)
        self._server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def lie(self, lies: Lies) -> None:
        """Lie from now on (and forget what was received so far)."""
        with self._lock:
            self.lies = lies
            self._endorsed.clear()
            self._first.clear()

    def endorsed(self) -> list[str]:
        """The contract function of every Endorse request received since the last :meth:`lie`."""
        with self._lock:
            return [args[0].decode() for args in self._endorsed]

    def endorsed_args(self, function: str) -> list[list[bytes]]:
        with self._lock:
            return [args[1:] for args in self._endorsed if args[0].decode() == function]

    def stop(self) -> None:
        self._server.stop(grace=None)
        self._channel.close()

    # --- forwarding ------------------------------------------------------------------------

    def unary(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        if method == "/gateway.Gateway/Endorse":
            signed = gateway_pb2.EndorseRequest.FromString(request).proposed_transaction
            with self._lock:
                self._endorsed.append(invocation_args(signed))
        try:
            response: bytes = self._channel.unary_unary(method)(request)
        except grpc.RpcError as exc:
            _relay_error(exc, context)
        lies = self.lies
        if method == "/gateway.Gateway/Evaluate" and lies.answers is not None:
            return _lie_about_answer(request, response, lies.answers)
        if method == "/gateway.Gateway/Endorse" and lies.endorsed is not None:
            return _lie_about_endorsement(request, response, lies)
        if method == "/gateway.Gateway/Endorse" and lies.replay:
            return self._replayed(request, response)
        return response

    def _replayed(self, request: bytes, response: bytes) -> bytes:
        signed = gateway_pb2.EndorseRequest.FromString(request).proposed_transaction
        function = invocation_args(signed)[0]
        with self._lock:
            return self._first.setdefault(function, response)

    def unary_stream(
        self, method: str, request: bytes, context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        try:
            yield from self._channel.unary_stream(method)(request)
        except grpc.RpcError as exc:
            _relay_error(exc, context)

    def stream(
        self, method: str, requests: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        lie = self.lies.blocks
        try:
            upstream = self._channel.stream_stream(method)(requests)
            if method != "/protos.Deliver/Deliver" or lie is None:
                yield from upstream
                return
            yield from _lie_about_blocks(upstream, lie)
        except grpc.RpcError as exc:
            _relay_error(exc, context)


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, node: LyingNode) -> None:
        self._node = node

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method
        node = self._node
        if method in UNARY:
            return grpc.unary_unary_rpc_method_handler(
                lambda request, context: node.unary(method, request, context)
            )
        if method in UNARY_STREAM:
            return grpc.unary_stream_rpc_method_handler(
                lambda request, context: node.unary_stream(method, request, context)
            )
        if method in STREAMS:
            return grpc.stream_stream_rpc_method_handler(
                lambda requests, context: node.stream(method, requests, context)
            )
        return None


def _relay_error(exc: grpc.RpcError, context: grpc.ServicerContext) -> None:
    if isinstance(exc, grpc.Call):
        context.set_trailing_metadata(exc.trailing_metadata() or ())
        context.abort(exc.code(), exc.details() or "")
    context.abort(grpc.StatusCode.UNKNOWN, str(exc))


def _lie_about_answer(request: bytes, response: bytes, lie: AnswerLie) -> bytes:
    signed = gateway_pb2.EvaluateRequest.FromString(request).proposed_transaction
    function, *args = (a.decode() for a in invocation_args(signed))
    answer = gateway_pb2.EvaluateResponse.FromString(response)
    value = json.loads(answer.result.payload) if answer.result.payload else None
    forged = lie(function, args, value)
    answer.result.payload = json.dumps(forged, separators=(",", ":"), sort_keys=True).encode()
    return answer.SerializeToString()


def _lie_about_endorsement(request: bytes, response: bytes, lies: Lies) -> bytes:
    """Precondition: ``lies.endorsed`` is set."""
    signed = gateway_pb2.EndorseRequest.FromString(request).proposed_transaction
    function, *args = (a.decode() for a in invocation_args(signed))
    answer = gateway_pb2.EndorseResponse.FromString(response)
    prepared = answer.prepared_transaction
    lie = lies.endorsed
    assert lie is not None

    def edit(action: proposal_pb2.ChaincodeAction) -> bool:
        value = json.loads(action.response.payload) if action.response.payload else None
        action.response.payload = encoding.encode(lie(function, args, value))
        if lies.status is not None:
            action.response.status = lies.status
        return True

    payload = edit_chaincode_action(prepared.payload, edit, lies.insider)
    if payload is not None:
        prepared.payload = payload
    return answer.SerializeToString()


def _lie_about_blocks(upstream: Iterator[bytes], lie: BlockLie) -> Iterator[bytes]:
    """Collect the delivered blocks up to the final status, forge them, send them."""
    blocks: list[bytes] = []
    status: list[bytes] = []
    for raw in upstream:
        response = events_pb2.DeliverResponse.FromString(raw)
        if response.WhichOneof("Type") == "block":
            blocks.append(response.block.SerializeToString())
        else:
            status.append(raw)
            break
    for block in lie(blocks):
        yield events_pb2.DeliverResponse(
            block=common_pb2.Block.FromString(block)
        ).SerializeToString()
    yield from status


# --- forgeries of blocks ----------------------------------------------------------------------


def rewrite_writes(blocks: list[bytes], key: str, forge: Callable[[bytes], bytes]) -> list[bytes]:
    """Every write of ``key`` in every transaction replaced by ``forge(value)``, and each block
    header's data hash recomputed (the attacker cannot sign, so the orderer's signature and the
    endorsements still cover the original bytes)."""
    return [_rewrite_block(raw, key, forge) for raw in blocks]


def insider_rewrite_writes(
    blocks: list[bytes], key: str, forge: Callable[[bytes], bytes], insider: Insider
) -> list[bytes]:
    """As :func:`rewrite_writes`, by an insider: each forged transaction re-endorsed by its own
    peer and re-signed by its admin (who submitted it), and from the first forged block on
    every block re-chained (previous hash) and re-signed with the orderer's key. Only the
    endorsement policy (a majority of organisations) stands in the way."""
    out: list[bytes] = []
    previous: bytes | None = None
    for raw in blocks:
        block = common_pb2.Block.FromString(raw)
        if previous is not None:
            block.header.previous_hash = previous
        changed = False
        for i, data in enumerate(block.data.data):
            forged = _rewrite_envelope(data, key, forge, insider)
            if forged is not None:
                block.data.data[i] = forged
                changed = True
        if changed:
            block.header.data_hash = block_data_hash(list(block.data.data))
        if changed or previous is not None:
            sign_block(block, insider.orderer)
            h = block.header
            previous = block_header_hash(h.number, h.previous_hash, h.data_hash)
        out.append(block.SerializeToString())
    return out


def _rewrite_block(raw: bytes, key: str, forge: Callable[[bytes], bytes]) -> bytes:
    block = common_pb2.Block.FromString(raw)
    changed = False
    for i, data in enumerate(block.data.data):
        forged = _rewrite_envelope(data, key, forge)
        if forged is not None:
            block.data.data[i] = forged
            changed = True
    if changed:
        block.header.data_hash = block_data_hash(list(block.data.data))
    return block.SerializeToString()


def _rewrite_envelope(
    data: bytes, key: str, forge: Callable[[bytes], bytes], insider: Insider | None = None
) -> bytes | None:
    envelope = common_pb2.Envelope.FromString(data)

    def edit(action: proposal_pb2.ChaincodeAction) -> bool:
        rwset = rwset_pb2.TxReadWriteSet.FromString(action.results)
        changed = False
        for ns in rwset.ns_rwset:
            kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
            for write in kv.writes:
                if write.key == key and not write.is_delete:
                    write.value = forge(write.value)
                    changed = True
            ns.rwset = kv.SerializeToString()
        action.results = rwset.SerializeToString()
        return changed

    payload = edit_chaincode_action(envelope.payload, edit, insider)
    if payload is None:
        return None
    envelope.payload = payload
    if insider is not None:  # the insider's admin submitted it: its signature, redone
        envelope.signature = insider.admin.sign(payload)
    return envelope.SerializeToString()


def edit_chaincode_action(
    payload_bytes: bytes,
    edit: Callable[[proposal_pb2.ChaincodeAction], bool],
    insider: Insider | None = None,
) -> bytes | None:
    """An endorser transaction's payload with its chaincode action edited in place by ``edit``
    (every layer above re-serialized), or None when ``edit`` changed nothing or the payload is
    not an endorser transaction's. The endorsements are the original ones over the original
    bytes, or with an ``insider`` its own peer's alone over the edited ones."""
    payload = common_pb2.Payload.FromString(payload_bytes)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    if header.type != common_pb2.ENDORSER_TRANSACTION:
        return None
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload
    )
    action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
    if not edit(action):
        return None
    prp.extension = action.SerializeToString()
    cap.action.proposal_response_payload = prp.SerializeToString()
    if insider is not None:
        del cap.action.endorsements[:]
        cap.action.endorsements.extend(insider.endorse(cap.action.proposal_response_payload))
    tx.actions[0].payload = cap.SerializeToString()
    payload.data = tx.SerializeToString()
    return payload.SerializeToString()


def forge_json(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    """A forgery of a canonical JSON record: decode, ``change`` in place, encode."""

    def forge(value: bytes) -> bytes:
        record = encoding.decode(value, max_size=1 << 24)
        change(record)
        return encoding.encode(record)

    return forge
