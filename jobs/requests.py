"""Carrying out data-subject requests in every connected CRM (Art 19), resumably, with proof.

Each request is processed connector by connector; progress is stored per connector, changes go
through the same write-ahead log as sweeps, so a crash mid-request finishes on the next run and
nothing is applied or audited twice. Completion wipes the person's identity from state.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sqlalchemy import Engine
from sqlmodel import Session

from gomme.connectors.base import Connector
from gomme.connectors.errors import ConnectorError
from gomme.jobs.access_bundle import CrmExport, ProcessingNotice, write_bundle
from gomme.jobs.apply import write_and_settle
from gomme.jobs.context import RunContext
from gomme.jobs.leases import ConnectorBusy, connector_lease
from gomme.jobs.request_changes import change_for
from gomme.model.changes import Action, ChangeResult, PlannedChange
from gomme.policies.policy import Policy
from gomme.state.audit import AuditEntry, AuditFilter, append, entries
from gomme.state.changes import record_plan, unsettled
from gomme.state.clock import stamp
from gomme.state.db import session
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent, Change, Request
from gomme.state.requests import (
    ProgressStatus,
    RequestType,
    complete,
    details,
    identity,
    progress,
    progress_of,
    save_progress,
    start,
    unfinished,
)
from gomme.state.runs import RunCounts, RunStatus, finish_run, start_run
from gomme.state.suppression import SuppressionReason, suppress

log = structlog.get_logger(__name__)
OpenConnector = Callable[[str], AbstractContextManager[Connector]]
REQUEST_BASIS = {
    RequestType.ACCESS: "GDPR Art 15 and 20: access and portability",
    RequestType.ERASE: "GDPR Art 17", RequestType.RESTRICT: "GDPR Art 18", RequestType.OBJECT: "GDPR Art 21(2)",
    RequestType.RECTIFY: "GDPR Art 16",
}


@dataclass(frozen=True, slots=True)
class RequestDesk:
    """Everything request processing needs; `open_connector` opens a configured connector by name."""

    connectors: tuple[str, ...]
    open_connector: OpenConnector
    engine: Engine
    keyring: Keyring
    policy: Policy
    now: dt.datetime
    actor: str
    export_dir: Path
    # How a run against one connector is set up (batch size, clocks): the composition root's, as for sweeps.
    context: Callable[[Connector], RunContext]
    notice: ProcessingNotice = field(default_factory=ProcessingNotice)
    wait: float = 0.0  # seconds to wait for a connector another run holds (jobs/leases.py)


@dataclass(slots=True)
class RequestReport:
    request_id: str
    kind: str
    completed: bool
    failures: dict[str, str] = field(default_factory=dict)  # connector → PII-free reason
    busy: set[str] = field(default_factory=set)  # connectors another run held: nothing was tried there
    outcome: str | None = None  # once completed: what was done where, PII-free (`_outcome`)
    bundle: Path | None = None


def process_all(desk: RequestDesk) -> list[RequestReport]:
    with Session(desk.engine) as db:
        ids = [request.id for request in unfinished(db)]
    return [process(desk, request_id) for request_id in ids]


def process(desk: RequestDesk, request_id: str) -> RequestReport:
    """Take one request as far as it goes; what fails stays pending for the next run."""
    with session(desk.engine) as db:
        request = db.get_one(Request, request_id)
        start(db, request)
    report = RequestReport(request.id, request.type, completed=False)
    kind = RequestType(request.type)
    if kind is RequestType.ACCESS:
        _access(desk, request, report)
    else:
        for name in desk.connectors:
            _change_in(desk, request, name, report)
    if not report.failures:
        _complete(desk, request, report)
    log.info("request_processed", request_id=request.id, kind=request.type, completed=report.completed,
             failed_connectors=sorted(report.failures))
    return report


def _change_in(desk: RequestDesk, request: Request, name: str, report: RequestReport) -> None:
    with Session(desk.engine) as db:
        done = progress(db, request.id, name)
    if done is not None and done.status == ProgressStatus.DONE:
        return
    try:
        with (
            connector_lease(desk.engine, name, now=lambda: desk.now, wait=desk.wait),
            desk.open_connector(name) as connector,
        ):
            ctx = desk.context(connector)
            summary = _change_records(ctx, request)
    except ConnectorBusy as exc:  # not a failure: the request stays open and is taken up again on the next run
        report.failures[name] = str(exc)
        report.busy.add(name)
        return
    except ConnectorError as exc:
        report.failures[name] = str(exc)
        with session(desk.engine) as db:
            save_progress(db, request.id, name, status=ProgressStatus.FAILED, found=0,
                          summary={"error": type(exc).__name__}, now=desk.now)
        return
    failed = summary.get("failed", 0)
    if failed:
        # A change the CRM refused leaves the request open in that CRM: it is tried again on the next run, and
        # `request show` says which code and fields (Art 12(3): the answer is due once it is done everywhere).
        report.failures[name] = f"{failed} change(s) failed; see `gomme request show {request.id}`"
    with session(desk.engine) as db:
        save_progress(db, request.id, name, status=ProgressStatus.FAILED if failed else ProgressStatus.DONE,
                      found=summary.pop("found"), summary=summary, now=desk.now)


def _change_records(ctx: RunContext, request: Request) -> dict[str, int]:
    """Finish what a crashed run left pending, then change every record found that still needs it."""
    kind, asked = RequestType(request.type), details(request, ctx.keyring)
    counts: Counter[str] = Counter()
    with session(ctx.engine) as db:
        run = start_run(db, kind="request", connector=ctx.connector.name, mode="apply", policy_hash=ctx.policy.hash,
                        actor=ctx.actor, now=stamp(ctx.clock()))
    _count(counts, _resume(ctx, request, asked.values))
    found = list(ctx.connector.find(identity(request, ctx.keyring)))
    planned = [c for c in (change_for(kind, r, asked, ctx.policy, ctx.now) for r in found) if c is not None]
    counts["held"] += sum(c.held for c in planned)
    changes = [c.change for c in planned]
    if changes:
        with session(ctx.engine) as db:
            record_plan(db, run.id, changes, ctx.keyring, stamp(ctx.clock()), request_id=request.id)
        _count(counts, write_and_settle(ctx, changes))
    with session(ctx.engine) as db:
        finish_run(db, run.id, status=RunStatus.FAILED if counts["failed"] else RunStatus.SUCCEEDED,
                   counts=RunCounts(len(found), len(changes), counts["applied"], counts["failed"]),
                   now=stamp(ctx.clock()))
    return {"found": len(found), **counts}


def _resume(ctx: RunContext, request: Request, values: Mapping[str, str | None]) -> list[ChangeResult]:
    """Re-apply this request's pending changes (connector writes are idempotent) and settle them."""
    with Session(ctx.engine) as db:
        rows = unsettled(db, connector=ctx.connector.name, request_id=request.id, limit=10_000)
    return write_and_settle(ctx, [_rebuilt(row, ctx.keyring, values) for row in rows]) if rows else []


