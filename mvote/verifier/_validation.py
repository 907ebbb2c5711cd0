"""Recompute every transaction's ``TxValidationCode`` the way a Fabric v2/v3 peer does.

Order of checks (first failure decides the code, as in Fabric's committer):

1. envelope, payload, headers                       -> INVALID_OTHER_REASON / BAD_PAYLOAD / BAD_COMMON_HEADER
2. creator identity valid and its signature over the payload -> BAD_CREATOR_SIGNATURE
3. tx id = SHA-256(nonce || creator); one action; proposal hash -> BAD_PROPOSAL_TXID / INVALID_ENDORSER_TRANSACTION
4. channel id                                      -> TARGET_CHAIN_NOT_FOUND
5. tx id not already in the ledger                 -> DUPLICATE_TXID
6. chaincode action, rwset, chaincode ids; endorsement policy of every namespace written
   (collection policies for private writes, as Fabric's v20 validator) -> BAD_* / INVALID_CHAINCODE / ENDORSEMENT_POLICY_FAILURE
7. tx id not repeated earlier in the block          -> DUPLICATE_TXID
8. MVCC against committed state + earlier valid writes of the block -> MVCC_READ_CONFLICT / PHANTOM_READ_CONFLICT

Policies and chaincode definitions are read from the committed state as of the start of the
block, as Fabric's validator does. :func:`validate_block_transactions` is pure given its
arguments; the embedded node's committer calls it to decide the codes it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fabric_protos.peer import collection_pb2
from fabric_protos.peer.lifecycle import chaincode_definition_pb2, db_pb2

from mvote.verifier._checks import Check
from mvote.verifier._config import ChannelConfig
from mvote.verifier._envelope import (
    HEADER_TYPE_CONFIG,
    HEADER_TYPE_CONFIG_UPDATE,
    HEADER_TYPE_ENDORSER_TRANSACTION,
    ChaincodeAction,
    NsRwSet,
    TxRwSet,
    Version,
    parse_proto,
)
from mvote.verifier._errors import (
    BadPolicy,
    BadSignatureEncoding,
    HighS,
    MalformedProto,
    SignatureMismatch,
    UnsupportedRangeSummary,
    VerifierError,
    unexpected,
)
from mvote.verifier._msp import MSPIdentity
from mvote.verifier._mvcc import VALID, BlockUpdates, WorldStateView, check_mvcc
from mvote.verifier._policy import (
    PolicyEvaluator,
    SignedData,
    application_policy_reference,
    application_policy_signature,
    valid_identities,
)
from mvote.verifier._signatures import verify_p256_sha256
from mvote.verifier._transaction import ParsedTransaction

NIL_ENVELOPE = 1
BAD_PAYLOAD = 2
BAD_COMMON_HEADER = 3
BAD_CREATOR_SIGNATURE = 4
INVALID_ENDORSER_TRANSACTION = 5
UNSUPPORTED_TX_PAYLOAD = 7
BAD_PROPOSAL_TXID = 8
DUPLICATE_TXID = 9
ENDORSEMENT_POLICY_FAILURE = 10
TARGET_CHAIN_NOT_FOUND = 14
BAD_HEADER_EXTENSION = 19
BAD_RESPONSE_PAYLOAD = 21
BAD_RWSET = 22
ILLEGAL_WRITESET = 23
INVALID_CHAINCODE = 25
INVALID_OTHER_REASON = 255

LIFECYCLE = "_lifecycle"
LIFECYCLE_ENDORSEMENT = "/Channel/Application/LifecycleEndorsement"
DEFAULT_ENDORSEMENT = "/Channel/Application/Endorsement"
IMPLICIT_COLLECTION_PREFIX = "_implicit_org_"


@dataclass(frozen=True)
class Reason:
    """One failed check: a stable check name and a message naming the field."""

    check: Check
    message: str

    def __post_init__(self) -> None:
        # A name outside the enum is refused here (ValueError), whatever the caller's types.
        object.__setattr__(self, "check", Check(self.check))


@dataclass
class TxVerdict:
    index: int
    tx_id: str
    code: int
    reasons: list[Reason] = field(default_factory=list)
    #: Reported whatever the code: things this verifier cannot check (so never silently passed).
    unsupported: list[Reason] = field(default_factory=list)
    header_type: int | None = None
    rwset: TxRwSet | None = None
    #: The transaction the verdict is about, parsed once (its layers shared with every reader).
    transaction: ParsedTransaction | None = field(default=None, compare=False, repr=False)
    #: The envelope's data when the transaction is a CONFIG transaction (a ConfigEnvelope).
    config_data: bytes | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without ``transaction`` (a worker's verdict travels back to a committer that
        holds the bytes already)."""
        state = dict(self.__dict__)
        state["transaction"] = None
        return state


