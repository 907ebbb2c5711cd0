"""The protocol: canonical records, ballot rules, eligibility and the voting contract.

Pure and deterministic: no clock but the transaction's, no randomness, no I/O but the stub.
The same code runs in the embedded node, on real Fabric peers and in the auditor's replay.
May import: the standard library, cryptography, pynacl, rfc8785, fabric_protos. Nothing of mvote.

``__all__`` names what integrators and auditors may import from here: the records, the errors
and their table, the structured refusal, the canonical encoding and the contract's function
names. The modules stay importable (``mvote.chaincode._records``, ...) for the other parts of
mvote; names outside ``__all__`` may change without notice.
"""

from . import encoding
from ._errors import (
    ERRORS,
    AlreadyExists,
    AlreadyVoted,
    BadCredential,
    BadOnsiteCode,
    BadSignature,
    ErrorTable,
    InvalidField,
    InvalidTransition,
    Malformed,
    MvoteError,
    NonCanonical,
    NotEligible,
    NotFound,
    QuestionNotOpen,
    Refusal,
    RuleViolation,
    TooLarge,
    Unauthorised,
    error_types,
)
from ._functions import FunctionName
from ._records import (
    Aggregate,
    Ballot,
    BallotRecord,
    CastRequest,
    Credential,
    Eligibility,
    Question,
    QuestionSpec,
    Roster,
    Rule,
    SecretAggregate,
    SecretBallot,
    SignedCredential,
    TallyRecord,
    tracker_of,
)

__all__ = [
    "ERRORS",
    "Aggregate",
    "AlreadyExists",
    "AlreadyVoted",
    "BadCredential",
    "BadOnsiteCode",
    "BadSignature",
    "Ballot",
    "BallotRecord",
    "CastRequest",
    "Credential",
    "Eligibility",
    "ErrorTable",
    "FunctionName",
    "InvalidField",
    "InvalidTransition",
    "Malformed",
    "MvoteError",
    "NonCanonical",
    "NotEligible",
    "NotFound",
    "Question",
    "QuestionNotOpen",
    "QuestionSpec",
    "Refusal",
    "Roster",
    "Rule",
    "RuleViolation",
    "SecretAggregate",
    "SecretBallot",
    "SignedCredential",
    "TallyRecord",
    "TooLarge",
    "Unauthorised",
    "encoding",
    "error_types",
    "tracker_of",
]
