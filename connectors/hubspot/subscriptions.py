"""Email subscription statuses (communication preferences): read as consents; unsubscribing type by type.

HubSpot enforces each subscription type itself, so a status becomes a consent whose purpose is the type's
name (lower case): rules about the generic `marketing` purpose do not second-guess a per-type choice,
and a rule naming a type in its `purposes` acts on it.

Statuses are read with the v4 batch endpoint, 100 addresses a call (hubspot-api-client 12 does not wrap
v4; `Apis.post_v4` calls it over the same transport):
- `POST /communication-preferences/v4/statuses/batch/read?channel=EMAIL` `{"inputs": [emails]}` →
  `results[]` of `{subscriberIdString, statuses[]}`, each status with `subscriptionId` (a number), `status`
  (SUBSCRIBED / UNSUBSCRIBED / NOT_SPECIFIED), `source`, `legalBasis`, `legalBasisExplanation`,
  `timestamp`, `businessUnitId`; `errors[]` for inputs that failed
  https://developers.hubspot.com/docs/api-reference/legacy/communication-preferences/status/batch/get-subscriptions

Unsubscribing is per subscription type, never "unsubscribe from all": an opt-out of all email is portal-wide
and has no undo (docs/real-orgs.md §12), and gomme's two actions that stop email are narrower than that:
- `restrict_email` (withdrawn consent, no proof of consent, no recorded basis for processing) stops marketing
  email: the address is unsubscribed from the portal's marketing types only; one-to-one sales and service
  email stay as they are.
- `restrict_all` (Art 18 restriction of processing) unsubscribes from every active type, one-to-one included.
Which types are marketing (`marketing_types`): those whose definition `purpose` is "Marketing" (ignoring
case). When no definition of the portal carries a purpose at all, every type except those named like one-to-one,
sales or service email ("One to One", "Sales updates", "Customer Service"). When the rule selects no type, every
type counts as marketing (else restrict_email could stop nothing). An address reads as opted out of email
(`EmailPreferences.opted_out`) when every marketing type is off, or it is opted out portal-wide: exactly what
restrict_email leaves, so the next sweep plans nothing more for it.

Writes, in as few calls as the API allows:
- `POST /communication-preferences/v4/statuses/batch/write` `{"inputs": [{subscriberIdString, subscriptionId,
  channel: EMAIL, statusState: UNSUBSCRIBED, legalBasis, legalBasisExplanation}]}`, 100 inputs a call (the
  reference states no maximum: the CRM batch limit) → `results[]` of statuses (`setStatusSuccessReason`
  NO_STATUS_CHANGE when it already was so), `errors[]` for inputs that failed
  https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-status/post-communication-preferences-v4-statuses-batch-write
- v3, one call per (address, type): `POST /communication-preferences/v3/unsubscribe` `{emailAddress,
  subscriptionId, legalBasis, legalBasisExplanation}`; unsubscribing an address already off answers 400
  https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v3/status/post-communication-preferences-v3-unsubscribe
Types already off when the address was last read are skipped (addresses not read recently are read first, one
batch call per 100), so a person's own opt-out keeps its source and time. Each write carries the legal basis
LEGITIMATE_INTEREST_OTHER and the explanation "gomme: GDPR restriction (<rule id>)" (no personal data): both
are "required for GDPR enabled portals" on v3 writes, and the references name no basis reserved for
unsubscribes. The batch endpoints need scopes only Marketing Hub Enterprise portals can grant: on a 404 or 403
this connector falls back to v3 for the rest of the run.
HubSpot's legacy reference says an opt-out of a single type has no undo through the API either (only the person
can resubscribe, from the preferences page): lifting a restriction (Art 18(3)) is the person's or an admin's.

NOT_SPECIFIED (no choice recorded) gives no consent row: no consent rule reads an UNKNOWN consent, and v3
lists only explicit statuses. An email without an explicit unsubscribe from a type may still receive it
(portals without GDPR features subscribe by default), so unsubscribing leaves no targeted type out.
v4's batch read holds no portal-wide ("unsubscribe from all") status; HubSpot shows it in the contact's
`hs_email_optout`, which the mapping reads (`opt_out_email`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog

from gomme.connectors.hubspot.client import Endpoint, HubSpotApiError, Transport
from gomme.connectors.hubspot.mapping import EmailPreferences, parse_datetime
from gomme.model.records import Consent, ConsentStatus

log = structlog.get_logger(__name__)

BATCH_SIZE = 100  # v4 batch inputs per call: the reference states no maximum; the CRM batch endpoints' 100
SUBSCRIBED = "SUBSCRIBED"
UNSUBSCRIBED = "UNSUBSCRIBED"
NOT_SPECIFIED = "NOT_SPECIFIED"
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"  # v3's word for UNSUBSCRIBED
PORTAL_WIDE = "PORTAL_WIDE_STATUS"
# The basis sent with each unsubscribe (GDPR portals require one; the enum has no "legal obligation").
UNSUBSCRIBE_BASIS = "LEGITIMATE_INTEREST_OTHER"
EXPLANATION_PREFIX = "gomme:"  # gomme's own explanations: never read back as the person's (e.g. parental consent)
_V4_READ = "/communication-preferences/v4/statuses/batch/read"
_V4_WRITE = "/communication-preferences/v4/statuses/batch/write"
_CHANNEL = (("channel", "EMAIL"),)
_UNAVAILABLE = (403, 404)  # the portal lacks v4 batch, or the app its scopes
# Addresses whose last-read statuses are kept (per connector, i.e. per run: the apply loop re-reads every record
# just before writing it), so a write skips the types already off without another read.
_KNOWN_MAX = 10_000
# Type names of one-to-one (sales) and service email, for portals whose definitions carry no purpose.
_NOT_MARKETING = re.compile(r"\bone[\s_-]*(?:to|2)[\s_-]*one\b|\bsales\b|\bservice\b", re.IGNORECASE)


def email_key(address: str) -> str:
    """How addresses are matched (HubSpot compares them ignoring case)."""
    return address.strip().casefold()


@dataclass(frozen=True, slots=True)
class Definition:
    id: str
    name: str
    purpose: str | None = None  # as the portal names it: "Marketing", "Sales" (one to one)...


def marketing_types(definitions: Sequence[Definition]) -> tuple[Definition, ...]:
    """The types marketing email is sent under (see the module docstring); every type when none qualifies."""
    if any(definition.purpose for definition in definitions):
        chosen = [d for d in definitions if (d.purpose or "").strip().casefold() == "marketing"]
    else:
        chosen = [d for d in definitions if not _NOT_MARKETING.search(d.name)]
    return tuple(chosen) or tuple(definitions)


class Scope(StrEnum):
    """Which types an unsubscribe covers: `restrict_email` stops marketing, `restrict_all` everything."""

    MARKETING = "marketing"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """One address to unsubscribe from the types of `scope`; `explanation` goes with each status (no PII)."""

    email: str
    scope: Scope
    explanation: str


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    """One subscription type's status for an address, with what HubSpot records about it.

    `status` is in v4's words (v3's NOT_SUBSCRIBED reads UNSUBSCRIBED); `purpose` is the type's own
    (e.g. "Marketing"), not the consent purpose (the name, lower case); `timestamp` and `source` are v4 only.
    """

    subscription_id: str
    name: str
    purpose: str | None
    status: str
    legal_basis: str | None
    explanation: str | None
    timestamp: dt.datetime | None
    source: str | None = None
    business_unit_id: int | None = None

    def consent(self) -> Consent | None:
        """The email consent this status records; none when nothing was specified."""
        if self.status == NOT_SPECIFIED:
            return None
        return Consent(
            channel="email",
            purpose=self.name.strip().lower(),
            status=ConsentStatus.OPT_IN if self.status == SUBSCRIBED else ConsentStatus.OPT_OUT,
            captured_at=self.timestamp,
            # How it was obtained, as HubSpot records it: the explanation, else the status's own legal basis.
            source=self.explanation or self.legal_basis or None,
        )


@dataclass(frozen=True, slots=True)
class SubscriptionPreferences(EmailPreferences):
    """EmailPreferences, plus every status read, with its legal basis, explanation and time (for the mapping)."""

    statuses: tuple[SubscriptionStatus, ...] = ()


@dataclass(frozen=True, slots=True)
class _Write:
    """One (address, type) to unsubscribe."""

    key: str
    address: str
    subscription_id: str
    explanation: str

    @property
    def ref(self) -> tuple[str, str]:
        return self.key, self.subscription_id

    def v4_input(self) -> dict[str, Any]:
        return {
            "subscriberIdString": self.address,
            "subscriptionId": int(self.subscription_id) if self.subscription_id.isdigit() else self.subscription_id,
            "channel": "EMAIL",
            "statusState": UNSUBSCRIBED,
            "legalBasis": UNSUBSCRIBE_BASIS,
            "legalBasisExplanation": self.explanation,
        }

    def v3_body(self) -> dict[str, str]:
        return {
            "emailAddress": self.address,
            "subscriptionId": self.subscription_id,
            "legalBasis": UNSUBSCRIBE_BASIS,
            "legalBasisExplanation": self.explanation,
        }


class Subscriptions:
    """The portal's subscription types and each email's statuses; unsubscribing is idempotent."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._definitions: tuple[Definition, ...] | None = None
        self._v4_off: set[Endpoint] = set()
        self._known: OrderedDict[str, dict[str, str]] = OrderedDict()  # email key → type id → last-read status

    def definitions(self) -> tuple[Definition, ...]:
        if self._definitions is None:
            body = self._transport.call(Endpoint.DEFINITIONS, lambda apis, o: apis.definitions.get_page(**o)).body
            self._definitions = tuple(
                Definition(str(item["id"]), str(item.get("name") or ""), _text(item.get("purpose")))
                for item in body.get("subscriptionDefinitions") or ()
                if item.get("isActive", True)
            )
        return self._definitions

    def targets(self, scope: Scope) -> tuple[str, ...]:
        """The ids of the types an unsubscribe of `scope` covers, in the portal's order."""
        definitions = self.definitions()
        return tuple(d.id for d in (definitions if scope is Scope.ALL else marketing_types(definitions)))

    # -- reading ---------------------------------------------------------------------------------------------

    def preferences_many(self, emails: Sequence[str]) -> dict[str, SubscriptionPreferences]:
        """Each address's statuses as email consents, keyed by `email_key`: one v4 call per 100 addresses.

        An address v4 failed (a 207's errors) is read alone with v3, as are all once v4 is unavailable.
        """
        found: dict[str, SubscriptionPreferences] = {}
        for chunk in _chunks(_unique(emails), BATCH_SIZE):
            statuses = self._read_v4(chunk)
            for key, address in chunk:
                found[key] = statuses[key] if key in statuses else self._read_v3(address)
                self._remember(key, {status.subscription_id: status.status for status in found[key].statuses})
        return found

    def preferences(self, email: str) -> SubscriptionPreferences:
        """One address's statuses as email consents; opted out when every marketing type (or all email) is off."""
        found = self.preferences_many([email]).get(email_key(email))
        return found if found is not None else self._read_v3(email)  # a blank address: as v3 answers it

    def statuses(self, email: str) -> list[Mapping[str, Any]]:
        """`GET /communication-preferences/v3/status/email/{email}` (the client URL-encodes the address)."""
        response = self._transport.call(Endpoint.STATUS, lambda apis, o: apis.status.get_email_status(email, **o))
        return list(response.body.get("subscriptionStatuses") or ())

    def _read_v4(self, chunk: list[tuple[str, str]]) -> dict[str, SubscriptionPreferences]:
        """The addresses v4 answered for; a whole-batch 400 is split to find the address it refuses."""
        if Endpoint.STATUS_BATCH in self._v4_off or not chunk:
            return {}
        try:
            body = self._post_v4(Endpoint.STATUS_BATCH, _V4_READ, {"inputs": [a for _, a in chunk]}, _CHANNEL)
        except HubSpotApiError as error:
            if error.status in _UNAVAILABLE:
                self._unavailable(Endpoint.STATUS_BATCH, error.status)
                return {}
            if error.status != 400:
                raise
            if len(chunk) == 1:
                return {}  # the address it refuses: read alone with v3
            middle = len(chunk) // 2
            return {**self._read_v4(chunk[:middle]), **self._read_v4(chunk[middle:])}
        wanted = {key for key, _ in chunk}
        definitions = self.definitions()
        read: dict[str, SubscriptionPreferences] = {}
        for result in _list(body.get("results")):
            key = email_key(str(result.get("subscriberIdString") or ""))
            if key in wanted:
                rows = [row for row in _list(result.get("statuses")) if row.get("channel") in (None, "EMAIL")]
                read[key] = _preferences([_v4_status(row, definitions) for row in rows], definitions)
        return read

    def _read_v3(self, address: str) -> SubscriptionPreferences:
        raw = self.statuses(address)
        definitions = self.definitions()
        purposes = {definition.id: definition.purpose for definition in definitions}
        statuses = [_v3_status(row, purposes) for row in raw]
        wide = any(row.get("sourceOfStatus") == PORTAL_WIDE and row.get("status") == NOT_SUBSCRIBED for row in raw)
        return _preferences(statuses, definitions, opted_out=wide)

    def _remember(self, key: str, statuses: Mapping[str, str]) -> None:
        self._known[key] = dict(statuses)
        self._known.move_to_end(key)
        while len(self._known) > _KNOWN_MAX:
            self._known.popitem(last=False)

    # -- unsubscribing ---------------------------------------------------------------------------------------

    def unsubscribe_many(self, requests: Sequence[Unsubscribe]) -> dict[str, str | None]:
        """Unsubscribes each address from the types of its scope, keyed by `email_key`: None once done, else the
        error code. Never from all email (no undo).

        Types already off as last read are skipped (addresses not read recently are read first); the rest go
        100 (address, type) pairs a v4 batch call, or one v3 call each once v4 is unavailable. A type already
        off counts as done, so repeating it after a lost answer succeeds; a failure fails that address only.
        """
        wanted: dict[str, tuple[str, set[str], str]] = {}  # key → (address, type ids, explanation)
        for request in requests:
            key = email_key(request.email)
            if key:
                entry = wanted.setdefault(key, (request.email.strip(), set(), request.explanation))
                entry[1].update(self.targets(request.scope))
        if not wanted:
            return {}
        cold = [address for key, (address, _, _) in wanted.items() if key not in self._known]
        if cold:  # a read that fails leaves statuses unknown: every targeted type is written (off counts as done)
            with suppress(HubSpotApiError):
                self.preferences_many(cold)
        order = {definition.id: i for i, definition in enumerate(self.definitions())}
        writes: list[_Write] = []
        for key, (address, types, explanation) in wanted.items():
            known = self._known.get(key, {})
            todo = sorted((t for t in types if known.get(t) != UNSUBSCRIBED), key=lambda t: order.get(t, len(order)))
            writes.extend(_Write(key, address, subscription_id, explanation) for subscription_id in todo)
        decided = self._write_v4(writes)
        for write in writes:
            if write.ref not in decided:
                try:
                    self._unsubscribe_v3(write)
                    decided[write.ref] = None
                except HubSpotApiError as error:
                    decided[write.ref] = error.code
        outcomes: dict[str, str | None] = dict.fromkeys(wanted)
        for write in writes:
            code = decided[write.ref]
            if code is None:
                self._known.setdefault(write.key, {})[write.subscription_id] = UNSUBSCRIBED
            elif outcomes[write.key] is None:
                outcomes[write.key] = code
        return outcomes

    def _write_v4(self, writes: list[_Write]) -> dict[tuple[str, str], str | None]:
        """The outcome of each write v4 decided; none once v4 is unavailable (the caller goes v3)."""
        decided: dict[tuple[str, str], str | None] = {}
        for start in range(0, len(writes), BATCH_SIZE):
            decided |= self._write_v4_chunk(writes[start : start + BATCH_SIZE])
        return decided

    def _write_v4_chunk(self, chunk: list[_Write]) -> dict[tuple[str, str], str | None]:
        if Endpoint.STATUS_WRITE_BATCH in self._v4_off or not chunk:
            return {}
        try:
            body = self._post_v4(Endpoint.STATUS_WRITE_BATCH, _V4_WRITE, {"inputs": [w.v4_input() for w in chunk]})
        except HubSpotApiError as error:
            if error.status in _UNAVAILABLE:
                self._unavailable(Endpoint.STATUS_WRITE_BATCH, error.status)
                return {}
            if error.status != 400:
                raise
            if len(chunk) == 1:
                return {chunk[0].ref: error.code}
            middle = len(chunk) // 2
            return {**self._write_v4_chunk(chunk[:middle]), **self._write_v4_chunk(chunk[middle:])}
        errors = _list(body.get("errors"))
        if not errors:
            return {write.ref: None for write in chunk}  # a 200: every input is done, listed or not
        refs = {write.ref for write in chunk}
        decided: dict[tuple[str, str], str | None] = {}
        for result in _list(body.get("results")):
            ref = (email_key(str(result.get("subscriberIdString") or "")), str(result.get("subscriptionId")))
            if ref in refs and result.get("status") == UNSUBSCRIBED:
                decided[ref] = None
        for failure in errors:
            named = _named(failure)
            for write in chunk:
                if write.key in named and write.ref not in decided:
                    decided[write.ref] = str(failure.get("category") or "ERROR")
        unsure = [write for write in chunk if write.ref not in decided]
        if unsure:  # an error that names no address: read back whether each type is off
            read = self._read_v4(list({write.key: (write.key, write.address) for write in unsure}.values()))
            for write in unsure:
                off = write.key in read and any(
                    s.subscription_id == write.subscription_id and s.status == UNSUBSCRIBED
                    for s in read[write.key].statuses
                )
                decided[write.ref] = None if off else "NO_RESULT"
        return decided

    def _unsubscribe_v3(self, write: _Write) -> None:
        body = write.v3_body()
        try:
            self._transport.call(Endpoint.UNSUBSCRIBE, lambda apis, o: apis.status.unsubscribe(body, **o))
        except HubSpotApiError as error:
            # A 400 most often means "already unsubscribed" (a retried call whose answer was lost):
            # check the status rather than read the message, which holds the address.
            if error.status != 400 or self._status_of(write.address, write.subscription_id) != NOT_SUBSCRIBED:
                raise

    def _status_of(self, email: str, subscription_id: str) -> str | None:
        for status in self.statuses(email):
            if str(status.get("id")) == subscription_id:
                return str(status.get("status"))
        return None

    # -- v4 transport ----------------------------------------------------------------------------------------

    def _post_v4(
        self, endpoint: Endpoint, path: str, body: Mapping[str, Any], query: Sequence[tuple[str, str]] = ()
    ) -> Mapping[str, Any]:
        response = self._transport.call(endpoint, lambda apis, o: apis.post_v4(path, body, query, o))
        result: Mapping[str, Any] = response.body if isinstance(response.body, Mapping) else {}
        return result

    def _unavailable(self, endpoint: Endpoint, status: int) -> None:
        """Logged once per endpoint: from now on this run uses v3 (no address in the log)."""
        if endpoint not in self._v4_off:
            self._v4_off.add(endpoint)
            log.warning(
                "hubspot_prefs_v4_unavailable", connector=self._transport.name, endpoint=str(endpoint), status=status
            )