class _Fail(Exception):
    def __init__(self, code: int, check: Check, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = Reason(check, message)


def _unpack(code: int, check: Check, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except MalformedProto as exc:
        raise _Fail(code, check, exc.message) from exc


# --- chaincode definitions from _lifecycle state -----------------------------------------------


def _state_bytes(state: WorldStateView, key: str) -> bytes | None:
    raw = state.value(LIFECYCLE, key)
    if raw is None:
        return None
    sd = parse_proto(db_pb2.StateData, raw, f"{LIFECYCLE}/{key}")
    return bytes(sd.Bytes)


def chaincode_defined(state: WorldStateView, chaincode: str) -> bool:
    """Whether ``_lifecycle`` holds a committed definition of ``chaincode``."""
    if chaincode == LIFECYCLE:
        return True
    raw = state.value(LIFECYCLE, f"namespaces/metadata/{chaincode}")
    if raw is None:
        return False
    md = parse_proto(db_pb2.StateMetadata, raw, f"{LIFECYCLE}/namespaces/metadata/{chaincode}")
    return str(md.datatype) == "ChaincodeDefinition"


def chaincode_endorsement_policy(state: WorldStateView, chaincode: str) -> bytes | None:
    """The ``ApplicationPolicy`` a committed chaincode definition requires, None if undefined.

    ``_lifecycle`` itself answers to the channel's LifecycleEndorsement policy. A definition
    committed without a validation parameter falls back to ``/Channel/Application/Endorsement``,
    the default Fabric's lifecycle applies.
    """
    if chaincode == LIFECYCLE:
        return application_policy_reference(LIFECYCLE_ENDORSEMENT)
    if not chaincode_defined(state, chaincode):
        return None
    raw = _state_bytes(state, f"namespaces/fields/{chaincode}/ValidationInfo")
    if raw is None:
        return None
    vi = parse_proto(chaincode_definition_pb2.ChaincodeValidationInfo, raw, "ValidationInfo")
    if str(vi.validation_plugin) not in ("vscc", ""):
        raise BadPolicy(
            f"chaincode {chaincode}: expected validation plugin vscc, got {vi.validation_plugin!r}",
            field="validation_plugin",
        )
    param = bytes(vi.validation_parameter)
    return param or application_policy_reference(DEFAULT_ENDORSEMENT)


def collection_endorsement_policy(
    config: ChannelConfig, state: WorldStateView, chaincode: str, collection: str
) -> bytes | None:
    """Fabric's CollectionValidationInfo: the collection's own policy, None for the chaincode's."""
    if collection.startswith(IMPLICIT_COLLECTION_PREFIX):
        mspid = collection[len(IMPLICIT_COLLECTION_PREFIX) :]
        org = config.org_name_for_msp(mspid)
        if org is None:
            raise BadPolicy(
                f"collection {collection}: no org with MSP id {mspid!r}", field="collection"
            )
        path = f"/Channel/Application/{org}/Endorsement"
        if config.policy(path) is not None:
            return application_policy_reference(path)
        return application_policy_signature(_signed_by_any_member(mspid))
    raw = _state_bytes(state, f"namespaces/fields/{chaincode}/Collections")
    if raw:
        pkg = parse_proto(collection_pb2.CollectionConfigPackage, raw, "Collections")
        for conf in pkg.config:
            static = conf.static_collection_config
            if str(static.name) == collection:
                if static.HasField("endorsement_policy"):
                    return bytes(static.endorsement_policy.SerializeToString(deterministic=True))
                return None
    raise BadPolicy(f"chaincode {chaincode}: no such collection {collection!r}", field="collection")


def _signed_by_any_member(mspid: str) -> Any:
    from fabric_protos.common import policies_pb2
    from fabric_protos.msp import msp_principal_pb2

    role = msp_principal_pb2.MSPRole(msp_identifier=mspid, role=0)
    principal = msp_principal_pb2.MSPPrincipal(
        principal_classification=0, principal=role.SerializeToString(deterministic=True)
    )
    rule = policies_pb2.SignaturePolicy(
        n_out_of=policies_pb2.SignaturePolicy.NOutOf(
            n=1, rules=[policies_pb2.SignaturePolicy(signed_by=0)]
        )
    )
    return policies_pb2.SignaturePolicyEnvelope(version=0, rule=rule, identities=[principal])


# --- one transaction ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockContext:
    """What validating a block needs: config, committed state, and the ledger's tx ids."""

    config: ChannelConfig
    state: WorldStateView
    tx_id_committed: Callable[[str], bool]


def _headers(tx: ParsedTransaction) -> None:
    """Step 1: the envelope, payload and header layers parse, and the headers are usable.

    Each layer's failure gets the code Fabric gives for it (read in Fabric's order)."""
    if not tx.raw:
        raise _Fail(NIL_ENVELOPE, Check.TX_MALFORMED, "envelope: expected bytes, got none")
    _unpack(INVALID_OTHER_REASON, Check.TX_MALFORMED, lambda: tx.envelope)
    if not _unpack(BAD_PAYLOAD, Check.TX_MALFORMED, lambda: tx.payload).has_header:
        raise _Fail(
            BAD_COMMON_HEADER, Check.TX_MALFORMED, "payload.header: expected a Header, got none"
        )
    ch = _unpack(BAD_COMMON_HEADER, Check.TX_MALFORMED, lambda: tx.channel_header)
    sh = _unpack(BAD_COMMON_HEADER, Check.TX_MALFORMED, lambda: tx.signature_header)
    if ch.type not in (
        HEADER_TYPE_ENDORSER_TRANSACTION,
        HEADER_TYPE_CONFIG_UPDATE,
        HEADER_TYPE_CONFIG,
    ):
        raise _Fail(
            BAD_COMMON_HEADER,
            Check.CHANNEL_HEADER,
            f"channel_header.type: expected 1, 2 or 3, got {ch.type}",
        )
    if ch.epoch != 0:
        raise _Fail(
            BAD_COMMON_HEADER,
            Check.CHANNEL_HEADER,
            f"channel_header.epoch: expected 0, got {ch.epoch}",
        )
    if not sh.nonce or not sh.creator:
        raise _Fail(
            BAD_COMMON_HEADER,
            Check.TX_MALFORMED,
            "signature_header: expected a nonce and a creator, got an empty one",
        )


def _check_creator(ctx: BlockContext, tx: ParsedTransaction) -> None:
    """Step 2. Precondition: :func:`_headers` passed."""
    msps = ctx.config.msps
    try:
        ident = msps.deserialize(tx.creator)
        msps.validate(ident)
    except VerifierError as exc:
        raise _Fail(
            BAD_CREATOR_SIGNATURE, Check.CREATOR_IDENTITY, f"creator: {exc.message}"
        ) from exc
    try:
        verify_p256_sha256(ident.public_key, tx.envelope.payload, tx.envelope.signature)
    except VerifierError as exc:
        raise _Fail(
            BAD_CREATOR_SIGNATURE,
            Check.CREATOR_SIGNATURE,
            f"envelope.signature by {ident.mspid}: {exc.message}",
        ) from exc


def _endorser_structure(tx: ParsedTransaction) -> None:
    """Step 3. Precondition: :func:`_headers` passed and the header type is ENDORSER_TRANSACTION."""
    expected = tx.computed_tx_id
    if tx.tx_id != expected:
        raise _Fail(
            BAD_PROPOSAL_TXID,
            Check.TX_ID,
            f"channel_header.tx_id: expected {expected}, got {tx.tx_id}",
        )
    _unpack(INVALID_ENDORSER_TRANSACTION, Check.TX_MALFORMED, lambda: tx.actions)
    _unpack(INVALID_ENDORSER_TRANSACTION, Check.TX_MALFORMED, lambda: tx.action)
    ash = _unpack(
        INVALID_ENDORSER_TRANSACTION, Check.TX_MALFORMED, lambda: tx.action_signature_header
    )
    if not ash.nonce or not ash.creator:
        raise _Fail(
            INVALID_ENDORSER_TRANSACTION,
            Check.TX_MALFORMED,
            "actions[0].header: expected a nonce and a creator",
        )
    phash = tx.computed_proposal_hash
    if phash != tx.proposal_hash:
        raise _Fail(
            INVALID_ENDORSER_TRANSACTION,
            Check.PROPOSAL_HASH,
            f"proposal_response_payload.proposal_hash: expected {phash.hex()}, got {tx.proposal_hash.hex()}",
        )


def _require(
    evaluator: PolicyEvaluator,
    identities: Sequence[MSPIdentity],
    ns: str,
    policy: bytes,
    label: str | None,
    checked: set[str | None],
) -> None:
    """Evaluate a chaincode (label None) or collection policy once per transaction, as Fabric's
    v20 validator does; raise the ENDORSEMENT_POLICY_FAILURE verdict if it is not met."""
    if label in checked:
        return
    try:
        ok = evaluator.evaluate_application_policy(policy, identities)
    except (BadPolicy, MalformedProto) as exc:
        raise _Fail(
            ENDORSEMENT_POLICY_FAILURE, Check.ENDORSEMENT_POLICY, f"namespace {ns}: {exc.message}"
        ) from exc
    if not ok:
        what = f"collection {label}" if label else "chaincode"
        signers = sorted(i.mspid for i in identities)
        raise _Fail(
            ENDORSEMENT_POLICY_FAILURE,
            Check.ENDORSEMENT_POLICY,
            f"namespace {ns}: endorsements by {signers} do not satisfy the {what} policy",
        )
    checked.add(label)


def _endorser_identities(
    ctx: BlockContext, tx: ParsedTransaction, verdict: TxVerdict
) -> list[MSPIdentity]:
    """The valid endorsers' identities; a finding for each endorsement that is not valid.

    Precondition: :func:`_endorser_structure` passed."""
    action = tx.action
    signed = [
        SignedData(action.proposal_response_payload + e.endorser, e.endorser, e.signature)
        for e in action.endorsements
    ]
    identities, problems = valid_identities(signed, ctx.config.msps)
    for p in problems:
        check = (
            Check.ENDORSEMENT_SIGNATURE
            if isinstance(p.error, (HighS, SignatureMismatch, BadSignatureEncoding))
            else Check.ENDORSEMENT_IDENTITY
        )
        verdict.reasons.append(Reason(check, f"endorsements[{p.index}]: {p.error.message}"))
    return identities


def _namespace_policy(ctx: BlockContext, ns: str) -> bytes:
    """The committed chaincode definition's endorsement policy of ``ns`` (INVALID_CHAINCODE
    if it has none)."""
    try:
        cc_policy = chaincode_endorsement_policy(ctx.state, ns)
    except (BadPolicy, MalformedProto) as exc:
        raise _Fail(
            INVALID_CHAINCODE, Check.CHAINCODE_DEFINITION, f"namespace {ns}: {exc.message}"
        ) from exc
    if cc_policy is None:
        raise _Fail(
            INVALID_CHAINCODE,
            Check.CHAINCODE_DEFINITION,
            f"namespace {ns}: no committed chaincode definition",
        )
    return cc_policy


def _collection_policy(ctx: BlockContext, ns: str, collection: str) -> bytes | None:
    try:
        return collection_endorsement_policy(ctx.config, ctx.state, ns, collection)
    except (BadPolicy, MalformedProto) as exc:
        raise _Fail(
            ENDORSEMENT_POLICY_FAILURE, Check.ENDORSEMENT_POLICY, f"namespace {ns}: {exc.message}"
        ) from exc


def _note_key_level_endorsement(ns: str, ns_sets: list[NsRwSet], verdict: TxVerdict) -> None:
    if any(
        n.metadata_write_keys or any(c.metadata_write_keys for c in n.collections) for n in ns_sets
    ):
        verdict.unsupported.append(
            Reason(
                Check.KEY_LEVEL_ENDORSEMENT,
                f"namespace {ns}: metadata writes (key-level endorsement) are not checked",
            )
        )


def _namespace_endorsed(
    ctx: BlockContext,
    evaluator: PolicyEvaluator,
    identities: list[MSPIdentity],
    ns: str,
    cc_policy: bytes,
    ns_sets: list[NsRwSet],
) -> None:
    """The policies of namespace ``ns`` hold for ``identities``: the chaincode's
    (``cc_policy``) for public writes, each written collection's own (or the chaincode's), as
    Fabric's v20 validator does."""
    checked: set[str | None] = set()
    for n in ns_sets:
        if n.writes or n.metadata_write_keys:
            _require(evaluator, identities, ns, cc_policy, None, checked)
        for coll in n.collections:
            if not (coll.writes or coll.metadata_write_keys):
                continue
            coll_policy = _collection_policy(ctx, ns, coll.collection)
            if coll_policy:
                _require(evaluator, identities, ns, coll_policy, coll.collection, checked)
            else:
                _require(evaluator, identities, ns, cc_policy, None, checked)
    if not checked:
        _require(evaluator, identities, ns, cc_policy, None, checked)


def _endorsement_policies(
    ctx: BlockContext, tx: ParsedTransaction, cc_name: str, rwset: TxRwSet, verdict: TxVerdict
) -> None:
    """Step 6, policies: every namespace written (and the invoked one) endorsed per its policy.

    Precondition: :func:`_endorser_structure` passed; ``rwset`` is the transaction's."""
    written = {cc_name} | {ns.namespace for ns in rwset.ns_rwsets if ns.has_writes()}
    identities = _endorser_identities(ctx, tx, verdict)
    evaluator = PolicyEvaluator(ctx.config)
    for ns in sorted(written):
        ns_sets = [n for n in rwset.ns_rwsets if n.namespace == ns]
        cc_policy = _namespace_policy(ctx, ns)
        _note_key_level_endorsement(ns, ns_sets, verdict)
        _namespace_endorsed(ctx, evaluator, identities, ns, cc_policy, ns_sets)


def _chaincode_ids(tx: ParsedTransaction, cc_name: str, has_id: bool, ca: ChaincodeAction) -> None:
    """Step 6, ids: the header names the chaincode, the action the same one with a version."""
    if not has_id:
        raise _Fail(
            INVALID_OTHER_REASON,
            Check.CHAINCODE_ID,
            "channel_header.extension.chaincode_id: expected one, got none",
        )
    if not ca.has_chaincode_id:
        raise _Fail(
            INVALID_OTHER_REASON,
            Check.CHAINCODE_ID,
            "chaincode_action.chaincode_id: expected one, got none",
        )
    if not cc_name:
        raise _Fail(
            INVALID_CHAINCODE,
            Check.CHAINCODE_ID,
            "channel_header.extension.chaincode_id.name: expected a name, got ''",
        )
    if cc_name != ca.chaincode_name:
        raise _Fail(
            INVALID_CHAINCODE,
            Check.CHAINCODE_ID,
            f"chaincode_action.chaincode_id.name: expected {cc_name}, got {ca.chaincode_name}",
        )
    if not ca.chaincode_version:
        raise _Fail(
            INVALID_CHAINCODE,
            Check.CHAINCODE_ID,
            "chaincode_action.chaincode_id.version: expected a version, got ''",
        )
    if ca.events:
        ev_cc = _unpack(INVALID_OTHER_REASON, Check.TX_MALFORMED, lambda: tx.events).chaincode_id
        if ev_cc != cc_name:
            raise _Fail(
                INVALID_OTHER_REASON,
                Check.CHAINCODE_ID,
                f"chaincode_action.events.chaincode_id: expected {cc_name}, got {ev_cc}",
            )


def _dispatch(ctx: BlockContext, tx: ParsedTransaction, verdict: TxVerdict) -> TxRwSet:
    """Step 6. Precondition: :func:`_endorser_structure` passed."""
    ext = _unpack(BAD_HEADER_EXTENSION, Check.TX_MALFORMED, lambda: tx.header_extension)
    ca = _unpack(BAD_RESPONSE_PAYLOAD, Check.TX_MALFORMED, lambda: tx.chaincode_action)
    rwset: TxRwSet = _unpack(BAD_RWSET, Check.TX_MALFORMED, lambda: tx.rwset)
    _chaincode_ids(tx, ext.chaincode_name, ext.has_chaincode_id, ca)
    names = [n.namespace for n in rwset.ns_rwsets]
    if len(set(names)) != len(names):
        raise _Fail(
            ILLEGAL_WRITESET, Check.RWSET, f"rwset: expected distinct namespaces, got {names}"
        )
    _endorsement_policies(ctx, tx, ext.chaincode_name, rwset, verdict)
    return rwset


def validate_transaction(
    ctx: BlockContext, index: int, raw: bytes | ParsedTransaction
) -> TxVerdict:
    """Steps 1-6 of the module docstring for one envelope (no MVCC, no in-block duplicates).

    ``raw`` is the envelope's bytes or its :class:`ParsedTransaction` (whose layers are then
    decoded at most once across every caller). Whatever the envelope's bytes, this returns a
    verdict: a failure no check foresaw marks the transaction INVALID_OTHER_REASON with the
    check ``verifier_error`` (so one transaction can never stop a committer or an audit).
    Exceptions of ``ctx`` itself (its state or tx id look-ups) are the environment's, not the
    transaction's, and propagate unchanged.
    """
    tx = ParsedTransaction.of(raw)
    guarded = BlockContext(ctx.config, _GuardedState(ctx.state), _Guarded(ctx.tx_id_committed))
    verdict = TxVerdict(index=index, tx_id="", code=VALID, transaction=tx)
    try:
        _validate_transaction(guarded, tx, verdict)
    except _ContextFailed as failed:
        raise failed.error from None
    except Exception as exc:  # the transaction's bytes hit a failure no check foresaw
        verdict.code = INVALID_OTHER_REASON
        verdict.rwset = None
        verdict.config_data = None
        verdict.reasons.append(Reason(VERIFIER_ERROR, unexpected(exc)))
    return verdict


def _check_type_and_channel(ctx: BlockContext, tx: ParsedTransaction, verdict: TxVerdict) -> None:
    """Steps 3-4. Precondition: :func:`_headers` passed."""
    if tx.header_type == HEADER_TYPE_ENDORSER_TRANSACTION:
        _endorser_structure(tx)
    elif tx.header_type == HEADER_TYPE_CONFIG:
        verdict.config_data = tx.data
    else:
        raise _Fail(
            UNSUPPORTED_TX_PAYLOAD,
            Check.TX_TYPE,
            f"channel_header.type: expected 1 or 3, got {tx.header_type}",
        )
    if tx.channel_id != ctx.config.channel_id:
        raise _Fail(
            TARGET_CHAIN_NOT_FOUND,
            Check.CHANNEL_HEADER,
            f"channel_header.channel_id: expected {ctx.config.channel_id}, got {tx.channel_id}",
        )


def _validate_transaction(ctx: BlockContext, tx: ParsedTransaction, verdict: TxVerdict) -> None:
    try:
        _headers(tx)
        verdict.tx_id = tx.tx_id
        verdict.header_type = tx.header_type
        _check_creator(ctx, tx)
        _check_type_and_channel(ctx, tx, verdict)
        if tx.header_type == HEADER_TYPE_ENDORSER_TRANSACTION:
            if ctx.tx_id_committed(tx.tx_id):
                raise _Fail(
                    DUPLICATE_TXID,
                    Check.DUPLICATE_TXID,
                    f"tx id {tx.tx_id} is already in the ledger",
                )
            verdict.rwset = _dispatch(ctx, tx, verdict)
    except _Fail as fail:
        verdict.code = fail.code
        verdict.reasons.append(fail.reason)
        if verdict.header_type == HEADER_TYPE_ENDORSER_TRANSACTION and fail.code in _EARLY_FAILURES:
            verdict.reasons.extend(_diagnose_endorsements(ctx, tx))


#: Failures that stop Fabric before it looks at endorsements; an auditor still wants to know
#: whether the endorsements hold (the endorsements sit inside the creator-signed payload, so a
#: tampered endorsement always breaks the creator signature first).
_EARLY_FAILURES = frozenset({BAD_CREATOR_SIGNATURE, BAD_PROPOSAL_TXID, DUPLICATE_TXID})


def _diagnose_endorsements(ctx: BlockContext, tx: ParsedTransaction) -> list[Reason]:
    """Endorsement findings of a transaction already invalid for an earlier reason.

    Diagnostic only: never changes the validation code.
    """
    scratch = TxVerdict(index=-1, tx_id="", code=VALID)
    try:
        if len(tx.actions) != 1:
            return []
        _dispatch(ctx, tx, scratch)
    except _Fail as fail:
        scratch.reasons.append(fail.reason)
    except _ContextFailed:
        raise
    except Exception:  # diagnostic only: a failure here leaves the verdict as it is
        return []
    return [r for r in scratch.reasons if r.check.startswith("endorsement_")]


# --- the guard between a transaction's failures and its context's ------------------------------

#: The check of a failure no other check foresaw (see :func:`validate_transaction`).
VERIFIER_ERROR = Check.VERIFIER_ERROR


class _ContextFailed(Exception):
    """An exception of the block context, carried out of the per-transaction guard unchanged."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Guarded:
    """A context function whose exceptions become :class:`_ContextFailed`."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn

    def __call__(self, *args: Any) -> Any:
        try:
            return self._fn(*args)
        except Exception as exc:
            raise _ContextFailed(exc) from exc


class _GuardedState:
    """A :class:`WorldStateView` whose exceptions become :class:`_ContextFailed`."""

    def __init__(self, state: WorldStateView) -> None:
        self._state = state

    def value(self, namespace: str, key: str) -> bytes | None:
        result: bytes | None = _Guarded(self._state.value)(namespace, key)
        return result

    def version(self, namespace: str, key: str) -> Version | None:
        result: Version | None = _Guarded(self._state.version)(namespace, key)
        return result

    def hashed_version(self, namespace: str, collection: str, key_hash: bytes) -> Version | None:
        result: Version | None = _Guarded(self._state.hashed_version)(
            namespace, collection, key_hash
        )
        return result

    def range(self, namespace: str, start: str, end: str) -> Iterable[tuple[str, Version]]:
        result: list[tuple[str, Version]] = _Guarded(
            lambda: list(self._state.range(namespace, start, end))
        )()
        return result


def validate_block_transactions(
    ctx: BlockContext, block_number: int, data: Sequence[bytes | ParsedTransaction]
) -> tuple[list[TxVerdict], BlockUpdates]:
    """Codes of every transaction of a block, and the writes its VALID transactions make.

    Precondition: ``ctx.state`` is the state committed by blocks before ``block_number``.
    """
    verdicts = [validate_transaction(ctx, i, raw) for i, raw in enumerate(data)]
    return finish_block_validation(ctx, block_number, verdicts)


def finish_block_validation(
    ctx: BlockContext, block_number: int, verdicts: list[TxVerdict]
) -> tuple[list[TxVerdict], BlockUpdates]:
    """The block-level steps after :func:`validate_transaction` of each transaction (in-block
    duplicate tx ids, then MVCC in block order): what ``validate_block_transactions`` does with
    the per-transaction verdicts, however they were computed."""
    seen: set[str] = set()
    for v in verdicts:
        if v.code != VALID or v.header_type != HEADER_TYPE_ENDORSER_TRANSACTION:
            continue
        if v.tx_id in seen:
            v.code = DUPLICATE_TXID
            v.reasons.append(
                Reason(
                    Check.DUPLICATE_TXID, f"tx id {v.tx_id} appears earlier in block {block_number}"
                )
            )
        seen.add(v.tx_id)
    updates = BlockUpdates()
    for v in verdicts:
        if v.code != VALID or v.rwset is None:
            continue
        _check_mvcc(ctx.state, updates, v, block_number)
        if v.code == VALID:
            # Fabric applies a VALID transaction's writes, a range read it could not re-check
            # (a Merkle summary) included: the ledger writes them, so the updates carry them.
            updates.add(v.rwset, (block_number, v.index), v.tx_id)
    return verdicts, updates


def _check_mvcc(
    state: WorldStateView, updates: BlockUpdates, v: TxVerdict, block_number: int
) -> None:
    """Set ``v``'s code to its MVCC conflict, if any. Precondition: ``v`` is VALID with an
    rwset. A Merkle-summarised range read is noted as unsupported and leaves ``v`` VALID."""
    rwset = v.rwset
    if rwset is None:
        return
    try:
        code = check_mvcc(state, updates, rwset)
    except UnsupportedRangeSummary as exc:
        v.unsupported.append(Reason(Check.RANGE_QUERY_SUMMARY, exc.message))
        return
    if code != VALID:
        v.code = code
        v.reasons.append(
            Reason(Check.MVCC, f"read set conflicts with the state at block {block_number}")
        )
