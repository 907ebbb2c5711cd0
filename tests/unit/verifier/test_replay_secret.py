"""Replay and the secret tally recount on a chain made by the embedded node: a 2-of-3 ceremony,
a secret question, one trustee absent at decryption. An honest chain audits clean; endorsers who
agree on a tally with a forged decryption proof are named, and so is the proof."""

from __future__ import annotations

import time
from typing import Any

import nacl.signing
from nodechain import REGISTRAR, Chain, audit, chain

from mvote.chaincode import encoding
from mvote.chaincode._crypto.elgamal import ZERO
from mvote.chaincode._crypto.group import point_from_hex
from mvote.chaincode._records import (
    Eligibility,
    MultiChoice,
    QuestionSpec,
    Schedule,
    SecretBallot,
    SecretMode,
)
from mvote.chaincode._simulation import Simulation
from mvote.client import _trustee as tr
from mvote.client._registrar import issue_credential
from mvote.client._secret import prepare_secret_ballot

__all__ = ["chain"]  # the fixture


def secret_election(chain: Chain) -> tuple[list[tr.TrusteeSecrets], list[Any]]:
    """Ceremony, question s1 (2 of 4 options, 4 voters), closed and aggregated: the trustees
    and the per-option totals."""
    team = [
        tr.new_trustee("mvote", "c1", 3, 2, i, nacl.signing.SigningKey(bytes([40 + i]) * 32))
        for i in range(1, 4)
    ]
    regs = [t.registration() for t in team]
    chain.submit("CreateCeremony", tr.ceremony_spec("c1", 3, 2, regs))
    postings = [tr.dealing_posting(t, regs) for t in team]
    for p in postings:
        chain.submit("PostDealing", p)
    dealt = [encoding.decode(p, max_size=1 << 24) for p in postings]
    for t in team:
        chain.submit("PostCheck", tr.check_posting(t, dealt))
    chain.submit("CompleteCeremony", "c1")
    # The election key, as CompleteCeremony fixed it: K = Σ_i K_i0.
    key = sum(
        (point_from_hex(d["body"]["dealing"]["commitments"][0], "k") for d in dealt[1:]),
        point_from_hex(dealt[0]["body"]["dealing"]["commitments"][0], "k"),
    )
    now = int(time.time())
    spec = QuestionSpec(
        "s1",
        "S",
        "",
        ("a", "b", "c", "d"),
        MultiChoice(min=0, max=2),
        Eligibility.of_registrars((bytes(REGISTRAR.verify_key).hex(),)),
        Schedule(now - 5, now + 3600),
        secret=SecretMode("c1"),
    )
    chain.submit("CreateQuestion", encoding.encode(spec.to_json()))
    chain.submit("OpenQuestion", "s1")
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
