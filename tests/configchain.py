"""Config updates built as Fabric's tools build them, over a network made by ``mvote network init``.

``compute_update`` is configtxlator's compute_update (read set, write set) for the changes these
tests make; ``ConfigChain`` signs the update with real admin keys (each signature over
``signature_header || config_update``), wraps it into a CONFIG envelope signed by the orderer and
a block signed by the orderer, as Fabric's orderer writes a config block.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fabric_protos.common import common_pb2, configtx_pb2, policies_pb2

from mvote.client._identity import Signer, load_signer
from mvote.node.material import NetworkMaterial
from mvote.node.orderer import METADATA_SLOTS, sign_block
from mvote.verifier._block import block_data_hash, block_header_hash


def _zero_versions(group: Any) -> Any:
    """A new group as a write set adds it: every element at version 0."""
    out = configtx_pb2.ConfigGroup()
    out.CopyFrom(group)
    out.version = 0
    for v in out.values.values():
        v.version = 0
    for p in out.policies.values():
        p.version = 0
    for k in list(out.groups):
        out.groups[k].CopyFrom(_zero_versions(out.groups[k]))
    return out


def compute_update(original: Any, updated: Any) -> tuple[Any, Any, Any, bool]:
    """(read set, write set, resulting group, changed) for turning ``original`` into ``updated``
    (configtxlator's computeGroupUpdate): a changed value or policy goes to version + 1; adding or
    removing a member raises the group's version and lists every member in both sets."""
    read = configtx_pb2.ConfigGroup(version=original.version)
    write = configtx_pb2.ConfigGroup(version=original.version)
    result = configtx_pb2.ConfigGroup()
    result.CopyFrom(updated)
    result.version = original.version
    membership = (
        set(original.values) != set(updated.values)
        or set(original.policies) != set(updated.policies)
        or set(original.groups) != set(updated.groups)
        or original.mod_policy != updated.mod_policy
    )
    changed = membership
    for kind in ("values", "policies"):
        before, after = getattr(original, kind), getattr(updated, kind)
        for key, element in after.items():
            if key in before and before[key] == element:
                if membership:
                    getattr(read, kind)[key].version = before[key].version
                    getattr(write, kind)[key].version = before[key].version
                continue
            changed = True
            version = before[key].version + 1 if key in before else 0
            getattr(write, kind)[key].CopyFrom(element)
            getattr(write, kind)[key].version = version
            getattr(result, kind)[key].version = version
    for key, group in updated.groups.items():
        if key not in original.groups:
            changed = True
            write.groups[key].CopyFrom(_zero_versions(group))
            result.groups[key].CopyFrom(_zero_versions(group))
            continue
        r, w, res, sub_changed = compute_update(original.groups[key], group)
        result.groups[key].CopyFrom(res)
        if sub_changed:
            changed = True
            read.groups[key].CopyFrom(r)
            write.groups[key].CopyFrom(w)
        elif membership:
            read.groups[key].version = original.groups[key].version
            write.groups[key].version = original.groups[key].version
    if membership:
        write.version = result.version = original.version + 1
        write.mod_policy = updated.mod_policy
    return read, write, result, changed


def implicit_meta(sub_policy: str, rule: str) -> Any:
    meta = policies_pb2.ImplicitMetaPolicy(
        sub_policy=sub_policy, rule=policies_pb2.ImplicitMetaPolicy.Rule.Value(rule)
    )
    return policies_pb2.Policy(
        type=policies_pb2.Policy.IMPLICIT_META, value=meta.SerializeToString(deterministic=True)
    )


def _nonce() -> bytes:
    return os.urandom(24)


@dataclass
class Update:
    """A config update under construction: its ConfigUpdate, the config it should produce, and
    who signs it (tests mutate any of these before :meth:`ConfigChain.config_block`)."""

    update: Any
    config: Any
    signers: list[Signer]
    #: Signatures whose signed bytes are mutated after signing (forgeries).
    tamper_signatures: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class ConfigChain:
    """A chain that starts at a network's genesis block and grows by config blocks."""

    def __init__(self, network: NetworkMaterial) -> None:
        self.network = network
        self.channel = network.config.channel
        self.blocks: list[bytes] = [network.genesis.raw]
        self.config = network.genesis.config
        self.last_config = 0
        orderer = network.orderer_org
        self.orderer = load_signer(orderer.node.msp_dir, orderer.msp_id)

    def admin(self, org: str) -> Signer:
        material = self.network.org(org)
        return load_signer(material.admin.msp_dir, material.msp_id)

    def client(self, org: str) -> Signer:
        material = self.network.org(org)
        return load_signer(material.client.msp_dir, material.msp_id)

    def orderer_admin(self) -> Signer:
        org = self.network.orderer_org
        return load_signer(org.admin.msp_dir, org.msp_id)

    def propose(self, change: Any, signers: Sequence[Signer]) -> Update:
        """An update from the current config to ``change(copy of the current channel group)``."""
        updated = configtx_pb2.ConfigGroup()
        updated.CopyFrom(self.config.channel_group)
        change(updated)
        read, write, result, _ = compute_update(self.config.channel_group, updated)
        update = configtx_pb2.ConfigUpdate(channel_id=self.channel, read_set=read, write_set=write)
        config = configtx_pb2.Config(sequence=self.config.sequence + 1, channel_group=result)
        return Update(update, config, list(signers))

    def config_envelope(self, u: Update) -> bytes:
        update_bytes = u.update.SerializeToString(deterministic=True)
        cue = configtx_pb2.ConfigUpdateEnvelope(config_update=update_bytes)
        for signer in u.signers:
            header = common_pb2.SignatureHeader(
                creator=signer.creator, nonce=_nonce()
            ).SerializeToString()
            signed = header + update_bytes
            if u.tamper_signatures:
                signed = signed + b"\x00"
            cue.signatures.add(signature_header=header, signature=signer.sign(signed))
        submitter = u.signers[0] if u.signers else self.orderer
        last_update = self._envelope(common_pb2.CONFIG_UPDATE, cue, submitter)
        env = configtx_pb2.ConfigEnvelope(config=u.config)
        if not u.extra.get("no_last_update"):
            env.last_update.CopyFrom(last_update)
        return bytes(self._envelope(common_pb2.CONFIG, env, self.orderer).SerializeToString())

    def _envelope(self, kind: int, data: Any, signer: Signer) -> Any:
        nonce = _nonce()
        ch = common_pb2.ChannelHeader(
            type=kind,
            version=0,
            channel_id=self.channel,
            tx_id=hashlib.sha256(nonce + signer.creator).hexdigest(),
        )
        ch.timestamp.seconds = int(time.time())
        sh = common_pb2.SignatureHeader(creator=signer.creator, nonce=nonce)
        payload = common_pb2.Payload(
            header=common_pb2.Header(
                channel_header=ch.SerializeToString(), signature_header=sh.SerializeToString()
            ),
            data=data.SerializeToString(),
        ).SerializeToString()
        return common_pb2.Envelope(payload=payload, signature=signer.sign(payload))

    def config_block(self, u: Update, *, last_config: int | None = None) -> bytes:
        """Append the CONFIG block of ``u``, signed by the orderer, naming itself as the last
        config (as Fabric's block writer does) unless ``last_config`` says otherwise."""
        number = len(self.blocks)
        previous = common_pb2.Block.FromString(self.blocks[-1]).header
        data = [self.config_envelope(u)]
        block = common_pb2.Block()
        block.header.number = number
        block.header.previous_hash = block_header_hash(
            previous.number, previous.previous_hash, previous.data_hash
        )
        block.header.data_hash = block_data_hash(data)
        block.data.data.extend(data)
        block.metadata.metadata.extend([b""] * METADATA_SLOTS)
        sign_block(block, self.orderer, last_config=number if last_config is None else last_config)
        block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = bytes([0])
        raw = block.SerializeToString()
        self.blocks.append(raw)
        return bytes(raw)

    def accept(self, u: Update) -> None:
        """Take ``u``'s config as the current one (after its block verified)."""
        self.config = u.config
        self.last_config = len(self.blocks) - 1


def set_application_policy(name: str, rule: str, sub_policy: str | None = None) -> Any:
    def change(group: Any) -> None:
        group.groups["Application"].policies[name].policy.CopyFrom(
            implicit_meta(sub_policy or name, rule)
        )

    return change
