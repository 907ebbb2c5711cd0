"""schema.py shapes and the record shapes built from them: what each admits and how it names
the offending field."""

from __future__ import annotations

from typing import Any

import pytest

from mvote.chaincode._errors import InvalidField
from mvote.chaincode._records import (
    BALLOT_TYPE,
    RULE,
    Ballot,
    CastRequest,
    Eligibility,
    MultiChoice,
    OnsiteCode,
    Question,
    QuestionSpec,
    Roster,
    Schedule,
    SingleChoice,
    TurnoutCount,
    TurnoutShare,
    YesNo,
    ballot_from_json,
)
from mvote.chaincode._schema import (
    Array,
    Bool,
    Const,
    Flag,
    Hex,
    Int,
    Nullable,
    Object,
    OneOf,
    Tagged,
    Text,
)


def _refused(shape: Any, value: Any, field: str, path: str = "v") -> InvalidField:
    with pytest.raises(InvalidField) as info:
        shape.check(value, path)
    assert info.value.field == field
    assert info.value.message.startswith(f"{field}:")
    return info.value


def test_text() -> None:
    shape = Text(2, 4, pattern=r"[a-z]+")
    assert shape.check("abc", "v") == "abc"
    _refused(shape, "a", "v")
    _refused(shape, "abcde", "v")
    _refused(shape, "AB", "v")
    _refused(shape, 12, "v")
    _refused(Text(0, 10), "a\x00", "v")
    _refused(Text(0, 10), "a\u2028", "v")
    _refused(Text(0, 10), "a\x85", "v")
    _refused(Text(0, 10), "a\nb", "v")
    assert Text(0, 10, multiline=True).check("a\nb", "v") == "a\nb"
    _refused(Text(0, 10, multiline=True), "a\rb", "v")
    # Length counts code points, not bytes.
    assert Text(1, 1).check("\U0001f600", "v") == "\U0001f600"


def test_hex_has_one_spelling() -> None:
    shape = Hex(2)
    assert shape.check("0a1b", "v") == "0a1b"
    for bad in ("0A1B", "0a1", "0a1b2c", "0x1b", "", 7):
        _refused(shape, bad, "v")


def test_int_and_bool_are_distinct() -> None:
    shape = Int(0, 10)
    assert shape.check(10, "v") == 10
    _refused(shape, 11, "v")
    _refused(shape, -1, "v")
    _refused(shape, True, "v")
    _refused(shape, "1", "v")
    assert Bool().check(False, "v") is False
    _refused(Bool(), 0, "v")


def test_const_oneof_nullable() -> None:
    assert Const("x").check("x", "v") == "x"
    _refused(Const("x"), "y", "v")
    assert OneOf(("a", "b")).check("b", "v") == "b"
    _refused(OneOf(("a", "b")), "c", "v")
    _refused(OneOf(("a", "b")), None, "v")
    assert Nullable(Int(0, 1)).check(None, "v") is None
    _refused(Nullable(Int(0, 1)), 2, "v")


def test_array_ascending_unique_and_bounds() -> None:
    ascending = Array(Int(0, 9), min_len=1, max_len=3, ascending=True)
    assert ascending.check([1, 2, 5], "v") == [1, 2, 5]
    _refused(ascending, [], "v")
    _refused(ascending, [1, 2, 3, 4], "v")
    _refused(ascending, [2, 1], "v[1]")
    _refused(ascending, [1, 1], "v[1]")
    _refused(ascending, [1, 10], "v[1]")
    unique = Array(Text(1, 5), unique=True)
    assert unique.check(["b", "a"], "v") == ["b", "a"]
    _refused(unique, ["a", "b", "a"], "v[2]")
    _refused(unique, "ab", "v")


def test_object_exact_keys_and_paths() -> None:
    shape = Object({"a": Int(0, 1), "b": Object({"c": Bool()})}, optional=frozenset({"a"}))
    assert shape.check({"b": {"c": True}}, "$") == {"b": {"c": True}}
    _refused(shape, {"b": {"c": True}, "x": 1}, "x", "$")
    _refused(shape, {}, "b", "$")
    _refused(shape, {"b": {"c": 1}}, "b.c", "$")
    _refused(shape, {"b": {}}, "b.c", "$")
    _refused(shape, [], "v")
    with pytest.raises(InvalidField) as info:
        shape.check({"b": {"c": True}, "x": 1}, "outer")
    assert info.value.field == "outer.x"


def test_tagged_selects_by_kind() -> None:
    shape = Tagged({"p": Object({"kind": Const("p"), "n": Int(0, 1)})})
    assert shape.check({"kind": "p", "n": 1}, "$") == {"kind": "p", "n": 1}
    _refused(shape, {"kind": "q"}, "kind", "$")
    _refused(shape, {"n": 1}, "kind", "$")
    _refused(shape, {"kind": "p", "n": 2}, "n", "$")


# --- records ----------------------------------------------------------------------------------------


