"""Breach cases in state (GDPR Art 33/34): the 72-hour deadline, the sealed note and scope, the aggregates.

Nothing here holds personal data in clear: the admin's note and the `--where` conditions are sealed with the state
key (a condition may name a value), and an assessment is counts by category, object and country only.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from gomme.state.clock import parse_stamp, stamp
from gomme.state.keys import Keyring
from gomme.state.models import BreachCase

NOTIFY_WITHIN = dt.timedelta(hours=72)  # Art 33(1): "where feasible, not later than 72 hours after having become aware"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class CaseScope:
    """Which records the breach reached: connectors, object types, its window, and `--where` conditions as typed
    (`field op value`, parsed again when the scope is streamed)."""

    connectors: tuple[str, ...]
    objects: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    where: tuple[str, ...] = ()


def create_case(
    db: Session, *, scope: CaseScope, aware_at: dt.datetime, note: str, establishment: str | None,
    keyring: Keyring, now: dt.datetime, actor: str,
) -> BreachCase:
    case = BreachCase(
        id=uuid.uuid4().hex, status=CaseStatus.OPEN, opened_at=stamp(now), aware_at=stamp(aware_at),
        deadline_at=stamp(aware_at + NOTIFY_WITHIN), since=stamp(scope.since) if scope.since else None,
        until=stamp(scope.until) if scope.until else None, connectors=json.dumps(list(scope.connectors)),
        objects=json.dumps(list(scope.objects)), establishment=establishment,
        scope_sealed=keyring.seal(json.dumps({"where": list(scope.where)})), note_sealed=keyring.seal(note),
        actor=actor,
    )
    db.add(case)
    db.flush()
    return case


def scope_of(case: BreachCase, keyring: Keyring) -> CaseScope:
    sealed = json.loads(keyring.unseal(case.scope_sealed))
    return CaseScope(
        connectors=tuple(json.loads(case.connectors)), objects=tuple(json.loads(case.objects)),
        since=parse_stamp(case.since) if case.since else None, until=parse_stamp(case.until) if case.until else None,
        where=tuple(sealed.get("where") or ()),
    )


def note_of(case: BreachCase, keyring: Keyring) -> str:
    return keyring.unseal(case.note_sealed)


def find_case(db: Session, prefix: str) -> BreachCase:
    """A case by its id or an unambiguous prefix of it."""
    text = prefix.strip().lower()
    matches = list(db.exec(select(BreachCase).where(col(BreachCase.id).startswith(text)).limit(2))) if text else []
    if len(matches) != 1:
        if matches:
            raise LookupError(f"the case id {prefix} is ambiguous: give more of its characters")
        raise LookupError(f"no breach case with id {prefix}: `gomme breach list` shows the open cases")
    return matches[0]


def open_cases(db: Session) -> Sequence[BreachCase]:
    query = select(BreachCase).where(BreachCase.status == CaseStatus.OPEN)
    return list(db.exec(query.order_by(col(BreachCase.deadline_at), col(BreachCase.id))))


def all_cases(db: Session) -> Iterator[BreachCase]:
    yield from db.exec(select(BreachCase).order_by(col(BreachCase.opened_at), col(BreachCase.id)))


def hours_left(case: BreachCase, now: dt.datetime) -> float:
    """Hours until the 72-hour deadline; negative once it has passed."""
    return (parse_stamp(case.deadline_at) - now).total_seconds() / 3600


def overdue(case: BreachCase, now: dt.datetime) -> bool:
    return case.status == CaseStatus.OPEN and case.deadline_at < stamp(now)


def save_assessment(db: Session, case: BreachCase, aggregates: Mapping[str, Any], now: dt.datetime) -> None:
    case.assessment = json.dumps(aggregates, sort_keys=True)
    case.assessed_at = stamp(now)
    db.add(case)
    db.flush()


def assessment_of(case: BreachCase) -> dict[str, Any] | None:
    return json.loads(case.assessment) if case.assessment else None


def record_notify_list(db: Session, case: BreachCase, rows: int, now: dt.datetime) -> None:
    case.notify_list_at, case.notify_list_rows = stamp(now), rows
    db.add(case)
    db.flush()


def close_case(db: Session, case: BreachCase, reason: str, keyring: Keyring, now: dt.datetime) -> None:
    case.status, case.closed_at, case.close_sealed = CaseStatus.CLOSED, stamp(now), keyring.seal(reason)
    db.add(case)
    db.flush()
