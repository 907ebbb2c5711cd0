"""Field-by-field comparison of Fabric blocks, recursively over the decoded protobuf tree.

A block becomes a plain tree: every protobuf message is a dict of the fields present on the wire
(``ListFields``: what the producer set), every repeated field a list, and every ``bytes`` field
that Fabric fills with another serialized message (payload, headers, extension, results, rwset,
events, creator, endorser, metadata slots, ...) is decoded in place, down to the leaves (ints,
strings, raw bytes). Beside the tree, ``derived`` holds what must be recomputed rather than
compared (data hash, previous-hash chaining, tx id derivation, proposal hash, signatures):
booleans that must be equal, i.e. true, for both blocks.

Two trees are then compared in two ways:

- :func:`shape`: the set of present field paths with list indices wildcarded (``#``). Equal
  shapes mean the same fields are set at every level of the message tree.
- :func:`differences`: every exact path at which the trees differ (a leaf value, a list length,
  a field present on one side only). :func:`explain` matches each against an allow-list of
  :class:`Allowed` rules, each with a kind check (a differing certificate must still be a
  certificate on both sides, a signature a low-S DER signature, ...) and a stated reason.

Paths are ``/``-joined field names and list indices; a pattern segment ``#`` matches one index,
``*`` any one segment, ``**`` any number of segments (zero or more).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.orderer.etcdraft import metadata_pb2 as raft_metadata_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from mvote.verifier._block import block_data_hash, block_header_bytes, block_header_hash
from mvote.verifier._errors import VerifierError
from mvote.verifier._signatures import decode_signature, is_low_s, verify_p256_sha256

Tree = Any

METADATA_SLOTS = ("SIGNATURES", "LAST_CONFIG", "TRANSACTIONS_FILTER", "ORDERER", "COMMIT_HASH")

# --- decoding ----------------------------------------------------------------------------------

ENV = "data/#"
PAYLOAD = f"{ENV}/payload"
CHANNEL_HEADER = f"{PAYLOAD}/header/channel_header"
ACTION = f"{PAYLOAD}/data/actions/#"
CAP = f"{ACTION}/payload"
CPP = f"{CAP}/chaincode_proposal_payload"
PRP = f"{CAP}/action/proposal_response_payload"
CC_ACTION = f"{PRP}/extension"
SIGNATURES = "metadata/SIGNATURES"

#: Which serialized message each ``bytes`` field holds in an endorser-transaction block.
NESTED: dict[str, type[Message]] = {
    ENV: common_pb2.Envelope,
    PAYLOAD: common_pb2.Payload,
    CHANNEL_HEADER: common_pb2.ChannelHeader,
    f"{CHANNEL_HEADER}/extension": proposal_pb2.ChaincodeHeaderExtension,
    f"{PAYLOAD}/header/signature_header": common_pb2.SignatureHeader,
    f"{PAYLOAD}/header/signature_header/creator": identities_pb2.SerializedIdentity,
    f"{PAYLOAD}/data": transaction_pb2.Transaction,
    f"{ACTION}/header": common_pb2.SignatureHeader,
    f"{ACTION}/header/creator": identities_pb2.SerializedIdentity,
    CAP: transaction_pb2.ChaincodeActionPayload,
    CPP: proposal_pb2.ChaincodeProposalPayload,
    f"{CPP}/input": chaincode_pb2.ChaincodeInvocationSpec,
    PRP: proposal_response_pb2.ProposalResponsePayload,
    CC_ACTION: proposal_pb2.ChaincodeAction,
    f"{CC_ACTION}/results": rwset_pb2.TxReadWriteSet,
    f"{CC_ACTION}/results/ns_rwset/#/rwset": kv_rwset_pb2.KVRWSet,
    f"{CC_ACTION}/results/ns_rwset/#/collection_hashed_rwset/#/hashed_rwset": (
        kv_rwset_pb2.HashedRWSet
    ),
    f"{CC_ACTION}/events": chaincode_event_pb2.ChaincodeEvent,
    f"{CAP}/action/endorsements/#/endorser": identities_pb2.SerializedIdentity,
    SIGNATURES: common_pb2.Metadata,
    f"{SIGNATURES}/value": common_pb2.OrdererBlockMetadata,
    f"{SIGNATURES}/value/consenter_metadata": common_pb2.Metadata,
    f"{SIGNATURES}/value/consenter_metadata/value": raft_metadata_pb2.BlockMetadata,
    f"{SIGNATURES}/signatures/#/signature_header": common_pb2.SignatureHeader,
    f"{SIGNATURES}/signatures/#/signature_header/creator": identities_pb2.SerializedIdentity,
    "metadata/COMMIT_HASH": common_pb2.Metadata,
}

_INDEX = re.compile(r"(?<=/)\d+(?=/|$)|^\d+(?=/|$)")


def wildcard(path: str) -> str:
    """``path`` with every list index replaced by ``#``."""
    return _INDEX.sub("#", path)


