"""Refusal: the structured payload of a refused contract response, and its two text forms."""

from __future__ import annotations

import pytest
from chaincode_env import Env

from mvote.chaincode._contract import invoke
from mvote.chaincode._errors import (
    ERROR_TYPES,
    AlreadyVoted,
    InvalidField,
    MvoteError,
    NotFound,
    Refusal,
    TooLarge,
)
from mvote.chaincode._simulation import MemoryKeySpace, TxContext, TxSimulator
from mvote.chaincode._stub import Timestamp


def test_the_payload_is_canonical_json_and_round_trips() -> None:
    refusal = Refusal("NOT_FOUND", "qid", "qid: no question 'q9'")
    data = refusal.to_bytes()
    assert data == b'{"code":"NOT_FOUND","field":"qid","message":"qid: no question \'q9\'"}'
    assert Refusal.from_bytes(data) == refusal
    assert Refusal("NOT_FOUND", None, "m").to_bytes() == (
        b'{"code":"NOT_FOUND","field":null,"message":"m"}'
    )


def test_the_text_form_is_str_of_the_error() -> None:
    error = AlreadyVoted("voter: already voted on q1", field="voter")
    refusal = Refusal.of(error)
    assert refusal.to_text() == str(error)
    assert Refusal.from_fabric_message(str(error)) == Refusal(error.code, None, error.message)


def test_error_gives_the_registered_class() -> None:
    error = Refusal("NOT_FOUND", "qid", "qid: no question").error()
    assert type(error) is NotFound
    assert (error.field, error.message) == ("qid", "qid: no question")


def test_an_unknown_code_keeps_its_text() -> None:
    error = Refusal("IDENTITY_EXPIRED", "creator", "creator: expired").error()
    assert type(error) is MvoteError
    assert error.message == "IDENTITY_EXPIRED: creator: expired"
    assert error.field == "creator"


def test_error_takes_the_tables_it_is_given() -> None:
    class Local(MvoteError):
        code = "LOCAL_ONLY"
        summary = "a code of a table the chaincode does not know"

    assert type(Refusal("LOCAL_ONLY", None, "m").error((Local,))) is Local
    assert type(Refusal("NOT_FOUND", None, "m").error((Local,))) is MvoteError
    assert "LOCAL_ONLY" not in ERROR_TYPES


def test_a_code_must_be_spelled_as_a_code() -> None:
    with pytest.raises(TypeError):
        Refusal("not a code", None, "m")


def test_an_oversized_payload_is_refused() -> None:
    with pytest.raises(TooLarge):
        Refusal.from_bytes(Refusal("NOT_FOUND", None, "x" * (64 << 10)).to_bytes())


def test_a_payload_of_another_shape_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidField) as info:
        Refusal.from_bytes(b'{"code":"NOT_FOUND","field":null,"message":7}')
    assert info.value.field == "refusal.message"


def test_a_refused_invocation_carries_the_refusal_as_its_payload(env: Env) -> None:
    executed = env.run("GetQuestion", "q-none")
    response = executed.response
    assert response.status == 400
    refusal = Refusal.from_bytes(response.payload)
    assert refusal.code == "NOT_FOUND"
    assert refusal.to_text() == response.message
    assert refusal.field is not None


def test_the_payload_names_the_field_of_the_error(env: Env) -> None:
    simulator = TxSimulator(
        MemoryKeySpace(),
        TxContext("ab", env.channel, Timestamp(0, 0), env.admin, [b"NoSuchFunction"]),
    )
    response = invoke(simulator)
    assert Refusal.from_bytes(response.payload) == Refusal(
        "UNKNOWN_FUNCTION", "function", "function: no function 'NoSuchFunction'"
    )
