"""The main scenario a newcomer runs with ``make demo``.

Three institutions (city hall, a district office, the education office) put three questions to
their citizens, one of each ballot rule and eligibility kind:

| question                     | owner     | rule                        | eligibility                |
|------------------------------|-----------|-----------------------------|----------------------------|
| school trip destination      | education | single choice of 4          | sealed roster (a school)   |
| park improvements            | cityhall  | up to 3 of 30               | open: registrar credential |
| riverside bike lane          | district  | yes/no, >50%, turnout >=40% | on-site code + roster      |

Voters cast ballots signed on their own devices; a few try what they must not (a second ballot,
a ballot without a credential, a wrong on-site code) and are refused. Then the questions close,
are aggregated shard by shard and tallied, and the results are printed.

The scenario talks to a :class:`Channel` (submit and evaluate as an identity). ``mvote demo`` runs
it on the embedded node through the Fabric Gateway (:class:`mvote.client._channel.GatewayChannel`);
the tests also run it on :class:`InProcessChannel`, a serial in-memory ledger, to count every ballot
in state directly and to stay fast.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import nacl.signing

from mvote.chaincode._eligibility import onsite_code_hash
from mvote.chaincode._errors import MvoteError, Refusal
from mvote.chaincode._records import (
    BoundBallot,
    CastRequest,
    Eligibility,
    MultiChoice,
    OnsiteCode,
    Plurality,
    QuestionSpec,
    Schedule,
    SingleChoice,
    TallyRecord,
    TurnoutShare,
    YesNo,
    YesNoOutcome,
    question_hash,
)
from mvote.chaincode._simulation import Executed, SerialLedger
from mvote.client import recipes
from mvote.client._ballot import prepare_ballot, voter_public_hex
from mvote.client._registrar import issue_credential
from mvote.client._voting import Committed, Transactor, VotingContract

Printer = Callable[[str], None]


class Channel(Protocol):
    name: str

    def acting_as(self, creator: bytes) -> Transactor:
        """Run the contract as ``creator``'s identity."""
        ...


