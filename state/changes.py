"""The write-ahead change log: `pending` before any CRM write, settled with its audit entry after."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from sqlmodel import Session, col, select

from gomme.connectors.changes import ChangeResult, Outcome, PlannedChange
from gomme.state.audit import AuditEntry, append
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent, Change


def write_ahead(db: Session, run_id: str, changes: Sequence[PlannedChange], keyring: Keyring, now: str) -> None:
    """Record `changes` as pending. The CRM id is sealed: readable only with the state key."""
    for change in changes:
        db.add(
            Change(
                id=change.change_id, run_id=run_id, connector=change.crm, object_type=change.object_type,
                record_key=keyring.record_key(change.ref), record_id_sealed=keyring.seal(change.record_id),
                action=change.action, also=",".join(change.also), rule_id=change.rule_id,
                legal_basis=change.legal_basis, policy_hash=change.policy_hash,
                fields=json.dumps(list(change.fields)), status=Outcome.PENDING, created_at=now,
            )
        )
    db.flush()


def settle(db: Session, result: ChangeResult, *, actor: str, now: str, request_id: str | None = None) -> AuditEvent:
    """Move a pending change to its outcome and append its one audit entry, in the same transaction."""
    change = db.get_one(Change, result.change_id)
    if change.status != Outcome.PENDING:
        raise ValueError(f"change {change.id} is already {change.status}")
    change.status = result.outcome
    change.error_code = result.error_code
    change.settled_at = now
    db.add(change)
    entry = AuditEntry(
        crm=change.connector, object_type=change.object_type, record_key=change.record_key,
        action=change.action, rule_id=change.rule_id, legal_basis=change.legal_basis,
        policy_hash=change.policy_hash, outcome=result.outcome, actor=actor,
        fields=tuple(json.loads(change.fields)), run_id=change.run_id, request_id=request_id,
        change_id=change.id, error_code=result.error_code,
    )
    return append(db, entry, now)


def pending(db: Session, connector: str) -> Iterator[Change]:
    """Changes a crashed or interrupted run left pending, oldest first."""
    query = select(Change).where(Change.connector == connector, Change.status == Outcome.PENDING)
    yield from db.exec(query.order_by(col(Change.created_at), col(Change.id)))
