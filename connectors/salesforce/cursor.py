"""The incremental position per object: an inclusive `SystemModstamp` bound plus the ids already seen on it.

`SystemModstamp >= at` (whole seconds, inclusive) never loses a record that shares the boundary
timestamp, as a strict `>` would; the ids read at that second, with their milliseconds, let the next
pull drop what it already saw unless it changed again. Stored as JSON in the opaque cursor string.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from gomme.connectors.errors import FatalError

MAX_SEEN = 10_000  # beyond this many ids on one second, keep none: re-reading them is safe, only wasteful


@dataclass(frozen=True, slots=True)
class Position:
    at: dt.datetime  # whole second, UTC
    seen: dict[str, int] = field(default_factory=dict)  # id → millisecond within `at`

    @classmethod
    def parse(cls, text: str, object_type: str, connector: str) -> Position:
        """A stored position; a bare ISO-8601 timestamp is accepted too (nothing seen on it)."""
        try:
            data: dict[str, Any] = json.loads(text) if text.lstrip().startswith("{") else {"at": text}
            at = dt.datetime.fromisoformat(data["at"])
            seen = {str(key): int(value) for key, value in dict(data.get("seen") or {}).items()}
        except (TypeError, ValueError, KeyError, AttributeError):
            raise FatalError(
                f"connectors.{connector}: the stored cursor for {object_type} is unreadable; "
                "run `gomme sweep --full` once to start afresh"
            ) from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        return cls(_second(at), seen)

    def dump(self) -> str:
        stamp = self.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps({"at": stamp, "seen": dict(sorted(self.seen.items()))}, separators=(",", ":"))

    def already_seen(self, record_id: str, stamp: dt.datetime) -> bool:
        """Read before, in this very version (same second and millisecond)."""
        return _second(stamp) == self.at and self.seen.get(record_id) == _millis(stamp)


class Tracker:
    """Follows the newest `SystemModstamp` read in one pull of one object; never moves backwards."""

    def __init__(self, previous: Position | None) -> None:
        self.previous = previous
        self.read = 0
        self._at: dt.datetime | None = None
        self._seen: dict[str, int] = {}

    def saw(self, record_id: str, stamp: dt.datetime) -> None:
        self.read += 1
        second = _second(stamp)
        if self._at is None or second > self._at:
            self._at, self._seen = second, {}
        if second == self._at and len(self._seen) <= MAX_SEEN:
            self._seen[record_id] = _millis(stamp)

    def position(self) -> Position | None:
        previous = self.previous
        if self._at is None or (previous is not None and previous.at > self._at):
            return previous
        seen = dict(previous.seen) if previous is not None and previous.at == self._at else {}
        seen.update(self._seen)
        return Position(self._at, seen if len(seen) <= MAX_SEEN else {})


def _second(stamp: dt.datetime) -> dt.datetime:
    return stamp.astimezone(dt.UTC).replace(microsecond=0)


def _millis(stamp: dt.datetime) -> int:
    return stamp.microsecond // 1000
