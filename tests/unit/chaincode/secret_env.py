"""Helpers of the secret-mode contract tests: trustees, a key ceremony run through the contract,
secret questions and ballots, trustees' decryptions. Trustee signers are seeded, so failures are
reproducible; the ceremony's own randomness is drawn by the client code as in production."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nacl.signing
from chaincode_env import CLOSES, T_SETUP, T_VOTE, Env

from mvote.chaincode import encoding
from mvote.chaincode._crypto.group import Point, point_from_hex
from mvote.chaincode._records import CastRequest, QuestionSpec
from mvote.client import _trustee as tr
from mvote.client._secret import prepare_secret_ballot


def signer(index: int) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(bytes([0x70 + index]) * 32)


def trustees(env: Env, cid: str = "c1", n: int = 5, k: int = 3) -> list[tr.TrusteeSecrets]:
    return [tr.new_trustee(env.channel, cid, n, k, i, signer(i)) for i in range(1, n + 1)]


def create(env: Env, team: Sequence[tr.TrusteeSecrets]) -> Any:
    p = team[0].params
    spec = tr.ceremony_spec(p.ceremony, p.n, p.k, [t.registration() for t in team])
    return env.ok("CreateCeremony", spec)


def deal_all(env: Env, team: Sequence[tr.TrusteeSecrets], registrations: Any) -> None:
    for t in team:
        env.ok("PostDealing", tr.dealing_posting(t, registrations))


def stored_dealings(env: Env, cid: str, n: int) -> list[Any]:
    from mvote.chaincode import _keys as keys

    out = []
    for i in range(1, n + 1):
        found = env.ledger.state.get(keys.dealing_key(cid, i))
        assert found is not None
        out.append(encoding.decode(found[0], max_size=1 << 24))
    return out


def ceremony(env: Env, cid: str = "c1", n: int = 5, k: int = 3) -> list[tr.TrusteeSecrets]:
    """A complete k-of-n ceremony run through the contract."""
    team = trustees(env, cid, n, k)
    record = create(env, team)
    deal_all(env, team, record["trustees"])
    dealings = stored_dealings(env, cid, n)
    for t in team:
        env.ok("PostCheck", tr.check_posting(t, dealings))
    done = env.ok("CompleteCeremony", cid)
    assert done["state"] == "COMPLETE"
    return team


def election_key(env: Env, cid: str = "c1") -> Point:
    return point_from_hex(env.query("GetCeremony", cid)["election_key"], "election_key")


def secret_question(env: Env, cid: str = "c1", **fields: Any) -> dict[str, Any]:
    spec = {**env.spec(mode="secret", **fields), "election": cid}
    env.ok("CreateQuestion", encoding.encode(spec))
    env.ok("OpenQuestion", spec["qid"], at=T_SETUP + 1)
    return spec


def secret_request(
    env: Env,
    key: nacl.signing.SigningKey,
    spec: dict[str, Any],
    choices: Sequence[int],
    *,
    cid: str = "c1",
    **kwargs: Any,
) -> CastRequest:
    return prepare_secret_ballot(
        key,
        channel=env.channel,
        question=QuestionSpec.from_json(spec),
        election_key=election_key(env, cid),
        choices=choices,
        **kwargs,
    ).request


def cast_secret(
    env: Env, key: nacl.signing.SigningKey, spec: dict[str, Any], choices: Sequence[int]
) -> Any:
    request = secret_request(env, key, spec, choices)
    return env.ok("Cast", encoding.encode(request.to_json()), at=T_VOTE)


def totals(env: Env, qid: str, shards: int) -> list[Any]:
    aggregates = [env.query("GetAggregate", qid, str(s)) for s in range(shards)]
    return tr.question_totals(aggregates)


def close_and_aggregate(env: Env, qid: str, shards: int = 1) -> None:
    env.ok("CloseQuestion", qid, at=CLOSES)
    env.aggregate_all(qid, shards)
