"""Rate limits and stream limits of the voting service, for any transport (gRPC, REST).

A :class:`RateLimiter` keeps one token bucket per key (an integrator, a source address): each
request takes a token; tokens come back at ``rate`` per second up to ``burst``. A
:class:`StreamLimiter` counts open streams in all and per integrator. Both refuse with the
service's typed errors (``RATE_LIMITED``, ``TOO_MANY_STREAMS``), which the gRPC layer answers as
``RESOURCE_EXHAUSTED``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mvote.service._errors import RateLimited, StreamLimit
from mvote.service._values import Caller

#: The most buckets a limiter keeps; beyond it the fullest (idle) ones are forgotten.
MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class Rate:
    """``rate`` tokens a second, at most ``burst`` held. Precondition: rate > 0, burst >= 1."""

    rate: float
    burst: float


@dataclass(frozen=True)
class Limits:
    """The service's limits. Defaults suit one institution's integrators on a small machine."""

    per_integrator: Rate = Rate(2000.0, 4000.0)
    per_source: Rate = Rate(2000.0, 4000.0)
    max_streams: int = 64
    max_streams_per_integrator: int = 16
    #: The largest gRPC message the service takes or sends (a secret ballot is under 768 KiB).
    max_message_bytes: int = 1 << 20
    #: The most blocks one GetBlocks call returns.
    max_blocks_per_call: int = 10_000


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class RateLimiter:
    """Token buckets by key. Thread-safe; ``clock`` is monotonic seconds."""

    def __init__(
        self, rate: Rate, what: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.what = what
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> None:
        """Take ``cost`` tokens from ``key``'s bucket, or raise RateLimited naming ``what``."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.rate.burst, now)
            bucket.tokens = min(self.rate.burst, bucket.tokens + (now - bucket.at) * self.rate.rate)
            bucket.at = now
            if bucket.tokens < cost:
                raise RateLimited(
                    f"{self.what}: more than {self.rate.rate:g} requests/s "
                    f"(burst {self.rate.burst:g}) from {key}",
                    field=self.what,
                )
            bucket.tokens -= cost

    def _forget_full(self, now: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.at) * self.rate.rate >= self.rate.burst
        ]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]


class CallLimiter:
    """The per-integrator and the per-source rate limits of one service."""

    def __init__(self, limits: Limits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.integrators = RateLimiter(limits.per_integrator, "integrator", clock=clock)
        self.sources = RateLimiter(limits.per_source, "source", clock=clock)

    def admit(self, caller: Caller, cost: float = 1.0) -> None:
        """Raise RateLimited (field ``integrator`` or ``source``) if either limit is spent; a
        public caller has only the per-source limit."""
        if not caller.public:
            self.integrators.take(caller.integrator, cost)
        self.sources.take(caller.source, cost)


class StreamLimiter:
    """Open streams, in all and per integrator."""

    def __init__(self, limits: Limits) -> None:
        self._max = limits.max_streams
        self._max_each = limits.max_streams_per_integrator
        self._open: dict[str, int] = {}
        self._total = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        with self._lock:
            return self._total

    @contextmanager
    def stream(self, caller: Caller) -> Iterator[None]:
        """Hold a stream slot for ``caller`` while the block runs; StreamLimit if none."""
        key = caller.integrator
        with self._lock:
            if self._total >= self._max:
                raise StreamLimit(
                    f"streams: the service serves at most {self._max} streams at once",
                    field="streams",
                )
            if self._open.get(key, 0) >= self._max_each:
                raise StreamLimit(
                    f"streams: at most {self._max_each} streams at once per integrator ({key})",
                    field="streams",
                )
            self._open[key] = self._open.get(key, 0) + 1
            self._total += 1
        try:
            yield
        finally:
            with self._lock:
                self._total -= 1
                self._open[key] -= 1
                if not self._open[key]:
                    del self._open[key]
