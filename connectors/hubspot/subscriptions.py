"""Email subscription statuses (communication preferences): read as consents, and unsubscribe from all.

HubSpot enforces each subscription type itself, so a status becomes a consent whose purpose is the type's
name (lower case): rules about the generic `marketing` purpose do not second-guess a per-type choice,
and a rule naming a type in its `purposes` acts on it.

Statuses are read with the v4 batch endpoints, 100 addresses a call (hubspot-api-client 12 does not wrap
v4; `Apis.post_v4` calls it over the same transport):
- `POST /communication-preferences/v4/statuses/batch/read?channel=EMAIL` `{"inputs": [emails]}` →
  `results[]` of `{subscriberIdString, statuses[]}`, each status with `subscriptionId` (a number), `status`
  (SUBSCRIBED / UNSUBSCRIBED / NOT_SPECIFIED), `source`, `legalBasis`, `legalBasisExplanation`,
  `timestamp`, `businessUnitId`; `errors[]` for inputs that failed
  https://developers.hubspot.com/docs/api-reference/legacy/communication-preferences/status/batch/get-subscriptions
- `POST /communication-preferences/v4/statuses/batch/unsubscribe-all?channel=EMAIL` `{"inputs": [emails]}` →
  the same result shape, per address
  https://developers.hubspot.com/docs/api-reference/legacy/communication-preferences/status/batch/unsubscribe-contacts-batch
The batch endpoints need scopes only Marketing Hub Enterprise portals can grant: on a 404 or 403 this
connector falls back to v3 (one status call per address, one unsubscribe per type) for the rest of the run.

NOT_SPECIFIED (no choice recorded) gives no consent row: no consent rule reads an UNKNOWN consent, and v3
lists only explicit statuses. An email without an explicit unsubscribe from a type may still receive it
(portals without GDPR features subscribe by default), so "unsubscribe from all" leaves no type out.
v4's batch read holds no portal-wide ("unsubscribe from all") status; HubSpot shows it in the contact's
`hs_email_optout`, which the mapping reads (`opt_out_email`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from gomme.connectors.hubspot.client import Endpoint, HubSpotApiError, Transport
from gomme.connectors.hubspot.mapping import EmailPreferences, parse_datetime
from gomme.connectors.records import Consent, ConsentStatus

log = structlog.get_logger(__name__)

BATCH_SIZE = 100  # v4 batch inputs per call: the reference states no maximum; the CRM batch endpoints' 100
SUBSCRIBED = "SUBSCRIBED"
UNSUBSCRIBED = "UNSUBSCRIBED"
NOT_SPECIFIED = "NOT_SPECIFIED"
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"  # v3's word for UNSUBSCRIBED
PORTAL_WIDE = "PORTAL_WIDE_STATUS"
_V4_READ = "/communication-preferences/v4/statuses/batch/read"
_V4_UNSUBSCRIBE_ALL = "/communication-preferences/v4/statuses/batch/unsubscribe-all"
_CHANNEL = (("channel", "EMAIL"),)
_UNAVAILABLE = (403, 404)  # the portal lacks v4 batch, or the app its scopes


def email_key(address: str) -> str:
    """How addresses are matched (HubSpot compares them ignoring case)."""
    return address.strip().casefold()


@dataclass(frozen=True, slots=True)
class Definition:
    id: str
    name: str
    purpose: str | None = None  # as the portal names it: "Marketing", "Sales" (one to one)...


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


class Subscriptions:
    """The portal's subscription types and each email's statuses; unsubscribing is idempotent."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._definitions: tuple[Definition, ...] | None = None
        self._v4_off: set[Endpoint] = set()

    def definitions(self) -> tuple[Definition, ...]:
        if self._definitions is None:
            body = self._transport.call(Endpoint.DEFINITIONS, lambda apis, o: apis.definitions.get_page(**o)).body
            self._definitions = tuple(
                Definition(str(item["id"]), str(item.get("name") or ""), _text(item.get("purpose")))
                for item in body.get("subscriptionDefinitions") or ()
                if item.get("isActive", True)
            )
        return self._definitions

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
        return found

    def preferences(self, email: str) -> SubscriptionPreferences:
        """One address's statuses as email consents; opted out when every type (or the whole portal) is off."""
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
            body = self._post_v4(Endpoint.STATUS_BATCH, _V4_READ, [address for _, address in chunk])
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

    # -- unsubscribing ---------------------------------------------------------------------------------------

    def unsubscribe_all_many(self, emails: Sequence[str]) -> dict[str, str | None]:
        """Unsubscribes each address from all email, keyed by `email_key`: None once done, else the error code.

        One v4 call per 100 addresses; a failure for one address fails that address only. Without v4, each
        address is unsubscribed type by type (v3), as `unsubscribe_all`.
        """
        outcomes: dict[str, str | None] = {}
        for chunk in _chunks(_unique(emails), BATCH_SIZE):
            outcomes |= self._unsubscribe_v4(chunk)
            for key, address in chunk:
                if key not in outcomes:
                    try:
                        self.unsubscribe_all(address)
                        outcomes[key] = None
                    except HubSpotApiError as error:
                        outcomes[key] = error.code
        return outcomes

    def unsubscribe_all(self, email: str) -> int:
        """v3: unsubscribe from every type not already off; returns the number of unsubscribe calls made."""
        current = {str(s.get("id")): s.get("status") for s in self.statuses(email)}
        calls = 0
        for definition in self.definitions():
            if current.get(definition.id) == NOT_SUBSCRIBED:
                continue
            calls += 1
            try:
                self._unsubscribe({"emailAddress": email, "subscriptionId": definition.id})
            except HubSpotApiError as error:
                # A 400 most often means "already unsubscribed" (a retried call whose answer was lost):
                # check the status rather than read the message, which holds the address.
                if error.status != 400 or self._status_of(email, definition.id) != NOT_SUBSCRIBED:
                    raise
        return calls

    def _unsubscribe_v4(self, chunk: list[tuple[str, str]]) -> dict[str, str | None]:
        """The outcome of each address v4 decided; none when v4 is unavailable (the caller goes v3)."""
        if Endpoint.UNSUBSCRIBE_ALL_BATCH in self._v4_off or not chunk:
            return {}
        try:
            body = self._post_v4(Endpoint.UNSUBSCRIBE_ALL_BATCH, _V4_UNSUBSCRIBE_ALL, [a for _, a in chunk])
        except HubSpotApiError as error:
            if error.status in _UNAVAILABLE:
                self._unavailable(Endpoint.UNSUBSCRIBE_ALL_BATCH, error.status)
                return {}
            if error.status != 400:
                raise
            if len(chunk) == 1:
                return {chunk[0][0]: error.code}
            middle = len(chunk) // 2
            return {**self._unsubscribe_v4(chunk[:middle]), **self._unsubscribe_v4(chunk[middle:])}
        errors = _list(body.get("errors"))
        if not errors:
            return {key: None for key, _ in chunk}  # the answer may list no statuses: a 200 is done
        outcomes: dict[str, str | None] = {}
        for result in _list(body.get("results")):
            outcomes[email_key(str(result.get("subscriberIdString") or ""))] = None
        for failure in errors:
            named = _named(failure)
            for key, _ in chunk:
                if key in named and key not in outcomes:
                    outcomes[key] = str(failure.get("category") or "ERROR")
        unsure = [(key, address) for key, address in chunk if key not in outcomes]
        if unsure:  # an error that names no address: read back whether each is off everywhere
            read = self._read_v4(unsure)
            for key, _ in unsure:
                outcomes[key] = None if key in read and _all_off(read[key], self.definitions()) else "NO_RESULT"
        return {key: outcomes[key] for key, _ in chunk if key in outcomes}

    def _unsubscribe(self, body: Mapping[str, str]) -> None:
        self._transport.call(Endpoint.UNSUBSCRIBE, lambda apis, o: apis.status.unsubscribe(body, **o))

    def _status_of(self, email: str, subscription_id: str) -> str | None:
        for status in self.statuses(email):
            if str(status.get("id")) == subscription_id:
                return str(status.get("status"))
        return None

    # -- v4 transport ----------------------------------------------------------------------------------------

    def _post_v4(self, endpoint: Endpoint, path: str, addresses: list[str]) -> Mapping[str, Any]:
        body = {"inputs": addresses}
        response = self._transport.call(endpoint, lambda apis, o: apis.post_v4(path, body, _CHANNEL, o))
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
    explanations = tuple(status.explanation for status in statuses if status.explanation)
    return SubscriptionPreferences(
        consents, opted_out or _all_off_statuses(statuses, definitions), explanations, statuses=tuple(statuses)
    )


def _all_off(preferences: SubscriptionPreferences, definitions: tuple[Definition, ...]) -> bool:
    return preferences.opted_out or _all_off_statuses(list(preferences.statuses), definitions)


def _all_off_statuses(statuses: list[SubscriptionStatus], definitions: tuple[Definition, ...]) -> bool:
    off = {status.subscription_id for status in statuses if status.status == UNSUBSCRIBED}
    return bool(definitions) and all(definition.id in off for definition in definitions)


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
