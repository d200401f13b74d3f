"""Runs: one row per sweep or request-processing run, with its counts and final status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from gomme.state.models import Run


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ABORTED = "aborted"  # blast-radius guard: nothing was written


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
