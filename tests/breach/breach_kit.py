"""A local CRM seeded with synthetic people whose breach figures are known, and a config for it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.model.records import Consent, ConsentStatus, Lifecycle, OptOuts, PersonRecord

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
UNTIL = NOW - dt.timedelta(days=2)  # the breach window ends here: people created later are out of scope
AWARE = NOW - dt.timedelta(hours=3)


def _person(record_id: str, email: str | None, first: str, last: str, **changes: object) -> PersonRecord:
    base = PersonRecord(
        crm="crm", object_type="contact", id=record_id, email=email, first_name=first, last_name=last,
        country="FR", created_at=NOW - dt.timedelta(days=300), last_activity_at=NOW - dt.timedelta(days=10),
        lifecycle=Lifecycle.CUSTOMER,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


PEOPLE: tuple[PersonRecord, ...] = (
    # one person held twice (contact and lead, same address): one person, two records; a child with a health note
    _person("p-01", "maelle.quintard@example.test", "Maëlle", "Quintard",
            birthdate=NOW.date() - dt.timedelta(days=12 * 365), phone="+33 6 55 01 02 03",
            notes={"description": "Her diabetes treatment starts in May."},
            consents=(Consent("email", status=ConsentStatus.OPT_IN, captured_at=NOW, source="web form"),)),
    _person("p-02", "Maelle.Quintard@example.test", "Maëlle", "Quintard", object_type="lead",
            lifecycle=Lifecycle.PROSPECT),
    # criminal data in a note; processing restricted; Germany
    _person("p-03", "torsten.wackelberg@example.test", "Torsten", "Wackelberg", country="DE", restricted=True,
            notes={"description": "He was convicted of fraud in 2019."}),
    # already anonymised: scanned, nobody concerned
    _person("p-04", None, "Anonymised", "Anonymised", anonymised=True, country=None),
    # phone only, Spain, a lead
    _person("p-05", None, "Ildefonsa", "Barrenechea", object_type="lead", country="ES", phone="+34 600 11 22 33"),
    # no email and no phone: not reachable; country unknown
    _person("p-06", None, "Oswin", "Tremblethorpe", country=None),
    # created after the breach ended: out of scope
    _person("p-07", "late.joiner@example.test", "Leocadia", "Fennimore", created_at=NOW - dt.timedelta(days=1)),
    # erased before: on the suppression list (the test suppresses this address), re-imported since
    _person("p-08", "returned.person@example.test", "Gwendolyn", "Saltonstall", country="BE",
            opt_outs=OptOuts(processing=False)),
)
IN_SCOPE = [p for p in PEOPLE if p.id != "p-07"]


def needles() -> set[str]:
    """Every seeded personal value that must stay out of state, logs, audit and the report."""
    found: set[str] = set()
    for person in PEOPLE:
        if person.anonymised:
            continue
        found.update(filter(None, (person.email, person.phone, person.last_name)))
        found.update(text for text in person.notes.values() if text)
    return found


def seed(tmp_path: Path, state_url: str, *, register: str = "") -> Path:
    with LocalConnector("crm", tmp_path / "crm.db") as crm:
        crm.add(PEOPLE)
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "{state_url}"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
                      f'[register]\ncontroller = "Example SAS"\n{register}')
    return config


def gomme(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "--log-level", "debug", *args])
    return result.exit_code, result.output
