"""Verify a whole Fabric chain from the hash of its genesis block alone.

The genesis (config) block's header hash is the trust anchor: block 0 is accepted because its
hash equals the anchor, not because of a signature (Fabric's genesis block carries none; any
orderer signature found on block 0 is ignored). Its config then names the organisations, their
root certificates and the policies every later block and transaction is checked against.

Per block, in this order (check names in quotes, see docs/verifier.md):
"block_malformed", "block_number", "genesis_hash" (block 0) or "previous_hash", "data_hash",
"tx_well_formed", "orderer_signature" and "block_validation_policy", "last_config", then every
transaction's recomputed validation code against the recorded TRANSACTIONS_FILTER
("transactions_filter", "validation_code" plus the failing check of the transaction), then
config updates ("config", or the configtx check that refused it: "config_update",
"config_read_set", "config_write_set", "config_mod_policy", "config_result").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fabric_protos.common import common_pb2

from mvote.verifier._block import block_data_hash, block_header_bytes, block_header_hash
from mvote.verifier._checks import CHAIN_CHECKS, Check
from mvote.verifier._commithash import commit_hash
from mvote.verifier._config import ChannelConfig, channel_config_from_block
from mvote.verifier._configtx import next_config
from mvote.verifier._envelope import (
    HEADER_TYPE_CONFIG,
    METADATA_COMMIT_HASH,
    METADATA_LAST_CONFIG,
    METADATA_ORDERER,
    METADATA_SIGNATURES,
    METADATA_TRANSACTIONS_FILTER,
    BlockView,
    parse_proto,
    unpack_block,
    unpack_signature_header,
    unpack_signatures_metadata,
)
from mvote.verifier._errors import (
    BadAnchor,
    BadConfigUpdate,
    ConfigUpdateError,
    MalformedProto,
    VerifierError,
    unexpected,
)
from mvote.verifier._mvcc import BlockUpdates, MemoryWorldState
from mvote.verifier._policy import PolicyEvaluator, SignedData, valid_identities
from mvote.verifier._transaction import ParsedTransaction, envelope_problem
from mvote.verifier._validation import (
    VERIFIER_ERROR,
    BlockContext,
    TxVerdict,
    validate_block_transactions,
)

BLOCK_VALIDATION = "/Channel/Orderer/BlockValidation"

#: The stable check names a chain finding may carry (the replay's are ``REPLAY_CHECKS``).
CHECKS = tuple(c for c in Check if c in CHAIN_CHECKS)


@dataclass(frozen=True)
class Finding:
    """One failed check: where (block, tx index, tx id) and which (a name from :data:`CHECKS`)."""

    block: int
    tx_index: int | None
    tx_id: str | None
    check: Check
    message: str
    #: The stable error code behind the finding, where one typed error caused it.
    code: str | None = None

    def __post_init__(self) -> None:
        # A name outside the enum is refused here (ValueError), whatever the caller's types.
        object.__setattr__(self, "check", Check(self.check))

    def __str__(self) -> str:
        where = f"block {self.block}" + (
            f" tx {self.tx_index} ({self.tx_id})" if self.tx_index is not None else ""
        )
        return f"{where}: {self.check}: {self.message}"


@dataclass
class ChainReport:
    findings: list[Finding] = field(default_factory=list)
    #: Recomputed validation codes per block number.
    codes: dict[int, list[int]] = field(default_factory=dict)
    tx_ids: dict[int, list[str]] = field(default_factory=dict)
    blocks: int = 0
    last_hash: bytes = b""
    #: Blocks after block 0 with neither TRANSACTIONS_FILTER nor COMMIT_HASH (an orderer's copy).
    orderer_copy_blocks: list[int] = field(default_factory=list)
    #: The world state the walked blocks commit: the writes of every transaction whose
    #: recomputed code is VALID (meaningful only when ``verified``).
    state: MemoryWorldState = field(default_factory=MemoryWorldState)
    #: The channel config in force after the walked blocks (None without a readable genesis).
    config: ChannelConfig | None = None

    @property
    def verified(self) -> bool:
        return not self.findings and self.blocks > 0

    @property
    def orderers_copy(self) -> bool:
        """An ordering node's copy: no block after block 0 carries a peer's metadata, so every
        validation code was recomputed with no recorded one to compare."""
        return self.blocks > 1 and len(self.orderer_copy_blocks) == self.blocks - 1


@dataclass
class _Walk:
    config: ChannelConfig
    state: MemoryWorldState = field(default_factory=MemoryWorldState)
    tx_ids: set[str] = field(default_factory=set)
    last_config_block: int = 0
    #: The last block's commit hash; None once a block without one breaks the chain of them.
    commit_hash: bytes | None = b""


METADATA_SLOTS = 5  # SIGNATURES, LAST_CONFIG, TRANSACTIONS_FILTER, ORDERER, COMMIT_HASH
# A one-field message: its serialization is unique, so bytes are compared.
_GENESIS_ORDERER_METADATA = common_pb2.OrdererBlockMetadata(
    last_config=common_pb2.LastConfig(index=0)
).SerializeToString()


def metadata_shape_problems(block: BlockView) -> list[str]:
    """What Fabric v3 writes into a block's metadata, checked where no signature covers it.

    Metadata is outside the header hash. Most of it is covered otherwise (the orderer signature,
    the recomputed validation codes, the commit hash chain), but its shape is not: five slots,
    LAST_CONFIG and ORDERER empty (deprecated in v3); and block 0, which nobody signs, holds an
    unsigned OrdererBlockMetadata naming itself as the last config, a filter of one VALID code
    (a peer's copy) or none (an orderer's), and no commit hash.
    """
    problems = []
    if len(block.metadata) != METADATA_SLOTS:
        problems.append(
            f"block.metadata: expected {METADATA_SLOTS} slots, got {len(block.metadata)}"
        )
    for slot, name in ((METADATA_LAST_CONFIG, "LAST_CONFIG"), (METADATA_ORDERER, "ORDERER")):
        if block.metadata_slot(slot):
            problems.append(f"metadata.{name}: expected empty (deprecated in Fabric v3), got bytes")
    if block.number != 0:
        return problems
    try:
        md = unpack_signatures_metadata(block.metadata_slot(METADATA_SIGNATURES))
        if md.signatures or md.value != _GENESIS_ORDERER_METADATA:
            problems.append(
                "block 0 metadata.SIGNATURES: expected no signatures and the value "
                f"OrdererBlockMetadata{{last_config{{index 0}}}} ({_GENESIS_ORDERER_METADATA.hex()}), "
                f"got {len(md.signatures)} signatures and value {md.value.hex()}"
            )
    except MalformedProto as exc:
        problems.append(f"block 0 metadata.SIGNATURES: {exc.message}")
    if block.metadata_slot(METADATA_COMMIT_HASH):
        problems.append("block 0 metadata.COMMIT_HASH: expected empty, got bytes")
    return problems


def _commit_hash_problem(
    block: BlockView, walk: _Walk, recorded_filter: bytes, updates: BlockUpdates
) -> str | None:
    """Check a peer's COMMIT_HASH metadata, and carry the chain of commit hashes forward.

    An ordering node's copy of a block has none (and neither has block 0); a peer's copy chains
    them from block 1, so one missing link leaves every later one uncheckable, and we say so.
    """
    slot = block.metadata_slot(METADATA_COMMIT_HASH)
    previous = walk.commit_hash
    if not slot:
        walk.commit_hash = None
        return None
    try:
        recorded = parse_proto(common_pb2.Metadata, slot, "metadata.COMMIT_HASH").value
    except VerifierError as exc:
        walk.commit_hash = None
        return exc.message
    walk.commit_hash = bytes(recorded)
    if previous is None:
        return f"COMMIT_HASH: cannot be checked, block {block.number - 1} carries none"
    expected = commit_hash(recorded_filter, updates, previous)
    if expected != recorded:
        return f"COMMIT_HASH: recomputed {expected.hex()}, recorded {bytes(recorded).hex()}"
    return None


def _header_type(tx: ParsedTransaction) -> int | None:
    try:
        return tx.header_type
    except MalformedProto:
        return None


def _tx_well_formed(block: BlockView, txs: list[ParsedTransaction]) -> list[tuple[int, str]]:
    """Fabric's VerifyTransactionsAreWellFormed (config blocks exempt), as (index, message).

    Precondition: ``txs`` are the transactions of ``block.data``, in order."""
    if not block.data:
        return [(-1, "block.data: expected at least one transaction, got none")]
    if any(_header_type(tx) == HEADER_TYPE_CONFIG for tx in txs):
        return []
    out = []
    for i, tx in enumerate(txs):
        problem = envelope_problem(tx.raw, f"block.data[{i}]")
        if problem is not None:
            out.append((i, problem))
    return out


def orderer_signature_findings(block: BlockView, config: ChannelConfig) -> list[tuple[Check, str]]:
    """Findings (check, message) for the SIGNATURES slot under the BlockValidation policy."""
    try:
        md = unpack_signatures_metadata(block.metadata_slot(METADATA_SIGNATURES))
    except MalformedProto as exc:
        return [(Check.ORDERER_SIGNATURE, exc.message)]
    header = block_header_bytes(block.number, block.previous_hash, block.data_hash)
    signed = []
    out = []
    for i, sig in enumerate(md.signatures):
        if not sig.signature_header:
            out.append(
                (
                    Check.ORDERER_SIGNATURE,
                    f"signatures[{i}]: expected a signature_header (BFT identifier headers are not supported)",
                )
            )
            continue
        try:
            sh = unpack_signature_header(
                sig.signature_header, f"metadata.signatures[{i}].signature_header"
            )
        except MalformedProto as exc:
            out.append((Check.ORDERER_SIGNATURE, exc.message))
            continue
        signed.append(
            SignedData(md.value + sig.signature_header + header, sh.creator, sig.signature)
        )
    identities, problems = valid_identities(signed, config.msps)
    for p in problems:
        out.append(
            (
                Check.ORDERER_SIGNATURE,
                f"signature by {p.error.field or 'signer'}: {p.error.message}",
            )
        )
    try:
        ok = PolicyEvaluator(config).evaluate(BLOCK_VALIDATION, identities)
    except VerifierError as exc:
        return [*out, (Check.BLOCK_VALIDATION_POLICY, exc.message)]
    if not ok:
        out.append(
            (
                Check.BLOCK_VALIDATION_POLICY,
                f"{BLOCK_VALIDATION}: signers {sorted(i.mspid for i in identities)} do not satisfy it",
            )
        )
    return out


def _is_config_block(txs: list[ParsedTransaction]) -> bool:
    return len(txs) == 1 and _header_type(txs[0]) == HEADER_TYPE_CONFIG


def _last_config(block: BlockView, expected: int) -> str | None:
    try:
        md = unpack_signatures_metadata(block.metadata_slot(METADATA_SIGNATURES))
    except MalformedProto:
        return None  # already reported as orderer_signature
    if md.last_config_index is None or md.last_config_index == expected:
        return None
    return (
        f"OrdererBlockMetadata.last_config.index: expected {expected}, got {md.last_config_index}"
    )


def verify_chain(blocks: Iterable[bytes], genesis_hash: bytes) -> ChainReport:
    """Verify serialized ``common.Block`` s, block 0 first, anchored at ``genesis_hash``.

    Returns a report; an empty ``findings`` list (with at least one block) means verified.
    Raises :class:`BadAnchor` only for an anchor that is not a SHA-256 value. No block's bytes
    make it raise: a failure no check foresaw is a ``verifier_error`` finding naming the block,
    and the walk stops there.
    """
    if len(genesis_hash) != 32:
        raise BadAnchor(
            f"genesis_hash: expected 32 bytes, got {len(genesis_hash)}", field="genesis_hash"
        )
    report = ChainReport()
    walked = _Walked()
    for position, raw in enumerate(blocks):
        try:
            go_on = _verify_block(position, raw, genesis_hash, report, walked)
        except Exception as exc:  # a failure no check foresaw: named, and the walk stops here
            report.findings.append(
                Finding(
                    position, None, None, VERIFIER_ERROR, f"block {position}: {unexpected(exc)}"
                )
            )
            go_on = False
        if not go_on:
            break
    if walked.walk is not None:
        report.state, report.config = walked.walk.state, walked.walk.config
    mixed = _mixed_copy(report)
    if mixed is not None:
        report.findings.append(Finding(mixed[0], None, None, Check.METADATA, mixed[1]))
    return report


@dataclass
class _Walked:
    """What the walk carries from one block to the next."""

    walk: _Walk | None = None
    prev: BlockView | None = None


class _Adder:
    """Appends findings of one block (``number``) to a report."""

    def __init__(self, report: ChainReport, number: int) -> None:
        self.report, self.number = report, number

    def __call__(
        self,
        check: Check,
        message: str,
        tx: int | None = None,
        tx_id: str | None = None,
        code: str | None = None,
    ) -> None:
        self.report.findings.append(Finding(self.number, tx, tx_id, check, message, code))


def _verify_block(
    position: int, raw: bytes, genesis_hash: bytes, report: ChainReport, walked: _Walked
) -> bool:
    """Check block ``position`` into ``report``; False when the walk cannot go on.

    Precondition: blocks ``0 .. position - 1`` were checked into ``report`` and ``walked``."""
    add = _Adder(report, position)
    try:
        block = unpack_block(raw)
    except MalformedProto as exc:
        add(Check.BLOCK_MALFORMED, exc.message)
        return False
    report.blocks += 1
    _check_header(block, position, genesis_hash, walked.prev, add)
    for message in metadata_shape_problems(block):
        add(Check.METADATA, message)
    walked.prev = block
    report.last_hash = block_header_hash(block.number, block.previous_hash, block.data_hash)
    if walked.walk is None:
        walked.walk = _genesis(block, raw, report, add)
        return walked.walk is not None
    txs = [ParsedTransaction(data) for data in block.data]
    _check_ordering(block, txs, walked.walk, add)
    _check_transactions(block, txs, walked.walk, report, add)
    return True


def _check_header(
    block: BlockView, position: int, genesis_hash: bytes, prev: BlockView | None, add: _Adder
) -> None:
    """Number, hash chain (the anchor for block 0) and data hash of one block's header.

    Precondition: ``prev`` is the block before (None for the first one)."""
    n = block.number
    if n != position:
        add(Check.BLOCK_NUMBER, f"block.header.number: expected {position}, got {n}")
    this_hash = block_header_hash(n, block.previous_hash, block.data_hash)
    if prev is None:
        if this_hash != genesis_hash:
            add(
                Check.GENESIS_HASH,
                f"block 0 header hash: expected {genesis_hash.hex()}, got {this_hash.hex()}",
            )
    else:
        want = block_header_hash(prev.number, prev.previous_hash, prev.data_hash)
        if block.previous_hash != want:
            add(
                Check.PREVIOUS_HASH,
                f"block.header.previous_hash: expected {want.hex()}, got {block.previous_hash.hex()}",
            )
    data_hash = block_data_hash(block.data)
    if block.data_hash != data_hash:
        add(
            Check.DATA_HASH,
            f"block.header.data_hash: expected {data_hash.hex()}, got {block.data_hash.hex()}",
        )


def _genesis(block: BlockView, raw: bytes, report: ChainReport, add: _Adder) -> _Walk | None:
    """The walk's start from the genesis block's config; None (reported) if it has none."""
    try:
        config = channel_config_from_block(raw)
    except VerifierError as exc:
        add(Check.CONFIG, f"genesis config: {exc.message}")
        return None
    walk = _Walk(config=config)
    tx_id = ParsedTransaction.parse(block.data[0]).tx_id
    walk.tx_ids.add(tx_id)
    report.codes[block.number] = [0]
    report.tx_ids[block.number] = [tx_id]
    recorded = block.metadata_slot(METADATA_TRANSACTIONS_FILTER)
    if recorded not in (b"", b"\x00"):
        add(
            Check.TRANSACTIONS_FILTER,
            f"block 0 TRANSACTIONS_FILTER: expected [0], got {list(recorded)}",
        )
    return walk


def _check_ordering(
    block: BlockView, txs: list[ParsedTransaction], walk: _Walk, add: _Adder
) -> None:
    """What the ordering service vouches for: well-formed envelopes, its signatures under the
    BlockValidation policy, and the last config index. Precondition: ``block`` is not block 0."""
    for idx, msg in _tx_well_formed(block, txs):
        add(Check.TX_WELL_FORMED, msg, None if idx < 0 else idx)
    for check, msg in orderer_signature_findings(block, walk.config):
        add(check, msg)
    # Fabric's orderer names a config block itself as the last config.
    expected = block.number if _is_config_block(txs) else walk.last_config_block
    lc = _last_config(block, expected)
    if lc is not None:
        add(Check.LAST_CONFIG, lc)


def _check_transactions(
    block: BlockView,
    txs: list[ParsedTransaction],
    walk: _Walk,
    report: ChainReport,
    add: _Adder,
) -> None:
    """Recompute every transaction's code, compare with the recorded ones and the commit hash,
    then carry the state and config forward. Precondition: ``walk`` holds the state and config
    committed by the blocks before ``block``."""
    n = block.number
    ctx = BlockContext(walk.config, walk.state, walk.tx_ids.__contains__)
    verdicts, updates = validate_block_transactions(ctx, n, txs)
    report.codes[n] = [v.code for v in verdicts]
    report.tx_ids[n] = [v.tx_id for v in verdicts]
    recorded = _recorded_filter(block, len(verdicts), report, add)
    for v in verdicts:
        _compare_verdict(v, recorded, add)
    problem = _commit_hash_problem(block, walk, recorded, updates)
    if problem:
        add(Check.COMMIT_HASH, problem)
    walk.state.apply(updates)
    walk.tx_ids.update(v.tx_id for v in verdicts if v.tx_id)
    _apply_configs(walk, block, verdicts, add)


def _recorded_filter(block: BlockView, count: int, report: ChainReport, add: _Adder) -> bytes:
    """The block's TRANSACTIONS_FILTER (one code per transaction; ``count`` of them), or an
    orderer's copy (no filter, no commit hash) noted in ``report``."""
    recorded = block.metadata_slot(METADATA_TRANSACTIONS_FILTER)
    if not recorded and not block.metadata_slot(METADATA_COMMIT_HASH):
        report.orderer_copy_blocks.append(block.number)  # nothing recorded to compare with
    elif len(recorded) != count:
        add(
            Check.TRANSACTIONS_FILTER,
            f"TRANSACTIONS_FILTER: expected {count} entries, got {len(recorded)}",
        )
    return recorded


