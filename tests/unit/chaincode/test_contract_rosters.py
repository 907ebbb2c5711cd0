"""CreateRoster, AddRosterEntries, SealRoster, GetRoster, IsOnRoster."""

from __future__ import annotations

import hashlib

from chaincode_env import ORG1, Env, entry_of

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._records import EMPTY_ROSTER_DIGEST, MAX_ROSTER_BATCH, roster_digest_after


def _hashes(n: int, salt: str = "") -> list[str]:
    return sorted(hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(n))


def _batch(rid: str, entries: list[str]) -> bytes:
    return encoding.encode({"rid": rid, "entries": entries})


def test_create_roster_starts_empty_and_open(env: Env) -> None:
    executed = env.run("CreateRoster", encoding.encode({"rid": "r1", "title": "Class 3-2"}))
    assert executed.ok
    roster = executed.payload()
    assert roster == {
        "rid": "r1",
        "title": "Class 3-2",
        "owner": ORG1,
        "count": 0,
        "digest": EMPTY_ROSTER_DIGEST,
        "sealed": False,
    }
    assert set(executed.simulation.writes) == {keys.roster_key("r1")}
    assert env.query("GetRoster", "r1") == roster


def test_create_roster_refusals(env: Env) -> None:
    spec = encoding.encode({"rid": "r1", "title": "t"})
    env.refused("CreateRoster", spec, code="UNAUTHORISED", field="CreateRoster", creator=env.client)
    env.ok("CreateRoster", spec)
    env.refused("CreateRoster", spec, code="ALREADY_EXISTS", field="rid")
    env.refused("CreateRoster", spec, code="ALREADY_EXISTS", field="rid", creator=env.other_admin)
    env.refused("CreateRoster", encoding.encode({"rid": "r2"}), code="INVALID_FIELD", field="title")
    env.refused(
        "CreateRoster",
        encoding.encode({"rid": "R2", "title": "t"}),
        code="INVALID_FIELD",
        field="rid",
    )
    env.refused(
        "CreateRoster",
        encoding.encode({"rid": "r2", "title": "t", "owner": "x"}),
        code="INVALID_FIELD",
        field="owner",
    )
    env.refused(
        "CreateRoster",
        encoding.encode({"rid": "r2", "title": "t" * 1100}),
        code="TOO_LARGE",
        field="spec",
    )
    env.refused("CreateRoster", b'{"title":"t","rid":"r2"}', code="NON_CANONICAL", field="spec")
    env.refused(
        "CreateRoster", b'{"rid":"r2","rid":"r2","title":"t"}', code="NON_CANONICAL", field="spec"
    )


def test_add_entries_counts_and_chains_the_digest(env: Env) -> None:
    env.ok("CreateRoster", encoding.encode({"rid": "r1", "title": "t"}))
    first, second = _hashes(3, "a"), _hashes(2, "b")
    executed = env.run("AddRosterEntries", _batch("r1", first))
    assert executed.ok
    assert set(executed.simulation.writes) == {
        keys.roster_key("r1"),
        *(keys.roster_entry_key("r1", e) for e in first),
    }
    after_first = roster_digest_after(EMPTY_ROSTER_DIGEST, first)
    assert executed.payload()["count"] == 3
    assert executed.payload()["digest"] == after_first
    roster = env.ok("AddRosterEntries", _batch("r1", second))
    assert roster["count"] == 5
    assert roster["digest"] == roster_digest_after(after_first, second)
    # The chain is order-sensitive: the same entries in other batches give another digest.
    assert roster["digest"] != roster_digest_after(
        roster_digest_after(EMPTY_ROSTER_DIGEST, second), first
    )
    for entry in first + second:
        assert env.query("IsOnRoster", "r1", entry) == {"rid": "r1", "entry": entry, "listed": True}
    assert env.query("IsOnRoster", "r1", _hashes(1, "c")[0])["listed"] is False


def test_add_entries_refuses_duplicates_of_existing_entries(env: Env) -> None:
    env.ok("CreateRoster", encoding.encode({"rid": "r1", "title": "t"}))
    existing = _hashes(3, "a")
    env.ok("AddRosterEntries", _batch("r1", existing))
    batch = sorted([*_hashes(2, "z"), existing[1]])
    index = batch.index(existing[1])
    env.refused(
        "AddRosterEntries", _batch("r1", batch), code="ALREADY_EXISTS", field=f"entries[{index}]"
    )
    assert env.query("GetRoster", "r1")["count"] == 3