def _preferences(
    statuses: list[SubscriptionStatus], definitions: tuple[Definition, ...], *, opted_out: bool = False
) -> SubscriptionPreferences:
    consents = tuple(consent for status in statuses if (consent := status.consent()) is not None)
    explanations = tuple(
        status.explanation
        for status in statuses
        if status.explanation and not status.explanation.startswith(EXPLANATION_PREFIX)
    )
    return SubscriptionPreferences(
        consents, opted_out or _marketing_off(statuses, definitions), explanations, statuses=tuple(statuses)
    )


def _marketing_off(statuses: list[SubscriptionStatus], definitions: tuple[Definition, ...]) -> bool:
    """Every marketing type is explicitly off: no marketing email may reach the address."""
    off = {status.subscription_id for status in statuses if status.status == UNSUBSCRIBED}
    marketing = marketing_types(definitions)
    return bool(marketing) and all(definition.id in off for definition in marketing)


def _v4_status(row: Mapping[str, Any], definitions: tuple[Definition, ...]) -> SubscriptionStatus:
    subscription_id = str(row.get("subscriptionId"))
    definition = next((d for d in definitions if d.id == subscription_id), None)
    name = (definition.name if definition else None) or _text(row.get("subscriptionName")) or subscription_id
    unit = row.get("businessUnitId")
    return SubscriptionStatus(
        subscription_id=subscription_id,
        name=name,
        purpose=definition.purpose if definition else None,
        status=str(row.get("status") or NOT_SPECIFIED),
        legal_basis=_text(row.get("legalBasis")),
        explanation=_text(row.get("legalBasisExplanation")),
        timestamp=parse_datetime(row.get("timestamp")),
        source=_text(row.get("source")),
        business_unit_id=unit if isinstance(unit, int) else None,
    )


