"""The fake HubSpot itself, through the real client: it refuses what HubSpot refuses, and says what HubSpot says."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fakes.hubspot import TOKEN, FakeHubSpot, Limits
from hubspot import HubSpot
from hubspot.communication_preferences import ApiException as PrefsApiException
from hubspot.crm.contacts import ApiException


@pytest.fixture
def client(hubspot: FakeHubSpot) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=hubspot.url)


def keyset(*groups: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    return {"filterGroups": [{"filters": filters} for filters in groups], **body}


HAS_EMAIL = {"propertyName": "email", "operator": "HAS_PROPERTY"}


def searching(body: dict[str, Any]) -> Callable[[HubSpot], Any]:
    return lambda client: client.crm.contacts.search_api.do_search(body)


def updating(properties: dict[str, str]) -> Callable[[HubSpot], Any]:
    return lambda client: client.crm.contacts.batch_api.update({"inputs": [{"id": "1001", "properties": properties}]})


def reading(count: int) -> Callable[[HubSpot], Any]:
    body = {"inputs": [{"id": str(i)} for i in range(count)], "properties": [], "propertiesWithHistory": []}
    return lambda client: client.crm.contacts.batch_api.read(body)


REFUSED: list[tuple[str, Callable[[HubSpot], Any]]] = [
    ("search beyond 10,000 results", searching(keyset([HAS_EMAIL], after="9900", limit=200))),
    ("six filter groups", searching(keyset(*[[HAS_EMAIL]] * 6))),
    ("seven filters in a group", searching(keyset([HAS_EMAIL] * 7))),
    ("nineteen filters in all", searching(keyset(*[[HAS_EMAIL] * 4] * 4, [HAS_EMAIL] * 3))),
    ("a search page over 200", searching(keyset([HAS_EMAIL], limit=201))),
    ("a list page over 100", lambda client: client.crm.contacts.basic_api.get_page(limit=101)),
    ("a batch over 100 inputs", reading(101)),
    ("a read-only property", updating({"hs_email_optout": "true"})),
    ("an unknown property", updating({"shoe_size": "42"})),
]


@pytest.mark.parametrize("call", [row[1] for row in REFUSED], ids=[row[0] for row in REFUSED])
def test_the_fake_refuses_what_hubspot_refuses(
    hubspot: FakeHubSpot, client: HubSpot, call: Callable[[HubSpot], Any]
) -> None:
    hubspot.portal.add(email="ada@example.org")
    with pytest.raises(ApiException) as refused:
        call(client)
    assert refused.value.status == 400
    assert json.loads(refused.value.body)["category"] == "VALIDATION_ERROR"


def test_neq_does_not_match_a_contact_without_the_value(hubspot: FakeHubSpot, client: HubSpot) -> None:
    hubspot.portal.add(email="a@example.org", city="Lyon")
    hubspot.portal.add(email="b@example.org")
    body = keyset([{"propertyName": "city", "operator": "NEQ", "value": "Paris"}])
    assert client.crm.contacts.search_api.do_search(body).total == 1


def test_rate_limited_answers_carry_hubspots_body_and_headers(hubspot: FakeHubSpot, client: HubSpot) -> None:
    hubspot.limits = Limits(per_window=2, window_seconds=10.0)
    _, _, headers = client.crm.contacts.basic_api.get_page_with_http_info()
    assert (headers["X-HubSpot-RateLimit-Max"], headers["X-HubSpot-RateLimit-Remaining"]) == ("2", "1")
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert "X-HubSpot-RateLimit-Daily-Remaining" in headers
    client.crm.contacts.basic_api.get_page()
    with pytest.raises(ApiException) as limited:
        client.crm.contacts.basic_api.get_page()
    body = json.loads(limited.value.body)
    assert limited.value.status == 429 and "Retry-After" not in limited.value.headers
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
    assert limited.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_search_answers_carry_no_rate_limit_headers(hubspot: FakeHubSpot, client: HubSpot) -> None:
    _, status, headers = client.crm.contacts.search_api.do_search_with_http_info(keyset([HAS_EMAIL]))
    assert status == 200 and not [name for name in headers if name.startswith("X-HubSpot-RateLimit")]


def test_an_unknown_token_is_unauthorised(hubspot: FakeHubSpot) -> None:
    with pytest.raises(ApiException) as refused:
        HubSpot(access_token="nope", host=hubspot.url).crm.contacts.basic_api.get_page()
    assert refused.value.status == 401


def test_statuses_list_explicit_ones_and_a_second_unsubscribe_is_refused(hubspot: FakeHubSpot, client: HubSpot) -> None:
    hubspot.portal.set_status("ada+news@example.org", "101", "SUBSCRIBED")
    status_api = client.communication_preferences.status_api
    statuses = status_api.get_email_status("ada+news@example.org").subscription_statuses
    assert [(s.id, s.status) for s in statuses] == [("101", "SUBSCRIBED")]
    request = {"emailAddress": "ada+news@example.org", "subscriptionId": "101"}
    with pytest.raises(PrefsApiException) as unexplained:  # GDPR features on: a legal basis is required
        status_api.unsubscribe(request)
    assert unexplained.value.status == 400
    request |= {"legalBasis": "LEGITIMATE_INTEREST_OTHER", "legalBasisExplanation": "test"}
    assert status_api.unsubscribe(request).status == "NOT_SUBSCRIBED"
    with pytest.raises(PrefsApiException) as refused:
        status_api.unsubscribe(request)
    assert refused.value.status == 400
    hubspot.portal.gdpr = False  # without GDPR features, no basis is needed
    assert status_api.unsubscribe({"emailAddress": "ada+news@example.org", "subscriptionId": "102"}).status == (
        "NOT_SUBSCRIBED"
    )


def test_gdpr_delete_by_email_blocklists_an_address_never_seen(hubspot: FakeHubSpot, client: HubSpot) -> None:
    client.crm.contacts.basic_api.purge({"objectId": "stranger@example.org", "idProperty": "email"})
    assert "stranger@example.org" in hubspot.portal.blocklist
