"""The audit replays batches: an honest CastBatch replays without findings, and endorsers who
agree to record a ballot their batch refused (its write added, the response unchanged) are named
by replay, though every signature and policy holds."""

from __future__ import annotations

import dataclasses

from nodechain import Chain, audit, cast_args, chain

from mvote.chaincode import _keys as keys
from mvote.chaincode import encoding
from mvote.chaincode._records import CastRequest
from mvote.chaincode._simulation import Simulation

__all__ = ["chain"]  # the fixture


def _batch(chain: Chain, seeds: range) -> list[bytes | str]:
    return ["CastBatch", *(cast_args(chain, seed, seed % 3)[1] for seed in seeds)]


def test_an_honest_batch_replays_without_findings(chain: Chain) -> None:
    chain.submit(*_batch(chain, range(1, 9)))
    replay = audit(chain)
    assert replay.findings == []
    assert replay.replayed == 2 + 1  # create, open, the batch


def test_endorsers_who_record_a_refused_ballot_are_named(chain: Chain) -> None:
    args = _batch(chain, range(20, 24))
    raw = args[2]
    assert isinstance(raw, bytes)
    refused = CastRequest.from_json(encoding.decode(raw, max_size=1 << 20))
    args[2] = encoding.encode(dataclasses.replace(refused, credential=None).to_json())

    def smuggle(sim: Simulation) -> Simulation:
        # A record for the refused (uncredentialed) ballot, as if the batch had accepted it.
        voter = refused.ballot.voter
        key = keys.ballot_key("q1", keys.shard_of(bytes.fromhex(voter), 1), voter)
        template = next(v for k, v in sim.writes.items() if k.startswith("\x00ballot\x00"))
        assert template is not None
        sim.writes[key] = template
        return sim

    block = chain.lie(args, smuggle)
    replay = audit(chain)
    assert [(f.block, f.check) for f in replay.findings] == [(block, "replay_writes")]
