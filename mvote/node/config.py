"""The node configuration file ``mvote-node.yaml``: what ``mvote network init`` writes and the
node reads at start.

Organisation names map to Fabric names by one rule (docs/network.md): ``cityhall`` becomes MSP id
``CityhallMSP`` and domain ``cityhall.<base domain>`` (``cityhall.mvote.local`` by default); its
peer is ``peer0.<domain>``. The ordering organisation is ``OrdererMSP`` on the base domain with
its orderer ``orderer.<base domain>``.

Every value object validates itself on construction, so a ``NodeConfig`` that exists is a
consistent one; every refusal is a :class:`~mvote.node.errors.ConfigInvalid` naming the key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mvote.node.errors import ConfigInvalid

CONFIG_FILE_NAME = "mvote-node.yaml"
CONFIG_VERSION = 1
DEFAULT_BASE_DOMAIN = "mvote.local"
DEFAULT_CHANNEL = "mvote"
DEFAULT_CHAINCODE = "mvote"
ORDERER_MSP_ID = "OrdererMSP"
#: The orderer organisation's group name in the channel config, as Fabric's test network names it.
ORDERER_GROUP_NAME = "OrdererOrg"
#: First peer port; organisation i (0-based) gets FIRST_PEER_PORT + PEER_PORT_STEP * i, the
#: test-network convention (7051, 8051, 9051, ...).
FIRST_PEER_PORT = 7051
PEER_PORT_STEP = 1000
ORDERER_PORT = 7050
LOOPBACK = "127.0.0.1"

MIB = 1024 * 1024

_ORG_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")
# "orderer" would make the peer org's domain equal to the orderer node's host name.
_RESERVED_ORG_NAMES = frozenset({"orderer"})
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")
# Fabric's channel name rule (common/configtx/validator.go).
_CHANNEL = re.compile(r"[a-z][a-z0-9.-]{0,248}")
# Fabric's chaincode name rule (core/chaincode/lifecycle).
_CHAINCODE = re.compile(r"[a-zA-Z0-9]+(?:[-_][a-zA-Z0-9]+)*")
_MSP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def msp_id_for(org_name: str) -> str:
    """``cityhall`` -> ``CityhallMSP``."""
    check_org_name(org_name)
    return org_name[0].upper() + org_name[1:] + "MSP"


def domain_for(org_name: str, base_domain: str = DEFAULT_BASE_DOMAIN) -> str:
    """``cityhall`` -> ``cityhall.mvote.local``."""
    check_org_name(org_name)
    return f"{org_name}.{base_domain}"


def check_org_name(org_name: str, *, key: str = "organizations") -> None:
    """Refuse a name that does not map to a DNS label and an MSP id one to one."""
    if not isinstance(org_name, str) or not _ORG_NAME.fullmatch(org_name):
        raise ConfigInvalid(
            "expected an organisation name of 1 to 32 lowercase letters and digits starting with "
            f"a letter, got {org_name!r}",
            field=key,
        )
    if org_name in _RESERVED_ORG_NAMES:
        raise ConfigInvalid(f"organisation name {org_name!r} is reserved", field=key)


def parse_org_names(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"cityhall,district"`` or a list -> validated, distinct names in the given order."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    if not names or names == [""]:
        raise ConfigInvalid("expected at least one organisation, got none", field="organizations")
    for name in names:
        check_org_name(name)
    if len(set(names)) != len(names):
        raise ConfigInvalid(f"organisation names repeat: {names}", field="organizations")
    return tuple(names)


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigInvalid(message, field=key)


def _check_int(value: object, key: str, *, minimum: int = 1, maximum: int = 2**63 - 1) -> None:
    # bool is an int in Python; "true" for a byte count is a mistake, not 1.
    _require(
        isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum,
        key,
        f"expected an integer in {minimum}..{maximum}, got {value!r}",
    )


@dataclass(frozen=True)
class Endpoint:
    """A ``host:port`` address (IPv4 or DNS name)."""

    host: str
    port: int

    def __post_init__(self) -> None:
        _check_int(self.port, "port", maximum=65535)
        ok = isinstance(self.host, str) and bool(_DOMAIN.fullmatch(self.host.lower()))
        if not ok:
            try:
                ipaddress.IPv4Address(self.host)
                ok = True
            except (ValueError, TypeError):
                ok = False
        _require(ok, "host", f"expected a host name or IPv4 address, got {self.host!r}")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: object, key: str) -> Endpoint:
        """``"127.0.0.1:7051"`` -> Endpoint; ``key`` names the config key in errors."""
        if not isinstance(text, str) or text.count(":") != 1:
            raise ConfigInvalid(f"expected host:port, got {text!r}", field=key)
        host, _, port = text.partition(":")
        if not port.isdigit() or not port.isascii():
            raise ConfigInvalid(f"expected a decimal port in {text!r}", field=key)
        try:
            return cls(host, int(port))
        except ConfigInvalid as err:
            raise ConfigInvalid(f"{err.message} (in {text!r})", field=key) from None


@dataclass(frozen=True)
class BatchSettings:
    """How the orderer cuts blocks; written into the genesis block's Orderer group."""

    max_message_count: int = 500
    preferred_max_bytes: int = 2 * MIB
    absolute_max_bytes: int = 10 * MIB
    timeout_ms: int = 250

    def __post_init__(self) -> None:
        _check_int(self.max_message_count, "batch.max_message_count", maximum=2**32 - 1)
        _check_int(self.absolute_max_bytes, "batch.absolute_max_bytes", maximum=2**32 - 1)
        _check_int(
            self.preferred_max_bytes,
            "batch.preferred_max_bytes",
            maximum=self.absolute_max_bytes,
        )
        _check_int(self.timeout_ms, "batch.timeout_ms", maximum=24 * 3600 * 1000)