def _spec() -> QuestionSpec:
    return QuestionSpec(
        qid="q1",
        title="T",
        description="d\nd",
        options=("a", "b"),
        rule=YesNo(threshold_bp=5000, min_turnout=TurnoutShare(2500)),
        eligibility=Eligibility.of_roster("r1", OnsiteCode("00" * 16, "11" * 32)),
        schedule=Schedule(1, 2),
        shards=3,
    )


def test_records_round_trip_through_their_shapes() -> None:
    spec = _spec()
    assert QuestionSpec.from_json(spec.to_json()) == spec
    question = Question(spec, "Org1MSP", "DRAFT", None, ())
    with pytest.raises(InvalidField) as info:
        Question.from_json(question.to_json())  # a question has at least one transition
    assert info.value.field == "question.transitions"
    for rule in (
        SingleChoice(),
        MultiChoice(min=0, max=2),
        YesNo(0, TurnoutCount(3)),
    ):
        assert RULE.from_json(rule.to_json()) == rule
    roster = Roster("r1", "t", "Org1MSP", 0, "00" * 32, False)
    assert Roster.from_json(roster.to_json()) == roster
    eligibility = Eligibility.of_registrars(("aa" * 32,))
    assert Eligibility.from_json(eligibility.to_json()) == eligibility
    assert eligibility.to_json() == {"kind": "open", "registrars": ["aa" * 32]}
    assert spec.eligibility.to_json()["kind"] == "onsite"


def test_ballot_json_and_tracker() -> None:
    ballot = Ballot("mvote", "q1", (0, 2), "ab" * 32)
    assert ballot.to_json() == {
        "type": BALLOT_TYPE,
        "channel": "mvote",
        "qid": "q1",
        "choices": [0, 2],
        "voter": "ab" * 32,
    }
    assert ballot_from_json(ballot.to_json()) == ballot
    request = CastRequest(ballot, "cd" * 64)
    assert CastRequest.from_json(request.to_json()) == request
    with pytest.raises(InvalidField) as info:
        CastRequest.from_json(
            {**request.to_json(), "ballot": {**ballot.to_json(), "choices": [1000]}}
        )
    assert info.value.field == "ballot.choices[0]"
    with pytest.raises(InvalidField) as info:
        CastRequest.from_json(
            {**request.to_json(), "ballot": {**ballot.to_json(), "channel": "Mvote"}}
        )
    assert info.value.field == "ballot.channel"


def test_a_record_declared_once_gives_its_shape_and_codec() -> None:
    import dataclasses

    from mvote.chaincode._errors import InvalidField
    from mvote.chaincode._records import Aggregate, Participation
    from mvote.chaincode._schema import Record, declared, record

    aggregate = Aggregate("q1", 0, "", 3, (2, 1), True)
    value = aggregate.to_json()
    assert value == {
        "qid": "q1",
        "shard": 0,
        "cursor": "",
        "ballots": 3,
        "counts": [2, 1],
        "done": True,
    }
    assert Aggregate.from_json(value) == aggregate
    assert list(Aggregate.SHAPE.fields) == [f.name for f in dataclasses.fields(Aggregate)]
    with pytest.raises(InvalidField) as info:
        Participation.from_json({"qid": "q1", "tracker": "00" * 32, "tx": "ab"})
    assert info.value.field == "participation.at"

    with pytest.raises(TypeError, match="undeclared"):

        @record("x")
        @dataclasses.dataclass(frozen=True)
        class Bad(Record):
            undeclared: int
            fine: int = declared(Int(0, 1))


def test_a_field_absent_when_none_keeps_the_bytes_of_records_without_it() -> None:
    from mvote.chaincode import encoding
    from mvote.chaincode._records import TALLY_SHAPE, Plurality, TallyRecord

    outcome = {"kind": "plurality", "winners": [0]}
    open_tally = TallyRecord("q1", 3, (2, 1), None, Plurality((0,)), "ab", 7)
    value = open_tally.to_json()
    assert "decryption" not in value
    assert encoding.encode(value) == encoding.encode(
        {
            "qid": "q1",
            "ballots": 3,
            "counts": [2, 1],
            "eligible": None,
            "outcome": outcome,
            "tx": "ab",
            "at": 7,
        }
    )
    assert TallyRecord.from_json(value) == open_tally
    assert TALLY_SHAPE.optional == frozenset({"decryption"})
    with pytest.raises(InvalidField) as info:
        TallyRecord.from_json({**value, "decryption": None})
    assert info.value.field == "tally.decryption"


def test_a_flag_is_exactly_its_boolean() -> None:
    """A boolean tag (GetResults' ``final``) admits only itself: not the other boolean, and not
    the number equal to it."""
    assert Flag(True).check(True, "v") is True and Flag(False).check(False, "v") is False
    _refused(Flag(True), False, "v")
    _refused(Flag(True), 1, "v")
    _refused(Flag(False), 0, "v")
    _refused(Flag(False), None, "v")