def _value(value: Any, path: str) -> Tree:
    if isinstance(value, Message):
        return decode_message(value, path)
    if isinstance(value, bytes):
        cls = NESTED.get(wildcard(path))
        if cls is not None and value:
            return decode_message(cls.FromString(value), path)
    return value


def decode_message(message: Message, path: str) -> dict[str, Tree]:
    """The fields present on the wire, nested messages decoded (see :data:`NESTED`)."""
    out: dict[str, Tree] = {}
    for field, value in message.ListFields():
        here = f"{path}/{field.name}" if path else field.name
        # ``label`` (not ``is_repeated``, absent at runtime from this protobuf release).
        if getattr(field, "label", None) == FieldDescriptor.LABEL_REPEATED:
            out[field.name] = [_value(v, f"{here}/{i}") for i, v in enumerate(value)]
        else:
            out[field.name] = _value(value, here)
    return out


def block_tree(raw: bytes, previous_header_hash: bytes | None) -> dict[str, Tree]:
    """A raw ``common.Block`` as a tree: ``header``, ``data`` (envelopes), ``metadata`` (slots by
    name; an empty slot is ``b""``) and ``derived`` (recomputed facts, see :func:`derived`)."""
    block = common_pb2.Block.FromString(raw)
    slots = list(block.metadata.metadata)
    return {
        "header": decode_message(block.header, "header"),
        "data": [_value(bytes(d), f"data/{i}") for i, d in enumerate(block.data.data)],
        "metadata": {
            name: _value(bytes(slots[i]), f"metadata/{name}") if i < len(slots) else None
            for i, name in enumerate(METADATA_SLOTS)
        },
        "derived": derived(block, previous_header_hash),
    }


# --- recomputed facts --------------------------------------------------------------------------


def _public_key(serialized_identity: bytes) -> tuple[str, ec.EllipticCurvePublicKey]:
    identity = identities_pb2.SerializedIdentity.FromString(serialized_identity)
    key = x509.load_pem_x509_certificate(identity.id_bytes).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return str(identity.mspid), key


def signature_ok(serialized_identity: bytes, data: bytes, signature: bytes) -> bool:
    """A strict DER, low-S ECDSA P-256 signature of the identity's certificate key."""
    try:
        decode_signature(signature)
        _, key = _public_key(serialized_identity)
        verify_p256_sha256(key, data, signature)
    except (VerifierError, ValueError):
        return False
    return is_low_s(signature)


