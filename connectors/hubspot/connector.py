"""The HubSpot connector (`type = "hubspot"`): contacts through hubspot-api-client v12 (docs/crm-apis.md part B)."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from gomme.connectors.base import Capabilities, ClosedOnExit, Pulled, Usage
from gomme.connectors.errors import FatalError, MappingMismatch, RecordError
from gomme.connectors.hubspot.client import CallStats, Transport
from gomme.connectors.hubspot.engagements import ASSOCIATION_BATCH, EngagementReader, RelatedPage
from gomme.connectors.hubspot.fit import check_properties
from gomme.connectors.hubspot.limiter import RateLimiter
from gomme.connectors.hubspot.mapping import (
    OBJECT_TYPE,
    EmailPreferences,
    PropertyInfo,
    PropertyMap,
    to_person,
)
from gomme.connectors.hubspot.reader import Contact, Reader
from gomme.connectors.hubspot.search import PullPlan, plan_prefilters
from gomme.connectors.hubspot.settings import HubSpotSettings
from gomme.connectors.hubspot.subscriptions import BATCH_SIZE as PREFERENCES_BATCH
from gomme.connectors.hubspot.subscriptions import Subscriptions, email_key
from gomme.connectors.hubspot.writer import Writer
from gomme.connectors.read_notes import ReadNotes
from gomme.model.changes import Action, ChangeResult, PlannedChange
from gomme.model.conditions import Condition, PullQuery
from gomme.model.records import PersonRecord
from gomme.model.related import export_related

_EMAIL_CACHE = 10_000  # addresses of recently read contacts, so restrict_* need not read them again
_PREFERENCE_FIELDS = ("consents", "opt_outs.email")
_PAGE = PREFERENCES_BATCH  # contacts mapped together: one preferences call, one objects read per 100 engagements
_LINKED = ASSOCIATION_BATCH  # contacts whose engagements are looked up together: one associations call per object
_R = TypeVar("_R")
_STATUS_KEYS = ("id", "name", "status", "sourceOfStatus", "legalBasis", "legalBasisExplanation", "brandId")


class HubSpotConnector(ClosedOnExit):
    """Contacts of one HubSpot portal, implementing the `Connector` protocol."""

    Settings = HubSpotSettings

    @classmethod
    def from_settings(cls, name: str, settings: HubSpotSettings, *, base_dir: Path) -> HubSpotConnector:
        return cls(name, settings)

    def __init__(
        self,
        name: str,
        settings: HubSpotSettings,
        *,
        env: Mapping[str, str] = os.environ,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock or _utc_now
        self.limiter = limiter or RateLimiter.for_hubspot(
            per_10s=settings.requests_per_10s,
            daily=settings.daily_limit,
            search_per_second=settings.search_requests_per_second,
            fraction=settings.limit_fraction,
            sleep=sleep,
        )
        self._transport = Transport(name, settings, self.limiter, env=env, sleep=sleep, clock=self._clock)
        self._pmap = PropertyMap.from_settings(settings)
        self._subscriptions = Subscriptions(self._transport)
        self._engagements = (
            EngagementReader(
                name, self._transport, settings.engagements, delete_on_erase=settings.related_on_erase == "delete"
            )
            if settings.read_engagements
            else None
        )
        self._reader = Reader(name, settings, self._transport, self._requested, self._clock)
        self._writer = Writer(
            name, self._transport, self._pmap, self._subscriptions, settings.delete_mode, self.schema, self._emails_of
        )
        self._schema: dict[str, PropertyInfo] | None = None
        self._with_preferences = settings.read_subscriptions
        self._emails: OrderedDict[str, str | None] = OrderedDict()
        self._read_notes = ReadNotes()
        self._fit_notices: list[str] | None = None

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            actions=frozenset(Action),
            incremental=True,
            pushdown=True,
            notes=bool(self.settings.note_properties),
            permanent_delete=self.settings.delete_mode == "gdpr",  # an archive can be restored for 90 days
        )

    @property
    def stats(self) -> CallStats:
        return self._transport.stats

    def usage(self) -> Usage:
        """API calls by HTTP status since the connector was opened, for the daemon's metrics (jobs/metrics.py)."""
        return Usage(dict(self._transport.stats.statuses), self.limiter.daily_remaining)

    def notices(self) -> list[str]:
        """Properties gomme would use by default that the portal lacks, and values left unknown."""
        notices = list(self._checked())
        try:  # the communication-preferences scope (cached: a sweep has usually read the definitions already)
            self._subscriptions.definitions()
        except FatalError as error:
            raise MappingMismatch(
                "HubSpot portal",
                [
                    f"connectors.{self.name}: communication preferences refused ({error}); grant the app the "
                    "communication_preferences.read_write scope (statuses are read, restrictions unsubscribe)"
                ],
                notices,
            ) from None
        notices += self._read_notes.lines()
        if self._engagements is not None:
            notices += self._engagements.notices()
        return notices

    def close(self) -> None:
        self._transport.close()

    def size(self) -> int | None:
        """One search with limit 1: its `total` (the search index may lag a few seconds behind)."""
        return self._reader.size()

    def schema(self) -> Mapping[str, PropertyInfo]:
        """The portal's contact properties, read once per connector."""
        if self._schema is None:
            self._schema = self._reader.schema()
        return self._schema

    def _checked(self) -> list[str]:
        """The configuration checked against the portal, once, before the first read or write."""
        if self._fit_notices is None:
            self._fit_notices = check_properties(self.name, self.settings, self._pmap, self.schema())
        return self._fit_notices

    # -- reading ----------------------------------------------------------------------------------------

    def pull(self, query: PullQuery) -> Pulled:
        """Streams the contacts the query selects (see PullQuery); the cursor is a `lastmodifieddate` position."""
        self._checked()
        if _mentions(query, _PREFERENCE_FIELDS):
            self._with_preferences = True

        def plan() -> PullPlan:
            return plan_prefilters(query.prefilters, self._pmap, self.schema())

        if not self._paged:
            return Pulled(self._noting(self._reader.pull(query, plan, self._person)))
        return Pulled(self._noting(self._people(self._reader.pull(query, plan, _same))))

    def get(self, ids: Iterable[tuple[str, str]]) -> Iterator[PersonRecord]:
        """Re-reads contacts by id (batch read, 100 per call); missing ones are not yielded."""
        self._checked()
        wanted = [record_id for kind, record_id in ids if kind == OBJECT_TYPE and record_id.isdigit()]
        yield from self._people(self._reader.batch_read(wanted))

    def find(self, email: str) -> Iterator[PersonRecord]:
        """Contacts whose email matches (HubSpot compares emails ignoring case)."""
        self._checked()
        address = email.strip()
        if not address or "email" not in self._pmap.fields:
            return
        yield from self._people(iter(self._reader.find(self._pmap.fields["email"], address)))

    def export(self, record: PersonRecord) -> dict[str, Any]:
        """Every property HubSpot holds on the contact, its email's subscription statuses and its engagements
        (Art 15/20)."""
        names = sorted(self.schema())
        found = next(iter(self._reader.batch_read([record.id], names)), None) if record.id.isdigit() else None
        if found is None:
            raise RecordError("record not found", record_id=record.id, code="NOT_FOUND")
        properties = {key: value for key, value in (found.get("properties") or {}).items() if value not in (None, "")}
        email = properties.get(self._pmap.fields.get("email", "email"))
        statuses = self._subscriptions.statuses(str(email)) if email else []
        exported: dict[str, Any] = {
            "object_type": OBJECT_TYPE,
            "id": str(found["id"]),
            "created_at": found.get("createdAt"),
            "updated_at": found.get("updatedAt"),
            "properties": properties,
            "subscriptions": [
                {key: status.get(key) for key in _STATUS_KEYS if status.get(key) is not None} for status in statuses
            ],
        }
        if self._engagements is not None:
            page = self._engagements.read([str(found["id"])])
            phone = properties.get(self._pmap.fields.get("phone", "phone"))
            exported["related"] = export_related(page.records.get(str(found["id"]), ()), email=email, phone=phone)
            if page.gaps:
                exported["related_not_read"] = [str(gap) for gap in page.gaps]
        return exported

    def _requested(self) -> list[str]:
        return self._pmap.requested()

    def _person(self, contact: Contact, prefs: Mapping[str, EmailPreferences] | None = None) -> PersonRecord:
        """The record, with its email's subscription statuses when `prefs` (keyed by `email_key`) holds them."""
        email = self._email(contact)
        self._remember(str(contact["id"]), email)
        found = prefs.get(email_key(email)) if prefs is not None and email else None
        return to_person(self.name, contact, self._pmap, found, basis_tracked=self._basis_tracked())

    def _noting(self, records: Generator[PersonRecord, None, _R]) -> Generator[PersonRecord, None, _R]:
        """The pulled records, noting the values left unknown once each (re-reads are not counted again)."""
        country_property, stage_property = self._pmap.fields.get("country"), self._pmap.fields.get("lifecycle")
        while True:
            try:
                record = next(records)
            except StopIteration as done:
                result: _R = done.value
                return result
            if record.country is None and country_property and str(record.raw.get(country_property) or "").strip():
                self._read_notes.unknown_country("contact")
            stage = record.raw.get(stage_property) if stage_property else None
            if stage_property and stage and str(stage) not in self._pmap.lifecycle:
                self._read_notes.unmapped_stage(stage_property, stage)
            yield record

    @property
    def _paged(self) -> bool:
        """Contacts are mapped a page at a time (preferences or engagements are read per page), else one by one."""
        return self._with_preferences or self._engagements is not None

    def _people(self, contacts: Generator[Contact, None, _R] | Iterator[Contact]) -> Generator[PersonRecord, None, _R]:
        """Records in source order, a page of 100 at a time when preferences or engagements are read with them (the
        engagements' associations, for 1,000 contacts at a time)."""
        size = _LINKED if self._engagements is not None else _PAGE
        chunk: list[Contact] = []
        try:
            while True:
                try:
                    contact = next(contacts)
                except StopIteration as done:
                    yield from self._mapped(chunk)
                    result: _R = done.value
                    return result
                chunk.append(contact)
                if len(chunk) >= size or not self._paged:
                    yield from self._mapped(chunk)
                    chunk = []
        finally:
            if isinstance(contacts, Generator):
                contacts.close()

    def _mapped(self, chunk: list[Contact]) -> Iterator[PersonRecord]:
        links = self._engagements.links([str(c["id"]) for c in chunk]) if self._engagements and chunk else None
        for start in range(0, len(chunk), _PAGE):
            page = chunk[start : start + _PAGE]
            prefs: Mapping[str, EmailPreferences] | None = None
            if self._with_preferences:
                emails = [email for contact in page if (email := self._email(contact))]
                prefs = self._subscriptions.preferences_many(emails) if emails else {}
            related = None
            if self._engagements is not None and links is not None:
                related = self._engagements.page(links, [str(c["id"]) for c in page])
            for contact in page:
                person = self._person(contact, prefs)
                yield person if related is None else _with_related(person, related)

    def _email(self, contact: Contact) -> str | None:
        email = (contact.get("properties") or {}).get(self._pmap.fields.get("email", "email"))
        return str(email) if email and str(email).strip() else None

    def _basis_tracked(self) -> bool:
        """GDPR settings on: the portal has the legal-basis property, so an empty one means none recorded."""
        name = self._pmap.fields.get("legal_basis")
        return bool(name) and name in self.schema()

    def _remember(self, record_id: str, email: str | None) -> None:
        self._emails[record_id] = email
        self._emails.move_to_end(record_id)
        while len(self._emails) > _EMAIL_CACHE:
            self._emails.popitem(last=False)

    def _emails_of(self, ids: Sequence[str]) -> dict[str, str | None]:
        """The email of each existing contact among `ids`: from recent reads, else one batch read per 100."""
        missing = [record_id for record_id in ids if record_id not in self._emails]
        email_property = self._pmap.fields.get("email", "email")
        for contact in self._reader.batch_read(missing, [email_property]):
            self._remember(str(contact["id"]), (contact.get("properties") or {}).get(email_property) or None)
        return {record_id: self._emails[record_id] for record_id in ids if record_id in self._emails}

    # -- writing ----------------------------------------------------------------------------------------

    def apply(self, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        """Applies the batch, then yields one result per change: an APPLIED result has landed in HubSpot."""
        self._checked()
        results = self._writer.apply(changes)
        for change in changes:
            if Action.DELETE in change.actions or Action.ANONYMISE in change.actions:
                self._emails.pop(change.record_id, None)
        return iter(results)


def _with_related(person: PersonRecord, page: RelatedPage) -> PersonRecord:
    records = page.records.get(person.id, ())
    return replace(person, related=records, related_gaps=page.gaps) if records or page.gaps else person


def _same(contact: Contact) -> Contact:
    return contact


def _mentions(query: PullQuery, fields: tuple[str, ...]) -> bool:
    conditions: Iterable[Condition] = (condition for group in query.prefilters for condition in group)
    return any(condition.field.startswith(fields) for condition in conditions)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
