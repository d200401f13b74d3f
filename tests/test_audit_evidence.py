"""The audit trail says why: a redacted note's entry names the categories and counts, never the words or the text."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.model.records import Lifecycle, PersonRecord
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent
from tests.state_key import TEST_KEYRING

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
NOTE = "Called back about the renewal. She is on chemotherapy until March and was arrested last year."


def test_a_redacted_note_is_audited_with_its_categories_and_counts_only(tmp_path: Path, state_url: str) -> None:
    person = PersonRecord(crm="crm", object_type="contact", id="n1", email="someone@example.org", country="FR",
                          lifecycle=Lifecycle.CUSTOMER, created_at=NOW, last_activity_at=NOW,
                          notes={"description": NOTE})  # fmt: skip
    with LocalConnector("crm", tmp_path / "crm.db") as connector:
        connector.add([person])
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "{state_url}"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n')

    assert runner.invoke(app, ["--config", str(config), "sweep", "--apply"]).exit_code == 0

    with Session(make_engine(state_url)) as db:
        (event,) = db.exec(select(AuditEvent)).all()
    assert event.action == "redact_note" and event.outcome == "applied"
    assert event.evidence == "sensitive-note: categories=criminal,health sentences=1 fields=description"
    assert "chimio" not in (event.evidence or "") and "arrest" not in (event.evidence or "")
    assert verify(make_engine(state_url), TEST_KEYRING).ok  # the evidence is covered by the hash and the MAC
    shown = runner.invoke(app, ["--config", str(config), "audit", "log", "--format", "json"])
    assert json.loads(shown.stdout.splitlines()[0])["evidence"] == event.evidence
