"""Every command that acts on CRMs or on the state says first, on stderr, which config and which CRMs (or which
state database) it acts on (issue #20): stdout stays parseable, no credential is ever printed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import demo_people
from gomme.header import state_location
from tests.policy_fixture import RETENTION_POLICY_TOML

runner = CliRunner()


def _config(directory: Path, state_url: str | None = None) -> Path:
    """Two local CRMs, `a` (with the demo's people) and `b` (empty)."""
    directory.mkdir(parents=True, exist_ok=True)
    with LocalConnector("a", directory / "a.db") as crm:
        crm.add(demo_people(dt.datetime.now(dt.UTC)))
    LocalConnector("b", directory / "b.db").close()
    state = state_url or f"sqlite:///{directory}/state.db"
    config = directory / "config.toml"
    config.write_text(
        f'[state]\nurl = "{state}"\n[connectors.a]\ntype = "local"\npath = "a.db"\n'
        f'[connectors.b]\ntype = "local"\npath = "b.db"\n' + RETENTION_POLICY_TOML
    )
    return config


def _header(stderr: str) -> str:
    return stderr.splitlines()[0]


def test_sweep_names_the_config_and_only_the_crms_it_sweeps_and_keeps_stdout_parseable(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = runner.invoke(app, ["--config", str(config), "sweep", "--connector", "b", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert _header(result.stderr) == f"config: {config.resolve()} · CRMs: b (local)"
    assert json.loads(result.stdout) == []  # the header is not on stdout

    every = runner.invoke(app, ["--config", str(config), "sweep", "--format", "json"])
    assert _header(every.stderr) == f"config: {config.resolve()} · CRMs: a (local), b (local)"
    assert len(json.loads(every.stdout)) == 69


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["audit", "verify"], "state"),
        (["audit", "log", "--format", "csv"], "state"),
        (["audit", "checkpoint"], "state"),
        (["audit", "show", "1"], "state"),  # no entry: exit 2, still said where it looked
        (["db", "upgrade"], "state"),
        (["request", "list", "--format", "json"], "state"),
        (["request", "overdue"], "state"),
        (["request", "erase", "--email", "nobody@example.net"], "state"),  # recorded only
        (["request", "erase", "--email", "nobody@example.net", "--now"], "a (local), b (local)"),
        (["request", "process"], "a (local), b (local)"),
        (["register"], "a (local), b (local)"),
        (["config", "check"], "a (local), b (local)"),
        (["policy", "explain", "--connector", "b", "--id", "missing"], "b (local)"),  # exit 2, header first
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_each_command_says_what_it_acts_on_first(tmp_path: Path, args: list[str], names: str) -> None:
    config = _config(tmp_path)
    result = runner.invoke(app, ["--config", str(config), "--log-level", "error", *args])
    assert "Traceback" not in result.output
    header = _header(result.stderr)
    assert header.startswith(f"config: {config.resolve()} · ")
    if names == "state":
        assert header.endswith(f"state: {tmp_path.resolve()}/state.db (sqlite)")
        assert "CRMs" not in header
    else:
        assert header.endswith(f"CRMs: {names}")


def test_local_import_names_the_local_crm_it_imports_into(tmp_path: Path) -> None:
    config = _config(tmp_path)
    people = tmp_path / "people.csv"
    people.write_text("email,last_name,country\nsomeone@example.com,Example,FR\n")
    result = runner.invoke(app, ["--config", str(config), "local", "import", str(people), "--connector", "b"])
    assert result.exit_code == 0, result.output
    assert _header(result.stderr) == f"config: {config.resolve()} · CRMs: b (local)"


def test_the_state_database_is_named_without_its_credentials(tmp_path: Path, postgres_url: str) -> None:
    url = make_url(postgres_url)
    if url.password is None:  # the test server trusts local connections: any password is accepted
        url = url.set(password="s3cret-token")
    config = _config(tmp_path, url.render_as_string(hide_password=False))
    result = runner.invoke(app, ["--config", str(config), "audit", "log"])
    assert result.exit_code == 0, result.output
    header = _header(result.stderr)
    assert header.endswith(f"state: postgresql+psycopg://{url.host}:{url.port}/{url.database}")
    assert str(url.password) not in result.output and f"{url.username}@" not in header
    assert "search_path" not in header  # nor the query parameters, which may carry secrets too


def test_state_location_drops_user_password_and_query() -> None:
    shown = state_location("postgresql+psycopg://gomme:p%40ss@db.example:6432/gdpr?sslpassword=hunter2")
    assert shown == "postgresql+psycopg://db.example:6432/gdpr"
    assert state_location("sqlite:////var/lib/gomme/state.db") == "/var/lib/gomme/state.db (sqlite)"


def test_the_header_is_plain_text_and_brackets_in_a_path_are_not_markup(tmp_path: Path) -> None:
    config = _config(tmp_path / "[bold]ops")
    result = runner.invoke(app, ["--config", str(config), "register"])
    assert _header(result.stderr) == f"config: {config.resolve()} · CRMs: a (local), b (local)"
    assert "\x1b[" not in result.stderr


def test_the_daemon_says_it_as_a_log_event_when_its_logs_are_json(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = runner.invoke(app, ["--config", str(config), "--log-format", "json", "daemon", "--once"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines()]  # every stderr line is JSON
    (said,) = [event for event in events if event["event"] == "acting_on"]
    assert said["config"] == str(config.resolve()) and said["crms"] == "a (local), b (local)"
    assert said["state"] == f"{tmp_path.resolve()}/state.db (sqlite)"

    console = runner.invoke(app, ["--config", str(config), "--log-format", "console", "daemon", "--once"])
    assert console.exit_code == 0, console.output
    assert f"config: {config.resolve()} · CRMs: a (local), b (local) · state: " in console.stderr
