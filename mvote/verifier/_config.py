"""Channel configuration from a config block: organisations, MSPs, policies, orderer settings.

A CONFIG transaction carries the whole new ``Config`` (not a delta) and the signed update that
produced it; ``mvote.verifier._configtx`` checks the one against the other and the update's
signatures against the current config before a later config block replaces it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from fabric_protos.common import configuration_pb2 as common_cfg
from fabric_protos.orderer import configuration_pb2 as orderer_cfg

from mvote.verifier._envelope import (
    HEADER_TYPE_CONFIG,
    parse_proto,
    unpack_block,
)
from mvote.verifier._errors import BadConfig
from mvote.verifier._msp import MSP, MSPManager
from mvote.verifier._transaction import ParsedTransaction

POLICY_SIGNATURE = 1
POLICY_MSP = 2
POLICY_IMPLICIT_META = 3

APPLICATION = "Application"
ORDERER = "Orderer"


@dataclass(frozen=True)
class PolicyDef:
    """A ``ConfigPolicy``: the policy's type and serialized body, and who may modify it."""

    type: int
    value: bytes
    mod_policy: str


@dataclass(frozen=True)
class ConfigGroup:
    path: str
    version: int
    mod_policy: str
    values: dict[str, bytes]
    policies: dict[str, PolicyDef]
    groups: dict[str, ConfigGroup]


@dataclass(frozen=True)
class OrgConfig:
    """An organisation group: its name in the config tree and its MSP."""

    name: str
    msp_id: str
    msp: MSP


@dataclass(frozen=True)
class BatchSize:
    max_message_count: int
    absolute_max_bytes: int
    preferred_max_bytes: int


@dataclass(frozen=True)
class ChannelConfig:
    channel_id: str
    sequence: int
    root: ConfigGroup
    application_orgs: dict[str, OrgConfig]
    orderer_orgs: dict[str, OrgConfig]
    msps: MSPManager
    capabilities: dict[str, frozenset[str]]
    batch_size: BatchSize | None
    batch_timeout: str | None
    consensus_type: str | None
    hashing_algorithm: str | None
    #: The parsed ``common.Config`` this was built from (what a config update is applied to).
    source: Any = field(default=None, compare=False, repr=False)

    def group(self, path: str) -> ConfigGroup | None:
        """The group at an absolute path such as ``/Channel/Application/Org1MSP``."""
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != "Channel":
            return None
        group = self.root
        for name in parts[1:]:
            sub = group.groups.get(name)
            if sub is None:
                return None
            group = sub
        return group

    def policy(self, path: str) -> PolicyDef | None:
        """The policy at an absolute path such as ``/Channel/Application/Endorsement``."""
        group_path, _, name = path.rpartition("/")
        group = self.group(group_path)
        return None if group is None else group.policies.get(name)

    def org_name_for_msp(self, msp_id: str) -> str | None:
        for org in self.application_orgs.values():
            if org.msp_id == msp_id:
                return org.name
        return None


def _group(msg: Any, path: str) -> ConfigGroup:
    return ConfigGroup(
        path=path,
        version=int(msg.version),
        mod_policy=str(msg.mod_policy),
        values={str(k): bytes(v.value) for k, v in msg.values.items()},
        policies={
            str(k): PolicyDef(int(v.policy.type), bytes(v.policy.value), str(v.mod_policy))
            for k, v in msg.policies.items()
        },
        groups={str(k): _group(v, f"{path}/{k}") for k, v in msg.groups.items()},
    )


def _orgs(parent: ConfigGroup | None) -> dict[str, OrgConfig]:
    if parent is None:
        return {}
    out = {}
    for name, g in parent.groups.items():
        raw = g.values.get("MSP")
        if raw is None:
            raise BadConfig(f"{g.path}: expected an MSP value, got none", field=f"{g.path}/MSP")
        msp = MSP.from_config(raw)
        out[name] = OrgConfig(name=name, msp_id=msp.name, msp=msp)
    return out


def _capabilities(group: ConfigGroup | None) -> frozenset[str]:
    if group is None or "Capabilities" not in group.values:
        return frozenset()
    caps = parse_proto(
        common_cfg.Capabilities, group.values["Capabilities"], f"{group.path}/Capabilities"
    )
    return frozenset(str(k) for k in caps.capabilities)


