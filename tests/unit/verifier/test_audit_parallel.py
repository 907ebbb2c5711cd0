"""The audit on two processes gives exactly the sequential audit's report."""

from __future__ import annotations

from fabric_protos.common import common_pb2
from nodechain import Chain, cast_args, chain

from mvote.verifier._audit import AuditReport, audit_chain

__all__ = ["chain"]  # the fixture


def _summary(report: AuditReport) -> object:
    replay = report.replay
    assert replay is not None
    return (
        [str(f) for f in report.findings],
        report.chain.codes,
        replay.replayed,
        replay.tallies_recounted,
        list(replay.state.items()),
    )


def _chain_with_ballots(chain: Chain) -> list[bytes]:
    for seed in range(1, 5):
        chain.submit(*cast_args(chain, seed, seed % 3))
    chain.submit("CloseQuestion", "q1", "test")
    chain.submit("Aggregate", "q1", "0")
    chain.submit("Tally", "q1")
    return chain.blocks()


def test_parallel_audit_equals_sequential(chain: Chain) -> None:
    blocks = _chain_with_ballots(chain)
    sequential = audit_chain(blocks, chain.genesis_hash, workers=1)
    parallel = audit_chain(blocks, chain.genesis_hash, workers=2)
    assert sequential.verified and parallel.verified
    assert _summary(parallel) == _summary(sequential)


def test_a_forged_recorded_code_replays_on_the_recomputed_codes(chain: Chain) -> None:
    blocks = _chain_with_ballots(chain)
    # Claim a valid ballot was a conflict: the early replay (on recorded codes) would skip it.
    ballot_block = next(
        n
        for n in range(len(blocks))
        if b"Cast" in common_pb2.Block.FromString(blocks[n]).data.data[0]
    )
    block = common_pb2.Block.FromString(blocks[ballot_block])
    block.metadata.metadata[2] = b"\x0b" * len(block.data.data)
    blocks[ballot_block] = block.SerializeToString()
    sequential = audit_chain(blocks, chain.genesis_hash, workers=1)
    parallel = audit_chain(blocks, chain.genesis_hash, workers=2)
    assert not parallel.verified
    assert _summary(parallel) == _summary(sequential)
    assert {f.check for f in parallel.findings} >= {"validation_code"}
