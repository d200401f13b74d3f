"""Email subscription statuses (communication preferences v3): read as consents, and unsubscribe from all.

HubSpot enforces each subscription type itself, so a status becomes a consent whose purpose is the type's
name (lower case): rules about the generic `marketing` purpose do not second-guess a per-type choice,
and a rule naming a type in its `purposes` acts on it.

v3 has no batch endpoint (the batch API is v4, which hubspot-api-client 12 does not wrap), so each email
costs one status call; definitions are read once per connector. An email without an explicit
NOT_SUBSCRIBED for a subscription type may still receive it (portals without GDPR features subscribe
by default), so "unsubscribe from all" unsubscribes from every type not explicitly NOT_SUBSCRIBED.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gomme.connectors.hubspot.client import Endpoint, HubSpotApiError, Transport
from gomme.connectors.hubspot.mapping import EmailPreferences
from gomme.connectors.records import Consent, ConsentStatus

NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
SUBSCRIBED = "SUBSCRIBED"
PORTAL_WIDE = "PORTAL_WIDE_STATUS"


@dataclass(frozen=True, slots=True)
class Definition:
    id: str
    name: str


class Subscriptions:
    """The portal's subscription types and each email's status; unsubscribing is idempotent."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._definitions: tuple[Definition, ...] | None = None

    def definitions(self) -> tuple[Definition, ...]:
        if self._definitions is None:
            body = self._transport.call(Endpoint.DEFINITIONS, lambda apis, o: apis.definitions.get_page(**o)).body
            self._definitions = tuple(
                Definition(str(item["id"]), str(item.get("name") or ""))
                for item in body.get("subscriptionDefinitions") or ()
                if item.get("isActive", True)
            )
        return self._definitions

    def statuses(self, email: str) -> list[Mapping[str, Any]]:
        """`GET /communication-preferences/v3/status/email/{email}` (the client URL-encodes the address)."""
        response = self._transport.call(Endpoint.STATUS, lambda apis, o: apis.status.get_email_status(email, **o))
        return list(response.body.get("subscriptionStatuses") or ())

    def preferences(self, email: str) -> EmailPreferences:
        """The email's statuses as email consents; opted out when every type (or the whole portal) is off."""
        statuses = self.statuses(email)
        consents = tuple(
            Consent(
                channel="email",
                purpose=str(status.get("name") or status.get("id")).strip().lower(),
                status=ConsentStatus.OPT_IN if status.get("status") == SUBSCRIBED else ConsentStatus.OPT_OUT,
            )
            for status in statuses
        )
        return EmailPreferences(consents, _opted_out(statuses, self.definitions()))

    def unsubscribe_all(self, email: str) -> int:
        """Unsubscribe from every type not already off; returns the number of unsubscribe calls made."""
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

    def _unsubscribe(self, body: Mapping[str, str]) -> None:
        self._transport.call(Endpoint.UNSUBSCRIBE, lambda apis, o: apis.status.unsubscribe(body, **o))

    def _status_of(self, email: str, subscription_id: str) -> str | None:
        for status in self.statuses(email):
            if str(status.get("id")) == subscription_id:
                return str(status.get("status"))
        return None


def _opted_out(statuses: list[Mapping[str, Any]], definitions: tuple[Definition, ...]) -> bool:
    if any(s.get("sourceOfStatus") == PORTAL_WIDE and s.get("status") == NOT_SUBSCRIBED for s in statuses):
        return True
    off = {str(s.get("id")) for s in statuses if s.get("status") == NOT_SUBSCRIBED}
    return bool(definitions) and all(definition.id in off for definition in definitions)
