"""The voting service's limiters and paging, with a clock the test moves (no sleeping)."""

from __future__ import annotations

import pytest

from mvote.service import Caller, Limits, Rate, RateLimited, RateLimiter, StreamLimit
from mvote.service._limits import CallLimiter, StreamLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(2.0, 3.0), "integrator", clock=clock)
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited) as refused:
        limiter.take("a")
    assert refused.value.field == "integrator"
    limiter.take("b")  # another key has its own bucket
    clock.now += 0.5  # one token back
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")
    clock.now += 100  # never more than the burst
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")


def test_a_public_caller_has_only_the_per_source_limit() -> None:
    clock = Clock()
    limits = Limits(per_integrator=Rate(1e-9, 1), per_source=Rate(1e-9, 2))
    calls = CallLimiter(limits, clock=clock)
    public = Caller("", "", "10.0.0.1")
    calls.admit(public)
    calls.admit(public)
    with pytest.raises(RateLimited) as refused:
        calls.admit(public)
    assert refused.value.field == "source"
    site = Caller("CityhallMSP", "CN=site", "10.0.0.2")
    calls.admit(site)
    with pytest.raises(RateLimited) as refused:
        calls.admit(site)
    assert refused.value.field == "integrator"


def test_streams_are_limited_in_all_and_per_integrator() -> None:
    streams = StreamLimiter(Limits(max_streams=3, max_streams_per_integrator=2))
    a = Caller("A", "CN=a", "h")
    b = Caller("B", "CN=b", "h")
    with streams.stream(a), streams.stream(a):
        with pytest.raises(StreamLimit) as refused, streams.stream(a):
            pass
        assert "per integrator" in refused.value.message
        with streams.stream(b):
            assert streams.open == 3
            with pytest.raises(StreamLimit), streams.stream(b):
                pass
    assert streams.open == 0
    with streams.stream(a):
        assert streams.open == 1
