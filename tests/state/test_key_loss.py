"""A lost or replaced state key stops every command (exit 2, nothing written) instead of starting a new key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from gomme.state.db import make_engine
from gomme.state.keys import KEY_FACT, Keyring
from gomme.state.models import AuditEvent, StateFact
from tests.policy_fixture import RETENTION_POLICY_TOML

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
COMMANDS = (["sweep", "--apply"], ["sweep"], ["audit", "verify"], ["audit", "log"], ["request", "process"])


@pytest.fixture
def config(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state written with the key file `secret.key` (no GOMME_SECRET_KEY), after one applied sweep."""
    monkeypatch.delenv("GOMME_SECRET_KEY")
    with LocalConnector("crm", tmp_path / "crm.db") as connector:
        connector.add(synthetic_people(200, seed=5, now=NOW))
    path = tmp_path / "config.toml"
    path.write_text(
        f'[state]\nurl = "{state_url}"\nkey_file = "secret.key"\n\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
        + RETENTION_POLICY_TOML
    )
    result = runner.invoke(app, ["--config", str(path), "sweep", "--apply"])
    assert result.exit_code == 0, result.output
    return path


def _audit_entries(state_url: str) -> int:
    with Session(make_engine(state_url)) as db:
        return db.exec(select(func.count()).select_from(AuditEvent)).one()


def test_the_state_records_the_fingerprint_of_the_key_it_was_written_with(config: Path, state_url: str) -> None:
    key = Keyring((config.parent / "secret.key").read_text().strip().encode())
    with Session(make_engine(state_url)) as db:
        fact = db.get_one(StateFact, KEY_FACT)
    assert fact.value == key.fingerprint and key.fingerprint not in (config.parent / "secret.key").read_text()
    assert runner.invoke(app, ["--config", str(config), "sweep", "--apply"]).exit_code == 0  # same key: works


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_lost_key_file_stops_every_command_and_is_not_recreated(
    config: Path, state_url: str, command: list[str]
) -> None:
    (config.parent / "secret.key").unlink()
    before = _audit_entries(state_url)

    result = runner.invoke(app, ["--config", str(config), *command])

    assert result.exit_code == 2, result.output
    assert "no secret key" in result.output and "Restore the key file" in result.output
    assert "Traceback" not in result.output
    assert not (config.parent / "secret.key").exists(), "a new key was created for a state written with another"
    assert _audit_entries(state_url) == before


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_replaced_key_stops_every_command(
    config: Path, state_url: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOMME_SECRET_KEY", "another-key-of-enough-length")
    before = _audit_entries(state_url)

    result = runner.invoke(app, ["--config", str(config), *command])

    assert result.exit_code == 2, result.output
    assert "is not the key this state was written with" in result.output and "Nothing was done" in result.output
    assert _audit_entries(state_url) == before
