"""Shared pieces of the benchmarks: timing loops, the per-ballot signature work, reporting."""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable

import nacl.signing
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from mvote.client._identity import sign_low_s


def per_second(fn: Callable[[], object], *, seconds: float = 1.0) -> float:
    """How many times ``fn`` runs per second, alone, on this machine now (best of 3 rounds)."""
    rates = []
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            fn()
            count += 1
        rates.append(count / elapsed)
    return max(rates)


class SignatureWork:
    """The signature operations of mvote's ballot path, each runnable alone."""

    def __init__(self) -> None:
        self.ecdsa = ec.generate_private_key(ec.SECP256R1())
        self.ecdsa_pub = self.ecdsa.public_key()
        self.data = b"x" * 2048
        self.ecdsa_sig = sign_low_s(self.ecdsa, self.data)
        self.voter = nacl.signing.SigningKey.generate()
        self.ballot = b"b" * 200
        self.voter_sig = self.voter.sign(self.ballot).signature

    def ecdsa_sign(self) -> None:
        sign_low_s(self.ecdsa, self.data)

    def ecdsa_verify(self) -> None:
        self.ecdsa_pub.verify(self.ecdsa_sig, self.data, ec.ECDSA(hashes.SHA256()))

    def ed25519_verify(self) -> None:
        self.voter.verify_key.verify(self.ballot, self.voter_sig)


def seconds_per(rate: float) -> float:
    return 1.0 / rate


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def line(
    name: str, value: float, unit: str, limit: float | None = None, floor: float | None = None
) -> str:
    text = f"{name:<44} {value:>10.1f} {unit}"
    if limit:
        text += f"   limit {limit:>10.1f} {unit}   ratio {value / limit:>5.2f}"
    if floor is not None:
        text += f"   floor {floor:.0f}: {'ok' if value >= floor else 'BELOW'}"
    return text
