"""The genesis block against the golden Fabric v3.1.5 block 0, field by field."""

from __future__ import annotations

import base64
import copy
import dataclasses
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from fabric_protos.common import common_pb2, configtx_pb2, configuration_pb2, policies_pb2
from fabric_protos.msp import msp_config_pb2, msp_principal_pb2
from fabric_protos.orderer import configuration_pb2 as orderer_pb2
from fabric_protos.orderer.etcdraft import configuration_pb2 as etcdraft_pb2
from fabric_protos.peer import configuration_pb2 as peer_pb2
from google.protobuf.json_format import MessageToDict

from mvote.node.config import BatchSettings, NodeLimits
from mvote.node.errors import MaterialInvalid
from mvote.node.genesis import go_duration, read_genesis_block
from mvote.node.material import NetworkMaterial, genesis_block_for
from mvote.verifier._block import block_header_hash

# --- decoding a config tree into plain data ----------------------------------------------------

VALUE_TYPES: dict[str, Any] = {
    "HashingAlgorithm": configuration_pb2.HashingAlgorithm,
    "BlockDataHashingStructure": configuration_pb2.BlockDataHashingStructure,
    "OrdererAddresses": configuration_pb2.OrdererAddresses,
    "Consortium": configuration_pb2.Consortium,
    "Capabilities": configuration_pb2.Capabilities,
    "MSP": msp_config_pb2.MSPConfig,
    "BatchSize": orderer_pb2.BatchSize,
    "BatchTimeout": orderer_pb2.BatchTimeout,
    "ConsensusType": orderer_pb2.ConsensusType,
    "ChannelRestrictions": orderer_pb2.ChannelRestrictions,
    "Endpoints": configuration_pb2.OrdererAddresses,
    "AnchorPeers": peer_pb2.AnchorPeers,
    "ACLs": peer_pb2.ACLs,
    "Orderers": configuration_pb2.Orderers,
}


