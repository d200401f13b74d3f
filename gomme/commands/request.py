"""`gomme request ...`: record data-subject requests, process them, follow their deadlines."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import IO

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from gomme.commands import UsageError
from gomme.jobs.requests import RequestReport, process, process_all
from gomme.model.records import RECTIFIABLE_FIELDS
from gomme.state.changes import failures_of
from gomme.state.clock import stamp, utc_now
from gomme.state.db import session
from gomme.state.models import Request
from gomme.state.requests import (
    ExtensionRefused,
    RequestDetails,
    RequestType,
    create_request,
    due,
    extend,
    find_request,
    listing,
    overdue,
    progress_of,
)
from gomme.wiring import App, default_actor


class Rectification(BaseModel):
    """`--set field=value` pairs, validated like the CRM fields they correct."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    country: str | None = None
    birthdate: dt.date | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else checked_email(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and not (len(value) == 2 and value.isalpha()):
            raise ValueError("an ISO-3166 alpha-2 code such as FR")
        return None if value is None else value.upper()


def checked_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address ({exc})") from None


def parse_rectification(pairs: Sequence[str]) -> dict[str, str | None]:
    raw: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name.strip() not in RECTIFIABLE_FIELDS:
            raise UsageError(f"--set expects field=value with field among {', '.join(RECTIFIABLE_FIELDS)}")
        raw[name.strip()] = value.strip()
    if not raw:
        raise UsageError("rectify needs at least one --set field=value")
    try:
        model = Rectification.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        raise UsageError(f"--set: {problems}") from None
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in model.model_dump(include=set(raw)).items()}


def new_request(
    app: App, kind: RequestType, email: str, sets: Sequence[str], note: str | None, process_now: bool,
    console: Console,
) -> int:
    try:
        address = checked_email(email)
    except ValueError as exc:
        raise UsageError(f"--email: {exc}") from None
    values = parse_rectification(sets) if kind is RequestType.RECTIFY else {}
    if sets and kind is not RequestType.RECTIFY:
        raise UsageError("--set is for rectify requests only")
    engine, keyring, now = app.engine(), app.keyring(), utc_now()
    with session(engine) as db:
        request = create_request(db, kind=kind, email=address, details=RequestDetails(values, note), keyring=keyring,
                                 received=now, actor=default_actor())
    console.print(f"request {request.id} ({kind}) recorded; answer due by {request.deadline_at[:10]} (Art 12(3))")
    if not process_now:
        console.print("It will be carried out by `gomme request process` (or the daemon).")
        return 0
    report = process(app.request_desk(engine, keyring, now=now, actor=default_actor()), request.id)
    return _print_reports([report], console)


def process_requests(app: App, console: Console, *, wait: float = 0.0) -> int:
    engine, keyring = app.engine(), app.keyring()
    desk = replace(app.request_desk(engine, keyring, now=utc_now(), actor=default_actor()), wait=wait)
    reports = process_all(desk)
    app.anchor()
    if not reports:
        console.print("no request to process")
    return _print_reports(reports, console)


def _print_reports(reports: Sequence[RequestReport], console: Console) -> int:
    for report in reports:
        state = "completed" if report.completed else "not finished"
        outcome = f": {report.outcome}" if report.completed and report.outcome else ""
        console.print(f"request {report.request_id} ({report.kind}): {state}{outcome}", soft_wrap=True, markup=False)
        for connector, reason in sorted(report.failures.items()):
            console.print(f"  {connector}: {reason} — will be retried on the next run", soft_wrap=True, markup=False)
        if report.bundle:
            console.print(f"  access bundle: {report.bundle}", soft_wrap=True)
    if any(set(r.failures) - r.busy for r in reports):
        return 1
    return 3 if any(r.busy for r in reports) else 0  # another run held a connector: nothing was tried there


def list_requests(app: App, status: str | None, only_overdue: bool, fmt: str, stream: IO[str]) -> int:
    now = utc_now()
    with Session(app.engine()) as db:
        rows = overdue(db, now) if only_overdue else list(listing(db, status=status))
    _render(rows, fmt, stream, now)
    return 0


def overdue_requests(app: App, fmt: str, stream: IO[str], console: Console) -> int:
    """For monitoring: exit 1 when a request is past its deadline."""
    now = utc_now()
    with Session(app.engine()) as db:
        late = overdue(db, now)
    if late:
        console.print(f"{len(late)} request(s) past their deadline (Art 12(3)):")
        _render(late, fmt, stream, now)
        return 1
    console.print("no request is past its deadline")
    return 0


def show_request(app: App, request_id: str, stream: IO[str]) -> int:
    with Session(app.engine()) as db:
        request = find_request(db, request_id)
        steps = [{"connector": p.connector, "status": p.status, "records_found": p.records_found,
                  "summary": json.loads(p.summary), "updated_at": p.updated_at,
                  "failures": failures_of(db, request.id, p.connector)}
                 for p in progress_of(db, request.id)]  # fmt: skip
    stream.write(json.dumps({**_row(request, utc_now()), "progress": steps}, indent=2) + "\n")
    return 0


def extend_request(app: App, request_id: str, months: int, reason: str, console: Console) -> int:
    with session(app.engine()) as db:
        request = find_request(db, request_id)
        try:
            extend(db, request, months=months, reason=reason, now=utc_now())
        except ExtensionRefused as exc:
            raise UsageError(f"extension refused: {exc}") from None
        until = request.extended_until or ""
    console.print(f"request {request.id}: deadline extended to {until[:10]}; tell the person, with the reason, "
                  "within the first month (Art 12(3))")
    return 0


def _row(request: Request, now: dt.datetime) -> dict[str, object]:
    """A request as shown: never the identity, only its key's first characters."""
    return {
        "id": request.id, "type": request.type, "status": request.status, "received_at": request.received_at,
        "deadline_at": request.deadline_at, "extended_until": request.extended_until, "due": due(request),
        "overdue": request.status != "completed" and due(request) < stamp(now),
        "completed_at": request.completed_at, "identity_key": request.identity_key[:12], "actor": request.actor,
        "extension_reason": request.extension_reason, "outcome": request.outcome,
    }


def _render(rows: Sequence[Request], fmt: str, stream: IO[str], now: dt.datetime) -> None:
    if fmt == "json":
        for request in rows:
            stream.write(json.dumps(_row(request, now)) + "\n")
        return
    table = Table(title="Data-subject requests", title_justify="left")
    for column in ("id", "type", "status", "received", "due", "overdue", "outcome"):
        table.add_column(column, overflow="fold")
    for request in rows:
        row = _row(request, now)
        table.add_row(request.id[:12], request.type, request.status, request.received_at[:10], due(request)[:10],
                      "yes" if row["overdue"] else "", request.outcome or "")
    Console(file=stream, width=140).print(table)
