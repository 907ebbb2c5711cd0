"""invoke(): function names, argument counts, argument bytes, and the response form."""

from __future__ import annotations

import pytest
from chaincode_env import T_SETUP, Env
from testkit import state_bytes

from mvote.chaincode import encoding
from mvote.chaincode._contract import FUNCTIONS, MAX_SMALL_ARG_BYTES, invoke
from mvote.chaincode._errors import ERROR_TYPES, Refusal
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._simulation import MemoryKeySpace, TxContext, TxSimulator
from mvote.chaincode._stub import Timestamp


def test_the_contract_has_exactly_the_documented_functions() -> None:
    assert set(FUNCTIONS) == {
        "CreateQuestion",
        "OpenQuestion",
        "CloseQuestion",
        "CancelQuestion",
        "CreateRoster",
        "AddRosterEntries",
        "SealRoster",
        "Cast",
        "CastBatch",
        "Aggregate",
        "Tally",
        "GetQuestion",
        "ListQuestions",
        "GetRoster",
        "IsOnRoster",
        "GetBallot",
        "GetHistory",
        "GetAggregate",
        "GetTally",
        "GetResults",
        "CreateCeremony",
        "PostDealing",
        "PostCheck",
        "CompleteCeremony",
        "CancelCeremony",
        "SpoilBallot",
        "PostDecryption",
        "GetCeremony",
    }
    readers = {name for name, f in FUNCTIONS.items() if not f.writes}
    assert readers == {name for name in FUNCTIONS if name.startswith(("Get", "List", "Is"))}


def test_the_function_table_and_the_enumeration_name_the_same_set() -> None:
    assert set(FUNCTIONS) == set(FunctionName)
    for name, function in FUNCTIONS.items():
        assert type(name) is FunctionName
        assert function.name is name


def test_unknown_function(env: Env) -> None:
    env.refused("Vote", "q1", code="UNKNOWN_FUNCTION", field="function")
    env.refused("getquestion", "q1", code="UNKNOWN_FUNCTION", field="function")
    env.refused("", code="UNKNOWN_FUNCTION", field="function")


def test_function_name_not_utf8(env: Env) -> None:
    before = state_bytes(env.ledger)
    simulator = TxSimulator(
        env.ledger.state,
        TxContext("ab", env.channel, Timestamp(T_SETUP, 0), env.admin, [b"Get\xffQuestion", b"q1"]),
    )
    response = invoke(simulator)
    assert response.status == 400
    assert Refusal.from_fabric_message(response.message).code == "MALFORMED"
    assert "function" in response.message
    assert state_bytes(env.ledger) == before


def test_no_arguments_at_all() -> None:
    simulator = TxSimulator(MemoryKeySpace(), TxContext("ab", "mvote", Timestamp(1, 0), b"", []))
    response = invoke(simulator)
    assert response.status == 400
    assert response.message.startswith("BAD_ARGUMENTS: function")
    assert simulator.simulation.writes == {}


def _arg_count_cases() -> list[tuple[str, int]]:
    cases = []
    for name, function in FUNCTIONS.items():
        most = function.repeat or len(function.params)
        least = 1 if function.repeat else most - function.optional
        if least > 0:
            cases.append((name, least - 1))
        cases.append((name, most + 1))
    return cases


@pytest.mark.parametrize(("function", "count"), _arg_count_cases())
def test_wrong_argument_counts(env: Env, function: str, count: int) -> None:
    error = env.refused(function, *(["q1"] * count), code="BAD_ARGUMENTS", field=function)
    assert f"got {count}" in error.message


# A variadic function's arguments are ballots refused one by one (test_contract_batch.py).
@pytest.mark.parametrize("function", [n for n, f in FUNCTIONS.items() if f.params and not f.repeat])
def test_non_utf8_first_argument(env: Env, function: str) -> None:
    params = FUNCTIONS[function].params
    args = [b"q\xc3(", *([b"0"] * (len(params) - 1 - FUNCTIONS[function].optional))]
    env.refused(function, *args, code="MALFORMED", field=params[0])


@pytest.mark.parametrize(
    "function", [n for n, f in FUNCTIONS.items() if f.params and f.params[0] in ("qid", "rid")]
)
def test_oversize_text_argument(env: Env, function: str) -> None:
    params = FUNCTIONS[function].params
    rest = ["0"] * (len(params) - 1 - FUNCTIONS[function].optional)
    if function in ("IsOnRoster",):
        rest = ["00" * 32]
    env.refused(function, "q" * (MAX_SMALL_ARG_BYTES + 1), *rest, code="TOO_LARGE", field=params[0])


def test_text_arguments_have_one_spelling(env: Env) -> None:
    env.refused("GetQuestion", " q1", code="INVALID_FIELD", field="qid")
    env.refused("GetQuestion", "q1\n", code="INVALID_FIELD", field="qid")
    env.refused("GetQuestion", "", code="INVALID_FIELD", field="qid")
    env.refused(
        "GetQuestion", "\u212b", code="NON_CANONICAL", field="qid"
    )  # Angstrom sign, not NFC


def test_every_successful_response_is_canonical_json(env: Env) -> None:
    env.roster()
    spec = env.question()
    for function, args in [
        ("GetQuestion", ["q1"]),
        ("ListQuestions", []),
        ("GetRoster", ["r1"]),
        ("GetResults", ["q1"]),
    ]:
        executed = env.ledger.query(env.client, function, *args, timestamp=T_SETUP)
        assert executed.ok
        payload = executed.response.payload
        assert encoding.encode(encoding.decode(payload, max_size=1 << 20)) == payload
    assert env.query("GetQuestion", "q1")["qid"] == spec["qid"]


def test_refusals_round_trip_to_typed_errors(env: Env) -> None:
    error = env.refused("GetQuestion", "nope", code="NOT_FOUND", field="qid")
    assert type(error) is ERROR_TYPES["NOT_FOUND"]
    assert str(error).startswith("NOT_FOUND: qid:")