def as_dict(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def decode_value(key: str, raw: bytes) -> Any:
    if key not in VALUE_TYPES:
        return {"undecoded": base64.b64encode(raw).decode()}
    message = VALUE_TYPES[key].FromString(raw)
    out = as_dict(message)
    if key == "MSP":
        out["config"] = as_dict(msp_config_pb2.FabricMSPConfig.FromString(message.config))
    elif key == "ConsensusType":
        out["metadata"] = as_dict(etcdraft_pb2.ConfigMetadata.FromString(message.metadata))
    return out


def decode_policy(policy: Any) -> Any:
    out: dict[str, Any] = {"type": policies_pb2.Policy.PolicyType.Name(policy.type)}
    if policy.type == policies_pb2.Policy.SIGNATURE:
        env = policies_pb2.SignaturePolicyEnvelope.FromString(policy.value)
        out["value"] = as_dict(env)
        out["value"]["identities"] = [
            {
                "principal_classification": i.principal_classification,
                "principal": as_dict(msp_principal_pb2.MSPRole.FromString(i.principal)),
            }
            for i in env.identities
        ]
    elif policy.type == policies_pb2.Policy.IMPLICIT_META:
        out["value"] = as_dict(policies_pb2.ImplicitMetaPolicy.FromString(policy.value))
    else:
        out["value"] = base64.b64encode(policy.value).decode()
    return out


def decode_group(group: Any) -> dict[str, Any]:
    return {
        "version": group.version,
        "mod_policy": group.mod_policy,
        "values": {
            k: {"version": v.version, "mod_policy": v.mod_policy, "value": decode_value(k, v.value)}
            for k, v in group.values.items()
        },
        "policies": {
            k: {"version": p.version, "mod_policy": p.mod_policy, "policy": decode_policy(p.policy)}
            for k, p in group.policies.items()
        },
        "groups": {k: decode_group(g) for k, g in group.groups.items()},
    }


def decode_block(block: Any) -> dict[str, Any]:
    """Block 0 as plain data, with the per-instance fields (time, nonce, tx id) reduced to their
    form: the timestamp's presence and nanos, the nonce's length, the tx id's derivation."""
    env = common_pb2.Envelope.FromString(block.data.data[0])
    payload = common_pb2.Payload.FromString(env.payload)
    channel_header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    signature_header = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    config_env = configtx_pb2.ConfigEnvelope.FromString(payload.data)
    header = as_dict(channel_header)
    header["timestamp"] = {
        "has_seconds": channel_header.timestamp.seconds > 0,
        "nanos": channel_header.timestamp.nanos,
    }
    header["tx_id"] = (
        channel_header.tx_id
        == hashlib.sha256(signature_header.nonce + signature_header.creator).hexdigest()
    )
    return {
        "header": {
            "number": block.header.number,
            "previous_hash": block.header.previous_hash.hex(),
            "data_hash_is_sha256_of_data": block.header.data_hash
            == hashlib.sha256(b"".join(block.data.data)).digest(),
        },
        "data_count": len(block.data.data),
        "metadata": [m.hex() for m in block.metadata.metadata],
        "envelope": {
            "signature": env.signature.hex(),
            "payload_header_fields": sorted(f.name for f, _ in payload.header.ListFields()),
            "channel_header": header,
            "signature_header": {
                "creator": signature_header.creator.hex(),
                "nonce_len": len(signature_header.nonce),
            },
            "config_envelope_fields": sorted(f.name for f, _ in config_env.ListFields()),
            "config_fields": sorted(f.name for f, _ in config_env.config.ListFields()),
            "sequence": config_env.config.sequence,
        },
        "channel_group": decode_group(config_env.config.channel_group),
    }


# --- the comparison ----------------------------------------------------------------------------

#: Exactly what may differ between golden block 0 and ours, as (path pattern, kind). Everything
#: else (keys at every level, versions, mod_policy values, policy types and rules, principals and
#: roles, capabilities, hashing values, batch settings, raft options, consensus type and state,
#: header and metadata layout) must be equal. Org names are renamed before comparing (peer MSP
#: ids in sorted order to ORG0.., OrdererMSP and OrdererOrg stay), so they are not listed here.
ALLOWED_DIFFERENCES: list[tuple[str, str]] = [
    # Certificates: other keys, other names.
    ("*/values/MSP/value/config/root_certs/*", "certificate"),
    ("*/values/MSP/value/config/tls_root_certs/*", "certificate"),
    ("*/values/MSP/value/config/fabric_node_ous/*/certificate", "certificate"),
    ("*/values/ConsensusType/value/metadata/consenters/*/client_tls_cert", "certificate"),
    ("*/values/ConsensusType/value/metadata/consenters/*/server_tls_cert", "certificate"),
    # Endpoints: our ports and hosts (the golden network's happen to be similar, not equal).
    ("*/values/AnchorPeers/value/anchor_peers/*/host", "host"),
    ("*/values/AnchorPeers/value/anchor_peers/*/port", "port"),
    ("*/values/Endpoints/value/addresses/*", "address"),
    ("*/values/ConsensusType/value/metadata/consenters/*/host", "host"),
    ("*/values/ConsensusType/value/metadata/consenters/*/port", "port"),
    # The SIGNATURES metadata of block 0 is fixed, but the header hash and tx id are per block.
]


def allowed_kind(path: str) -> str | None:
    for pattern, kind in ALLOWED_DIFFERENCES:
        if fnmatch.fnmatchcase(path, pattern):
            return kind
    return None


def same_kind(kind: str, a: Any, b: Any) -> bool:
    if kind == "certificate":
        try:
            for v in (a, b):
                x509.load_pem_x509_certificate(base64.b64decode(v))
        except (ValueError, TypeError):
            return False
        return True
    if kind == "port":
        return isinstance(a, int) and isinstance(b, int) and 0 < a < 65536 and 0 < b < 65536
    if kind == "host":
        return isinstance(a, str) and isinstance(b, str) and bool(a) and bool(b)
    if kind == "address":
        return all(isinstance(v, str) and v.rpartition(":")[2].isdigit() for v in (a, b))
    raise AssertionError(kind)


def structural_differences(golden: Any, ours: Any, path: str = "") -> list[str]:
    """Every place where ``ours`` differs from ``golden`` other than ALLOWED_DIFFERENCES."""
    kind = allowed_kind(path)
    if kind is not None:
        return [] if same_kind(kind, golden, ours) else [f"{path}: {kind} expected, got {ours!r}"]
    if isinstance(golden, dict) and isinstance(ours, dict):
        out = []
        if set(golden) != set(ours):
            out.append(f"{path}: keys {sorted(golden)} != {sorted(ours)}")
        for key in sorted(set(golden) & set(ours)):
            out += structural_differences(golden[key], ours[key], f"{path}/{key}")
        return out
    if isinstance(golden, list) and isinstance(ours, list):
        if len(golden) != len(ours):
            return [f"{path}: {len(golden)} items != {len(ours)}"]
        out = []
        for i, (g, o) in enumerate(zip(golden, ours, strict=True)):
            out += structural_differences(g, o, f"{path}/{i}")
        return out
    return [] if golden == ours else [f"{path}: {golden!r} != {ours!r}"]


def renamed(tree: Any, names: dict[str, str]) -> Any:
    """Org names (group keys and MSP ids wherever they occur as a whole string) replaced."""
    if isinstance(tree, dict):
        return {names.get(k, k): renamed(v, names) for k, v in tree.items()}
    if isinstance(tree, list):
        return [renamed(v, names) for v in tree]
    if isinstance(tree, str):
        return names.get(tree, tree)
    return tree


def normalised(block: Any) -> dict[str, Any]:
    tree = decode_block(block)
    peer_orgs = sorted(tree["channel_group"]["groups"]["Application"]["groups"])
    out: dict[str, Any] = renamed(tree, {name: f"ORG{i}" for i, name in enumerate(peer_orgs)})
    return out


# --- tests -------------------------------------------------------------------------------------


def test_hashes_recomputed(network: NetworkMaterial, golden: Callable[[str], Path]) -> None:
    block = common_pb2.Block.FromString(network.genesis_path.read_bytes())
    assert block.header.number == 0
    assert block.header.previous_hash == b""
    assert block.header.data_hash == hashlib.sha256(b"".join(block.data.data)).digest()
    assert network.genesis_hash == block_header_hash(0, b"", block.header.data_hash)
    assert read_genesis_block(network.genesis_path.read_bytes()).header_hash == network.genesis_hash
    # The same hash function gives the golden chain's recorded hash for the golden block 0.
    golden_block = common_pb2.Block.FromString(golden("000000.block").read_bytes())
    recorded = json.loads(golden("blocks.json").read_text())
    entry = recorded[0] if isinstance(recorded, list) else recorded["blocks"][0]
    assert block_header_hash(0, b"", golden_block.header.data_hash).hex() == entry["header_hash"]


def test_structure_matches_golden_block0(network: NetworkMaterial, golden_block0: Any) -> None:
    ours = common_pb2.Block.FromString(network.genesis_path.read_bytes())
    assert structural_differences(normalised(golden_block0), normalised(ours)) == []


def test_comparison_catches_differences(network: NetworkMaterial, golden_block0: Any) -> None:
    """The comparison is not vacuous: small departures from configtxgen are reported."""
    golden = normalised(golden_block0)
    ours = normalised(common_pb2.Block.FromString(network.genesis_path.read_bytes()))
    app = ["channel_group", "groups", "Application"]

    def at(tree: dict[str, Any], *keys: str) -> Any:
        for key in keys:
            tree = tree[key]
        return tree

    cases = []
    c = copy.deepcopy(ours)
    at(c, *app, "policies", "Endorsement", "policy", "value")["rule"] = "ANY"
    cases.append(c)
    c = copy.deepcopy(ours)
    del at(c, *app, "groups", "ORG0", "policies")["Endorsement"]
    cases.append(c)
    c = copy.deepcopy(ours)
    at(c, "channel_group", "values", "Capabilities", "value")["capabilities"] = {"V2_0": {}}
    cases.append(c)
    c = copy.deepcopy(ours)
    at(c, *app, "groups", "ORG1", "values", "MSP")["mod_policy"] = "Writers"
    cases.append(c)
    c = copy.deepcopy(ours)
    c["metadata"][2] = ""
    cases.append(c)
    c = copy.deepcopy(ours)
    at(c, *app, "groups", "ORG2", "values", "MSP", "value", "config", "root_certs")[0] = (
        "bm90IGEgY2VydA=="
    )
    cases.append(c)
    for case in cases:
        assert structural_differences(golden, case) != []


def test_metadata_slots_equal_golden(network: NetworkMaterial, golden_block0: Any) -> None:
    ours = common_pb2.Block.FromString(network.genesis_path.read_bytes())
    assert list(ours.metadata.metadata) == list(golden_block0.metadata.metadata)
    signatures = common_pb2.Metadata.FromString(ours.metadata.metadata[common_pb2.SIGNATURES])
    assert list(signatures.signatures) == []
    orderer_meta = common_pb2.OrdererBlockMetadata.FromString(signatures.value)
    assert orderer_meta.HasField("last_config") and orderer_meta.last_config.index == 0
    assert orderer_meta.consenter_metadata == b""


def test_genesis_embeds_the_material_on_disk(network: NetworkMaterial) -> None:
    config = network.genesis.config.channel_group
    for entry, org in zip(network.config.organizations, network.peer_orgs, strict=True):
        group = config.groups["Application"].groups[entry.msp_id]
        fabric = msp_config_pb2.FabricMSPConfig.FromString(
            msp_config_pb2.MSPConfig.FromString(group.values["MSP"].value).config
        )
        assert fabric.name == entry.msp_id
        assert list(fabric.root_certs) == [org.ca_cert_path.read_bytes()]
        assert list(fabric.tls_root_certs) == [org.tlsca_cert_path.read_bytes()]
        assert (
            fabric.fabric_node_ous.peer_ou_identifier.certificate == org.ca_cert_path.read_bytes()
        )
        anchors = peer_pb2.AnchorPeers.FromString(group.values["AnchorPeers"].value)
        assert [(a.host, a.port) for a in anchors.anchor_peers] == [
            (entry.peer_endpoint.host, entry.peer_endpoint.port)
        ]
    orderer_group = config.groups["Orderer"]
    orderer_org = orderer_group.groups["OrdererOrg"]
    endpoints = configuration_pb2.OrdererAddresses.FromString(orderer_org.values["Endpoints"].value)
    assert list(endpoints.addresses) == ["127.0.0.1:7050"]
    consensus = orderer_pb2.ConsensusType.FromString(orderer_group.values["ConsensusType"].value)
    assert (
        consensus.type == "etcdraft" and consensus.state == orderer_pb2.ConsensusType.STATE_NORMAL
    )
    raft = etcdraft_pb2.ConfigMetadata.FromString(consensus.metadata)
    tls = network.orderer_org.node.tls_cert_path.read_bytes()
    assert [(c.host, c.port, c.client_tls_cert, c.server_tls_cert) for c in raft.consenters] == [
        ("127.0.0.1", 7050, tls, tls)
    ]
    batch = orderer_pb2.BatchSize.FromString(orderer_group.values["BatchSize"].value)
    assert (batch.max_message_count, batch.preferred_max_bytes, batch.absolute_max_bytes) == (
        500,
        2 * 1024 * 1024,
        10 * 1024 * 1024,
    )
    assert (
        orderer_pb2.BatchTimeout.FromString(orderer_group.values["BatchTimeout"].value).timeout
        == "250ms"
    )
    # V3_0 forbids the global OrdererAddresses value; configtxgen leaves it out.
    assert "OrdererAddresses" not in config.values


def test_batch_settings_reach_the_block(network: NetworkMaterial) -> None:
    config = network.config
    batch = BatchSettings(
        max_message_count=10, preferred_max_bytes=1000, absolute_max_bytes=5000, timeout_ms=1500
    )
    limits = NodeLimits(max_transaction_bytes=4000, max_grpc_message_bytes=6000)
    custom = dataclasses.replace(config, batch=batch, limits=limits)
    block = genesis_block_for(
        custom, network.peer_orgs, network.orderer_org, timestamp=1_800_000_000
    )
    orderer = block.config.channel_group.groups["Orderer"]
    size = orderer_pb2.BatchSize.FromString(orderer.values["BatchSize"].value)
    assert (size.max_message_count, size.preferred_max_bytes, size.absolute_max_bytes) == (
        10,
        1000,
        5000,
    )
    assert (
        orderer_pb2.BatchTimeout.FromString(orderer.values["BatchTimeout"].value).timeout == "1.5s"
    )
    header = common_pb2.ChannelHeader.FromString(
        common_pb2.Payload.FromString(
            common_pb2.Envelope.FromString(block.block.data.data[0]).payload
        ).header.channel_header
    )
    assert header.timestamp.seconds == 1_800_000_000
    # A fresh nonce: a new trust anchor even for the same material and time.
    again = genesis_block_for(
        custom, network.peer_orgs, network.orderer_org, timestamp=1_800_000_000
    )
    assert again.header_hash != block.header_hash


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (1, "1ms"),
        (250, "250ms"),
        (999, "999ms"),
        (1000, "1s"),
        (1500, "1.5s"),
        (2250, "2.25s"),
        (60_000, "1m0s"),
        (90_500, "1m30.5s"),
        (3_600_000, "1h0m0s"),
    ],
)
def test_go_duration(ms: int, text: str) -> None:
    assert go_duration(ms) == text