#: The default transaction limit, or the block's absolute limit if that is smaller.
DEFAULT_MAX_TRANSACTION_BYTES = 4 * MIB
#: The most streams and waits one gRPC server process may hold open (each holds a thread).
MAX_STREAMS_CEILING = 16384


@dataclass(frozen=True)
class NodeLimits:
    """Size limits the node enforces before anything is written, and the bounds on what one
    client can hold open in each gRPC server process (docs/network.md)."""

    max_grpc_message_bytes: int = 16 * MIB
    #: A maximal question spec travels three times in its transaction (~2.4 MB): docs/node.md.
    max_transaction_bytes: int = DEFAULT_MAX_TRANSACTION_BYTES
    max_rest_body_bytes: int = 1 * MIB
    #: Streams and waits (Deliver, Broadcast, ChaincodeEvents, CommitStatus) open at once.
    max_streams: int = 1024
    max_streams_per_connection: int = 256
    max_streams_per_identity: int = 512
    #: Threads that serve unary calls; streams and waits never take these.
    unary_workers: int = 64
    #: How long a stream waits for its first request (and each next one) before it is ended.
    stream_request_seconds: int = 10
    #: How long CommitStatus waits for a transaction to commit before it answers
    #: DEADLINE_EXCEEDED (a client asks again if it still cares).
    commit_status_wait_seconds: int = 60

    def __post_init__(self) -> None:
        _check_int(self.max_grpc_message_bytes, "limits.max_grpc_message_bytes")
        _check_int(self.max_transaction_bytes, "limits.max_transaction_bytes")
        _check_int(self.max_rest_body_bytes, "limits.max_rest_body_bytes")
        _check_int(self.max_streams, "limits.max_streams", maximum=MAX_STREAMS_CEILING)
        for key in ("max_streams_per_connection", "max_streams_per_identity"):
            _check_int(getattr(self, key), f"limits.{key}", maximum=self.max_streams)
        _check_int(self.unary_workers, "limits.unary_workers", maximum=1024)
        _check_int(self.stream_request_seconds, "limits.stream_request_seconds", maximum=3600)
        _check_int(
            self.commit_status_wait_seconds, "limits.commit_status_wait_seconds", maximum=3600
        )


