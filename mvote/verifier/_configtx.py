"""Fabric's configtx validator: is a CONFIG transaction the current config with a signed,
authorised update applied?

A CONFIG envelope carries the whole new ``Config`` and, as ``last_update``, the
``CONFIG_UPDATE`` envelope it came from. Fabric's peer and orderer accept it only if
(common/configtx/validator.go ``Validate``, update.go ``authorizeUpdate``):

1. the new config's sequence is the current one plus one;
2. ``last_update`` is a CONFIG_UPDATE envelope holding a ``ConfigUpdateEnvelope`` whose
   ``ConfigUpdate`` names this channel;
3. every element of the read set exists in the current config at the version read
   (``verifyReadSet``);
4. the delta set (write-set elements whose version differs from the read set's) is not empty;
   each element's mod_policy is a legal path; an existing element goes to exactly its current
   version + 1 and the signatures satisfy the *current* element's mod_policy; a new element
   has version 0 (``verifyDeltaSet``, ``policyForItem``). Each signature signs
   ``signature_header || config_update``;
5. the current config overlaid with the delta set, rebuilt into a tree (``configMapToConfig``),
   equals the new config's channel group.

Elements are keyed as Fabric keys them, e.g. ``[Value]  /Channel/Orderer/BatchSize``, and the
refusals (typed errors under :class:`~mvote.verifier._errors.ConfigUpdateError`) name them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fabric_protos.common import common_pb2, configtx_pb2

from mvote.verifier._config import ChannelConfig, config_from_envelope
from mvote.verifier._envelope import (
    HEADER_TYPE_CONFIG_UPDATE,
    parse_proto,
    unpack_signature_header,
)
from mvote.verifier._errors import (
    BadConfigUpdate,
    BadPolicy,
    ConfigModPolicyFailure,
    ConfigReadSetMismatch,
    ConfigResultMismatch,
    ConfigVersionMismatch,
)
from mvote.verifier._msp import MSPIdentity
from mvote.verifier._policy import PolicyEvaluator, SignedData, valid_identities

GROUP = "[Group]  "
VALUE = "[Value]  "
POLICY = "[Policy] "
ROOT = "Channel"
#: configtx's configAllowedChars and MaxLength.
_CONFIG_ID = re.compile(r"[a-zA-Z0-9.-]+")
MAX_ID_LENGTH = 249
#: configmap.go's fix for v1.0 channels: with orderer capabilities, an empty mod_policy reads "Admins".
_HACKY_FIX_KEY = f"{VALUE}/{ROOT}/Orderer/Capabilities"
_HACKY_FIX_MOD_POLICY = "Admins"


@dataclass(frozen=True)
class Item:
    """One element of a config tree: a ConfigGroup, ConfigValue or ConfigPolicy message."""

    prefix: str
    #: The groups enclosing the element, from ``Channel`` (empty for the root group).
    path: tuple[str, ...]
    key: str
    message: Any

    @property
    def name(self) -> str:
        """Fabric's key for the element, e.g. ``[Policy] /Channel/Application/Admins``."""
        return f"{self.prefix}/{'/'.join((*self.path, self.key))}"

    @property
    def version(self) -> int:
        return int(self.message.version)

    @property
    def mod_policy(self) -> str:
        return str(self.message.mod_policy)


def _config_id_problem(name: str) -> str | None:
    """configtx's validateConfigID: why ``name`` is not a legal element name, or None."""
    if not name:
        return "expected a non-empty name, got ''"
    if len(name) > MAX_ID_LENGTH:
        return f"expected at most {MAX_ID_LENGTH} characters, got {len(name)}"
    if name in (".", ".."):
        return f"expected a name other than {name!r}"
    if _CONFIG_ID.fullmatch(name) is None:
        return f"expected only [a-zA-Z0-9.-], got {name!r}"
    return None


def config_map(group: Any, what: str) -> dict[str, Item]:
    """Fabric's mapConfig: every element of the tree rooted at ``group`` (named ``Channel``).

    ``what`` names the tree in errors (``read_set``, ``write_set``, ``config``).
    """
    out: dict[str, Item] = {}
    stack = [Item(GROUP, (), ROOT, group)]
    while stack:
        item = stack.pop()
        problem = _config_id_problem(item.key)
        if problem is not None:
            raise BadConfigUpdate(f"{what}: {item.name}: {problem}", field=what)
        out[item.name] = item
        if item.prefix != GROUP:
            continue
        inner = (*item.path, item.key)
        stack.extend(Item(GROUP, inner, k, g) for k, g in item.message.groups.items())
        stack.extend(Item(VALUE, inner, k, v) for k, v in item.message.values.items())
        stack.extend(Item(POLICY, inner, k, p) for k, p in item.message.policies.items())
    return out


