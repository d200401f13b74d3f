"""The suppression list: HMACs of the emails of erased people, never the addresses."""

from __future__ import annotations

from sqlmodel import Session

from gomme.state.models import Suppression


def suppress(db: Session, email_key: str, *, reason: str, now: str) -> None:
    if db.get(Suppression, email_key) is None:
        db.add(Suppression(email_key=email_key, reason=reason, added_at=now))
        db.flush()


def is_suppressed(db: Session, email_key: str) -> bool:
    return db.get(Suppression, email_key) is not None
