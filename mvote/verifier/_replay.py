"""The auditor's replay: re-execute every valid mvote transaction with the chaincode's own code.

:func:`mvote.verifier._chain.verify_chain` establishes which transactions are VALID (signatures,
endorsement policies, MVCC). Replay then asks whether the endorsers told the truth: each VALID
transaction of the voting chaincode runs again, on a fresh state built only from the chain, with
the transaction's own id, time, creator and arguments, and what it reads, writes, answers and
emits must equal what the endorsers signed. A valid transaction's reads were not written by an
earlier transaction of its block (else MVCC would have refused it), so running the block's valid
transactions in order on the state of the blocks before reproduces every read exactly.

Finally every recorded tally is recounted from the ballot records of the final state.

Each transaction runs under the rules of the contract version its endorsers signed (the chaincode
version in its action): the contract keeps the rules of every version it ever had
(``contract.VERSIONS``), so a chain begun under ``mvote-1`` replays with the ``mvote-1`` rules.
Transactions of other chaincodes (``_lifecycle``), or of a version the contract does not know,
are not re-executed; they are listed in the report, never passed in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mvote.chaincode import _keys as keys
from mvote.chaincode import _rules as rules
from mvote.chaincode import _secret as secret
from mvote.chaincode import encoding
from mvote.chaincode._contract import VERSIONS as CONTRACT_VERSIONS
from mvote.chaincode._contract import invoke
from mvote.chaincode._crypto import group
from mvote.chaincode._crypto.ceremony import PartialDecryption
from mvote.chaincode._crypto.elgamal import ZERO, Ciphertext
from mvote.chaincode._errors import MvoteError
from mvote.chaincode._records import TALLY_SHAPE, Ballot, BallotRecord, Question, SecretBallot
from mvote.chaincode._simulation import MemoryKeySpace, TxContext, TxSimulator, Version
from mvote.chaincode._stub import Timestamp, partial_key_range, split_composite_key
from mvote.verifier._chain import Finding
from mvote.verifier._checks import Check
from mvote.verifier._envelope import (
    HEADER_TYPE_ENDORSER_TRANSACTION,
    NsRwSet,
    unpack_block,
)
from mvote.verifier._errors import VerifierError, unexpected
from mvote.verifier._transaction import ParsedTransaction

VALID = 0
LIFECYCLE = "_lifecycle"


@dataclass(frozen=True)
class NotReplayed:
    block: int
    tx_index: int
    tx_id: str
    chaincode: str
    reason: str


@dataclass
class ReplayReport:
    findings: list[Finding] = field(default_factory=list)
    replayed: int = 0
    not_replayed: list[NotReplayed] = field(default_factory=list)
    tallies_recounted: int = 0
    #: The chaincode's state after the last block, as rebuilt by the replay.
    state: MemoryKeySpace = field(default_factory=MemoryKeySpace)


def replay_chain(
    blocks: Sequence[bytes],
    codes: dict[int, list[int]],
    *,
    chaincode: str = "mvote",
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Replay the VALID transactions (``codes``: validation codes per block, as recomputed by
    ``verify_chain``) of ``chaincode`` and recount every tally."""
    report = ReplayReport()
    for number, raw in enumerate(blocks):
        block_codes = codes.get(number, [])
        try:
            block = unpack_block(raw)
        except MvoteError:
            continue  # verify_chain names the block (block_malformed); nothing here to replay
        for index, data in enumerate(block.data):
            if index < len(block_codes) and block_codes[index] == VALID:
                try:
                    _replay_tx(report, number, index, data, chaincode)
                except Exception as exc:  # a failure no check foresaw: named, never raised
                    report.findings.append(
                        Finding(number, index, None, Check.VERIFIER_ERROR, unexpected(exc))
                    )
        if progress is not None:
            progress(number)
    _recount_tallies(report)
    return report


@dataclass(frozen=True)
class _At:
    """Where a replayed transaction sits, and the report its findings go to."""

    report: ReplayReport
    number: int
    index: int
    tx_id: str | None

    def finding(self, check: Check, message: str) -> None:
        self.report.findings.append(Finding(self.number, self.index, self.tx_id, check, message))


