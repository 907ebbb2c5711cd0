"""Checks chains, blocks, signatures, endorsement policies and proofs; replays the contract.

What a voter or an auditor installs: base dependencies only.
May import: mvote.chaincode (and the base dependencies). Never mvote.client or mvote.node.

The names below are the verifier's public API: what auditors and integrators may import
(receipt verification, the audit, reading and verifying chains, the parsed transaction, the
check names, the errors and the report types). Every other module and name of the package is
internal to mvote (the embedded node validates blocks with it) and may change without notice.
"""

from mvote.verifier._audit import AuditReport, audit_chain
from mvote.verifier._block import block_data_hash, block_header_hash
from mvote.verifier._chain import ChainReport, Finding, verify_chain
from mvote.verifier._chainfile import read_block_folder, read_chain, write_chain
from mvote.verifier._checks import Check
from mvote.verifier._errors import (
    ERRORS,
    BadAnchor,
    BadConfig,
    BadConfigUpdate,
    BadIdentity,
    BadPolicy,
    BadSignatureEncoding,
    BlockNumbering,
    ConfigModPolicyFailure,
    ConfigReadSetMismatch,
    ConfigResultMismatch,
    ConfigUpdateError,
    ConfigVersionMismatch,
    DeliverFailed,
    HighS,
    MalformedProto,
    SignatureMismatch,
    UnknownMSP,
    UnsupportedRangeSummary,
    VerifierError,
)
from mvote.verifier._receipt import (
    OFFLINE_LIMITS,
    Receipt,
    ReceiptCheck,
    ReceiptReport,
    RecordedBallot,
    verify_receipt,
    with_context_blocks,
)
from mvote.verifier._replay import NotReplayed, ReplayReport, replay_chain
from mvote.verifier._spoiled import verify_spoiled
from mvote.verifier._transaction import ParsedTransaction

__all__ = [
    "ERRORS",
    "OFFLINE_LIMITS",
    "AuditReport",
    "BadAnchor",
    "BadConfig",
    "BadConfigUpdate",
    "BadIdentity",
    "BadPolicy",
    "BadSignatureEncoding",
    "BlockNumbering",
    "ChainReport",
    "Check",
    "ConfigModPolicyFailure",
    "ConfigReadSetMismatch",
    "ConfigResultMismatch",
    "ConfigUpdateError",
    "ConfigVersionMismatch",
    "DeliverFailed",
    "Finding",
    "HighS",
    "MalformedProto",
    "NotReplayed",
    "ParsedTransaction",
    "Receipt",
    "ReceiptCheck",
    "ReceiptReport",
    "RecordedBallot",
    "ReplayReport",
    "SignatureMismatch",
    "UnknownMSP",
    "UnsupportedRangeSummary",
    "VerifierError",
    "audit_chain",
    "block_data_hash",
    "block_header_hash",
    "read_block_folder",
    "read_chain",
    "replay_chain",
    "verify_chain",
    "verify_receipt",
    "verify_spoiled",
    "with_context_blocks",
    "write_chain",
]