def default_limits(batch: BatchSettings) -> NodeLimits:
    """The default limits for blocks cut by ``batch``: no transaction larger than a block."""
    return NodeLimits(
        max_transaction_bytes=min(DEFAULT_MAX_TRANSACTION_BYTES, batch.absolute_max_bytes)
    )


#: The keys of :class:`NodeLimits` that bound streams and waits, in file order.
STREAM_LIMIT_KEYS = (
    "max_streams",
    "max_streams_per_connection",
    "max_streams_per_identity",
    "unary_workers",
    "stream_request_seconds",
    "commit_status_wait_seconds",
)


#: One per core of the machines the embedded node is sized for (2): the gateway processes do most
#: of a ballot's work (gRPC, TLS, endorsement), the node process orders and commits.
DEFAULT_GATEWAY_PROCESSES = 2
MAX_GATEWAY_PROCESSES = 64


@dataclass(frozen=True)
class Listen:
    """Where the embedded node listens. One process serves every organisation's peer."""

    grpc: Endpoint = Endpoint(LOOPBACK, FIRST_PEER_PORT)
    rest: Endpoint = Endpoint(LOOPBACK, 8080)
    operations: Endpoint = Endpoint(LOOPBACK, 9443)
    #: Gateway processes serving ``grpc`` (mvote.node.serving); 0: the node process serves it.
    gateway_processes: int = DEFAULT_GATEWAY_PROCESSES

    def __post_init__(self) -> None:
        ports = [self.grpc, self.rest, self.operations]
        _require(len(set(ports)) == 3, "listen", f"listen addresses must differ, got {ports}")
        _check_int(
            self.gateway_processes,
            "listen.gateway_processes",
            minimum=0,
            maximum=MAX_GATEWAY_PROCESSES,
        )


@dataclass(frozen=True)
class PeerOrg:
    """One peer organisation: its short name and the Fabric names derived from it."""

    name: str
    msp_id: str
    domain: str
    peer_endpoint: Endpoint

    def __post_init__(self) -> None:
        check_org_name(self.name, key="organizations.name")
        _require(
            isinstance(self.msp_id, str) and bool(_MSP_ID.fullmatch(self.msp_id)),
            "organizations.msp_id",
            f"expected an MSP id, got {self.msp_id!r}",
        )
        _require(
            isinstance(self.domain, str) and bool(_DOMAIN.fullmatch(self.domain)),
            "organizations.domain",
            f"expected a lowercase DNS domain, got {self.domain!r}",
        )

    @property
    def peer_host(self) -> str:
        return f"peer0.{self.domain}"

    @property
    def admin_name(self) -> str:
        return f"Admin@{self.domain}"

    @property
    def client_name(self) -> str:
        return f"User1@{self.domain}"


@dataclass(frozen=True)
class OrdererOrg:
    msp_id: str = ORDERER_MSP_ID
    domain: str = DEFAULT_BASE_DOMAIN
    endpoint: Endpoint = Endpoint(LOOPBACK, ORDERER_PORT)

    def __post_init__(self) -> None:
        _require(
            isinstance(self.msp_id, str) and bool(_MSP_ID.fullmatch(self.msp_id)),
            "orderer.msp_id",
            f"expected an MSP id, got {self.msp_id!r}",
        )
        _require(
            isinstance(self.domain, str) and bool(_DOMAIN.fullmatch(self.domain)),
            "orderer.domain",
            f"expected a lowercase DNS domain, got {self.domain!r}",
        )

    @property
    def orderer_host(self) -> str:
        return f"orderer.{self.domain}"

    @property
    def admin_name(self) -> str:
        return f"Admin@{self.domain}"


