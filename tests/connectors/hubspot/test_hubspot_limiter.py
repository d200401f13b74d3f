"""The client-side limiter: never more than the allowed share of a limit in any window, on a simulated clock."""

from __future__ import annotations

import bisect

import pytest

from gomme.connectors.hubspot.limiter import LimitExhausted, RateLimiter, Window


class SimulatedTime:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(time: SimulatedTime, *windows: Window, fraction: float = 0.8, max_wait: float = 1e9) -> RateLimiter:
    return RateLimiter(windows, fraction=fraction, clock=time.clock, sleep=time.sleep, max_wait=max_wait)


def most_in_any_window(stamps: list[float], seconds: float) -> int:
    """The largest number of calls falling in one half-open span [t, t + seconds)."""
    return max(bisect.bisect_left(stamps, start + seconds) - i for i, start in enumerate(stamps))


@pytest.mark.parametrize(
    ("window", "calls"),
    [
        (Window("ten_seconds", 100, 10.0), 2_000),
        (Window("search", 4, 1.0, burst_share=0.25), 300),
        (Window("daily", 1_000, 86_400.0, burst_share=0.5), 3_000),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_no_window_ever_holds_more_than_the_allowed_share(window: Window, calls: int) -> None:
    # given a limiter at the default 80% of one published limit
    time = SimulatedTime()
    rate_limiter = limiter(time, window)
    # when a caller fires as fast as it is let through
    stamps = []
    for _ in range(calls):
        rate_limiter.acquire(search=window.name == "search")
        stamps.append(time.now)
    # then no rolling window, anywhere in the run, holds more than 80% of the limit
    assert most_in_any_window(stamps, window.seconds) <= window.limit * 0.8


def test_the_sustained_rate_stays_close_to_the_allowed_share() -> None:
    # given 100 calls per 10 s, of which 80 are allowed: a burst of 4, then 7.6 per second
    time = SimulatedTime()
    rate_limiter = limiter(time, Window("ten_seconds", 100, 10.0))
    bucket = rate_limiter.buckets["ten_seconds"]
    assert bucket.capacity == pytest.approx(4.0) and bucket.rate * 10 == pytest.approx(76.0)
    # when 800 calls go through
    for _ in range(800):
        rate_limiter.acquire()
    # then they take the burst plus the rest at the sustained rate: 95% of the allowed 80 per 10 s
    assert time.now == pytest.approx((800 - 4) / 7.6, rel=1e-6)


def test_a_search_draws_on_the_search_bucket_and_the_general_ones() -> None:
    time = SimulatedTime()
    rate_limiter = limiter(time, Window("ten_seconds", 100, 10.0), Window("search", 4, 1.0, burst_share=0.25))
    general_before = rate_limiter.buckets["ten_seconds"].tokens
    rate_limiter.acquire(search=True)
    assert rate_limiter.buckets["search"].tokens == pytest.approx(0.0)
    assert rate_limiter.buckets["ten_seconds"].tokens == pytest.approx(general_before - 1)
    rate_limiter.acquire(search=False)
    assert rate_limiter.buckets["search"].tokens == pytest.approx(0.0)  # untouched by a general call


def test_the_servers_remaining_count_holds_back_the_reserved_share() -> None:
    # given a full bucket (4 tokens), and HubSpot saying only 22 calls are left in its 10-second window of 100
    time = SimulatedTime()
    rate_limiter = limiter(time, Window("ten_seconds", 100, 10.0))
    rate_limiter.observe({"X-HubSpot-RateLimit-Remaining": "22", "X-HubSpot-RateLimit-Max": "100"})
    # then only 22 - 20 (the 20% never used) go through before waiting
    assert rate_limiter.buckets["ten_seconds"].tokens == pytest.approx(2.0)


def test_waiting_past_max_wait_raises_instead_of_sleeping() -> None:
    time = SimulatedTime()
    rate_limiter = limiter(time, Window("daily", 10, 86_400.0, burst_share=0.5), max_wait=60.0)
    for _ in range(4):
        rate_limiter.acquire()
    with pytest.raises(LimitExhausted) as raised:
        rate_limiter.acquire()
    assert raised.value.window == "daily" and time.now == 0.0


def test_a_limiter_without_windows_never_waits() -> None:
    time = SimulatedTime()
    rate_limiter = limiter(time)
    for _ in range(1000):
        assert rate_limiter.acquire() == 0.0
    assert time.now == 0.0