def _mod_policy_problem(mod_policy: str) -> str | None:
    """configtx's validateModPolicy."""
    if not mod_policy:
        return "mod_policy: expected a policy path, got ''"
    for i, part in enumerate(mod_policy.removeprefix("/").split("/")):
        problem = _config_id_problem(part)
        if problem is not None:
            return f"mod_policy {mod_policy!r}: path element {i}: {problem}"
    return None


def mod_policy_path(item: Item) -> str:
    """The absolute path of the policy that governs ``item`` (Fabric's policyForItem).

    A relative mod_policy is looked up in the element's own group for a group, in the enclosing
    group for a value or policy, and at the channel root for the root group.
    """
    if item.mod_policy.startswith("/"):
        return item.mod_policy
    base = item.path if item.prefix != GROUP else (*item.path, item.key)
    return "/" + "/".join((*(base or (ROOT,)), item.mod_policy))


def update_signed_data(update_env: Any) -> list[SignedData]:
    """Fabric's ConfigUpdateEnvelopeAsSignedData: each signs ``signature_header || config_update``."""
    out = []
    for i, sig in enumerate(update_env.signatures):
        header = unpack_signature_header(
            sig.signature_header, f"config_update_envelope.signatures[{i}].signature_header"
        )
        out.append(
            SignedData(
                bytes(sig.signature_header) + bytes(update_env.config_update),
                header.creator,
                bytes(sig.signature),
            )
        )
    return out


def _verify_read_set(current: dict[str, Item], read_set: dict[str, Item]) -> None:
    for key in sorted(read_set):
        existing = current.get(key)
        if existing is None:
            raise ConfigReadSetMismatch(
                f"read_set: {key}: expected an element of the current config, got none",
                field=key,
            )
        if existing.version != read_set[key].version:
            raise ConfigReadSetMismatch(
                f"read_set: {key}: expected version {existing.version} (the current one), "
                f"got {read_set[key].version}",
                field=key,
            )


def _verify_delta_set(
    config: ChannelConfig,
    current: dict[str, Item],
    delta: dict[str, Item],
    signers: Sequence[MSPIdentity],
) -> None:
    """Fabric's verifyDeltaSet, in key order (Fabric's is map order; the first refusal wins).

    Precondition: ``signers`` come from :func:`valid_identities` over the update's signatures.
    """
    if not delta:
        raise BadConfigUpdate(
            "write_set: expected at least one changed element, got none (the update would have no effect)",
            field="write_set",
        )
    evaluator = PolicyEvaluator(config)
    for key in sorted(delta):
        item = delta[key]
        problem = _mod_policy_problem(item.mod_policy)
        if problem is not None:
            raise BadConfigUpdate(f"write_set: {key}: {problem}", field=key)
        existing = current.get(key)
        if existing is None:
            if item.version != 0:
                raise ConfigVersionMismatch(
                    f"write_set: {key}: expected version 0 for a new element, got {item.version}",
                    field=key,
                )
            continue
        if item.version != existing.version + 1:
            raise ConfigVersionMismatch(
                f"write_set: {key}: expected version {existing.version + 1} "
                f"(current {existing.version} + 1), got {item.version}",
                field=key,
            )
        path = mod_policy_path(existing)
        try:
            ok = evaluator.evaluate(path, signers)
        except BadPolicy as exc:
            raise ConfigModPolicyFailure(
                f"write_set: {key}: mod_policy {path}: {exc.message}", field=key
            ) from exc
        if not ok:
            who = sorted(i.mspid for i in signers)
            raise ConfigModPolicyFailure(
                f"write_set: {key}: signatures by {who or 'nobody'} do not satisfy its "
                f"mod_policy {path}",
                field=key,
            )


