"""Typed unpacking of Fabric blocks and transactions, one protobuf layer at a time.

Every layer is its own function so that a validator can map a failure to the
``TxValidationCode`` Fabric gives for that layer (a bad payload is BAD_PAYLOAD, a bad action
INVALID_ENDORSER_TRANSACTION, a bad rwset BAD_RWSET, ...). A protobuf that does not parse
raises :class:`MalformedProto` naming the field; nothing else escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.peer import (
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf.message import DecodeError

from mvote.verifier._errors import MalformedProto

M = TypeVar("M")

#: (block number, tx number): Fabric's version of a key, the height of the write.
Version = tuple[int, int]

HEADER_TYPE_CONFIG = 1
HEADER_TYPE_CONFIG_UPDATE = 2
HEADER_TYPE_ENDORSER_TRANSACTION = 3

METADATA_SIGNATURES = 0
METADATA_LAST_CONFIG = 1
METADATA_TRANSACTIONS_FILTER = 2
METADATA_ORDERER = 3
METADATA_COMMIT_HASH = 4


def parse_proto(cls: Any, data: bytes, field: str) -> Any:
    """``cls`` parsed from ``data``, or :class:`MalformedProto` naming ``field``.

    upb raises DecodeError for wire-format errors; anything else it raises on hostile bytes
    (RecursionError on deep nesting) is mapped to the same typed error.
    """
    msg = cls()
    try:
        msg.ParseFromString(bytes(data))
    except (DecodeError, RecursionError, ValueError) as exc:
        raise MalformedProto(
            f"{field}: expected a serialized {cls.DESCRIPTOR.full_name}, "
            f"got {len(data)} bytes that do not parse",
            field=field,
        ) from exc
    return msg


# --- blocks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetadataSignature:
    signature_header: bytes
    signature: bytes
    identifier_header: bytes


@dataclass(frozen=True)
class BlockView:
    """A ``common.Block`` with its header, data and metadata slots as plain values."""

    number: int
    previous_hash: bytes
    data_hash: bytes
    data: tuple[bytes, ...]
    metadata: tuple[bytes, ...]

    def metadata_slot(self, index: int) -> bytes:
        return self.metadata[index] if index < len(self.metadata) else b""


def unpack_block(raw: bytes) -> BlockView:
    """Read a serialized ``common.Block``; a block without a header is malformed."""
    block = parse_proto(common_pb2.Block, raw, "block")
    return block_view(block)


def block_view(block: Any) -> BlockView:
    """Typed view of a parsed ``common.Block`` message."""
    if not block.HasField("header"):
        raise MalformedProto("block.header: expected a BlockHeader, got none", field="block.header")
    return BlockView(
        number=int(block.header.number),
        previous_hash=bytes(block.header.previous_hash),
        data_hash=bytes(block.header.data_hash),
        data=tuple(bytes(d) for d in block.data.data),
        metadata=tuple(bytes(m) for m in block.metadata.metadata),
    )


@dataclass(frozen=True)
class SignaturesMetadata:
    """Slot SIGNATURES: a ``common.Metadata`` (value = OrdererBlockMetadata) and its signatures."""

    value: bytes
    signatures: tuple[MetadataSignature, ...]
    last_config_index: int | None


def unpack_signatures_metadata(slot: bytes) -> SignaturesMetadata:
    md = parse_proto(common_pb2.Metadata, slot, "block.metadata[SIGNATURES]")
    last_config: int | None = None
    if md.value:
        obm = parse_proto(
            common_pb2.OrdererBlockMetadata, md.value, "block.metadata[SIGNATURES].value"
        )
        last_config = int(obm.last_config.index)
    return SignaturesMetadata(
        value=bytes(md.value),
        signatures=tuple(
            MetadataSignature(
                signature_header=bytes(s.signature_header),
                signature=bytes(s.signature),
                identifier_header=bytes(s.identifier_header),
            )
            for s in md.signatures
        ),
        last_config_index=last_config,
    )


# --- envelopes and headers ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelHeader:
    type: int
    version: int
    channel_id: str
    tx_id: str
    epoch: int
    extension: bytes
    tls_cert_hash: bytes
    timestamp_seconds: int
    timestamp_nanos: int


@dataclass(frozen=True)
class SignatureHeader:
    creator: bytes
    nonce: bytes


def _unpack_envelope(raw: bytes) -> tuple[bytes, bytes]:
    """(payload, signature) of a serialized ``common.Envelope``."""
    env = parse_proto(common_pb2.Envelope, raw, "envelope")
    return bytes(env.payload), bytes(env.signature)


def _unpack_payload(payload: bytes) -> tuple[bytes, bytes, bytes, bool]:
    """(channel_header bytes, signature_header bytes, data, has_header) of a ``common.Payload``."""
    p = parse_proto(common_pb2.Payload, payload, "envelope.payload")
    has_header = bool(p.HasField("header"))
    return (
        bytes(p.header.channel_header),
        bytes(p.header.signature_header),
        bytes(p.data),
        has_header,
    )


def unpack_channel_header(raw: bytes) -> ChannelHeader:
    ch = parse_proto(common_pb2.ChannelHeader, raw, "payload.header.channel_header")
    return ChannelHeader(
        type=int(ch.type),
        version=int(ch.version),
        channel_id=str(ch.channel_id),
        tx_id=str(ch.tx_id),
        epoch=int(ch.epoch),
        extension=bytes(ch.extension),
        tls_cert_hash=bytes(ch.tls_cert_hash),
        timestamp_seconds=int(ch.timestamp.seconds),
        timestamp_nanos=int(ch.timestamp.nanos),
    )


def unpack_signature_header(
    raw: bytes, field: str = "payload.header.signature_header"
) -> SignatureHeader:
    sh = parse_proto(common_pb2.SignatureHeader, raw, field)
    return SignatureHeader(creator=bytes(sh.creator), nonce=bytes(sh.nonce))


# --- read-write sets --------------------------------------------------------------------------


@dataclass(frozen=True)
class KVRead:
    key: str
    #: None: the key did not exist when the transaction was simulated.
    version: Version | None


@dataclass(frozen=True)
class KVWrite:
    key: str
    is_delete: bool
    value: bytes


@dataclass(frozen=True)
class RangeQuery:
    start_key: str
    end_key: str
    itr_exhausted: bool
    #: None when the endorser summarised the results as Merkle hashes instead of raw reads.
    raw_reads: tuple[KVRead, ...] | None


@dataclass(frozen=True)
class HashedRead:
    key_hash: bytes
    version: Version | None


@dataclass(frozen=True)
class HashedWrite:
    key_hash: bytes
    is_delete: bool
    value_hash: bytes


@dataclass(frozen=True)
class CollectionRwSet:
    collection: str
    reads: tuple[HashedRead, ...]
    writes: tuple[HashedWrite, ...]
    metadata_write_keys: tuple[bytes, ...]
    pvt_rwset_hash: bytes


@dataclass(frozen=True)
class NsRwSet:
    namespace: str
    reads: tuple[KVRead, ...]
    range_queries: tuple[RangeQuery, ...]
    writes: tuple[KVWrite, ...]
    metadata_write_keys: tuple[str, ...]
    collections: tuple[CollectionRwSet, ...]

    def has_writes(self) -> bool:
        """Fabric's txWritesToNamespace: any public, hashed or metadata write."""
        return bool(
            self.writes
            or self.metadata_write_keys
            or any(c.writes or c.metadata_write_keys for c in self.collections)
        )


