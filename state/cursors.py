"""Incremental pull positions, per connector and object type."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, select

from gomme.state.models import Cursor


def load_cursor(db: Session, connector: str) -> dict[str, str]:
    rows = db.exec(select(Cursor).where(Cursor.connector == connector))
    return {row.object_type: row.position for row in rows}


def save_cursor(db: Session, connector: str, positions: Mapping[str, str], now: str) -> None:
    for object_type, position in positions.items():
        row = db.get(Cursor, (connector, object_type))
        if row is None:
            row = Cursor(connector=connector, object_type=object_type, position=position, updated_at=now)
        row.position, row.updated_at = position, now
        db.add(row)
    db.flush()


def reset_cursor(db: Session, connector: str) -> None:
    for row in db.exec(select(Cursor).where(Cursor.connector == connector)):
        db.delete(row)
