"""The audit: everything the verifier checks about a whole chain, as one report.

1. :func:`~mvote.verifier._chain.verify_chain` from the trust anchor (the genesis block hash):
   hash chain, orderer signatures, creator and endorser signatures, endorsement policies,
   recomputed validation codes (MVCC included), the peers' commit hashes;
2. :func:`~mvote.verifier._replay.replay_chain`: every valid transaction of the voting chaincode
   re-executed and compared, every tally recounted.

The report names, for every failure, the block, the transaction (index and id) and the check.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mvote.chaincode._errors import MvoteError
from mvote.verifier._chain import ChainReport, Finding, verify_chain
from mvote.verifier._checks import Check
from mvote.verifier._envelope import METADATA_TRANSACTIONS_FILTER, unpack_block
from mvote.verifier._replay import LIFECYCLE, ReplayReport, replay_chain


@dataclass
class AuditReport:
    genesis_hash: bytes
    chain: ChainReport
    replay: ReplayReport | None
    seconds: dict[str, float] = field(default_factory=dict)
    #: Findings of :meth:`expect` (a height or last block hash published elsewhere).
    expected: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        replayed = list(self.replay.findings) if self.replay else []
        return list(self.chain.findings) + replayed + list(self.expected)

    def expect(self, *, height: int | None = None, last_hash: bytes | None = None) -> None:
        """Compare the chain's height and last block hash with values published elsewhere, so
        that a chain whose tail was withheld fails ("height", "last_block_hash")."""
        last = self.chain.blocks - 1
        if height is not None and height != self.chain.blocks:
            self.expected.append(
                Finding(
                    last,
                    None,
                    None,
                    Check.HEIGHT,
                    f"chain height: expected {height}, got {self.chain.blocks}",
                )
            )
        if last_hash is not None and last_hash != self.chain.last_hash:
            self.expected.append(
                Finding(
                    last,
                    None,
                    None,
                    Check.LAST_BLOCK_HASH,
                    f"block {last} header hash: expected {last_hash.hex()}, "
                    f"got {self.chain.last_hash.hex()}",
                )
            )

    @property
    def verdict(self) -> str:
        """One line that claims no more than was checked: a chain none of whose transactions
        of the audited chaincode could be re-executed says how many were."""
        if not self.verified:
            return f"NOT VERIFIED: {len(self.findings)} findings"
        checked = "VERIFIED: signatures, policies and validation codes"
        if self.replay is None:
            return f"{checked}; no transaction re-executed (--no-replay)"
        if all(n.chaincode == LIFECYCLE for n in self.replay.not_replayed):
            return "VERIFIED"
        total = self.replay.replayed + len(self.replay.not_replayed)
        return f"{checked}; {self.replay.replayed} of {total} chaincode transactions re-executed"

    @property
    def verified(self) -> bool:
        return self.chain.verified and not self.findings

    @property
    def transactions(self) -> int:
        return sum(len(codes) for codes in self.chain.codes.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "genesis_hash": self.genesis_hash.hex(),
            "blocks": self.chain.blocks,
            "transactions": self.transactions,
            "last_block_hash": self.chain.last_hash.hex(),
            "orderers_copy": self.chain.orderers_copy,
            "verdict": self.verdict,
            "invalid_transactions": [
                {"block": n, "tx_index": i, "tx_id": self.chain.tx_ids[n][i], "code": code}
                for n, codes in sorted(self.chain.codes.items())
                for i, code in enumerate(codes)
                if code != 0
            ],
            "replayed": self.replay.replayed if self.replay else None,
            "not_replayed": [
                {
                    "block": n.block,
                    "tx_index": n.tx_index,
                    "tx_id": n.tx_id,
                    "chaincode": n.chaincode,
                    "reason": n.reason,
                }
                for n in (self.replay.not_replayed if self.replay else [])
            ],
            "tallies_recounted": self.replay.tallies_recounted if self.replay else None,
            "findings": [
                {
                    "block": f.block,
                    "tx_index": f.tx_index,
                    "tx_id": f.tx_id,
                    "check": f.check,
                    "code": f.code,
                    "message": f.message,
                }
                for f in self.findings
            ],
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def recorded_codes(blocks: Sequence[bytes]) -> dict[int, list[int]]:
    """The validation codes the peer wrote into each block's TRANSACTIONS_FILTER."""
    codes = {}
    for number, raw in enumerate(blocks):
        try:
            codes[number] = list(unpack_block(raw).metadata_slot(METADATA_TRANSACTIONS_FILTER))
        except MvoteError:
            codes[number] = []
    return codes


def _replay_pool() -> ProcessPoolExecutor:
    """One helper process for the early replay. A plain fork copies a process whose other
    threads (a gRPC server or channel in the same process) may hold locks, and the child can
    crash; such a process gets a fork server, a single-threaded one forks as it is (fast)."""
    if threading.active_count() > 1:
        return ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("forkserver")
        )
    return ProcessPoolExecutor(max_workers=1)


def audit_chain(
    blocks: Sequence[bytes],
    genesis_hash: bytes,
    *,
    chaincode: str = "mvote",
    replay: bool = True,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> AuditReport:
    """Verify the chain and replay it. With two or more ``workers`` (default: every core) the
    replay runs in another process at the same time as the chain walk, on the codes the peer
    recorded; when the walk's recomputed codes differ (a finding already), it runs again on the
    recomputed ones, so the result is always the replay of the recomputed codes."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    started = time.perf_counter()
    early: Future[ReplayReport] | None = None
    pool = _replay_pool() if replay and workers > 1 else None
    try:
        if pool is not None:
            early = pool.submit(replay_chain, blocks, recorded_codes(blocks), chaincode=chaincode)
        chain = verify_chain(blocks, genesis_hash)
        seconds = {"verify": time.perf_counter() - started}
        replayed = None
        if replay and chain.blocks:
            replayed = _replay(blocks, chain, early, chaincode, progress)
            seconds["replay"] = time.perf_counter() - started - seconds["verify"]
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    seconds["total"] = time.perf_counter() - started
    return AuditReport(genesis_hash, chain, replayed, seconds)


def _replay(
    blocks: Sequence[bytes],
    chain: ChainReport,
    early: Future[ReplayReport] | None,
    chaincode: str,
    progress: Callable[[str, int, int], None] | None,
) -> ReplayReport:
    """The replay on the recomputed codes: the early one (on the recorded codes) when they are
    the same and it finished, else a replay here. Precondition: ``chain`` is the walk of
    ``blocks``."""
    if early is not None and _same_codes(chain.codes, blocks):
        try:
            return early.result()
        except Exception:  # the helper process failed (not the chain): replay here
            pass
    total = len(blocks)
    return replay_chain(
        blocks,
        chain.codes,
        chaincode=chaincode,
        progress=(lambda n: progress("replay", n + 1, total)) if progress else None,
    )


def _same_codes(recomputed: dict[int, list[int]], blocks: Sequence[bytes]) -> bool:
    recorded = recorded_codes(blocks)
    return all(recorded.get(n) == codes for n, codes in recomputed.items())