def _replay_tx(report: ReplayReport, number: int, index: int, data: bytes, chaincode: str) -> None:
    """Re-execute one VALID transaction of block ``number`` and compare with what it recorded.

    Precondition: ``report.state`` is the chaincode's state after every earlier VALID
    transaction of the chain."""
    tx = ParsedTransaction(data)
    at = _At(report, number, index, None)
    try:
        if tx.header_type != HEADER_TYPE_ENDORSER_TRANSACTION:
            return  # config transactions change no chaincode state
        at = _At(report, number, index, tx.tx_id)
        if not _is_replayed(at, tx, chaincode):
            return
        _ = tx.args, tx.chaincode_action
        namespaces = {ns.namespace: ns for ns in tx.namespaces}
    except VerifierError as exc:
        at.finding(Check.REPLAY_MALFORMED, exc.message)
        return
    version = tx.chaincode_action.chaincode_version
    if version not in CONTRACT_VERSIONS:
        _carry_other_version(at, tx, chaincode, namespaces.get(chaincode))
        return
    _check_namespaces(at, chaincode, namespaces)
    _compare_execution(at, tx, namespaces.get(chaincode), version)


def _is_replayed(at: _At, tx: ParsedTransaction, chaincode: str) -> bool:
    """Whether ``tx`` invokes the audited chaincode; if not, it is listed as not replayed."""
    name = tx.chaincode_name
    if name == chaincode:
        return True
    reason = "system chaincode: endorsement policy checked, not re-executed"
    if name != LIFECYCLE:
        reason = f"not the audited chaincode {chaincode!r}"
    at.report.not_replayed.append(NotReplayed(at.number, at.index, tx.tx_id, name, reason))
    return False


def _carry_other_version(
    at: _At, tx: ParsedTransaction, chaincode: str, ns: NsRwSet | None
) -> None:
    """A transaction endorsed under another contract version: listed, and its recorded writes
    kept, so later transactions replay against the state the chain recorded."""
    version = tx.chaincode_action.chaincode_version
    reason = (
        f"endorsed as {chaincode} version {version!r}; this verifier "
        f"replays versions {', '.join(CONTRACT_VERSIONS)}"
    )
    at.report.not_replayed.append(NotReplayed(at.number, at.index, tx.tx_id, chaincode, reason))
    at.report.state.apply(_writes(ns), Version(at.number, at.index))


def _check_namespaces(at: _At, chaincode: str, namespaces: Mapping[str, NsRwSet]) -> None:
    extra = sorted(set(namespaces) - {chaincode, LIFECYCLE})
    lifecycle = namespaces.get(LIFECYCLE)
    if extra or (lifecycle is not None and (lifecycle.writes or lifecycle.range_queries)):
        at.finding(
            Check.REPLAY_NAMESPACES,
            f"expected writes to {chaincode!r} only (and a _lifecycle read), got namespaces {sorted(namespaces)}",
        )


def _recorded_ranges(ns: NsRwSet | None) -> list[tuple[str, str, bool, tuple[Any, ...]]]:
    return [
        (
            q.start_key,
            q.end_key,
            q.itr_exhausted,
            tuple((r.key, r.version) for r in q.raw_reads or ()),
        )
        for q in (ns.range_queries if ns else ())
    ]


def _compare_execution(at: _At, tx: ParsedTransaction, ns: NsRwSet | None, version: str) -> None:
    """Run the contract, under the rules of the ``version`` its endorsers signed, on ``tx``'s own
    id, time, creator and args; compare the response, reads, range queries, writes and event
    with the recorded ones. Precondition: ``tx`` invokes the audited chaincode at ``version``
    (one of the contract's VERSIONS), and its layers parse."""
    seconds, nanos = tx.timestamp
    context = TxContext(
        tx.tx_id, tx.channel_id, Timestamp(seconds, nanos), tx.creator, list(tx.args)
    )
    simulator = TxSimulator(at.report.state, context)
    response = invoke(simulator, version)
    simulation = simulator.simulation
    at.report.replayed += 1

    recorded = tx.response
    got = (response.status, response.message, response.payload)
    want = (recorded.status, recorded.message, recorded.payload)
    if got != want:
        at.finding(Check.REPLAY_RESPONSE, f"recomputed response {got[:2]}, recorded {want[:2]}")
    recorded_reads = {r.key: r.version for r in ns.reads} if ns else {}
    if simulation.reads != recorded_reads:
        at.finding(Check.REPLAY_READS, _diff("reads", simulation.reads, recorded_reads))
    replayed_ranges = [
        (q.start, q.end, q.exhausted, tuple(q.reads)) for q in simulation.range_queries()
    ]
    if replayed_ranges != _recorded_ranges(ns):
        at.finding(Check.REPLAY_READS, "range queries differ from the recorded ones")
    recorded_writes = _writes(ns)
    if simulation.writes != recorded_writes:
        at.finding(Check.REPLAY_WRITES, _diff("writes", simulation.writes, recorded_writes))
    recorded_event = None
    if tx.chaincode_action.events:
        event = tx.events
        recorded_event = (event.event_name, event.payload)
    if simulation.event != recorded_event:
        at.finding(
            Check.REPLAY_EVENT, f"recomputed event {simulation.event}, recorded {recorded_event}"
        )
    # Carry the chain forward with what it recorded, so one lie is reported once.
    at.report.state.apply(recorded_writes, Version(at.number, at.index))


