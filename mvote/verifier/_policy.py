"""Fabric policy evaluation: signature policies, implicit meta policies, endorsement policies.

Semantics follow Fabric's ``common/cauthdsl`` and ``common/policies``:

* the signature set is first reduced to valid identities: undecodable identities and bad
  signatures are dropped, and an identity that signed twice counts once
  (``SignatureSetToValidIdentities``);
* in ``NOutOf`` each identity may satisfy at most one ``SignedBy`` (the ``used`` bitmap);
* ``ImplicitMeta`` ANY / ALL / MAJORITY count the sub-groups whose policy of the same name is
  satisfied; a group without sub-groups is satisfied vacuously (threshold 0), as in Fabric.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fabric_protos.common import policies_pb2

from mvote.verifier._config import (
    POLICY_IMPLICIT_META,
    POLICY_SIGNATURE,
    ChannelConfig,
    PolicyDef,
)
from mvote.verifier._envelope import parse_proto
from mvote.verifier._errors import BadPolicy, MalformedProto, VerifierError
from mvote.verifier._msp import MSPIdentity, MSPManager
from mvote.verifier._signatures import verify_p256_sha256

RULE_ANY = 0
RULE_ALL = 1
RULE_MAJORITY = 2

_MAX_POLICY_DEPTH = 64


@dataclass(frozen=True)
class SignedData:
    """Bytes signed, the signer's serialized identity, and the DER signature (Fabric's SignedData)."""

    data: bytes
    identity: bytes
    signature: bytes


@dataclass(frozen=True)
class SignatureProblem:
    """Why one element of a signature set was dropped before policy evaluation."""

    index: int
    identity: bytes
    error: VerifierError


def valid_identities(
    signed: Sequence[SignedData], msps: MSPManager
) -> tuple[list[MSPIdentity], list[SignatureProblem]]:
    """Fabric's SignatureSetToValidIdentities: deserialize, de-duplicate, verify signatures.

    MSPIdentity *validation* (chain, NodeOU) is not done here but when a principal is matched, as
    in Fabric; an identity that is valid under no principal simply satisfies none.
    """
    seen: set[tuple[str, str]] = set()
    out: list[MSPIdentity] = []
    problems: list[SignatureProblem] = []
    for i, sd in enumerate(signed):
        try:
            ident = msps.deserialize(sd.identity)
        except VerifierError as exc:
            problems.append(SignatureProblem(i, sd.identity, exc))
            continue
        key = (ident.mspid, ident.id)
        if key in seen:
            continue
        try:
            verify_p256_sha256(ident.public_key, sd.data, sd.signature)
        except VerifierError as exc:
            problems.append(SignatureProblem(i, sd.identity, exc))
            continue
        seen.add(key)
        out.append(ident)
    return out, problems


# --- signature policies ------------------------------------------------------------------------

Gate = Callable[[Sequence[MSPIdentity], list[bool]], bool]


def _compile(rule: Any, principals: Sequence[Any], msps: MSPManager, depth: int) -> Gate:
    if depth > _MAX_POLICY_DEPTH:
        raise BadPolicy("signature policy: nested deeper than 64 levels", field="rule")
    kind = rule.WhichOneof("Type")
    if kind == "n_out_of":
        n = int(rule.n_out_of.n)
        gates = [_compile(r, principals, msps, depth + 1) for r in rule.n_out_of.rules]

        def n_out_of(ids: Sequence[MSPIdentity], used: list[bool]) -> bool:
            verified = 0
            for gate in gates:
                trial = list(used)
                if gate(ids, trial):
                    verified += 1
                    used[:] = trial
            return verified >= n

        return n_out_of
    if kind == "signed_by":
        idx = int(rule.signed_by)
        if not 0 <= idx < len(principals):
            raise BadPolicy(
                f"signature policy signed_by: expected an index below {len(principals)}, got {idx}",
                field="signed_by",
            )
        principal = principals[idx]

        def signed_by(ids: Sequence[MSPIdentity], used: list[bool]) -> bool:
            for i, ident in enumerate(ids):
                if used[i]:
                    continue
                if msps.satisfies_principal(ident, principal):
                    used[i] = True
                    return True
            return False

        return signed_by
    raise BadPolicy(
        f"signature policy rule: expected n_out_of or signed_by, got {kind}", field="rule"
    )


def evaluate_signature_policy(
    envelope: bytes, identities: Sequence[MSPIdentity], msps: MSPManager
) -> bool:
    """Whether ``identities`` (already de-duplicated, signatures checked) satisfy the policy.

    Precondition: ``identities`` come from :func:`valid_identities`.
    """
    gate = msps.compiled_policies.get(envelope)
    if gate is None:
        # A compiled policy depends only on its bytes and the channel's MSPs: compile it once.
        try:
            env = parse_proto(
                policies_pb2.SignaturePolicyEnvelope, envelope, "signature_policy_envelope"
            )
        except MalformedProto as exc:
            raise BadPolicy(exc.message, field=exc.field) from exc
        if not env.HasField("rule"):
            raise BadPolicy(
                "signature_policy_envelope.rule: expected a rule, got none", field="rule"
            )
        gate = _compile(env.rule, list(env.identities), msps, 0)
        msps.compiled_policies[envelope] = gate
    result: bool = gate(identities, [False] * len(identities))
    return result


# --- channel policies --------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyEvaluator:
    """Evaluates the channel config's policies by absolute path."""

    config: ChannelConfig

    def evaluate(self, path: str, identities: Sequence[MSPIdentity]) -> bool:
        """Whether ``identities`` satisfy the policy at ``path`` (e.g. ``/Channel/Orderer/BlockValidation``).

        A path naming no policy raises :class:`BadPolicy` (Fabric refuses to evaluate it).
        """
        pol = self.config.policy(path)
        if pol is None:
            raise BadPolicy(f"policy {path}: expected a policy at that path, got none", field=path)
        return self._evaluate(path, pol, identities)

    def _evaluate(self, path: str, pol: PolicyDef, identities: Sequence[MSPIdentity]) -> bool:
        if pol.type == POLICY_SIGNATURE:
            return evaluate_signature_policy(pol.value, identities, self.config.msps)
        if pol.type == POLICY_IMPLICIT_META:
            try:
                meta = parse_proto(policies_pb2.ImplicitMetaPolicy, pol.value, path)
            except MalformedProto as exc:
                raise BadPolicy(exc.message, field=path) from exc
            group_path, _, _ = path.rpartition("/")
            group = self.config.group(group_path)
            if group is None:
                raise BadPolicy(f"policy {path}: its group does not exist", field=path)
            sub_name = str(meta.sub_policy)
            subs = list(group.groups.values())
            rule = int(meta.rule)
            if rule == RULE_ANY:
                threshold = 1
            elif rule == RULE_ALL:
                threshold = len(subs)
            elif rule == RULE_MAJORITY:
                threshold = len(subs) // 2 + 1
            else:
                raise BadPolicy(
                    f"policy {path}: expected rule ANY, ALL or MAJORITY, got {rule}", field=path
                )
            if not subs:
                return True
            satisfied = 0
            for sub in subs:
                sub_pol = sub.policies.get(sub_name)
                # A missing sub-policy is Fabric's reject policy: it counts as unsatisfied.
                if sub_pol is not None and self._evaluate(
                    f"{sub.path}/{sub_name}", sub_pol, identities
                ):
                    satisfied += 1
            return satisfied >= threshold
        raise BadPolicy(
            f"policy {path}: expected type SIGNATURE (1) or IMPLICIT_META (3), got {pol.type}",
            field=path,
        )

    def evaluate_signed(
        self, path: str, signed: Sequence[SignedData]
    ) -> tuple[bool, list[SignatureProblem]]:
        ids, problems = valid_identities(signed, self.config.msps)
        return self.evaluate(path, ids), problems

    def evaluate_application_policy(
        self, application_policy: bytes, identities: Sequence[MSPIdentity]
    ) -> bool:
        """An ``ApplicationPolicy`` (the form chaincode definitions store) against identities."""
        try:
            ap = parse_proto(
                policies_pb2.ApplicationPolicy, application_policy, "application_policy"
            )
        except MalformedProto as exc:
            raise BadPolicy(exc.message, field=exc.field) from exc
        kind = ap.WhichOneof("Type")
        if kind == "signature_policy":
            return evaluate_signature_policy(
                ap.signature_policy.SerializeToString(deterministic=True),
                identities,
                self.config.msps,
            )
        if kind == "channel_config_policy_reference":
            ref = str(ap.channel_config_policy_reference)
            if not ref.startswith("/"):
                # Fabric's policy manager resolves a relative name under the channel root.
                ref = f"/Channel/{ref}"
            return self.evaluate(ref, identities)
        raise BadPolicy(
            f"application_policy: expected signature_policy or channel_config_policy_reference, got {kind}",
            field="application_policy",
        )


def application_policy_reference(path: str) -> bytes:
    """A serialized ``ApplicationPolicy`` referring to the channel config policy at ``path``."""
    ap = policies_pb2.ApplicationPolicy(channel_config_policy_reference=path)
    return bytes(ap.SerializeToString(deterministic=True))


def application_policy_signature(envelope: Any) -> bytes:
    """A serialized ``ApplicationPolicy`` wrapping a ``SignaturePolicyEnvelope`` message."""
    ap = policies_pb2.ApplicationPolicy(signature_policy=envelope)
    return bytes(ap.SerializeToString(deterministic=True))