def _tx_facts(raw: bytes) -> dict[str, Any]:
    env = common_pb2.Envelope.FromString(raw)
    payload = common_pb2.Payload.FromString(env.payload)
    ch_bytes, sh_bytes = payload.header.channel_header, payload.header.signature_header
    ch = common_pb2.ChannelHeader.FromString(ch_bytes)
    sh = common_pb2.SignatureHeader.FromString(sh_bytes)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    actions = []
    for action in tx.actions:
        cap = transaction_pb2.ChaincodeActionPayload.FromString(action.payload)
        cpp = proposal_pb2.ChaincodeProposalPayload.FromString(cap.chaincode_proposal_payload)
        prp_bytes = cap.action.proposal_response_payload
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(prp_bytes)
        ca = proposal_pb2.ChaincodeAction.FromString(prp.extension)
        event = chaincode_event_pb2.ChaincodeEvent.FromString(ca.events)
        ext = proposal_pb2.ChaincodeHeaderExtension.FromString(ch.extension)
        endorsers = [_public_key(e.endorser)[0] for e in cap.action.endorsements]
        actions.append(
            {
                "header_is_payload_signature_header": action.header == sh_bytes,
                # Fabric's proposal hash: channel header || signature header || the
                # ChaincodeProposalPayload without its transient map (as the tx carries it).
                "proposal_hash_recomputed": prp.proposal_hash
                == hashlib.sha256(
                    ch_bytes
                    + sh_bytes
                    + proposal_pb2.ChaincodeProposalPayload(input=cpp.input).SerializeToString()
                ).digest(),
                "payload_has_no_transient": len(cpp.TransientMap) == 0,
                "event_names_this_tx": not ca.events or event.tx_id == ch.tx_id,
                "event_names_the_chaincode": not ca.events
                or event.chaincode_id == ext.chaincode_id.name,
                "endorser_orgs_distinct": len(set(endorsers)) == len(endorsers),
                "endorsement_signatures_ok": [
                    signature_ok(e.endorser, prp_bytes + e.endorser, e.signature)
                    for e in cap.action.endorsements
                ],
            }
        )
    return {
        "tx_id_is_sha256_of_nonce_and_creator": ch.tx_id
        == hashlib.sha256(sh.nonce + sh.creator).hexdigest(),
        "creator_signature_ok": signature_ok(sh.creator, env.payload, env.signature),
        "actions": actions,
    }


def derived(block: common_pb2.Block, previous_header_hash: bytes | None) -> dict[str, Any]:
    """What must be recomputed, not compared: hashes, derivations and signature checks."""
    header = block.header
    signatures = common_pb2.Metadata.FromString(block.metadata.metadata[common_pb2.SIGNATURES])
    signed_header = block_header_bytes(header.number, header.previous_hash, header.data_hash)
    orderer = [
        signature_ok(
            common_pb2.SignatureHeader.FromString(s.signature_header).creator,
            signatures.value + s.signature_header + signed_header,
            s.signature,
        )
        for s in signatures.signatures
    ]
    return {
        "data_hash_recomputed": header.data_hash == block_data_hash(list(block.data.data)),
        "previous_hash_chains": previous_header_hash is None
        or header.previous_hash == previous_header_hash,
        "orderer_signatures_ok": orderer,
        "txs": [_tx_facts(bytes(d)) for d in block.data.data],
    }


def header_hash(raw: bytes) -> bytes:
    header = common_pb2.Block.FromString(raw).header
    return block_header_hash(header.number, header.previous_hash, header.data_hash)


# --- renaming ------------------------------------------------------------------------------------


def renamed(tree: Tree, names: Mapping[str, str]) -> Tree:
    """MSP ids replaced wherever they are a whole string (``mspid`` leaves)."""
    if isinstance(tree, dict):
        return {k: renamed(v, names) for k, v in tree.items()}
    if isinstance(tree, list):
        return [renamed(v, names) for v in tree]
    if isinstance(tree, str):
        return names.get(tree, tree)
    return tree


# --- comparing -----------------------------------------------------------------------------------


def shape(tree: Tree, path: str = "") -> set[str]:
    """Every present field's path, list indices wildcarded: which fields are set, everywhere."""
    out: set[str] = set()
    if isinstance(tree, dict):
        for key, value in tree.items():
            here = f"{path}/{key}" if path else key
            out.add(here)
            out |= shape(value, here)
    elif isinstance(tree, list):
        for value in tree:
            out |= shape(value, f"{path}/#")
    return out


@dataclass(frozen=True)
class Difference:
    path: str
    #: "value", "length", "only in golden" or "only in node".
    what: str
    golden: Any
    node: Any

    def __str__(self) -> str:
        return f"{self.path}: {self.what} ({_short(self.golden)} != {_short(self.node)})"


