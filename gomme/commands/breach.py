"""`gomme breach ...`: personal-data breach cases (GDPR Art 33/34), their 72-hour deadline, the notification draft
and the list of people to inform (docs/breach.md). Each command that audits something then anchors the chain's head."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from gomme.commands import UsageError
from gomme.commands.audit import moment
from gomme.jobs.breach import (
    BreachDesk,
    Controller,
    assess,
    audit_report,
    case_note,
    close_breach,
    open_breach,
    render_report,
    report_context,
    stored_assessment,
    write_notify_list,
)
from gomme.jobs.breach_assessment import approximately
from gomme.jobs.breach_authorities import authorities
from gomme.jobs.breach_scope import ScopeError, check_window, parse_all
from gomme.state.breach import CaseScope, CaseStatus, all_cases, find_case, hours_left, open_cases, overdue, scope_of
from gomme.state.clock import parse_stamp, utc_now
from gomme.state.models import BreachCase
from gomme.wiring import App, default_actor

REPORT_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}


def _desk(app: App) -> BreachDesk:
    return BreachDesk(engine=app.engine(), keyring=app.keyring(), open_connector=app.connector,
                      policy=app.config.policy, now=utc_now(), actor=default_actor())


def _when(text: str, option: str) -> dt.datetime:
    return parse_stamp(moment(text, option))


def open_case(
    app: App, *, connectors: Sequence[str], objects: Sequence[str], since: str | None, until: str | None,
    where: Sequence[str], aware_at: str, note: str, establishment: str | None, console: Console,
) -> int:
    """Check every input first (nothing is written on a bad one), then record the case."""
    names = app.connector_names(list(connectors))
    start, end = (_when(since, "--since") if since else None), (_when(until, "--until") if until else None)
    aware, now = _when(aware_at, "--aware-at"), utc_now()
    try:
        check_window(start, end)
        parse_all(where)
    except ScopeError as exc:
        raise UsageError(str(exc)) from None
    if aware > now:
        raise UsageError(f"--aware-at {aware_at} is in the future: give when you became aware of the breach")
    if not note.strip():
        raise UsageError("--note is empty: describe the incident (what happened, how it was found), without "
                         "copying any record's data")
    country = establishment.upper() if establishment else None
    if country is not None and (country not in authorities() or not authorities()[country].eea):
        eea = ", ".join(code for code, found in authorities().items() if found.eea)
        raise UsageError(f"--establishment {establishment}: not an EU/EEA country code; use one of: {eea}")
    scope = CaseScope(connectors=tuple(names), objects=tuple(objects), since=start, until=end, where=tuple(where))
    desk = _desk(app)
    case = open_breach(desk, scope, aware_at=aware, note=note.strip(), establishment=country)
    app.anchor()
    console.print(f"breach case {case.id} opened; notify the supervisory authority by {case.deadline_at[:16]}Z "
                  f"({hours_left(case, desk.now):.1f} h left, Art 33(1))", soft_wrap=True)
    console.print(f"Next: `gomme breach assess {case.id[:12]}` counts the people and data concerned.", soft_wrap=True)
    _warn_late(desk, console)
    return 0


def assess_case(app: App, case_id: str, console: Console) -> int:
    desk = _desk(app)
    with Session(desk.engine) as db:
        case = find_case(db, case_id)
    aggregates = assess(desk, case)
    app.anchor()
    people, records = aggregates["people"], aggregates["records"]
    console.print(f"breach case {case.id[:12]}: {approximately(people.get('all', 0))} people "
                  f"({people.get('all', 0)} exactly), {records.get('all', 0)} records in scope", soft_wrap=True)
    if not records.get("scanned"):
        console.print("  no record matched the scope: check the case's --object names (e.g. contact, lead) and "
                      "--where conditions, and open a new case if they were wrong", soft_wrap=True, markup=False)
    if records.get("anonymised"):
        console.print(f"  and {records['anonymised']} record(s) already anonymised: nothing personal left, not "
                      "counted", soft_wrap=True)
    for label in sorted(records):
        if label.startswith("group:"):
            console.print(f"  {label.removeprefix('group:')}: {records[label]} records, {people.get(label, 0)} people",
                          soft_wrap=True, markup=False)
    flags = ", ".join(f"{name} {people.get(label, 0)}" for name, label in (
        ("special categories", "special"), ("criminal", "criminal"), ("minors", "minor"), ("erased before", "erased"),
        ("restricted", "restricted"), ("reachable", "contactable")))
    console.print(f"  people: {flags}", soft_wrap=True, markup=False)
    countries = sorted(((label.removeprefix("country:"), n) for label, n in people.items()
                        if label.startswith("country:")), key=lambda item: (-item[1], item[0]))
    console.print("  countries: " + ", ".join(f"{code} {n}" for code, n in countries), soft_wrap=True, markup=False)
    console.print(f"Next: `gomme breach report {case.id[:12]} --output notification.html`.", soft_wrap=True)
    _warn_late(desk, console)
    return 0


def report_case(app: App, case_id: str, output: Path, fmt: str | None, console: Console) -> int:
    chosen = fmt or REPORT_FORMATS.get(output.suffix.lower())
    if chosen is None:
        raise UsageError(f"--output {output}: say the format with --format html|md, or end the file name with "
                         ".html or .md")
    if not output.parent.is_dir():
        raise UsageError(f"--output {output}: the directory {output.parent} does not exist")
    desk = _desk(app)
    with Session(desk.engine) as db:
        case = find_case(db, case_id)
    aggregates = stored_assessment(case)
    if aggregates is None:
        raise UsageError(f"breach case {case.id[:12]} is not assessed yet: run `gomme breach assess {case.id[:12]}` "
                         "first")
    register = app.config.register
    controller = Controller(name=register.controller, dpo_contact=register.dpo_contact)
    context = report_context(case, aggregates, scope=scope_of(case, desk.keyring), note=case_note(case, desk.keyring),
                             controller=controller, now=desk.now)
    output.write_text(render_report(context, chosen), encoding="utf-8")
    audit_report(desk, case, chosen)
    app.anchor()
    console.print(f"notification draft written to {output}; complete every 'TO COMPLETE' before sending it",
                  soft_wrap=True, markup=False)
    if not register.dpo_contact:
        console.print(Text("warning: ", style="bold yellow") + Text(
            f"no DPO contact in [register] dpo_contact of {app.config.source}: the draft shows the gap "
            "(Art 33(3)(b))"), soft_wrap=True)
    _warn_late(desk, console)
    return 0


def notify_list(app: App, case_id: str, output: Path, console: Console) -> int:
    if not output.parent.is_dir():
        raise UsageError(f"--output {output}: the directory {output.parent} does not exist")
    desk = _desk(app)
    with Session(desk.engine) as db:
        case = find_case(db, case_id)
    rows = write_notify_list(desk, case, output)
    app.anchor()
    console.print(f"{rows} people to inform written to {output} (mode 0600: it holds personal data; delete it once "
                  "they are told)", soft_wrap=True, markup=False)
    _warn_late(desk, console)
    return 0


def close_case(app: App, case_id: str, reason: str, console: Console) -> int:
    if not reason.strip():
        raise UsageError("--reason is empty: say how the case ended (notified on …, or why no notification)")
    desk = _desk(app)
    with Session(desk.engine) as db:
        case = find_case(db, case_id)
    if case.status == CaseStatus.CLOSED:
        raise UsageError(f"breach case {case.id[:12]} is already closed")
    close_breach(desk, case, reason.strip())
    app.anchor()
    console.print(f"breach case {case.id[:12]} closed", soft_wrap=True)
    _warn_late(desk, console)
    return 0


def list_cases(app: App, *, every: bool, fmt: str, stream: IO[str], console: Console) -> int:
    desk = _desk(app)
    with Session(desk.engine) as db:
        cases = list(all_cases(db)) if every else list(open_cases(db))
    if fmt == "json":
        for case in cases:
            stream.write(json.dumps(_row(case, desk.now)) + "\n")
    else:
        _table(cases, desk.now, stream)
    _warn_late(desk, console)
    return 0


def _row(case: BreachCase, now: dt.datetime) -> dict[str, object]:
    aggregates = stored_assessment(case)
    return {
        "id": case.id, "status": case.status, "aware_at": case.aware_at, "deadline_at": case.deadline_at,
        "hours_left": round(hours_left(case, now), 1), "overdue": overdue(case, now),
        "connectors": json.loads(case.connectors), "assessed_at": case.assessed_at,
        "people": aggregates["people"].get("all", 0) if aggregates else None,
        "notify_list_rows": case.notify_list_rows, "closed_at": case.closed_at,
    }


def _table(cases: Sequence[BreachCase], now: dt.datetime, stream: IO[str]) -> None:
    table = Table(title="Breach cases (Art 33: notify within 72 hours of becoming aware)", title_justify="left")
    for column in ("id", "status", "aware", "deadline", "hours left", "people", "connectors"):
        table.add_column(column, overflow="fold")
    for case in cases:
        row = _row(case, now)
        left = "closed" if case.status == CaseStatus.CLOSED else (
            f"{row['hours_left']} (overdue)" if row["overdue"] else f"{row['hours_left']}")
        people = "not assessed" if row["people"] is None else approximately(int(str(row["people"])))
        table.add_row(case.id[:12], case.status, case.aware_at[:16] + "Z", case.deadline_at[:16] + "Z", left, people,
                      ", ".join(json.loads(case.connectors)))
    if not cases:
        stream.write("no open breach case\n")
        return
    Console(file=stream, width=140).print(table)


def _warn_late(desk: BreachDesk, console: Console) -> None:
    """Every breach command says so when an open case is past its 72-hour deadline."""
    with Session(desk.engine) as db:
        late = [case for case in open_cases(db) if overdue(case, desk.now)]
    for case in late:
        console.print(Text("warning: ", style="bold yellow") + Text(
            f"breach case {case.id[:12]} is past its 72-hour deadline ({case.deadline_at[:16]}Z, "
            f"{-hours_left(case, desk.now):.1f} h ago): notify the supervisory authority now and give the reasons "
            "for the delay (Art 33(1)); `gomme breach close` once notified"), soft_wrap=True)
