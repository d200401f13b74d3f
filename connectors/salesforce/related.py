"""Records about a person beside their Contact or Lead: Tasks, Events, Cases, emails, notes (docs/related-records.md).

Read per page of people, in as few `IN (...)` queries as the URI limit allows: an object with a junction (Shared
Activities' TaskRelation/EventRelation, EmailMessageRelation, ContentDocumentLink) is found through it, which also
counts the other people (or accounts) it concerns; without, through its lookup (WhoId). Tasks and Events are read
through queryAll, which also returns the archived ones (and those in the recycle bin, reported, not edited); a
note's body is read one note at a time (sObject Blob Get). Written before the person's own write (a deleted person's
activities can no longer be found): deletions and updates as sObject Collections of 200 (deletions as a Bulk API 2.0
hardDelete job with `hard_delete = true`), failures per record, never failing the person's change. What an erasure
cannot remove is named: objects or fields the integration user cannot see, a sent email's fields, field history
(ContactHistory, LeadHistory) of identifying fields, the recycle bin of a soft delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from simple_salesforce.api import Salesforce

from gomme.connectors.errors import ConnectorError
from gomme.connectors.salesforce import bulk, bulk_query
from gomme.connectors.salesforce.client import SalesforceClient
from gomme.connectors.salesforce.describe import OrgSchema
from gomme.connectors.salesforce.reader import in_chunks
from gomme.connectors.salesforce.related_objects import (
    DRAFT,
    NOTE_FILE_TYPE,
    RELATED_OBJECTS,
    USER_PREFIX,
    RelatedObject,
    note_content,
    note_text,
)
from gomme.connectors.salesforce.soql import Compare, Expr, In, Soql
from gomme.model.changes import Action, PlannedChange
from gomme.model.records import PersonRecord
from gomme.model.related import RelatedEdit, RelatedGap, RelatedOp, RelatedOutcome, RelatedRecord

log = structlog.get_logger(__name__)
COLLECTION_SIZE = 200
ALREADY_DELETED = "ENTITY_IS_DELETED"
SENT_EMAIL = "EMAIL_SENT_NOT_EDITABLE"  # gomme's code: only a draft email's fields can be updated
IN_RECYCLE_BIN = "in the recycle bin"  # deleted before this run, restorable for 15 days
# History objects keep old values of tracked fields; deleting their rows needs a permission few orgs grant.
_HISTORY = {"Contact": ("ContactHistory", "ContactId"), "Lead": ("LeadHistory", "LeadId")}
_IDENTIFYING = ("FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone", "HomePhone", "OtherPhone",
                "Birthdate", "Description")  # fmt: skip


@dataclass(slots=True)
class _Links:
    """A related record found through a junction: the people of the page it concerns, how many in all."""

    persons: dict[str, set[str]] = field(default_factory=dict)  # person id → relation types (From, To…)
    everyone: set[str] = field(default_factory=set)


class RelatedReader:
    """Attaches related records and gaps to pages of people."""

    def __init__(
        self, client: SalesforceClient, schema: OrgSchema, objects: Sequence[str], *, delete_on_erase: bool
    ) -> None:
        self.client, self.schema, self.delete_on_erase = client, schema, delete_on_erase
        self.objects = [RELATED_OBJECTS[name] for name in objects]
        self.gaps_seen: dict[str, str] = {}  # object or object.field → why, for the run's notices

    def attach(self, sobject: str, records: list[PersonRecord]) -> list[PersonRecord]:
        wanted = [r for r in records if not r.anonymised]
        if not wanted or not self.objects:
            return records
        ids = [r.id for r in wanted]
        related: dict[str, list[RelatedRecord]] = {}
        binned: dict[str, list[RelatedGap]] = {}  # person id → their records in the recycle bin
        gaps: list[RelatedGap] = []
        for spec in self.objects:
            if sobject in spec.people:
                gaps.extend(self._read(spec, ids, related, binned))
        for gap in gaps:
            self.gaps_seen.setdefault(gap.object_type, gap.reason)
        if not related and not gaps and not binned:
            return records
        return [
            r if r.anonymised else
            replace(r, related=tuple(related.get(r.id, ())), related_gaps=(*gaps, *binned.get(r.id, ())))
            for r in records
        ]  # fmt: skip

    def notices(self) -> list[str]:
        return [f"related records: {name} {why}: erasures there are reported as pseudonymised"
                for name, why in sorted(self.gaps_seen.items())]  # fmt: skip

    def _read(
        self, spec: RelatedObject, ids: list[str], into: dict[str, list[RelatedRecord]],
        binned: dict[str, list[RelatedGap]],
    ) -> list[RelatedGap]:  # fmt: skip
        info = self.schema.object(spec.sobject)
        shared = spec.relation is not None and self.schema.has(spec.relation)  # e.g. Shared Activities on
        if info is None or not (shared or (spec.link and info.field(spec.link) is not None)):
            return [RelatedGap(spec.sobject, "not visible to the integration user")]
        fields = [name for name in spec.text if info.field(name) is not None]
        gaps = [RelatedGap(f"{spec.sobject}.{name}", "hidden from the integration user")
                for name in spec.text if name not in fields]  # fmt: skip
        if spec.blob and info.field(spec.blob) is None:
            gaps.append(RelatedGap(f"{spec.sobject}.{spec.blob}", "hidden from the integration user"))
        bodies: dict[str, str] = {}  # a note shared by two people of the page is read once
        try:
            links = self._relations(spec, ids) if shared else None
            for row, person_id, others, kinds in self._rows(spec, info_fields(info, fields), ids, links):
                if row.get("IsDeleted"):  # queryAll: soft-deleted, still restorable with the person's data
                    found = binned.setdefault(person_id, [])
                    if all(gap.object_type != spec.sobject for gap in found):
                        found.append(RelatedGap(spec.sobject, IN_RECYCLE_BIN))
                    continue
                text = {name: str(row[name]) for name in fields if row.get(name) not in (None, "")}
                if spec.blob and info.field(spec.blob) is not None:
                    record_id = str(row["Id"])
                    if record_id not in bodies:
                        bodies[record_id] = self._blob(spec, record_id)
                    if bodies[record_id]:
                        text[spec.blob] = bodies[record_id]
                into.setdefault(person_id, []).append(self._record(spec, row, text, others, kinds))
        except ConnectorError as exc:  # e.g. no read access to the object: the person is still handled
            log.warning("salesforce_related_unreadable", object=spec.sobject, error=str(exc))
            return [RelatedGap(spec.sobject, "not readable by the integration user")]
        return gaps

    def _record(
        self, spec: RelatedObject, row: Mapping[str, Any], text: dict[str, str], others: int, kinds: set[str]
    ) -> RelatedRecord:
        clearable = set(spec.clearable)
        if spec.sender_fields and "FromAddress" in kinds:
            clearable.update(spec.sender_fields)
        locked = spec.sobject == "EmailMessage" and str(row.get("Status")) != DRAFT
        return RelatedRecord(
            spec.sobject, str(row["Id"]), text, others=others, cascades=spec.cascades, clearable=frozenset(clearable),
            # a sent email cannot be edited: deleting it is the only way to erase it
            delete_on_erase=spec.deletable and (self.delete_on_erase or locked),
        )

    def _relations(self, spec: RelatedObject, ids: list[str]) -> dict[str, _Links]:
        """Record id → the people of `ids` it concerns (with their relation types) and everyone it concerns."""
        assert spec.relation is not None
        key, person = spec.relation_key, spec.relation_person
        info = self.schema.object(spec.relation)
        extra = [name for name in ("RelationType", "IsDeleted") if info is not None and info.field(name) is not None]
        conditions: list[Expr] = [Compare(name, "=", value) for name, value in spec.relation_filter]  # type: ignore[arg-type]
        if spec.relation == "ContentDocumentLink" and self.schema.resolve(spec.relation, "ContentDocument.FileType"):
            conditions.append(Compare("ContentDocument.FileType", "=", NOTE_FILE_TYPE))
        base = Soql.select(spec.relation, ("Id", key, person, *extra)).filter(*conditions)
        found: dict[str, _Links] = {}
        for row in self._query(base, person, ids, all_rows=spec.all_rows):
            kinds = found.setdefault(str(row[key]), _Links()).persons.setdefault(str(row[person]), set())
            kinds.add(str(row.get("RelationType") or ""))
        for row in self._query(base, key, list(found), all_rows=spec.all_rows):
            who = row.get(person)
            if row.get("IsDeleted") or (who and str(who).startswith(USER_PREFIX)):
                continue  # a removed relation, or the org's own staff (an owner, a sender)
            found[str(row[key])].everyone.add(str(who) if who else f"address:{row['Id']}")
        return found

    def _rows(
        self, spec: RelatedObject, fields: list[str], ids: list[str], links: dict[str, _Links] | None
    ) -> Iterator[tuple[Mapping[str, Any], str, int, set[str]]]:
        base = Soql.select(spec.sobject, ("Id", *([spec.link] if links is None and spec.link else []), *fields))
        if links is None:  # one person per activity (its WhoId)
            assert spec.link is not None
            for row in self._query(base, spec.link, ids, all_rows=spec.all_rows):
                yield row, str(row[spec.link]), 0, set()
            return
        for row in self._query(base, "Id", list(links), all_rows=spec.all_rows):
            link = links[str(row["Id"])]
            total = len(link.everyone | set(link.persons))
            for person_id, kinds in link.persons.items():
                yield row, person_id, max(0, total - 1), kinds

    def _blob(self, spec: RelatedObject, record_id: str) -> str:
        """A base64 field's content (sObject Blob Get: one call a record, binary, no JSON) as plain text."""
        assert spec.blob is not None
        path = f"sobjects/{spec.sobject}/{record_id}/{spec.blob}"

        def get(sf: Salesforce) -> bytes:
            return bytes(sf._call_salesforce("GET", sf.base_url + path, name=path).content)

        return note_text(self.client.call(f"blob of {spec.sobject}", get))

    def _query(
        self, base: Soql, field: str, values: list[str], *, all_rows: bool = False
    ) -> Iterator[Mapping[str, Any]]:
        for chunk in in_chunks(base, field, values, self.client.settings.max_query_length):
            soql = str(base.filter(In(field, tuple(chunk))))
            yield from query_rows(self.client, soql, all_rows=all_rows)