@dataclass(frozen=True)
class TxRwSet:
    ns_rwsets: tuple[NsRwSet, ...]


def _version(msg: Any) -> Version | None:
    if not msg.HasField("version"):
        return None
    return (int(msg.version.block_num), int(msg.version.tx_num))


def unpack_rwset(raw: bytes) -> TxRwSet:
    """A ``rwset.TxReadWriteSet`` (KV data model) with every namespace's KVRWSet decoded."""
    txrw = parse_proto(rwset_pb2.TxReadWriteSet, raw, "chaincode_action.results")
    if int(txrw.data_model) != 0:
        raise MalformedProto(
            f"chaincode_action.results.data_model: expected KV (0), got {int(txrw.data_model)}",
            field="chaincode_action.results.data_model",
        )
    return TxRwSet(tuple(_ns_rwset(ns) for ns in txrw.ns_rwset))


def _ns_rwset(ns: Any) -> NsRwSet:
    """One ``NsReadWriteSet`` message, its KVRWSet and collections decoded."""
    name = str(ns.namespace)
    field = f"chaincode_action.results.ns_rwset[{name}]"
    kv = parse_proto(kv_rwset_pb2.KVRWSet, ns.rwset, field + ".rwset")
    return NsRwSet(
        namespace=name,
        reads=tuple(KVRead(str(r.key), _version(r)) for r in kv.reads),
        range_queries=tuple(_range_query(rq) for rq in kv.range_queries_info),
        writes=tuple(KVWrite(str(w.key), bool(w.is_delete), bytes(w.value)) for w in kv.writes),
        metadata_write_keys=tuple(str(m.key) for m in kv.metadata_writes),
        collections=tuple(_collection(c, field) for c in ns.collection_hashed_rwset),
    )


