"""Reading people: pull (pushdown + cursor), get, find, export and size, streamed page by page.

Consent rows are fetched per page of people with `PartyId IN (...)` queries, as few as fit under the
org's URI limit (no child subquery reaches them from Contact: their parent is the Individual).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote_plus

import structlog

from gomme.connectors.errors import RecordError
from gomme.connectors.incremental import SECOND, Position, Tracker
from gomme.connectors.read_notes import ReadNotes
from gomme.connectors.salesforce.client import SalesforceClient
from gomme.connectors.salesforce.mapping import CONSENT_FIELDS, MappingError, ObjectMap, plain, value_at, with_consents
from gomme.connectors.salesforce.pushdown import groups_where
from gomme.connectors.salesforce.soql import FALSE, TRUE, Compare, Expr, In, Soql, any_of, literal
from gomme.model.conditions import PullQuery, matches_any
from gomme.model.records import PersonRecord
from gomme.model.related import export_related

log = structlog.get_logger(__name__)


class RelatedPages(Protocol):
    """Attaches related records to a page of people (connectors/salesforce/related.py)."""

    def attach(self, sobject: str, records: list[PersonRecord]) -> list[PersonRecord]: ...


CONSENT_OBJECT = "ContactPointTypeConsent"
_SEPARATOR = len(quote_plus(", "))


class Reader:
    """All the reads of one connector; `maps` is keyed by canonical object type (contact, lead)."""

    def __init__(
        self, crm: str, client: SalesforceClient, maps: Mapping[str, ObjectMap], related: RelatedPages | None = None
    ) -> None:
        self.crm, self.client, self.maps, self.related = crm, client, maps, related
        self.notes = ReadNotes()

    # -- pull -------------------------------------------------------------------------------------------

    def pull(self, query: PullQuery) -> Generator[PersonRecord, None, dict[str, str]]:
        """PullQuery's contract: everything, or changed at/after the cursor, or matching a prefilter group."""
        since = query.since
        positions = {
            kind: Position.parse(text, resolution=SECOND, connector=self.crm, object_type=kind)
            for kind, text in (since or {}).items()
            if kind in self.maps
        }
        cursor = dict(since or {})
        remaining = query.limit
        for kind, omap in self.maps.items():
            if remaining is not None and remaining <= 0:
                break
            where = self._pull_where(query, omap, positions.get(kind))
            if where == FALSE:
                continue
            tracker = Tracker(positions.get(kind), SECOND)  # SOQL compares SystemModstamp in whole seconds
            yield from self._pull_object(query, omap, where, tracker, remaining)
            remaining = None if remaining is None else remaining - tracker.read
            position = tracker.position()
            if position is not None:
                cursor[kind] = position.dump()
        if not query.everything and since is None:
            return {}  # a prefilter-only pull did not look at what changed: it establishes no position
        return cursor

    def _pull_object(
        self, query: PullQuery, omap: ObjectMap, where: Expr, tracker: Tracker, limit: int | None
    ) -> Iterator[PersonRecord]:
        """One object's matching records, oldest change first (so that a `limit` stops at a clean position)."""
        previous = tracker.previous

        def fresh(record: PersonRecord) -> bool:
            assert record.modified_at is not None  # SystemModstamp is always set
            tracker.saw(record.id, record.modified_at)
            self._note(omap, record)
            return not self._duplicate(query, previous, record)

        soql = self._select(omap).filter(where).ordered("SystemModstamp", "Id").limited(limit)
        for page in self._records(omap, soql, keep=fresh):
            yield from page

    def _pull_where(self, query: PullQuery, omap: ObjectMap, position: Position | None) -> Expr:
        if query.everything:
            return TRUE
        parts: list[Expr] = []
        if query.since is not None:
            parts.append(TRUE if position is None else Compare("SystemModstamp", ">=", position.at))
        parts.append(groups_where(query.prefilters, omap))
        return any_of(parts)

    @staticmethod
    def _duplicate(query: PullQuery, previous: Position | None, record: PersonRecord) -> bool:
        """Seen at the boundary last time, unchanged since, and not wanted by any prefilter either."""
        if query.everything or previous is None or record.modified_at is None:
            return False
        return previous.already_seen(record.id, record.modified_at) and not matches_any(record, query.prefilters)

    def _note(self, omap: ObjectMap, record: PersonRecord) -> None:
        """Values left unknown, once per record pulled (re-reads before a write are not counted again)."""
        if record.country is None and _country_text(omap, record.raw):
            self.notes.unknown_country(omap.sobject)
        stage = omap.fields.get("lifecycle") if omap.sobject != "Lead" else None
        value = value_at(record.raw, stage) if stage else None
        if stage and value and str(value).casefold() not in omap.lifecycle_map:
            self.notes.unmapped_stage(stage, value)

    # -- get, find, export, size ----------------------------------------------------------------------

    def get(self, ids: Iterable[tuple[str, str]]) -> Iterator[PersonRecord]:
        """Re-reads by (object_type, id), as few queries as fit; missing or converted ones are not yielded."""
        wanted: dict[str, list[str]] = {}
        for kind, record_id in ids:
            if kind in self.maps and record_id not in wanted.setdefault(kind, []):
                wanted[kind].append(record_id)
        for kind, record_ids in wanted.items():
            omap = self.maps[kind]
            for chunk in self.id_chunks(self._select(omap), "Id", record_ids):
                for page in self._records(omap, self._select(omap).filter(In("Id", tuple(chunk)))):
                    yield from page

    def find(self, email: str) -> Iterator[PersonRecord]:
        """People whose email is this one (Salesforce compares case-insensitively)."""
        address = email.strip()
        if not address:
            return
        for omap in self.maps.values():
            found = [record for page in self._records(omap, self._select(omap).filter(Compare("Email", "=", address)))
                     for record in page]  # fmt: skip
            yield from found  # read in full first: the caller may write while iterating

    def export(self, record: PersonRecord) -> dict[str, Any]:
        """Everything Salesforce holds on the person: every field of the record, its Individual, consent rows."""
        omap = self.maps.get(record.object_type)
        row = self._first(omap.sobject, record.id) if omap else None
        if omap is None or row is None:
            raise RecordError("record not found", record_id=record.id, code="NOT_FOUND")
        individual_id = row.get("IndividualId") if omap.data_protection else None
        individual = self._first("Individual", individual_id) if individual_id else None
        consents: list[dict[str, Any]] = []
        if individual_id:
            soql = Soql("ContactPointTypeConsent", ("FIELDS(ALL)",), Compare("PartyId", "=", individual_id), limit=200)
            consents = [plain(row) for page in self.client.pages(str(soql)) for row in page]
        person = next(self.get([(record.object_type, record.id)]), record)
        related = export_related(person.related, email=person.email, phone=person.phone)
        return {
            "crm": self.crm, "object": omap.sobject, "id": record.id, "record": plain(row),
            "individual": plain(individual) if individual else None, "consents": consents, "related": related,
        }  # fmt: skip

    def size(self) -> int:
        """People held, one COUNT() per object (converted Leads excluded)."""
        return sum(self.client.count(str(Soql.count(omap.sobject, self._base(omap)))) for omap in self.maps.values())

    def _first(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        soql = Soql(sobject, ("FIELDS(ALL)",), Compare("Id", "=", record_id), limit=1)
        rows = [row for page in self.client.pages(str(soql)) for row in page]
        return rows[0] if rows else None

    # -- pages of records with their consents ---------------------------------------------------------

    def _select(self, omap: ObjectMap) -> Soql:
        return Soql.select(omap.sobject, omap.select_fields()).filter(self._base(omap))

    @staticmethod
    def _base(omap: ObjectMap) -> Expr:
        return Compare("IsConverted", "=", False) if omap.sobject == "Lead" else TRUE

    def _records(
        self, omap: ObjectMap, soql: Soql, keep: Callable[[PersonRecord], bool] | None = None
    ) -> Iterator[list[PersonRecord]]:
        """Pages of records; those `keep` refuses are dropped before their consent rows are fetched."""
        for rows in self.client.pages(str(soql)):
            mapped = self._map(omap, rows)
            page = self._with_consents(omap, [record for record in mapped if keep is None or keep(record)])
            yield self.related.attach(omap.sobject, page) if self.related is not None else page

    def _map(self, omap: ObjectMap, rows: Sequence[Mapping[str, Any]]) -> list[PersonRecord]:
        """A row that cannot be read is logged (its id and the field, never a value) and skipped."""
        records = []
        for row in rows:
            try:
                records.append(omap.to_record(self.crm, row))
            except MappingError as exc:
                log.warning(
                    "salesforce_record_skipped", connector=self.crm, object=omap.sobject,
                    record_id=str(row.get("Id")), field=exc.field_name,
                )  # fmt: skip
        return records

    def _with_consents(self, omap: ObjectMap, records: list[PersonRecord]) -> list[PersonRecord]:
        """Attaches consent rows; an anonymised record has none worth a query (gomme deleted them first)."""
        if not omap.data_protection or not omap.consents:
            return records
        parties = [str(r.raw["IndividualId"]) for r in records if r.raw.get("IndividualId") and not r.anonymised]
        if not parties:
            return records
        found = self.consents(parties)
        return [with_consents(r, found.get(str(r.raw.get("IndividualId")), ()), omap) for r in records]

    def consents(self, parties: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Consent rows by Individual id, in as few `PartyId IN (...)` queries as the URI limit allows."""
        found: dict[str, list[dict[str, Any]]] = {}
        base = Soql.select(CONSENT_OBJECT, CONSENT_FIELDS)
        for chunk in self.id_chunks(base, "PartyId", list(dict.fromkeys(parties))):
            for page in self.client.pages(str(base.filter(In("PartyId", tuple(chunk))))):
                for row in page:
                    found.setdefault(str(value_at(row, "PartyId")), []).append(row)
        return found

    def id_chunks(self, base: Soql, field: str, ids: Sequence[str]) -> Iterator[list[str]]:
        """Splits ids so that `base AND field IN (chunk)` stays under the query-length limit."""
        return in_chunks(base, field, ids, self.client.settings.max_query_length)


def in_chunks(base: Soql, field: str, values: Sequence[str], limit: int) -> Iterator[list[str]]:
    """Splits values so that `base AND field IN (chunk)` stays under `limit` characters of URI."""
    fixed = _url_length(base.filter(In(field, ("x",)))) - len(quote_plus(literal("x")))
    chunk: list[str] = []
    used = fixed
    for value in values:
        cost = len(quote_plus(literal(value)))
        if chunk and used + _SEPARATOR + cost > limit:
            yield chunk
            chunk, used = [], fixed
        used += cost + (_SEPARATOR if chunk else 0)
        chunk.append(value)
    if chunk:
        yield chunk


def _country_text(omap: ObjectMap, row: Mapping[str, Any]) -> bool:
    paths = (omap.fields.get("country"), *omap.fallbacks.get("country", ()))
    return any(str(value_at(row, path) or "").strip() for path in paths if path)


def _url_length(soql: Soql) -> int:
    """The query's share of the request URI, plus room for the instance host and path."""
    return 120 + len(quote_plus(str(soql)))
