"""The names of the contract's functions: one enumeration shared by the contract and its callers.

``FunctionName`` is a ``StrEnum``, so a member is the exact string Fabric carries as the first
invocation argument (``FunctionName.CAST == "Cast"``). The contract's ``FUNCTIONS`` table is keyed
by it (a test checks both name the same set); clients name the function they call with it.
"""

from __future__ import annotations

import enum

__all__ = ["FunctionName"]


class FunctionName(enum.StrEnum):
    """One member per function of the voting contract (``mvote.chaincode._contract.FUNCTIONS``)."""

    CREATE_QUESTION = "CreateQuestion"
    OPEN_QUESTION = "OpenQuestion"
    CLOSE_QUESTION = "CloseQuestion"
    CANCEL_QUESTION = "CancelQuestion"
    CREATE_ROSTER = "CreateRoster"
    ADD_ROSTER_ENTRIES = "AddRosterEntries"
    SEAL_ROSTER = "SealRoster"
    CAST = "Cast"
    SPOIL_BALLOT = "SpoilBallot"
    CAST_BATCH = "CastBatch"
    AGGREGATE = "Aggregate"
    TALLY = "Tally"
    CREATE_CEREMONY = "CreateCeremony"
    POST_DEALING = "PostDealing"
    POST_CHECK = "PostCheck"
    COMPLETE_CEREMONY = "CompleteCeremony"
    CANCEL_CEREMONY = "CancelCeremony"
    POST_DECRYPTION = "PostDecryption"
    GET_CEREMONY = "GetCeremony"
    GET_QUESTION = "GetQuestion"
    LIST_QUESTIONS = "ListQuestions"
    GET_ROSTER = "GetRoster"
    IS_ON_ROSTER = "IsOnRoster"
    GET_BALLOT = "GetBallot"
    GET_HISTORY = "GetHistory"
    GET_AGGREGATE = "GetAggregate"
    GET_TALLY = "GetTally"
    GET_RESULTS = "GetResults"
