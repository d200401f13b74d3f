"""The command line as users meet it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import demo_people
from gomme.model.changes import ChangeResult, Outcome, PlannedChange
from gomme.state.db import make_engine
from tests.policy_fixture import RETENTION_POLICY_TOML

runner = CliRunner()


def _config(tmp_path: Path, state_url: str, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "{state_url}"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n{extra}'
                      + RETENTION_POLICY_TOML)
    return config


def _seed(tmp_path: Path) -> None:
    with LocalConnector("crm", tmp_path / "crm.db") as crm:
        crm.add(demo_people(dt.datetime.now(dt.UTC)))


def test_audit_verify_names_the_tampered_entry(tmp_path: Path, state_url: str) -> None:
    _seed(tmp_path)
    config = str(_config(tmp_path, state_url))
    assert runner.invoke(app, ["--config", config, "sweep", "--apply"]).exit_code == 0
    intact = runner.invoke(app, ["--config", config, "audit", "verify"])
    assert intact.exit_code == 0 and "audit chain intact: 69 entries" in intact.output

    engine = make_engine(state_url)
    with engine.begin() as connection:  # the database owner can lift the append-only triggers; gomme still notices
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
        connection.execute(text("UPDATE audit_event SET action = 'keep' WHERE seq = 42"))
    engine.dispose()
    broken = runner.invoke(app, ["--config", config, "audit", "verify"])
    assert broken.exit_code == 1
    assert "audit chain broken at entry #42" in broken.output
    assert "altered" in broken.output


def test_local_import_reports_bad_rows_without_their_values(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "email,first_name,last_name,country,lifecycle,birthdate\n"
        "ana@example.com,Ana,Example,FR,prospect,1990-04-01\n"
        "bob@example.org,Bob,Sample,Atlantis,customer,1985-13-45\n"
    )
    config = str(_config(tmp_path, f"sqlite:///{tmp_path}/state.db"))
    result = runner.invoke(app, ["--config", config, "local", "import", str(people)])
    assert result.exit_code == 1, result.output
    assert "2 row(s) read, 1 invalid: nothing was imported" in result.output and "--skip-invalid" in result.output
    assert "row 2" in result.output and "country" in result.output
    assert "Atlantis" not in result.output and "1985-13-45" not in result.output
    skipping = runner.invoke(app, ["--config", config, "local", "import", str(people), "--skip-invalid"])
    assert skipping.exit_code == 1, skipping.output
    assert "2 row(s) read: imported 1, skipped 1" in skipping.output


def test_unknown_connector_name_is_a_usage_error(tmp_path: Path) -> None:
    config = str(_config(tmp_path, f"sqlite:///{tmp_path}/state.db"))
    result = runner.invoke(app, ["--config", config, "sweep", "--connector", "nope"])
    assert result.exit_code == 2
    assert "no connector named nope" in result.output and "Traceback" not in result.output


def test_bad_max_changes_is_a_usage_error(tmp_path: Path) -> None:
    config = str(_config(tmp_path, f"sqlite:///{tmp_path}/state.db"))
    result = runner.invoke(app, ["--config", config, "sweep", "--max-changes", "lots"])
    assert result.exit_code == 2 and "--max-changes" in result.output


def test_missing_secret_environment_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SF_TOKEN_FOR_TEST", raising=False)
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "sqlite:///{tmp_path}/s.db"\n[connectors.sf]\ntype = "salesforce"\n'
                      'instance_url = "https://example.my.salesforce.com"\naccess_token_env = "SF_TOKEN_FOR_TEST"\n')
    result = runner.invoke(app, ["--config", str(config), "sweep"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "connectors.sf" in result.output


class RejectingConnector(LocalConnector):
    """A CRM whose validation rule refuses every write (Salesforce's FIELD_CUSTOM_VALIDATION_EXCEPTION)."""

    def apply(self, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        for change in changes:
            yield ChangeResult(change.change_id, Outcome.FAILED, error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION")


def test_failed_records_make_the_run_fail_and_are_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(tmp_path)
    monkeypatch.setattr("gomme.connectors.local.LocalConnector.apply", RejectingConnector.apply)
    config = str(_config(tmp_path, f"sqlite:///{tmp_path}/state.db"))
    result = runner.invoke(app, ["--config", config, "sweep", "--apply"])
    assert result.exit_code == 1
    assert "failed 69" in result.output
    log = runner.invoke(app, ["--config", config, "audit", "log", "--format", "json", "--all"])
    rows = [json.loads(line) for line in log.stdout.splitlines()]
    assert len(rows) == 69 and {r["error_code"] for r in rows} == {"FIELD_CUSTOM_VALIDATION_EXCEPTION"}


def test_plan_as_csv_to_stdout(tmp_path: Path) -> None:
    _seed(tmp_path)
    config = str(_config(tmp_path, f"sqlite:///{tmp_path}/state.db"))
    result = runner.invoke(app, ["--config", config, "--log-level", "error", "sweep", "--format", "csv"])
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if line.startswith(("connector,", "crm,"))]
    assert lines[0].startswith("connector,object_type,record_id,action")
    assert len(lines) == 70


def test_policy_show_prints_the_effective_policy_and_hash(tmp_path: Path) -> None:
    config = str(_config(tmp_path, f"sqlite:///{tmp_path}/state.db"))
    result = runner.invoke(app, ["--config", config, "policy", "show"])
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert len(shown["hash"]) == 64 and any(r["id"] == "legal-hold" for r in shown["rules"])


def test_version_is_printed_without_a_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"gomme {metadata.version('gomme')}"


def _closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_crm_is_named_with_its_host_and_key_not_reported_as_an_empty_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    monkeypatch.setenv("SF_TOKEN", "token")
    monkeypatch.setenv("HS_TOKEN", "token")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\nurl = "sqlite:///{tmp_path}/state.db"\n'
        f'[connectors.sf]\ntype = "salesforce"\ninstance_url = "https://127.0.0.1:{port}"\n'
        'access_token_env = "SF_TOKEN"\nmax_attempts = 1\n'
        f'[connectors.hs]\ntype = "hubspot"\nbase_url = "http://127.0.0.1:{port}"\naccess_token_env = "HS_TOKEN"\n'
        "max_attempts = 1\n"
    )
    result = runner.invoke(app, ["--config", str(config), "sweep"])
    assert result.exit_code == 1, result.output
    assert f"connectors.sf: cannot reach 127.0.0.1:{port}" in result.output
    assert "check connectors.sf.instance_url" in result.output
    assert f"connectors.hs: cannot reach 127.0.0.1:{port}" in result.output
    assert "check connectors.hs.base_url" in result.output
    assert "The plan is empty" not in result.output and "no CRM could be read" in result.output
