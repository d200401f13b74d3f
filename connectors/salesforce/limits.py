"""Keeping within the org's limits: a client-side rate limiter and the daily API allowance reserve."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gomme.connectors.errors import FatalError

# `api-usage=18/5000`, possibly followed by `; per-app-api-usage=...` (which must not match first).
_API_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(?P<used>\d+)/(?P<total>\d+)")


class BudgetExhausted(FatalError):
    """The run stopped before eating into the reserve of the daily allowance; pending work resumes next run."""


@dataclass(frozen=True, slots=True)
class Usage:
    used: int
    total: int


def parse_limit_info(header: str | None) -> Usage | None:
    """The org-wide usage from a `Sforce-Limit-Info` header, if it carries one."""
    match = _API_USAGE.search(header or "")
    return Usage(int(match["used"]), int(match["total"])) if match else None


class ApiBudget:
    """Stops before the last `reserve_percent` of the daily allowance, as last reported by the org.

    Nothing is known before the first response; every response updates it.
    """

    def __init__(self, connector: str, reserve_percent: float) -> None:
        self._connector = connector
        self._reserve = reserve_percent
        self.usage: Usage | None = None

    def observe(self, header: str | None) -> None:
        usage = parse_limit_info(header)
        if usage is not None:
            self.usage = usage

    @property
    def allowed(self) -> int | None:
        """How many calls the org's allowance lets gomme have used in all, reserve excluded."""
        if self.usage is None:
            return None
        return int(self.usage.total * (100 - self._reserve) / 100)

    def remaining(self) -> int | None:
        allowed = self.allowed
        return None if allowed is None or self.usage is None else max(0, allowed - self.usage.used)

    def ensure(self, calls: int = 1) -> None:
        """Raise BudgetExhausted unless `calls` more calls stay out of the reserve."""
        remaining = self.remaining()
        if remaining is not None and calls > remaining and self.usage is not None:
            raise BudgetExhausted(
                f"connectors.{self._connector}: stopped to keep the last {self._reserve:g}% of the org's daily "
                f"API allowance for its other users ({self.usage.used} of {self.usage.total} calls used in the "
                f"last 24 h; reserve_percent = {self._reserve:g}). Pending changes resume on the next run."
            )


class RateLimiter:
    """A token bucket: at most `rate` requests per second on average, bursts of up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self._capacity
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the time slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= 1
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)
        return wait
