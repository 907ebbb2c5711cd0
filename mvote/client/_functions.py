"""Stand-in for ``mvote.chaincode.functions.FunctionName`` until the chaincode branch lands.

The same names and values as the contract's function table; replaced by an import of the
chaincode's enumeration when that is merged (issue 11, seam b).
"""

from __future__ import annotations

import enum


class FunctionName(enum.StrEnum):
    CREATE_QUESTION = "CreateQuestion"
    OPEN_QUESTION = "OpenQuestion"
    CLOSE_QUESTION = "CloseQuestion"
    CANCEL_QUESTION = "CancelQuestion"
    CREATE_ROSTER = "CreateRoster"
    ADD_ROSTER_ENTRIES = "AddRosterEntries"
    SEAL_ROSTER = "SealRoster"
    CAST = "Cast"
    AGGREGATE = "Aggregate"
    TALLY = "Tally"
    CREATE_CEREMONY = "CreateCeremony"
    POST_DEALING = "PostDealing"
    POST_CHECK = "PostCheck"
    COMPLETE_CEREMONY = "CompleteCeremony"
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
