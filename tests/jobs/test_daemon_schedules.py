"""Schedules: intervals, the `[daemon]` block, job ids, and slots every replica computes the same way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gomme.commands.daemon import job_specs, once_exit_code
from gomme.config import Config, ConfigError, parse_config
from gomme.jobs.guard import ChangeLimitValue
from gomme.jobs.scheduled import JobResult
from gomme.jobs.schedules import (
    MAX_JOB_ID,
    JobKind,
    JobSpec,
    format_interval,
    job_id,
    latest_fire_time,
    parse_interval,
    trigger,
)
from gomme.state.runs import RunStatus

CONNECTORS = {"crm": {"type": "local", "path": "crm.db"}, "eu": {"type": "local", "path": "eu.db"}}
UTC = dt.UTC


def _config(**data: object) -> Config:
    return parse_config({"connectors": CONNECTORS, **data}, source="test.toml", base_dir=Path("/tmp"))


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), (" 5M ", 300), ("90s", 90),
])
def test_intervals_read_as_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert parse_interval(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "m", "1.5h", "0s", "0m0s", "-1m", "15 m", "PT15M", "1w", "soon"])
def test_anything_else_is_not_an_interval(text: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        parse_interval(text)


@pytest.mark.parametrize(("seconds", "text"), [(900, "15m"), (5400, "1h30m"), (86400, "1d"), (3661, "1h1m1s")])
def test_intervals_print_in_their_shortest_form(seconds: int, text: str) -> None:
    assert format_interval(dt.timedelta(seconds=seconds)) == text
    assert parse_interval(text) == dt.timedelta(seconds=seconds)


def test_config_reports_bad_schedules_and_daemon_settings_each_with_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        _config(schedules=[{"job": "sweep", "every": "soon"}],
                daemon={"address": "9464", "misfire_grace": "later", "timezone": "Mars/Olympus"})
    assert sorted(map(str, caught.value.issues)) == [
        "daemon.address: '9464' is not host:port (such as 127.0.0.1:9464)",
        "daemon.misfire_grace: 'later' is not an interval such as 30s, 15m, 2h, 1d or 1h30m",
        "daemon.timezone: unknown time zone 'Mars/Olympus' (an IANA name such as UTC or Europe/Paris)",
        "schedules[0].every: 'soon' is not an interval such as 30s, 15m, 2h, 1d or 1h30m",
    ]


def test_daemon_settings_have_defaults_for_a_local_deployment() -> None:
    daemon = _config().daemon
    assert (daemon.address, daemon.misfire_grace, daemon.requests_every, daemon.timezone) == (
        "127.0.0.1:9464", dt.timedelta(minutes=5), dt.timedelta(minutes=5), "UTC")


def test_each_schedule_becomes_a_job_and_requests_are_processed_by_default() -> None:
    config = _config(
        sweep={"max_changes": "5%"},
        schedules=[{"job": "sweep", "connectors": ["crm"], "cron": "0 3 * * *", "apply": True},
                   {"job": "sweep", "every": "900s", "max_changes": 10},
                   {"job": "sweep", "every": "15m"}],
        daemon={"requests_every": "2m"},
    )
    specs = job_specs(config)
    assert [spec.id for spec in specs] == [
        "sweep[crm] apply @ 0 3 * * *", "sweep @ every 15m", "sweep @ every 15m #2", "requests @ every 2m"]
    assert [spec.max_changes for spec in specs[:2]] == [ChangeLimitValue(percent=5), ChangeLimitValue(count=10)]
    assert specs[3] == JobSpec(id="requests @ every 2m", kind=JobKind.REQUESTS, every=dt.timedelta(minutes=2))


def test_a_requests_schedule_replaces_the_default_one() -> None:
    specs = job_specs(_config(schedules=[{"job": "requests", "cron": "*/10 * * * *", "connectors": ["eu"]}]))
    assert [(spec.id, spec.kind, spec.connectors) for spec in specs] == [
        ("requests @ */10 * * * *", JobKind.REQUESTS, ())]  # a request concerns every CRM (Art 19)


def test_job_ids_stay_within_the_claim_key() -> None:
    many = tuple(f"connector-with-a-long-name-{n}" for n in range(10))
    ident = job_id(JobKind.SWEEP, connectors=many, cron="0 3 * * *")
    assert len(ident) <= MAX_JOB_ID and ident != job_id(JobKind.SWEEP, connectors=many[:-1], cron="0 3 * * *")


@pytest.mark.parametrize("started", ["2026-11-26T00:00:00", "2026-11-26T12:07:31", "2026-11-25T23:59:59"])
def test_interval_slots_do_not_depend_on_when_the_replica_started(started: str) -> None:
    fires = trigger(JobSpec(id="j", kind=JobKind.SWEEP, every=dt.timedelta(minutes=15)), UTC)
    first = fires.get_next_fire_time(None, dt.datetime.fromisoformat(started).replace(tzinfo=UTC))
    assert first.minute % 15 == 0 and first.second == 0


@pytest.mark.parametrize(("spec", "now", "slot"), [
    (JobSpec(id="j", kind=JobKind.SWEEP, every=dt.timedelta(minutes=15)), "12:03:10", "12:00:00"),
    (JobSpec(id="j", kind=JobKind.SWEEP, every=dt.timedelta(minutes=15)), "12:07:31", None),
    (JobSpec(id="j", kind=JobKind.SWEEP, every=dt.timedelta(minutes=15)), "12:15:00", "12:15:00"),
    (JobSpec(id="j", kind=JobKind.SWEEP, cron="*/5 * * * *"), "12:07:31", "12:05:00"),
    (JobSpec(id="j", kind=JobKind.SWEEP, cron="0 3 * * *"), "03:04:59", "03:00:00"),
    (JobSpec(id="j", kind=JobKind.SWEEP, cron="0 3 * * *"), "03:06:00", None),  # later than the horizon
])
def test_a_run_fills_the_latest_slot_within_the_horizon(spec: JobSpec, now: str, slot: str | None) -> None:
    moment = dt.datetime.fromisoformat(f"2026-11-26T{now}").replace(tzinfo=UTC)
    found = latest_fire_time(trigger(spec, UTC), moment, dt.timedelta(minutes=5))
    assert found == (None if slot is None else dt.datetime.fromisoformat(f"2026-11-26T{slot}").replace(tzinfo=UTC))


def test_cron_slots_follow_the_configured_time_zone_and_are_keyed_in_utc() -> None:
    spec = JobSpec(id="j", kind=JobKind.SWEEP, cron="0 3 * * *")
    moment = dt.datetime(2026, 11, 26, 2, 1, tzinfo=UTC)  # 03:01 in Paris (UTC+1 in November)
    found = latest_fire_time(trigger(spec, ZoneInfo("Europe/Paris")), moment, dt.timedelta(minutes=5))
    assert found == dt.datetime(2026, 11, 26, 2, 0, tzinfo=UTC) and found.tzinfo == UTC


@pytest.mark.parametrize(("statuses", "code"), [
    ([RunStatus.SUCCEEDED, None], 0),
    ([RunStatus.INTERRUPTED], 0),
    ([RunStatus.ABORTED, RunStatus.SUCCEEDED], 3),
    ([RunStatus.ABORTED, RunStatus.FAILED], 1),
])
def test_once_exits_with_the_worst_outcome(statuses: list[RunStatus | None], code: int) -> None:
    results = [JobResult(f"job {n}", status, skipped=None if status else "busy") for n, status in enumerate(statuses)]
    assert once_exit_code(results) == code
