"""`gomme audit log` shows the last 50 entries by default, says how many it left out and how to see them; `--limit N`
and `--all` change that; `audit export` stays complete (issue #20)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import demo_people
from tests.policy_fixture import RETENTION_POLICY_TOML

runner = CliRunner()
ENTRIES = 69  # one per change the retention policy makes to the demo's people


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A state holding the audit entries of one applied sweep (the sweep runs once for the module)."""
    directory = tmp_path_factory.mktemp("audit-log")
    with LocalConnector("crm", directory / "crm.db") as crm:
        crm.add(demo_people(dt.datetime.now(dt.UTC)))
    path = directory / "config.toml"
    path.write_text(
        f'[state]\nurl = "sqlite:///{directory}/state.db"\n'
        '[connectors.crm]\ntype = "local"\npath = "crm.db"\n' + RETENTION_POLICY_TOML
    )
    with pytest.MonkeyPatch.context() as patch:  # the autouse fixture's key is function-scoped
        patch.setenv("GOMME_SECRET_KEY", "audit-log-limit-test-key")
        applied = runner.invoke(app, ["--config", str(path), "sweep", "--apply"])
    assert applied.exit_code == 0, applied.output
    return str(path)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMME_SECRET_KEY", "audit-log-limit-test-key")


def _seqs(stdout: str) -> list[int]:
    return [json.loads(line)["seq"] for line in stdout.splitlines()]


def test_by_default_the_last_50_entries_newest_last_and_a_footer_says_how_to_see_more(config: str) -> None:
    result = runner.invoke(app, ["--config", config, "audit", "log", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert _seqs(result.stdout) == list(range(ENTRIES - 49, ENTRIES + 1))
    assert f"showing the last 50 of {ENTRIES} entries; --all or --limit N for more" in result.stderr


def test_limit_and_all_change_how_many(config: str) -> None:
    five = runner.invoke(app, ["--config", config, "audit", "log", "--format", "json", "--limit", "5"])
    assert _seqs(five.stdout) == [65, 66, 67, 68, 69]
    assert f"showing the last 5 of {ENTRIES} entries" in five.stderr

    every = runner.invoke(app, ["--config", config, "audit", "log", "--format", "json", "--all"])
    assert _seqs(every.stdout) == list(range(1, ENTRIES + 1))
    assert "showing" not in every.stderr

    enough = runner.invoke(app, ["--config", config, "audit", "log", "--format", "json", "--limit", "500"])
    assert len(_seqs(enough.stdout)) == ENTRIES and "showing" not in enough.stderr


def test_filters_apply_before_the_limit(config: str) -> None:
    result = runner.invoke(
        app, ["--config", config, "audit", "log", "--format", "csv", "--limit", "3", "--action", "restrict_all"]
    )
    rows = result.stdout.splitlines()[1:]
    assert rows and len(rows) <= 3 and all(",restrict_all," in row for row in rows)


def test_the_table_shows_the_footer_too(config: str) -> None:
    result = runner.invoke(app, ["--config", config, "audit", "log"])
    assert result.exit_code == 0
    assert "Audit log" in result.stdout and f"showing the last 50 of {ENTRIES} entries" in result.stderr


def test_all_and_limit_together_are_a_usage_error(config: str) -> None:
    result = runner.invoke(app, ["--config", config, "audit", "log", "--all", "--limit", "5"])
    assert result.exit_code == 2
    assert "--all and --limit exclude each other" in result.output and "Traceback" not in result.output


def test_export_stays_complete(config: str, tmp_path: Path) -> None:
    exported = tmp_path / "audit.jsonl"
    result = runner.invoke(app, ["--config", config, "audit", "export", "--output", str(exported)])
    assert result.exit_code == 0, result.output
    assert len(exported.read_text().splitlines()) == ENTRIES
