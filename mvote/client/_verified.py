"""Verified reads: the chain state a client acts on, from the genesis hash alone.

This is the one implementation every recipe and command uses before it acts on chain state (the
question a voter votes on, the election key it encrypts under, the ceremony and the dealings a
trustee checks, the totals a trustee decrypts, the ceremony's progress it shows). Nothing here
believes a node's answer to a query. There are two ways, and the rules over the records they
yield (:class:`VerifiedRecords`) are written once, for both:

(b) blocks (:class:`VerifiedChain`, :meth:`ChainReads.verify`): every committed block from
    block 0 is fetched over Deliver and checked with the verifier's own
    :func:`~mvote.verifier._chain.verify_chain` from the trust anchor, the genesis block hash the
    user holds: the hash chain, the orderer signatures under the BlockValidation policy, every
    transaction's creator and endorser signatures and endorsement policy (MAJORITY of the
    organisations by default), and recomputed validation codes (MVCC). The state is the writes
    of the VALID transactions of those blocks (the walk's own state). Its cost grows with the
    chain; trustees need it (the dealings and the ballot records are only in blocks).
(a) endorsed reads (:class:`EndorsedRecords`, :meth:`ChainReads.endorsed`): the query is sent
    as a proposal for endorsement (the Gateway's ``Endorse``, which gathers enough
    organisations for the chaincode's endorsement policy); the endorsed transaction is checked
    with the verifier's own :func:`~mvote.verifier._validation.validate_transaction` against the
    channel config and the chaincode definition of a verified prefix of the chain (the blocks up
    to the one that defines the chaincode): creator and endorser signatures, endorser identities
    under the organisations' MSPs, the endorsement policy, the proposal hash; then it must be
    the proposal this client made (its transaction id, its arguments) and the answer is the
    endorsed response payload, which every endorser signed. A constant cost per read; voters
    use it.

The first failed check refuses the read with :class:`~mvote.client._errors.NotVerified` naming
it (``orderer_signature``, ``previous_hash``, ``data_hash``, ``validation_code``,
``endorsement_signature``, ``endorsement_policy``, ...), so a client never acts on what it could
not verify. Checks of this module have their own names: ``trust_anchor`` (no anchor or no way to
read given), ``defining_block`` (no verified block defines the chaincode),
``endorsed_read`` (an endorsed answer to another proposal, or not a success),
``question_record`` and ``ceremony_record`` (absent from the verified state, or answered
differently by the node than the verified state holds), ``dealing`` (a dealing whose trustee
signature, proofs or shape fail), ``ballot_record`` (a verified ballot record that does not
read back as a secret ballot), ``aggregate`` (recorded aggregates that differ from the sum of
the verified ballot records).

The choice between the two, with measured costs: docs/secret-ballots.md, "What a client
trusts".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mvote.chaincode import _keys as keys
from mvote.chaincode import _secret as secret
from mvote.chaincode import encoding
from mvote.chaincode._contract import invoke
from mvote.chaincode._crypto.elgamal import ZERO, Ciphertext
from mvote.chaincode._crypto.group import Point
from mvote.chaincode._errors import ERRORS as CHAINCODE_ERRORS
from mvote.chaincode._errors import AggregationIncomplete, CeremonyNotComplete, MvoteError, Refusal
from mvote.chaincode._functions import FunctionName
from mvote.chaincode._records import (
    Participation,
    Question,
    QuestionSpec,
    Results,
    SecretAggregate,
    results_from_json,
)
from mvote.chaincode._simulation import MemoryKeySpace, TxContext, TxSimulator, Version
from mvote.chaincode._stub import Timestamp
from mvote.client._errors import NotVerified
from mvote.verifier._chain import ChainReport, verify_chain
from mvote.verifier._checks import Check
from mvote.verifier._errors import ERRORS as VERIFIER_ERRORS
from mvote.verifier._mvcc import VALID, MemoryWorldState
from mvote.verifier._replay import secret_sums
from mvote.verifier._validation import (
    BlockContext,
    Reason,
    chaincode_defined,
    validate_transaction,
)

__all__ = [
    "BlockRange",
    "ChainReads",
    "EndorseRead",
    "EndorsedRecords",
    "TrustAnchor",
    "VerifiedChain",
    "VerifiedRecords",
]

#: The committed blocks ``start..stop`` (inclusive; ``stop`` None: up to the newest), as
#: serialized ``common.Block`` s.
BlockRange = Callable[[int, int | None], Sequence[bytes]]
#: Send a read-only proposal ``function(args)`` for endorsement and sign the endorsed
#: transaction: (the proposal's transaction id, the signed ``common.Envelope`` bytes).
EndorseRead = Callable[[str, Sequence[str]], tuple[str, bytes]]

#: The largest record read back from verified state (a dealing of 1000 trustees fits).
MAX_RECORD = 1 << 24
#: The chaincode response status of a success.
OK = 200
#: The error tables a contract's refusal is rebuilt from.
_TABLES = (CHAINCODE_ERRORS, VERIFIER_ERRORS)


@dataclass(frozen=True)
class TrustAnchor:
    """What the user holds from outside the node: the genesis block hash the city publishes,
    and the name of the voting chaincode on that channel."""

    genesis_hash: bytes
    chaincode: str


@dataclass(frozen=True)
class ChainReads:
    """Where verified reads come from: a node's Deliver service (and its Gateway's Endorse,
    for endorsed reads) and the user's anchor."""

    fetch: BlockRange
    anchor: TrustAnchor
    endorse: EndorseRead | None = None

    def verify(self) -> VerifiedChain:
        """The chain as the node has it now, verified; NotVerified naming the first failed
        check. The node may withhold its newest blocks (nothing can tell that from one node):
        reads then see an older state, and each read says what it needs from it."""
        return VerifiedChain.of(self.fetch(0, None), self.anchor)

    def records(self) -> VerifiedRecords:
        """The cheaper way available: endorsed reads when proposals can be sent, else the
        verified chain."""
        return self.endorsed() if self.endorse is not None else self.verify()

    def endorsed(self) -> EndorsedRecords:
        """Endorsed reads, checked against the verified prefix of the chain that defines the
        chaincode. NotVerified (``trust_anchor``) without a way to send proposals."""
        if self.endorse is None:
            raise NotVerified("no Gateway to send read proposals to", check="trust_anchor")
        return EndorsedRecords(_defining_prefix(self.fetch, self.anchor), self.endorse, self.anchor)


