"""The peer's half of the node: endorse, evaluate, check submissions, answer commit status, read
blocks. Everything a gateway needs except ordering and committing.

Two kinds of process run a peer. The node process runs :class:`~mvote.node.runtime.Node`, which is
this peer plus the ordering service over the ledger it commits. Each gateway process
(:mod:`mvote.node.serving`) runs a peer over a follower of that ledger, and hands the
transactions it checked to the node process for ordering. The services in
:mod:`mvote.node.services` talk to a :class:`Peer` and cannot tell which.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

from mvote.chaincode import _contract as contract
from mvote.chaincode._errors import InvalidField, Malformed, TooLarge, Unauthorised, WrongChannel
from mvote.client._identity import load_signer
from mvote.node.endorser import Endorser, UnpackedProposal, check_proposal, unpack_proposal
from mvote.node.errors import (
    ClockSkew,
    CommitTimeout,
    EndorsementFailed,
    EndorsementMismatch,
    IdentityExpired,
    NotRunning,
    UnknownChaincode,
)
from mvote.node.ledger.store import Ledger, TxLocation
from mvote.node.material import NetworkMaterial
from mvote.verifier._config import ChannelConfig, channel_config_from_block
from mvote.verifier._envelope import HEADER_TYPE_ENDORSER_TRANSACTION
from mvote.verifier._errors import VerifierError
from mvote.verifier._msp import MSPIdentity
from mvote.verifier._policy import PolicyEvaluator, SignedData
from mvote.verifier._transaction import ParsedTransaction
from mvote.verifier._validation import chaincode_endorsement_policy

log = logging.getLogger("mvote.node.peer")

CHAINCODE_VERSION = contract.VERSION
#: How far a proposal's timestamp may be from the node's clock.
MAX_CLOCK_SKEW_SECONDS = 300
WRITERS = "/Channel/Writers"
APPLICATION_WRITERS = "/Channel/Application/Writers"
#: The most an envelope adds to its payload: the client's DER ECDSA P-256 signature (at most 72
#: bytes) and the two fields' tags and lengths.
ENVELOPE_SIGNATURE_BYTES = 72 + 2 + 6
#: Creators whose ACL answer a peer remembers before it starts over.
MAX_REMEMBERED_CREATORS = 4096


@dataclass(frozen=True)
class Checked:
    """A proposal already unpacked and checked by :func:`check_proposal` (the gateway's
    preProcess), with its creator: the peer does not unpack and verify the same bytes again."""

    proposal: UnpackedProposal
    creator: MSPIdentity


class Peer(ABC):
    """Every organisation's endorsing peer over one ledger. Subclasses order what
    :meth:`submit` passes to :meth:`_order`, and call :meth:`_committed` as blocks commit."""

    def __init__(
        self,
        material: NetworkMaterial,
        ledger: Ledger,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.material = material
        self.config = material.config
        self.channel_id = self.config.channel
        self.chaincode = self.config.chaincode
        self.ledger = ledger
        self._clock = clock
        self.endorsers = [
            Endorser(
                load_signer(org.node.msp_dir, org.msp_id),
                chaincode_name=self.chaincode,
                chaincode_version=CHAINCODE_VERSION,
            )
            for org in material.peer_orgs
        ]
        self._lock = threading.Condition()
        #: Futures of commit-status waiters by tx id, resolved when the tx commits (or by
        #: stop/failure): a waiter sleeps until its own tx, not every block.
        self._waiters: dict[str, list[Future[None]]] = {}
        self._running = False
        self._failure: BaseException | None = None
        self._channel_config: ChannelConfig | None = None
        self._policies: PolicyEvaluator | None = None
        self._endorsing: list[Endorser] = []
        self._writers: dict[bytes, bool] = {}

    def _load_channel(self) -> None:
        """The channel configuration and policies, from the ledger's genesis block."""
        self._channel_config = channel_config_from_block(self.ledger.block(0))
        self._policies = PolicyEvaluator(self._channel_config)

    @property
    def channel_config(self) -> ChannelConfig:
        assert self._channel_config is not None, "start() first"
        return self._channel_config

    @property
    def policies(self) -> PolicyEvaluator:
        assert self._policies is not None, "start() first"
        return self._policies

    def check_not_expired(self, identity: MSPIdentity, field: str) -> None:
        """Refuse (IdentityExpired) an identity whose certificate's notAfter is past on the node's
        clock. Fabric's peer and orderer refuse such requests at their entry points; the rule
        for recorded transactions (the verifier's MSP validation) never looks at expiry."""
        not_after = identity.cert.not_valid_after_utc
        now = self._clock()
        if not_after.timestamp() < now:
            raise IdentityExpired(
                f"{field}: identity expired: certificate of {identity.mspid} has notAfter "
                f"{not_after.isoformat()}, before the node's time "
                f"{datetime.fromtimestamp(now, UTC).isoformat(timespec='seconds')}",
                field=field,
            )

    def check_identity_bytes(self, serialized: bytes, field: str) -> None:
        """:meth:`check_not_expired` for a serialized identity already proved by a signature
        check (one that does not deserialize is that check's business, not this one's)."""
        try:
            identity = self.channel_config.msps.deserialize(serialized)
        except VerifierError:
            return
        self.check_not_expired(identity, field)

    @abstractmethod
    def _fresh(self) -> None:
        """Bring the ledger up to the latest commit before a read that must see it."""

    # -- evaluate and endorse ---------------------------------------------------------------------

    def _checked(
        self, signed: proposal_pb2.SignedProposal, checked: Checked | None = None
    ) -> UnpackedProposal:
        up = unpack_proposal(signed) if checked is None else checked.proposal
        if up.channel_id != self.channel_id:
            raise WrongChannel(
                f"channel_header.channel_id: expected {self.channel_id!r}, got {up.channel_id!r}",
                field="channel_id",
            )
        if up.chaincode_name != self.chaincode:
            raise UnknownChaincode(
                f"chaincode_id: channel {self.channel_id} runs {self.chaincode!r}, "
                f"got {up.chaincode_name!r}",
                field="chaincode_id",
            )
        if checked is None:
            creator = check_proposal(up, self.channel_config.msps)
        else:
            creator = checked.creator
        self.check_not_expired(creator, "creator")
        # Fabric's peer/Propose ACL: the creator must be a writer of the application.
        if not self._is_application_writer(creator):
            raise Unauthorised(
                f"creator: {creator.mspid} identity does not satisfy {APPLICATION_WRITERS}",
                field="creator",
            )
        return up

    def _is_application_writer(self, creator: MSPIdentity) -> bool:
        """The ACL's answer for ``creator``, remembered by its exact serialized bytes: the
        channel configuration it depends on does not change while the peer runs, and a client
        sends the same identity with every proposal."""
        known = self._writers.get(creator.serialized)
        if known is None:
            if len(self._writers) >= MAX_REMEMBERED_CREATORS:
                self._writers.clear()
            known = self._writers[creator.serialized] = self.policies.evaluate(
                APPLICATION_WRITERS, [creator]
            )
        return known

    def evaluate(
        self, signed: proposal_pb2.SignedProposal, *, checked: Checked | None = None
    ) -> proposal_response_pb2.Response:
        """Run a query on the latest committed state; nothing is endorsed or ordered.
        ``checked``: ``signed`` as :func:`check_proposal` already passed it."""
        up = self._checked(signed, checked)
        self._fresh()
        with self.ledger.snapshot() as world:
            simulated = self._endorsing[0].simulate(up, world)
        r = simulated.response
        return proposal_response_pb2.Response(status=r.status, message=r.message, payload=r.payload)

    def endorse(
        self,
        signed: proposal_pb2.SignedProposal,
        organizations: Sequence[str] = (),
        *,
        checked: Checked | None = None,
    ) -> tuple[common_pb2.Envelope, proposal_response_pb2.Response]:
        """Endorse with enough organisations for the policy (or exactly ``organizations``) and
        return the unsigned transaction envelope and the chaincode response. ``checked``:
        ``signed`` as :func:`check_proposal` already passed it."""
        up = self._checked(signed, checked)
        skew = abs(up.timestamp.seconds - self._clock())
        if skew > MAX_CLOCK_SKEW_SECONDS:
            raise ClockSkew(
                f"channel_header.timestamp: {up.timestamp.seconds} is {skew:.0f} s from the "
                f"node's clock (at most {MAX_CLOCK_SKEW_SECONDS} s)",
                field="timestamp",
            )
        endorsers = self._endorsers_named(organizations) if organizations else self._endorsing
        # What the transaction carries of the proposal alone: refused before anyone endorses.
        least = (
            len(up.payload_no_transient)
            + len(up.channel_header_bytes)
            + 2 * len(up.signature_header_bytes)
        )
        self._check_orderable(least, "proposal.payload", "at least ")
        self._fresh()
        with self.ledger.snapshot() as world:
            responses = [e.endorse(up, world) for e in endorsers]
        refusals = [
            (e.msp_id, r.response)
            for e, r in zip(endorsers, responses, strict=True)
            if not r.HasField("endorsement")
        ]
        if refusals:
            refused = [(msp_id, str(response.message)) for msp_id, response in refusals]
            raise EndorsementFailed(
                f"{len(refused)} of {len(endorsers)} endorsers refused: {refused[0][1]}",
                details=refused,
                payload=bytes(refusals[0][1].payload),
            )
        if len({r.payload for r in responses}) != 1:
            raise EndorsementMismatch(
                f"endorsers {[e.msp_id for e in endorsers]} returned different results",
                field="proposal",
            )
        payload = assemble_transaction(up, responses)
        # With the result, the writes and the endorsements: still refused rather than handed to
        # a client whose Submit could never be ordered.
        self._check_orderable(len(payload) + ENVELOPE_SIGNATURE_BYTES, "proposal", "")
        return common_pb2.Envelope(payload=payload), responses[0].response

    def _check_orderable(self, size: int, field: str, bound: str) -> None:
        """TooLarge if a transaction envelope of ``size`` bytes exceeds what Submit takes."""
        limit = self.config.limits.max_transaction_bytes
        if size > limit:
            raise TooLarge(
                f"{field}: the transaction envelope would be {bound}{size} bytes; expected at "
                f"most {limit} (limits.max_transaction_bytes), so it could never be ordered",
                field=field,
            )

    def _endorsers_named(self, organizations: Sequence[str]) -> list[Endorser]:
        by_msp = {e.msp_id: e for e in self.endorsers}
        unknown = [o for o in organizations if o not in by_msp]
        if unknown:
            raise Malformed(
                f"endorsing_organizations: expected some of {sorted(by_msp)}, got {unknown}",
                field="endorsing_organizations",
            )
        return [by_msp[o] for o in dict.fromkeys(organizations)]

    def _endorsers_for_policy(self) -> list[Endorser]:
        """The fewest organisations, in configuration order, that satisfy the chaincode's
        endorsement policy (the gateway's own organisation first, as Fabric's gateway prefers)."""
        with self.ledger.snapshot() as world:
            policy = chaincode_endorsement_policy(world, self.chaincode)
        if policy is None:
            raise UnknownChaincode(
                f"chaincode {self.chaincode!r} is not defined on channel {self.channel_id}",
                field="chaincode_id",
            )
        chosen: list[Endorser] = []
        for endorser in self.endorsers:
            chosen.append(endorser)
            ids = [self.channel_config.msps.deserialize(e.signer.creator) for e in chosen]
            if self.policies.evaluate_application_policy(policy, ids):
                return chosen
        raise UnknownChaincode(
            f"chaincode {self.chaincode!r}: its endorsement policy cannot be met by this node's "
            f"organisations {[e.msp_id for e in self.endorsers]}",
            field="chaincode_id",
        )

    # -- submit -----------------------------------------------------------------------------------

    def submit(self, envelope: common_pb2.Envelope) -> str:
        """Check a signed transaction and hand it to ordering; return its tx id."""
        raw = envelope.SerializeToString()
        limit = self.config.limits.max_transaction_bytes
        if len(raw) > limit:
            raise TooLarge(
                f"envelope: expected at most {limit} bytes, got {len(raw)}", field="envelope"
            )
        try:
            tx = ParsedTransaction.parse(raw)
        except VerifierError as exc:
            raise Malformed(f"envelope: {exc.message}", field="envelope") from exc
        header = tx.channel_header
        if header.channel_id != self.channel_id:
            raise WrongChannel(
                f"channel_header.channel_id: expected {self.channel_id!r}, got {header.channel_id!r}",
                field="channel_id",
            )
        if header.type != HEADER_TYPE_ENDORSER_TRANSACTION:
            # Config updates included: the channel config stays the genesis block's (docs/node.md).
            raise Malformed(
                f"channel_header.type: expected ENDORSER_TRANSACTION (3), got {header.type} "
                "(this node orders no config transactions)",
                field="channel_header.type",
            )
        if not header.tx_id:
            # Never valid (BAD_PROPOSAL_TXID) and not indexed, so CommitStatus could not find it.
            raise InvalidField(
                "channel_header.tx_id: expected the transaction's id, got an empty string",
                field="channel_header.tx_id",
            )
        signed = SignedData(tx.envelope.payload, tx.creator, tx.envelope.signature)
        ok, problems = self.policies.evaluate_signed(WRITERS, [signed])
        if not ok:
            why = problems[0].error.message if problems else f"creator does not satisfy {WRITERS}"
            raise Unauthorised(f"envelope signature: {why}", field="signature")
        self.check_identity_bytes(tx.creator, "creator")
        self.order(header.tx_id, tx)
        return str(header.tx_id)

    @abstractmethod
    def order(self, tx_id: str, raw: bytes | ParsedTransaction) -> None:
        """Queue ``raw`` for ordering, refusing (DuplicateTransaction) a tx id already committed
        or pending, or (NotRunning) when ordering has stopped. Precondition: ``raw`` passed the
        checks of :meth:`submit`, here or in a gateway process."""

    # -- commit status and blocks -----------------------------------------------------------------

    def commit_status(self, tx_id: str, timeout: float | None = None) -> TxLocation:
        """Wait until ``tx_id`` is committed; its block and validation code."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waiter: Future[None] | None = None
        try:
            while True:
                self._fresh()
                with self._lock:
                    found = self.ledger.tx_location(tx_id)
                    if found is not None:
                        return found
                    if self._failure is not None:
                        raise NotRunning(f"ordering stopped: {self._failure}", field="node")
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if (remaining is not None and remaining <= 0) or not self._running:
                        raise CommitTimeout(f"tx_id: {tx_id} not committed yet", field="tx_id")
                    if waiter is None or waiter.done():
                        if waiter is not None:
                            self._drop_waiter(tx_id, waiter)
                        # Registered under the lock that commits resolve under: no commit
                        # between the lookup above and this can be missed.
                        waiter = Future()
                        self._waiters.setdefault(tx_id, []).append(waiter)
                with suppress(TimeoutError):
                    waiter.result(remaining)
        finally:
            if waiter is not None:
                self.release_waiter(tx_id, waiter)

    def commit_waiter(self, tx_id: str) -> Future[None]:
        """A future resolved when ``tx_id`` commits or the node stops (whichever first); then
        :meth:`commit_status` with ``timeout=0`` answers at once. Pass it to
        :meth:`release_waiter` if it is abandoned unresolved."""
        waiter: Future[None] = Future()
        with self._lock:
            if not self._running or self._failure is not None:
                resolve(waiter)
            else:
                self._waiters.setdefault(tx_id, []).append(waiter)
        return waiter

    def release_waiter(self, tx_id: str, waiter: Future[None]) -> None:
        with self._lock:
            self._drop_waiter(tx_id, waiter)

    def _drop_waiter(self, tx_id: str, waiter: Future[None]) -> None:
        waiters = self._waiters.get(tx_id)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[tx_id]

    def _committed(self, tx_ids: Iterable[str]) -> None:
        """Under the lock: wake the waiters of ``tx_ids`` (now committed) and block readers."""
        for tx_id in tx_ids:
            for waiter in self._waiters.pop(tx_id, ()):
                resolve(waiter)
        self._lock.notify_all()

    def _halt(self, failure: BaseException | None = None) -> None:
        """Stop answering waiters and block readers: the peer stopped, or ordering failed."""
        with self._lock:
            if failure is not None:
                self._failure = failure
            self._running = False
            waiters, self._waiters = self._waiters, {}
            for futures in waiters.values():
                for waiter in futures:
                    resolve(waiter)
            self._lock.notify_all()

    def unhealthy(self) -> str | None:
        """Why the peer cannot serve (for the operations health check), or None if it can."""
        with self._lock:
            if self._failure is not None:
                return f"ordering stopped ({type(self._failure).__name__})"
            return None if self._running else "not running"

    def blocks(self, start: int, stop: threading.Event | None = None) -> Iterator[common_pb2.Block]:
        """Committed blocks from ``start`` on, waiting for new ones until ``stop`` is set or the
        node stops."""
        number = start
        while True:
            self._fresh()
            with self._lock:
                while self.ledger.height <= number:
                    if not self._running or (stop is not None and stop.is_set()):
                        return
                    self._lock.wait(0.2)
            yield common_pb2.Block.FromString(self.ledger.block(number))
            number += 1

    def wait_for_height(self, height: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.ledger.height < height:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True


def resolve(waiter: Future[None]) -> None:
    """Resolve a commit waiter unless someone else already did (thread-safe)."""
    with suppress(InvalidStateError):
        waiter.set_result(None)


def assemble_transaction(
    up: UnpackedProposal, responses: Sequence[proposal_response_pb2.ProposalResponse]
) -> bytes:
    """The transaction payload a Fabric gateway returns from Endorse (protoutil.CreateTx)."""
    action_payload = transaction_pb2.ChaincodeActionPayload(
        chaincode_proposal_payload=up.payload_no_transient,
        action=transaction_pb2.ChaincodeEndorsedAction(
            proposal_response_payload=responses[0].payload,
            endorsements=[r.endorsement for r in responses],
        ),
    )
    transaction = transaction_pb2.Transaction(
        actions=[
            transaction_pb2.TransactionAction(
                header=up.signature_header_bytes, payload=action_payload.SerializeToString()
            )
        ]
    )
    return bytes(
        common_pb2.Payload(
            header=common_pb2.Header(
                channel_header=up.channel_header_bytes, signature_header=up.signature_header_bytes
            ),
            data=transaction.SerializeToString(),
        ).SerializeToString()
    )
