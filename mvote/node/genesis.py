"""The channel genesis block: a Fabric config block as Fabric v3's configtxgen builds it.

``build_genesis_block`` reads each organisation's verifying MSP folder the way configtxgen reads
``MSPDir`` (cacerts, intermediatecerts, tlscacerts, tlsintermediatecerts, admincerts, config.yaml
with NodeOUs) and writes the channel config a NodeOUs-enabled, etcdraft, V3_0 channel has: the
Channel, Application and Orderer groups with the policies, values, capabilities and mod_policy
values configtxgen sets (docs/network.md lists them; tests compare them with a real Fabric
v3.1.5 genesis block field by field).

The block's header hash is the network's trust anchor: receipts carry it and the verifier starts
from it.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fabric_protos.common import common_pb2, configtx_pb2, configuration_pb2, policies_pb2
from fabric_protos.msp import msp_config_pb2, msp_principal_pb2
from fabric_protos.orderer import configuration_pb2 as orderer_configuration_pb2
from fabric_protos.orderer.etcdraft import configuration_pb2 as etcdraft_configuration_pb2
from fabric_protos.peer import configuration_pb2 as peer_configuration_pb2
from google.protobuf.message import DecodeError

from mvote.node.config import BatchSettings, Endpoint
from mvote.node.errors import MaterialInvalid
from mvote.verifier._block import block_data_hash, block_header_hash
from mvote.verifier._errors import VerifierError
from mvote.verifier._transaction import ParsedTransaction

CHANNEL_CAPABILITY = "V3_0"
ORDERER_CAPABILITY = "V2_0"
APPLICATION_CAPABILITY = "V2_5"
CONSENSUS_TYPE = "etcdraft"
#: Fabric's only hashing algorithm and "no Merkle width": the data hash is a flat SHA-256.
HASHING_ALGORITHM = "SHA256"
BLOCK_DATA_HASHING_WIDTH = 2**32 - 1
ADMINS = "Admins"
READERS = "Readers"
WRITERS = "Writers"
ENDORSEMENT = "Endorsement"
LIFECYCLE_ENDORSEMENT = "LifecycleEndorsement"
BLOCK_VALIDATION = "BlockValidation"
#: The channel header version configtxgen writes (genesis.msgVersion).
CONFIG_MSG_VERSION = 1
#: protoutil.CreateNonce: 24 random bytes.
NONCE_BYTES = 24
MSP_TYPE_FABRIC = 0


@dataclass(frozen=True)
class RaftOptions:
    """etcdraft options; the defaults are configtxgen's (sampleconfig/configtx.yaml)."""

    tick_interval: str = "500ms"
    election_tick: int = 10
    heartbeat_tick: int = 1
    max_inflight_blocks: int = 5
    snapshot_interval_size: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class ApplicationOrgSpec:
    """A peer organisation as the genesis block needs it."""

    group_name: str
    msp_id: str
    msp_dir: Path
    anchor_peers: tuple[Endpoint, ...]


@dataclass(frozen=True)
class OrdererOrgSpec:
    group_name: str
    msp_id: str
    msp_dir: Path
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class RaftConsenter:
    endpoint: Endpoint
    client_tls_cert: bytes
    server_tls_cert: bytes


@dataclass(frozen=True)
class GenesisBlock:
    """A parsed genesis block with its raw bytes and its header hash (the trust anchor)."""

    #: ``common.Block``
    block: Any
    raw: bytes
    header_hash: bytes
    channel_id: str
    tx_id: str

    @property
    def config(self) -> Any:
        """The ``common.Config`` the block carries."""
        return _config_transaction(self.block).config_envelope.config


# --- MSP folders -------------------------------------------------------------------------------


def _pem_certificates_in(directory: Path) -> list[bytes]:
    """Every certificate in the folder's files, each re-encoded as its own PEM block.

    configtxgen does the same (msp.getPemMaterialFromDir): files in name order, PEM blocks
    re-encoded one by one, so a bundle file contributes several certificates.
    """
    if not directory.is_dir():
        return []
    out: list[bytes] = []
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        try:
            certs = x509.load_pem_x509_certificates(path.read_bytes())
        except ValueError as err:
            raise MaterialInvalid(f"{path} holds no PEM certificate: {err}") from None
        out.extend(c.public_bytes(Encoding.PEM) for c in certs)
    return out