def _defining_prefix(fetch: BlockRange, anchor: TrustAnchor) -> ChainReport:
    """The verified report of the shortest prefix of the chain (block 0 onwards, doubling) that
    holds the chaincode's committed definition; NotVerified naming the failed check."""
    length = 2
    while True:
        blocks = fetch(0, length - 1)
        report = _verified_report(blocks, anchor)
        if chaincode_defined(report.state, anchor.chaincode):
            return report
        if len(blocks) < length:
            raise NotVerified(
                f"no committed definition of chaincode {anchor.chaincode!r} in the "
                f"{len(blocks)} verified blocks",
                check="defining_block",
            )
        length *= 2


def _verified_report(blocks: Sequence[bytes], anchor: TrustAnchor) -> ChainReport:
    """``verify_chain`` of ``blocks`` from the anchor; NotVerified naming the first finding."""
    if not blocks:
        raise NotVerified(
            "the node sent no block (expected the genesis block first)", check="genesis_hash"
        )
    report = verify_chain(blocks, anchor.genesis_hash)
    if report.findings:
        first = report.findings[0]
        where = f"block {first.block}" + (
            f" tx {first.tx_index} ({first.tx_id})" if first.tx_index is not None else ""
        )
        # What failed behind the first finding at the same place (e.g. a validation code
        # recomputed otherwise: the endorsement policy that made it so).
        behind = [
            f"{f.check}: {f.message}"
            for f in report.findings[1:]
            if (f.block, f.tx_index) == (first.block, first.tx_index)
        ]
        message = "; ".join([f"{where}: {first.message}", *behind[:3]])
        raise NotVerified(message, check=str(first.check))
    return report