def peer_org(name: str, index: int, base_domain: str = DEFAULT_BASE_DOMAIN) -> PeerOrg:
    """The default entry for the ``index``-th (0-based) organisation named ``name``."""
    return PeerOrg(
        name=name,
        msp_id=msp_id_for(name),
        domain=domain_for(name, base_domain),
        peer_endpoint=Endpoint(LOOPBACK, FIRST_PEER_PORT + PEER_PORT_STEP * index),
    )


@dataclass(frozen=True)
class NodeConfig:
    """The whole of ``mvote-node.yaml``. Paths are relative to the file's directory."""

    organizations: tuple[PeerOrg, ...]
    orderer: OrdererOrg = field(default_factory=OrdererOrg)
    channel: str = DEFAULT_CHANNEL
    chaincode: str = DEFAULT_CHAINCODE
    batch: BatchSettings = field(default_factory=BatchSettings)
    limits: NodeLimits = field(default_factory=NodeLimits)
    listen: Listen = field(default_factory=Listen)
    genesis_block: str = "genesis.block"
    organizations_dir: str = "organizations"
    ledger_dir: str = "ledger"

    def __post_init__(self) -> None:
        _require(
            isinstance(self.channel, str) and bool(_CHANNEL.fullmatch(self.channel)),
            "channel",
            f"expected a Fabric channel name ([a-z][a-z0-9.-]*), got {self.channel!r}",
        )
        _require(
            isinstance(self.chaincode, str) and bool(_CHAINCODE.fullmatch(self.chaincode)),
            "chaincode",
            f"expected a Fabric chaincode name, got {self.chaincode!r}",
        )
        _require(bool(self.organizations), "organizations", "expected at least one organisation")
        for key, values in (
            ("organizations.name", [o.name for o in self.organizations]),
            (
                "organizations.msp_id",
                [o.msp_id for o in self.organizations] + [self.orderer.msp_id],
            ),
            ("organizations.domain", [o.domain for o in self.organizations]),
            (
                "organizations.peer_endpoint",
                [str(o.peer_endpoint) for o in self.organizations] + [str(self.orderer.endpoint)],
            ),
        ):
            _require(len(set(values)) == len(values), key, f"values must be distinct: {values}")
        hosts = [o.peer_host for o in self.organizations] + [self.orderer.orderer_host]
        _require(
            self.orderer.domain not in {o.domain for o in self.organizations}
            and len(set(hosts)) == len(hosts),
            "orderer.domain",
            f"the orderer domain {self.orderer.domain!r} collides with a peer organisation",
        )
        # A transaction larger than a block can never be ordered, and Deliver must be able to
        # send a whole block in one gRPC message.
        _require(
            self.limits.max_transaction_bytes <= self.batch.absolute_max_bytes,
            "limits.max_transaction_bytes",
            f"expected at most batch.absolute_max_bytes ({self.batch.absolute_max_bytes}), "
            f"got {self.limits.max_transaction_bytes}",
        )
        _require(
            self.limits.max_grpc_message_bytes > self.batch.absolute_max_bytes,
            "limits.max_grpc_message_bytes",
            f"expected more than batch.absolute_max_bytes ({self.batch.absolute_max_bytes}), "
            f"got {self.limits.max_grpc_message_bytes}",
        )
        for key in ("genesis_block", "organizations_dir", "ledger_dir"):
            value = getattr(self, key)
            _require(
                isinstance(value, str) and bool(value) and not Path(value).is_absolute(),
                key,
                f"expected a relative path, got {value!r}",
            )


