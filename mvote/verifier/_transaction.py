"""One parse of a Fabric transaction envelope: :class:`ParsedTransaction`.

The walk over an envelope (Envelope -> Payload -> headers -> Transaction -> action ->
ProposalResponsePayload -> ChaincodeAction -> rwset, events, invocation args) exists here and
nowhere else. Every layer is a cached property, decoded on first use and at most once; a layer
that does not parse raises :class:`~mvote.verifier._errors.MalformedProto` naming the field, and
nothing else escapes.

Two ways in:

* :meth:`ParsedTransaction.parse` decodes the layers every transaction has (envelope, payload,
  channel header, signature header) at once, so a parsed transaction always has readable headers.
* ``ParsedTransaction(raw)`` decodes nothing until a property is read. The block validator uses
  it to map a failure of each layer to the ``TxValidationCode`` Fabric gives for that layer, by
  reading the layers in Fabric's order.

Endorser-only properties (``action``, ``chaincode_name``, ``args``, ``response``, ``namespaces``,
...) raise ``MalformedProto`` on a transaction whose header type is not ENDORSER_TRANSACTION, and
on an endorser transaction that does not carry exactly one action.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_event_pb2, chaincode_pb2, proposal_pb2

from mvote.chaincode._stub import Timestamp
from mvote.verifier._envelope import (
    HEADER_TYPE_CONFIG,
    HEADER_TYPE_ENDORSER_TRANSACTION,
    ChaincodeAction,
    ChannelHeader,
    EndorsedAction,
    Endorsement,
    NsRwSet,
    SignatureHeader,
    TxRwSet,
    _unpack_chaincode_action,
    _unpack_config_envelope,
    _unpack_envelope,
    _unpack_header_extension,
    _unpack_payload,
    _unpack_transaction,
    parse_proto,
    unpack_channel_header,
    unpack_rwset,
    unpack_signature_header,
)
from mvote.verifier._errors import MalformedProto

__all__ = [
    "ActionEvent",
    "ChaincodeResponse",
    "HeaderExtension",
    "ParsedTransaction",
    "PayloadParts",
    "SignedEnvelope",
    "TransactionHeaders",
    "envelope_problem",
    "transaction_id",
]


def transaction_id(nonce: bytes, creator: bytes) -> str:
    """Fabric's ComputeTxID: hex SHA-256 of the signature header's nonce followed by the creator
    (the serialized identity). The one implementation: proposals, Submit and validation use it."""
    return hashlib.sha256(nonce + creator).hexdigest()


class TransactionHeaders:
    """What a proposal and a transaction both read from their channel and signature headers.

    Precondition of every property: ``channel_header`` and ``signature_header`` are available
    (a subclass provides them, parsed once)."""

    if TYPE_CHECKING:  # provided by the subclass: a dataclass field or a cached property

        @property
        def channel_header(self) -> ChannelHeader: ...

        @property
        def signature_header(self) -> SignatureHeader: ...

    @property
    def tx_id(self) -> str:
        return self.channel_header.tx_id

    @property
    def channel_id(self) -> str:
        return self.channel_header.channel_id

    @property
    def timestamp(self) -> Timestamp:
        """The channel header's timestamp (seconds, nanos)."""
        ch = self.channel_header
        return Timestamp(ch.timestamp_seconds, ch.timestamp_nanos)

    @property
    def creator(self) -> bytes:
        """The serialized identity (``msp.SerializedIdentity``) of the creator."""
        return self.signature_header.creator


@dataclass(frozen=True)
class SignedEnvelope:
    """``common.Envelope``: the payload bytes and the creator's signature over them."""

    payload: bytes
    signature: bytes


@dataclass(frozen=True)
class PayloadParts:
    """``common.Payload``: the header bytes (kept verbatim: signatures and the proposal hash
    cover them) and the data; ``has_header`` is False when the payload carries no Header."""

    channel_header: bytes
    signature_header: bytes
    data: bytes
    has_header: bool


@dataclass(frozen=True)
class HeaderExtension:
    """``peer.ChaincodeHeaderExtension`` of the channel header: the invoked chaincode."""

    chaincode_name: str
    has_chaincode_id: bool


