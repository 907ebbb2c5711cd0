"""The voting service: mvote's own API for integrators, voters, trustees and auditors, in front
of the embedded node or of a real Fabric network (through the Gateway, as one institution's
client identity).

May import: mvote.client, mvote.verifier, mvote.chaincode. Never mvote.node or mvote.cli: the
service runs without the node's ledger (``mvote serve --profile P``).

:class:`VotingService` is the core (typed operations); :mod:`mvote.service._grpc` serves it as
the ``mvote.v1`` gRPC API. The public names are in ``__all__``; modules starting with an
underscore are private.
"""

from mvote.service._core import BallotSink, ContractSink, VotingService, parse_cast_request
from mvote.service._errors import (
    IntakeClosed,
    IntegratorUnknown,
    NoPostingIdentity,
    ProfileInvalid,
    RateLimited,
    StreamLimit,
)
from mvote.service._intake import Intake, IntakeSettings
from mvote.service._limits import CallLimiter, Limits, Rate, RateLimiter, StreamLimiter
from mvote.service._values import (
    Caller,
    ChainInfo,
    PendingCast,
    PostingKind,
    QuestionFilter,
    QuestionPage,
    Results,
)

__all__ = [
    "BallotSink",
    "CallLimiter",
    "Caller",
    "ChainInfo",
    "ContractSink",
    "Intake",
    "IntakeClosed",
    "IntakeSettings",
    "IntegratorUnknown",
    "Limits",
    "NoPostingIdentity",
    "PendingCast",
    "PostingKind",
    "ProfileInvalid",
    "QuestionFilter",
    "QuestionPage",
    "Rate",
    "RateLimited",
    "RateLimiter",
    "Results",
    "StreamLimit",
    "StreamLimiter",
    "VotingService",
    "parse_cast_request",
]
