"""The incremental position every connector keeps per object: an inclusive timestamp bound, plus the ids already
read at that very timestamp.

Why inclusive: a pull that asks for `modified > T` loses a record written at T after the previous pull read the
others of T; `modified >= T` never does, and the ids read at T (with the version they had) let the next pull drop
what it already saw unless it changed again. Remembering them is an optimisation only: an id not remembered is
simply read again, which is harmless (rules are idempotent), so at most `MAX_SEEN` are kept.

A CRM filters at its own resolution (Salesforce SOQL in whole seconds, HubSpot in milliseconds, the local CRM in
microseconds): `at` is truncated to it, and each id remembers its milliseconds past `at`, so a record changed again
within the same filtered second is read again.

Stored as one JSON string per object type, `{"at": "<ISO-8601 UTC>", "seen": {"<id>": <ms past at>}}`, in the
opaque cursor the state keeps. Older forms are read too: a bare ISO-8601 timestamp, and `<timestamp>|id,id`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gomme.connectors.errors import FatalError

MAX_SEEN = 10_000
SECOND = dt.timedelta(seconds=1)
MILLISECOND = dt.timedelta(milliseconds=1)
MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Position:
    """Read from `at` on (inclusive), except the ids in `seen` while they still carry the version read."""

    at: dt.datetime  # UTC, truncated to the CRM's resolution
    seen: Mapping[str, int] = field(default_factory=dict)  # id → milliseconds past `at` when it was read
    resolution: dt.timedelta = MICROSECOND

    @classmethod
    def parse(cls, text: str, *, resolution: dt.timedelta, connector: str, object_type: str) -> Position:
        """A stored position (any of the forms above); an unreadable one stops the run with the fix."""
        try:
            data: dict[str, Any]
            if text.lstrip().startswith("{"):
                data = json.loads(text)
            else:
                stamp, _, ids = text.partition("|")
                data = {"at": stamp, "seen": dict.fromkeys(filter(None, ids.split(",")), 0)}
            at = _aware(dt.datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00")))
            seen = {str(key): int(value) for key, value in dict(data.get("seen") or {}).items()}
        except (TypeError, ValueError, KeyError, AttributeError):
            raise FatalError(
                f"connectors.{connector}: the stored cursor for {object_type} is unreadable; "
                "run `gomme sweep --full` once to start afresh"
            ) from None
        return cls(_truncate(at, resolution), seen, resolution)

    def dump(self) -> str:
        return json.dumps({"at": _format(self.at, self.resolution), "seen": dict(sorted(self.seen.items()))},
                          separators=(",", ":"))  # fmt: skip

    def already_seen(self, record_id: str, stamp: dt.datetime) -> bool:
        """Read before, in this very version (the same filtered instant and the same milliseconds past it)."""
        at = _truncate(stamp, self.resolution)
        return at == self.at and self.seen.get(record_id) == _past(stamp, at)


class Tracker:
    """Follows the newest change read in one pull of one object; its position never moves backwards."""

    def __init__(self, previous: Position | None, resolution: dt.timedelta) -> None:
        self.previous = previous
        self.resolution = resolution
        self.read = 0
        self._at: dt.datetime | None = None
        self._seen: dict[str, int] = {}

    def saw(self, record_id: str, stamp: dt.datetime | None) -> None:
        self.read += 1
        if stamp is None:
            return
        at = _truncate(stamp, self.resolution)
        if self._at is None or at > self._at:
            self._at, self._seen = at, {}
        if at == self._at and len(self._seen) < MAX_SEEN:
            self._seen[record_id] = _past(stamp, at)

    def position(self, cap: dt.datetime | None = None) -> Position | None:
        """The newest change read, merged with the previous position; never past `cap` (a record left unread,
        or a search index's lag), never behind the previous position."""
        previous = self.previous
        if self._at is None:
            return previous
        position = Position(self._at, dict(self._seen), self.resolution)
        if cap is not None and self._at > _truncate(cap, self.resolution):
            position = Position(_truncate(cap, self.resolution), {}, self.resolution)
        if previous is None or position.at > previous.at:
            return position
        if position.at < previous.at:
            return previous
        seen = {**previous.seen, **position.seen}  # the same instant: both were read
        return Position(position.at, seen if len(seen) <= MAX_SEEN else dict(position.seen), self.resolution)


def _aware(stamp: dt.datetime) -> dt.datetime:
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


def _truncate(stamp: dt.datetime, resolution: dt.timedelta) -> dt.datetime:
    stamp = _aware(stamp)
    if resolution >= SECOND:
        return stamp.replace(microsecond=0)
    if resolution >= MILLISECOND:
        return stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)
    return stamp


def _past(stamp: dt.datetime, at: dt.datetime) -> int:
    return (_aware(stamp) - at) // MILLISECOND


def _format(at: dt.datetime, resolution: dt.timedelta) -> str:
    spec = "seconds" if resolution >= SECOND else "milliseconds" if resolution >= MILLISECOND else "microseconds"
    return at.astimezone(dt.UTC).isoformat(timespec=spec).replace("+00:00", "Z")