def authorize_update(config: ChannelConfig, update_env: Any) -> dict[str, Item]:
    """Fabric's authorizeUpdate: the current config's elements overlaid with the update's delta.

    Precondition: ``config.source`` is the parsed ``common.Config`` of ``config``.
    """
    update = parse_proto(
        configtx_pb2.ConfigUpdate, update_env.config_update, "config_update_envelope.config_update"
    )
    if update.channel_id != config.channel_id:
        raise BadConfigUpdate(
            f"config_update.channel_id: expected {config.channel_id!r}, got {update.channel_id!r}",
            field="config_update.channel_id",
        )
    current = config_map(config.source.channel_group, "config")
    read_set = config_map(update.read_set, "read_set") if update.HasField("read_set") else {}
    _verify_read_set(current, read_set)
    write_set = config_map(update.write_set, "write_set") if update.HasField("write_set") else {}
    delta = {
        k: v
        for k, v in write_set.items()
        if not (k in read_set and read_set[k].version == v.version)
    }
    signers, _ = valid_identities(update_signed_data(update_env), config.msps)
    _verify_delta_set(config, current, delta, signers)
    return {**current, **delta}


def _rebuild(path: str, elements: dict[str, Item], fix_mod_policy: bool) -> Any:
    """Fabric's recurseConfigMap: the group at ``path`` with every child taken from ``elements``."""
    item = elements.get(GROUP + path)
    if item is None or item.prefix != GROUP:
        raise ConfigResultMismatch(
            f"config: missing group at path {GROUP}{path}", field=f"{GROUP}{path}"
        )
    group = configtx_pb2.ConfigGroup()
    group.CopyFrom(item.message)
    for key in item.message.groups:
        group.groups[key].CopyFrom(_rebuild(f"{path}/{key}", elements, fix_mod_policy))
    for prefix, children in ((VALUE, group.values), (POLICY, group.policies)):
        for key in list(children):
            child = elements.get(f"{prefix}{path}/{key}")
            if child is None or child.prefix != prefix:
                raise ConfigResultMismatch(
                    f"config: missing element {prefix}{path}/{key}", field=f"{prefix}{path}/{key}"
                )
            children[key].CopyFrom(child.message)
    if fix_mod_policy:
        for element in (group, *group.values.values(), *group.policies.values()):
            if not element.mod_policy:
                element.mod_policy = _HACKY_FIX_MOD_POLICY
    return group


def config_update_envelope(last_update: Any) -> Any:
    """Fabric's EnvelopeToConfigUpdate: the ``ConfigUpdateEnvelope`` of a CONFIG_UPDATE envelope."""
    payload = parse_proto(common_pb2.Payload, last_update.payload, "last_update.payload")
    if not payload.HasField("header"):
        raise BadConfigUpdate(
            "last_update.payload.header: expected a Header, got none", field="last_update"
        )
    ch = parse_proto(
        common_pb2.ChannelHeader,
        payload.header.channel_header,
        "last_update.payload.header.channel_header",
    )
    if ch.type != HEADER_TYPE_CONFIG_UPDATE:
        raise BadConfigUpdate(
            f"last_update channel_header.type: expected CONFIG_UPDATE ({HEADER_TYPE_CONFIG_UPDATE}), got {ch.type}",
            field="last_update",
        )
    return parse_proto(configtx_pb2.ConfigUpdateEnvelope, payload.data, "last_update.payload.data")


def next_config(config: ChannelConfig, config_envelope: Any) -> ChannelConfig:
    """The config a CONFIG transaction installs after ``config``, checked as Fabric's
    ``ValidatorImpl.Validate`` checks it (module docstring); raises a ``ConfigUpdateError``,
    or ``MalformedProto``/``BadConfig`` for bytes that do not parse into a usable config.

    Precondition: ``config_envelope`` is a parsed ``common.ConfigEnvelope`` with a config.
    """
    new = config_envelope.config
    if new.sequence != config.sequence + 1:
        raise BadConfigUpdate(
            f"config.sequence: expected {config.sequence + 1}, got {new.sequence}",
            field="config.sequence",
        )
    if not config_envelope.HasField("last_update"):
        raise BadConfigUpdate(
            "config_envelope.last_update: expected the CONFIG_UPDATE envelope, got none",
            field="last_update",
        )
    elements = authorize_update(config, config_update_envelope(config_envelope.last_update))
    result = _rebuild(f"/{ROOT}", elements, _HACKY_FIX_KEY in elements)
    if result != new.channel_group:
        raise ConfigResultMismatch(
            "config.channel_group: expected the current config with last_update applied, got another config",
            field="config.channel_group",
        )
    return config_from_envelope(config_envelope, config.channel_id)