def default_node_config(
    orgs: str | Sequence[str],
    *,
    channel: str = DEFAULT_CHANNEL,
    chaincode: str = DEFAULT_CHAINCODE,
    batch: BatchSettings | None = None,
    limits: NodeLimits | None = None,
    base_domain: str = DEFAULT_BASE_DOMAIN,
) -> NodeConfig:
    """The configuration ``mvote network init`` writes for the named organisations."""
    names = parse_org_names(orgs)
    _require(
        bool(_DOMAIN.fullmatch(base_domain)),
        "base_domain",
        f"expected a lowercase DNS domain, got {base_domain!r}",
    )
    _require(
        FIRST_PEER_PORT + PEER_PORT_STEP * (len(names) - 1) <= 65535,
        "organizations",
        f"at most {(65535 - FIRST_PEER_PORT) // PEER_PORT_STEP + 1} organisations get default "
        f"ports, got {len(names)}",
    )
    batch = batch or BatchSettings()
    return NodeConfig(
        organizations=tuple(peer_org(n, i, base_domain) for i, n in enumerate(names)),
        orderer=OrdererOrg(domain=base_domain),
        channel=channel,
        chaincode=chaincode,
        batch=batch,
        limits=limits or default_limits(batch),
    )


# --- file form ---------------------------------------------------------------------------------


def node_config_to_dict(config: NodeConfig) -> dict[str, Any]:
    """The YAML document for ``config``; keys in the order docs/network.md lists them."""
    return {
        "version": CONFIG_VERSION,
        "channel": config.channel,
        "chaincode": config.chaincode,
        "genesis_block": config.genesis_block,
        "organizations_dir": config.organizations_dir,
        "ledger_dir": config.ledger_dir,
        "listen": {
            "grpc": str(config.listen.grpc),
            "rest": str(config.listen.rest),
            "operations": str(config.listen.operations),
            "gateway_processes": config.listen.gateway_processes,
        },
        "batch": {
            "max_message_count": config.batch.max_message_count,
            "preferred_max_bytes": config.batch.preferred_max_bytes,
            "absolute_max_bytes": config.batch.absolute_max_bytes,
            "timeout_ms": config.batch.timeout_ms,
        },
        "limits": {
            "max_grpc_message_bytes": config.limits.max_grpc_message_bytes,
            "max_transaction_bytes": config.limits.max_transaction_bytes,
            "max_rest_body_bytes": config.limits.max_rest_body_bytes,
            **{key: getattr(config.limits, key) for key in STREAM_LIMIT_KEYS},
        },
        "orderer": {
            "msp_id": config.orderer.msp_id,
            "domain": config.orderer.domain,
            "endpoint": str(config.orderer.endpoint),
        },
        "organizations": [
            {
                "name": o.name,
                "msp_id": o.msp_id,
                "domain": o.domain,
                "peer_endpoint": str(o.peer_endpoint),
            }
            for o in config.organizations
        ],
    }


def _section(doc: Mapping[str, Any], allowed: set[str], *, prefix: str = "") -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigInvalid(
            f"unknown key {prefix}{unknown[0]!r}; expected one of {sorted(allowed)}",
            field=f"{prefix}{unknown[0]}",
        )


