"""A contact's engagements (notes, emails, calls, meetings, tasks), read beside the contacts in batches.

Two steps. `links`, for up to 1,000 contacts (the associations batch read's limit): per engagement object, one
associations v4 batch read contacts → object (an id's further pages followed with its `after`) and one back
(object → contacts, 1,000 ids a call), to count the other contacts each engagement concerns; ids only. Then `page`,
per page of 100 of those contacts: one objects batch read per 100 of their engagements, for the text. So the
association calls grow per 1,000 contacts and only the texts of one page are held at once.

HubSpot does not delete a contact's engagements with it (a delete removes the associations), so `cascades` is
False: erasure deletes or scrubs them itself (docs/related-records.md, "HubSpot"). An object the token may not read
(403) or the portal lacks (404) becomes a RelatedGap on each contact concerned and a notice once; the pull goes on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from gomme.connectors.hubspot.client import Endpoint, HubSpotApiError, Transport
from gomme.model.related import RelatedGap, RelatedRecord

log = structlog.get_logger(__name__)

CONTACTS = "contacts"
ASSOCIATION_BATCH = 1_000  # ids per associations batch read (HubSpot's limit since 10 February 2025)
OBJECT_BATCH = 100  # ids per objects batch read, update or archive
GAP_STATUSES = (403, 404)  # a scope the token lacks, an object the portal lacks: a gap, never a failed pull
EMAIL_SCOPE_HINT = {"emails": " (emails also need sales-email-read)"}


@dataclass(frozen=True, slots=True)
class Links:
    """Per engagement object: each contact's engagement ids, and each engagement's contacts (ids only)."""

    by_contact: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    people: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RelatedPage:
    """The engagements of a page of contacts by contact id, and the objects none of them could be read from."""

    records: Mapping[str, tuple[RelatedRecord, ...]] = field(default_factory=dict)
    gaps: tuple[RelatedGap, ...] = ()


class EngagementReader:
    """Reads the configured engagement objects of contacts; remembers which objects are unreadable."""

    def __init__(
        self, name: str, transport: Transport, objects: Mapping[str, Sequence[str]], *, delete_on_erase: bool
    ) -> None:
        self.name = name
        self._transport = transport
        self._objects = {kind: tuple(properties) for kind, properties in objects.items()}
        self._delete_on_erase = delete_on_erase
        self._unreadable: dict[str, str] = {}  # object → HubSpot's code, asked no more this run

    def read(self, contact_ids: Sequence[str]) -> RelatedPage:
        """Every configured object's engagements of these contacts (a page of at most 100), in one go."""
        return self.page(self.links(contact_ids), contact_ids)

    def links(self, contact_ids: Sequence[str]) -> Links:
        """Which engagements each of these contacts (at most 1,000) has, and whom each engagement concerns."""
        ids = list(dict.fromkeys(contact_ids))
        by_contact: dict[str, dict[str, tuple[str, ...]]] = {}
        people: dict[str, dict[str, frozenset[str]]] = {}
        for kind in self._objects:
            if not ids or kind in self._unreadable:
                continue
            try:
                forward = associated(self._transport, CONTACTS, kind, ids)
                engagement_ids = list(dict.fromkeys(e for targets in forward.values() for e in targets))
                back = associated(self._transport, kind, CONTACTS, engagement_ids) if engagement_ids else {}
            except HubSpotApiError as error:
                self._refused(kind, error)
                continue
            by_contact[kind] = {contact: tuple(dict.fromkeys(targets)) for contact, targets in forward.items()}
            people[kind] = {engagement: frozenset(contacts) for engagement, contacts in back.items()}
        return Links(by_contact, people)

    def page(self, links: Links, contact_ids: Sequence[str]) -> RelatedPage:
        """The engagements of a page of these contacts (at most 100), with their text: one read per 100 of them."""
        ids = list(dict.fromkeys(contact_ids))
        found: dict[str, list[RelatedRecord]] = {}
        gaps: list[RelatedGap] = []
        for kind, properties in self._objects.items():
            mine = {contact: links.by_contact.get(kind, {}).get(contact, ()) for contact in ids}
            engagement_ids = list(dict.fromkeys(e for targets in mine.values() for e in targets))
            objects: Mapping[str, Mapping[str, Any]] = {}
            if engagement_ids and kind not in self._unreadable:
                try:
                    objects = read_objects(self._transport, kind, engagement_ids, properties)
                except HubSpotApiError as error:
                    self._refused(kind, error)
            if kind in self._unreadable:
                gaps.append(RelatedGap(kind, f"not readable: {self._unreadable[kind]}"))
                continue
            for contact in ids:
                for engagement_id in sorted(mine[contact], key=_numeric):
                    values = objects.get(engagement_id)
                    if values is None:
                        continue  # archived between the reads
                    others = links.people.get(kind, {}).get(engagement_id, frozenset()) - {contact}
                    record = RelatedRecord(
                        kind, engagement_id, text_of(values, properties), others=len(others), cascades=False,
                        delete_on_erase=self._delete_on_erase,
                    )  # fmt: skip
                    found.setdefault(contact, []).append(record)
        return RelatedPage({contact: tuple(records) for contact, records in found.items()}, tuple(gaps))

    def notices(self) -> list[str]:
        """Each engagement object HubSpot refused to gomme this run, once, with the scope to grant."""
        return [
            f"connectors.{self.name}: HubSpot {kind} not readable ({code}): erasure cannot reach them and says so "
            f"(pseudonymised); grant the app the read and write scopes of {kind}{EMAIL_SCOPE_HINT.get(kind, '')}"
            for kind, code in self._unreadable.items()
        ]

    def _refused(self, kind: str, error: HubSpotApiError) -> None:
        """A 403 or 404: the object is unreadable for the rest of the run; any other refusal stops the read."""
        if error.status not in GAP_STATUSES:
            raise error
        if kind not in self._unreadable:
            self._unreadable[kind] = error.code
            log.warning("hubspot_engagements_unreadable", connector=self.name, object=kind, code=error.code)