def _short(value: Any) -> str:
    text = value.hex() if isinstance(value, bytes) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def differences(golden: Tree, node: Tree, path: str = "") -> list[Difference]:
    """Every exact path where the trees differ. Lists of different lengths are compared on
    their common prefix; the length difference itself is one entry."""
    if isinstance(golden, dict) and isinstance(node, dict):
        out: list[Difference] = []
        for key in sorted(set(golden) | set(node)):
            here = f"{path}/{key}" if path else key
            if key not in node:
                out.append(Difference(here, "only in golden", golden[key], None))
            elif key not in golden:
                out.append(Difference(here, "only in node", None, node[key]))
            else:
                out += differences(golden[key], node[key], here)
        return out
    if isinstance(golden, list) and isinstance(node, list):
        out = []
        if len(golden) != len(node):
            out.append(Difference(path, "length", len(golden), len(node)))
        for i, (g, n) in enumerate(zip(golden, node, strict=False)):
            out += differences(g, n, f"{path}/{i}")
        return out
    if type(golden) is not type(node) or golden != node:
        return [Difference(path, "value", golden, node)]
    return []


def matches(pattern: str, path: str) -> bool:
    """``#``: one list index; ``*``: one segment; ``**``: zero or more segments."""

    def walk(ps: Sequence[str], xs: Sequence[str]) -> bool:
        if not ps:
            return not xs
        head, rest = ps[0], ps[1:]
        if head == "**":
            return any(walk(rest, xs[i:]) for i in range(len(xs) + 1))
        if not xs:
            return False
        ok = (head == "#" and xs[0].isdigit()) or head == "*" or head == xs[0]
        return ok and walk(rest, xs[1:])

    return walk(pattern.split("/"), path.split("/"))


Check = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Allowed:
    """One allowed difference: where, what kind of values must be on both sides, and why."""

    pattern: str
    kind: str
    reason: str
    #: Which kinds of difference this rule covers (see :class:`Difference`).
    what: tuple[str, ...] = ("value",)


def _is_certificate(v: Any) -> bool:
    try:
        x509.load_pem_x509_certificate(v)
    except (ValueError, TypeError):
        return False
    return True


def _is_der_low_s(v: Any) -> bool:
    try:
        decode_signature(v)
    except VerifierError:
        return False
    return is_low_s(v)


def _is_tx_id(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None


def _both(check: Callable[[Any], bool]) -> Check:
    return lambda a, b: check(a) and check(b)


PEER_MSPS = frozenset({"Org1MSP", "Org2MSP", "Org3MSP"})

#: What each kind requires of both values (a missing side is ``None``).
KINDS: dict[str, Check] = {
    "certificate": _both(_is_certificate),
    "signature": _both(_is_der_low_s),
    "nonce": _both(lambda v: isinstance(v, bytes) and len(v) == 24),
    "sha256": _both(lambda v: isinstance(v, bytes) and len(v) == 32),
    "tx_id": _both(_is_tx_id),
    "seconds": _both(lambda v: isinstance(v, int) and 1_600_000_000 < v < 4_000_000_000),
    "nanos": _both(lambda v: v is None or (isinstance(v, int) and 0 <= v < 10**9)),
    "peer_msp": _both(lambda v: v in PEER_MSPS),
    "height": _both(lambda v: v is None or (isinstance(v, int) and v >= 0)),
    "count": _both(lambda v: isinstance(v, int) and v > 0),
    # Contract-defined content: any value, but the same type on both sides (or a missing side).
    "contract": lambda a, b: a is None or b is None or type(a) is type(b),
    # A read's version: set iff the key existed when simulated, then a (block, tx) height.
    "version": _both(
        lambda v: v is None or (isinstance(v, dict) and set(v) <= {"block_num", "tx_num"})
    ),
    "known": lambda a, b: True,
}


@dataclass(frozen=True)
class Explained:
    difference: Difference
    rule: Allowed | None
    kind_ok: bool


def explain(found: Iterable[Difference], allowed: Sequence[Allowed]) -> list[Explained]:
    """Each difference with the first rule covering it (``None``: not allowed)."""
    out = []
    for d in found:
        rule = next((r for r in allowed if d.what in r.what and matches(r.pattern, d.path)), None)
        ok = rule is not None and KINDS[rule.kind](d.golden, d.node)
        out.append(Explained(d, rule, ok))
    return out


def unexplained(explained: Iterable[Explained]) -> list[str]:
    """The differences no rule allows, or whose values are not of the rule's kind."""
    return [
        f"{e.difference} " + ("[not allowed]" if e.rule is None else f"[not a {e.rule.kind}]")
        for e in explained
        if not e.kind_ok
    ]
