"""The fake portal's engagements (notes, emails, calls, meetings, tasks) and their associations to contacts.

Served by `fakes.hubspot.FakeHubSpot` through the generic CRM objects batch endpoints and the associations v4 batch
read. Faithful to the documented API where gomme relies on it (docs/related-records.md, "HubSpot"); where the
documentation is silent, the choice is written here:
- objects batch read / update / archive: at most 100 inputs; read and update answer 207 with `errors[].context.ids`
  for missing (or archived) ids; an update naming an unknown or read-only property fails the whole batch (400
  VALIDATION_ERROR, HubSpot's per-property JSON in the message), a duplicated id too; "" clears a property;
  archive answers 204 whatever the ids and moves the engagement to the recycling bin (`archived`), its
  associations hidden from reads.
- associations v4 batch read (`/crm/v4/associations/{from}/{to}/batch/read`): at most 1,000 inputs (400 beyond,
  the changelog of 10 February 2025); a result per id that has associations, `to[].toObjectId` a number, at most
  `page_size` of them with `paging.next.after` for the next page of that id (the size is undocumented: 500 here,
  smaller in tests); an id with none is among the 207's errors (category OBJECT_NOT_FOUND, subCategory
  crm.associations.NO_ASSOCIATIONS_FOUND: the shape is not documented).
- a withheld scope (`withheld`): every call touching that object answers 403 MISSING_SCOPES; an object type the
  portal lacks answers 404.
- deleting a contact (archive or GDPR delete) removes its associations, never its engagements (the knowledge base:
  activities are "unassociated" from the deleted record).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fakes.hubspot_search import MAX_BATCH, PortalError

MAX_ASSOCIATION_INPUTS = 1_000
KINDS: dict[str, str] = {"notes": "NOTE", "emails": "EMAIL", "calls": "CALL", "meetings": "MEETING", "tasks": "TASK"}
WRITABLE: dict[str, frozenset[str]] = {
    "notes": frozenset({"hs_note_body", "hs_timestamp"}),
    "emails": frozenset({"hs_email_subject", "hs_email_text", "hs_email_html", "hs_email_headers", "hs_timestamp",
                         "hs_email_direction", "hs_email_status"}),
    "calls": frozenset({"hs_call_title", "hs_call_body", "hs_timestamp", "hs_call_to_number"}),
    "meetings": frozenset({"hs_meeting_title", "hs_meeting_body", "hs_internal_meeting_notes", "hs_timestamp"}),
    "tasks": frozenset({"hs_task_subject", "hs_task_body", "hs_timestamp", "hs_task_status"}),
}  # fmt: skip
READ_ONLY = frozenset({"hs_object_id", "hs_createdate", "hs_lastmodifieddate", "hs_email_to_email"})


@dataclass(slots=True)
class Engagement:
    kind: str
    id: int
    properties: dict[str, str]


@dataclass
class EngagementStore:
    """Engagements by object and id, their contacts, and what a test withholds from the app."""

    page_size: int = 500  # associations per id per page
    live: dict[str, dict[int, Engagement]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    archived: dict[str, dict[int, Engagement]] = field(default_factory=lambda: {kind: {} for kind in KINDS})
    # The associations, indexed both ways: (kind, contact id) → engagement ids, (kind, engagement id) → contact ids.
    by_contact: defaultdict[tuple[str, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    by_engagement: defaultdict[tuple[str, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    withheld: set[str] = field(default_factory=set)  # objects the app has no scope for: 403
    _next: itertools.count[int] = field(default_factory=lambda: itertools.count(50_001))

    # -- seeding and inspection (tests call these directly) -----------------------------------------------------

    def add(self, kind: str, contacts: Iterable[str | int], **properties: str) -> str:
        """An engagement of `kind` associated with `contacts` (their ids); returns its id."""
        engagement = Engagement(kind, next(self._next), {name: value for name, value in properties.items() if value})
        self.live[kind][engagement.id] = engagement
        for contact in contacts:
            self.by_contact[(kind, int(contact))].add(engagement.id)
            self.by_engagement[(kind, engagement.id)].add(int(contact))
        return str(engagement.id)

    def get(self, kind: str, engagement_id: str | int) -> dict[str, str] | None:
        """A live engagement's properties (a copy), or None once archived or unknown."""
        found = self.live[kind].get(int(engagement_id))
        return None if found is None else dict(found.properties)

    def contacts_of(self, kind: str, engagement_id: str | int) -> list[str]:
        return sorted(str(contact) for contact in self.by_engagement.get((kind, int(engagement_id)), ()))

    def texts(self, *, recycled: bool = False) -> list[str]:
        """Every property value of every live engagement (and, with `recycled`, of the archived ones)."""
        stores = (*self.live.values(), *(self.archived.values() if recycled else ()))
        return [value for store in stores for engagement in store.values() for value in engagement.properties.values()]

    def unlink_contact(self, contact_id: int) -> None:
        """A contact deleted (archived or GDPR-deleted): its associations go, its engagements stay."""
        for kind in KINDS:
            for engagement_id in self.by_contact.pop((kind, contact_id), set()):
                self.by_engagement[(kind, engagement_id)].discard(contact_id)

    # -- API ------------------------------------------------------------------------------------------------------

    def batch_read(self, kind: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        self._check(kind)
        inputs, properties = _inputs(body, MAX_BATCH), [str(name) for name in body.get("properties") or ()]
        results, missing = [], []
        for item in inputs:
            found = self._live(kind, item.get("id"))
            if found is None:
                missing.append(str(item.get("id")))
            else:
                results.append(_public(found, properties))
        return _answer(kind, results, missing)

    def batch_update(self, kind: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        self._check(kind)
        inputs = _inputs(body, MAX_BATCH)
        if len({str(item.get("id")) for item in inputs}) != len(inputs):
            raise PortalError(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input")
        for item in inputs:
            for name in item.get("properties") or {}:
                if name in READ_ONLY or name not in WRITABLE[kind]:
                    code = "READ_ONLY_VALUE" if name in READ_ONLY else "PROPERTY_DOESNT_EXIST"
                    raise PortalError(400, "VALIDATION_ERROR", _invalid(name, code))
        results, missing = [], []
        for item in inputs:
            found = self._live(kind, item.get("id"))
            if found is None:
                missing.append(str(item.get("id")))
                continue
            for name, value in (item.get("properties") or {}).items():
                if value in (None, ""):
                    found.properties.pop(name, None)
                else:
                    found.properties[name] = str(value)
            results.append(_public(found, list(item.get("properties") or {})))
        return _answer(kind, results, missing)

    def batch_archive(self, kind: str, body: Mapping[str, Any]) -> None:
        self._check(kind)
        for item in _inputs(body, MAX_BATCH):
            found = self._live(kind, item.get("id"))
            if found is not None:
                self.archived[kind][found.id] = self.live[kind].pop(found.id)

    def associations(self, from_type: str, to_type: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """`POST /crm/v4/associations/{from}/{to}/batch/read` between contacts and an engagement object."""
        if "contacts" not in (from_type, to_type) or from_type == to_type:
            raise PortalError(400, "VALIDATION_ERROR", f"Unsupported association {from_type} -> {to_type}")
        kind = to_type if from_type == "contacts" else from_type
        self._check(kind)
        results, errors = [], []
        for item in _inputs(body, MAX_ASSOCIATION_INPUTS):
            record_id = str(item.get("id", ""))
            targets = self._targets(kind, from_type == "contacts", record_id)
            start = int(str(item.get("after") or "0"))
            page = targets[start : start + self.page_size]
            if not page:
                errors.append(_no_associations(from_type, to_type, record_id))
                continue
            result: dict[str, Any] = {
                "from": {"id": record_id},
                "to": [{"toObjectId": target, "associationTypes": [_TYPE[kind, to_type]]} for target in page],
            }
            if start + self.page_size < len(targets):
                after = str(start + self.page_size)
                result["paging"] = {"next": {"after": after, "link": None}}
            results.append(result)
        return (207 if errors else 200), _body(results, errors)

    # -- internals ----------------------------------------------------------------------------------------------

    def _check(self, kind: str) -> None:
        if kind not in KINDS:
            raise PortalError(404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {kind}")
        if kind in self.withheld:
            raise MissingScopes(kind)

    def _live(self, kind: str, record_id: Any) -> Engagement | None:
        text = str(record_id or "")
        return self.live[kind].get(int(text)) if text.isdigit() else None

    def _targets(self, kind: str, from_contact: bool, record_id: str) -> list[int]:
        if not record_id.isdigit():
            return []
        wanted = int(record_id)
        if from_contact:
            return sorted(e for e in self.by_contact.get((kind, wanted), ()) if e in self.live[kind])
        if wanted not in self.live[kind]:
            return []
        return sorted(self.by_engagement.get((kind, wanted), ()))


class MissingScopes(PortalError):
    """HubSpot's answer to a call the app has no scope for."""

    def __init__(self, kind: str) -> None:
        super().__init__(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call.")
        self.kind = kind

    def body(self) -> dict[str, Any]:
        scope = "sales-email-read" if self.kind == "emails" else "crm.objects.contacts.read"
        return {**super().body(), "errors": [{"message": "One or more of the following scopes are required.",
                                              "context": {"requiredGranularScopes": [scope]}}]}  # fmt: skip


_TYPE = {
    **{(kind, "contacts"): {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
       for kind, type_id in (("notes", 202), ("emails", 198), ("calls", 194), ("meetings", 200), ("tasks", 204))},
    **{(kind, kind): {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
       for kind, type_id in (("notes", 201), ("emails", 197), ("calls", 193), ("meetings", 199), ("tasks", 203))},
}  # fmt: skip


def _inputs(body: Mapping[str, Any], limit: int) -> list[Mapping[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, Mapping) else None
    if not isinstance(inputs, list) or not all(isinstance(item, Mapping) for item in inputs):
        raise PortalError(400, "VALIDATION_ERROR", "inputs is required")
    if len(inputs) > limit:
        raise PortalError(400, "VALIDATION_ERROR", f"Batch input limit is {limit}")
    return inputs


def _public(engagement: Engagement, properties: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {name: engagement.properties.get(name) for name in properties}
    values["hs_object_id"] = str(engagement.id)
    return {"id": str(engagement.id), "properties": values, "archived": False,
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z"}  # fmt: skip


def _answer(kind: str, results: list[dict[str, Any]], missing: list[str]) -> tuple[int, dict[str, Any]]:
    if not missing:
        return 200, _body(results, [])
    message = f"Could not get some {KINDS[kind]} objects, they may be deleted or not exist. Check that ids are valid."
    return 207, _body(results, [PortalError(404, "OBJECT_NOT_FOUND", message, missing).body()])


def _no_associations(from_type: str, to_type: str, record_id: str) -> dict[str, Any]:
    return {"status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
            "context": {"fromObjectId": [record_id]},
            "message": f"No {to_type} is associated with {from_type} {record_id}."}  # fmt: skip


def _body(results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": "2024-01-01T00:00:00.000Z",
                            "completedAt": "2024-01-01T00:00:00.000Z"}  # fmt: skip
    if errors:
        body["numErrors"], body["errors"] = len(errors), errors
    return body


def _invalid(name: str, code: str) -> str:
    return (f'Property values were not valid: [{{"isValid":false,"message":"{name} cannot be set","error":"{code}",'
            f'"name":"{name}"}}]')  # fmt: skip
