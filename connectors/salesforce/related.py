"""Records about a person beside their Contact or Lead: Tasks, Events and Cases (docs/related-records.md).

Read per page of people, in as few `IN (...)` queries as the URI limit allows: with Shared Activities on (the org
has TaskRelation/EventRelation), an activity is found through its relations, which also count the other people it
concerns; without, through its WhoId. Written before the person's own write (a deleted person's activities can no
longer be found): deletions and updates as sObject Collections of 200, failures per record, never failing the
person's change. What an erasure cannot remove is named: objects or fields the integration user cannot see,
field history (ContactHistory, LeadHistory) of identifying fields, the recycle bin of a soft delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog

from gomme.connectors.errors import ConnectorError
from gomme.connectors.salesforce.client import SalesforceClient
from gomme.connectors.salesforce.describe import OrgSchema
from gomme.connectors.salesforce.reader import in_chunks
from gomme.connectors.salesforce.soql import Compare, In, Soql
from gomme.model.changes import Action, PlannedChange
from gomme.model.records import PersonRecord
from gomme.model.related import RelatedEdit, RelatedGap, RelatedOp, RelatedOutcome, RelatedRecord

log = structlog.get_logger(__name__)
COLLECTION_SIZE = 200
ALREADY_DELETED = "ENTITY_IS_DELETED"


@dataclass(frozen=True, slots=True)
class RelatedObject:
    """How one object relates to people, and which of its fields may hold what is said about them."""

    sobject: str
    link: str  # the field naming the person
    people: frozenset[str]  # the person objects `link` may point at
    text: tuple[str, ...]
    clearable: tuple[str, ...] = ()  # fields holding nothing but the person's identifiers
    cascades: bool = False  # deleting the person deletes it (the describe's cascadeDelete on the relationship)
    deletable: bool = True  # may be deleted when it is about the person alone (a Case is the account's record too)
    relation: str | None = None  # the Shared Activities relation object, when the org has it
    relation_key: str = ""


# Task and Event: WhoId lookups with cascadeDelete (deleting the Contact deletes them); Case: ContactId, no cascade.
RELATED_OBJECTS: Mapping[str, RelatedObject] = {
    "Task": RelatedObject("Task", "WhoId", frozenset({"Contact", "Lead"}), ("Subject", "Description"),
                          cascades=True, relation="TaskRelation", relation_key="TaskId"),
    "Event": RelatedObject("Event", "WhoId", frozenset({"Contact", "Lead"}), ("Subject", "Description"),
                           cascades=True, relation="EventRelation", relation_key="EventId"),
    "Case": RelatedObject("Case", "ContactId", frozenset({"Contact"}),
                          ("Subject", "Description", "SuppliedName", "SuppliedEmail", "SuppliedPhone"),
                          clearable=("SuppliedName", "SuppliedEmail", "SuppliedPhone"), deletable=False),
}  # fmt: skip
# History objects keep old values of tracked fields; deleting their rows needs a permission few orgs grant.
_HISTORY = {"Contact": ("ContactHistory", "ContactId"), "Lead": ("LeadHistory", "LeadId")}
_IDENTIFYING = ("FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone", "HomePhone", "OtherPhone",
                "Birthdate", "Description")  # fmt: skip


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
        gaps: list[RelatedGap] = []
        for spec in self.objects:
            if sobject in spec.people:
                gaps.extend(self._read(spec, ids, related))
        for gap in gaps:
            self.gaps_seen.setdefault(gap.object_type, gap.reason)
        if not related and not gaps:
            return records
        return [
            replace(r, related=tuple(related.get(r.id, ())), related_gaps=tuple(gaps)) if not r.anonymised else r
            for r in records
        ]

    def notices(self) -> list[str]:
        return [f"related records: {name} {why}: erasures there are reported as pseudonymised"
                for name, why in sorted(self.gaps_seen.items())]  # fmt: skip

    def _read(self, spec: RelatedObject, ids: list[str], into: dict[str, list[RelatedRecord]]) -> list[RelatedGap]:
        info = self.schema.object(spec.sobject)
        if info is None or info.field(spec.link) is None:
            return [RelatedGap(spec.sobject, "not visible to the integration user")]
        fields = [name for name in spec.text if info.field(name) is not None]
        gaps = [RelatedGap(f"{spec.sobject}.{name}", "hidden from the integration user")
                for name in spec.text if name not in fields]  # fmt: skip
        try:
            shared = spec.relation is not None and self.schema.has(spec.relation)  # Shared Activities on
            links = self._relations(spec, ids) if shared else None
            for row, person_id, others in self._rows(spec, fields, ids, links):
                text = {name: str(row[name]) for name in fields if row.get(name) not in (None, "")}
                into.setdefault(person_id, []).append(RelatedRecord(
                    spec.sobject, str(row["Id"]), text, others=others, cascades=spec.cascades,
                    clearable=frozenset(spec.clearable), delete_on_erase=self.delete_on_erase and spec.deletable,
                ))  # fmt: skip
        except ConnectorError as exc:  # e.g. no read access to the object: the person is still handled
            log.warning("salesforce_related_unreadable", object=spec.sobject, error=str(exc))
            return [RelatedGap(spec.sobject, "not readable by the integration user")]
        return gaps

    def _relations(self, spec: RelatedObject, ids: list[str]) -> dict[str, tuple[list[str], int]]:
        """Activity id → (the people of `ids` it concerns, how many people it concerns in all)."""
        assert spec.relation is not None
        key = spec.relation_key
        base = Soql.select(spec.relation, (key, "RelationId")).filter(Compare("IsWhat", "=", False))
        mine: dict[str, list[str]] = {}
        for row in self._query(base, "RelationId", ids):
            mine.setdefault(str(row[key]), []).append(str(row["RelationId"]))
        people: dict[str, set[str]] = {}
        for row in self._query(base, key, list(mine)):
            people.setdefault(str(row[key]), set()).add(str(row["RelationId"]))
        return {activity: (persons, len(people.get(activity, set(persons)))) for activity, persons in mine.items()}

    def _rows(
        self, spec: RelatedObject, fields: list[str], ids: list[str], links: dict[str, tuple[list[str], int]] | None
    ) -> Iterator[tuple[Mapping[str, Any], str, int]]:
        base = Soql.select(spec.sobject, ("Id", spec.link, *fields))
        if links is None:  # one person per activity (its WhoId)
            for row in self._query(base, spec.link, ids):
                yield row, str(row[spec.link]), 0
            return
        for row in self._query(base, "Id", list(links)):
            persons, total = links[str(row["Id"])]
            for person_id in persons:
                yield row, person_id, max(0, total - 1)

    def _query(self, base: Soql, field: str, values: list[str]) -> Iterator[Mapping[str, Any]]:
        for chunk in in_chunks(base, field, values, self.client.settings.max_query_length):
            for page in self.client.pages(str(base.filter(In(field, tuple(chunk))))):
                yield from page


class RelatedWriter:
    """Writes the related edits of a batch of changes and says, per change, what was done and what remains."""

    def __init__(self, client: SalesforceClient, schema: OrgSchema, *, hard_delete: bool) -> None:
        self.client, self.schema, self.hard_delete = client, schema, hard_delete

    def write(self, changes: Sequence[tuple[PlannedChange, str]]) -> dict[str, RelatedOutcome]:
        """`changes`: each with its person's sObject. Only the changes with related edits or an erasure get an
        outcome. Never raises for a refused record: it is named in the outcome."""
        codes: dict[tuple[str, str], str | None] = {}
        edits = [edit for change, _ in changes for edit in change.related]
        self._send([e for e in edits if e.op is RelatedOp.DELETE], codes, delete=True)
        self._send([e for e in edits if e.op is not RelatedOp.DELETE], codes, delete=False)
        history = self._history([(c, s) for c, s in changes if Action.ANONYMISE in c.actions])
        outcomes = {}
        for change, sobject in changes:
            erasing = any(action.erases for action in change.actions)
            if not change.related and not erasing:
                continue
            written = [e for e in change.related if codes.get((e.object_type, e.id)) is None]
            refused = [(e, str(code)) for e in change.related if (code := codes.get((e.object_type, e.id)))]
            remains = list(history.get(change.record_id, ()))
            if Action.DELETE in change.actions and not self.hard_delete:
                remains.append(f"{sobject} in the recycle bin (15 days; hard_delete = true empties it)")
            outcomes[change.change_id] = RelatedOutcome.of(written, refused, tuple(remains))
        return outcomes

    def _send(self, edits: list[RelatedEdit], codes: dict[tuple[str, str], str | None], *, delete: bool) -> None:
        allowed = [edit for edit in edits if delete or self._writable(edit, codes)]
        for start in range(0, len(allowed), COLLECTION_SIZE):
            chunk = allowed[start : start + COLLECTION_SIZE]
            try:
                if delete:
                    results = self.client.delete([edit.id for edit in chunk])
                else:
                    records = [{"attributes": {"type": e.object_type}, "id": e.id, **e.values} for e in chunk]
                    results = self.client.save("PATCH", records)
            except ConnectorError as exc:
                log.warning("salesforce_related_write_failed", error=str(exc))
                codes.update({(e.object_type, e.id): "CALL_FAILED" for e in chunk})
                continue
            for edit, result in zip(chunk, _padded(results, len(chunk)), strict=True):
                codes[(edit.object_type, edit.id)] = _code(result, delete)

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


def _padded(results: Iterable[Mapping[str, Any]], size: int) -> list[Mapping[str, Any]]:
    listed = list(results)[:size]
    return listed + [{"success": False, "errors": [{"statusCode": "NO_RESULT"}]}] * (size - len(listed))


def _code(result: Mapping[str, Any], delete: bool) -> str | None:
    if result.get("success"):
        return None
    errors = result.get("errors") or [{}]
    code = str(errors[0].get("statusCode") or errors[0].get("errorCode") or "UNKNOWN")
    return None if delete and code == ALREADY_DELETED else code