def _keyspace(state: MemoryWorldState, namespace: str) -> MemoryKeySpace:
    """The keys of one chaincode namespace of a verified world state, in key order."""
    space = MemoryKeySpace()
    for (ns, key), (value, version) in sorted(state.public.items()):
        if ns == namespace:
            space.apply({key: value}, Version(*version))
    return space


@dataclass(frozen=True)
class CeremonyProgress:
    """A ceremony as the verified chain has it: who has dealt and who has checked."""

    ceremony: secret.Ceremony
    dealt: tuple[int, ...]
    checked: tuple[int, ...]
    height: int


class VerifiedRecords(ABC):
    """The records a client acts on, verified one way or the other, and the rules over them
    (written once for both ways). Subclasses say how a record is read: :meth:`question_record`
    and :meth:`ceremony_record` return the verified JSON value, or None when the verified
    state has none."""

    channel: str

    @abstractmethod
    def question_record(self, qid: str) -> Any | None: ...

    @abstractmethod
    def ceremony_record(self, cid: str) -> Any | None: ...

    @abstractmethod
    def answer(self, function: str, *args: str) -> Any:
        """The contract's answer to the query ``function(args)`` on the verified state; a
        refusal raises the contract's typed error."""

    def results(self, qid: str) -> Results:
        """``GetResults`` of ``qid`` (live counts, or the recorded tally), verified."""
        return results_from_json(self.answer(FunctionName.GET_RESULTS, qid))

    def history(self, voter: str) -> list[Participation]:
        """``GetHistory`` of ``voter`` (hex key): every question the voter has a ballot on, with
        its tracker and transaction, verified. NotVerified (``history``) when the verified answer
        is not a list of participation records."""
        value = self.answer(FunctionName.GET_HISTORY, voter)
        if not isinstance(value, list):
            raise NotVerified("GetHistory answered no list", check="history")
        try:
            return [Participation.from_json(v, f"history[{i}]") for i, v in enumerate(value)]
        except MvoteError as exc:
            raise NotVerified(f"GetHistory: {exc}", check="history") from exc

    def question(self, qid: str) -> Question:
        """The verified question record; NotVerified (``question_record``) when the verified
        state has none."""
        value = self.question_record(qid)
        if value is None:
            raise NotVerified(f"no question {qid!r} in the verified state", check="question_record")
        return Question.from_json(value)

    def same_question(self, spec: QuestionSpec) -> Question:
        """The verified record of ``spec.qid``, refused (``question_record``) unless ``spec``
        (what a caller read and showed its user) is exactly the verified question: same title,
        option labels in the same order, rule, eligibility, schedule, mode and election."""
        verified = self.question(spec.qid)
        shown, held = spec.to_json(), verified.spec.to_json()
        differ = sorted(k for k in set(shown) | set(held) if shown.get(k) != held.get(k))
        if differ:
            raise NotVerified(
                f"question {spec.qid!r}: the record the node answered differs from the "
                f"verified one in {', '.join(differ)}",
                check="question_record",
            )
        return verified

    def ceremony(self, cid: str) -> secret.Ceremony:
        """The verified ceremony record; NotVerified (``ceremony_record``) if absent."""
        value = self.ceremony_record(cid)
        if value is None:
            raise NotVerified(f"no ceremony {cid!r} in the verified state", check="ceremony_record")
        return secret.Ceremony.from_json(value)

    def election_key(self, question: Question) -> Point:
        """The election key of the verified ceremony the verified secret ``question`` names.
        Raises CeremonyNotComplete while it has none. Precondition: ``question`` was read
        from these records."""
        cid = question.spec.election
        if cid is None:
            raise NotVerified(f"question {question.qid!r} is not secret", check="question_record")
        ceremony = self.ceremony(cid)
        if ceremony.election_key is None or ceremony.state != "COMPLETE":
            raise CeremonyNotComplete(
                f"election: ceremony {cid!r} of {question.qid!r} is {ceremony.state} in the "
                "verified state: no election key",
                field="election",
            )
        return ceremony.election_key


