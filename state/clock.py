"""Timestamps as gomme stores them: fixed-width ISO-8601 UTC text, so they sort and compare as text."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    """`2026-11-26T07:15:48.123456Z`; naive datetimes are refused (time is always zone-aware inside)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