def _rebuilt(row: Change, keyring: Keyring, values: Mapping[str, str | None]) -> PlannedChange:
    action = Action(row.action)
    return PlannedChange(
        change_id=row.id, crm=row.connector, object_type=row.object_type,
        record_id=keyring.unseal(row.record_id_sealed), action=action, rule_id=row.rule_id,
        legal_basis=row.legal_basis, policy_hash=row.policy_hash, fields=tuple(json.loads(row.fields)),
        values=dict(values) if action is Action.RECTIFY else {},
    )


def _count(counts: Counter[str], results: list[ChangeResult]) -> None:
    counts.update(str(result.outcome) for result in results)


def _access(desk: RequestDesk, request: Request, report: RequestReport) -> None:
    """Export from every connector, then write the bundle in one go (reads only: safe to redo)."""
    email = identity(request, desk.keyring)
    exports: list[CrmExport] = []
    keys: set[str] = set()
    for name in desk.connectors:
        try:
            with desk.open_connector(name) as connector:
                records = list(connector.find(email))
                exports.append(CrmExport(name, [connector.export(record) for record in records], records))
                keys.update(key for record in records for key in desk.keyring.record_keys(record.ref))
        except ConnectorError as exc:
            report.failures[name] = str(exc)
            continue
        with session(desk.engine) as db:
            save_progress(db, request.id, name, status=ProgressStatus.DONE, found=len(records),
                          summary={"exported": len(records)}, now=desk.now)
    if report.failures:
        return
    with Session(desk.engine) as db:
        history = [_history_row(e) for e in entries(db, AuditFilter(record_keys=tuple(sorted(keys))))] if keys else []
    report.bundle = write_bundle(
        desk.export_dir / f"request-{request.id}", request_id=request.id, received=request.received_at,
        exports=exports, audit_history=history, notice=desk.notice, policy=desk.policy, now=desk.now,
    )


def _history_row(event: AuditEvent) -> dict[str, object]:
    names = ("seq", "ts", "crm", "object_type", "action", "rule_id", "legal_basis", "outcome", "fields")
    return {name: getattr(event, name) for name in names}


def _complete(desk: RequestDesk, request: Request, report: RequestReport) -> None:
    kind = RequestType(request.type)
    with session(desk.engine) as db:
        steps = progress_of(db, request.id)
        summaries = {step.connector: {**json.loads(step.summary), "found": step.records_found} for step in steps}
        if kind is RequestType.ERASE:
            suppress(db, request.identity_key, reason=SuppressionReason.ERASURE, now=stamp(desk.now))
        elif kind is RequestType.OBJECT:
            suppress(db, request.identity_key, reason=SuppressionReason.OBJECTION, now=stamp(desk.now))
        outcome = _outcome(kind, summaries)
        row = db.get_one(Request, request.id)
        complete(db, row, outcome=outcome, now=desk.now)
        report.outcome = outcome
        append(db, AuditEntry(
            crm="gomme", object_type="request", record_key=request.identity_key, action="completed",
            rule_id=f"request-{kind}", legal_basis=REQUEST_BASIS[kind], policy_hash=desk.policy.hash,
            outcome="applied", actor=desk.actor, request_id=request.id,
        ), stamp(desk.now), desk.keyring)
    report.completed = True


def _outcome(kind: RequestType, summaries: Mapping[str, Mapping[str, int]]) -> str:
    """A PII-free sentence for the record: what was done where, and why anything was kept."""
    parts = []
    if summaries and not any(summary.get("found") for summary in summaries.values()):
        return f"no record of this person in any CRM ({', '.join(sorted(summaries))}): nothing to do"
    for name, summary in sorted(summaries.items()):
        if not summary.get("found"):
            parts.append(f"{name}: no record found")
            continue
        if kind is RequestType.ACCESS:
            parts.append(f"{name}: {summary.get('exported', 0)} record(s) exported")
            continue
        text = f"{name}: {summary.get('applied', 0)} change(s) applied"
        if summary.get("held"):
            text += f", {summary['held']} record(s) under legal hold restricted instead of erased (Art 17(3)(e))"
        parts.append(text)
    return "; ".join(parts) or "no connector configured"
