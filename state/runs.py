"""Runs: one row per sweep or request-processing run, with its counts and final status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from gomme.state.changes import abandon_plan
from gomme.state.models import Run


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ABORTED = "aborted"  # blast-radius guard: nothing was written
    ABANDONED = "abandoned"  # its process died: closed by the next run on the connector


@dataclass(slots=True)
class RunCounts:
    pulled: int = 0
    planned: int = 0
    applied: int = 0
    failed: int = 0


def start_run(
    db: Session, *, kind: str, connector: str | None, mode: str, policy_hash: str, actor: str, now: str
) -> Run:
    run = Run(
        id=uuid.uuid4().hex, kind=kind, connector=connector, mode=mode, status=RunStatus.RUNNING,
        policy_hash=policy_hash, actor=actor, started_at=now,
    )
    db.add(run)
    db.flush()
    return run


def finish_run(db: Session, run_id: str, *, status: RunStatus, counts: RunCounts, now: str) -> Run:
    run = db.get_one(Run, run_id)
    run.status = status
    run.finished_at = now
    run.pulled, run.planned, run.applied, run.failed = (
        counts.pulled, counts.planned, counts.applied, counts.failed,
    )
    db.add(run)
    return run


def running(db: Session, connector: str) -> Run | None:
    """The connector's oldest run still marked running (the one a busy connector is reported as)."""
    query = select(Run).where(Run.connector == connector, Run.status == RunStatus.RUNNING)
    return db.exec(query.order_by(col(Run.started_at))).first()


def abandon_dead_runs(db: Session, connector: str, *, now: str) -> list[str]:
    """Close the runs left `running` on a connector whose lease nobody holds: their process died.

    Each becomes `abandoned`; its planned changes are dropped (nothing was written for them, and the cursor only
    moves when a run ends well, so the next sweep plans them again if still due); its pending changes stay for
    the next run to re-check and finish (jobs/apply.py `resume_pending`).
    """
    dead = list(db.exec(select(Run).where(Run.connector == connector, Run.status == RunStatus.RUNNING)))
    for run in dead:
        run.status, run.finished_at = RunStatus.ABANDONED, now
        db.add(run)
        abandon_plan(db, run.id, code="RUN_ABANDONED", now=now)
    return [run.id for run in dead]
