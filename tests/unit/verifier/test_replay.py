"""Replay catches what signatures cannot: endorsers who agree on a lie.

A chain is built by the embedded node; then a majority of endorsers sign results the contract
would never produce (a ballot with other choices, a tally with other counts). Every signature and
policy check passes, and replay names the block, the transaction and the check.
"""

from __future__ import annotations

from nodechain import Chain, audit, cast_args, chain, old_cast_args

from mvote.chaincode._simulation import Simulation

__all__ = ["chain"]  # the fixture


def test_an_honest_chain_replays_without_findings(chain: Chain) -> None:
    for seed in range(1, 6):
        chain.submit(*cast_args(chain, seed, seed % 3))
    chain.submit("CloseQuestion", "q1", "test")
    chain.submit("Aggregate", "q1", "0")
    chain.submit("Tally", "q1")
    replay = audit(chain)
    assert replay.findings == []
    assert replay.tallies_recounted == 1
    assert replay.replayed == 5 + 5  # create, open, five ballots, close, aggregate, tally
    assert [n.chaincode for n in replay.not_replayed] == ["_lifecycle"]


def test_endorsers_who_change_a_ballot_are_named(chain: Chain) -> None:
    def other_choice(sim: Simulation) -> Simulation:
        for key, value in sim.writes.items():
            if value and b'"choices":[0]' in value:
                sim.writes[key] = value.replace(b'"choices":[0]', b'"choices":[2]')
        return sim

    block = chain.lie(cast_args(chain, 9, 0), other_choice)
    replay = audit(chain)
    assert [(f.block, f.check) for f in replay.findings] == [(block, "replay_writes")]


def test_endorsers_who_inflate_a_tally_are_named(chain: Chain) -> None:
    for seed in range(1, 4):
        chain.submit(*cast_args(chain, seed, 1))
    chain.submit("CloseQuestion", "q1", "test")
    chain.submit("Aggregate", "q1", "0")

    def inflate(sim: Simulation) -> Simulation:
        for key, value in sim.writes.items():
            if value and b'"counts":[0,3,0]' in value and b'"outcome"' in value:
                sim.writes[key] = value.replace(b'"counts":[0,3,0]', b'"counts":[9,3,0]')
        return sim

    block = chain.lie(["Tally", "q1"], inflate)
    replay = audit(chain)
    checks = {(f.block, f.check) for f in replay.findings}
    assert (block, "replay_writes") in checks
    assert any(check == "tally_recount" for _, check in checks)


def test_a_transaction_of_another_contract_version_is_listed_not_replayed(chain: Chain) -> None:
    block = chain.lie(cast_args(chain, 9, 0), lambda sim: sim, version="0.9")
    chain.submit(*cast_args(chain, 10, 1))
    replay = audit(chain)
    assert replay.findings == []
    other = [n for n in replay.not_replayed if n.chaincode == "mvote"]
    assert [(n.block, "'0.9'" in n.reason) for n in other] == [(block, True)]


def test_a_chain_begun_under_mvote_1_replays_with_the_mvote_1_rules(chain: Chain) -> None:
    """Old ballots (no question binding) endorsed under mvote-1 replay under mvote-1's rules;
    later ones under mvote-2; the tally counts both; a lie under mvote-1 is still named."""
    old_blocks = [chain.submit_as("mvote-1", *old_cast_args(chain, seed, 0)) for seed in (1, 2)]
    chain.submit(*cast_args(chain, 3, 1))

    def other_choice(sim: Simulation) -> Simulation:
        for key, value in sim.writes.items():
            if value and b'"choices":[0]' in value:
                sim.writes[key] = value.replace(b'"choices":[0]', b'"choices":[2]')
        return sim

    lie = chain.lie(old_cast_args(chain, 4, 0), other_choice, version="mvote-1", rules="mvote-1")
    chain.submit("CloseQuestion", "q1", "test")
    chain.submit("Aggregate", "q1", "0")
    chain.submit("Tally", "q1")
    replay = audit(chain)
    assert [(f.block, f.check) for f in replay.findings] == [(lie, "replay_writes")]
    assert replay.tallies_recounted == 1
    assert [n.chaincode for n in replay.not_replayed] == ["_lifecycle"]
    assert replay.replayed == 2 + 3 + 1 + 3  # create, open; 3 old, 1 new ballot; close, agg, tally
    assert old_blocks[0] < old_blocks[1]


def test_an_mvote_1_ballot_endorsed_as_mvote_2_is_a_lie(chain: Chain) -> None:
    """mvote-2 refuses unbound ballots, so endorsers who sign one under mvote-2 are named."""
    block = chain.lie(old_cast_args(chain, 5, 0), lambda sim: sim, rules="mvote-1")
    replay = audit(chain)
    assert (block, "replay_response") in [(f.block, f.check) for f in replay.findings]
