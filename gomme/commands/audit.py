"""`gomme audit verify` and `gomme audit log`: what auditors run."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from gomme.state.audit import AuditFilter, entries, verify
from gomme.state.models import AuditEvent
from gomme.wiring import App

# Record ids are looked up under each of these object types (a CRM id is unique within its CRM).
OBJECT_TYPES = ("contact", "lead", "individual")
LOG_COLUMNS = ("seq", "ts", "run_id", "request_id", "crm", "object_type", "record_key", "action", "rule_id",
               "legal_basis", "policy_hash", "fields", "outcome", "error_code", "actor", "prev_hash", "hash")


def verify_chain(app: App, console: Console) -> int:
    report = verify(app.engine())
    if report.ok:
        console.print(f"audit chain intact: {report.checked} entries, head #{report.head_seq} {report.head_hash}")
        return 0
    console.print(f"[bold red]audit chain broken at entry #{report.broken_seq}[/]: {report.problem}. "
                  f"Entries #1..#{report.head_seq} verified before it.", soft_wrap=True)
    return 1


@dataclass(frozen=True, slots=True)
class AuditQuery:
    run: str | None = None
    rule: str | None = None
    action: str | None = None
    connector: str | None = None
    record: str | None = None
    limit: int | None = None


def show_log(app: App, query: AuditQuery, fmt: str, stream: IO[str]) -> None:
    where = AuditFilter(run_id=query.run, rule_id=query.rule, action=query.action, crm=query.connector,
                        record_keys=_record_keys(app, query) if query.record else None)
    with Session(app.engine()) as db:
        rows = entries(db, where, limit=query.limit)
        if fmt == "json":
            for event in rows:
                stream.write(json.dumps(_row(event), ensure_ascii=False) + "\n")
        elif fmt == "csv":
            writer = csv.DictWriter(stream, fieldnames=LOG_COLUMNS)
            writer.writeheader()
            writer.writerows(_row(event) for event in rows)
        else:
            _table(rows, stream)


def _record_keys(app: App, query: AuditQuery) -> tuple[str, ...]:
    """The HMACs the record id would have in each connector and object type: the log never holds the id."""
    keyring = app.keyring()
    connectors = [query.connector] if query.connector else list(app.config.connectors)
    return tuple(keyring.record_key(f"{crm}:{kind}:{query.record}") for crm in connectors for kind in OBJECT_TYPES)


def _row(event: AuditEvent) -> dict[str, object]:
    row: dict[str, object] = {name: getattr(event, name) for name in LOG_COLUMNS}
    row["fields"] = json.loads(event.fields)
    return row


def _table(rows: Iterable[AuditEvent], stream: IO[str]) -> None:
    table = Table(title="Audit log", title_justify="left")
    for column in ("seq", "time (UTC)", "crm", "object", "record key", "action", "rule", "outcome", "run"):
        table.add_column(column, overflow="fold")
    for event in rows:
        table.add_row(str(event.seq), event.ts[:19].replace("T", " "), event.crm, event.object_type,
                      event.record_key[:12], event.action, event.rule_id,
                      event.outcome + (f" ({event.error_code})" if event.error_code else ""), (event.run_id or "")[:8])
    Console(file=stream, width=160).print(table)
