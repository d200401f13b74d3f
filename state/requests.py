"""Data-subject requests in state: sealed identity, deadlines (Art 12(3)), per-connector progress."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import isodate
from sqlmodel import Session, col, select

from gomme.state.clock import parse_stamp, stamp
from gomme.state.keys import Keyring
from gomme.state.models import Request, RequestProgress

ONE_MONTH = isodate.Duration(months=1)
MAX_EXTENSION_MONTHS = 2


class RequestType(StrEnum):
    ERASE = "erase"  # Art 17
    ACCESS = "access"  # Art 15 and 20
    RESTRICT = "restrict"  # Art 18
    OBJECT = "object"  # Art 21(2): direct marketing
    RECTIFY = "rectify"  # Art 16


class RequestStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ProgressStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RequestDetails:
    """What the person asked beyond their identity: corrected values (rectify) and the admin's note."""

    values: Mapping[str, str | None] = field(default_factory=dict)
    note: str | None = None


class ExtensionRefused(ValueError):
    """Art 12(3) does not allow this extension."""


def create_request(
    db: Session, *, kind: RequestType, email: str, details: RequestDetails, keyring: Keyring,
    received: dt.datetime, actor: str,
) -> Request:
    request = Request(
        id=uuid.uuid4().hex, type=kind, identity_key=keyring.email_key(email), identity_sealed=keyring.seal(email),
        details_sealed=keyring.seal(json.dumps({"values": dict(details.values), "note": details.note})),
        status=RequestStatus.OPEN, received_at=stamp(received), deadline_at=stamp(received + ONE_MONTH),
        actor=actor,
    )
    db.add(request)
    db.flush()
    return request


def identity(request: Request, keyring: Keyring) -> str:
    if request.identity_sealed is None:
        raise ValueError(f"request {request.id} is completed: its identity was wiped")
    return keyring.unseal(request.identity_sealed)


def details(request: Request, keyring: Keyring) -> RequestDetails:
    if request.details_sealed is None:
        return RequestDetails()
    data: dict[str, Any] = json.loads(keyring.unseal(request.details_sealed))
    return RequestDetails(values=data.get("values") or {}, note=data.get("note"))


def due(request: Request) -> str:
    """The deadline in force: the extended one when an extension was recorded."""
    return request.extended_until or request.deadline_at


def unfinished(db: Session) -> Iterator[Request]:
    query = select(Request).where(col(Request.status).in_((RequestStatus.OPEN, RequestStatus.IN_PROGRESS)))
    yield from db.exec(query.order_by(col(Request.received_at), col(Request.id)))


def listing(db: Session, *, status: str | None = None) -> Iterator[Request]:
    query = select(Request)
    if status is not None:
        query = query.where(Request.status == status)
    yield from db.exec(query.order_by(col(Request.received_at), col(Request.id)))


def overdue(db: Session, now: dt.datetime) -> list[Request]:
    return [request for request in unfinished(db) if due(request) < stamp(now)]


def find_request(db: Session, prefix: str) -> Request:
    """A request by its id or an unambiguous prefix of it (ids are long)."""
    matches = list(db.exec(select(Request).where(col(Request.id).startswith(prefix.lower())).limit(2)))
    if len(matches) != 1:
        raise LookupError(f"no request with id {prefix}" if not matches else f"the id {prefix} is ambiguous")
    return matches[0]


def extend(db: Session, request: Request, *, months: int, reason: str, now: dt.datetime) -> Request:
    """Art 12(3): up to two further months, decided and notified within the first month."""
    if request.status == RequestStatus.COMPLETED:
        raise ExtensionRefused("the request is already completed")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise ExtensionRefused("an extension is 1 or 2 months (Art 12(3): at most two further months)")
    if stamp(now) > request.deadline_at:
        raise ExtensionRefused("the first month is over: Art 12(3) requires the extension to be notified within it")
    already = _extension_months(request)
    if already + months > MAX_EXTENSION_MONTHS:
        raise ExtensionRefused(f"already extended by {already} month(s); the total may not exceed two months")
    if not reason.strip():
        raise ExtensionRefused("give the reason the person will be told (Art 12(3))")
    request.extended_until = stamp(parse_stamp(request.deadline_at) + isodate.Duration(months=already + months))
    request.extension_reason = reason.strip()
    request.extension_notified_at = stamp(now)
    db.add(request)
    return request


def _extension_months(request: Request) -> int:
    if request.extended_until is None:
        return 0
    deadline = parse_stamp(request.deadline_at)
    return next(m for m in range(1, MAX_EXTENSION_MONTHS + 1)
                if stamp(deadline + isodate.Duration(months=m)) == request.extended_until)


def progress(db: Session, request_id: str, connector: str) -> RequestProgress | None:
    return db.get(RequestProgress, (request_id, connector))


def progress_of(db: Session, request_id: str) -> list[RequestProgress]:
    query = select(RequestProgress).where(RequestProgress.request_id == request_id)
    return list(db.exec(query.order_by(col(RequestProgress.connector))))


def save_progress(
    db: Session, request_id: str, connector: str, *, status: ProgressStatus, found: int,
    summary: Mapping[str, Any], now: dt.datetime,
) -> None:
    row = progress(db, request_id, connector) or RequestProgress(
        request_id=request_id, connector=connector, status=status, updated_at=stamp(now)
    )
    row.status, row.records_found, row.updated_at = status, found, stamp(now)
    row.summary = json.dumps(summary, sort_keys=True)
    db.add(row)
    db.flush()


def start(db: Session, request: Request) -> None:
    if request.status == RequestStatus.OPEN:
        request.status = RequestStatus.IN_PROGRESS
        db.add(request)


def complete(db: Session, request: Request, *, outcome: str, now: dt.datetime) -> None:
    """Done: the identity and details are wiped; only the email's HMAC stays, as proof."""
    request.status = RequestStatus.COMPLETED
    request.completed_at = stamp(now)
    request.outcome = outcome
    request.identity_sealed = None
    request.details_sealed = None
    db.add(request)
