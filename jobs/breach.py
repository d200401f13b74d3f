"""Breach response (GDPR Art 33/34): open a case, assess its scope by streaming the CRMs, draft the Art 33(3)
notification, and write the Art 34 list of people to inform (docs/breach.md).

Only the notify list holds personal data: it is written 0600, and the audit log records that it was produced and
how many rows it has, never what. The state keeps aggregates; the assessment streams records and keeps none.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine
from sqlmodel import Session

from gomme.connectors.base import Connector
from gomme.jobs.breach_assessment import DATA_CATEGORIES, SPECIAL, Assessment, Facts, approximately
from gomme.jobs.breach_authorities import authority
from gomme.jobs.breach_scope import Scope
from gomme.model.records import PersonRecord
from gomme.policies.minor import MinorRule
from gomme.policies.notes.lexicon import Category
from gomme.policies.notes.scanner import scanner
from gomme.policies.policy import Policy
from gomme.state.audit import AuditEntry, append
from gomme.state.breach import (
    CaseScope,
    assessment_of,
    close_case,
    create_case,
    hours_left,
    note_of,
    record_notify_list,
    save_assessment,
    scope_of,
)
from gomme.state.clock import stamp
from gomme.state.db import session
from gomme.state.keys import Keyring
from gomme.state.models import BreachCase
from gomme.state.suppression import SuppressionReason, suppressed_any

BASIS = "GDPR Art 33(5): the controller documents every personal-data breach, its effects and the remedial action"
TO_COMPLETE = "TO COMPLETE"
_BATCH = 500  # records looked up in the suppression list at once
_TEMPLATES = Environment(
    # HTML escaped (the note is free text), Markdown as written.
    loader=PackageLoader("gomme.jobs", "templates"), autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)
NOTIFY_COLUMNS = ("crm", "object_type", "id", "email", "first_name", "last_name", "phone", "country", "language")


@dataclass(frozen=True, slots=True)
class BreachDesk:
    """What every breach command needs: the state, the key, the CRMs, the policy (minor ages), the clock, who."""

    engine: Engine
    keyring: Keyring
    open_connector: Callable[[str], AbstractContextManager[Connector]]
    policy: Policy
    now: dt.datetime
    actor: str


def open_breach(
    desk: BreachDesk, scope: CaseScope, *, aware_at: dt.datetime, note: str, establishment: str | None
) -> BreachCase:
    """Record the case and its 72-hour deadline, audited in the same transaction."""
    with session(desk.engine) as db:
        case = create_case(db, scope=scope, aware_at=aware_at, note=note, establishment=establishment,
                           keyring=desk.keyring, now=desk.now, actor=desk.actor)
        _audit(db, desk, case, "breach_opened",
               f"connectors={','.join(scope.connectors)}; conditions={len(scope.where)}; deadline={case.deadline_at}")
    return case


def scope_records(desk: BreachDesk, case: BreachCase) -> Iterator[PersonRecord]:
    """Every record in the case's scope, one connector after another, streamed."""
    scope = scope_of(case, desk.keyring)
    parsed = Scope.of(scope)
    for name in scope.connectors:
        with desk.open_connector(name) as connector:
            yield from (record for record in connector.pull(parsed.query()) if parsed.holds(record))


def assess(desk: BreachDesk, case: BreachCase) -> dict[str, Any]:
    """Stream the scope through an `Assessment` and store its aggregates on the case."""
    scan = scanner().scan
    rule = next((r for r in desk.policy.rules if isinstance(r, MinorRule)), None) or MinorRule(id="minor")

    def categories(notes: Mapping[str, str]) -> set[Category]:
        return {match.category for text in notes.values() for match in scan(text)}

    tally = Assessment(now=desk.now, scan=categories, consent_age=lambda country: rule.threshold(country)[0])
    records = scope_records(desk, case)
    while batch := list(islice(records, _BATCH)):
        erased = _erased_before(desk, batch)
        for record in batch:
            tally.add(record, Facts(erased_before=record.id in erased))
    aggregates = tally.result()
    with session(desk.engine) as db:
        stored = db.get(BreachCase, case.id)
        assert stored is not None
        save_assessment(db, stored, aggregates, desk.now)
        people, records_ = aggregates["people"].get("all", 0), aggregates["records"].get("all", 0)
        _audit(db, desk, stored, "breach_assessed", f"people={people}; records={records_}")
    return aggregates


def _erased_before(desk: BreachDesk, batch: Sequence[PersonRecord]) -> set[str]:
    keys = {record.id: desk.keyring.email_keys(record.email) for record in batch if record.email}
    if not keys:
        return set()
    with Session(desk.engine) as db:
        listed = suppressed_any(db, keys)
    return {record_id for record_id, reason in listed.items() if reason is SuppressionReason.ERASURE}


