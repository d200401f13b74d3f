"""Data-subject requests end to end on two local CRMs: propagation (Art 19), legal hold, resume,
deadlines and extensions (Art 12(3)), the access bundle, and no clear identity left in state."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.model.changes import ChangeResult, PlannedChange
from gomme.model.conditions import PullQuery
from gomme.model.records import Lifecycle, PersonRecord
from gomme.state.db import make_engine, session, upgrade
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent, Change, Request, Suppression

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EMAIL = "alex.sample@example.org"


def _person(record_id: str, **changes: object) -> PersonRecord:
    base = PersonRecord(
        crm="x", object_type="contact", id=record_id, email=EMAIL, first_name="Alex", last_name="Sample",
        phone="+33 1 99 00 12 34", country="FR", created_at=NOW - dt.timedelta(days=400),
        last_activity_at=NOW - dt.timedelta(days=20), lifecycle=Lifecycle.CUSTOMER,
        notes={"description": "Prefers calls in the morning."},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Desk:
    """Two local CRMs holding the same person (plus a bystander), and a config for both."""

    def __init__(self, tmp_path: Path, state_url: str) -> None:
        self.tmp, self.state_url = tmp_path, state_url
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[state]\nurl = "{state_url}"\n[requests]\nexport_dir = "exports"\n'
            '[connectors.crm-a]\ntype = "local"\npath = "a.db"\n[connectors.crm-b]\ntype = "local"\npath = "b.db"\n'
            '[register]\ncontroller = "Example SAS"\n'
            '[register.systems.crm-a]\nhosting = "EU (Paris)"\ntransfer_basis = "no transfer outside the EU"\n'
        )
        with LocalConnector("crm-a", tmp_path / "a.db") as a:
            a.add([_person("a-1"), _person("a-2", object_type="lead", lifecycle=Lifecycle.PROSPECT),
                   _person("a-3", email="someone.else@example.com", first_name="Sam")])
        with LocalConnector("crm-b", tmp_path / "b.db") as b:
            b.add([_person("b-1", email=EMAIL.upper())])

    def run(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), "--log-level", "error", *args])
        return result.exit_code, result.output

    def out(self, *args: str) -> tuple[int, str]:
        """The exit code and stdout alone, as a script reading JSON or CSV gets it (stderr has the header)."""
        result = runner.invoke(app, ["--config", str(self.config), "--log-level", "error", *args])
        return result.exit_code, result.stdout

    def records(self, crm: str) -> dict[str, PersonRecord]:
        with LocalConnector(crm, self.tmp / f"{crm[-1]}.db") as connector:
            return {r.id: r for r in connector.pull(PullQuery())}

    def engine(self) -> Engine:
        engine = make_engine(self.state_url)
        upgrade(engine)
        return engine


@pytest.fixture
def desk(tmp_path: Path, state_url: str) -> Desk:
    return Desk(tmp_path, state_url)


def _request_id(output: str) -> str:
    return output.split("request ", 1)[1].split(" ", 1)[0]


def test_erase_reaches_every_crm_and_is_audited_per_record(desk: Desk) -> None:
    code, output = desk.run("request", "erase", "--email", EMAIL, "--now")
    assert code == 0, output
    assert "completed" in output
    a, b = desk.records("crm-a"), desk.records("crm-b")
    assert a["a-1"].anonymised and a["a-2"].anonymised and b["b-1"].anonymised
    assert a["a-3"].email == "someone.else@example.com" and not a["a-3"].anonymised
    with Session(desk.engine()) as db:
        events = list(db.exec(select(AuditEvent)))
        suppressed = list(db.exec(select(Suppression)))
        request = db.exec(select(Request)).one()
    changes = [e for e in events if e.crm != "gomme"]
    assert sorted((e.crm, e.action, e.outcome) for e in changes) == [
        ("crm-a", "anonymise", "applied"), ("crm-a", "anonymise", "applied"), ("crm-b", "anonymise", "applied")]
    assert {e.request_id for e in events} == {request.id}
    assert [e.action for e in events if e.crm == "gomme"] == ["completed"]
    assert [s.reason for s in suppressed] == ["erasure"]
    assert request.status == "completed" and request.identity_sealed is None and request.details_sealed is None


def test_no_clear_identity_remains_in_state_after_completion(desk: Desk) -> None:
    desk.run("request", "rectify", "--email", EMAIL, "--set", "last_name=Corrected", "--note", "asked by phone")
    with desk.engine().connect() as connection:  # while open, the identity is there, but only sealed
        dump = _dump(connection)
    assert EMAIL not in dump and "Corrected" not in dump and "asked by phone" not in dump
    code, output = desk.run("request", "process")
    assert code == 0, output
    with desk.engine().connect() as connection:
        dump = _dump(connection)
    assert EMAIL.lower() not in dump.lower() and "Corrected" not in dump and "Sample" not in dump
    assert desk.records("crm-b")["b-1"].last_name == "Corrected"


def _dump(connection: object) -> str:
    from sqlalchemy import inspect

    tables = inspect(connection).get_table_names()  # type: ignore[arg-type]
    rows = []
    for table in tables:
        rows.extend(str(tuple(row)) for row in connection.execute(text(f'SELECT * FROM "{table}"')))  # type: ignore[attr-defined]
    return "\n".join(rows)


def test_legal_hold_restricts_instead_of_erasing_and_says_why(desk: Desk) -> None:
    with LocalConnector("crm-b", desk.tmp / "b.db") as b:
        b.add([_person("b-1", email=EMAIL, legal_hold=True)])
    code, output = desk.run("request", "erase", "--email", EMAIL, "--now")
    assert code == 0, output
    held = desk.records("crm-b")["b-1"]
    assert held.restricted and not held.anonymised and held.email == EMAIL
    assert desk.records("crm-a")["a-1"].anonymised
    _, shown = desk.out("request", "list", "--format", "json")
    outcome = json.loads(shown.splitlines()[0])["outcome"]
    assert "crm-b: 1 change(s) applied, 1 record(s) under legal hold restricted instead of erased" in outcome
    with Session(desk.engine()) as db:
        restricted = db.exec(select(AuditEvent).where(AuditEvent.action == "restrict_all")).one()
    assert "Art 17(3)(e)" in restricted.legal_basis


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("restrict", lambda r: r.restricted and r.opt_outs.processing and r.email.lower() == EMAIL),
        ("object", lambda r: r.opt_outs.email and not r.restricted and r.email.lower() == EMAIL),
    ],
)
def test_restrict_and_object_apply_everywhere(desk: Desk, kind: str, check: object) -> None:
    code, output = desk.run("request", kind, "--email", EMAIL, "--now")
    assert code == 0, output
    for record in (desk.records("crm-a")["a-1"], desk.records("crm-a")["a-2"], desk.records("crm-b")["b-1"]):
        assert check(record)  # type: ignore[operator]
    assert not desk.records("crm-a")["a-3"].opt_outs.email
    again_code, _ = desk.run("request", kind, "--email", EMAIL, "--now")
    assert again_code == 0
    with Session(desk.engine()) as db:  # the second request found everything in place: no new change
        assert len([e for e in db.exec(select(AuditEvent)) if e.crm != "gomme"]) == 3
        reasons = [s.reason for s in db.exec(select(Suppression))]
    assert reasons == (["objection"] if kind == "object" else [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "last_name"], "--set expects field=value"),
        (["--set", "salary=1"], "--set expects field=value"),
        (["--set", "birthdate=31/12/1990"], "birthdate"),
        (["--set", "email=not-an-email"], "email"),
        (["--set", "country=France"], "country"),
        ([], "at least one --set"),
    ],
)
def test_rectify_validates_its_values(desk: Desk, args: list[str], message: str) -> None:
    code, output = desk.run("request", "rectify", "--email", EMAIL, *args)
    assert code == 2 and message in output and "Traceback" not in output


def test_invalid_email_is_refused(desk: Desk) -> None:
    code, output = desk.run("request", "erase", "--email", "nobody")
    assert code == 2 and "--email" in output


def test_access_bundle_is_private_and_complete(desk: Desk) -> None:
    desk.run("request", "object", "--email", EMAIL, "--now")  # so gomme's own history has entries
    code, output = desk.run("request", "access", "--email", EMAIL, "--now")
    assert code == 0, output
    bundle = Path(output.split("access bundle: ", 1)[1].split()[0])
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    files = sorted(p.name for p in bundle.iterdir())
    assert files == ["crm-a-contact.csv", "crm-a-lead.csv", "crm-b-contact.csv", "data.json", "summary.html"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in bundle.iterdir())
    data = json.loads((bundle / "data.json").read_text())
    assert {r["id"] for r in data["crms"]["crm-a"]} == {"a-1", "a-2"}
    assert [r["id"] for r in data["crms"]["crm-b"]] == ["b-1"]
    assert any("Prefers calls" in json.dumps(r) for r in data["crms"]["crm-a"])  # notes are part of access
    assert len(data["gomme_audit_history"]) == 3
    summary = (bundle / "summary.html").read_text()
    for expected in ("Example SAS", "EU (Paris)", "no transfer outside the EU", "crm-b", "not stated",
                     "Article 16", "Article 17", "Article 18", "Article 21", "CNIL",
                     "If you are a prospect: 3 years after your last contact with us"):
        assert expected in summary, expected


class CrashAfterWrite(BaseException):
    """The process dies after the CRM saved the batch, before gomme settled it."""


def test_a_crash_mid_request_finishes_on_the_next_run_with_one_audit_entry_each(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = LocalConnector.apply

    def crash_in_b(self: LocalConnector, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        results = list(original(self, changes))
        if self.name == "crm-b":
            raise CrashAfterWrite
        return iter(results)

    code, output = desk.run("request", "restrict", "--email", EMAIL)
    request_id = _request_id(output)
    monkeypatch.setattr(LocalConnector, "apply", crash_in_b)
    with pytest.raises(CrashAfterWrite):
        runner.invoke(app, ["--config", str(desk.config), "request", "process"], catch_exceptions=False)
    with Session(desk.engine()) as db:
        assert Counter(c.status for c in db.exec(select(Change))) == {"applied": 2, "pending": 1}
        assert db.get_one(Request, request_id).status == "in_progress"
    monkeypatch.setattr(LocalConnector, "apply", original)
    code, output = desk.run("request", "process")
    assert code == 0 and "completed" in output, output
    with Session(desk.engine()) as db:
        applied = Counter(e.change_id for e in db.exec(select(AuditEvent)) if e.crm != "gomme")
    assert len(applied) == 3 and set(applied.values()) == {1}
    assert desk.records("crm-b")["b-1"].restricted


def _received(desk: Desk, days_ago: int) -> str:
    from gomme.state.requests import RequestDetails, RequestType, create_request

    with session(desk.engine()) as db:
        return create_request(db, kind=RequestType.ERASE, email=EMAIL, details=RequestDetails(),
                              keyring=Keyring(os.environ["GOMME_SECRET_KEY"].encode()),
                              received=NOW - dt.timedelta(days=days_ago), actor="test").id


def test_deadline_is_one_month_and_overdue_requests_exit_1(desk: Desk) -> None:
    code, output = desk.run("request", "overdue")
    assert code == 0 and "no request" in output
    late = _received(desk, days_ago=40)
    _received(desk, days_ago=3)
    code, output = desk.out("request", "overdue", "--format", "json")
    assert code == 1
    rows = [json.loads(line) for line in output.splitlines()]
    assert [r["id"] for r in rows] == [late]
    received = dt.datetime.fromisoformat(rows[0]["received_at"])
    due = dt.datetime.fromisoformat(rows[0]["deadline_at"])
    assert (due.year * 12 + due.month) - (received.year * 12 + received.month) == 1


def test_extension_rules_of_article_12_3(desk: Desk) -> None:
    fresh = _received(desk, days_ago=10)
    assert desk.run("request", "extend", fresh, "--months", "1", "--reason", "complex request")[0] == 0
    assert desk.run("request", "extend", fresh, "--months", "1", "--reason", "many requests")[0] == 0
    code, output = desk.run("request", "extend", fresh, "--months", "1", "--reason", "again")
    assert code == 2 and "may not exceed two months" in output
    code, output = desk.run("request", "extend", fresh, "--months", "3", "--reason", "x")
    assert code == 2
    late = _received(desk, days_ago=35)
    code, output = desk.run("request", "extend", late, "--months", "1", "--reason", "too late")
    assert code == 2 and "first month is over" in output
    code, output = desk.out("request", "show", fresh[:10])
    shown = json.loads(output)
    assert shown["extension_reason"] == "many requests"
    deadline, extended = (dt.datetime.fromisoformat(shown[k]) for k in ("deadline_at", "extended_until"))
    assert (extended.year * 12 + extended.month) - (deadline.year * 12 + deadline.month) == 2
    code, _ = desk.run("request", "overdue")
    assert code == 1  # the late one; the extended one is not overdue


def test_a_reimported_person_is_erased_again_by_the_suppression_rule(desk: Desk) -> None:
    assert desk.run("request", "erase", "--email", EMAIL, "--now")[0] == 0
    with LocalConnector("crm-a", desk.tmp / "a.db") as a:  # an old export is imported again
        a.add([_person("a-9", email=EMAIL.title(), lifecycle=Lifecycle.CUSTOMER)])
    code, output = desk.run("sweep", "--apply", "--connector", "crm-a")
    assert code == 0, output
    again = desk.records("crm-a")["a-9"]
    assert again.anonymised and again.email is None
    with Session(desk.engine()) as db:
        event = db.exec(select(AuditEvent).where(AuditEvent.rule_id == "suppression")).one()
    assert event.action == "anonymise" and event.outcome == "applied"


def test_a_reimported_objector_gets_no_marketing_and_is_not_erased(desk: Desk) -> None:
    assert desk.run("request", "object", "--email", EMAIL, "--now")[0] == 0
    with LocalConnector("crm-a", desk.tmp / "a.db") as a:
        a.add([_person("a-9", email=EMAIL, lifecycle=Lifecycle.CUSTOMER)])
    assert desk.run("sweep", "--apply", "--connector", "crm-a")[0] == 0
    again = desk.records("crm-a")["a-9"]
    assert again.opt_outs.email and not again.anonymised and again.email == EMAIL
    with Session(desk.engine()) as db:
        event = db.exec(select(AuditEvent).where(AuditEvent.rule_id == "suppression")).one()
    assert event.action == "restrict_email"


@pytest.mark.parametrize("kind", ["erase", "object", "access"])
def test_a_request_that_matches_nobody_says_so(desk: Desk, kind: str) -> None:
    before = {crm: desk.records(crm) for crm in ("crm-a", "crm-b")}
    code, output = desk.run("request", kind, "--email", "nobody.known@example.com", "--now")
    assert code == 0, output
    flat = " ".join(output.split())
    assert "completed: no record of this person in any CRM (crm-a, crm-b): nothing to do" in flat
    assert "nobody.known" not in output
    assert {crm: desk.records(crm) for crm in ("crm-a", "crm-b")} == before
    _, shown = desk.out("request", "list", "--format", "json")
    assert json.loads(shown.splitlines()[0])["outcome"].startswith("no record of this person in any CRM")


def test_a_request_names_the_crms_where_nothing_was_found(desk: Desk) -> None:
    code, output = desk.run("request", "erase", "--email", "someone.else@example.com", "--now")
    assert code == 0, output
    assert "crm-a: 1 change(s) applied; crm-b: no record found" in " ".join(output.split())
