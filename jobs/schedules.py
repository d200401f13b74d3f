"""What the daemon runs and when: job specs, intervals, triggers, and the slot each scheduled run fills.

Replicas must agree on slots: a slot is a cron fire time, or an interval tick aligned to the Unix
epoch (`every = "15m"` fires at :00, :15, :30, :45 UTC on every replica, whenever it started).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator

from gomme.jobs.guard import ChangeLimitValue

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_JOB_ID = 120  # the lease table keys jobs on 128 characters

_INTERVAL = re.compile(r"(?:\d+[smhd])+")
_PART = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_interval(text: str) -> dt.timedelta:
    """`30s`, `15m`, `2h`, `1d`, or a sum such as `1h30m`: whole seconds, more than zero."""
    compact = text.strip().lower()
    if not _INTERVAL.fullmatch(compact):
        raise ValueError(f"'{text}' is not an interval such as 30s, 15m, 2h, 1d or 1h30m")
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError("an interval must be longer than zero")
    return dt.timedelta(seconds=seconds)


def format_interval(interval: dt.timedelta) -> str:
    """The shortest text `parse_interval` reads back: 900 seconds → `15m`, 5400 → `1h30m`."""
    seconds, parts = int(interval.total_seconds()), []
    for unit, size in _UNIT_SECONDS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _coerce_interval(value: object) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, str):
        return parse_interval(value)
    raise ValueError("expected an interval such as '30s', '15m', '2h' or '1d'")


Interval = Annotated[dt.timedelta, BeforeValidator(_coerce_interval)]


class JobKind(StrEnum):
    SWEEP = "sweep"
    REQUESTS = "requests"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One scheduled job: exactly one of `cron` (5 fields) or `every`. `id` names its lock, slots and metrics."""

    id: str
    kind: JobKind
    cron: str | None = None
    every: dt.timedelta | None = None
    connectors: tuple[str, ...] = ()
    apply: bool = False
    max_changes: ChangeLimitValue | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise ValueError(f"job {self.id}: give exactly one of cron or every")


def job_id(kind: JobKind, *, connectors: tuple[str, ...] = (), apply: bool = False, cron: str | None = None,
           every: dt.timedelta | None = None) -> str:
    """A readable id derived from what the job does, the same on every replica given the same config.

    `sweep[crm] apply @ 0 3 * * *`, `requests @ every 5m`.
    """
    when = cron if cron is not None else f"every {format_interval(every or dt.timedelta())}"
    scope = f"[{','.join(connectors)}]" if connectors else ""
    text = f"{kind}{scope}{' apply' if apply else ''} @ {' '.join(when.split())}"
    if len(text) <= MAX_JOB_ID:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{text[:MAX_JOB_ID - 13]}~{digest}"


def trigger(spec: JobSpec, timezone: dt.tzinfo) -> Any:
    """The APScheduler trigger: cron in `timezone`; intervals aligned to the epoch so replicas share slots."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if spec.cron is not None:
        return CronTrigger.from_crontab(spec.cron, timezone=timezone)
    assert spec.every is not None
    return IntervalTrigger(seconds=int(spec.every.total_seconds()), start_date=EPOCH, timezone=dt.UTC)


def latest_fire_time(fires: Any, now: dt.datetime, horizon: dt.timedelta) -> dt.datetime | None:
    """The slot a run that starts at `now` fills: the trigger's last fire time at or before `now`.

    Only fire times within `horizon` (the misfire grace and some margin) count: a run started later
    than that belongs to no slot. Returned in UTC, so every replica keys it the same way.
    """
    moment = fires.get_next_fire_time(None, now - horizon)
    latest = None
    while moment is not None and moment <= now:
        latest = moment
        moment = fires.get_next_fire_time(moment, moment)
    return None if latest is None else latest.astimezone(dt.UTC)