def write_notify_list(desk: BreachDesk, case: BreachCase, output: Path) -> int:
    """The Art 34 list: one row per person still identifiable and reachable, written 0600 (to a temporary file
    renamed at the end, so a failed run leaves nothing); audited by count."""
    rows = 0
    seen: set[str] = set()
    fd, temporary = tempfile.mkstemp(prefix=".notify-", dir=output.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(NOTIFY_COLUMNS)
            for record in scope_records(desk, case):
                if record.anonymised or not (record.email or record.phone):
                    continue
                who = record.email.strip().casefold() if record.email else record.ref
                if who in seen:
                    continue
                seen.add(who)
                found = authority(record.country)
                writer.writerow((record.crm, record.object_type, record.id, record.email or "",
                                 record.first_name or "", record.last_name or "", record.phone or "",
                                 record.country or "", found.language if found else ""))
                rows += 1
        Path(temporary).chmod(0o600)
        Path(temporary).replace(output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    with session(desk.engine) as db:
        stored = db.get(BreachCase, case.id)
        assert stored is not None
        record_notify_list(db, stored, rows, desk.now)
        _audit(db, desk, stored, "breach_notify_list", f"rows={rows}; file mode 0600")
    return rows


def close_breach(desk: BreachDesk, case: BreachCase, reason: str) -> None:
    with session(desk.engine) as db:
        stored = db.get(BreachCase, case.id)
        assert stored is not None
        close_case(db, stored, reason, desk.keyring, desk.now)
        _audit(db, desk, stored, "breach_closed", None)


def audit_report(desk: BreachDesk, case: BreachCase, fmt: str) -> None:
    with session(desk.engine) as db:
        _audit(db, desk, case, "breach_reported", f"format={fmt}")


def _audit(db: Session, desk: BreachDesk, case: BreachCase, action: str, evidence: str | None) -> None:
    append(db, AuditEntry(
        crm="gomme", object_type="breach", record_key=case.id, action=action, rule_id="breach", legal_basis=BASIS,
        policy_hash=desk.policy.hash, outcome="applied", actor=desk.actor, evidence=evidence,
    ), stamp(desk.now), desk.keyring)


@dataclass(frozen=True, slots=True)
class Controller:
    """Who notifies: from the config's `[register]`; None where it says nothing."""

    name: str | None
    dpo_contact: str | None


def report_context(
    case: BreachCase, aggregates: Mapping[str, Any], *, scope: CaseScope, note: str, controller: Controller,
    now: dt.datetime,
) -> dict[str, Any]:
    """Everything the notification draft shows, from the case and its aggregates: pure."""
    people: Mapping[str, int] = aggregates["people"]
    records: Mapping[str, int] = aggregates["records"]

    def count(label: str) -> dict[str, Any]:
        n = people.get(label, 0)
        return {"people": n, "approx": approximately(n), "records": records.get(label, 0)}

    groups = [{"name": label.removeprefix("group:"), **count(label)} for label in sorted(records)
              if label.startswith("group:")]
    data = [{"name": text, **count(f"data:{key}")} for key, text in DATA_CATEGORIES.items()
            if people.get(f"data:{key}")]
    special = [{"name": str(category).replace("_", " "), **count(f"special:{category}")} for category in SPECIAL
               if people.get(f"special:{category}")]
    countries = []
    for label in sorted(people, key=lambda name: (-people[name], name)):
        if label.startswith("country:"):
            code = label.removeprefix("country:")
            found = authority(code) if code != "unknown" else None
            countries.append({"code": code, "authority": found, **count(label)})
    lead = authority(case.establishment)
    concerned = [row["authority"] for row in countries
                 if row["authority"] is not None and row["authority"].eea and row["authority"] != lead]
    left = hours_left(case, now)
    return {
        "case": case, "scope": scope, "note": note, "controller": controller, "now": stamp(now)[:16] + "Z",
        "hours_left": round(left, 1), "overdue": left < 0, "to_complete": TO_COMPLETE,
        "total": count("all"), "groups": groups, "data": data, "special": special, "special_total": count("special"),
        "criminal": count("criminal"), "minor": count("minor"), "below_consent_age": count("below_consent_age"),
        "erased": count("erased"), "anonymised": records.get("anonymised", 0), "restricted": count("restricted"),
        "contactable": count("contactable"),
        "countries": countries, "lead": lead, "concerned": concerned,
    }


def render_report(context: Mapping[str, Any], fmt: str) -> str:
    """The Art 33(3) notification draft as HTML or Markdown."""
    return _TEMPLATES.get_template(f"breach_report.{fmt}.j2").render(**context)


def stored_assessment(case: BreachCase) -> dict[str, Any] | None:
    return assessment_of(case)


def case_note(case: BreachCase, keyring: Keyring) -> str:
    return note_of(case, keyring)
