"""Applying planned changes: engagements, unsubscribes, batch updates (100 per call), GDPR delete or batch archive.

Order per batch: the contacts' engagements first (related_writer.py: a delete removes the associations, after which
nothing finds them), then unsubscribe, then property writes, then deletes. A restriction marker is thus
only ever written once the email is unsubscribed, so a marked record is always fully restricted (a
later sweep trusts the marker and plans nothing more).

Unsubscribing is type by type (subscriptions.py): `restrict_email` from the marketing types only,
`restrict_all` from every type; never a portal-wide "unsubscribe from all", which has no undo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gomme.connectors.hubspot.client import Endpoint, HubSpotApiError, Transport
from gomme.connectors.hubspot.mapping import (
    OBJECT_TYPE,
    READ_ONLY,
    InvalidChange,
    PropertyInfo,
    PropertyMap,
    WritePlan,
    write_plan,
)
from gomme.connectors.hubspot.reader import BATCH_SIZE
from gomme.connectors.hubspot.related_writer import write_related
from gomme.connectors.hubspot.subscriptions import EXPLANATION_PREFIX, Scope, Subscriptions, Unsubscribe, email_key
from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange
from gomme.model.related import RelatedOutcome

_CODES = {"OBJECT_NOT_FOUND": "NOT_FOUND"}
ANONYMISED_DETAIL = "pseudonymised: HubSpot keeps property history and the old address's subscription statuses"
DELETED_DETAIL = {"gdpr": "permanently deleted (GDPR delete); the email is blocklisted", "archive": "archived"}
# What HubSpot keeps of a contact after gomme's write (docs/related-records.md, "HubSpot"): names, never values.
HISTORY_REMAINS = "contacts property history (only a GDPR delete purges it)"
ARCHIVE_REMAINS = "archived contact (restorable for 90 days)"


@dataclass(slots=True)
class _Item:
    change: PlannedChange
    plan: WritePlan | None = None
    code: str | None = None
    detail: str | None = None

    def fail(self, code: str, detail: str | None = None) -> None:
        if self.code is None:
            self.code, self.detail = code, detail

    @property
    def open(self) -> bool:
        return self.plan is not None and self.code is None


class Writer:
    def __init__(
        self,
        name: str,
        transport: Transport,
        pmap: PropertyMap,
        subscriptions: Subscriptions,
        delete_mode: str,
        schema: Callable[[], Mapping[str, PropertyInfo]],
        emails: Callable[[Sequence[str]], Mapping[str, str | None]],
    ) -> None:
        self.name = name
        self._transport = transport
        self._pmap = pmap
        self._subscriptions = subscriptions
        self._delete_mode = delete_mode
        self._schema = schema
        self._named: dict[str, str] = {}  # record id → what HubSpot's error named (properties, codes)
        self._emails = emails

    def apply(self, changes: Sequence[PlannedChange]) -> list[ChangeResult]:
        """One result per change, in order; APPLIED only when every part of the change landed."""
        items = [self._prepare(change) for change in changes]
        related = write_related(self._transport, [item.change for item in items if item.open and item.change.related])
        self._unsubscribe([item for item in items if item.open and item.plan and item.plan.unsubscribe])
        self._update([item for item in items if item.open and item.plan and item.plan.properties])
        self._delete([item for item in items if item.open and item.plan and item.plan.delete])
        return [_result(item, self._delete_mode, related.get(item.change.change_id)) for item in items]

    def _prepare(self, change: PlannedChange) -> _Item:
        item = _Item(change)
        if change.crm != self.name:
            item.fail("WRONG_CRM", "change is for another connector")
        elif change.object_type != OBJECT_TYPE or not change.record_id.isdigit():
            item.fail("NOT_FOUND", "record not found")
        else:
            try:
                item.plan = self._writable(write_plan(change, self._pmap))
            except InvalidChange as error:
                item.fail(error.code, error.detail)
        return item

    def _writable(self, plan: WritePlan) -> WritePlan:
        """Drops properties the portal lacks or computes itself; only anonymise's optional ones may go."""
        if not plan.properties:
            return plan
        schema = self._schema()
        restriction = self._pmap.fields["restricted"]
        properties: dict[str, str] = {}
        for name, value in plan.properties.items():
            info = schema.get(name)
            if info is not None and not info.read_only and name not in READ_ONLY:
                properties[name] = value
            elif name == restriction:
                # Reported once by `check_properties`; each restriction fails alone, before any write for it.
                raise InvalidChange(
                    "RESTRICTION_PROPERTY_MISSING",
                    f"restriction_property {name} is missing or read-only in the portal: create it as a checkbox",
                )
            elif not (plan.anonymise and name != self._pmap.fields.get("last_name", "lastname")):
                raise InvalidChange("READ_ONLY_PROPERTY", f"property {name} is missing or read-only")
        return WritePlan(properties, plan.unsubscribe, plan.delete, plan.anonymise)

    def _unsubscribe(self, items: list[_Item]) -> None:
        """Each addressed email off the types of its action (v4: 100 pairs a call); a failed email fails its change."""
        if not items:
            return
        emails = self._emails([item.change.record_id for item in items])
        addressed: list[tuple[_Item, str]] = []
        for item in items:
            record_id = item.change.record_id
            if record_id not in emails:
                item.fail("NOT_FOUND", "record not found")
            elif emails[record_id]:
                addressed.append((item, str(emails[record_id])))
            # no address: nothing to send to
        if not addressed:
            return
        outcomes = self._subscriptions.unsubscribe_many(
            [_unsubscribe_request(item.change, email) for item, email in addressed]
        )
        for item, email in addressed:
            code = outcomes.get(email_key(email), "NO_RESULT")
            if code is not None:
                item.fail(code, "unsubscribe failed")

    def _update(self, items: list[_Item]) -> None:
        for chunk in _unique_chunks(items):
            self._named.clear()
            errors = self._batch_update([(item.change.record_id, item.plan.properties) for item in chunk if item.plan])
            for item in chunk:
                code = errors.get(item.change.record_id)
                if code is not None:
                    named = self._named.get(item.change.record_id)
                    item.fail(code, "record not found" if code == "NOT_FOUND" else (f"on {named}" if named else None))

    def _batch_update(self, inputs: list[tuple[str, dict[str, str]]]) -> dict[str, str | None]:
        """record id → error code (None when saved); a whole-batch 400/409 is bisected to find the bad inputs."""
        body: dict[str, Any] = {"inputs": [{"id": i, "properties": properties} for i, properties in inputs]}
        try:
            response = self._transport.call(Endpoint.BATCH_UPDATE, lambda apis, o: apis.batch.update(body, **o))
        except HubSpotApiError as error:
            if error.status not in (400, 409):
                raise
            if len(inputs) == 1:
                if error.named:
                    self._named[inputs[0][0]] = error.named
                return {inputs[0][0]: error.code}
            middle = len(inputs) // 2
            return {**self._batch_update(inputs[:middle]), **self._batch_update(inputs[middle:])}
        return _per_id(response.body, [record_id for record_id, _ in inputs])

    def _delete(self, items: list[_Item]) -> None:
        if self._delete_mode == "archive":
            for start in range(0, len(items), BATCH_SIZE):
                chunk = items[start : start + BATCH_SIZE]
                # Archiving an archived or missing id is accepted as well: nothing more to report per id.
                self._archive([item.change.record_id for item in chunk])
            return
        for item in items:
            try:
                self._purge(item.change.record_id)
            except HubSpotApiError as error:
                if error.status == 404:
                    item.detail = "already deleted"
                else:
                    item.fail(error.code, "GDPR delete failed")

    def _archive(self, ids: list[str]) -> None:
        body = {"inputs": [{"id": record_id} for record_id in ids]}
        self._transport.call(Endpoint.BATCH_ARCHIVE, lambda apis, o: apis.batch.archive(body, **o))

    def _purge(self, record_id: str) -> None:
        # By id, never by email: an email not found would be blocklisted, and no address leaves gomme.
        body = {"objectId": record_id}
        self._transport.call(Endpoint.GDPR_DELETE, lambda apis, o: apis.basic.purge(body, **o))


