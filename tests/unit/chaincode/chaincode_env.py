"""Helpers for the chaincode's unit tests: an ``Env`` that drives the real contract on a
``SerialLedger`` with real identities and keys, builds question specs, rosters and signed ballots,
and checks refusals the same strict way everywhere (exact code, field named, nothing written)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import nacl.signing
from testkit import state_bytes

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._crypto.group import point_from_hex
from mvote.chaincode._eligibility import onsite_code_hash
from mvote.chaincode._errors import MvoteError, Refusal
from mvote.chaincode._records import (
    BoundBallot,
    CastRequest,
    Question,
    SignedCredential,
    question_hash,
)
from mvote.chaincode._simulation import Executed, SerialLedger
from mvote.client._registrar import issue_credential

ORG1 = "Org1MSP"
ORG2 = "Org2MSP"

#: The timeline every test uses unless it says otherwise.
T_SETUP = 10
OPENS = 100
T_VOTE = 500
CLOSES = 1000
CODE_SALT = bytes(range(16))
ONSITE_CODE = "SITE-4242"


def voter_hex(key: nacl.signing.SigningKey) -> str:
    return bytes(key.verify_key).hex()


def entry_of(key: nacl.signing.SigningKey) -> str:
    """The roster entry (voter hash, hex) of a voter key."""
    return keys.voter_hash(bytes(key.verify_key)).hex()


class Env:
    """The contract on a fresh ledger, with the identities of two organisations."""

    def __init__(
        self,
        ledger: SerialLedger,
        identity: Callable[[str, str], bytes],
        voter_key: Callable[[int], nacl.signing.SigningKey],
    ) -> None:
        self.ledger = ledger
        self.channel = ledger.channel_id
        self.admin = identity(ORG1, "admin")
        self.other_admin = identity(ORG2, "admin")
        self.client = identity(ORG1, "client")
        self.peer = identity(ORG1, "peer")
        self.voter_key = voter_key
        self.registrar = nacl.signing.SigningKey(b"R" * 32)
        self.other_registrar = nacl.signing.SigningKey(b"S" * 32)

    # -- running transactions -------------------------------------------------------------------

    def run(
        self, function: str, *args: bytes | str, creator: bytes | None = None, at: int = T_SETUP
    ) -> Executed:
        return self.ledger.run(creator or self.admin, function, *args, timestamp=at)

    def ok(
        self, function: str, *args: bytes | str, creator: bytes | None = None, at: int = T_SETUP
    ) -> Any:
        executed = self.run(function, *args, creator=creator, at=at)
        assert executed.ok, executed.response.message
        return executed.payload()

    def query(
        self, function: str, *args: bytes | str, creator: bytes | None = None, at: int = T_SETUP
    ) -> Any:
        executed = self.ledger.query(creator or self.client, function, *args, timestamp=at)
        assert executed.ok, executed.response.message
        assert executed.simulation.writes == {}, "a query function wrote state"
        return executed.payload()

    def refused(
        self,
        function: str,
        *args: bytes | str,
        code: str,
        field: str,
        creator: bytes | None = None,
        at: int = T_SETUP,
    ) -> MvoteError:
        """Run a transaction that must be refused with ``code``, naming ``field``, changing nothing."""
        before, height = state_bytes(self.ledger), self.ledger.height
        executed = self.run(function, *args, creator=creator, at=at)
        response = executed.response
        assert response.status == 400, f"expected a refusal {code}, got {response}"
        assert response.message.startswith(f"{code}: "), response.message
        refusal = Refusal.from_bytes(response.payload)
        assert refusal.to_text() == response.message
        error = refusal.error()
        assert error.code == code
        assert error.field == refusal.field
        assert field in error.message, f"{field!r} not named in {response.message!r}"
        assert executed.simulation.writes == {}, "a refused transaction carries writes"
        assert executed.simulation.event is None
        assert state_bytes(self.ledger) == before
        assert self.ledger.height == height
        return error

    # -- builders -------------------------------------------------------------------------------

    def spec(
        self,
        qid: str = "q1",
        *,
        options: Sequence[str] = ("alpha", "beta", "gamma"),
        rule: dict[str, Any] | None = None,
        eligibility: dict[str, Any] | None = None,
        opens_at: int = OPENS,
        closes_at: int = CLOSES,
        mode: str = "open",
        shards: int = 1,
    ) -> dict[str, Any]:
        return {
            "qid": qid,
            "title": f"Question {qid}",
            "description": "",
            "options": list(options),
            "rule": rule or {"kind": "single"},
            "eligibility": eligibility or {"kind": "roster", "roster": "r1"},
            "schedule": {"opens_at": opens_at, "closes_at": closes_at},
            "mode": mode,
            "shards": shards,
        }

    def open_eligibility(self, *registrars: nacl.signing.SigningKey) -> dict[str, Any]:
        keys_hex = sorted(voter_hex(r) for r in (registrars or (self.registrar,)))
        return {"kind": "open", "registrars": keys_hex}

    def onsite_eligibility(
        self, base: dict[str, Any], qid: str = "q1", code: str = ONSITE_CODE
    ) -> dict[str, Any]:
        return {
            "kind": "onsite",
            "base": base,
            "code_salt": CODE_SALT.hex(),
            "code_hash": onsite_code_hash(CODE_SALT, qid, code).hex(),
        }

    def roster(
        self, rid: str = "r1", voters: Iterable[int] = range(1, 6), *, seal: bool = True
    ) -> list[nacl.signing.SigningKey]:
        members = [self.voter_key(i) for i in voters]
        self.ok("CreateRoster", encoding.encode({"rid": rid, "title": f"Roster {rid}"}))
        if members:
            entries = sorted(entry_of(k) for k in members)
            self.ok("AddRosterEntries", encoding.encode({"rid": rid, "entries": entries}))
        if seal:
            self.ok("SealRoster", rid)
        return members

    def question(self, *, open_it: bool = True, **spec_fields: Any) -> dict[str, Any]:
        spec = self.spec(**spec_fields)
        self.ok("CreateQuestion", encoding.encode(spec))
        if open_it:
            self.ok("OpenQuestion", spec["qid"], at=T_SETUP + 1)
        return spec

    def credential(
        self,
        key: nacl.signing.SigningKey,
        *,
        scope: str = "*",
        channel: str | None = None,
        expires_at: int = 10_000,
        registrar: nacl.signing.SigningKey | None = None,
    ) -> SignedCredential:
        return issue_credential(
            registrar or self.registrar,
            channel=channel or self.channel,
            voter=voter_hex(key),
            expires_at=expires_at,
            scope=scope,
        )

    def request(
        self,
        key: nacl.signing.SigningKey,
        qid: str = "q1",
        choices: Sequence[int] = (0,),
        *,
        channel: str | None = None,
        credential: SignedCredential | None = None,
        code: str | None = None,
        signer: nacl.signing.SigningKey | None = None,
    ) -> CastRequest:
        ballot = BoundBallot(
            channel or self.channel, qid, tuple(choices), voter_hex(key), self.bound_hash(qid)
        )
        sig = (signer or key).sign(ballot.canonical_bytes()).signature.hex()
        return CastRequest(ballot, sig, credential, code)

    def bound_hash(self, qid: str) -> str:
        """The question hash a ballot for ``qid`` binds (of the question on the ledger; zeros if
        there is none, for the refusals of unknown questions)."""
        executed = self.ledger.query(self.client, "GetQuestion", qid, timestamp=T_SETUP)
        if not executed.ok:
            return "00" * 32
        spec = Question.from_json(executed.payload()).spec
        key = None
        if spec.election is not None:
            ceremony = self.query("GetCeremony", spec.election)
            key = point_from_hex(ceremony["election_key"], "election_key")
        return question_hash(spec, key)

    def cast_args(self, key: nacl.signing.SigningKey, *args: Any, **kwargs: Any) -> bytes:
        return encoding.encode(self.request(key, *args, **kwargs).to_json())

    def cast(
        self, key: nacl.signing.SigningKey, *args: Any, at: int = T_VOTE, **kwargs: Any
    ) -> Any:
        return self.ok("Cast", self.cast_args(key, *args, **kwargs), at=at)

    def state_of(self, qid: str = "q1") -> str:
        state: str = self.query("GetQuestion", qid)["state"]
        return state

    def aggregate_all(self, qid: str = "q1", shards: int = 1, at: int = CLOSES + 1) -> None:
        for shard in range(shards):
            while not self.ok("Aggregate", qid, str(shard), at=at)["done"]:
                pass