def _apply_configs(walk: _Walk, block: BlockView, verdicts: list[TxVerdict], add: _Adder) -> None:
    """Install the config of each VALID CONFIG transaction, or name why it is refused."""
    for v in verdicts:
        if v.code != 0 or v.config_data is None or v.transaction is None:
            continue
        refused = _apply_config(walk, block.number, len(block.data), v.transaction)
        if refused is not None:
            check, code, message = refused
            add(check, message, v.index, v.tx_id, code=code)


def _compare_verdict(v: TxVerdict, recorded: bytes, add: _Adder) -> None:
    """Findings of one transaction: what was not checked, and a recorded code that differs
    from the recomputed one (with the failing check behind it)."""
    tid = v.tx_id or None
    for r in v.unsupported:
        add(r.check, r.message, v.index, tid)
    if v.index < len(recorded) and recorded[v.index] != v.code:
        add(
            Check.VALIDATION_CODE,
            f"TRANSACTIONS_FILTER[{v.index}]: recomputed {v.code}, recorded {recorded[v.index]}",
            v.index,
            tid,
        )
        for r in v.reasons:
            add(r.check, r.message, v.index, tid)


def _mixed_copy(report: ChainReport) -> tuple[int, str] | None:
    """A chain is a peer's copy or an orderer's, not both: the first block of the other kind."""
    orderer = report.orderer_copy_blocks
    if not orderer or report.orderers_copy:
        return None
    peer = sorted(set(range(1, report.blocks)) - set(orderer))
    if orderer[0] == 1:
        return peer[0], (
            f"block {peer[0]} carries a peer's TRANSACTIONS_FILTER or COMMIT_HASH in an "
            f"orderer's copy (block 1 carries neither)"
        )
    return orderer[0], (
        f"TRANSACTIONS_FILTER and COMMIT_HASH: expected a peer's, as from block 1, got none "
        f"(an orderer's copy of block {orderer[0]})"
    )


def _apply_config(
    walk: _Walk, number: int, transactions: int, tx: ParsedTransaction
) -> tuple[Check, str, str] | None:
    """Install the config a VALID CONFIG transaction of block ``number`` carries, if Fabric's
    configtx validator accepts it (:func:`mvote.verifier._configtx.next_config`) against the
    config in force; otherwise (check, code, message) and the config in force stays."""
    if transactions != 1:
        return (
            Check.CONFIG,
            BadConfigUpdate.code,
            f"config block: expected 1 transaction, got {transactions}",
        )
    try:
        walk.config = next_config(walk.config, tx.config_envelope)
    except ConfigUpdateError as exc:
        return exc.check, exc.code, exc.message
    except VerifierError as exc:
        return Check.CONFIG, exc.code, f"config update: {exc.message}"
    walk.last_config_block = number
    return None