def associated(transport: Transport, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
    """`POST /crm/v4/associations/{from}/{to}/batch/read`: each id's associated ids, every page of them.

    An id with no association comes back among the 207's errors: it simply has none.
    """
    found: dict[str, list[str]] = {}
    pending: list[dict[str, str]] = [{"id": record_id} for record_id in dict.fromkeys(ids)]
    seen: set[tuple[str, str]] = set()
    while pending:
        chunk, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
        for result in _associations_page(transport, from_type, to_type, {"inputs": chunk}):
            from_id = str(_mapping(result.get("from")).get("id"))
            targets = found.setdefault(from_id, [])
            targets.extend(str(to["toObjectId"]) for to in _list(result.get("to")) if to.get("toObjectId") is not None)
            after = _mapping(_mapping(result.get("paging")).get("next")).get("after")
            if after and (from_id, str(after)) not in seen:
                seen.add((from_id, str(after)))
                pending.append({"id": from_id, "after": str(after)})
    return found


def read_objects(
    transport: Transport, kind: str, ids: Sequence[str], properties: Sequence[str]
) -> dict[str, Mapping[str, Any]]:
    """`POST /crm/v3/objects/{kind}/batch/read`, 100 ids a call: id → properties; missing ids are left out."""
    found: dict[str, Mapping[str, Any]] = {}
    for chunk in chunks(list(dict.fromkeys(ids)), OBJECT_BATCH):
        body = {"inputs": [{"id": record_id} for record_id in chunk], "properties": list(properties),
                "propertiesWithHistory": []}  # fmt: skip
        for result in _objects_page(transport, kind, body):
            found[str(result.get("id"))] = _mapping(result.get("properties"))
    return found


def _associations_page(
    transport: Transport, from_type: str, to_type: str, body: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    response = transport.call(
        Endpoint.ASSOCIATIONS, lambda apis, o: apis.associations.get_page(from_type, to_type, body, **o)
    )
    return _list((response.body or {}).get("results"))


def _objects_page(transport: Transport, kind: str, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    response = transport.call(Endpoint.OBJECTS_READ, lambda apis, o: apis.objects.read(kind, body, **o))
    return _list((response.body or {}).get("results"))


def text_of(values: Mapping[str, Any], properties: Sequence[str]) -> dict[str, str]:
    """The configured free-text properties that hold something, as text."""
    return {name: str(value) for name in properties if (value := values.get(name)) is not None and str(value).strip()}


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _numeric(record_id: str) -> tuple[int, str]:
    return (int(record_id), "") if record_id.isdigit() else (0, record_id)


def _list(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
