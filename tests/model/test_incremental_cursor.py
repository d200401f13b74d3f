"""The incremental position every connector keeps (connectors/incremental.py): inclusive bound + ids seen at it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gomme.connectors.errors import FatalError
from gomme.connectors.incremental import MAX_SEEN, MICROSECOND, MILLISECOND, SECOND, Position, Tracker

T0 = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def parse(text: str, resolution: dt.timedelta = SECOND) -> Position:
    return Position.parse(text, resolution=resolution, connector="crm", object_type="contact")


@pytest.mark.parametrize(
    ("stored", "resolution", "expected_at", "expected_seen"),
    [
        ('{"at":"2025-06-01T12:00:00Z","seen":{"003A":250}}', SECOND, T0, {"003A": 250}),  # Salesforce, as stored
        ("2025-06-01T12:00:00.000Z|1001,1002", MILLISECOND, T0, {"1001": 0, "1002": 0}),  # HubSpot's older form
        ("2025-06-01T12:00:00.000Z", MILLISECOND, T0, {}),  # a bare timestamp: nothing seen
        ("2025-06-01T14:00:00.123456+02:00", MICROSECOND, at(0.123456), {}),  # the local CRM's older form
        ('{"at":"2025-06-01T12:00:00.900Z","seen":{}}', SECOND, T0, {}),  # truncated to the resolution
    ],
)
def test_every_stored_form_is_read(
    stored: str, resolution: dt.timedelta, expected_at: dt.datetime, expected_seen: dict[str, int]
) -> None:
    position = parse(stored, resolution)
    assert (position.at, dict(position.seen)) == (expected_at, expected_seen)
    assert parse(position.dump(), resolution) == position  # what is written reads back the same


@pytest.mark.parametrize("stored", ["yesterday", '{"seen":{}}', '{"at":"2025-06-01","seen":[1]}', "|1,2"])
def test_an_unreadable_position_stops_the_run_with_the_fix(stored: str) -> None:
    with pytest.raises(FatalError, match=r"connectors\.crm: the stored cursor for contact is unreadable.*--full"):
        parse(stored)


def test_a_record_is_skipped_only_in_the_version_read() -> None:
    tracker = Tracker(None, SECOND)
    tracker.saw("a", at(0.250))
    tracker.saw("b", at(0.900))
    position = tracker.position()
    assert position is not None and json.loads(position.dump()) == {
        "at": "2025-06-01T12:00:00Z", "seen": {"a": 250, "b": 900}
    }
    assert position.already_seen("a", at(0.250))
    assert not position.already_seen("a", at(0.500))  # changed again within the same second: read again
    assert not position.already_seen("c", at(0.250))  # never read: read
    assert not position.already_seen("a", at(1.250))


def test_the_position_never_moves_backwards_and_merges_ids_at_the_same_instant() -> None:
    previous = Tracker(None, SECOND)
    previous.saw("a", at(5))
    first = previous.position()
    older = Tracker(first, SECOND)
    older.saw("z", at(1))  # a prefilter match changed long ago
    assert older.position() == first
    same = Tracker(first, SECOND)
    same.saw("b", at(5.5))
    merged = same.position()
    assert merged is not None and merged.at == at(5) and set(merged.seen) == {"a", "b"}
    assert Tracker(first, SECOND).position() == first  # nothing read: kept as it was


def test_a_cap_holds_the_position_before_a_record_left_unread() -> None:
    tracker = Tracker(None, MILLISECOND)
    tracker.saw("a", at(10))
    capped = tracker.position(cap=at(3))
    assert capped is not None and capped.at == at(3) and not capped.seen


def test_at_most_max_seen_ids_are_remembered() -> None:
    tracker = Tracker(None, SECOND)
    for index in range(MAX_SEEN + 5):
        tracker.saw(str(index), at(0))
    position = tracker.position()
    assert position is not None and len(position.seen) == MAX_SEEN


@given(st.lists(st.integers(0, 5_000), min_size=1, max_size=40), st.sampled_from([SECOND, MILLISECOND]))
def test_the_next_pull_misses_nothing_changed_later(stamps: list[int], resolution: dt.timedelta) -> None:
    tracker = Tracker(None, resolution)
    for index, millis in enumerate(stamps):
        tracker.saw(str(index), at(millis / 1000))
    position = tracker.position()
    assert position is not None
    later = at(max(stamps) / 1000 + 0.001)
    # a record changed after the newest one read is at or after the bound, and not taken for already seen
    assert later >= position.at and not any(position.already_seen(str(i), later) for i in range(len(stamps)))
