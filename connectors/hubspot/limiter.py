"""Client-side rate limiting: one token bucket per HubSpot limit window, so 429s stay the exception.

A bucket that starts full (burst B) and refills at rate r lets B + r·T calls through in any window of
length T. Each bucket is sized so that B + r·T equals the allowed share (by default 80%) of the
window's limit: the limiter keeps under a *rolling* window, not only on average.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Window:
    """A published limit: `limit` calls per `seconds`; `burst_share` of the allowed calls may come at once."""

    name: str
    limit: int
    seconds: float
    burst_share: float = 0.05


class TokenBucket:
    """Allows at most `allowed` calls in any span of `window.seconds`."""

    def __init__(self, window: Window, fraction: float, now: float) -> None:
        self.window = window
        self.allowed = max(1.0, window.limit * fraction)
        self.capacity = max(1.0, self.allowed * window.burst_share)
        self.rate = max(self.allowed - self.capacity, 0.0) / window.seconds
        self.reserve = window.limit - self.allowed
        self._tokens = self.capacity
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when there is one now)."""
        self._refill(now)
        if self._tokens >= 1.0 - _EPSILON:  # float rounding must not leave a sleep too short to move the clock
            return 0.0
        if self.rate <= 0.0:
            return self.window.seconds
        return (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0

    def observe_remaining(self, remaining: int, now: float) -> None:
        """The server says how many calls are left in its window: never use the reserved share of them."""
        self._refill(now)
        self._tokens = min(self._tokens, remaining - self.reserve)

    @property
    def tokens(self) -> float:
        return self._tokens


class LimitExhausted(Exception):
    """Waiting for a token would take longer than the caller accepts (e.g. the daily reserve is reached)."""

    def __init__(self, window: str, wait: float) -> None:
        super().__init__(f"the {window} API allowance is used up for about {wait:.0f} s")
        self.window = window
        self.wait = wait


# Which buckets a call draws from, by kind of call.
GENERAL = ("ten_seconds", "daily")
SEARCH = ("ten_seconds", "daily", "search")


class RateLimiter:
    """Blocks each call until every bucket it draws from has a token; thread-safe."""

    def __init__(
        self,
        windows: tuple[Window, ...],
        *,
        fraction: float = 0.8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 300.0,
    ) -> None:
        self._clock = clock
        self._max_wait = max_wait
        self._sleep = sleep
        self._lock = threading.Lock()
        self.buckets = {window.name: TokenBucket(window, fraction, clock()) for window in windows}
        self.waited = 0.0
        self.daily_remaining: int | None = None  # the last X-HubSpot-RateLimit-Daily-Remaining seen

    @classmethod
    def for_hubspot(
        cls,
        *,
        per_10s: int,
        daily: int,
        search_per_second: int,
        fraction: float = 0.8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RateLimiter:
        """The three limits of docs/crm-apis.md B3: per 10 s (per app), per day (per account), search per second."""
        windows = (
            Window("ten_seconds", per_10s, 10.0),
            # Half the daily allowance may be spent at once; the rest trickles in, so any 24 h span stays under.
            Window("daily", daily, 86_400.0, burst_share=0.5),
            Window("search", search_per_second, 1.0, burst_share=0.25),
        )
        return cls(windows, fraction=fraction, clock=clock, sleep=sleep)

    def acquire(self, search: bool = False) -> float:
        """Take one token from each bucket the call needs, sleeping until they all have one; returns the wait.

        Raises LimitExhausted instead of sleeping longer than `max_wait` at once.
        """
        names = SEARCH if search else GENERAL
        buckets = [self.buckets[name] for name in names if name in self.buckets]
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = max((bucket.wait_time(now) for bucket in buckets), default=0.0)
                if wait <= 0.0:
                    for bucket in buckets:
                        bucket.take(now)
                    self.waited += waited
                    return waited
                if wait > self._max_wait:
                    slowest = max(buckets, key=lambda bucket: bucket.wait_time(now))
                    raise LimitExhausted(slowest.window.name, wait)
            self._sleep(wait)
            waited += wait

    def observe(self, headers: Mapping[str, str]) -> None:
        """Align with the server's own counters (`X-HubSpot-RateLimit-*`), when a response carries them."""
        pairs = (("ten_seconds", "X-HubSpot-RateLimit-Remaining"), ("daily", "X-HubSpot-RateLimit-Daily-Remaining"))
        with self._lock:
            now = self._clock()
            for name, header in pairs:
                value = _header(headers, header)
                if name == "daily" and value is not None:
                    self.daily_remaining = value
                if value is not None and name in self.buckets:
                    self.buckets[name].observe_remaining(value, now)


def _header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    try:
        return None if value is None else int(value)
    except ValueError:
        return None