def _unsubscribe_request(change: PlannedChange, email: str) -> Unsubscribe:
    """restrict_all: every type (Art 18); restrict_email: marketing only. The explanation names the rule, no PII."""
    scope = Scope.ALL if Action.RESTRICT_ALL in change.actions else Scope.MARKETING
    return Unsubscribe(email, scope, f"{EXPLANATION_PREFIX} GDPR restriction ({change.rule_id[:100]})")


def _per_id(body: Mapping[str, object] | None, ids: list[str]) -> dict[str, str | None]:
    """A 200/207 batch answer as record id → error code: ids in `errors[].context.ids` failed."""
    body = body or {}
    failed: dict[str, str] = {}
    for error in _list(body.get("errors")):
        category = str(error.get("category") or "ERROR")
        context = error.get("context")
        record_ids = context.get("ids") if isinstance(context, Mapping) else None
        for record_id in record_ids if isinstance(record_ids, list) else ():
            failed[str(record_id)] = _CODES.get(category, category)
    saved = {str(result.get("id")) for result in _list(body.get("results"))}
    return {record_id: failed.get(record_id) or (None if record_id in saved else "NO_RESULT") for record_id in ids}


def _list(value: object) -> list[Mapping[str, object]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _unique_chunks(items: Iterable[_Item]) -> Iterator[list[_Item]]:
    """Chunks of ≤100 where a record appears once (a batch may not name an id twice)."""
    chunk: list[_Item] = []
    ids: set[str] = set()
    for item in items:
        if len(chunk) == BATCH_SIZE or item.change.record_id in ids:
            yield chunk
            chunk, ids = [], set()
        chunk.append(item)
        ids.add(item.change.record_id)
    if chunk:
        yield chunk


def _result(item: _Item, delete_mode: str, related: RelatedOutcome | None) -> ChangeResult:
    if item.code is not None:
        return ChangeResult(item.change.change_id, Outcome.FAILED, item.code, item.detail, related=related)
    detail = item.detail
    if detail is None and item.plan is not None:
        if item.plan.delete:
            detail = DELETED_DETAIL[delete_mode]
        elif item.plan.anonymise:
            detail = ANONYMISED_DETAIL
    remains = _contact_remains(item, delete_mode)
    if remains:
        related = related or RelatedOutcome()
        related = replace(related, remains=tuple(dict.fromkeys((*remains, *related.remains))))
    return ChangeResult(item.change.change_id, Outcome.APPLIED, detail=detail, related=related)


def _contact_remains(item: _Item, delete_mode: str) -> tuple[str, ...]:
    """What an applied erasure leaves of the contact itself: its property history, or the archived record."""
    if item.plan is None or item.detail == "already deleted":
        return ()
    if item.plan.delete:
        return (ARCHIVE_REMAINS,) if delete_mode == "archive" else ()
    return (HISTORY_REMAINS,) if item.plan.anonymise else ()