def test_read_genesis_block_refuses_tampering(
    network: NetworkMaterial, golden: Callable[[str], Path]
) -> None:
    block = common_pb2.Block.FromString(network.genesis_path.read_bytes())
    block.data.data[0] = block.data.data[0][:-1] + bytes([block.data.data[0][-1] ^ 1])
    with pytest.raises(MaterialInvalid, match="data hash"):
        read_genesis_block(block.SerializeToString())
    with pytest.raises(MaterialInvalid):
        read_genesis_block(b"\xff\xff not a block")
    # The golden block passes the same checks.
    golden_genesis = read_genesis_block(golden("000000.block").read_bytes())
    assert golden_genesis.channel_id == "mvote"


def test_configtxlator_decodes_the_block(network: NetworkMaterial, tmp_path: Path) -> None:
    fabric_bin = os.environ.get("FABRIC_BIN")
    tool = Path(fabric_bin) / "configtxlator" if fabric_bin else None
    if tool is None or not os.access(tool, os.X_OK):
        found = shutil.which("configtxlator")
        if found is None:
            pytest.skip(
                "Fabric's configtxlator is not installed (set FABRIC_BIN to its bin directory)"
            )
        tool = Path(found)
    out = subprocess.run(
        [str(tool), "proto_decode", "--type", "common.Block", "--input", str(network.genesis_path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    decoded = json.loads(out.stdout)
    config = decoded["data"]["data"][0]["payload"]["data"]["config"]
    groups = config["channel_group"]["groups"]
    assert set(groups) == {"Application", "Orderer"}
    assert set(groups["Application"]["groups"]) == {"CityhallMSP", "DistrictMSP", "EducationMSP"}
    assert groups["Orderer"]["values"]["ConsensusType"]["value"]["type"] == "etcdraft"