def test_add_entries_refuses_unsorted_and_duplicate_batches(env: Env) -> None:
    env.ok("CreateRoster", encoding.encode({"rid": "r1", "title": "t"}))
    hashes = _hashes(3)
    env.refused(
        "AddRosterEntries",
        _batch("r1", [hashes[1], hashes[0], hashes[2]]),
        code="INVALID_FIELD",
        field="entries[1]",
    )
    env.refused(
        "AddRosterEntries",
        _batch("r1", [hashes[0], hashes[1], hashes[1]]),
        code="INVALID_FIELD",
        field="entries[2]",
    )
    env.refused("AddRosterEntries", _batch("r1", []), code="INVALID_FIELD", field="entries")
    env.refused(
        "AddRosterEntries",
        _batch("r1", [hashes[0].upper()]),
        code="INVALID_FIELD",
        field="entries[0]",
    )
    env.refused(
        "AddRosterEntries", _batch("r1", [hashes[0][:-2]]), code="INVALID_FIELD", field="entries[0]"
    )
    env.refused(
        "AddRosterEntries",
        _batch("r1", _hashes(MAX_ROSTER_BATCH + 1)),
        code="INVALID_FIELD",
        field="entries",
    )


def test_add_entries_size_limit(env: Env) -> None:
    env.ok("CreateRoster", encoding.encode({"rid": "r1", "title": "t"}))
    too_big = _batch("r1", _hashes(1)).replace(
        b'"rid"', b'"pad":"' + b"x" * (512 << 10) + b'","rid"'
    )
    env.refused("AddRosterEntries", too_big, code="TOO_LARGE", field="batch")


def test_add_entries_authorisation_and_existence(env: Env) -> None:
    env.ok("CreateRoster", encoding.encode({"rid": "r1", "title": "t"}))
    batch = _batch("r1", _hashes(2))
    env.refused(
        "AddRosterEntries", batch, code="UNAUTHORISED", field="AddRosterEntries", creator=env.client
    )
    env.refused(
        "AddRosterEntries",
        batch,
        code="UNAUTHORISED",
        field="AddRosterEntries",
        creator=env.other_admin,
    )
    env.refused("AddRosterEntries", _batch("r9", _hashes(2)), code="NOT_FOUND", field="rid")


def test_sealed_roster_never_changes(env: Env) -> None:
    env.roster("r1", voters=[1, 2])
    roster = env.query("GetRoster", "r1")
    assert roster["sealed"] is True
    assert roster["count"] == 2
    env.refused(
        "AddRosterEntries",
        _batch("r1", [entry_of(env.voter_key(3))]),
        code="ROSTER_SEALED",
        field="rid",
    )
    env.refused("SealRoster", "r1", code="ROSTER_SEALED", field="rid")
    assert env.query("GetRoster", "r1") == roster


def test_seal_roster(env: Env) -> None:
    env.ok("CreateRoster", encoding.encode({"rid": "r1", "title": "t"}))
    env.refused("SealRoster", "r1", code="INVALID_FIELD", field="rid")  # nothing to seal
    env.ok("AddRosterEntries", _batch("r1", _hashes(2)))
    env.refused("SealRoster", "r1", code="UNAUTHORISED", field="SealRoster", creator=env.client)
    env.refused(
        "SealRoster", "r1", code="UNAUTHORISED", field="SealRoster", creator=env.other_admin
    )
    env.refused("SealRoster", "r9", code="NOT_FOUND", field="rid")
    env.refused("SealRoster", "R9", code="INVALID_FIELD", field="rid")
    before = env.query("GetRoster", "r1")
    executed = env.run("SealRoster", "r1")
    assert executed.ok
    assert executed.payload() == {**before, "sealed": True}
    assert set(executed.simulation.writes) == {keys.roster_key("r1")}


def test_roster_queries_refusals(env: Env) -> None:
    env.refused("GetRoster", "r9", code="NOT_FOUND", field="rid")
    env.refused("IsOnRoster", "r9", _hashes(1)[0], code="NOT_FOUND", field="rid")
    env.roster("r1", voters=[1])
    env.refused("IsOnRoster", "r1", "zz", code="INVALID_FIELD", field="entry")
    assert env.query("IsOnRoster", "r1", entry_of(env.voter_key(1)))["listed"] is True
    assert env.query("IsOnRoster", "r1", entry_of(env.voter_key(2)))["listed"] is False
