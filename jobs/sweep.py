"""A sweep: pull → decide → plan → (dry run: stop) → apply → audit, streaming in bounded batches.

Every change is stored `planned` (never personal data: keys, a sealed id, action, rule), then
`pending` just before its CRM write. Without a blast-radius guard each batch is written as soon as
it is planned; with one, the stored plan is judged whole before the first write, without holding it
in memory, and each record is re-read just before its batch is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import TypeVar

import structlog

from gomme.connectors.errors import ConnectorError
from gomme.jobs.apply import ApplyCounts, apply_planned, resume_pending, write_and_settle
from gomme.jobs.context import RunContext
from gomme.jobs.facts import facts_for, facts_of
from gomme.jobs.guard import ChangeLimitValue
from gomme.jobs.leases import connector_lease
from gomme.jobs.plan import PlanItem, plan_change
from gomme.model.changes import PlannedChange
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


def sweep(ctx: RunContext, options: SweepOptions, sink: PlanSink) -> SweepReport:
    """Run one sweep on `ctx.connector`; the report says what happened, the run row records it.

    Raises `ConnectorBusy` (nothing done) when another run holds the connector for longer than `options.wait`.
    """
    with connector_lease(ctx.engine, ctx.connector.name, now=ctx.clock, wait=options.wait) as closed:
        if closed:
            log.warning("dead_runs_closed", connector=ctx.connector.name, run_ids=closed, status="abandoned")
        return _sweep(ctx, options, sink)


def _sweep(ctx: RunContext, options: SweepOptions, sink: PlanSink) -> SweepReport:
    with session(ctx.engine) as db:
        run = start_run(
            db, kind="sweep", connector=ctx.connector.name, mode="apply" if options.apply else "dry",
            policy_hash=ctx.policy.hash, actor=ctx.actor, now=stamp(ctx.clock()),
        )
    report = SweepReport(run_id=run.id, connector=ctx.connector.name, apply=options.apply)
    log.info("sweep_started", run_id=run.id, connector=ctx.connector.name, apply=options.apply)
    try:
        report.status = _run(ctx, options, sink, report)
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


def _run(ctx: RunContext, options: SweepOptions, sink: PlanSink, report: SweepReport) -> RunStatus:
    if options.apply:
        report.resumed = resume_pending(ctx)
    with session(ctx.engine) as db:
        since = None if options.full else load_cursor(db, ctx.connector.name, ctx.policy.hash) or None
        if not options.full and cursor_policy_changed(db, ctx.connector.name, ctx.policy.hash):
            log.info("policy_changed", connector=ctx.connector.name, policy_hash=ctx.policy.hash, reads="every record")
            report.notices.append("the policy changed since the last applied sweep: this one reads every record once")
    query = prefilter_query(ctx.policy, ctx.now, since)
    if options.limit is not None:
        query = replace(query, limit=options.limit)
    # Without a blast-radius guard nothing needs the whole plan first: each batch is written as soon as
    # it is planned, from the records just read (no re-read). With a guard, the plan is stored, judged
    # whole, then applied batch by batch with a re-read of each record just before its write.
    streaming = options.apply and options.max_changes is None
    waiting: list[PlannedChange] = []  # planned, not yet written: at most one write batch, then flushed
    # A connector whose writes are cheaper in bigger jobs (Salesforce Bulk API 2.0) may ask for bigger batches;
    # one that remembers what it pulled, to write without re-reading, says for how many records.
    capabilities = ctx.connector.capabilities
    write_batch = max(ctx.batch_size, capabilities.write_batch)
    remembers = capabilities.remembers or None
    read_since_write = 0
    pulled = ctx.connector.pull(query)
    for batch in _batched(pulled, ctx.batch_size):
        read_since_write += len(batch)
        items = _plan_batch(ctx, batch, report)
        for item in items:
            sink(item)
        if options.apply and items:
            with session(ctx.engine) as db:
                record_plan(db, report.run_id, [item.change for item in items], ctx.keyring, stamp(ctx.clock()))
            if streaming:
                waiting.extend(item.change for item in items)
        if len(waiting) >= write_batch or (waiting and remembers and read_since_write >= remembers):
            _write_waiting(ctx, report, waiting)
            read_since_write = 0
        if ctx.should_stop():
            _write_waiting(ctx, report, waiting)
            return _abandon(ctx, report, RunStatus.INTERRUPTED, "INTERRUPTED")
    _write_waiting(ctx, report, waiting)
    if options.max_changes is not None and not options.max_changes.allows(report.planned, _size(ctx, report)):
        log.warning("blast_radius_abort", run_id=report.run_id, planned=report.planned, limit=str(options.max_changes))
        return _abandon(ctx, report, RunStatus.ABORTED, "BLAST_RADIUS")
    if not options.apply:
        return RunStatus.SUCCEEDED
    if not streaming:
        report.outcome, finished = apply_planned(ctx, report.run_id)
        if not finished:
            return _abandon(ctx, report, RunStatus.INTERRUPTED, "INTERRUPTED")
    if options.limit is None and pulled.cursor is not None:
        with session(ctx.engine) as db:
            save_cursor(db, ctx.connector.name, pulled.cursor, stamp(ctx.clock()), ctx.policy.hash)
    failed = report.outcome.failed + report.resumed.failed
    return RunStatus.FAILED if failed else RunStatus.SUCCEEDED


def _write_waiting(ctx: RunContext, report: SweepReport, waiting: list[PlannedChange]) -> None:
    """Write the changes planned so far in full write batches (sparse changes still fill a CRM call)."""
    if waiting:
        for result in write_and_settle(ctx, waiting):
            report.outcome.add(result)
        waiting.clear()


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
