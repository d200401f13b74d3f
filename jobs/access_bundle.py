"""The access/portability bundle (Art 15, 20): what each CRM holds on the person, and what it means.

A directory created 0700 with files 0600: `data.json` (every CRM's export, consents included, and
gomme's own audit history for the person), one CSV per CRM object, and `summary.html` for the person.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from gomme.model.changes import Action
from gomme.model.records import Lifecycle, PersonRecord
from gomme.policies.policy import Policy
from gomme.policies.retention import Clock, RetentionRule

_TEMPLATES = Environment(loader=PackageLoader("gomme.jobs", "templates"), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True, slots=True)
class Recipient:
    """A system holding the data: a configured CRM, its hosting and transfer basis (Art 15(1)(c), 15(2))."""

    name: str
    kind: str
    hosting: str = "not stated in the configuration"
    transfer_basis: str = "not stated in the configuration"


@dataclass(frozen=True, slots=True)
class ProcessingNotice:
    """What the controller declares about the processing (the Art 30 register feeds it)."""

    controller: str = "the controller (not named in the configuration)"
    dpo_contact: str | None = None
    purposes: Sequence[str] = ("Customer relationship management", "Direct marketing")
    data_categories: Sequence[str] = ("Identity", "Contact details", "Commercial relationship", "Consents")
    source: str = "Collected from you, or from the systems listed below"
    recipients: Sequence[Recipient] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CrmExport:
    """One CRM's export for the person; `people` are the same records read by gomme (canonical fields), whose
    dates say how long each is kept. Memory only: `records` is what the bundle's files hold."""

    connector: str
    records: Sequence[Mapping[str, Any]]
    people: Sequence[PersonRecord] = ()


@dataclass(frozen=True, slots=True)
class KeptLine:
    """How long one of the person's records is kept, in plain words, for the summary."""

    system: str
    record: str
    text: str


def write_bundle(
    directory: Path, *, request_id: str, received: str, exports: Sequence[CrmExport],
    audit_history: Sequence[Mapping[str, Any]], notice: ProcessingNotice, policy: Policy, now: dt.datetime,
) -> Path:
    """Write the bundle into `directory` (created 0700) and return it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    data = {
        "request": {"id": request_id, "received": received, "produced": now.isoformat()},
        "crms": {export.connector: list(export.records) for export in exports},
        "gomme_audit_history": list(audit_history),
    }
    _private_write(directory / "data.json", json.dumps(data, indent=2, ensure_ascii=False, default=str))
    for export in exports:
        _write_csvs(directory, export)
    html = _TEMPLATES.get_template("access_summary.html.j2").render(
        notice=notice, exports=exports, retention=retention_lines(policy), produced=now.date().isoformat(),
        request_id=request_id, audit_count=len(audit_history), kept=kept_lines(exports, policy, now),
    )
    _private_write(directory / "summary.html", html)
    return directory


def _write_csvs(directory: Path, export: CrmExport) -> None:
    """One CSV per object type, and one per related object (`<crm>-related-Task.csv`: each row with the id of the
    person it was found beside); nested values (consents, notes) as JSON in their cell."""
    by_object: dict[str, list[Mapping[str, Any]]] = {}
    for record in export.records:
        related = record.get("related") or ()
        person = {key: value for key, value in record.items() if key != "related"}
        by_object.setdefault(str(record.get("object_type") or record.get("object") or "record"), []).append(person)
        for row in related:
            key = f"related-{row.get('object', 'record')}"
            by_object.setdefault(key, []).append({"person_id": record.get("id"), **row})
    for object_type, rows in by_object.items():
        columns = sorted({key for row in rows for key in row})
        path = directory / f"{export.connector}-{object_type}.csv"
        with _private_open(path) as stream:
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: v if isinstance(v, str | int | float | None) else json.dumps(v, default=str)
                                 for k, v in row.items()})


# The summary speaks to the person: field names and lifecycles in words, periods in words (Period.words).
_SINCE = {
    "contract_end": "your contract ended",
    "last_activity_at": "your last contact with us",
    "created_at": "your record was created",
}
_WHO = {
    Lifecycle.PROSPECT: "If you are a prospect",
    Lifecycle.CUSTOMER: "If you are a customer",
    Lifecycle.FORMER_CUSTOMER: "If you are a former customer",
    Lifecycle.UNKNOWN: "Otherwise",
}
_CLOCK_WORDS = {
    Clock.LAST_ACTIVITY: "after your last contact with us (or, if there was none, after your record was created)",
    Clock.CONTRACT_END: "after the end of our relationship: the later of the end of your contract and your last "
    "contact with us",
}
_DONE = {  # what happens at the end of the period: the verb, and what it means
    Action.ANONYMISE: ("erased", "your identity and contact details removed"),
    Action.DELETE: ("deleted", ""),
    Action.RESTRICT_ALL: ("set aside", "stored, no longer used"),
}
_HOLD = "It is kept under a legal hold (to establish or defend a legal claim): stored only, not used."


def retention_lines(policy: Policy) -> list[str]:
    """Each retention rule of the policy in plain words, e.g. "If you are a prospect: 3 years after your last
    contact with us (...), then erased (...)"."""
    lines = []
    for rule in _retention_rules(policy):
        running = "while your contract runs, then " if rule.lifecycle is Lifecycle.CUSTOMER else ""
        clock = _CLOCK_WORDS[rule.clock]
        verb, meaning = _DONE[rule.action]
        then = f"{verb} ({meaning})" if meaning else verb
        lines.append(f"{_WHO[rule.lifecycle]}: {running}{rule.after.words} {clock}; then {then}.")
    return lines


