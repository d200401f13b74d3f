"""A sweep: pull → decide → plan → (dry run: stop) → apply → audit, streaming in bounded batches.

Two phases, so the admin sees the whole plan before the first write: the plan phase streams the pull in
batches and stores every change `planned` (never personal data: keys, a sealed id, action, rule); the
blast-radius guard judges the stored plan whole, the observer is told the plan is ready (the CLI prints its
summary), then the apply phase pages through the stored plan, re-reads each record just before its batch is
written and marks each change `pending` before its CRM write. Nothing is held in memory beyond one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import TypeVar

import structlog

from gomme.connectors.errors import ConnectorError
from gomme.jobs.apply import ApplyCounts, apply_planned, resume_pending
from gomme.jobs.context import RunContext
from gomme.jobs.facts import facts_for, facts_of
from gomme.jobs.guard import ChangeLimitValue
from gomme.jobs.leases import connector_lease
from gomme.jobs.plan import PlanItem, plan_change
from gomme.jobs.progress import ProgressLog, Stage, SweepObserver
from gomme.model.records import PersonRecord
from gomme.policies.engine import decide, prefilter_query
from gomme.state.changes import abandon_plan, record_plan
from gomme.state.clock import stamp
from gomme.state.cursors import cursor_policy_changed, load_cursor, save_cursor
from gomme.state.db import session
from gomme.state.runs import RunCounts, RunStatus, finish_run, start_run

log = structlog.get_logger(__name__)
T = TypeVar("T")

PlanSink = Callable[[PlanItem], None]


@dataclass(frozen=True, slots=True)
class SweepOptions:
    apply: bool = False
    full: bool = False
    limit: int | None = None
    max_changes: ChangeLimitValue | None = None
    wait: float = 0.0  # seconds to wait for the connector's lease when another run holds it


@dataclass(slots=True)
class SweepReport:
    run_id: str
    connector: str
    apply: bool
    status: RunStatus = RunStatus.RUNNING
    pulled: int = 0
    planned: int = 0
    size: int | None = None
    outcome: ApplyCounts = field(default_factory=ApplyCounts)
    resumed: ApplyCounts = field(default_factory=ApplyCounts)
    error: str | None = None
    notices: list[str] = field(default_factory=list)


def sweep(ctx: RunContext, options: SweepOptions, sink: PlanSink, observer: SweepObserver | None = None) -> SweepReport:
    """Run one sweep on `ctx.connector`; the report says what happened, the run row records it.

    `observer` is told the counts batch by batch and when the plan is ready (default: periodic `progress`
    log events). Raises `ConnectorBusy` (nothing done) when another run holds the connector for longer than
    `options.wait`.
    """
    watcher = observer or ProgressLog()
    with connector_lease(ctx.engine, ctx.connector.name, now=ctx.clock, wait=options.wait) as closed:
        if closed:
            log.warning("dead_runs_closed", connector=ctx.connector.name, run_ids=closed, status="abandoned")
        try:
            return _sweep(ctx, options, sink, watcher)
        finally:
            watcher.finished(ctx.connector.name)


def _sweep(ctx: RunContext, options: SweepOptions, sink: PlanSink, observer: SweepObserver) -> SweepReport:
    with session(ctx.engine) as db:
        run = start_run(
            db, kind="sweep", connector=ctx.connector.name, mode="apply" if options.apply else "dry",
            policy_hash=ctx.policy.hash, actor=ctx.actor, now=stamp(ctx.clock()),
        )
    report = SweepReport(run_id=run.id, connector=ctx.connector.name, apply=options.apply)
    log.info("sweep_started", run_id=run.id, connector=ctx.connector.name, apply=options.apply)
    try:
        report.status = _run(ctx, options, sink, report, observer)
    except ConnectorError as exc:
        report.status, report.error = RunStatus.FAILED, str(exc)
        log.error("sweep_failed", run_id=run.id, connector=ctx.connector.name, error=str(exc))
    finally:
        if report.status is RunStatus.RUNNING:  # an unexpected exception is on its way up
            report.status = RunStatus.FAILED
        with suppress(ConnectorError):  # the run's own error, if any, is already in the report
            report.notices += ctx.connector.notices()
        _close(ctx, report)
    return report


def _run(
    ctx: RunContext, options: SweepOptions, sink: PlanSink, report: SweepReport, observer: SweepObserver
) -> RunStatus:
    name = ctx.connector.name
    if options.apply:
        # What an earlier run left pending was part of a plan already applied in part: finished first, so
        # the pull below reads those records as they now are.
        report.resumed = resume_pending(ctx)
    with session(ctx.engine) as db:
        since = None if options.full else load_cursor(db, name, ctx.policy.hash) or None
        if not options.full and cursor_policy_changed(db, name, ctx.policy.hash):
            log.info("policy_changed", connector=name, policy_hash=ctx.policy.hash, reads="every record")
            report.notices.append("the policy changed since the last applied sweep: this one reads every record once")
    query = prefilter_query(ctx.policy, ctx.now, since)
    if options.limit is not None:
        query = replace(query, limit=options.limit)
    # Plan phase: no CRM write. Each batch's changes go to the sink and, with --apply, into state as `planned`.
    observer.stage_started(name, Stage.PULLED)
    observer.stage_started(name, Stage.PLANNED)
    pulled = ctx.connector.pull(query)
    for batch in _batched(pulled, ctx.batch_size):
        items = _plan_batch(ctx, batch, report)
        for item in items:
            sink(item)
        if options.apply and items:
            with session(ctx.engine) as db:
                record_plan(db, report.run_id, [item.change for item in items], ctx.keyring, stamp(ctx.clock()))
        observer.advanced(name, Stage.PULLED, len(batch))
        observer.advanced(name, Stage.PLANNED, len(items))
        if ctx.should_stop():
            return _abandon(ctx, report, RunStatus.INTERRUPTED, "INTERRUPTED")
    if options.max_changes is not None and not options.max_changes.allows(report.planned, _size(ctx, report)):
        log.warning("blast_radius_abort", run_id=report.run_id, planned=report.planned, limit=str(options.max_changes))
        return _abandon(ctx, report, RunStatus.ABORTED, "BLAST_RADIUS")
    observer.plan_ready(name, report.planned)
    if not options.apply:
        return RunStatus.SUCCEEDED
    # Apply phase: the stored plan, page by page. A connector whose writes are cheaper in bigger jobs
    # (Salesforce Bulk API 2.0) asks for bigger pages; each page is re-read just before it is written.
    if report.planned:
        observer.stage_started(name, Stage.APPLIED, total=report.planned)
        page = max(ctx.batch_size, ctx.connector.capabilities.write_batch)
        report.outcome, finished = apply_planned(
            ctx, report.run_id, page=page, advanced=lambda count: observer.advanced(name, Stage.APPLIED, count)
        )
        if not finished:
            return _abandon(ctx, report, RunStatus.INTERRUPTED, "INTERRUPTED")
    if options.limit is None and pulled.cursor is not None:
        with session(ctx.engine) as db:
            save_cursor(db, name, pulled.cursor, stamp(ctx.clock()), ctx.policy.hash)
    failed = report.outcome.failed + report.resumed.failed
    return RunStatus.FAILED if failed else RunStatus.SUCCEEDED


def _size(ctx: RunContext, report: SweepReport) -> int:
    """The guard's base: the CRM's size when the connector can count cheaply, else the records pulled."""
    report.size = ctx.connector.size()
    return report.pulled if report.size is None else report.size


def _plan_batch(ctx: RunContext, records: Sequence[PersonRecord], report: SweepReport) -> list[PlanItem]:
    items = []
    known = facts_for(ctx, records)
    for record in records:
        report.pulled += 1
        decision = decide(record, ctx.policy, ctx.now, facts=facts_of(known, record))
        item = plan_change(record, decision, ctx.policy.hash)
        if item is not None:
            items.append(item)
    report.planned += len(items)
    return items


def _abandon(ctx: RunContext, report: SweepReport, status: RunStatus, code: str) -> RunStatus:
    """Planned changes not yet written are dropped (the next sweep plans them again); pending ones stay."""
    with session(ctx.engine) as db:
        abandon_plan(db, report.run_id, code=code, now=stamp(ctx.clock()))
    return status


def _close(ctx: RunContext, report: SweepReport) -> None:
    counts = RunCounts(
        pulled=report.pulled, planned=report.planned,
        applied=report.outcome.applied + report.resumed.applied,
        failed=report.outcome.failed + report.resumed.failed,
    )
    with session(ctx.engine) as db:
        finish_run(db, report.run_id, status=report.status, counts=counts, now=stamp(ctx.clock()))
    log.info(
        "sweep_finished", run_id=report.run_id, connector=report.connector, status=str(report.status),
        pulled=counts.pulled, planned=counts.planned, applied=counts.applied, failed=counts.failed,
    )


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
