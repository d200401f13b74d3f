"""After a demo run, neither the state database nor the logs hold any seeded email, phone or name."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from gomme.connectors.synthetic import demo_people
from gomme.logs import drop_personal_data, mask
from gomme.model.records import PersonRecord


def _needles(people: list[PersonRecord]) -> set[str]:
    """What must never leak: emails, phones, full names, and surnames long enough not to occur by chance."""
    found: set[str] = set()
    for person in people:
        found.update(filter(None, (person.email, person.phone)))
        if person.first_name and person.last_name:
            found.add(f"{person.first_name} {person.last_name}")
        if person.last_name and len(person.last_name) >= 6:
            found.add(person.last_name)
        found.update(text for text in person.notes.values() if text)
    return found


def _gomme(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gomme", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120, check=False)


def _leaks(haystack: str, needles: set[str]) -> list[str]:
    return sorted(needle for needle in needles if needle in haystack)


def test_demo_leaves_no_personal_data_in_state_or_logs(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    demo = _gomme("--log-format", "json", "--log-level", "debug", "demo", "--dir", str(tmp_path / "demo"),
                  env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    config = str(tmp_path / "demo" / "config.toml")
    again = _gomme("--config", config, "--log-format", "json", "--log-level", "debug", "sweep", "--apply", "--full",
                   env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    audit = _gomme("--config", config, "audit", "log", "--format", "csv", "--all", env=env, cwd=tmp_path)

    # The demo's people are generated from `now`; only the dates move with it, never names or emails.
    needles = _needles(list(demo_people(dt.datetime.now(dt.UTC))))
    assert len(needles) > 600
    crm = (tmp_path / "demo" / "crm.db").read_bytes().decode("utf-8", "replace")
    assert len(_leaks(crm, needles)) > 300  # the same search does find them where they belong
    state = b"".join(p.read_bytes() for p in (tmp_path / "demo").glob("state.db*") if p.is_file()).decode(
        "utf-8", "replace"
    )
    assert "audit_event" in state  # the haystack is the real database file
    logs = demo.stderr + again.stderr
    assert '"event": "sweep_finished"' in logs  # and the logs really are JSON lines
    for name, haystack in (("state database", state), ("logs", logs), ("demo output", demo.stdout),
                           ("audit export", audit.stdout)):
        assert _leaks(haystack, needles) == [], f"personal data found in the {name}"


def test_postgres_state_holds_no_personal_data(tmp_path: Path, postgres_url: str) -> None:
    from gomme.connectors.local import LocalConnector

    people = list(demo_people(dt.datetime.now(dt.UTC)))
    with LocalConnector("crm", tmp_path / "crm.db") as crm:
        crm.add(people)
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "{postgres_url}"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n')
    run = _gomme("--config", str(config), "--log-format", "json", "sweep", "--apply", env=dict(os.environ),
                 cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        dump = "\n".join(
            str(row[0]) for table in tables for row in connection.execute(text(f'SELECT t::text FROM "{table}" t'))
        )
    engine.dispose()
    assert "applied" in dump
    assert _leaks(dump + run.stderr, _needles(people)) == []


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"event": "x", "email": "someone@example.com"}, {"event": "x", "email": "[redacted]"}),
        ({"event": "x", "last_name": "Dupont"}, {"event": "x", "last_name": "[redacted]"}),
        ({"event": "failed for someone@example.org"}, {"event": "failed for [redacted]"}),
        ({"event": "x", "detail": "call +33 1 99 00 12 34 back"}, {"event": "x", "detail": "call [redacted] back"}),
        ({"event": "x", "run_id": "3f2a9c", "count": 12}, {"event": "x", "run_id": "3f2a9c", "count": 12}),
        ({"event": "x", "host": "127.0.0.1", "url": "http://10.0.12.7:9464/"},  # addresses, not phones
         {"event": "x", "host": "127.0.0.1", "url": "http://10.0.12.7:9464/"}),
        ({"event": "x", "detail": "tel 06.12.34.56.78"}, {"event": "x", "detail": "tel [redacted]"}),
        ({"event": "x", "detail": "ring 0049.30.1234.5678"}, {"event": "x", "detail": "ring [redacted]"}),
    ],
)
def test_log_processor_masks_personal_data(event: dict[str, object], expected: dict[str, object]) -> None:
    assert drop_personal_data(None, "info", dict(event)) == expected


def test_mask_keeps_dates_and_ids() -> None:
    text_ = "run 5f1d at 2026-11-26T10:00:00Z changed 12 records"
    assert mask(text_) == text_