def kept_lines(exports: Sequence[CrmExport], policy: Policy, now: dt.datetime) -> list[KeptLine]:
    """How long each of the person's records is kept, from its own dates and the policy's retention rules."""
    rules: dict[Lifecycle, RetentionRule] = {}
    for retention in _retention_rules(policy):
        rules.setdefault(retention.lifecycle, retention)  # the first in policy order when several share one
    today = now.date()
    lines = []
    for export in exports:
        for person in export.people:
            rule = rules.get(person.lifecycle)
            if person.anonymised:
                text = "Already erased: nothing that identifies you is left in this record."
            elif rule is None:
                text = "As long as needed for the purposes above."
            else:
                text = _kept(rule, person, now, today)
            lines.append(KeptLine(export.connector, person.object_type, text))
    return lines


def _kept(rule: RetentionRule, person: PersonRecord, now: dt.datetime, today: dt.date) -> str:
    schedule = rule.schedule(person, now)
    period, (verb, meaning) = schedule.after.words, _DONE[schedule.action]
    meaning = f" ({meaning})" if meaning else ""
    hold = f" {_HOLD}" if person.legal_hold else ""
    if schedule.state == "running" and schedule.contract_end is not None:
        return (f"Kept while your contract runs (it ends on {schedule.contract_end.isoformat()}), then {period} "
                f"after the end of our relationship.{hold}")
    if schedule.state == "due" and schedule.clock_field and schedule.started and schedule.due:
        since = f"{period} after {_SINCE.get(schedule.clock_field, schedule.clock_field)} on {schedule.started}"
        if schedule.due > today:
            return f"Kept until {since}: your data will be {verb} on {schedule.due.isoformat()}{meaning}.{hold}"
        if person.legal_hold:
            return f"The {since} ended on {schedule.due.isoformat()}.{hold}"
        return f"The {since} ended on {schedule.due.isoformat()}: your data is due to be {verb}{meaning}."
    if person.lifecycle is Lifecycle.CUSTOMER:
        return f"Kept while you are our customer: no date shows that our relationship ended.{hold}"
    return f"Kept for now: we hold no date from which the {period} would run.{hold}"


def _retention_rules(policy: Policy) -> list[RetentionRule]:
    return [rule for rule in policy.rules if isinstance(rule, RetentionRule)]


def _private_write(path: Path, text: str) -> None:
    with _private_open(path) as stream:
        stream.write(text)


def _private_open(path: Path) -> Any:
    """Open for writing with mode 0600 from the first byte (no window where others could read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