class EndorsedRecords(VerifiedRecords):
    """Way (a): each record is the answer to a read-only proposal, endorsed as the
    chaincode's endorsement policy requires and checked against the verified prefix."""

    def __init__(self, prefix: ChainReport, endorse: EndorseRead, anchor: TrustAnchor) -> None:
        if prefix.config is None:  # verify_chain sets it for every verified chain
            raise NotVerified("the verified prefix has no channel config", check="config")
        self._context = BlockContext(prefix.config, prefix.state, lambda _: False)
        self._endorse = endorse
        self.chaincode = anchor.chaincode
        self.channel = prefix.config.channel_id

    def answer(self, function: str, *args: str) -> Any:
        """The contract's answer to ``function(args)``, endorsed and checked; NotVerified
        naming the failed check."""
        tx_id, envelope = self._endorse(function, args)
        verdict = validate_transaction(self._context, 0, envelope)
        tx = verdict.transaction
        if verdict.code != VALID or tx is None:
            # Every failure of validate_transaction comes with its reason (the failing check).
            reasons = verdict.reasons or [Reason(Check.VALIDATION_CODE, f"code {verdict.code}")]
            raise NotVerified(f"{function}: {reasons[0].message}", check=str(reasons[0].check))
        asked = (function, *args)
        if (
            tx.tx_id != tx_id
            or tx.chaincode_name != self.chaincode
            or tx.args != tuple(a.encode() for a in asked)
        ):
            raise NotVerified(
                f"{function}: the endorsed transaction {tx.tx_id} answers another proposal "
                f"than {tx_id} {list(asked)}",
                check="endorsed_read",
            )
        if tx.response.status != OK:
            raise NotVerified(
                f"{function}: the endorsed response has status {tx.response.status}",
                check="endorsed_read",
            )
        return encoding.decode(tx.response.payload, max_size=MAX_RECORD)

    def question_record(self, qid: str) -> Any | None:
        return self.answer(FunctionName.GET_QUESTION, qid)

    def ceremony_record(self, cid: str) -> Any | None:
        return self.answer(FunctionName.GET_CEREMONY, cid)