def _ou_identifier(msp_dir: Path, entry: object, key: str) -> Any:
    if not isinstance(entry, dict):
        raise MaterialInvalid(f"{msp_dir}/config.yaml: {key} must be a mapping")
    ou = entry.get("OrganizationalUnitIdentifier")
    cert_file = entry.get("Certificate")
    if not isinstance(ou, str) or not ou:
        raise MaterialInvalid(f"{msp_dir}/config.yaml: {key} has no OrganizationalUnitIdentifier")
    ident = msp_config_pb2.FabricOUIdentifier(organizational_unit_identifier=ou)
    if cert_file is not None:
        if not isinstance(cert_file, str):
            raise MaterialInvalid(f"{msp_dir}/config.yaml: {key}.Certificate must be a path")
        path = msp_dir / cert_file
        try:
            # Fabric embeds the file as it is on disk (msp.loadCertificateAt).
            ident.certificate = path.read_bytes()
        except OSError as err:
            raise MaterialInvalid(f"{path} (named by {key}) unreadable: {err.strerror}") from None
    return ident


def msp_config_from_dir(msp_dir: Path, msp_id: str) -> Any:
    """The ``msp.MSPConfig`` configtxgen puts in an org group for a verifying MSP folder."""
    root_certs = _pem_certificates_in(msp_dir / "cacerts")
    if not root_certs:
        raise MaterialInvalid(f"{msp_dir}/cacerts holds no CA certificate")
    fabric = msp_config_pb2.FabricMSPConfig(
        name=msp_id,
        root_certs=root_certs,
        intermediate_certs=_pem_certificates_in(msp_dir / "intermediatecerts"),
        admins=_pem_certificates_in(msp_dir / "admincerts"),
        tls_root_certs=_pem_certificates_in(msp_dir / "tlscacerts"),
        tls_intermediate_certs=_pem_certificates_in(msp_dir / "tlsintermediatecerts"),
    )
    fabric.crypto_config.signature_hash_family = "SHA2"
    fabric.crypto_config.identity_identifier_hash_function = "SHA256"
    config_path = msp_dir / "config.yaml"
    if config_path.exists():
        try:
            doc = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise MaterialInvalid(f"{config_path} unreadable: {err}") from None
        if not isinstance(doc, dict):
            raise MaterialInvalid(f"{config_path} must be a mapping")
        for i, entry in enumerate(doc.get("OrganizationalUnitIdentifiers") or []):
            fabric.organizational_unit_identifiers.append(
                _ou_identifier(msp_dir, entry, f"OrganizationalUnitIdentifiers[{i}]")
            )
        node_ous = doc.get("NodeOUs")
        if node_ous is not None:
            if not isinstance(node_ous, dict):
                raise MaterialInvalid(f"{config_path}: NodeOUs must be a mapping")
            fabric.fabric_node_ous.enable = bool(node_ous.get("Enable", False))
            for yaml_key, field in (
                ("ClientOUIdentifier", "client_ou_identifier"),
                ("PeerOUIdentifier", "peer_ou_identifier"),
                ("AdminOUIdentifier", "admin_ou_identifier"),
                ("OrdererOUIdentifier", "orderer_ou_identifier"),
            ):
                if yaml_key in node_ous:
                    getattr(fabric.fabric_node_ous, field).CopyFrom(
                        _ou_identifier(msp_dir, node_ous[yaml_key], f"NodeOUs.{yaml_key}")
                    )
    return msp_config_pb2.MSPConfig(type=MSP_TYPE_FABRIC, config=_serialize(fabric))


# --- config tree -------------------------------------------------------------------------------


def _serialize(message: Any) -> bytes:
    # Deterministic map order, so the same inputs give the same bytes (Go's order is random).
    data: bytes = message.SerializeToString(deterministic=True)
    return data


def _add_value(group: Any, key: str, message: Any) -> None:
    group.values[key].value = _serialize(message)
    group.values[key].mod_policy = ADMINS


def _add_policy(group: Any, key: str, policy: Any) -> None:
    group.policies[key].policy.CopyFrom(policy)
    group.policies[key].mod_policy = ADMINS


def _implicit_meta(sub_policy: str, rule: str) -> Any:
    meta = policies_pb2.ImplicitMetaPolicy(
        sub_policy=sub_policy, rule=policies_pb2.ImplicitMetaPolicy.Rule.Value(rule)
    )
    return policies_pb2.Policy(type=policies_pb2.Policy.IMPLICIT_META, value=_serialize(meta))