def config_from_envelope(config_envelope: Any, channel_id: str) -> ChannelConfig:
    """Build a :class:`ChannelConfig` from a parsed ``common.ConfigEnvelope``.

    The channel id is not in the Config itself but in the config transaction's channel header,
    hence the separate argument.
    """
    cfg = config_envelope.config
    if not cfg.HasField("channel_group"):
        raise BadConfig(
            "config.channel_group: expected a ConfigGroup, got none", field="channel_group"
        )
    root = _group(cfg.channel_group, "/Channel")
    app = root.groups.get(APPLICATION)
    orderer = root.groups.get(ORDERER)
    app_orgs = _orgs(app)
    ord_orgs = _orgs(orderer)
    msps: dict[str, MSP] = {}
    for org in [*app_orgs.values(), *ord_orgs.values()]:
        if org.msp_id in msps and msps[org.msp_id] is not org.msp:
            # The same MSP may appear in both trees (an org that orders and endorses); Fabric
            # keeps one MSP per id, the configs must then agree, which we do not re-check.
            continue
        msps[org.msp_id] = org.msp

    batch_size = batch_timeout = consensus = None
    if orderer is not None:
        if "BatchSize" in orderer.values:
            bs = parse_proto(
                orderer_cfg.BatchSize, orderer.values["BatchSize"], "/Channel/Orderer/BatchSize"
            )
            batch_size = BatchSize(
                int(bs.max_message_count), int(bs.absolute_max_bytes), int(bs.preferred_max_bytes)
            )
        if "BatchTimeout" in orderer.values:
            bt = parse_proto(
                orderer_cfg.BatchTimeout,
                orderer.values["BatchTimeout"],
                "/Channel/Orderer/BatchTimeout",
            )
            batch_timeout = str(bt.timeout)
        if "ConsensusType" in orderer.values:
            ct = parse_proto(
                orderer_cfg.ConsensusType,
                orderer.values["ConsensusType"],
                "/Channel/Orderer/ConsensusType",
            )
            consensus = str(ct.type)
    hashing = None
    if "HashingAlgorithm" in root.values:
        ha = parse_proto(
            common_cfg.HashingAlgorithm,
            root.values["HashingAlgorithm"],
            "/Channel/HashingAlgorithm",
        )
        hashing = str(ha.name)
    return ChannelConfig(
        channel_id=channel_id,
        sequence=int(cfg.sequence),
        root=root,
        application_orgs=app_orgs,
        orderer_orgs=ord_orgs,
        msps=MSPManager(msps),
        capabilities={
            "Channel": _capabilities(root),
            ORDERER: _capabilities(orderer),
            APPLICATION: _capabilities(app),
        },
        batch_size=batch_size,
        batch_timeout=batch_timeout,
        consensus_type=consensus,
        hashing_algorithm=hashing,
        source=cfg,
    )


def config_from_config_tx(envelope_bytes: bytes) -> ChannelConfig:
    """The configuration a CONFIG transaction envelope installs."""
    tx = ParsedTransaction.parse(envelope_bytes)
    if tx.header_type != HEADER_TYPE_CONFIG:
        raise BadConfig(
            f"channel_header.type: expected CONFIG ({HEADER_TYPE_CONFIG}), got {tx.header_type}",
            field="channel_header.type",
        )
    cfg = config_from_envelope(tx.config_envelope, tx.channel_id)
    if cfg.hashing_algorithm not in (None, "SHA256"):
        raise BadConfig(
            f"/Channel/HashingAlgorithm: expected SHA256, got {cfg.hashing_algorithm}",
            field="HashingAlgorithm",
        )
    return cfg


def channel_config_from_block(raw_block: bytes) -> ChannelConfig:
    """The configuration of a config block (one CONFIG transaction).

    Remembered for the last few blocks: a configuration is a pure function of the block's bytes,
    so the checks of one channel in a process (an audit, each receipt, the node's peer) share
    one, and with it its MSPs' memos of identities and verdicts.
    """
    return _config_from_block(bytes(raw_block))


@functools.lru_cache(maxsize=4)
def _config_from_block(raw_block: bytes) -> ChannelConfig:
    block = unpack_block(raw_block)
    if len(block.data) != 1:
        raise BadConfig(
            f"config block {block.number}: expected 1 transaction, got {len(block.data)}",
            field="block.data",
        )
    return config_from_config_tx(block.data[0])