class VerifiedChain(VerifiedRecords):
    """Way (b): a chain verified from the trust anchor, and the chaincode state its VALID
    transactions commit. Construct with :meth:`of`."""

    def __init__(self, height: int, last_hash: bytes, state: MemoryKeySpace, channel: str) -> None:
        self.height = height
        self.last_hash = last_hash
        self.state = state
        self.channel = channel

    @staticmethod
    def of(blocks: Sequence[bytes], anchor: TrustAnchor) -> VerifiedChain:
        """Verify ``blocks`` (block 0 first) from ``anchor``; NotVerified naming the first
        failed check."""
        report = _verified_report(blocks, anchor)
        channel = report.config.channel_id if report.config is not None else ""
        state = _keyspace(report.state, anchor.chaincode)
        return VerifiedChain(report.blocks, report.last_hash, state, channel)

    def record(self, key: str) -> Any | None:
        """The decoded value of ``key`` in the verified state, None if absent."""
        found = self.state.get(key)
        return None if found is None else encoding.decode(found[0], max_size=MAX_RECORD)

    def answer(self, function: str, *args: str) -> Any:
        """The contract's own query function run on the verified state (a query reads no
        clock and no caller identity; one that needs them is refused like any refusal)."""
        context = TxContext(
            "0" * 64, self.channel, Timestamp(0, 0), b"", [a.encode() for a in (function, *args)]
        )
        response = invoke(TxSimulator(self.state, context))
        if response.status != OK:
            raise Refusal.from_bytes(response.payload).error(*_TABLES)
        return encoding.decode(response.payload, max_size=MAX_RECORD)

    def question_record(self, qid: str) -> Any | None:
        return self.record(keys.question_key(qid))

    def ceremony_record(self, cid: str) -> Any | None:
        return self.record(keys.ceremony_key(cid))

    # --- the ceremony ----------------------------------------------------------------------

    def dealings(self, ceremony: secret.Ceremony) -> dict[int, dict[str, Any]]:
        """The stored dealing postings on the verified chain, by dealer, each re-checked as
        the contract checks it before a trustee judges it: the dealer's registered Ed25519 key
        signed it, on this channel, for this ceremony, with every commitment's proof and one
        share per other trustee. NotVerified (``dealing``) naming the first that fails."""
        found: dict[int, dict[str, Any]] = {}
        for index in range(1, ceremony.params.n + 1):
            value = self.record(keys.dealing_key(ceremony.cid, index))
            if value is None:
                continue
            try:
                posting = secret.StoredPosting.from_json(value, "dealing")
                body = posting.body
                if not isinstance(body, secret.DealingBody):
                    raise NotVerified(
                        f"dealing~{ceremony.cid}~{index} holds no dealing", check="dealing"
                    )
                trustee = secret.authenticate(posting, ceremony, self.channel).index
                secret.check_dealing(ceremony, body)
            except MvoteError as exc:
                raise NotVerified(f"dealing of trustee {index}: {exc}", check="dealing") from exc
            if (body.ceremony, trustee) != (ceremony.cid, index):
                raise NotVerified(
                    f"dealing~{ceremony.cid}~{index} holds trustee {trustee}'s dealing of "
                    f"ceremony {body.ceremony!r}",
                    check="dealing",
                )
            found[index] = value
        return found

    def progress(self, cid: str) -> CeremonyProgress:
        """Who has dealt (each dealing re-checked, see :meth:`dealings`) and who has posted
        a check, on the verified chain."""
        ceremony = self.ceremony(cid)
        dealt = tuple(sorted(self.dealings(ceremony)))
        checked = tuple(
            i
            for i in range(1, ceremony.params.n + 1)
            if self.state.get(keys.ceremony_check_key(cid, i)) is not None
        )
        return CeremonyProgress(ceremony, dealt, checked, self.height)

    # --- the tally -------------------------------------------------------------------------

    def secret_totals(self, question: Question) -> list[Ciphertext]:
        """Per option, the homomorphic sum of every verified ballot record of the secret
        ``question``, recomputed here; refused (``aggregate``) unless the recorded aggregates
        of its shards, all done, sum to exactly that (so what a trustee decrypts is what the
        contract will check its partial decryptions against). AggregationIncomplete while a
        shard is not aggregated to its end. Precondition: ``question`` came from this chain."""
        options = len(question.spec.options)
        try:
            ballots, sums = secret_sums(self.state, question.qid, options)
        except (MvoteError, ValueError) as exc:  # a record the contract would never write
            raise NotVerified(
                f"question {question.qid!r}: a ballot record does not read back: {exc}",
                check="ballot_record",
            ) from exc
        counted, recorded = 0, [ZERO] * options
        for shard in range(question.spec.shards):
            value = self.record(keys.aggregate_key(question.qid, shard))
            if value is None or not value["done"]:
                raise AggregationIncomplete(
                    f"shard: shard {shard} of {question.qid!r} is not aggregated to its end on "
                    "the verified chain",
                    field="shard",
                )
            aggregate = SecretAggregate.from_json(value)
            counted += aggregate.ballots
            recorded = [a + b for a, b in zip(recorded, aggregate.sums, strict=True)]
        if counted != ballots or recorded != sums:
            raise NotVerified(
                f"question {question.qid!r}: the recorded aggregates ({counted} ballots) differ "
                f"from the sum of its {ballots} verified ballot records",
                check="aggregate",
            )
        return sums