def _mapping(value: object, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigInvalid(f"expected a mapping, got {type(value).__name__}", field=key)
    return value


def node_config_from_dict(doc: object) -> NodeConfig:
    """Parse the YAML document; unknown keys are refused rather than ignored, so a typo in a
    limit cannot silently leave the default in force."""
    top = _mapping(doc, "(document)")
    _section(
        top,
        {
            "version",
            "channel",
            "chaincode",
            "genesis_block",
            "organizations_dir",
            "ledger_dir",
            "listen",
            "batch",
            "limits",
            "orderer",
            "organizations",
        },
    )
    if top.get("version") != CONFIG_VERSION:
        raise ConfigInvalid(
            f"expected version {CONFIG_VERSION}, got {top.get('version')!r}", field="version"
        )

    listen_doc = _mapping(top.get("listen", {}), "listen")
    _section(listen_doc, {"grpc", "rest", "operations", "gateway_processes"}, prefix="listen.")
    defaults = Listen()
    listen = Listen(
        **{
            k: Endpoint.parse(listen_doc[k], f"listen.{k}")
            if k in listen_doc
            else getattr(defaults, k)
            for k in ("grpc", "rest", "operations")
        },
        gateway_processes=listen_doc.get("gateway_processes", defaults.gateway_processes),
    )

    batch_doc = _mapping(top.get("batch", {}), "batch")
    batch_keys = {"max_message_count", "preferred_max_bytes", "absolute_max_bytes", "timeout_ms"}
    _section(batch_doc, batch_keys, prefix="batch.")
    batch = BatchSettings(**batch_doc)

    limits_doc = _mapping(top.get("limits", {}), "limits")
    limit_keys = {
        "max_grpc_message_bytes",
        "max_transaction_bytes",
        "max_rest_body_bytes",
        *STREAM_LIMIT_KEYS,
    }
    _section(limits_doc, limit_keys, prefix="limits.")
    implied = {"max_transaction_bytes": default_limits(batch).max_transaction_bytes}
    limits = NodeLimits(**{**implied, **limits_doc})

    orderer_doc = _mapping(top.get("orderer", {}), "orderer")
    _section(orderer_doc, {"msp_id", "domain", "endpoint"}, prefix="orderer.")
    orderer_defaults = OrdererOrg()
    orderer = OrdererOrg(
        msp_id=orderer_doc.get("msp_id", orderer_defaults.msp_id),
        domain=orderer_doc.get("domain", orderer_defaults.domain),
        endpoint=(
            Endpoint.parse(orderer_doc["endpoint"], "orderer.endpoint")
            if "endpoint" in orderer_doc
            else orderer_defaults.endpoint
        ),
    )

    orgs_doc = top.get("organizations")
    if not isinstance(orgs_doc, list) or not orgs_doc:
        raise ConfigInvalid("expected a non-empty list of organisations", field="organizations")
    orgs = []
    for i, entry in enumerate(orgs_doc):
        key = f"organizations[{i}]"
        org_doc = _mapping(entry, key)
        required = {"name", "msp_id", "domain", "peer_endpoint"}
        _section(org_doc, required, prefix=f"{key}.")
        missing = sorted(required - set(org_doc))
        if missing:
            raise ConfigInvalid(f"missing key {missing[0]!r}", field=f"{key}.{missing[0]}")
        orgs.append(
            PeerOrg(
                name=org_doc["name"],
                msp_id=org_doc["msp_id"],
                domain=org_doc["domain"],
                peer_endpoint=Endpoint.parse(org_doc["peer_endpoint"], f"{key}.peer_endpoint"),
            )
        )

    plain: dict[str, Any] = {
        k: top[k]
        for k in ("channel", "chaincode", "genesis_block", "organizations_dir", "ledger_dir")
        if k in top
    }
    return NodeConfig(
        organizations=tuple(orgs),
        orderer=orderer,
        batch=batch,
        limits=limits,
        listen=listen,
        **plain,
    )


_HEADER = """\
# mvote node configuration, written by `mvote network init`.
# Keys, defaults and the organisation name mapping: docs/network.md.
# Paths are relative to this file's directory. Changing organisations, endpoints or batch
# settings here does not change the genesis block already written beside it.
"""


def save_node_config(config: NodeConfig, path: Path) -> None:
    text = yaml.safe_dump(node_config_to_dict(config), sort_keys=False, default_flow_style=False)
    path.write_text(_HEADER + text, encoding="utf-8")


def load_node_config(path: Path) -> NodeConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigInvalid(f"cannot read {path}: {err.strerror}", field="(file)") from None
    except UnicodeDecodeError:
        raise ConfigInvalid(f"{path} is not UTF-8", field="(file)") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigInvalid(f"{path} is not valid YAML: {err}", field="(file)") from None
    try:
        return node_config_from_dict(doc)
    except TypeError as err:
        # A dataclass got a key it does not know; _section() should have caught it first.
        raise ConfigInvalid(f"{path}: {err}", field="(file)") from None
