"""Erasure and redaction reach the local CRM's activities: what a user sees after `gomme sweep --apply`.

Seeded (synthetic): Ada is to be erased (erasure requested), Bo is kept. Activities: one about Ada alone naming
her, one shared by Ada and Bo naming both, one about Bo alone with a health sentence, one about Bo alone that
only looks sensitive (a decoy: a clinic that is a customer).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.local_related import Activity
from gomme.model.records import Lifecycle, PersonRecord
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent
from tests.state_key import TEST_KEYRING

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
ADA = {"email": "ada.quill@example.org", "first_name": "Ada", "last_name": "Quill", "phone": "+33 6 12 34 56 78"}
BO = {"email": "bo.vance@example.net", "first_name": "Bo", "last_name": "Vance", "phone": "+44 7700 900123"}
IDENTIFIERS = ("ada.quill@example.org", "Ada", "Quill", "12 34 56 78", "612345678")
DECOY = "Visited the Clinique des Lilas, our customer, to demo the scheduling module."


def _person(record_id: str, identity: dict[str, str], *, erase: bool) -> PersonRecord:
    return PersonRecord(crm="crm", object_type="contact", id=record_id, country="FR", lifecycle=Lifecycle.CUSTOMER,
                        created_at=NOW, last_activity_at=NOW, erasure_requested=erase, **identity)  # fmt: skip


def _seed(tmp_path: Path, state_url: str, *, on_erase: str = "delete") -> Path:
    with LocalConnector("crm", tmp_path / "crm.db") as connector:
        connector.add([_person("p-ada", ADA, erase=True), _person("p-bo", BO, erase=False)])
        connector.add_activities([
            Activity("a-ada", ("p-ada",), "Call Ada Quill", "Ada asked to call back on 06 12 34 56 78."),
            Activity("a-both", ("p-ada", "p-bo"), "Meeting with Quill and Vance",
                     "Ada (ada.quill@example.org) and Bo agreed on the renewal."),
            Activity("a-bo", ("p-bo",), "Follow-up", "Bo is on chemotherapy until March. Renewal in April."),
            Activity("a-decoy", ("p-bo",), "Demo", DECOY),
        ])  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\nurl = "{state_url}"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
        f'related_on_erase = "{on_erase}"\n'
    )
    return config


def _activities(tmp_path: Path) -> dict[str, tuple[str | None, str | None, tuple[str, ...]]]:
    with sqlite3.connect(tmp_path / "crm.db") as conn:
        rows = conn.execute("SELECT id, subject, body FROM activity").fetchall()
        links = conn.execute("SELECT activity_id, person_id FROM activity_person ORDER BY person_id").fetchall()
    people = {row[0]: tuple(p for a, p in links if a == row[0]) for row in rows}
    return {row[0]: (row[1], row[2], people[row[0]]) for row in rows}


def _reachable(text: str | None) -> list[str]:
    return [identifier for identifier in IDENTIFIERS if identifier.casefold() in (text or "").casefold()]


def test_an_erasure_deletes_the_persons_own_activities_and_scrubs_the_shared_ones(
    tmp_path: Path, state_url: str
) -> None:
    config = _seed(tmp_path, state_url)

    result = runner.invoke(app, ["--config", str(config), "sweep", "--apply"])

    assert result.exit_code == 0, result.output
    activities = _activities(tmp_path)
    assert "a-ada" not in activities  # about Ada alone: deleted
    subject, body, people = activities["a-both"]  # shared with Bo: kept, Ada cut out
    assert people == ("p-ada", "p-bo")
    assert _reachable(subject) == [] and _reachable(body) == []
    assert "Vance" in (subject or "") and "Bo agreed on the renewal" in (body or "")
    assert activities["a-decoy"][1] == DECOY  # a kept person's ordinary activity is untouched
    with Session(make_engine(state_url)) as db:
        events = {e.action: e for e in db.exec(select(AuditEvent))}
    erased = events["anonymise"]
    assert erased.outcome == "applied" and erased.erasure == "erased"
    assert erased.related == "activity deleted=1, activity scrubbed=1"
    assert "related.activity" in erased.fields and "related.activity.body" in erased.fields
    assert "a-ada" not in erased.fields and "Quill" not in (erased.related or "")
    assert verify(make_engine(state_url), TEST_KEYRING).ok  # the new columns are covered by the chain
    shown = runner.invoke(app, ["--config", str(config), "audit", "show", str(erased.seq)])
    entry = json.loads(shown.stdout)
    assert (entry["erasure"], entry["related"]) == ("erased", "activity deleted=1, activity scrubbed=1")


def test_a_sensitive_sentence_in_a_kept_persons_activity_is_redacted(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)

    assert runner.invoke(app, ["--config", str(config), "sweep", "--apply"]).exit_code == 0

    subject, body, people = _activities(tmp_path)["a-bo"]
    assert body == "[redacted] Renewal in April." and subject == "Follow-up" and people == ("p-bo",)
    with Session(make_engine(state_url)) as db:
        redaction = next(e for e in db.exec(select(AuditEvent)) if e.action == "redact_note")
    assert redaction.erasure is None and redaction.related == "activity redacted=1"
    assert "fields=related.activity.body" in (redaction.evidence or "")


@pytest.mark.parametrize("on_erase", ["scrub"])
def test_scrub_setting_keeps_the_persons_own_activities_without_their_identifiers(
    tmp_path: Path, state_url: str, on_erase: str
) -> None:
    config = _seed(tmp_path, state_url, on_erase=on_erase)

    assert runner.invoke(app, ["--config", str(config), "sweep", "--apply"]).exit_code == 0

    subject, body, _ = _activities(tmp_path)["a-ada"]
    assert subject == "Call [erased]" and body == "[erased] asked to call back on [erased]."


def test_dry_run_changes_no_activity(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)
    before = _activities(tmp_path)

    result = runner.invoke(app, ["--config", str(config), "sweep"])

    assert result.exit_code == 0, result.output
    assert _activities(tmp_path) == before


def test_an_access_bundle_holds_the_persons_activities(tmp_path: Path, state_url: str) -> None:
    config = _seed(tmp_path, state_url)

    result = runner.invoke(app, ["--config", str(config), "request", "access", "--email", ADA["email"], "--now"])

    assert result.exit_code == 0, result.output
    bundle = Path(result.output.split("access bundle: ", 1)[1].split()[0])
    data = json.loads((bundle / "data.json").read_text())
    (record,) = data["crms"]["crm"]
    assert {row["id"]: row["other_people"] for row in record["related"]} == {"a-ada": 0, "a-both": 1}
    with (bundle / "crm-related-activity.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["id"] for row in rows) == ["a-ada", "a-both"] and rows[0]["person_id"] == "p-ada"
    assert '"a-bo"' not in (bundle / "data.json").read_text()  # another person's activity is not theirs to see
