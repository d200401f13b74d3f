"""The state and semantics of a fake HubSpot portal (contacts, properties, subscriptions), without HTTP.

Served over HTTP by `fakes.hubspot.FakeHubSpot`. Faithful to the documented API where gomme relies on it
(docs/crm-apis.md part B); where the documentation is silent or conflicting, the choice is written here:
- search: at most 5 filter groups, 6 filters per group and 18 in all (the stricter documented pair),
  `limit` ≤ 200, 400 when `after + limit` > 10,000 (`search_cap`), one sort; NEQ does not match
  contacts without a value (so a client must ask for NOT_HAS_PROPERTY itself); string EQ/IN ignore case.
- batch endpoints: ≤ 100 inputs; read/update answer 207 with `errors[].context.ids` for missing ids;
  an update setting a read-only or unknown property fails the whole batch (400 VALIDATION_ERROR),
  an email used by another contact fails it with 409 CONFLICT; archive answers 204 whatever the ids.
- gdpr-delete deletes the contact and blocklists its email (by `idProperty=email`, an unknown address
  is blocklisted too); creating a contact, or setting an email, that is blocklisted fails with 400.
- lastmodifieddate moves only when a value changes; "" clears a property.
- engagements and their associations: `fakes.hubspot_engagements` (a deleted contact loses its associations only).
- communication preferences: a v3 status response lists only the explicit statuses of the address;
  unsubscribing an address already NOT_SUBSCRIBED answers 400. Statuses are stored in v3's words
  (SUBSCRIBED / NOT_SUBSCRIBED), each with its legal basis, explanation, source and time. With GDPR features
  on (`gdpr`, the default: gomme's portals are EU ones, docs/real-orgs.md §8) a v3 write without `legalBasis` and
  `legalBasisExplanation` answers 400 VALIDATION_ERROR ("required for GDPR enabled portals" per the reference;
  the message is ours).
- communication preferences v4 (batch): a read lists every subscription type for each address, those
  without an explicit status as NOT_SPECIFIED, in v4's words (SUBSCRIBED / UNSUBSCRIBED / NOT_SPECIFIED),
  with `subscriptionId` a number; ≤ 100 inputs (the documentation states no maximum: the CRM batch limit);
  an input that is not an email address, or one in `v4_rejected`, fails alone (207 with `errors`).
  Unsubscribe-all sets every type NOT_SUBSCRIBED and marks the address opted out portal-wide (a v3 read
  then says PORTAL_WIDE_STATUS); doing it again changes nothing (NO_STATUS_CHANGE), never a 400.
  Batch write (`statuses/batch/write`, no query string): ≤ 100 inputs `{subscriberIdString, subscriptionId,
  channel, statusState, legalBasis, legalBasisExplanation}`, each applied alone; an input with a bad address,
  channel, state, type or legal basis (or, in a GDPR portal, none) fails alone (207 with `errors` naming the
  address in `context.ids`); writing the status an address already has changes nothing and answers
  NO_STATUS_CHANGE (its legal basis, explanation and time stay), never an error. Whether v4 requires the basis
  in GDPR portals is not documented: the fake asks for it as v3 does.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fakes.hubspot_engagements import EngagementStore
from fakes.hubspot_search import (
    DEFAULT_LIST_PROPERTIES,
    MAX_BATCH,
    MAX_LIST_LIMIT,
    SEARCH_CAP,
    PortalError,
    iso,
    run_search,
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class PropertyDef:
    name: str
    type: str = "string"
    read_only: bool = False


STANDARD_PROPERTIES: tuple[PropertyDef, ...] = (
    *(PropertyDef(name) for name in (
        "email", "firstname", "lastname", "phone", "mobilephone", "country", "date_of_birth", "message",
        "address", "city", "state", "zip", "jobtitle", "company", "website",
    )),
    PropertyDef("lifecyclestage", "enumeration"),
    PropertyDef("hs_legal_basis", "enumeration"),
    PropertyDef("hs_object_id", "number", read_only=True),
    PropertyDef("createdate", "datetime", read_only=True),
    PropertyDef("lastmodifieddate", "datetime", read_only=True),
    PropertyDef("notes_last_contacted", "datetime", read_only=True),
    PropertyDef("hs_last_sales_activity_timestamp", "datetime", read_only=True),
    PropertyDef("hs_email_optout", "bool", read_only=True),
)  # fmt: skip


@dataclass(slots=True)
class Contact:
    id: int
    properties: dict[str, str]
    created: str
    updated: str


@dataclass(frozen=True, slots=True)
class StatusDetail:
    """What HubSpot keeps with an explicit status besides its value (v4 shows them all, v3 the basis)."""

    legal_basis: str | None = None
    explanation: str | None = None
    timestamp: str | None = None
    source: str | None = None


V3_TO_V4 = {"SUBSCRIBED": "SUBSCRIBED", "NOT_SUBSCRIBED": "UNSUBSCRIBED"}
LEGAL_BASES = frozenset({
    "LEGITIMATE_INTEREST_PQL", "LEGITIMATE_INTEREST_CLIENT", "PERFORMANCE_OF_CONTRACT", "CONSENT_WITH_NOTICE",
    "NON_GDPR", "PROCESS_AND_STORE", "LEGITIMATE_INTEREST_OTHER",
})  # fmt: skip
V4_TO_V3 = {"SUBSCRIBED": "SUBSCRIBED", "UNSUBSCRIBED": "NOT_SUBSCRIBED", "NOT_SUBSCRIBED": "NOT_SUBSCRIBED"}


@dataclass
class Portal:
    """Contacts by id (ids grow), a property schema, subscription types and per-address statuses."""

    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    search_cap: int = SEARCH_CAP
    contacts: dict[int, Contact] = field(default_factory=dict)
    archived: dict[int, Contact] = field(default_factory=dict)
    blocklist: set[str] = field(default_factory=set)
    properties: dict[str, PropertyDef] = field(default_factory=lambda: {p.name: p for p in STANDARD_PROPERTIES})
    definitions: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": "101", "name": "Newsletter", "purpose": "Marketing"},
        {"id": "102", "name": "Product updates", "purpose": "Marketing"},
        {"id": "103", "name": "One to one", "purpose": "Sales"},
    ])  # fmt: skip
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # address → type id → v3 status
    status_details: dict[str, dict[str, StatusDetail]] = field(default_factory=dict)
    opted_out_all: set[str] = field(default_factory=set)  # addresses unsubscribed from all email (portal-wide)
    v4_rejected: set[str] = field(default_factory=set)  # addresses the v4 batch endpoints fail, one by one
    gdpr: bool = True  # GDPR features on: status writes need a legal basis and its explanation
    engagements: EngagementStore = field(default_factory=EngagementStore)  # notes, emails, calls, meetings, tasks
    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: list[int] = field(default_factory=list)
    _emails: dict[str, int] = field(default_factory=dict)
    _next: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    # -- seeding and inspection (tests call these directly) -------------------------------------------------

    def define(self, name: str, type_: str = "string", *, read_only: bool = False) -> None:
        self.properties[name] = PropertyDef(name, type_, read_only)

    def add(self, **properties: Any) -> str:
        """A contact as an import would create it (read-only values such as hs_email_optout may be seeded)."""
        with self.lock:
            stored = {name: text for name, value in properties.items() if (text := _stored(value)) is not None}
            return self._create(stored, seeded=True)

    def add_many(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        return [self.add(**row) for row in rows]

    def get(self, record_id: str | int) -> dict[str, str] | None:
        """The stored properties of a live contact (a copy), or None."""
        with self.lock:
            contact = self.contacts.get(int(record_id))
            return None if contact is None else dict(contact.properties)

    def set_status(
        self,
        email: str,
        subscription_id: str,
        status: str,
        legal_basis: str | None = None,
        explanation: str | None = None,
        at: dt.datetime | None = None,
        *,
        source: str | None = "IMPORT",
    ) -> None:
        """An explicit status, in v3's or v4's words; NOT_SPECIFIED removes it. Timestamped now unless `at`."""
        key = email.strip().lower()
        with self.lock:
            if status == "NOT_SPECIFIED":
                self.statuses.get(key, {}).pop(subscription_id, None)
                self.status_details.get(key, {}).pop(subscription_id, None)
                return
            self.statuses.setdefault(key, {})[subscription_id] = V4_TO_V3[status]
            if status == "SUBSCRIBED":
                self.opted_out_all.discard(key)
            stamp = iso(at or self.clock())
            detail = StatusDetail(legal_basis, explanation, stamp, source)
            self.status_details.setdefault(key, {})[subscription_id] = detail

    def status_of(self, email: str) -> dict[str, str]:
        with self.lock:
            return dict(self.statuses.get(email.strip().lower(), {}))

    # -- contacts API ------------------------------------------------------------------------------------------

    def list_page(self, limit: int, after: str | None, properties: list[str]) -> dict[str, Any]:
        if limit > MAX_LIST_LIMIT or limit < 1:
            raise PortalError(400, "VALIDATION_ERROR", f"limit must be between 1 and {MAX_LIST_LIMIT}")
        with self.lock:
            start = bisect.bisect_left(self.ids, int(after)) if after else 0
            ids = self.ids[start : start + limit + 1]
            page = [self.public(self.contacts[i], properties or DEFAULT_LIST_PROPERTIES) for i in ids[:limit]]
        body: dict[str, Any] = {"results": page}
        if len(ids) > limit:
            body["paging"] = {"next": {"after": str(ids[limit]), "link": "?after=" + str(ids[limit])}}
        return body

    def read_one(self, record_id: str, properties: list[str]) -> dict[str, Any]:
        with self.lock:
            contact = self.contacts.get(int(record_id)) if record_id.isdigit() else None
            if contact is None:
                raise PortalError(404, "OBJECT_NOT_FOUND", "resource not found")
            return self.public(contact, properties or DEFAULT_LIST_PROPERTIES)

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            properties = {k: v for k, v in ((k, _stored(v)) for k, v in body.get("properties", {}).items()) if v}
            self._check_writable(properties)
            return self.public(self.contacts[int(self._create(properties))], list(properties))

    def batch_create(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs = _inputs(body)
        results, errors = [], []
        for item in inputs:
            try:
                results.append(self.create(item))
            except PortalError as error:
                errors.append({**error.body(), "status": "error"})
        return (201 if not errors else 207), _batch_body(results, errors)

    def batch_read(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs, properties = _inputs(body), list(body.get("properties") or ())
        with self.lock:
            found = [
                self.contacts[int(i["id"])]
                for i in inputs
                if str(i.get("id", "")).isdigit() and int(i["id"]) in self.contacts
            ]
            missing = [str(i.get("id")) for i in inputs if str(i.get("id", "")) not in {str(c.id) for c in found}]
            results = [self.public(contact, properties or DEFAULT_LIST_PROPERTIES) for contact in found]
        return _with_missing(results, missing)

    def batch_update(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        inputs = _inputs(body)
        if len({str(i.get("id")) for i in inputs}) != len(inputs):
            raise PortalError(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input")
        with self.lock:
            changes = [
                (str(i.get("id")), {k: _stored(v) for k, v in (i.get("properties") or {}).items()}) for i in inputs
            ]
            for _, properties in changes:
                self._check_writable(properties)
            live = [(int(i), p) for i, p in changes if i.isdigit() and int(i) in self.contacts]
            for record_id, properties in live:
                self._check_email(properties.get("email"), record_id)
            results = [self.public(self._update(record_id, p), list(p)) for record_id, p in live]
            missing = [i for i, _ in changes if not (i.isdigit() and int(i) in self.contacts)]
        return _with_missing(results, missing)

    def batch_archive(self, body: Mapping[str, Any]) -> None:
        with self.lock:
            for item in _inputs(body):
                record_id = str(item.get("id", ""))
                if record_id.isdigit() and int(record_id) in self.contacts:
                    self.archived[int(record_id)] = self._remove(int(record_id))

    def gdpr_delete(self, body: Mapping[str, Any]) -> None:
        object_id, id_property = str(body.get("objectId") or ""), body.get("idProperty")
        with self.lock:
            if id_property == "email":
                email = object_id.strip().lower()
                self.blocklist.add(email)  # found or not, the address can never come back
                found = self._emails.get(email)
                if found is not None:
                    self._remove(found)
                return
            if not object_id.isdigit() or int(object_id) not in self.contacts:
                raise PortalError(404, "OBJECT_NOT_FOUND", "resource not found")
            address = self.contacts[int(object_id)].properties.get("email")
            if address:
                self.blocklist.add(address.lower())
            self._remove(int(object_id))

    def search(self, body: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            return run_search(self, body)

    def property_defs(self) -> dict[str, Any]:
        return {"results": [
            {"name": p.name, "label": p.name, "type": p.type, "fieldType": "text", "groupName": "contactinformation",
             "modificationMetadata": {"archivable": True, "readOnlyDefinition": p.read_only,
                                      "readOnlyValue": p.read_only}}
            for p in self.properties.values()
        ]}  # fmt: skip

    # -- communication preferences -----------------------------------------------------------------------------

    def definitions_page(self) -> dict[str, Any]:
        return {"subscriptionDefinitions": [
            {**d, "description": d["name"], "communicationMethod": "Email", "isActive": True, "isDefault": False,
             "isInternal": False, "createdAt": "2020-01-01T00:00:00.000Z", "updatedAt": "2020-01-01T00:00:00.000Z"}
            for d in self.definitions
        ]}  # fmt: skip

    def email_status(self, email: str) -> dict[str, Any]:
        with self.lock:
            key = email.strip().lower()
            known = self.statuses.get(key, {})
            return {"recipient": email, "subscriptionStatuses": [
                self._status_body(key, definition, known[definition["id"]])
                for definition in self.definitions if definition["id"] in known
            ]}  # fmt: skip

    def change_status(self, body: Mapping[str, Any], status: str) -> dict[str, Any]:
        email, subscription = str(body.get("emailAddress") or ""), str(body.get("subscriptionId") or "")
        definition = next((d for d in self.definitions if d["id"] == subscription), None)
        if not email or definition is None:
            raise PortalError(400, "VALIDATION_ERROR", "emailAddress and a valid subscriptionId are required")
        if self.gdpr and not (body.get("legalBasis") and body.get("legalBasisExplanation")):
            raise PortalError(400, "VALIDATION_ERROR", "legalBasis and legalBasisExplanation are required")
        if body.get("legalBasis") is not None and body.get("legalBasis") not in LEGAL_BASES:
            raise PortalError(400, "VALIDATION_ERROR", f"Invalid legalBasis: {body.get('legalBasis')}")
        with self.lock:
            key = email.strip().lower()
            known = self.statuses.setdefault(key, {})
            if known.get(subscription) == status:
                verb = "unsubscribed from" if status == "NOT_SUBSCRIBED" else "subscribed to"
                raise PortalError(400, "VALIDATION_ERROR", f"{email} is already {verb} subscription {subscription}")
            known[subscription] = status
            detail = StatusDetail(body.get("legalBasis"), body.get("legalBasisExplanation"), iso(self.clock()), "API")
            self.status_details.setdefault(key, {})[subscription] = detail
            if status == "SUBSCRIBED":
                self.opted_out_all.discard(key)
            return self._status_body(key, definition, status)

    # -- communication preferences v4 (batch) ------------------------------------------------------------------

    def batch_statuses(self, body: Any, channel: str | None) -> tuple[int, dict[str, Any]]:
        """`POST /communication-preferences/v4/statuses/batch/read?channel=EMAIL`: every type, per address."""
        addresses = self._v4_inputs(body, channel)
        results, errors = [], []
        with self.lock:
            for address in addresses:
                if self._v4_refuses(address):
                    errors.append(self._v4_error(address))
                    continue
                key = str(address).strip().lower()
                statuses = [self._v4_status(key, definition) for definition in self.definitions]
                results.append({"subscriberIdString": key, "statuses": statuses})
        return (207 if errors else 200), _batch_body(results, errors)

    def batch_unsubscribe_all(self, body: Any, channel: str | None) -> tuple[int, dict[str, Any]]:
        """`POST /communication-preferences/v4/statuses/batch/unsubscribe-all?channel=EMAIL`: idempotent."""
        addresses = self._v4_inputs(body, channel)
        results, errors = [], []
        with self.lock:
            for address in addresses:
                if self._v4_refuses(address):
                    errors.append(self._v4_error(address))
                    continue
                key = str(address).strip().lower()
                known = self.statuses.setdefault(key, {})
                details = self.status_details.setdefault(key, {})
                changed = key not in self.opted_out_all or any(
                    known.get(d["id"]) != "NOT_SUBSCRIBED" for d in self.definitions
                )
                stamp = iso(self.clock())
                for definition in self.definitions:
                    if known.get(definition["id"]) != "NOT_SUBSCRIBED":
                        known[definition["id"]] = "NOT_SUBSCRIBED"
                        details[definition["id"]] = StatusDetail(timestamp=stamp, source="API")
                self.opted_out_all.add(key)
                reason = "REQUESTED_CHANGE_OCCURRED" if changed else "NO_STATUS_CHANGE"
                statuses = [{**self._v4_status(key, d), "setStatusSuccessReason": reason} for d in self.definitions]
                results.append({"subscriberIdString": key, "statuses": statuses})
        return (207 if errors else 200), _batch_body(results, errors)

    def batch_write(self, body: Any) -> tuple[int, dict[str, Any]]:
        """`POST /communication-preferences/v4/statuses/batch/write`: each input alone; idempotent."""
        inputs = list(_inputs(body if isinstance(body, Mapping) else {}))
        results, errors = [], []
        with self.lock:
            for raw in inputs:
                item: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
                address = item.get("subscriberIdString")
                definition = next((d for d in self.definitions if d["id"] == str(item.get("subscriptionId"))), None)
                problem = self._v4_write_problem(item, definition)
                if problem is not None or definition is None:
                    errors.append(self._v4_error(address, problem or "Invalid subscriptionId"))
                    continue
                key = str(address).strip().lower()
                wanted = V4_TO_V3.get(str(item["statusState"]))  # None: NOT_SPECIFIED
                current = self.statuses.get(key, {}).get(definition["id"])
                reason = "NO_STATUS_CHANGE"
                if current != wanted:
                    reason = "RESUBSCRIBE_OCCURRED" if current == "NOT_SUBSCRIBED" else "REQUESTED_CHANGE_OCCURRED"
                    if wanted is None:
                        self.statuses.get(key, {}).pop(definition["id"], None)
                        self.status_details.get(key, {}).pop(definition["id"], None)
                    else:
                        self.statuses.setdefault(key, {})[definition["id"]] = wanted
                        detail = StatusDetail(
                            item.get("legalBasis"), item.get("legalBasisExplanation"), iso(self.clock()), "API"
                        )
                        self.status_details.setdefault(key, {})[definition["id"]] = detail
                        if wanted == "SUBSCRIBED":
                            self.opted_out_all.discard(key)
                results.append({**self._v4_status(key, definition), "setStatusSuccessReason": reason})
        return (207 if errors else 200), _batch_body(results, errors)

    def _v4_write_problem(self, item: Mapping[str, Any], definition: Mapping[str, Any] | None) -> str | None:
        address = item.get("subscriberIdString")
        if self._v4_refuses(address):
            return f"Invalid subscriber: {address}"
        if item.get("channel") != "EMAIL":
            return "channel is required and must be EMAIL"
        if item.get("statusState") not in ("SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED"):
            return "statusState must be SUBSCRIBED, UNSUBSCRIBED or NOT_SPECIFIED"
        if definition is None or not isinstance(item.get("subscriptionId"), int):
            return "subscriptionId must be the id (a number) of a subscription type"
        basis = item.get("legalBasis")
        if basis is not None and basis not in LEGAL_BASES:
            return f"Invalid legalBasis: {basis}"
        explained = bool(basis and item.get("legalBasisExplanation"))
        if self.gdpr and item.get("statusState") != "NOT_SPECIFIED" and not explained:
            return "legalBasis and legalBasisExplanation are required"
        return None

    def _v4_inputs(self, body: Any, channel: str | None) -> list[Any]:
        if channel != "EMAIL":
            raise PortalError(400, "VALIDATION_ERROR", "channel is required and must be EMAIL")
        return list(_inputs(body if isinstance(body, Mapping) else {}))

    def _v4_refuses(self, address: Any) -> bool:
        return not (isinstance(address, str) and _EMAIL.fullmatch(address.strip())) or (
            address.strip().lower() in self.v4_rejected
        )

    @staticmethod
    def _v4_error(address: Any, message: str | None = None) -> dict[str, Any]:
        error = PortalError(400, "VALIDATION_ERROR", message or f"Invalid subscriber: {address}", [str(address)])
        return {**error.body(), "status": "error"}

    def _v4_status(self, key: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        status = self.statuses.get(key, {}).get(definition["id"])
        detail = self.status_details.get(key, {}).get(definition["id"]) or StatusDetail()
        return {
            "subscriberIdString": key,
            "subscriptionId": int(definition["id"]),
            "subscriptionName": definition["name"],
            "channel": "EMAIL",
            "status": V3_TO_V4.get(status or "", "NOT_SPECIFIED"),
            "source": detail.source if status else None,
            "legalBasis": detail.legal_basis if status else None,
            "legalBasisExplanation": detail.explanation if status else None,
            "setStatusSuccessReason": None,
            "timestamp": detail.timestamp if status else None,
            "businessUnitId": 0,
        }

    # -- internals ---------------------------------------------------------------------------------------------

    def _create(self, properties: dict[str, str], *, seeded: bool = False) -> str:
        email = properties.get("email")
        if email and email.lower() in self.blocklist:
            raise PortalError(400, "VALIDATION_ERROR", f"{email} was permanently deleted (GDPR) and is blocklisted")
        if email and email.lower() in self._emails:
            raise PortalError(409, "CONFLICT", f"Contact already exists. Existing ID: {self._emails[email.lower()]}")
        record_id = next(self._next)
        now = iso(self.clock())
        created = properties.get("createdate", now) if seeded else now
        stored = {**properties, "hs_object_id": str(record_id), "createdate": created, "lastmodifieddate": now}
        if seeded and "lastmodifieddate" in properties:
            stored["lastmodifieddate"] = properties["lastmodifieddate"]
        contact = Contact(record_id, stored, created, stored["lastmodifieddate"])
        self.contacts[record_id] = contact
        self.ids.append(record_id)
        if email:
            self._emails[email.lower()] = record_id
        return str(record_id)

    def _update(self, record_id: int, properties: Mapping[str, str | None]) -> Contact:
        contact = self.contacts[record_id]
        changed = False
        for name, value in properties.items():
            if contact.properties.get(name) != value:
                changed = True
                if name == "email":
                    old = contact.properties.get("email")
                    if old:
                        self._emails.pop(old.lower(), None)
                    if value:
                        self._emails[value.lower()] = record_id
                if value is None:
                    contact.properties.pop(name, None)
                else:
                    contact.properties[name] = value
        if changed:
            contact.updated = contact.properties["lastmodifieddate"] = iso(self.clock())
        return contact

    def _remove(self, record_id: int) -> Contact:
        """Archived or GDPR-deleted: the contact goes, and its associations; its engagements stay."""
        contact = self.contacts.pop(record_id)
        self.engagements.unlink_contact(record_id)
        del self.ids[bisect.bisect_left(self.ids, record_id)]
        email = contact.properties.get("email")
        if email:
            self._emails.pop(email.lower(), None)
        return contact

    def _check_writable(self, properties: Mapping[str, Any]) -> None:
        for name in properties:
            definition = self.properties.get(name)
            # HubSpot's shape: the per-property verdicts as JSON inside the message (error code and name).
            if definition is None:
                raise PortalError(
                    400,
                    "VALIDATION_ERROR",
                    _invalid(name, "PROPERTY_DOESNT_EXIST", f'Property \\"{name}\\" does not exist'),
                )
            if definition.read_only:
                raise PortalError(
                    400, "VALIDATION_ERROR", _invalid(name, "READ_ONLY_VALUE", f"{name} is a read only property")
                )

    def _check_email(self, email: str | None, record_id: int) -> None:
        if not email:
            return
        if email.lower() in self.blocklist:
            raise PortalError(400, "VALIDATION_ERROR", f"{email} was permanently deleted (GDPR) and is blocklisted")
        owner = self._emails.get(email.lower())
        if owner is not None and owner != record_id:
            raise PortalError(409, "CONFLICT", f"Contact already exists. Existing ID: {owner}")

    def public(self, contact: Contact, properties: Iterable[str]) -> dict[str, Any]:
        values = {name: contact.properties.get(name) for name in properties}
        values["hs_object_id"] = str(contact.id)
        return {
            "id": str(contact.id),
            "properties": values,
            "createdAt": contact.created,
            "updatedAt": contact.updated,
            "archived": False,
        }

    def _status_body(self, key: str, definition: Mapping[str, Any], status: str) -> dict[str, Any]:
        detail = self.status_details.get(key, {}).get(definition["id"]) or StatusDetail()
        wide = key in self.opted_out_all and status == "NOT_SUBSCRIBED"
        return {
            "id": definition["id"],
            "name": definition["name"],
            "description": definition["name"],
            "status": status,
            "sourceOfStatus": "PORTAL_WIDE_STATUS" if wide else "SUBSCRIPTION_STATUS",
            "preferenceGroupName": None,
            "legalBasis": detail.legal_basis,
            "legalBasisExplanation": detail.explanation,
        }


def _stored(value: Any) -> str | None:
    """How HubSpot keeps a value: text; "" or None clears it; booleans as "true"/"false"; dates ISO."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _inputs(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise PortalError(400, "VALIDATION_ERROR", "inputs is required")
    if len(inputs) > MAX_BATCH:
        raise PortalError(400, "VALIDATION_ERROR", f"Batch input limit is {MAX_BATCH}")
    return inputs


def _batch_body(results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    now = iso(dt.datetime.now(dt.UTC))
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "requestedAt": now,
        "startedAt": now,
        "completedAt": now,
    }
    if errors:
        body["numErrors"], body["errors"] = len(errors), errors
    return body


def _with_missing(results: list[dict[str, Any]], missing: list[str]) -> tuple[int, dict[str, Any]]:
    if not missing:
        return 200, _batch_body(results, [])
    error = PortalError(
        404,
        "OBJECT_NOT_FOUND",
        "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
        missing,
    )
    return 207, _batch_body(results, [error.body()])


def _invalid(name: str, code: str, text: str) -> str:
    return (
        f'Property values were not valid: [{{"isValid":false,"message":"{text}","error":"{code}",'
        f'"name":"{name}","localizedErrorMessage":"{text}"}}]'
    )