class InProcessChannel:
    """The contract on a :class:`SerialLedger`, with the wall clock as transaction time."""

    def __init__(self, name: str = "mvote", clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.ledger = SerialLedger(name)
        self._clock = clock
        # A serial ledger: concurrent voters take turns.
        self._lock = threading.Lock()
        #: tx id -> the ledger height after it, for every transaction this channel committed.
        self.blocks: dict[str, int] = {}

    def run(self, creator: bytes, function: str, *args: bytes | str, commit: bool) -> Executed:
        """Run ``function`` as ``creator`` (committing its writes if ``commit``); a refusal
        raises the typed error its structured payload names."""
        with self._lock:
            done = self.ledger.run(
                creator, function, *args, timestamp=int(self._clock()), commit=commit
            )
            if done.ok and commit:
                self.blocks[done.tx_id] = self.ledger.height
        if not done.ok:
            raise Refusal.from_bytes(done.response.payload).error()
        return done

    def submit(self, creator: bytes, function: str, *args: bytes | str) -> Any:
        return self.run(creator, function, *args, commit=True).payload()

    def evaluate(self, creator: bytes, function: str, *args: bytes | str) -> Any:
        return self.run(creator, function, *args, commit=False).payload()

    def acting_as(self, creator: bytes) -> _InProcessTransactor:
        return _InProcessTransactor(self, creator)


class _InProcessTransactor:
    """One identity on an :class:`InProcessChannel`; a transaction's "block" is the ledger
    height right after it."""

    def __init__(self, channel: InProcessChannel, creator: bytes) -> None:
        self._channel = channel
        self._creator = creator

    @property
    def channel_name(self) -> str:
        return self._channel.name

    def transact(self, function: str, *args: bytes | str) -> Committed:
        done = self._channel.run(self._creator, function, *args, commit=True)
        return Committed(done.payload(), done.tx_id, self._channel.blocks[done.tx_id])

    def query(self, function: str, *args: bytes | str) -> Any:
        return self._channel.evaluate(self._creator, function, *args)

    def block_of(self, transaction_id: str) -> int:
        return self._channel.blocks[transaction_id]


@dataclass(frozen=True)
class Operators:
    """The admin identity (serialized creator) of each institution, and a client for voters."""

    cityhall: bytes
    district: bytes
    education: bytes
    client: bytes


@dataclass
class Tally:
    question: QuestionSpec
    result: TallyRecord


@dataclass
class Story:
    """What the scenario did: the three tallies, and every ballot it committed (the ``Cast``
    results: question, tracker, shard, transaction id), for receipts."""

    tallies: list[Tally]
    ballots: list[dict[str, Any]]


def run(
    channel: Channel,
    operators: Operators,
    *,
    voters: int = 120,
    seed: int = 7,
    concurrency: int = 32,
    out: Printer = print,
    first_step: int = 1,
    total_steps: int = 6,
) -> Story:
    """Run the whole story (six numbered steps, from ``first_step`` of ``total_steps``); return
    the tallies and the committed ballots."""
    rng = random.Random(seed)

    def step(n: int) -> str:
        return f"[{first_step + n - 1}/{total_steps}]"

    now = int(time.time())
    ch = channel.name

    def keypair() -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(rng.randbytes(32))

    # --- rosters: a school and an apartment complex ----------------------------------------------
    students = [keypair() for _ in range(voters // 3)]
    residents = [keypair() for _ in range(voters // 4)]
    citizens = [keypair() for _ in range(voters)]
    out(
        f"{step(1)} rosters: {len(students)} students (education office), {len(residents)} residents (district)"
    )
    _roster(
        channel, operators.education, "hanbit-school", "Hanbit Middle School students", students
    )
    _roster(channel, operators.district, "mapo-apt-12", "Mapo apartment complex 12", residents)

    # --- questions --------------------------------------------------------------------------------
    registrar = keypair()
    site_code = secrets.token_urlsafe(9).replace("_", "x").replace("-", "y")[:12]
    salt = rng.randbytes(16)
    trip = QuestionSpec(
        qid="school-trip-2027",
        title="Where should the 2027 school trip go?",
        description="One destination; the education office books the most chosen.",
        options=("Gyeongju", "Jeju", "Sokcho", "Jeonju"),
        rule=SingleChoice(),
        eligibility=Eligibility.of_roster("hanbit-school"),
        schedule=Schedule(now - 1, now + 3600),
        shards=2,
    )
    parks = QuestionSpec(
        qid="park-improvements",
        title="Pick up to 3 improvements for Seoul's neighbourhood parks",
        description="Open to every resident who passed the registrar's one-time check.",
        options=tuple(f"Improvement {i + 1:02d}" for i in range(30)),
        rule=MultiChoice(min=1, max=3),
        eligibility=Eligibility.of_registrars((voter_public_hex(registrar),)),
        schedule=Schedule(now - 1, now + 3600),
        shards=8,
    )
    bike = QuestionSpec(
        qid="riverside-bike-lane",
        title="Approve the riverside bike lane beside complex 12?",
        description="Residents vote at the meeting hall with the code shown there.",
        options=("yes", "no"),
        rule=YesNo(threshold_bp=5000, min_turnout=TurnoutShare(4000)),
        eligibility=Eligibility.of_roster(
            "mapo-apt-12",
            OnsiteCode(salt.hex(), onsite_code_hash(salt, "riverside-bike-lane", site_code).hex()),
        ),
        schedule=Schedule(now - 1, now + 3600),
        shards=2,
    )
    plan = [(trip, operators.education), (parks, operators.cityhall), (bike, operators.district)]
    out(
        f"{step(2)} questions: "
        + ", ".join(f"{q.qid} ({q.rule.kind}, {_elig(q)})" for q, _ in plan)
    )
    for spec, owner in plan:
        recipes.create_question(_as(channel, owner), spec, open_now=True)

    # --- ballots ----------------------------------------------------------------------------------
    voting = _as(channel, operators.client)
    committed: list[dict[str, Any]] = []
    count_lock = threading.Lock()

    def cast(
        spec: QuestionSpec, voter: nacl.signing.SigningKey, choices: list[int], **extra: Any
    ) -> None:
        request = prepare_ballot(voter, channel=ch, question=spec, choices=choices, **extra)
        done = voting.cast(request)
        result = {
            "qid": done.qid,
            "tracker": done.tracker,
            "shard": done.shard,
            "tx": done.transaction_id,
        }
        with count_lock:
            committed.append(result)

    def cast_unchecked(
        spec: QuestionSpec, voter: nacl.signing.SigningKey, choices: list[int]
    ) -> None:
        # A tampered client: signs what the local rule check would have stopped.
        ballot = BoundBallot(
            ch, spec.qid, tuple(choices), voter_public_hex(voter), question_hash(spec, None)
        )
        credential = issue_credential(
            registrar, channel=ch, voter=ballot.voter, expires_at=now + 86400
        )
        request = CastRequest(
            ballot, voter.sign(ballot.canonical_bytes()).signature.hex(), credential
        )
        voting.cast(request)

    out(f"{step(3)} ballots: students, registered citizens and residents vote from their devices")
    # Every choice is drawn first, so the seed alone decides the results; then the voters cast
    # at once, as they do on a real voting day.
    ballots: list[tuple[QuestionSpec, nacl.signing.SigningKey, list[int], dict[str, Any]]] = []
    for voter in students:
        ballots.append((trip, voter, [rng.choices(range(4), weights=(3, 5, 2, 1))[0]], {}))
    for voter in citizens[:-1]:
        credential = issue_credential(
            registrar, channel=ch, voter=voter_public_hex(voter), expires_at=now + 86400
        )
        picks = rng.sample(range(30), rng.randint(1, 3))
        ballots.append((parks, voter, picks, {"credential": credential}))
    turnout = residents[: int(len(residents) * 0.7)]
    for voter in turnout:
        ballots.append((bike, voter, [0 if rng.random() < 0.62 else 1], {"code": site_code}))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda b: cast(b[0], b[1], b[2], **b[3]), ballots))
    elapsed = time.perf_counter() - started
    out(
        f"      {len(committed)} ballots committed in {elapsed:.1f} s "
        f"({len(committed) / max(elapsed, 1e-9):.0f}/s, {concurrency} voters at a time)"
    )

    out(f"{step(4)} refusals: what the contract must not accept")
    attempts: list[tuple[str, Callable[[], None]]] = [
        ("a second ballot from the same student", lambda: cast(trip, students[0], [0])),
        ("a citizen without a registrar credential", lambda: cast(parks, keypair(), [1])),
        (
            "a resident with a wrong on-site code",
            lambda: cast(bike, residents[-1], [0], code="WRONG-CODE"),
        ),
        ("an outsider at the meeting hall", lambda: cast(bike, keypair(), [0], code=site_code)),
        (
            "four picks on a pick-up-to-3 ballot",
            lambda: cast_unchecked(parks, citizens[-1], [1, 2, 3, 4]),
        ),
    ]
    _expect_refusals(attempts, out)

    out(f"{step(5)} close, aggregate shard by shard, tally")
    tallies = [_close_and_tally(_as(channel, owner), spec) for spec, owner in plan]

    out(f"{step(6)} results")
    for t in tallies:
        out(format_result(t))
    return Story(tallies, committed)


def _expect_refusals(attempts: list[tuple[str, Callable[[], None]]], out: Printer) -> None:
    """Run each attempt; each must be refused (its code is printed)."""
    for what, attempt in attempts:
        try:
            attempt()
        except MvoteError as refusal:
            out(f"      refused {what}: {refusal.code}")
        else:
            raise AssertionError(f"the contract accepted {what}")


def _close_and_tally(contract: VotingContract, spec: QuestionSpec) -> Tally:
    contract.close_question(spec.qid, "demo: voting period over")
    return Tally(spec, recipes.tally(contract, spec.qid, batch=50).tally)


def _as(channel: Channel, creator: bytes) -> VotingContract:
    return VotingContract(channel.acting_as(creator))


def _roster(
    channel: Channel, admin: bytes, rid: str, title: str, members: list[nacl.signing.SigningKey]
) -> None:
    contract = _as(channel, admin)
    contract.create_roster(rid, title)
    recipes.add_roster(contract, rid, [voter_public_hex(m) for m in members])
    contract.seal_roster(rid)


def _elig(spec: QuestionSpec) -> str:
    kind = spec.eligibility.kind
    return f"on-site + {kind}" if spec.eligibility.onsite else kind


def format_result(t: Tally) -> str:
    spec, result = t.question, t.result
    lines = [f"\n  {spec.title}  [{spec.qid}]", f"  ballots: {result.ballots}"]
    if result.eligible is not None:
        lines[-1] += f" of {result.eligible} eligible"
    top = max(result.counts) or 1
    ranked = sorted(range(len(spec.options)), key=lambda i: -result.counts[i])
    shown = ranked[:5] if len(spec.options) > 6 else range(len(spec.options))
    for i in shown:
        count = result.counts[i]
        lines.append(f"    {spec.options[i]:<18} {count:>5}  {'#' * round(30 * count / top)}")
    if len(spec.options) > 6:
        lines.append(f"    ... {len(spec.options) - 5} more options")
    match result.outcome:
        case YesNoOutcome() as outcome:
            verdict = "PASSED" if outcome.passed else "NOT PASSED"
            lines.append(
                f"  outcome: {verdict} (approval {'met' if outcome.approval_met else 'not met'}, "
                f"turnout {'met' if outcome.turnout_met else 'not met'})"
            )
        case Plurality(winners=winners):
            names = ", ".join(spec.options[i] for i in winners) or "none"
            lines.append(f"  outcome: {names}")
    return "\n".join(lines)
