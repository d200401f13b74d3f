"""Incremental pull positions, per connector and object type."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, select

from gomme.state.models import Cursor


def load_cursor(db: Session, connector: str, policy_hash: str | None = None) -> dict[str, str]:
    """The connector's positions; none (read everything) when they were reached under another policy.

    A record the old policy left alone may be due under the new one without having changed since: an
    incremental pull would never show it. So a changed policy re-reads everything once, by itself.
    """
    rows = list(db.exec(select(Cursor).where(Cursor.connector == connector)))
    if policy_hash is not None and any(row.policy_hash != policy_hash for row in rows):
        return {}
    return {row.object_type: row.position for row in rows}


def cursor_policy_changed(db: Session, connector: str, policy_hash: str) -> bool:
    """Is there a cursor, reached under another policy (or before the policy was recorded)?"""
    rows = db.exec(select(Cursor).where(Cursor.connector == connector))
    return any(row.policy_hash != policy_hash for row in rows)


def save_cursor(
    db: Session, connector: str, positions: Mapping[str, str], now: str, policy_hash: str | None = None
) -> None:
    for object_type, position in positions.items():
        row = db.get(Cursor, (connector, object_type))
        if row is None:
            row = Cursor(connector=connector, object_type=object_type, position=position, updated_at=now)
        row.position, row.updated_at, row.policy_hash = position, now, policy_hash
        db.add(row)
    db.flush()


def reset_cursor(db: Session, connector: str) -> None:
    for row in db.exec(select(Cursor).where(Cursor.connector == connector)):
        db.delete(row)
