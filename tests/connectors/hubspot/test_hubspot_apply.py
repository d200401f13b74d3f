"""Writing to HubSpot: each action's exact requests, 207s, idempotence, bisection, GDPR delete and blocklist."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.hubspot import TOKEN, FakeHubSpot
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException
from hubspot_testkit import Connect, planned

from gomme.connectors.errors import FatalError, RetryableError
from gomme.connectors.hubspot import HubSpotConnector
from gomme.connectors.hubspot.writer import ANONYMISED_DETAIL, HISTORY_REMAINS
from gomme.model.changes import Action, ChangeResult, Outcome
from gomme.model.conditions import PullQuery
from gomme.model.related import RelatedOutcome

ANONYMISED = {
    "email": "", "firstname": "", "phone": "", "mobilephone": "", "date_of_birth": "", "message": "",
    "address": "", "city": "", "state": "", "zip": "", "jobtitle": "", "company": "", "website": "",
    "lastname": "ANONYMISED",
}  # fmt: skip


@pytest.fixture
def ada(hubspot: FakeHubSpot) -> str:
    """A contact with every mapped field set, subscribed to one type and unsubscribed from another."""
    record_id = hubspot.portal.add(
        email="ada@example.org", firstname="Ada", lastname="Example", phone="+33 1 99 00 12 34", city="Lyon",
        date_of_birth="1980-05-17", message="Met at the fair.", lifecyclestage="customer", country="France",
    )  # fmt: skip
    hubspot.portal.set_status("ada@example.org", "101", "SUBSCRIBED")
    hubspot.portal.set_status("ada@example.org", "102", "NOT_SUBSCRIBED")
    return record_id


def unsubscribes(hubspot: FakeHubSpot) -> list[tuple[str, int, str]]:
    """(address, type, state) of each per-type v4 write, in order."""
    return [
        (item["subscriberIdString"], item["subscriptionId"], item["statusState"])
        for request in hubspot.recorded("prefs.batch_write")
        for item in request.body["inputs"]
    ]


def updates(hubspot: FakeHubSpot) -> list[Any]:
    return [request.body for request in hubspot.recorded("contacts.batch_update")]


MARKETING_OFF = {"101": "NOT_SUBSCRIBED", "102": "NOT_SUBSCRIBED"}  # 103 (one to one) untouched: never set
ALL_OFF = {**MARKETING_OFF, "103": "NOT_SUBSCRIBED"}
EXPECTED_REQUESTS: list[
    tuple[Action, tuple[Action, ...], dict[str, int], dict[str, str] | None, tuple[str, ...], dict[str, str] | None]
] = [
    # action, also, calls by route, properties sent in the batch update, the types unsubscribed (one v4 batch
    # write; those already off, as read with the record, are skipped), the statuses left; the portal's properties
    # were read with the record (is the legal-basis property there?), not again to write
    (Action.KEEP, (), {}, None, (), None),
    (Action.RESTRICT_EMAIL, (), {"prefs.batch_write": 1}, None, ("101",), MARKETING_OFF),
    (Action.RESTRICT_ALL, (), {"prefs.batch_write": 1,
                               "contacts.batch_update": 1}, {"gomme_restricted": "true"}, ("101", "103"), ALL_OFF),
    (Action.ANONYMISE, (), {"contacts.batch_update": 1}, ANONYMISED, (), None),
    (Action.REDACT_NOTE, (), {"contacts.batch_update": 1}, {"message": "[redacted]"}, (), None),
    (Action.RESTRICT_ALL, (Action.REDACT_NOTE,), {"prefs.batch_write": 1, "contacts.batch_update": 1},
     {"gomme_restricted": "true", "message": "[redacted]"}, ("101", "103"), ALL_OFF),
    (Action.DELETE, (), {"contacts.gdpr_delete": 1}, None, (), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "also", "calls", "properties", "unsubscribed", "left"), EXPECTED_REQUESTS,
    ids=[f"{row[0]}{'+' if row[1] else ''}{'+'.join(row[1])}" for row in EXPECTED_REQUESTS],
)  # fmt: skip
def test_each_action_sends_exactly_its_requests(
    hubspot: FakeHubSpot,
    connector: HubSpotConnector,
    ada: str,
    action: Action,
    also: tuple[Action, ...],
    calls: dict[str, int],
    properties: dict[str, str] | None,
    unsubscribed: tuple[str, ...],
    left: dict[str, str] | None,
) -> None:
    values = {"notes.description": "[redacted]"} if Action.REDACT_NOTE in (action, *also) else {}
    list(connector.get([("contact", ada)]))  # the apply loop re-reads every record just before writing it
    hubspot.reset_counts()
    (result,) = connector.apply([planned(ada, action, *also, **values)])
    assert result.outcome is Outcome.APPLIED, result
    assert dict(hubspot.calls) == calls
    if properties is not None:
        assert updates(hubspot) == [{"inputs": [{"id": ada, "properties": properties}]}]
    assert unsubscribes(hubspot) == [("ada@example.org", int(t), "UNSUBSCRIBED") for t in unsubscribed]
    if left is not None:
        assert hubspot.portal.status_of("ada@example.org") == left
        assert not hubspot.portal.opted_out_all  # never opted out of all email (no undo)
    if action is Action.DELETE:
        assert hubspot.recorded("contacts.gdpr_delete")[0].body == {"objectId": ada}  # by id: no address sent
        assert hubspot.portal.get(ada) is None and "ada@example.org" in hubspot.portal.blocklist


def test_anonymise_leaves_the_fixed_marker_and_nothing_identifying(
    hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str
) -> None:
    (result,) = connector.apply([planned(ada, Action.ANONYMISE)])
    # HubSpot keeps the overwritten values in the contact's property history: pseudonymised, by name
    remains = RelatedOutcome(remains=(HISTORY_REMAINS,))
    assert result == ChangeResult(f"anonymise-{ada}", Outcome.APPLIED, detail=ANONYMISED_DETAIL, related=remains)
    assert result.related is not None and result.related.erasure == "pseudonymised"
    stored = hubspot.portal.get(ada) or {}
    assert not {"email", "firstname", "phone", "date_of_birth", "message", "city"} & set(stored)
    assert (stored["lastname"], stored["country"], stored["lifecyclestage"]) == ("ANONYMISED", "France", "customer")
    (record,) = connector.get([("contact", ada)])
    assert record.anonymised and record.email is None and record.notes == {}


@pytest.mark.parametrize("action", [Action.ANONYMISE, Action.RESTRICT_ALL, Action.RESTRICT_EMAIL, Action.DELETE])
def test_applying_twice_succeeds_and_changes_nothing_more(
    hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str, action: Action
) -> None:
    connector.apply([planned(ada, action)])
    before = hubspot.portal.get(ada)
    hubspot.reset_counts()
    (result,) = connector.apply([planned(ada, action)])
    assert result.outcome is Outcome.APPLIED
    assert hubspot.portal.get(ada) == before  # lastmodifieddate included: nothing was changed
    assert hubspot.calls["prefs.unsubscribe"] == hubspot.calls["prefs.batch_write"] == 0  # every type is off


def test_a_207_gives_each_record_its_own_outcome(hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str) -> None:
    other = hubspot.portal.add(email="bob@example.org", lastname="Bob")
    changes = [planned(ada, Action.ANONYMISE), planned("99999", Action.ANONYMISE), planned(other, Action.ANONYMISE)]
    results = list(connector.apply(changes))
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.APPLIED, None), (Outcome.FAILED, "NOT_FOUND"), (Outcome.APPLIED, None),
    ]  # fmt: skip
    assert hubspot.calls["contacts.batch_update"] == 1


@pytest.mark.parametrize("mode", ["gdpr", "archive"])
def test_deleting_a_record_already_gone_counts_as_deleted(
    hubspot: FakeHubSpot, connect: Connect, ada: str, mode: str
) -> None:
    connector = connect(delete_mode=mode)
    hubspot.portal.gdpr_delete({"objectId": ada})
    (result,) = connector.apply([planned(ada, Action.DELETE)])
    assert result.outcome is Outcome.APPLIED and result.error_code is None


def test_archive_mode_archives_in_batches_instead_of_erasing(hubspot: FakeHubSpot, connect: Connect, ada: str) -> None:
    connector = connect(delete_mode="archive")
    (result,) = connector.apply([planned(ada, Action.DELETE)])
    assert result.outcome is Outcome.APPLIED and result.detail == "archived"
    assert hubspot.recorded("contacts.batch_archive")[0].body == {"inputs": [{"id": ada}]}
    assert int(ada) in hubspot.portal.archived and "ada@example.org" not in hubspot.portal.blocklist


def test_a_gdpr_deleted_email_cannot_be_imported_again(
    hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str
) -> None:
    connector.apply([planned(ada, Action.DELETE)])
    client = HubSpot(access_token=TOKEN, host=hubspot.url)
    with pytest.raises(ApiException) as refused:
        client.crm.contacts.basic_api.create({"properties": {"email": "ada@example.org", "firstname": "Ada"}})
    assert refused.value.status == 400 and "blocklisted" in refused.value.body
    created = client.crm.contacts.basic_api.create({"properties": {"email": "other@example.org"}})
    assert created.id not in (None, ada)


def test_a_bad_input_fails_alone_while_the_rest_of_its_batch_lands(
    hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str
) -> None:
    others = [hubspot.portal.add(email=f"p{i}@example.com") for i in range(7)]
    # rectifying one email to an address another contact holds makes HubSpot refuse the whole batch (409)
    bad = planned(others[2], Action.RECTIFY, email="ada@example.org")
    changes = (
        [planned(i, Action.RECTIFY, first_name="Fixed") for i in others[:2]]
        + [bad]
        + [planned(i, Action.RECTIFY, first_name="Fixed") for i in others[3:]]
    )
    results = list(connector.apply(changes))
    assert [r.error_code for r in results] == [None, None, "CONFLICT", None, None, None, None]
    assert all((hubspot.portal.get(i) or {}).get("firstname") == "Fixed" for i in others if i != others[2])
    assert hubspot.calls["contacts.batch_update"] <= 1 + 2 * 3  # one batch, then halves down to the culprit


def test_batches_hold_at_most_100_inputs_and_an_id_once(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    seeded = [hubspot.portal.add(email=f"p{i}@example.com", message="note") for i in range(250)]
    changes = [planned(i, Action.ANONYMISE) for i in seeded]
    changes.insert(10, planned(seeded[0], Action.REDACT_NOTE, **{"notes.description": "[x]"}))
    results = list(connector.apply(changes))
    assert all(r.outcome is Outcome.APPLIED for r in results)
    assert [len(body["inputs"]) for body in updates(hubspot)] == [10, 100, 100, 41]


def test_read_only_properties_are_never_sent(hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str) -> None:
    hubspot.portal.define("message", "string", read_only=True)  # e.g. a calculated note property
    hubspot.portal.properties.pop("website")  # and one the portal does not have
    (result,) = connector.apply([planned(ada, Action.ANONYMISE)])
    assert result.outcome is Outcome.APPLIED
    sent = updates(hubspot)[0]["inputs"][0]["properties"]
    assert "message" not in sent and "website" not in sent and sent["lastname"] == "ANONYMISED"
    (redact,) = connector.apply([planned(ada, Action.REDACT_NOTE, **{"notes.description": "[x]"})])
    assert (redact.outcome, redact.error_code) == (Outcome.FAILED, "READ_ONLY_PROPERTY")


def test_a_missing_default_restriction_property_fails_each_restriction_alone_before_writing(
    hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str
) -> None:
    bo = hubspot.portal.add(email="bo@example.org", lastname="Sample")
    hubspot.portal.set_status("bo@example.org", "101", "SUBSCRIBED")
    hubspot.portal.properties.pop("gomme_restricted")
    results = list(connector.apply([planned(ada, Action.RESTRICT_ALL), planned(bo, Action.RESTRICT_EMAIL)]))
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.FAILED, "RESTRICTION_PROPERTY_MISSING"),
        (Outcome.APPLIED, None),
    ]
    assert hubspot.calls["contacts.batch_update"] == 0  # nothing written for the restriction that could not be
    assert any("gomme_restricted: not in the portal" in n for n in connector.notices())


def test_a_named_restriction_property_the_portal_lacks_stops_the_run(
    hubspot: FakeHubSpot, connect: Connect, ada: str
) -> None:
    connector = connect(restriction_property="our_restriction_flag")
    with pytest.raises(FatalError, match="restriction_property: contact property our_restriction_flag: not in"):
        connector.apply([planned(ada, Action.RESTRICT_ALL)])
    assert hubspot.calls["contacts.batch_update"] == hubspot.calls["prefs.batch_write"] == 0  # no write


def test_a_named_property_the_portal_lacks_stops_before_any_read(hubspot: FakeHubSpot, connect: Connect) -> None:
    connector = connect(legal_hold_property="no_such_hold", anonymise_properties=["address", "fax_number"])
    with pytest.raises(FatalError) as caught:
        list(connector.pull(PullQuery()))
    assert "legal_hold_property: contact property no_such_hold: not in the portal" in str(caught.value)
    assert "anonymise_properties: contact property fax_number: not in the portal" in str(caught.value)
    assert hubspot.calls["contacts.list"] == 0 and hubspot.calls["contacts.search"] == 0


def test_the_restriction_marker_is_written_only_once_the_email_is_unsubscribed(
    hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str
) -> None:
    hubspot.inject("503", route="prefs.batch_write", times=50)
    with pytest.raises(RetryableError):
        connector.apply([planned(ada, Action.RESTRICT_ALL)])
    assert "gomme_restricted" not in (hubspot.portal.get(ada) or {})
    assert hubspot.calls["contacts.batch_update"] == 0


def test_changes_for_another_crm_or_a_non_contact_fail_without_a_call(
    hubspot: FakeHubSpot, connector: HubSpotConnector, ada: str
) -> None:
    changes = [planned(ada, Action.ANONYMISE, crm="sf"), planned("abc", Action.DELETE)]
    assert [r.error_code for r in connector.apply(changes)] == ["WRONG_CRM", "NOT_FOUND"]
    assert set(hubspot.calls) <= {"properties.list"}  # the portal's properties, read once per connector


def test_without_a_recent_read_the_addresses_are_read_in_one_batch(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    seeded = [hubspot.portal.add(email=f"p{i}@example.com") for i in range(3)]
    results = list(connector.apply([planned(i, Action.RESTRICT_EMAIL) for i in [*seeded, "99999"]]))
    assert [r.error_code for r in results] == [None, None, None, "NOT_FOUND"]
    assert hubspot.calls["contacts.batch_read"] == 1 and hubspot.calls["prefs.batch_write"] == 1
    assert hubspot.calls["prefs.batch_read"] == 1  # not read recently: the statuses first, 100 addresses a call
    assert hubspot.recorded("contacts.batch_read")[0].body["properties"] == ["email"]


def test_a_contact_without_email_is_restricted_without_preference_calls(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    record_id = hubspot.portal.add(lastname="NoMail")
    (result,) = connector.apply([planned(record_id, Action.RESTRICT_ALL)])
    assert result.outcome is Outcome.APPLIED
    assert hubspot.calls["prefs.status"] == hubspot.calls["prefs.batch_read"] == hubspot.calls["prefs.batch_write"] == 0
    assert (hubspot.portal.get(record_id) or {})["gomme_restricted"] == "true"