def _v3_status(row: Mapping[str, Any], purposes: Mapping[str, str | None]) -> SubscriptionStatus:
    subscription_id = str(row.get("id"))
    status = str(row.get("status") or "")
    unit = row.get("brandId")
    return SubscriptionStatus(
        subscription_id=subscription_id,
        name=_text(row.get("name")) or subscription_id,
        purpose=purposes.get(subscription_id),
        status=SUBSCRIBED if status == SUBSCRIBED else UNSUBSCRIBED,
        legal_basis=_text(row.get("legalBasis")),
        explanation=_text(row.get("legalBasisExplanation")),
        timestamp=None,
        business_unit_id=unit if isinstance(unit, int) else None,
    )


def _named(error: Mapping[str, Any]) -> set[str]:
    """The addresses an error names in its `context` or `id` (the message is never read)."""
    values: list[Any] = [error.get("id")]
    context = error.get("context")
    if isinstance(context, Mapping):
        for value in context.values():
            values.extend(value if isinstance(value, list) else [value])
    return {email_key(value) for value in values if isinstance(value, str)}


def _unique(emails: Sequence[str]) -> list[tuple[str, str]]:
    """(key, address) for each distinct, non-blank address, first spelling kept."""
    unique: dict[str, str] = {}
    for email in emails:
        key = email_key(email)
        if key and key not in unique:
            unique[key] = email.strip()
    return list(unique.items())


def _chunks(items: list[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _list(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
