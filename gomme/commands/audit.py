"""`gomme audit ...`: what auditors run — list, show, export, checkpoint, verify, report."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlmodel import Session

from gomme.commands import UsageError
from gomme.state.anchors import verify_anchors
from gomme.state.audit import AuditFilter, ChainReport, Checkpoint, check_checkpoint, entries, verify
from gomme.state.clock import stamp, utc_now
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent
from gomme.wiring import App

# Record ids are looked up under each of these object types (a CRM id is unique within its CRM).
OBJECT_TYPES = ("contact", "lead", "individual")
LOG_COLUMNS = ("seq", "ts", "run_id", "request_id", "change_id", "crm", "object_type", "record_key", "action",
               "rule_id", "legal_basis", "policy_hash", "fields", "evidence", "outcome", "error_code", "erasure",
               "related", "disclosure", "actor", "prev_hash", "hash", "mac")


def moment(text: str, option: str) -> str:
    """An ISO date or datetime from the command line (UTC when no zone is given) as a state timestamp."""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: '{text}' is not an ISO-8601 date or datetime (e.g. 2026-11-01)") from None
    return stamp(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC))


def verify_chain(app: App, console: Console, checkpoint: Checkpoint | None = None, anchors: Path | None = None) -> int:
    engine, keyring = app.engine(), app.keyring()
    report = verify(engine, keyring)
    if not report.ok:
        console.print(Text(f"audit chain broken at entry #{report.broken_seq}", style="bold red")
                      + Text(f": {report.problem}. Entries #1..#{report.head_seq} verified before it."), soft_wrap=True)
        return 1
    console.print(f"audit chain intact: {report.checked} entries, head #{report.head_seq} {report.head_hash}",
                  soft_wrap=True)
    if report.checked and report.authenticated_from is None:
        console.print("  no entry carries a MAC yet (all were written before gomme authenticated them): only "
                      "anchors and checkpoints vouch for them", soft_wrap=True)
    elif report.authenticated_from is not None:
        console.print(f"  entries #{report.authenticated_from}..#{report.head_seq} carry a valid MAC (state key), "
                      "which also vouches for every entry before them", soft_wrap=True)
    for key in keyring.retired:
        console.print(f"  entries up to #{key.last_seq} were authenticated with the key {key.fingerprint[:12]}, "
                      f"retired by `gomme key rotate` at {key.retired_at[:19].replace('T', ' ')} UTC",
                      soft_wrap=True, markup=False)
    code = _check_anchors(engine, keyring, report, anchors or app.config.anchor_file(), console)
    if checkpoint is None:
        return code
    problem = check_checkpoint(engine, report, checkpoint)
    if problem:
        console.print(Text(f"checkpoint #{checkpoint.seq} not proven", style="bold red") + Text(f": {problem}"),
                      soft_wrap=True)
        return 1
    console.print(f"checkpoint #{checkpoint.seq} holds: nothing up to it was altered, removed or reordered")
    return code


def _check_anchors(engine: Engine, keyring: Keyring, report: ChainReport, path: Path | None, console: Console) -> int:
    if path is None:
        console.print("  no anchor file ([audit] anchor_file): entries removed from the end of the log would go "
                      "unseen; see docs/audit-trail.md", soft_wrap=True, markup=False)
        return 0
    if not path.exists():
        if report.checked:
            console.print(Text(f"anchor file {path} is missing", style="bold red")
                          + Text(": the log cannot be checked against it"), soft_wrap=True)
            return 1
        return 0
    anchors = verify_anchors(engine, keyring, report, path)
    for problem in anchors.problems:
        console.print(Text("anchor not proven: ", style="bold red") + Text(problem), soft_wrap=True)
    if anchors.newest is not None:
        after = report.head_seq - anchors.newest.seq
        console.print(f"  {anchors.checked} anchor(s) hold; the newest, entry #{anchors.newest.seq} at "
                      f"{anchors.newest.ts}, is in the log ({after} entr{'y' if after == 1 else 'ies'} after it, "
                      "covered by their MACs only)", soft_wrap=True)
    return 1 if anchors.problems else 0


def checkpoint(app: App, stream: IO[str]) -> int:
    report = verify(app.engine(), app.keyring())
    if not report.ok:
        raise UsageError(f"the chain is broken at entry #{report.broken_seq}; a checkpoint would certify it")
    stream.write(f"{Checkpoint(report.head_seq, report.head_hash)}\n")
    return 0


@dataclass(frozen=True, slots=True)
class AuditQuery:
    run: str | None = None
    request: str | None = None
    rule: str | None = None
    action: str | None = None
    connector: str | None = None
    record: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int | None = None


def audit_filter(app: App, query: AuditQuery) -> AuditFilter:
    return AuditFilter(
        run_id=query.run, request_id=query.request, rule_id=query.rule, action=query.action, crm=query.connector,
        record_keys=_record_keys(app, query) if query.record else None, since=query.since, until=query.until,
    )


def show_log(app: App, query: AuditQuery, fmt: str, stream: IO[str]) -> None:
    """The first `query.limit` matching entries (all without a limit), oldest first."""
    with Session(app.engine()) as db:
        _render(entries(db, audit_filter(app, query), limit=query.limit), fmt, stream)


def show_recent(app: App, query: AuditQuery, fmt: str, stream: IO[str], console: Console, *, last: int | None) -> int:
    """The last `last` matching entries (every one when None), oldest first; says on `console` how many matched
    when some are left out. Returns how many matched."""
    with Session(app.engine()) as db:
        rows = entries(db, audit_filter(app, query))
        if last is None:
            tally = _Tally(rows)
            _render(tally, fmt, stream)
            return tally.count
        kept: deque[AuditEvent] = deque(maxlen=last)
        matched = 0
        for event in rows:  # streamed: only the last `last` entries are held
            kept.append(event)
            matched += 1
        _render(kept, fmt, stream)
    if matched > len(kept):
        console.print(
            f"showing the last {len(kept):,} of {matched:,} entries; --all or --limit N for more",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    return matched


def _render(rows: Iterable[AuditEvent], fmt: str, stream: IO[str]) -> None:
    if fmt == "json":
        for event in rows:
            stream.write(json.dumps(_row(event), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        _write_csv(rows, stream)
    else:
        _table(rows, stream)


def show_entry(app: App, seq: int, stream: IO[str]) -> int:
    with Session(app.engine()) as db:
        event = db.get(AuditEvent, seq)
    if event is None:
        raise LookupError(f"there is no audit entry #{seq}")
    stream.write(json.dumps(_row(event), indent=2, ensure_ascii=False) + "\n")
    return 0


def export_log(app: App, query: AuditQuery, fmt: str, output: Path, console: Console) -> int:
    """Write the entries and a manifest beside them: count, seq range, chain head, sha256 of the file."""
    report = verify(app.engine(), app.keyring())
    with Session(app.engine()) as db, output.open("w", encoding="utf-8", newline="") as stream:
        rows = _Tally(entries(db, audit_filter(app, query), limit=query.limit))
        if fmt == "csv":
            _write_csv(rows, stream)
        else:
            for event in rows:
                stream.write(json.dumps(_row(event), ensure_ascii=False, sort_keys=True) + "\n")
        count, first, last = rows.count, rows.first, rows.last
    manifest = {
        "file": output.name, "format": fmt, "entries": count, "first_seq": first, "last_seq": last,
        "sha256": hashlib.sha256(output.read_bytes()).hexdigest(), "chain_intact": report.ok,
        "head_seq": report.head_seq, "head_hash": report.head_hash, "produced": stamp(utc_now()),
        "filters": {k: v for k, v in asdict(query).items() if v is not None},
    }
    manifest_path = output.with_name(output.name + ".manifest.json")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    console.print(f"{count} entries written to {output}; manifest in {manifest_path}", soft_wrap=True)
    return 0 if report.ok else 1


class _Tally(Iterator[AuditEvent]):
    """Passes entries through, remembering how many and the first and last seq (for the manifest)."""

    def __init__(self, rows: Iterable[AuditEvent]) -> None:
        self._rows, self.count = iter(rows), 0
        self.first: int | None = None
        self.last: int | None = None

    def __next__(self) -> AuditEvent:
        event = next(self._rows)
        self.count += 1
        self.first = self.first or event.seq
        self.last = event.seq
        return event


def _record_keys(app: App, query: AuditQuery) -> tuple[str, ...]:
    """The HMACs the record id would have in each connector and object type, under the current key and every
    retired one (entries written before a key rotation): the log never holds the id."""
    keyring = app.keyring()
    connectors = [query.connector] if query.connector else list(app.config.connectors)
    return tuple(key for crm in connectors for kind in OBJECT_TYPES
                 for key in keyring.record_keys(f"{crm}:{kind}:{query.record}"))


def _row(event: AuditEvent) -> dict[str, object]:
    row: dict[str, object] = {name: getattr(event, name) for name in LOG_COLUMNS}
    row["fields"] = json.loads(event.fields)
    return row


def _write_csv(rows: Iterable[AuditEvent], stream: IO[str]) -> None:
    writer = csv.DictWriter(stream, fieldnames=LOG_COLUMNS)
    writer.writeheader()
    for event in rows:
        row = _row(event)
        row["fields"] = ";".join(json.loads(event.fields))
        writer.writerow(row)


def _table(rows: Iterable[AuditEvent], stream: IO[str]) -> None:
    table = Table(title="Audit log", title_justify="left")
    for column in ("seq", "time (UTC)", "crm", "object", "record key", "action", "rule", "evidence", "outcome",
                   "run/request"):
        table.add_column(column, overflow="fold")
    for event in rows:
        table.add_row(str(event.seq), event.ts[:19].replace("T", " "), event.crm, event.object_type,
                      event.record_key[:12], event.action, event.rule_id, event.evidence or "",
                      event.outcome + (f" ({event.error_code})" if event.error_code else "")
                      + (f", {event.erasure}" if event.erasure else ""),
                      (event.run_id or event.request_id or "")[:8])
    Console(file=stream, width=160).print(table)