def test_the_results_records_are_chosen_by_final_and_keep_the_contract_bytes() -> None:
    from mvote.chaincode import encoding
    from mvote.chaincode._records import FinalResults, LiveResults, results_from_json

    live = results_from_json(
        {"qid": "q", "state": "OPEN", "final": False, "ballots": 1, "counts": [1, 0]}
    )
    assert live == LiveResults("q", "OPEN", 1, (1, 0))
    assert encoding.encode(live.to_json()) == (
        b'{"ballots":1,"counts":[1,0],"final":false,"qid":"q","state":"OPEN"}'
    )
    secret = LiveResults("q", "CLOSED", 3, None)
    assert results_from_json(secret.to_json()) == secret
    assert secret.to_json()["counts"] is None
    # A live answer tagged final is read as FinalResults: its live fields are refused.
    with pytest.raises(InvalidField) as info:
        results_from_json({**live.to_json(), "final": True})
    assert info.value.field == "results.ballots"
    assert FinalResults.SHAPE.fields["final"] == Flag(True)


def test_the_python_spec_in_docs_records_gives_the_documented_bytes() -> None:
    """docs/records.md shows a spec's canonical bytes and the Python that builds it: both agree."""
    import re
    from pathlib import Path

    from mvote.chaincode import encoding

    text = (Path(__file__).parents[3] / "docs" / "records.md").read_text(encoding="utf-8")
    documented = re.search(r'```json\n(\{"description":"Decided by the parents[^\n]*)\n', text)
    code = re.search(r"```python\n(from mvote\.chaincode import \(.*?)```", text, re.S)
    assert documented is not None and code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    assert encoding.encode(namespace["spec"].to_json()) == documented.group(1).encode()
    assert (
        QuestionSpec.from_json(encoding.decode(documented.group(1).encode(), max_size=1 << 12))
        == namespace["spec"]
    )


# --- tagged unions, spread fields, key order -----------------------------------------------------


def _union_kinds() -> tuple[type[Any], type[Any]]:
    import dataclasses

    from mvote.chaincode._schema import Record, declared, record

    @record("thing", tags={"kind": "a"})
    @dataclasses.dataclass(frozen=True)
    class A(Record):
        n: int = declared(Int(0, 9))

    @record("thing", tags={"kind": "b"})
    @dataclasses.dataclass(frozen=True)
    class B(Record):
        flag: bool = declared(Bool())

    return A, B


def test_a_tagged_union_comes_from_its_variants_declarations() -> None:
    from mvote.chaincode._schema import TaggedUnion

    a, b = _union_kinds()
    union: TaggedUnion[Any] = TaggedUnion("thing", a, b)
    assert union.from_json({"kind": "a", "n": 3}) == a(3)
    assert union.from_json({"kind": "b", "flag": True}) == b(True)
    assert b(False).to_json() == {"kind": "b", "flag": False}
    for value, field in [
        ({"kind": "c"}, "thing.kind"),
        ({"n": 3}, "thing.kind"),
        ({"kind": "a", "n": 10}, "thing.n"),
        ({"kind": "a", "flag": True}, "thing.flag"),  # a field of the other variant
        ([], "thing"),
    ]:
        with pytest.raises(InvalidField) as info:
            union.from_json(value)
        assert info.value.field == field, value
    # Another tag field, named in the refusal.
    with pytest.raises(TypeError, match="distinct 'type' tag"):
        TaggedUnion("thing", a, b, tag="type")
    with pytest.raises(TypeError, match="distinct 'kind' tag"):
        TaggedUnion("thing", a, a)


def test_a_spread_field_keeps_its_keys_in_the_parent_and_order_names_the_check_order() -> None:
    import dataclasses

    from mvote.chaincode._schema import (
        Codec,
        Record,
        declared,
        decode_fields,
        record,
        spread,
    )

    pair = Object({"low": Int(0, 9), "high": Int(0, 9)})
    codec = Codec(lambda p: {"low": p[0], "high": p[1]}, lambda v, path: (v["low"], v["high"]))

    @record("range", order=("name", "low", "high", "step"))
    @dataclasses.dataclass(frozen=True)
    class Range(Record):
        name: str = declared(Text(1, 5))
        step: int = declared(Int(1, 3))
        bounds: tuple[int, int] = spread(pair, codec)

    value = {"name": "r", "low": 1, "high": 5, "step": 2}
    assert Range.from_json(value) == Range("r", 2, (1, 5))
    assert Range("r", 2, (1, 5)).to_json() == value
    assert list(Range.SHAPE.fields) == ["name", "low", "high", "step"]
    assert decode_fields(Range, value, "range", but=frozenset({"bounds"})) == {
        "name": "r",
        "step": 2,
    }
    # Two bad keys: the first in the declared order is named (high before step).
    with pytest.raises(InvalidField) as info:
        Range.from_json({**value, "high": 10, "step": 9})
    assert info.value.field == "range.high"
    with pytest.raises(TypeError, match="order"):

        @record("bad", order=("name",))
        @dataclasses.dataclass(frozen=True)
        class Missing(Record):
            name: str = declared(Text(1, 5))
            other: int = declared(Int(0, 1))

    with pytest.raises(TypeError, match="spread field's shape is an Object"):

        @record("bad")
        @dataclasses.dataclass(frozen=True)
        class NotObject(Record):
            both: int = spread(Int(0, 1), codec)  # type: ignore[arg-type]
