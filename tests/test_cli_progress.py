"""Progress and plans (issue #20): the plan is shown before any write, the plan table says how to see all of it,
progress bars on a terminal, periodic `progress` events in JSON logs, and the jobs stay free of UI code."""

from __future__ import annotations

import ast
import datetime as dt
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

import gomme.jobs.progress as progress_module
from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import demo_people
from gomme.jobs.progress import ProgressLog, Stage
from gomme.model.changes import ChangeResult, PlannedChange
from tests.policy_fixture import RETENTION_POLICY_TOML

runner = CliRunner()
PLANNED = 69  # the retention policy's changes to the demo's 300 people
FIRST_WRITE = "<the first CRM write starts here>"


def _config(directory: Path, extra: str = "") -> str:
    with LocalConnector("crm", directory / "crm.db") as crm:
        crm.add(demo_people(dt.datetime.now(dt.UTC)))
    path = directory / "config.toml"
    path.write_text(
        f'[state]\nurl = "sqlite:///{directory}/state.db"\n{extra}'
        '[connectors.crm]\ntype = "local"\npath = "crm.db"\n' + RETENTION_POLICY_TOML
    )
    return str(path)


@pytest.fixture
def config(tmp_path: Path) -> str:
    return _config(tmp_path)


@pytest.fixture
def marked_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CRM write first puts a marker in the output, so a test can tell what was shown before it."""
    write = LocalConnector.apply

    def marked(self: LocalConnector, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        sys.stdout.flush()
        sys.stderr.write(FIRST_WRITE + "\n")
        sys.stderr.flush()
        return write(self, changes)

    monkeypatch.setattr(LocalConnector, "apply", marked)


@pytest.mark.usefixtures("marked_writes")
def test_apply_shows_the_plan_table_before_the_first_write(config: str) -> None:
    result = runner.invoke(app, ["--config", config, "--log-level", "error", "sweep", "--apply"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert FIRST_WRITE in out
    assert out.index(f"Plan by rule: {PLANNED} change(s) in crm") < out.index(FIRST_WRITE)
    assert out.index("First 20 changes") < out.index(f"crm: applying {PLANNED} change(s)") < out.index(FIRST_WRITE)
    assert f"applied {PLANNED}" in out


@pytest.mark.usefixtures("marked_writes")
def test_apply_with_a_json_plan_shows_its_summary_on_stderr_before_the_first_write(config: str) -> None:
    result = runner.invoke(app, ["--config", config, "--log-level", "error", "sweep", "--apply", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == PLANNED  # stdout is the plan alone
    summary = result.stderr.index(f"Plan by rule: {PLANNED} change(s) in crm")
    assert summary < result.stderr.index(FIRST_WRITE)
    assert "retention-prospect" in result.stderr[summary : result.stderr.index(FIRST_WRITE)]  # counts by rule


def test_the_plan_table_says_how_many_changes_it_leaves_out_and_how_to_see_them(config: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--config", config, "--log-level", "error", "sweep"])
    assert result.exit_code == 0, result.output
    assert "First 20 changes" in result.stdout
    hint = f"… and {PLANNED - 20} more change(s) not shown: see them all with `gomme sweep --output plan.csv`"
    assert hint in result.stdout

    plan = tmp_path / "plan.csv"
    whole = runner.invoke(app, ["--config", config, "--log-level", "error", "sweep", "--output", str(plan)])
    assert whole.exit_code == 0, whole.output
    assert len(plan.read_text().splitlines()) == PLANNED + 1  # the header, then every change
    assert f"Plan by rule: {PLANNED} change(s) in crm" in whole.stderr  # and its summary for the admin


def test_a_plan_the_guard_refuses_is_still_shown(config: str) -> None:
    result = runner.invoke(app, ["--config", config, "--log-level", "error", "sweep", "--apply", "--max-changes", "5"])
    assert result.exit_code == 3, result.output
    assert f"Plan by rule: {PLANNED} change(s) in crm" in result.stdout
    assert "applying" not in result.output and "nothing was written" in result.output


def test_progress_bars_on_a_terminal_one_per_stage_with_counts_and_rate(tmp_path: Path) -> None:
    config = _config(tmp_path, "[sweep]\nbatch_size = 10\n")  # several batches: rich can measure a rate
    result = runner.invoke(
        app,
        ["--config", config, "--log-format", "console", "--log-level", "error", "sweep", "--apply"],
        env={"TTY_COMPATIBLE": "1", "COLUMNS": "140"},
    )
    assert result.exit_code == 0, result.output
    bars = result.stderr
    assert "crm pulled" in bars and "crm planned" in bars and "crm applied" in bars
    assert f"{PLANNED}/{PLANNED}" in bars  # the apply stage knows its total: count of total, ETA
    assert "/s" in bars and "0:00:00" in bars  # a rate, and the apply stage's time remaining


def test_no_bars_and_no_escape_codes_when_stderr_is_not_a_terminal(config: str) -> None:
    result = runner.invoke(app, ["--config", config, "--log-level", "error", "sweep", "--apply"])
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.output and "crm pulled" not in result.output


def test_json_logs_carry_progress_events_with_counts_and_rate(config: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "PROGRESS_EVERY", 0.0)  # an event at each batch, to see them all
    result = runner.invoke(app, ["--config", config, "--log-format", "json", "sweep", "--apply"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    progress = [event for event in events if event["event"] == "progress"]
    assert {event["stage"] for event in progress} == {"pulled", "applied"}  # the plan phase's pace is the pull's
    last = progress[-1]
    assert last["connector"] == "crm" and last["stage"] == "applied" and last["total"] == PLANNED
    assert last["pulled"] >= PLANNED and last["planned"] == PLANNED and last["applied"] == PLANNED
    assert last["rate_per_s"] > 0 and last["eta_s"] == 0


def test_progress_events_come_at_most_every_interval_not_per_batch() -> None:
    now = [0.0]
    watcher = ProgressLog(every=10.0, clock=lambda: now[0])
    with capture_logs() as logs:
        watcher.stage_started("sf", Stage.PULLED)
        for _ in range(200):  # 200 batches of 200 records over 25 s
            now[0] += 0.125
            watcher.advanced("sf", Stage.PULLED, 200)
    events = [entry for entry in logs if entry["event"] == "progress"]
    assert len(events) == 2  # at 10 s and 20 s
    assert events[0]["pulled"] == 80 * 200 and events[0]["rate_per_s"] == 1600.0
    assert events[0]["stage"] == "pulled" and "eta_s" not in events[0]  # a pull has no known total


def test_apply_progress_events_carry_the_total_and_an_eta() -> None:
    now = [0.0]
    watcher = ProgressLog(every=10.0, clock=lambda: now[0])
    with capture_logs() as logs:
        watcher.stage_started("sf", Stage.APPLIED, total=1000)
        now[0] = 10.0
        watcher.advanced("sf", Stage.APPLIED, 100)
    (event,) = [entry for entry in logs if entry["event"] == "progress"]
    assert (event["stage"], event["applied"], event["total"], event["rate_per_s"], event["eta_s"]) == (
        "applied",
        100,
        1000,
        10.0,
        90.0,
    )


def test_the_jobs_never_import_a_ui_library() -> None:
    jobs = Path(__file__).resolve().parents[1] / "jobs"
    imported = {
        (path.name, name)
        for path in jobs.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    assert ("progress.py", "structlog") in imported  # the scan sees imports
    assert not [(file, name) for file, name in imported if name.split(".")[0] in ("rich", "typer")]
