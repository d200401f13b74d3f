"""The apply loop: re-read, re-decide, write ahead, write to the CRM, settle and audit, batch by batch.

The same loop finishes what a crashed run left `pending`: a change whose effect is already in the
CRM is settled as applied (the write landed before the crash), so every change is audited once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import structlog
from sqlalchemy.exc import IntegrityError, OperationalError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from gomme.connectors.errors import RecordError
from gomme.jobs.context import RunContext
from gomme.jobs.facts import facts_for, facts_of
from gomme.jobs.plan import plan_change
from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange
from gomme.model.records import PersonRecord
from gomme.model.related import RelatedOutcome
from gomme.policies.engine import decide
from gomme.policies.facts import RecordFacts
from gomme.state.changes import ChangeStatus, mark_pending, settle_all, unsettled
from gomme.state.clock import stamp
from gomme.state.db import session
from gomme.state.models import Change

log = structlog.get_logger(__name__)
UNREPORTED = "related records (the connector did not report them)"
SETTLE_CHUNK = 1000  # changes settled (status + audit entries) per transaction


@dataclass(slots=True)
class ApplyCounts:
    """Outcomes of a run's changes; `errors` counts failures by the CRM's code and what it named (no values)."""

    applied: int = 0
    failed: int = 0
    skipped: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, result: ChangeResult) -> None:
        if result.outcome is Outcome.FAILED:
            self.errors[" ".join(filter(None, (result.error_code or "UNKNOWN", result.detail)))] += 1
        match result.outcome:
            case Outcome.APPLIED:
                self.applied += 1
            case Outcome.FAILED:
                self.failed += 1
            case Outcome.SKIPPED:
                self.skipped += 1
            case Outcome.PENDING:
                pass


def apply_planned(
    ctx: RunContext, run_id: str, *, page: int | None = None, advanced: Callable[[int], None] | None = None
) -> tuple[ApplyCounts, bool]:
    """Apply a run's planned changes; returns the counts and whether it ran to the end (not stopped).

    `page`: changes re-read and written together (default: the run's batch size); `advanced` is told how many
    changes each page settled, for progress display.
    """
    return _drain(ctx, run_id, page=page, advanced=advanced)


def resume_pending(ctx: RunContext) -> ApplyCounts:
    """Finish every change a crashed or interrupted run left pending for this connector."""
    counts, _ = _drain(ctx, None)
    return counts


def _drain(
    ctx: RunContext, run_id: str | None, *, page: int | None = None, advanced: Callable[[int], None] | None = None
) -> tuple[ApplyCounts, bool]:
    counts, after = ApplyCounts(), ""
    while True:
        if ctx.should_stop():
            return counts, False
        with session(ctx.engine) as db:
            rows = unsettled(db, connector=ctx.connector.name, run_id=run_id, after=after, limit=page or ctx.batch_size)
        if not rows:
            return counts, True
        after = rows[-1].id
        results = _apply_batch(ctx, rows)
        for result in results:
            counts.add(result)
        if advanced is not None:
            advanced(len(results))


def _apply_batch(ctx: RunContext, rows: Sequence[Change]) -> list[ChangeResult]:
    ids = [(row.object_type, ctx.keyring.unseal(row.record_id_sealed)) for row in rows]
    current = {record.id: record for record in ctx.connector.get(ids)}
    known = facts_for(ctx, list(current.values()))
    to_write: list[PlannedChange] = []
    settled: list[ChangeResult] = []
    for row, (_, record_id) in zip(rows, ids, strict=True):
        change, result = _recheck(ctx, row, current.get(record_id), known)
        if change is not None:
            to_write.append(change)
        if result is not None:
            settled.append(result)
    return write_and_settle(ctx, to_write, settled)


def write_and_settle(
    ctx: RunContext, changes: Sequence[PlannedChange], settled: Sequence[ChangeResult] = ()
) -> list[ChangeResult]:
    """Mark `changes` pending (write-ahead), write them to the CRM, settle every result with its audit entry.

    `settled` are results already known without a write (skips, effects found in place), settled alongside.
    """
    with session(ctx.engine) as db:
        mark_pending(db, (change.change_id for change in changes))
    results = [*settled, *_write(ctx, changes)]
    _settle_all(ctx, results)
    return results


def _recheck(
    ctx: RunContext, row: Change, record: PersonRecord | None, known: dict[str, RecordFacts]
) -> tuple[PlannedChange | None, ChangeResult | None]:
    """Decide again on fresh data: write it, count it as done, or skip it because the record moved on."""
    was_pending = row.status == ChangeStatus.PENDING
    if record is None:
        if row.action == Action.DELETE and was_pending:
            return None, ChangeResult(row.id, Outcome.APPLIED, detail="already deleted")
        return None, ChangeResult(row.id, Outcome.SKIPPED, error_code="RECORD_GONE")
    decision = decide(record, ctx.policy, ctx.now, facts=facts_of(known, record))
    wanted = (row.action, *filter(None, row.also.split(",")))
    if tuple(decision.actions) == wanted and decision.rule_id is not None:
        item = plan_change(record, decision, ctx.policy.hash, change_id=row.id)
        if item is not None:
            return item.change, None
    if was_pending and (decision.in_effect == row.action or not decision.changes):
        # The write-ahead mark was set, so the write most likely landed before the crash; its effect is there.
        return None, ChangeResult(row.id, Outcome.APPLIED, detail="found in effect on resume")
    return None, ChangeResult(row.id, Outcome.SKIPPED, error_code="DECISION_CHANGED")


def _write(ctx: RunContext, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
    if not changes:
        return
    expected = {change.change_id for change in changes}
    by_id = {change.change_id: change for change in changes}
    try:
        for result in ctx.connector.apply(changes):
            expected.discard(result.change_id)
            yield with_plan_remains(result, by_id.get(result.change_id))
    except RecordError as exc:
        log.warning("record_failed", connector=ctx.connector.name, code=exc.code)
        for change_id in sorted(expected):
            yield ChangeResult(change_id, Outcome.FAILED, error_code=exc.code)
        return
    for change_id in sorted(expected):  # a connector that forgot a result: count it as failed, never lose it
        yield ChangeResult(change_id, Outcome.FAILED, error_code="NO_RESULT")


def with_plan_remains(result: ChangeResult, change: PlannedChange | None) -> ChangeResult:
    """The result with what the plan knew would remain (objects the connector could not read) and, when the
    connector did not report on related records it was asked to write, that they are unaccounted for."""
    if change is None or not (change.related or change.related_remains):
        return result
    outcome = result.related or RelatedOutcome(
        remains=(UNREPORTED,) if change.related and result.outcome is Outcome.APPLIED else ()
    )
    remains = tuple(dict.fromkeys((*change.related_remains, *outcome.remains)))
    return replace(result, related=replace(outcome, remains=remains))


def _settle_all(ctx: RunContext, results: Sequence[ChangeResult]) -> None:
    """Settle a write batch in chunks of SETTLE_CHUNK, one transaction each: the audit rows of a
    10,000-change batch are never in memory at once. A crash between two chunks leaves the rest
    pending, which the next run settles."""
    for start in range(0, len(results), SETTLE_CHUNK):
        _settle_chunk(ctx, results[start : start + SETTLE_CHUNK])


@retry(
    retry=retry_if_exception_type((IntegrityError, OperationalError)),
    wait=wait_random_exponential(multiplier=0.05, max=2),
    stop=stop_after_attempt(8),
    reraise=True,
)
def _settle_chunk(ctx: RunContext, results: Sequence[ChangeResult]) -> None:
    """One transaction; another appender racing for the chain head makes this chunk alone retry."""
    with session(ctx.engine) as db:
        settle_all(db, results, actor=ctx.actor, now=stamp(ctx.clock()), keyring=ctx.keyring)
