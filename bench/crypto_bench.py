"""Secret-ballot cryptography: per-ballot encrypt and verify time, and the tally time.

    .venv/bin/python -m bench.crypto_bench     # alone (also run at the end of ``make bench``)

Every per-ballot figure is printed beside the time of one variable-base scalar multiplication
measured in the same run (libsodium's ``crypto_scalarmult_ed25519_noclamp``), as a ratio: the
ratio is what to compare across machines. The tally decrypts the 30 per-option aggregates of
100,000 ballots of an "up to 3 of 30" question with 3 of 5 trustees (2 absent): partial
decryptions with proofs, their verification, Lagrange combination and the discrete logs.
The aggregates are made by encrypting their totals directly (the same distribution as a sum of
100,000 ballots); summing real ballots is measured separately, per ballot.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

from mvote.chaincode import encoding
from mvote.chaincode._crypto import ballot, ceremony, elgamal, group

TALLY_BALLOTS = 100_000


def _rand() -> int:
    while True:
        value = group.reduce_wide(os.urandom(64))
        if value:
            return value


def _encrypt(ctx: ballot.BallotContext, choices: list[int]) -> ballot.EncryptedBallot:
    return ballot.encrypt_ballot(ctx, choices, os.urandom(32))


def _decode_and_verify(ctx: ballot.BallotContext, data: bytes) -> None:
    decoded = ballot.EncryptedBallot.from_json(encoding.decode(data, max_size=1 << 22))
    ballot.verify_ballot(ctx, decoded)


def _time(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` runs of ``fn`` in seconds (after one warm-up run): the least
    disturbed by other work on a shared machine."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return min(samples)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f} ms"


def _ceremony(
    n: int, k: int
) -> tuple[ceremony.CeremonyParams, dict[int, int], dict[int, group.Point], group.Point]:
    params = ceremony.CeremonyParams("mvote", "bench", n, k)
    coefs = {i: [_rand() for _ in range(k)] for i in range(1, n + 1)}
    dealings = [ceremony.deal(params, i, coefs[i], [_rand() for _ in range(k)]) for i in coefs]
    shares = {
        t: ceremony.secret_share(ceremony.evaluate(coefs[d], t) for d in coefs) for t in coefs
    }
    public = {t: ceremony.public_share(params, dealings, t) for t in coefs}
    return params, shares, public, ceremony.election_key(params, dealings)


def main() -> None:
    print("== secret ballots: edwards25519 through libsodium (pynacl) ==")
    point = group.base_mul(_rand())
    s = _rand()
    mult = _time(lambda: group.mul(s, point), 400)
    base = _time(lambda: group.base_mul(s), 400)
    add = _time(lambda: point + point, 400)
    check = _time(lambda: group.decode_point(point.encoded, "p"), 400)
    print(f"{'one scalar multiplication (variable base)':<46}{_ms(mult)}")
    print(f"{'one scalar multiplication (base G)':<46}{_ms(base)}   {base / mult:6.2f} mults")
    print(f"{'one point addition':<46}{_ms(add)}   {add / mult:6.2f} mults")
    print(f"{'one point decode + subgroup check':<46}{_ms(check)}   {check / mult:6.2f} mults")

    # ElectionGuard 2.0's group for comparison: exponentiation modulo a 4096-bit prime with a
    # 256-bit exponent (any 4096-bit odd modulus costs the same), with Python's own integers.
    modulus = (1 << 4096) - 1 - (1 << 3000)
    exponent = _rand()
    modexp = _time(lambda: pow(3, exponent, modulus), 50)
    print(
        f"{'one 4096-bit modexp, 256-bit exponent (EG 2.0)':<46}{_ms(modexp)}   "
        f"{modexp / mult:6.2f} mults"
    )

    params, shares, public, key = _ceremony(5, 3)
    voter = os.urandom(32)
    for label, options, lo, hi, choices, repeat in (
        ("1-of-5", 5, 1, 1, [3], 30),
        ("3-of-30 (0..3 of 30)", 30, 0, 3, [2, 11, 29], 15),
    ):
        ctx = ballot.BallotContext(key, "mvote", "bench", voter, options, lo, hi)
        enc = _time(functools.partial(_encrypt, ctx, choices), repeat)
        b = ballot.encrypt_ballot(ctx, choices, os.urandom(32))
        data = encoding.encode(b.to_json())
        ver = _time(functools.partial(ballot.verify_ballot, ctx, b), repeat)
        full = _time(functools.partial(_decode_and_verify, ctx, data), repeat)
        print(f"{label} ballot: {len(data)} bytes of canonical JSON")
        print(f"  {'encrypt + prove':<44}{_ms(enc)}   {enc / mult:6.1f} mults")
        print(f"  {'verify (decoded)':<44}{_ms(ver)}   {ver / mult:6.1f} mults")
        print(f"  {'decode (point checks) + verify':<44}{_ms(full)}   {full / mult:6.1f} mults")

    # Aggregation: adding one 30-option ballot into a running sum.
    ctx30 = ballot.BallotContext(key, "mvote", "bench", voter, 30, 0, 3)
    cts = ballot.encrypt_ballot(ctx30, [1, 2, 3], os.urandom(32)).ciphertexts()
    running = [elgamal.ZERO] * 30

    def aggregate_one() -> None:
        for i, c in enumerate(cts):
            running[i] = running[i] + c

    agg = _time(aggregate_one, 50)
    print(
        f"{'aggregate one 3-of-30 ballot (30 ciphertexts)':<46}{_ms(agg)}   {agg / mult:6.1f} mults"
    )
    print(
        f"  {'-> 100,000 ballots, one core':<44}{agg * TALLY_BALLOTS:9.1f} s "
        "(sharded and endorsed in parallel on chain)"
    )

    # Tally of 100,000 ballots' aggregate: 30 options, 3 of 5 trustees present.
    counts = [(TALLY_BALLOTS * (i + 1)) // 60 for i in range(30)]  # each below 100,000
    aggregates = [elgamal.encrypt(c, key, _rand()) for c in counts]
    present = [1, 3, 5]
    elgamal.discrete_log(group.IDENTITY, TALLY_BALLOTS)  # build the baby-step table once

    start = time.perf_counter()
    partials = [
        [ceremony.partial_decrypt(params, t, shares[t], ct, f"bench/{i}", _rand()) for t in present]
        for i, ct in enumerate(aggregates)
    ]
    made = time.perf_counter() - start
    start = time.perf_counter()
    results = [
        ceremony.threshold_decrypt(
            params, public, ct, partials[i], f"bench/{i}", TALLY_BALLOTS, f"tally[{i}]"
        )
        for i, ct in enumerate(aggregates)
    ]
    checked = time.perf_counter() - start
    assert results == counts
    start = time.perf_counter()
    for i, ct in enumerate(aggregates):
        elgamal.discrete_log(ceremony.combine(params, ct, partials[i], "t"), TALLY_BALLOTS)
    dlog = time.perf_counter() - start
    print(f"tally of {TALLY_BALLOTS:,} ballots' aggregate, 30 options, 3 of 5 trustees:")
    print(f"  {'trustees: 90 partial decryptions + proofs':<44}{made * 1e3:9.1f} ms")
    print(f"  {'verify 90 proofs, combine, 30 discrete logs':<44}{checked * 1e3:9.1f} ms")
    print(f"  {'of which combine + discrete logs':<44}{dlog * 1e3:9.1f} ms")
    start = time.perf_counter()
    elgamal.discrete_log(group.base_mul(9_999_999), 10_000_000)
    print(
        f"  {'one discrete log, bound 10,000,000 (cold)':<44}{(time.perf_counter() - start) * 1e3:9.1f} ms"
    )


if __name__ == "__main__":
    main()