def _range_query(rq: Any) -> RangeQuery:
    raw_reads: tuple[KVRead, ...] | None = None
    if rq.HasField("raw_reads"):
        raw_reads = tuple(KVRead(str(r.key), _version(r)) for r in rq.raw_reads.kv_reads)
    elif not rq.HasField("reads_merkle_hashes"):
        raw_reads = ()
    return RangeQuery(str(rq.start_key), str(rq.end_key), bool(rq.itr_exhausted), raw_reads)


def _collection(c: Any, field: str) -> CollectionRwSet:
    cname = str(c.collection_name)
    h = parse_proto(kv_rwset_pb2.HashedRWSet, c.hashed_rwset, f"{field}.collection[{cname}]")
    return CollectionRwSet(
        collection=cname,
        reads=tuple(HashedRead(bytes(r.key_hash), _version(r)) for r in h.hashed_reads),
        writes=tuple(
            HashedWrite(bytes(w.key_hash), bool(w.is_delete), bytes(w.value_hash))
            for w in h.hashed_writes
        ),
        metadata_write_keys=tuple(bytes(m.key_hash) for m in h.metadata_writes),
        pvt_rwset_hash=bytes(c.pvt_rwset_hash),
    )


# --- endorser transactions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Endorsement:
    endorser: bytes
    signature: bytes


@dataclass(frozen=True)
class ChaincodeAction:
    """``peer.ChaincodeAction``: what the chaincode did, as the endorsers signed it."""

    chaincode_name: str
    chaincode_version: str
    has_chaincode_id: bool
    results: bytes
    events: bytes
    response_status: int
    response_message: str
    response_payload: bytes


@dataclass(frozen=True)
class EndorsedAction:
    """One ``TransactionAction`` of an endorser transaction, unpacked down to its endorsements."""

    #: The action's SignatureHeader bytes; with the channel header they give the proposal hash.
    header: bytes
    chaincode_proposal_payload: bytes
    proposal_response_payload: bytes
    proposal_hash: bytes
    prp_extension: bytes
    endorsements: tuple[Endorsement, ...]


def _unpack_transaction(data: bytes) -> tuple[EndorsedAction, ...]:
    """The actions of a ``peer.Transaction`` down to the proposal response payload."""
    tx = parse_proto(transaction_pb2.Transaction, data, "payload.data (Transaction)")
    actions = []
    for i, act in enumerate(tx.actions):
        field = f"transaction.actions[{i}]"
        cap = parse_proto(transaction_pb2.ChaincodeActionPayload, act.payload, field + ".payload")
        if not cap.HasField("action"):
            raise MalformedProto(
                f"{field}.payload.action: expected a ChaincodeEndorsedAction, got none",
                field=field + ".payload.action",
            )
        prp_bytes = bytes(cap.action.proposal_response_payload)
        prp = parse_proto(
            proposal_response_pb2.ProposalResponsePayload,
            prp_bytes,
            field + ".payload.action.proposal_response_payload",
        )
        actions.append(
            EndorsedAction(
                header=bytes(act.header),
                chaincode_proposal_payload=bytes(cap.chaincode_proposal_payload),
                proposal_response_payload=prp_bytes,
                proposal_hash=bytes(prp.proposal_hash),
                prp_extension=bytes(prp.extension),
                endorsements=tuple(
                    Endorsement(bytes(e.endorser), bytes(e.signature))
                    for e in cap.action.endorsements
                ),
            )
        )
    return tuple(actions)


def _unpack_chaincode_action(prp_extension: bytes) -> ChaincodeAction:
    ca = parse_proto(
        proposal_pb2.ChaincodeAction, prp_extension, "proposal_response_payload.extension"
    )
    return ChaincodeAction(
        chaincode_name=str(ca.chaincode_id.name),
        chaincode_version=str(ca.chaincode_id.version),
        has_chaincode_id=bool(ca.HasField("chaincode_id")),
        results=bytes(ca.results),
        events=bytes(ca.events),
        response_status=int(ca.response.status),
        response_message=str(ca.response.message),
        response_payload=bytes(ca.response.payload),
    )


def _unpack_header_extension(extension: bytes) -> tuple[str, bool]:
    """(chaincode name, has chaincode id) of a ``ChaincodeHeaderExtension``."""
    ext = parse_proto(proposal_pb2.ChaincodeHeaderExtension, extension, "channel_header.extension")
    return str(ext.chaincode_id.name), bool(ext.HasField("chaincode_id"))


def _unpack_config_envelope(data: bytes) -> Any:
    """The ``common.ConfigEnvelope`` of a CONFIG transaction's payload data (a protobuf message)."""
    env = parse_proto(configtx_pb2.ConfigEnvelope, data, "payload.data (ConfigEnvelope)")
    if not env.HasField("config"):
        raise MalformedProto(
            "config_envelope.config: expected a Config, got none", field="config_envelope.config"
        )
    return env
