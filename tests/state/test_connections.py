"""Every command closes its state connections when it ends, also when it fails: a PostgreSQL server has a fixed
number of slots (100 by default), shared by every gomme process, the daemon and the other applications on it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from tests.conftest import open_connections
from tests.policy_fixture import RETENTION_POLICY_TOML

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def config(tmp_path: Path, postgres_url: str) -> Path:
    with LocalConnector("crm", tmp_path / "crm.db") as connector:
        connector.add(synthetic_people(50, seed=3, now=NOW))
    path = tmp_path / "config.toml"
    path.write_text(
        f'[state]\nurl = "{postgres_url}"\n\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
        + RETENTION_POLICY_TOML
    )
    return path


@pytest.mark.parametrize(
    "command", [["sweep"], ["sweep", "--apply"], ["audit", "verify"], ["audit", "log"], ["request", "process"]],
    ids=" ".join,
)
def test_a_command_leaves_no_state_connection_open(config: Path, postgres_url: str, command: list[str]) -> None:
    for _ in range(3):
        result = runner.invoke(app, ["--config", str(config), *command])
        assert result.exit_code == 0, result.output

    assert open_connections(postgres_url) == 0


def test_a_command_stopped_by_a_replaced_key_leaves_no_connection_open(
    config: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["--config", str(config), "sweep", "--apply"]).exit_code == 0
    monkeypatch.setenv("GOMME_SECRET_KEY", "another-key-of-enough-length")

    result = runner.invoke(app, ["--config", str(config), "sweep", "--apply"])

    assert result.exit_code == 2, result.output
    assert open_connections(postgres_url) == 0
