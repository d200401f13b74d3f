"""ISO-8601 retention periods (`P3Y`), applied with calendar arithmetic by `isodate`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import isodate

_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Period:
    """A positive ISO-8601 duration; `before(now)` steps back in calendar units (29 Feb minus P1Y = 28 Feb)."""

    text: str
    delta: Any  # isodate.Duration (years/months) or datetime.timedelta; isodate ships no type hints
    human: str = field(init=False, compare=False)  # `3-year`, `18-month`, `30-day`, or the ISO text
    _last: tuple[dt.datetime, dt.datetime] | None = field(init=False, compare=False, repr=False, default=None)

    @classmethod
    def parse(cls, value: object) -> Period:
        """Parse a duration string such as `P3Y` or `P18M`; raises ValueError with a readable message."""
        if isinstance(value, Period):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected an ISO-8601 duration string such as 'P3Y', got {type(value).__name__}")
        try:
            delta = isodate.parse_duration(value)
        except (isodate.ISO8601Error, ValueError, TypeError):
            raise ValueError(f"invalid ISO-8601 duration {value!r} (expected e.g. 'P3Y', 'P18M', 'P30D')") from None
        if not _EPOCH - delta < _EPOCH:
            raise ValueError(f"duration {value!r} must be longer than zero")
        text: str = isodate.duration_isoformat(delta)
        return cls(text, delta)

    def before(self, moment: dt.datetime) -> dt.datetime:
        """The moment one period earlier. A sweep asks it for every record with one `now`: the last answer is kept."""
        last = self._last
        if last is not None and last[0] is moment:
            return last[1]
        earlier: dt.datetime = moment - self.delta  # isodate does calendar arithmetic for years and months
        object.__setattr__(self, "_last", (moment, earlier))  # a cache, not state: equality ignores it
        return earlier

    def after(self, moment: dt.date) -> dt.date:
        """The day or moment one period later (a clock's due date); the last representable one on overflow."""
        try:
            later: dt.date = moment + self.delta
        except (OverflowError, ValueError):  # isodate says ValueError for a year past 9999
            return moment.replace(year=9999, month=12, day=31)
        return later

    @property
    def words(self) -> str:
        """The period in plain English: `3 years`, `18 months`, `1 year and 6 months`, `30 days`."""
        if isinstance(self.delta, dt.timedelta):
            parts = [(self.delta.days, "day")]
            rest = self.delta - dt.timedelta(days=self.delta.days)
        else:
            tdelta = self.delta.tdelta
            parts = [(int(self.delta.years), "year"), (int(self.delta.months), "month"), (tdelta.days, "day")]
            rest = tdelta - dt.timedelta(days=tdelta.days)
        named = [f"{count} {unit}{'' if count == 1 else 's'}" for count, unit in parts if count]
        if rest or not named:
            return self.text  # hours or minutes: no retention period is that short, keep the ISO text
        return " and ".join(named) if len(named) < 3 else f"{named[0]}, {named[1]} and {named[2]}"

    def __hash__(self) -> int:
        return hash(self.text)  # the canonical ISO text identifies the duration

    def __post_init__(self) -> None:
        object.__setattr__(self, "human", self._human())

    def _human(self) -> str:
        """`3-year`, `18-month`, `30-day`, or the ISO text for mixed periods."""
        if isinstance(self.delta, dt.timedelta):
            whole_days = self.delta.seconds == 0 and self.delta.microseconds == 0
            return f"{self.delta.days}-day" if whole_days else self.text
        years, months, rest = int(self.delta.years), int(self.delta.months), self.delta.tdelta
        if rest:
            return self.text
        if not months:
            return f"{years}-year"
        return f"{months}-month" if not years else self.text

    def __str__(self) -> str:
        return self.text