def _signed_by_any(msp_id: str, roles: Sequence[str]) -> Any:
    """``OR('<msp>.<role>', ...)`` compiled as Fabric's policydsl compiles it: one principal per
    operand in order, and a 1-out-of-n over signed_by indexes."""
    envelope = policies_pb2.SignaturePolicyEnvelope(version=0)
    for i, role in enumerate(roles):
        principal = msp_principal_pb2.MSPRole(
            msp_identifier=msp_id, role=msp_principal_pb2.MSPRole.MSPRoleType.Value(role)
        )
        envelope.identities.append(
            msp_principal_pb2.MSPPrincipal(
                principal_classification=msp_principal_pb2.MSPPrincipal.ROLE,
                principal=_serialize(principal),
            )
        )
        envelope.rule.n_out_of.rules.add().signed_by = i
    envelope.rule.n_out_of.n = 1
    return policies_pb2.Policy(type=policies_pb2.Policy.SIGNATURE, value=_serialize(envelope))


def _capabilities(name: str) -> Any:
    caps = configuration_pb2.Capabilities()
    caps.capabilities[name].SetInParent()
    return caps


def go_duration(milliseconds: int) -> str:
    """Go's ``time.Duration.String()`` for a whole number of milliseconds ("250ms", "1.5s",
    "2m0s"), the form the BatchTimeout value holds."""
    if milliseconds <= 0:
        raise ValueError(f"expected a positive duration, got {milliseconds} ms")
    if milliseconds < 1000:
        return f"{milliseconds}ms"
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    sec = f"{seconds}.{millis:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{sec}"
    if minutes:
        return f"{minutes}m{sec}"
    return sec


def _application_org_group(org: ApplicationOrgSpec) -> Any:
    group = configtx_pb2.ConfigGroup(mod_policy=ADMINS)
    _add_value(group, "MSP", msp_config_from_dir(org.msp_dir, org.msp_id))
    if org.anchor_peers:
        anchors = peer_configuration_pb2.AnchorPeers()
        for peer in org.anchor_peers:
            anchors.anchor_peers.add(host=peer.host, port=peer.port)
        _add_value(group, "AnchorPeers", anchors)
    # test-network's configtx.yaml for NodeOUs orgs.
    _add_policy(group, READERS, _signed_by_any(org.msp_id, ["ADMIN", "PEER", "CLIENT"]))
    _add_policy(group, WRITERS, _signed_by_any(org.msp_id, ["ADMIN", "CLIENT"]))
    _add_policy(group, ADMINS, _signed_by_any(org.msp_id, ["ADMIN"]))
    _add_policy(group, ENDORSEMENT, _signed_by_any(org.msp_id, ["PEER"]))
    return group


def _orderer_org_group(org: OrdererOrgSpec) -> Any:
    if not org.endpoints:
        # configtxgen refuses this under V3_0: the global OrdererAddresses value is gone.
        raise MaterialInvalid(f"orderer organisation {org.group_name} has no endpoints")
    group = configtx_pb2.ConfigGroup(mod_policy=ADMINS)
    _add_value(group, "MSP", msp_config_from_dir(org.msp_dir, org.msp_id))
    _add_value(
        group,
        "Endpoints",
        configuration_pb2.OrdererAddresses(addresses=[str(e) for e in org.endpoints]),
    )
    _add_policy(group, READERS, _signed_by_any(org.msp_id, ["MEMBER"]))
    _add_policy(group, WRITERS, _signed_by_any(org.msp_id, ["MEMBER"]))
    _add_policy(group, ADMINS, _signed_by_any(org.msp_id, ["ADMIN"]))
    return group


