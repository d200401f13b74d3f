"""End to end on the local connector: demo-sized data through dry run, apply and a second sweep.

The CRM state is checked record by record against an oracle written here from the law (not from
the engine), the audit log entry by entry, on SQLite and PostgreSQL state.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import demo_people
from gomme.model.conditions import PullQuery
from gomme.model.records import Lifecycle, PersonRecord
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent, Change, Run
from tests.policy_fixture import RETENTION_POLICY_TOML
from tests.state_key import TEST_KEYRING

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)


def _three_years_before(moment: dt.datetime) -> dt.datetime:
    return moment.replace(year=moment.year - 3) if not (moment.month == 2 and moment.day == 29) \
        else moment.replace(year=moment.year - 3, day=28)


def expected_outcome(person: PersonRecord) -> str:
    """The oracle: CNIL retention (3 years) and erasure requests; legal hold restricts instead (Art 17(3)(e))."""
    cutoff = _three_years_before(NOW)
    expired = False
    if person.lifecycle is Lifecycle.PROSPECT:
        start = person.last_activity_at or person.created_at
        expired = start is not None and start < cutoff
    elif person.lifecycle is Lifecycle.FORMER_CUSTOMER:
        if person.contract_end is not None:
            expired = person.contract_end < cutoff.date()
        else:
            start = person.last_activity_at or person.created_at
            expired = start is not None and start < cutoff
    if not (expired or person.erasure_requested):
        return "unchanged"
    return "restricted" if person.legal_hold else "anonymised"


@dataclass
class Workspace:
    config: Path
    crm: Path
    state_url: str
    people: list[PersonRecord]

    def run(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), "--log-format", "json", *args])
        return result.exit_code, result.output


@pytest.fixture
def workspace(tmp_path: Path, state_url: str) -> Workspace:
    crm = tmp_path / "crm.db"
    people = list(demo_people(NOW))
    with LocalConnector("crm", crm) as connector:
        connector.add(people)
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "{state_url}"\n\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
                      + RETENTION_POLICY_TOML)
    return Workspace(config, crm, state_url, people)


def test_dry_run_plans_without_writing(workspace: Workspace, tmp_path: Path) -> None:
    code, output = workspace.run("sweep", "--output", str(tmp_path / "plan.json"))
    assert code == 0, output
    plan = json.loads((tmp_path / "plan.json").read_text())
    expected = {p.id: expected_outcome(p) for p in workspace.people}
    assert {row["record_id"] for row in plan} == {i for i, outcome in expected.items() if outcome != "unchanged"}
    assert "Dry run: nothing was written" in output
    with LocalConnector("crm", workspace.crm) as connector:
        after = {r.id: r for r in connector.pull(_everything())}
    assert all(after[p.id].email == p.email and not after[p.id].restricted for p in workspace.people)
    engine = make_engine(workspace.state_url)
    with Session(engine) as db:
        assert db.exec(select(AuditEvent)).first() is None
        assert db.exec(select(Change)).first() is None


def test_apply_changes_each_record_as_the_law_requires_and_audits_each_once(workspace: Workspace) -> None:
    code, output = workspace.run("sweep", "--apply")
    assert code == 0, output

    with LocalConnector("crm", workspace.crm) as connector:
        after = {r.id: r for r in connector.pull(_everything())}
    outcomes = {p.id: expected_outcome(p) for p in workspace.people}
    assert sorted(set(outcomes.values())) == ["anonymised", "restricted", "unchanged"]
    assert list(outcomes.values()).count("restricted") == 1  # the demo's one person under legal hold
    for person in workspace.people:
        now = after[person.id]
        match outcomes[person.id]:
            case "unchanged":
                assert (now.email, now.last_name, now.notes, now.restricted, now.anonymised) == \
                       (person.email, person.last_name, dict(person.notes), False, False), person.id
            case "anonymised":
                assert (now.email, now.first_name, now.phone, now.birthdate, now.last_name) == \
                       (None, None, None, None, "ANONYMISED"), person.id
                assert now.anonymised and not now.notes and not now.consents
                assert (now.country, now.lifecycle) == (person.country, person.lifecycle)
            case "restricted":
                assert now.restricted and now.opt_outs.processing and now.opt_outs.email
                assert (now.email, now.last_name) == (person.email, person.last_name)

    changed = {i for i, outcome in outcomes.items() if outcome != "unchanged"}
    keyring = Keyring(os.environ["GOMME_SECRET_KEY"].encode())
    engine = make_engine(workspace.state_url)
    with Session(engine) as db:
        events = list(db.exec(select(AuditEvent).order_by(AuditEvent.seq)))
        runs = list(db.exec(select(Run)))
    assert len(events) == len(changed)
    assert {e.record_key for e in events} == {
        keyring.record_key(f"crm:{p.object_type}:{p.id}") for p in workspace.people if p.id in changed
    }
    assert all(e.outcome == "applied" for e in events)
    held = [e for e in events if e.action == "restrict_all"]
    assert len(held) == 1 and "legal-hold" in held[0].legal_basis
    assert len({e.policy_hash for e in events}) == 1 and events[0].policy_hash == runs[0].policy_hash
    report = verify(engine, TEST_KEYRING)
    assert report.ok and report.checked == len(changed)

    code, output = workspace.run("sweep", "--apply")
    assert code == 0, output
    assert "planned 0" in output
    with Session(engine) as db:
        assert len(list(db.exec(select(AuditEvent)))) == len(changed)
    code, output = workspace.run("audit", "verify")
    assert code == 0 and f"{len(changed)} entries" in output


def test_blast_radius_guard_aborts_before_any_write(workspace: Workspace) -> None:
    code, output = workspace.run("sweep", "--apply", "--max-changes", "5")
    assert code == 3, output
    assert "nothing was written" in output
    with LocalConnector("crm", workspace.crm) as connector:
        assert not any(r.anonymised or r.restricted for r in connector.pull(_everything()))
    engine = make_engine(workspace.state_url)
    with Session(engine) as db:
        assert db.exec(select(AuditEvent)).first() is None
        assert {c.status for c in db.exec(select(Change))} == {"skipped"}
        assert db.exec(select(Run)).one().status == "aborted"


@pytest.mark.parametrize(("limit", "code"), [("5%", 3), ("50%", 0), ("68", 3), ("69", 0)])
def test_guard_counts_against_the_crm_size_not_the_candidates_pulled(
    workspace: Workspace, limit: str, code: int
) -> None:
    planned = sum(expected_outcome(p) != "unchanged" for p in workspace.people)
    assert planned == 69  # of 300: 23%; pushdown pulls only candidates, so "pulled" would always be ~100%
    exit_code, output = workspace.run("sweep", "--max-changes", limit)
    assert exit_code == code, output


def test_audit_log_finds_a_record_by_its_crm_id(workspace: Workspace) -> None:
    workspace.run("sweep", "--apply")
    target = next(p for p in workspace.people if expected_outcome(p) == "anonymised")
    code, output = workspace.run("audit", "log", "--record", target.id, "--format", "json")
    assert code == 0, output
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"seq"' in line]
    assert len(rows) == 1 and rows[0]["action"] == "anonymise"
    assert target.id not in json.dumps(rows)


def _everything() -> PullQuery:
    return PullQuery(everything=True)