@dataclass(frozen=True)
class ChaincodeResponse:
    """The chaincode's ``peer.Response`` as the endorsers signed it."""

    status: int
    message: str
    payload: bytes


@dataclass(frozen=True)
class ActionEvent:
    """``peer.ChaincodeEvent`` of the action (all fields empty when the action set none)."""

    chaincode_id: str
    tx_id: str
    event_name: str
    payload: bytes


@dataclass(frozen=True)
class ParsedTransaction(TransactionHeaders):
    """A parse-once view of a serialized ``common.Envelope``.

    ``raw`` is the envelope's bytes; every other value is a cached property derived from it.
    Precondition of every property: none (hostile bytes give ``MalformedProto``).
    """

    raw: bytes

    @classmethod
    def parse(cls, envelope_bytes: bytes) -> ParsedTransaction:
        """The transaction of ``envelope_bytes`` with its envelope, payload and both headers
        decoded; ``MalformedProto`` naming the field if any of them does not parse."""
        tx = cls(bytes(envelope_bytes))
        _ = tx.channel_header, tx.signature_header
        return tx

    @classmethod
    def of(cls, tx: bytes | ParsedTransaction) -> ParsedTransaction:
        """``tx`` itself if already parsed, else a lazy view of its bytes (nothing decoded yet)."""
        return tx if isinstance(tx, ParsedTransaction) else cls(bytes(tx))

    def __reduce__(self) -> tuple[type[ParsedTransaction], tuple[bytes]]:
        """Pickled as its bytes alone: the layers are re-decoded on use where it lands."""
        return (ParsedTransaction, (self.raw,))

    # --- layers every envelope has ---------------------------------------------------------

    @cached_property
    def envelope(self) -> SignedEnvelope:
        payload, signature = _unpack_envelope(self.raw)
        return SignedEnvelope(payload, signature)

    @cached_property
    def payload(self) -> PayloadParts:
        return PayloadParts(*_unpack_payload(self.envelope.payload))

    def _header_bytes(self) -> PayloadParts:
        parts = self.payload
        if not parts.has_header:
            raise MalformedProto(
                "envelope.payload.header: expected a Header, got none", field="payload.header"
            )
        return parts

    @cached_property
    def channel_header(self) -> ChannelHeader:
        return unpack_channel_header(self._header_bytes().channel_header)

    @cached_property
    def signature_header(self) -> SignatureHeader:
        return unpack_signature_header(self._header_bytes().signature_header)

    @property
    def data(self) -> bytes:
        """The payload's data: a ``peer.Transaction``, or a ``ConfigEnvelope`` for CONFIG."""
        return self.payload.data

    @property
    def header_type(self) -> int:
        return self.channel_header.type

    @cached_property
    def computed_tx_id(self) -> str:
        """Fabric's tx id for this creator and nonce (:func:`transaction_id`)."""
        sh = self.signature_header
        return transaction_id(sh.nonce, sh.creator)

    # --- CONFIG ----------------------------------------------------------------------------

    @cached_property
    def config_envelope(self) -> Any:
        """The ``common.ConfigEnvelope`` of a CONFIG transaction (a protobuf message)."""
        if self.header_type != HEADER_TYPE_CONFIG:
            raise MalformedProto(
                f"channel_header.type: expected CONFIG (1), got {self.header_type}",
                field="channel_header.type",
            )
        return _unpack_config_envelope(self.data)

    # --- endorser transactions -------------------------------------------------------------

    def _require_endorser(self) -> None:
        if self.header_type != HEADER_TYPE_ENDORSER_TRANSACTION:
            raise MalformedProto(
                f"channel_header.type: expected ENDORSER_TRANSACTION (3), got {self.header_type}",
                field="channel_header.type",
            )

    @cached_property
    def actions(self) -> tuple[EndorsedAction, ...]:
        """Every action of the ``peer.Transaction``, down to its endorsements."""
        self._require_endorser()
        return _unpack_transaction(self.data)

    @cached_property
    def action(self) -> EndorsedAction:
        """The one action of an endorser transaction (Fabric accepts exactly one)."""
        actions = self.actions
        if len(actions) != 1:
            raise MalformedProto(
                f"transaction.actions: expected 1, got {len(actions)}",
                field="transaction.actions",
            )
        return actions[0]

    @cached_property
    def action_signature_header(self) -> SignatureHeader:
        return unpack_signature_header(self.action.header, "transaction.actions[0].header")

    @cached_property
    def header_extension(self) -> HeaderExtension:
        self._require_endorser()
        return HeaderExtension(*_unpack_header_extension(self.channel_header.extension))

    @property
    def chaincode_name(self) -> str:
        """The invoked chaincode, as the channel header's extension names it."""
        return self.header_extension.chaincode_name

    @property
    def proposal_hash(self) -> bytes:
        """The proposal hash the endorsers signed (inside the proposal response payload)."""
        return self.action.proposal_hash

    @cached_property
    def computed_proposal_hash(self) -> bytes:
        """SHA-256(channel header || action header || chaincode proposal payload), verbatim."""
        act = self.action
        return hashlib.sha256(
            self._header_bytes().channel_header + act.header + act.chaincode_proposal_payload
        ).digest()

    @cached_property
    def args(self) -> tuple[bytes, ...]:
        """The invocation args (function name first) of the chaincode proposal payload."""
        payload = parse_proto(
            proposal_pb2.ChaincodeProposalPayload,
            self.action.chaincode_proposal_payload,
            "proposal payload",
        )
        spec = parse_proto(chaincode_pb2.ChaincodeInvocationSpec, payload.input, "invocation spec")
        return tuple(bytes(a) for a in spec.chaincode_spec.input.args)

    @cached_property
    def chaincode_action(self) -> ChaincodeAction:
        return _unpack_chaincode_action(self.action.prp_extension)

    @property
    def response(self) -> ChaincodeResponse:
        ca = self.chaincode_action
        return ChaincodeResponse(ca.response_status, ca.response_message, ca.response_payload)

    @cached_property
    def events(self) -> ActionEvent:
        """The action's chaincode event (empty fields when it set none)."""
        raw = self.chaincode_action.events
        ev = parse_proto(chaincode_event_pb2.ChaincodeEvent, raw, "chaincode_action.events")
        return ActionEvent(
            str(ev.chaincode_id), str(ev.tx_id), str(ev.event_name), bytes(ev.payload)
        )

    @property
    def endorsements(self) -> tuple[Endorsement, ...]:
        return self.action.endorsements

    @property
    def results_bytes(self) -> bytes:
        """The serialized ``rwset.TxReadWriteSet`` the endorsers signed."""
        return self.chaincode_action.results

    @cached_property
    def rwset(self) -> TxRwSet:
        return unpack_rwset(self.results_bytes)

    @property
    def namespaces(self) -> tuple[NsRwSet, ...]:
        """Per namespace, in recorded order: reads with versions, range queries, writes."""
        return self.rwset.ns_rwsets

    def namespace(self, name: str) -> NsRwSet | None:
        """The first read-write set of namespace ``name``, or None if the transaction has none."""
        for ns in self.namespaces:
            if ns.namespace == name:
                return ns
        return None


def envelope_problem(raw: bytes, where: str) -> str | None:
    """Fabric's per-envelope well-formedness (VerifyTransactionsAreWellFormed) of ``raw``, the
    envelope at ``where`` (e.g. ``block.data[3]``): a payload, a signature, and the canonical
    serialization. None if it holds, else the message naming what does not."""
    try:
        env = parse_proto(common_pb2.Envelope, raw, where)
    except MalformedProto as exc:
        return exc.message
    if not env.payload:
        return "envelope.payload: expected bytes, got none"
    if not env.signature:
        return "envelope.signature: expected bytes, got none"
    if bytes(env.SerializeToString(deterministic=True)) != raw:
        return (
            "envelope: expected its canonical serialization, got other bytes "
            "(trailing or reordered fields)"
        )
    return None