def channel_group(
    application_orgs: Sequence[ApplicationOrgSpec],
    orderer_org: OrdererOrgSpec,
    consenters: Sequence[RaftConsenter],
    batch: BatchSettings,
    raft_options: RaftOptions = RaftOptions(),
) -> Any:
    """The ``common.ConfigGroup`` of the whole channel (configtxgen's NewChannelGroup)."""
    if not application_orgs:
        raise MaterialInvalid("a channel needs at least one application organisation")
    if not consenters:
        raise MaterialInvalid("an etcdraft channel needs at least one consenter")
    names = [o.group_name for o in application_orgs]
    if len(set(names)) != len(names):
        raise MaterialInvalid(f"application organisation group names repeat: {names}")

    channel = configtx_pb2.ConfigGroup(mod_policy=ADMINS)
    _add_value(
        channel, "HashingAlgorithm", configuration_pb2.HashingAlgorithm(name=HASHING_ALGORITHM)
    )
    _add_value(
        channel,
        "BlockDataHashingStructure",
        configuration_pb2.BlockDataHashingStructure(width=BLOCK_DATA_HASHING_WIDTH),
    )
    _add_value(channel, "Capabilities", _capabilities(CHANNEL_CAPABILITY))
    _add_policy(channel, READERS, _implicit_meta(READERS, "ANY"))
    _add_policy(channel, WRITERS, _implicit_meta(WRITERS, "ANY"))
    _add_policy(channel, ADMINS, _implicit_meta(ADMINS, "MAJORITY"))

    orderer = channel.groups["Orderer"]
    orderer.mod_policy = ADMINS
    _add_value(
        orderer,
        "BatchSize",
        orderer_configuration_pb2.BatchSize(
            max_message_count=batch.max_message_count,
            absolute_max_bytes=batch.absolute_max_bytes,
            preferred_max_bytes=batch.preferred_max_bytes,
        ),
    )
    _add_value(
        orderer,
        "BatchTimeout",
        orderer_configuration_pb2.BatchTimeout(timeout=go_duration(batch.timeout_ms)),
    )
    _add_value(orderer, "ChannelRestrictions", orderer_configuration_pb2.ChannelRestrictions())
    _add_value(orderer, "Capabilities", _capabilities(ORDERER_CAPABILITY))
    raft = etcdraft_configuration_pb2.ConfigMetadata(
        options=etcdraft_configuration_pb2.Options(
            tick_interval=raft_options.tick_interval,
            election_tick=raft_options.election_tick,
            heartbeat_tick=raft_options.heartbeat_tick,
            max_inflight_blocks=raft_options.max_inflight_blocks,
            snapshot_interval_size=raft_options.snapshot_interval_size,
        )
    )
    for c in consenters:
        raft.consenters.add(
            host=c.endpoint.host,
            port=c.endpoint.port,
            client_tls_cert=c.client_tls_cert,
            server_tls_cert=c.server_tls_cert,
        )
    _add_value(
        orderer,
        "ConsensusType",
        orderer_configuration_pb2.ConsensusType(
            type=CONSENSUS_TYPE,
            metadata=_serialize(raft),
            state=orderer_configuration_pb2.ConsensusType.STATE_NORMAL,
        ),
    )
    _add_policy(orderer, READERS, _implicit_meta(READERS, "ANY"))
    _add_policy(orderer, WRITERS, _implicit_meta(WRITERS, "ANY"))
    _add_policy(orderer, ADMINS, _implicit_meta(ADMINS, "MAJORITY"))
    _add_policy(orderer, BLOCK_VALIDATION, _implicit_meta(WRITERS, "ANY"))
    orderer.groups[orderer_org.group_name].CopyFrom(_orderer_org_group(orderer_org))

    application = channel.groups["Application"]
    application.mod_policy = ADMINS
    _add_value(application, "Capabilities", _capabilities(APPLICATION_CAPABILITY))
    _add_policy(application, READERS, _implicit_meta(READERS, "ANY"))
    _add_policy(application, WRITERS, _implicit_meta(WRITERS, "ANY"))
    _add_policy(application, ADMINS, _implicit_meta(ADMINS, "MAJORITY"))
    _add_policy(application, ENDORSEMENT, _implicit_meta(ENDORSEMENT, "MAJORITY"))
    _add_policy(application, LIFECYCLE_ENDORSEMENT, _implicit_meta(ENDORSEMENT, "MAJORITY"))
    for org in application_orgs:
        application.groups[org.group_name].CopyFrom(_application_org_group(org))
    return channel


# --- the block ---------------------------------------------------------------------------------


def genesis_metadata() -> list[bytes]:
    """The five metadata slots of a genesis block as a Fabric v3 peer stores it.

    SIGNATURES: a ``common.Metadata`` wrapping an ``OrdererBlockMetadata`` with last config
    index 0 and no signature (nobody signs block 0). LAST_CONFIG and ORDERER: empty (deprecated;
    configtxgen still fills LAST_CONFIG in its file, the v3 ledger copy has it empty).
    TRANSACTIONS_FILTER: one byte per transaction, 0 = VALID, as the committing peer sets it.
    COMMIT_HASH: empty on block 0. None of it is covered by the header hash.
    """
    orderer_meta = common_pb2.OrdererBlockMetadata()
    orderer_meta.last_config.SetInParent()
    signatures = common_pb2.Metadata(value=_serialize(orderer_meta))
    slots = [b""] * len(common_pb2.BlockMetadataIndex.keys())
    slots[common_pb2.SIGNATURES] = _serialize(signatures)
    slots[common_pb2.TRANSACTIONS_FILTER] = bytes([0])
    return slots


