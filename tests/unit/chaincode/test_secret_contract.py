"""Secret mode in the contract: the key ceremony, encrypted ballots, homomorphic aggregation,
trustees' partial decryptions and the tally; every bad input refused with its code, the field
named and nothing written (``Env.refused``)."""

from __future__ import annotations

import secret_env as se
from chaincode_env import CLOSES, Env

from mvote.client import trustee as tr


def test_secret_question_end_to_end(env: Env) -> None:
    voters = env.roster("r1", range(1, 8))
    team = se.ceremony(env)
    spec = se.secret_question(
        env, options=("a", "b", "c", "d"), rule={"kind": "multi", "min": 0, "max": 2}, shards=2
    )
    choices = [(0,), (0, 1), (), (1, 3), (3,), (0, 3), (2,)]
    for key, c in zip(voters, choices, strict=True):
        se.cast_secret(env, key, spec, c)
    se.close_and_aggregate(env, "q1", 2)
    sums = se.totals(env, "q1", 2)
    for t in (team[0], team[2], team[4]):
        env.ok("PostDecryption", tr.decryption_posting(t, "q1", sums), at=CLOSES + 2)
    tally = env.ok("Tally", "q1", at=CLOSES + 3)
    assert tally["counts"] == [3, 2, 1, 3]
    assert tally["ballots"] == 7
    assert tally["outcome"] == {"kind": "plurality", "winners": [0, 3]}
    assert tally["decryption"]["trustees"] == [1, 3, 5]
