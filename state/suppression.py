"""The suppression list: HMACs of the emails of erased or objecting people, never the addresses.

`erasure`: a re-imported person is erased again; `objection` (Art 21(2)): marketing stays off.
An erasure outranks an objection for the same address.

After `gomme key rotate`, an address may be listed under a retired key's HMAC: lookups pass every key's HMAC of
it (`Keyring.email_keys`) and `strongest` merges what they find.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from sqlmodel import Session, col, select

from gomme.state.models import Suppression


class SuppressionReason(StrEnum):
    ERASURE = "erasure"
    OBJECTION = "objection"


def suppress(db: Session, email_key: str, *, reason: SuppressionReason, now: str) -> None:
    row = db.get(Suppression, email_key)
    if row is None:
        db.add(Suppression(email_key=email_key, reason=reason, added_at=now))
    elif row.reason != SuppressionReason.ERASURE and reason is SuppressionReason.ERASURE:
        row.reason, row.added_at = reason, now
        db.add(row)
    db.flush()


def is_suppressed(db: Session, email_key: str) -> bool:
    return db.get(Suppression, email_key) is not None


def suppressed(db: Session, email_keys: Iterable[str]) -> dict[str, SuppressionReason]:
    """The reasons of those of `email_keys` on the list: one query for a whole batch of records."""
    keys = list(set(email_keys))
    if not keys:
        return {}
    rows = db.exec(select(Suppression).where(col(Suppression.email_key).in_(keys)))
    return {row.email_key: SuppressionReason(row.reason) for row in rows}


def strongest(reasons: Iterable[SuppressionReason | None]) -> SuppressionReason | None:
    """The reason that counts when one address is listed under several keys: an erasure outranks an objection."""
    found = {reason for reason in reasons if reason is not None}
    if SuppressionReason.ERASURE in found:
        return SuppressionReason.ERASURE
    return SuppressionReason.OBJECTION if found else None


def suppressed_any(db: Session, keys_of: Mapping[str, Sequence[str]]) -> dict[str, SuppressionReason]:
    """For each id, the strongest reason any of its HMACs (current and retired keys) is listed for: one query."""
    listed = suppressed(db, (key for keys in keys_of.values() for key in keys))
    return {
        name: reason for name, keys in keys_of.items()
        if (reason := strongest(listed.get(key) for key in keys)) is not None
    }