def build_genesis_block(
    channel_id: str,
    application_orgs: Sequence[ApplicationOrgSpec],
    orderer_org: OrdererOrgSpec,
    consenters: Sequence[RaftConsenter],
    batch: BatchSettings,
    *,
    raft_options: RaftOptions = RaftOptions(),
    timestamp: int | None = None,
) -> GenesisBlock:
    """Block 0 of ``channel_id`` (configtxgen's genesis.Factory.Block), header hash included.

    ``timestamp`` (Unix seconds) defaults to now; the nonce is random, so two calls give two
    different trust anchors even for the same material.
    """
    group = channel_group(application_orgs, orderer_org, consenters, batch, raft_options)
    nonce = os.urandom(NONCE_BYTES)
    signature_header = common_pb2.SignatureHeader(nonce=nonce)
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.CONFIG,
        version=CONFIG_MSG_VERSION,
        channel_id=channel_id,
        # protoutil.ComputeTxID: hex SHA-256 of nonce || creator; the creator is empty here.
        tx_id=hashlib.sha256(nonce).hexdigest(),
        epoch=0,
    )
    channel_header.timestamp.seconds = int(time.time()) if timestamp is None else timestamp
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=_serialize(channel_header),
            signature_header=_serialize(signature_header),
        ),
        data=_serialize(
            configtx_pb2.ConfigEnvelope(config=configtx_pb2.Config(sequence=0, channel_group=group))
        ),
    )
    envelope = common_pb2.Envelope(payload=_serialize(payload))
    data = [_serialize(envelope)]
    block = common_pb2.Block()
    block.header.number = 0
    block.header.previous_hash = b""
    block.header.data_hash = block_data_hash(data)
    block.data.data.extend(data)
    block.metadata.metadata.extend(genesis_metadata())
    raw = _serialize(block)
    return GenesisBlock(
        block=block,
        raw=raw,
        header_hash=block_header_hash(0, b"", block.header.data_hash),
        channel_id=channel_id,
        tx_id=channel_header.tx_id,
    )


def _config_transaction(block: Any) -> ParsedTransaction:
    """The single CONFIG transaction of a config block, its ConfigEnvelope readable
    (:class:`MaterialInvalid` if not)."""
    if len(block.data.data) != 1:
        raise MaterialInvalid(f"a config block holds one envelope, got {len(block.data.data)}")
    try:
        tx = ParsedTransaction.parse(block.data.data[0])
        if tx.header_type != common_pb2.CONFIG:
            raise MaterialInvalid(f"expected a CONFIG envelope, got header type {tx.header_type}")
        _ = tx.config_envelope
    except VerifierError as err:
        raise MaterialInvalid(f"config block does not parse: {err.message}") from None
    return tx


def read_genesis_block(raw: bytes) -> GenesisBlock:
    """Parse a serialized block 0 and check what can be checked without trust in anyone:
    number 0, empty previous hash, the data hash, one CONFIG envelope."""
    try:
        block = common_pb2.Block.FromString(raw)
    except DecodeError as err:
        raise MaterialInvalid(f"genesis block does not parse: {err}") from None
    if block.header.number != 0 or block.header.previous_hash:
        raise MaterialInvalid(
            f"expected block 0 with no previous hash, got block {block.header.number}"
        )
    if block.header.data_hash != block_data_hash(block.data.data):
        raise MaterialInvalid("genesis block data hash does not match its data")
    tx = _config_transaction(block)
    return GenesisBlock(
        block=block,
        raw=raw,
        header_hash=block_header_hash(0, b"", block.header.data_hash),
        channel_id=tx.channel_id,
        tx_id=tx.tx_id,
    )


def msp_configs_in(config: Any) -> dict[str, Any]:
    """MSP id -> ``msp.FabricMSPConfig`` for every organisation in the channel config."""
    out: dict[str, Any] = {}
    for top in ("Application", "Orderer"):
        for org_group in config.channel_group.groups[top].groups.values():
            if "MSP" not in org_group.values:
                continue
            msp = msp_config_pb2.MSPConfig.FromString(org_group.values["MSP"].value)
            fabric = msp_config_pb2.FabricMSPConfig.FromString(msp.config)
            out[fabric.name] = fabric
    return out
