"""The write-ahead change log.

A change is `planned` when a sweep decides it, `pending` just before its CRM write, then
`applied`, `failed` or `skipped`. Settling an applied or failed change appends its one audit
entry in the same transaction; a skipped change wrote nothing and is not audited.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum

from sqlmodel import Session, col, select, update

from gomme.model.changes import ChangeResult, Outcome, PlannedChange
from gomme.model.related import Erasure
from gomme.state.audit import AuditEntry, append_all
from gomme.state.keys import Keyring
from gomme.state.models import Change


class ChangeStatus(StrEnum):
    PLANNED = "planned"
    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"


def record_plan(
    db: Session, run_id: str, changes: Sequence[PlannedChange], keyring: Keyring, now: str,
    request_id: str | None = None,
) -> None:
    """Store planned changes. The CRM id is sealed: readable only with the state key."""
    for change in changes:
        db.add(
            Change(
                id=change.change_id, run_id=run_id, request_id=request_id, connector=change.crm,
                object_type=change.object_type,
                record_key=keyring.record_key(change.ref), record_id_sealed=keyring.seal(change.record_id),
                action=change.action, also=",".join(change.also), rule_id=change.rule_id,
                legal_basis=change.legal_basis, policy_hash=change.policy_hash,
                fields=json.dumps(list(change.fields)), status=ChangeStatus.PLANNED, created_at=now,
                evidence=change.evidence[:300] or None,
            )
        )
    db.flush()


def mark_pending(db: Session, change_ids: Iterable[str]) -> None:
    """The write-ahead step: from here on, a crash leaves these for the next run to finish."""
    ids = list(change_ids)
    if ids:
        db.execute(update(Change).where(col(Change.id).in_(ids)).values(status=ChangeStatus.PENDING))


def settle(db: Session, result: ChangeResult, *, actor: str, now: str, keyring: Keyring) -> None:
    """Record one change's outcome (see `settle_all`)."""
    settle_all(db, [result], actor=actor, now=now, keyring=keyring)


def settle_all(db: Session, results: Sequence[ChangeResult], *, actor: str, now: str, keyring: Keyring) -> int:
    """Record outcomes; applied and failed changes get their audit entry, in the same transaction.

    One read, one update and one audit insert per batch. Returns the number of audit entries added.
    """
    if not results:
        return 0
    rows = {row.id: row for row in db.exec(select(Change).where(col(Change.id).in_([r.change_id for r in results])))}
    for result in results:
        row = rows.get(result.change_id)
        if row is None:
            raise LookupError(f"change {result.change_id} is not in the change log")
        if row.status not in (ChangeStatus.PLANNED, ChangeStatus.PENDING):
            raise ValueError(f"change {row.id} is already {row.status}")
    db.execute(  # ORM bulk UPDATE by primary key: one executemany for the batch
        update(Change),
        [{"id": r.change_id, "status": r.outcome.value, "error_code": r.error_code, "settled_at": now,
          "error_detail": r.detail[:300] if r.outcome is Outcome.FAILED and r.detail else None}
         for r in results],
    )
    audited = [_entry(rows[r.change_id], r, actor) for r in results if r.outcome is not Outcome.SKIPPED]
    append_all(db, audited, now, keyring)
    return len(audited)


def _entry(change: Change, result: ChangeResult, actor: str) -> AuditEntry:
    return AuditEntry(
        crm=change.connector, object_type=change.object_type, record_key=change.record_key,
        action=_audited_action(change), rule_id=change.rule_id, legal_basis=change.legal_basis,
        policy_hash=change.policy_hash, outcome=result.outcome, actor=actor,
        fields=tuple(json.loads(change.fields)), run_id=change.run_id, request_id=change.request_id,
        change_id=change.id, error_code=result.error_code, evidence=change.evidence,
        erasure=_erasure(change, result), related=result.related.summary()[:300] if result.related else None,
    )


def _erasure(change: Change, result: ChangeResult) -> str | None:
    """For an applied erasing change: erased, or pseudonymised when its connector says something remains."""
    actions = {change.action, *filter(None, change.also.split(","))}
    if result.outcome is not Outcome.APPLIED or not actions & {"anonymise", "delete"}:
        return None
    return (result.related.erasure if result.related is not None else Erasure.ERASED).value


def _audited_action(change: Change) -> str:
    return "+".join([change.action, *filter(None, change.also.split(","))])


def unsettled(
    db: Session, *, connector: str, run_id: str | None = None, request_id: str | None = None, after: str = "",
    limit: int,
) -> list[Change]:
    """One page of changes still to settle, by id (keyset paging, so writes can happen between pages).

    With `run_id`, that run's planned changes; without, the pending changes the connector left for
    sweeps (`request_id` None) or for one data-subject request.
    """
    query = select(Change).where(Change.connector == connector, col(Change.id) > after)
    if run_id is None:
        query = query.where(Change.status == ChangeStatus.PENDING, Change.request_id == request_id)
    else:
        query = query.where(Change.run_id == run_id, Change.status == ChangeStatus.PLANNED)
    return list(db.exec(query.order_by(col(Change.id)).limit(limit)))


def pending(db: Session, connector: str) -> Iterator[Change]:
    """Changes a crashed or interrupted run left pending, by id."""
    query = select(Change).where(Change.connector == connector, Change.status == ChangeStatus.PENDING)
    yield from db.exec(query.order_by(col(Change.id)))


def abandon_plan(db: Session, run_id: str, *, code: str, now: str) -> int:
    """Mark a run's planned changes skipped (e.g. the blast-radius guard refused the plan)."""
    result = db.execute(
        update(Change)
        .where(col(Change.run_id) == run_id, col(Change.status) == ChangeStatus.PLANNED)
        .values(status=ChangeStatus.SKIPPED, error_code=code, settled_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of an UPDATE has rowcount


def failures_of(db: Session, request_id: str, connector: str) -> list[dict[str, object]]:
    """A request's failed changes in one CRM, counted by the CRM's code and what it named (fields, not values)."""
    rows = db.exec(
        select(Change.error_code, Change.error_detail).where(
            Change.request_id == request_id, Change.connector == connector, Change.status == ChangeStatus.FAILED
        )
    )
    counts: dict[tuple[str, str], int] = {}
    for code, detail in rows:
        key = (code or "UNKNOWN", detail or "")
        counts[key] = counts.get(key, 0) + 1
    return [{"code": code, "detail": detail, "changes": n} for (code, detail), n in sorted(counts.items())]