def _writes(ns: NsRwSet | None) -> dict[str, bytes | None]:
    return {w.key: (None if w.is_delete else w.value) for w in ns.writes} if ns else {}


def _diff(what: str, got: Mapping[str, object], want: Mapping[str, object]) -> str:
    keys_ = sorted(set(got) | set(want))
    differing = [k for k in keys_ if got.get(k, "<absent>") != want.get(k, "<absent>")]
    shown = ", ".join(repr(k) for k in differing[:3])
    return f"{what}: {len(differing)} keys differ from the recorded {what} (first: {shown})"


def _recount_tallies(report: ReplayReport) -> None:
    findings, recounted = recount_tallies(report.state)
    report.findings.extend(findings)
    report.tallies_recounted += recounted


def recount_tallies(state: MemoryKeySpace) -> tuple[list[Finding], int]:
    """Every recorded tally must equal a direct count of its question's ballot records (open
    mode), or (secret mode) the proved decryption of the homomorphic sum of its ballots
    recomputed from state: ``(findings, tallies recounted)``."""
    findings: list[Finding] = []
    recounted = 0
    start, end = partial_key_range(keys.TALLY, [])
    for key, raw, version in list(state.range(start, end)):
        _, (qid,) = split_composite_key(key)
        where = (version.block, version.tx)
        try:
            tally = TALLY_SHAPE.check(encoding.decode(raw, max_size=1 << 24), "tally")
            found = state.get(keys.question_key(qid))
            if found is None:
                raise ValueError(f"no question record for {qid!r}")
            question = Question.from_json(encoding.decode(found[0], max_size=1 << 24))
            if question.spec.mode == "secret":
                ballots, counts = _recount_secret(state, question, tally)
            else:
                counts, ballots = [0] * len(question.spec.options), 0
                b_start, b_end = partial_key_range(keys.BALLOT, [qid])
                for _, ballot_raw, _ in state.range(b_start, b_end):
                    record = BallotRecord.from_json(encoding.decode(ballot_raw, max_size=1 << 21))
                    if not isinstance(record.ballot, Ballot):
                        raise ValueError(f"a secret ballot in open question {qid!r}")
                    rules.add_ballot(counts, record.ballot.choices)
                    ballots += 1
        except (MvoteError, ValueError) as exc:
            findings.append(
                Finding(where[0], where[1], None, Check.TALLY_RECOUNT, f"tally of {qid!r}: {exc}")
            )
            continue
        except Exception as exc:  # a record of a shape no check foresaw: the recount fails
            findings.append(
                Finding(
                    where[0],
                    where[1],
                    None,
                    Check.TALLY_RECOUNT,
                    f"tally of {qid!r}: {unexpected(exc)}",
                )
            )
            continue
        recounted += 1
        outcome = rules.outcome(question.spec.rule, ballots, counts, question.eligible)
        recorded = (tally["ballots"], tally["counts"], tally["outcome"])
        if recorded != (ballots, counts, outcome.to_json()):
            findings.append(
                Finding(
                    where[0],
                    where[1],
                    tally.get("tx"),
                    Check.TALLY_RECOUNT,
                    f"tally of {qid!r}: recorded {tally['ballots']} ballots {tally['counts']}, "
                    f"recounted {ballots} ballots {counts}",
                )
            )
    return findings, recounted