def info_fields(info: Any, fields: list[str]) -> list[str]:
    """The fields to select: the text ones, and those deciding what may be done (recycle bin, email status)."""
    return [*fields, *(name for name in ("IsDeleted", "Status") if info.field(name) is not None)]


def query_rows(client: SalesforceClient, soql: str, *, all_rows: bool) -> Iterator[Mapping[str, Any]]:
    """A query's rows, page by page; `all_rows`: through queryAll (archived and recycle-bin rows too).

    When the first answer says the query holds more than `bulk_read_threshold` rows, the rest is not paged through
    REST (one call per `batch_size` rows) but read again as one Bulk API 2.0 query job (bulk_query.py); if that
    job fails, REST is used after all."""
    page = client.first_page(soql, all_rows=all_rows)
    if not page.get("done", True) and int(page.get("totalSize") or 0) > client.settings.bulk_read_threshold:
        try:
            yield from bulk_query.rows(client, soql, all_rows=all_rows)
            return
        except bulk_query.QueryJobFailed as exc:
            log.warning("salesforce_query_job_failed", connector=client.name, error=str(exc))
    for records in client.following(page, all_rows=all_rows):
        yield from records


class RelatedWriter:
    """Writes the related edits of a batch of changes and says, per change, what was done and what remains."""

    def __init__(self, client: SalesforceClient, schema: OrgSchema, *, hard_delete: bool) -> None:
        self.client, self.schema, self.hard_delete = client, schema, hard_delete

    def write(self, changes: Sequence[tuple[PlannedChange, str]]) -> dict[str, RelatedOutcome]:
        """`changes`: each with its person's sObject. Only the changes with related edits or an erasure get an
        outcome. Never raises for a refused record: it is named in the outcome."""
        codes: dict[tuple[str, str], str | None] = {}
        edits = [edit for change, _ in changes for edit in change.related]
        self._delete([e for e in edits if e.op is RelatedOp.DELETE], codes)
        self._send([e for e in edits if e.op is not RelatedOp.DELETE], codes)
        history = self._history([(c, s) for c, s in changes if Action.ANONYMISE in c.actions])
        outcomes = {}
        for change, sobject in changes:
            erasing = any(action.erases for action in change.actions)
            if not change.related and not erasing:
                continue
            written = [e for e in change.related if codes.get((e.object_type, e.id)) is None]
            refused = [(e, str(code)) for e in change.related
                       if (code := codes.get((e.object_type, e.id))) and code != SENT_EMAIL]  # fmt: skip
            remains = list(history.get(change.record_id, ()))
            # not attempted: a sent email's fields stay as they are, named (the audit entry keeps 300 characters)
            remains += [f"{e.object_type}.{'/'.join(sorted(e.values))} (sent: not editable)"
                        for e in change.related if codes.get((e.object_type, e.id)) == SENT_EMAIL]  # fmt: skip
            binned = [sobject] if Action.DELETE in change.actions else []
            binned += sorted({e.object_type for e in written if e.op is RelatedOp.DELETE})
            if binned and not self.hard_delete:
                remains.append(f"{', '.join(binned)} in the recycle bin (15 days; hard_delete = true empties it)")
            outcomes[change.change_id] = RelatedOutcome.of(written, refused, tuple(dict.fromkeys(remains)))
        return outcomes

    def _delete(self, edits: list[RelatedEdit], codes: dict[tuple[str, str], str | None]) -> None:
        """Collections DELETE (to the recycle bin), or with `hard_delete` a Bulk API 2.0 hardDelete job per object
        (only a job purges); a record another change already deleted counts as deleted."""
        edits = list({edit.ref: edit for edit in edits}.values())
        if not self.hard_delete:
            self._collections(edits, codes, delete=True)
            return
        for sobject in sorted({edit.object_type for edit in edits}):
            ids = [edit.id for edit in edits if edit.object_type == sobject]
            try:
                outcome = bulk.ingest(self.client, sobject, "hardDelete", [{"Id": record_id} for record_id in ids])
            except ConnectorError as exc:
                log.warning("salesforce_related_hard_delete_failed", object=sobject, error=str(exc))
                outcome = dict.fromkeys(ids, "CALL_FAILED")
            for record_id in ids:
                code = outcome.get(record_id, "NO_RESULT")
                codes[(sobject, record_id)] = None if code == ALREADY_DELETED else code

    def _send(self, edits: list[RelatedEdit], codes: dict[tuple[str, str], str | None]) -> None:
        sent = self._sent_emails([edit.id for edit in edits if edit.object_type == "EmailMessage"])
        allowed = []
        for edit in edits:
            if edit.id in sent:
                codes[(edit.object_type, edit.id)] = SENT_EMAIL
            elif self._writable(edit, codes):
                allowed.append(edit)
        self._collections(allowed, codes, delete=False)

    def _collections(
        self, edits: list[RelatedEdit], codes: dict[tuple[str, str], str | None], *, delete: bool
    ) -> None:
        for start in range(0, len(edits), COLLECTION_SIZE):
            chunk = edits[start : start + COLLECTION_SIZE]
            try:
                if delete:
                    results = self.client.delete([edit.id for edit in chunk])
                else:
                    records = [{"attributes": {"type": e.object_type}, "id": e.id, **_wire(e)} for e in chunk]
                    results = self.client.save("PATCH", records)
            except ConnectorError as exc:
                log.warning("salesforce_related_write_failed", error=str(exc))
                codes.update({(e.object_type, e.id): "CALL_FAILED" for e in chunk})
                continue
            for edit, result in zip(chunk, _padded(results, len(chunk)), strict=True):
                codes[(edit.object_type, edit.id)] = _code(result, delete)

    def _sent_emails(self, ids: list[str]) -> set[str]:
        """Those of these emails that are no longer drafts (read again now: their fields cannot be updated)."""
        if not ids:
            return set()
        base = Soql.select("EmailMessage", ("Id", "Status"))
        sent: set[str] = set()
        try:
            for chunk in in_chunks(base, "Id", ids, self.client.settings.max_query_length):
                for row in query_rows(self.client, str(base.filter(In("Id", tuple(chunk)))), all_rows=False):
                    if str(row.get("Status")) != DRAFT:
                        sent.add(str(row["Id"]))
        except ConnectorError:
            return set(ids)  # unknown: treated as sent, so not written
        return sent

    def _writable(self, edit: RelatedEdit, codes: dict[tuple[str, str], str | None]) -> bool:
        if self.schema.writable(edit.object_type, edit.values) == list(edit.values):
            return True
        codes[(edit.object_type, edit.id)] = "FIELD_NOT_WRITABLE"
        return False

    def _history(self, changes: Sequence[tuple[PlannedChange, str]]) -> dict[str, list[str]]:
        """Person id → the history object holding old values of its identifying fields (one query per chunk)."""
        found: dict[str, list[str]] = {}
        for sobject in sorted({s for _, s in changes}):
            history = _HISTORY.get(sobject)
            if history is None or not self.schema.has(history[0]):
                continue
            name, key = history
            ids = [change.record_id for change, s in changes if s == sobject]
            base = Soql.select(name, (key, "Field")).filter(In("Field", _IDENTIFYING))
            try:
                for chunk in in_chunks(base, key, ids, self.client.settings.max_query_length):
                    for page in self.client.pages(str(base.filter(In(key, tuple(chunk))))):
                        for row in page:
                            found.setdefault(str(row[key]), [f"{name} (old values of tracked fields)"])
            except ConnectorError:
                found.update({i: [f"{name} (not readable by the integration user)"] for i in ids})
        return found


def _wire(edit: RelatedEdit) -> dict[str, Any]:
    """An edit's values as the API takes them: a note's body as escaped HTML, base64."""
    if edit.object_type != "ContentNote" or edit.values.get("Content") is None:
        return dict(edit.values)
    return {**edit.values, "Content": note_content(str(edit.values["Content"]))}


def _padded(results: Iterable[Mapping[str, Any]], size: int) -> list[Mapping[str, Any]]:
    listed = list(results)[:size]
    return listed + [{"success": False, "errors": [{"statusCode": "NO_RESULT"}]}] * (size - len(listed))


def _code(result: Mapping[str, Any], delete: bool) -> str | None:
    if result.get("success"):
        return None
    errors = result.get("errors") or [{}]
    code = str(errors[0].get("statusCode") or errors[0].get("errorCode") or "UNKNOWN")
    return None if delete and code == ALREADY_DELETED else code
