"""Replay and the secret tally recount on a chain made by the embedded node: a 2-of-3 ceremony,
a secret question, one trustee absent at decryption. An honest chain audits clean; endorsers who
agree on a tally with a forged decryption proof are named, and so is the proof."""

from __future__ import annotations

from typing import Any

import nacl.signing
from nodechain import REGISTRAR, Chain, audit, chain, open_secret_question

from mvote.chaincode import encoding
from mvote.chaincode._crypto.elgamal import ZERO
from mvote.chaincode._records import SecretBallot
from mvote.chaincode._simulation import Simulation
from mvote.client import _trustee as tr
from mvote.client._registrar import issue_credential
from mvote.client._secret import prepare_secret_ballot

__all__ = ["chain"]  # the fixture


def secret_election(chain: Chain) -> tuple[list[tr.TrusteeSecrets], list[Any]]:
    """Ceremony, question s1 (2 of 4 options, 4 voters), closed and aggregated: the trustees
    and the per-option totals."""
    team, spec, key = open_secret_question(chain)
    totals = [ZERO] * 4
    for seed, choices in ((1, (0,)), (2, (0, 3)), (3, ()), (4, (1, 3))):
        voter = nacl.signing.SigningKey(bytes([seed]) * 32)
        credential = issue_credential(
            REGISTRAR, channel="mvote", voter=bytes(voter.verify_key).hex(), expires_at=2**40
        )
        request = prepare_secret_ballot(
            voter,
            channel="mvote",
            question=spec,
            election_key=key,
            choices=choices,
            credential=credential,
        ).request
        assert isinstance(request.ballot, SecretBallot)
        chain.submit("Cast", encoding.encode(request.to_json()))
        totals = [
            a + b for a, b in zip(totals, request.ballot.encrypted.ciphertexts(), strict=True)
        ]
    chain.submit("CloseQuestion", "s1", "test")
    chain.submit("Aggregate", "s1", "0")
    return team, totals


def test_a_secret_election_replays_and_recounts(chain: Chain) -> None:
    team, totals = secret_election(chain)
    for t in (team[0], team[2]):
        chain.submit("PostDecryption", tr.decryption_posting(t, "s1", totals))
    chain.submit("Tally", "s1")
    replay = audit(chain)
    assert replay.findings == []
    assert replay.tallies_recounted == 1


def test_endorsers_who_forge_a_decryption_proof_are_named(chain: Chain) -> None:
    team, totals = secret_election(chain)
    for t in (team[1], team[2]):
        chain.submit("PostDecryption", tr.decryption_posting(t, "s1", totals))

    def forge(sim: Simulation) -> Simulation:
        for key, value in sim.writes.items():
            if value and b'"decryption"' in value:
                record = encoding.decode(value, max_size=1 << 24)
                record["decryption"]["partials"][1]["partials"][3]["proof"]["c"] = "09" + "00" * 31
                sim.writes[key] = encoding.encode(record)
        return sim

    block = chain.lie(["Tally", "s1"], forge)
    replay = audit(chain)
    checks = {(f.block, f.check) for f in replay.findings}
    assert (block, "replay_writes") in checks
    (recount,) = [f for f in replay.findings if f.check == "tally_recount"]
    assert "BAD_PROOF" in recount.message
    assert "decryption.partials[1].partials[3].proof" in recount.message