def _recount_secret(
    state: MemoryKeySpace, question: Question, tally: dict[str, Any]
) -> tuple[int, list[int]]:
    """Recompute a secret tally from state: the election key and trustees' public shares from
    the ceremony's dealings, the per-option sums of every ballot of the question, every partial
    decryption's proof against those sums, the Lagrange coefficients, and the counts. Raises
    (naming the failing field, e.g. ``decryption.partials[1].partials[3].proof``) on the first
    discrepancy; returns (ballots, counts) for the common comparison."""
    decryption = tally.get("decryption")
    if decryption is None or question.spec.election is None:
        raise ValueError("decryption: a secret tally must record its decryption")
    ceremony = _ceremony(state, question.spec.election)
    if decryption["ceremony"] != ceremony.cid:
        raise ValueError(f"decryption.ceremony: expected {ceremony.cid!r}")
    _check_dealings(state, ceremony)
    ballots, sums = secret_sums(state, question.qid, len(question.spec.options))
    _check_totals(decryption["totals"], sums, ballots)
    postings = _checked_partials(ceremony, question.qid, sums, decryption)
    counts, lambdas = secret.combine_totals(ceremony, sums, postings, ballots)
    expected = [group.scalar_hex(lambdas[t]) for t in sorted(lambdas)]
    if expected != decryption["lagrange"]:
        raise ValueError("decryption.lagrange: differ from the recomputed Lagrange coefficients")
    return ballots, counts


def _ceremony(state: MemoryKeySpace, election: str) -> secret.Ceremony:
    found = state.get(keys.ceremony_key(election))
    if found is None:
        raise ValueError(f"election: no ceremony {election!r}")
    return secret.Ceremony.from_json(encoding.decode(found[0], max_size=1 << 24))


def _check_dealings(state: MemoryKeySpace, ceremony: secret.Ceremony) -> None:
    """The ceremony's election key and public shares equal those recomputed from its
    dealings in state."""
    dealings = []
    for index in range(1, ceremony.params.n + 1):
        dealt = state.get(keys.dealing_key(ceremony.cid, index))
        if dealt is None:
            raise ValueError(f"ceremony {ceremony.cid!r}: no dealing of trustee {index}")
        value = encoding.decode(dealt[0], max_size=1 << 24)
        dealings.append(secret.stored_dealing(ceremony, value)[0])
    key, public_shares = secret.complete(ceremony, dealings)
    if (key, public_shares) != (ceremony.election_key, ceremony.public_shares):
        raise ValueError(
            f"ceremony {ceremony.cid!r}: the election key or public shares on record differ "
            "from those recomputed from the dealings"
        )


def secret_sums(state: MemoryKeySpace, qid: str, options: int) -> tuple[int, list[Ciphertext]]:
    """(ballots, per-option homomorphic sums) of every ballot record of question ``qid``."""
    ballots, sums = 0, [ZERO] * options
    b_start, b_end = partial_key_range(keys.BALLOT, [qid])
    for _, ballot_raw, _ in state.range(b_start, b_end):
        record = BallotRecord.from_json(encoding.decode(ballot_raw, max_size=1 << 21))
        if not isinstance(record.ballot, SecretBallot):
            raise ValueError(f"an open ballot in secret question {qid!r}")
        sums = [a + b for a, b in zip(sums, record.ballot.encrypted.ciphertexts(), strict=True)]
        ballots += 1
    return ballots, sums


def _check_totals(recorded: list[Any], sums: list[Any], ballots: int) -> None:
    if len(recorded) != len(sums):
        raise ValueError(f"decryption.totals: expected {len(sums)} sums, got {len(recorded)}")
    for i, (total, value) in enumerate(zip(sums, recorded, strict=True)):
        if total.to_json() != value:
            raise ValueError(
                f"decryption.totals[{i}]: differs from the sum of the question's {ballots} "
                "ballots recomputed from state"
            )


def _checked_partials(
    ceremony: secret.Ceremony, qid: str, sums: list[Any], decryption: dict[str, Any]
) -> dict[int, list[PartialDecryption | None]]:
    """Every trustee's partial decryptions of ``sums``, each proof checked, by trustee index."""
    postings: dict[int, list[PartialDecryption | None]] = {}
    for j, entry in enumerate(decryption["partials"]):
        path = f"decryption.partials[{j}]"
        if (
            not isinstance(entry, dict)
            or set(entry) != {"trustee", "partials"}
            or type(entry["trustee"]) is not int
            or not isinstance(entry["partials"], list)
        ):
            raise ValueError(f"{path}: expected {{trustee, partials}}")
        trustee = ceremony.trustee(entry["trustee"], f"{path}.trustee").index
        postings[trustee] = secret.check_partials(
            ceremony, qid, sums, trustee, entry["partials"], f"{path}.partials"
        )
    if sorted(postings) != decryption["trustees"] or len(postings) != len(decryption["partials"]):
        raise ValueError("decryption.trustees: differ from the trustees of the partials")
    return postings
