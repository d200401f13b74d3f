"""Subscription statuses through the v4 batch endpoints: 100 addresses a call, v3 when v4 is missing, 207s."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import urllib3
from fakes.hubspot import TOKEN, FakeHubSpot
from fakes.hubspot_portal import Portal
from fakes.hubspot_search import PortalError
from hubspot_testkit import Connect, planned

from gomme.connectors.hubspot import HubSpotConnector
from gomme.connectors.hubspot.subscriptions import SubscriptionPreferences, Subscriptions, SubscriptionStatus
from gomme.model.changes import Action, Outcome
from gomme.model.conditions import PullQuery
from gomme.model.records import Consent, ConsentStatus, PersonRecord

EVERYTHING = PullQuery(everything=True)
SIGNED = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)
MARKETING_OFF = {"101": "NOT_SUBSCRIBED", "102": "NOT_SUBSCRIBED"}  # 103 is one-to-one sales email: left alone


def seed(hubspot: FakeHubSpot, count: int) -> list[str]:
    """`count` contacts; the even ones subscribed to the newsletter, every third one off product updates."""
    ids = []
    for i in range(count):
        ids.append(hubspot.portal.add(email=f"p{i}@example.com", lastname=f"L{i}"))
        if i % 2 == 0:
            hubspot.portal.set_status(f"p{i}@example.com", "101", "SUBSCRIBED", at=SIGNED)
        if i % 3 == 0:
            hubspot.portal.set_status(f"p{i}@example.com", "102", "UNSUBSCRIBED", at=SIGNED)
    return ids


def consents(records: list[PersonRecord]) -> list[set[tuple[str, str, ConsentStatus]]]:
    return [{(c.channel, c.purpose, c.status) for c in record.consents} for record in records]


def subscriptions(connector: HubSpotConnector) -> Subscriptions:
    return connector._subscriptions  # the connector's own, on its transport


def test_a_250_contact_pull_reads_the_statuses_in_three_calls(hubspot: FakeHubSpot, connect: Connect) -> None:
    # given 250 contacts with statuses
    seed(hubspot, 250)
    # when everything is pulled with preferences
    records = list(connect(read_subscriptions=True).pull(EVERYTHING))
    # then one batch read per 100 addresses, and no v3 status call
    assert len(records) == 250
    assert hubspot.calls["prefs.batch_read"] == 3 and hubspot.calls["prefs.definitions"] == 1
    assert hubspot.calls["prefs.status"] == 0
    reads = hubspot.recorded("prefs.batch_read")
    assert [len(r.body["inputs"]) for r in reads] == [100, 100, 50]
    assert all(r.query == {"channel": ["EMAIL"]} for r in reads)
    assert consents(records[:4]) == [
        {("email", "newsletter", ConsentStatus.OPT_IN), ("email", "product updates", ConsentStatus.OPT_OUT)},
        set(),  # NOT_SPECIFIED everywhere: no consent row
        {("email", "newsletter", ConsentStatus.OPT_IN)},
        {("email", "product updates", ConsentStatus.OPT_OUT)},
    ]
    assert records[0].consents[0].captured_at == SIGNED


def test_preferences_are_read_a_page_at_a_time(hubspot: FakeHubSpot, connect: Connect) -> None:
    seed(hubspot, 250)
    # engagements aside: their associations are looked up 1,000 contacts at a time (test_hubspot_related.py)
    records = iter(connect(read_subscriptions=True, read_engagements=False).pull(EVERYTHING))
    next(records)
    assert hubspot.calls["contacts.list"] == 1 and hubspot.calls["prefs.batch_read"] == 1
    for _ in range(100):
        next(records)
    assert hubspot.calls["contacts.list"] == 2 and hubspot.calls["prefs.batch_read"] == 2


def test_get_reads_the_statuses_of_each_batch_once(hubspot: FakeHubSpot, connect: Connect) -> None:
    seeded = seed(hubspot, 150)
    records = list(connect(read_subscriptions=True).get([("contact", i) for i in seeded]))
    assert len(records) == 150 and hubspot.calls["prefs.batch_read"] == 2 and hubspot.calls["prefs.status"] == 0


@pytest.mark.parametrize("refusal", [404, 403])
def test_without_v4_statuses_are_read_with_v3_for_the_rest_of_the_run(
    hubspot: FakeHubSpot, connect: Connect, capsys: pytest.CaptureFixture[str], refusal: int
) -> None:
    # given a portal without the v4 batch endpoints (or an app without their scopes)
    seed(hubspot, 150)
    with_v4 = list(connect(read_subscriptions=True).pull(EVERYTHING))
    hubspot.reset_counts()
    capsys.readouterr()
    hubspot.v4, hubspot.v4_refusal = False, refusal
    # when everything is pulled with preferences
    connector = connect(read_subscriptions=True)
    records = list(connector.pull(EVERYTHING))
    # then v4 was tried once, every address read with v3, and the consents mean the same
    assert hubspot.calls["prefs.batch_read"] == 1 and hubspot.calls["prefs.status"] == 150
    assert consents(records) == consents(with_v4)
    assert all(c.captured_at is None for record in records for c in record.consents)  # v3 has no time
    logged = capsys.readouterr().out
    assert logged.count("hubspot_prefs_v4_unavailable") == 1 and "example.com" not in logged
    # and unsubscribing goes type by type (v3), the batch tried once, the types already off (as read) skipped:
    # p0 was off product updates already, p1 had no status at all
    results = list(connector.apply([planned(record.id, Action.RESTRICT_EMAIL) for record in records[:2]]))
    assert all(r.outcome is Outcome.APPLIED for r in results)
    assert hubspot.calls["prefs.batch_write"] == 1 and hubspot.calls["prefs.unsubscribe"] == 3
    assert hubspot.calls["prefs.status"] == 150 and hubspot.calls["prefs.batch_unsubscribe_all"] == 0
    assert hubspot.portal.status_of("p0@example.com") == hubspot.portal.status_of("p1@example.com") == MARKETING_OFF
    assert {r.body["legalBasis"] for r in hubspot.recorded("prefs.unsubscribe")} == {"LEGITIMATE_INTEREST_OTHER"}


def test_an_address_a_207_fails_is_read_alone_with_v3(hubspot: FakeHubSpot, connect: Connect) -> None:
    seed(hubspot, 5)
    hubspot.portal.v4_rejected.add("p2@example.com")
    records = list(connect(read_subscriptions=True).pull(EVERYTHING))
    assert hubspot.calls["prefs.batch_read"] == 1 and [r.path for r in hubspot.recorded("prefs.status")] == [
        "/communication-preferences/v3/status/email/p2%40example.com"
    ]
    assert consents(records)[2] == {("email", "newsletter", ConsentStatus.OPT_IN)}


def test_a_batch_refused_whole_is_split_to_find_the_address(
    hubspot: FakeHubSpot, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Portal.batch_statuses

    def strict(portal: Portal, body: Any, channel: str | None) -> tuple[int, dict[str, Any]]:
        if "p5@example.com" in body["inputs"]:
            raise PortalError(400, "VALIDATION_ERROR", "Invalid input p5@example.com")
        return original(portal, body, channel)

    monkeypatch.setattr(Portal, "batch_statuses", strict)
    seed(hubspot, 8)
    records = list(connect(read_subscriptions=True).pull(EVERYTHING))
    assert consents(records)[4:6] == [
        {("email", "newsletter", ConsentStatus.OPT_IN)},
        set(),
    ]
    assert hubspot.calls["prefs.status"] == 1  # p5 alone, with v3
    assert [len(r.body["inputs"]) for r in hubspot.recorded("prefs.batch_read")] == [8, 4, 4, 2, 1, 1, 2]


def test_statuses_carry_the_legal_basis_explanation_time_and_purpose(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    # given a status recorded with a legal basis and an explanation, and a type without any
    hubspot.portal.set_status(
        "Ada@Example.org", "101", "SUBSCRIBED", legal_basis="CONSENT_WITH_NOTICE",
        explanation="Ticked the box at the fair", at=SIGNED,
    )  # fmt: skip
    hubspot.portal.set_status("ada@example.org", "103", "NOT_SUBSCRIBED", legal_basis="LEGITIMATE_INTEREST_PQL")
    # when read (keys ignore case)
    found = subscriptions(connector).preferences_many(["ADA@example.org"])
    prefs = found["ada@example.org"]
    # then every type is there, with what HubSpot recorded, and the consents as before
    assert isinstance(prefs, SubscriptionPreferences)
    assert prefs.statuses[0] == SubscriptionStatus(
        "101", "Newsletter", "Marketing", "SUBSCRIBED", "CONSENT_WITH_NOTICE", "Ticked the box at the fair", SIGNED,
        source="IMPORT", business_unit_id=0,
    )  # fmt: skip
    assert [(s.subscription_id, s.purpose, s.status, s.legal_basis) for s in prefs.statuses[1:]] == [
        ("102", "Marketing", "NOT_SPECIFIED", None),
        ("103", "Sales", "UNSUBSCRIBED", "LEGITIMATE_INTEREST_PQL"),
    ]
    assert prefs.consents == (
        # how it was obtained: the explanation, else the status's legal basis (Art 7(1) proof)
        Consent("email", "newsletter", ConsentStatus.OPT_IN, captured_at=SIGNED, source="Ticked the box at the fair"),
        Consent(
            "email",
            "one to one",
            ConsentStatus.OPT_OUT,
            captured_at=prefs.statuses[2].timestamp,
            source="LEGITIMATE_INTEREST_PQL",
        ),
    )
    assert prefs.explanations == ("Ticked the box at the fair",) and not prefs.opted_out


def test_v3_statuses_carry_the_legal_basis_too(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    hubspot.v4 = False
    hubspot.portal.set_status("ada@example.org", "101", "SUBSCRIBED", "CONSENT_WITH_NOTICE", "Signed up online")
    prefs = subscriptions(connector).preferences("ada@example.org")
    assert prefs.statuses == (
        SubscriptionStatus("101", "Newsletter", "Marketing", "SUBSCRIBED", "CONSENT_WITH_NOTICE", "Signed up online",
                           None),
    )  # fmt: skip
    assert prefs.explanations == ("Signed up online",)


def test_every_type_off_is_opted_out(hubspot: FakeHubSpot, connect: Connect) -> None:
    seed(hubspot, 2)
    for subscription in ("101", "102", "103"):
        hubspot.portal.set_status("p1@example.com", subscription, "UNSUBSCRIBED")
    records = list(connect(read_subscriptions=True).pull(EVERYTHING))
    assert [r.opt_outs.email for r in records] == [False, True]


def test_unsubscribing_is_100_pairs_a_batch_call_and_idempotent(hubspot: FakeHubSpot, connect: Connect) -> None:
    # given 150 contacts, a third of them off product updates already
    seeded = seed(hubspot, 150)
    connector = connect()
    # when each is restricted (restrict_email), without a recent read
    results = list(connector.apply([planned(i, Action.RESTRICT_EMAIL) for i in seeded]))
    # then their statuses were read (2 calls), and 250 (address, marketing type) pairs written in 3 calls
    assert all(r.outcome is Outcome.APPLIED for r in results)
    assert hubspot.calls["prefs.batch_read"] == 2
    assert [len(r.body["inputs"]) for r in hubspot.recorded("prefs.batch_write")] == [100, 100, 50]
    assert hubspot.calls["prefs.status"] == hubspot.calls["prefs.unsubscribe"] == 0
    assert all(hubspot.portal.status_of(f"p{i}@example.com") == MARKETING_OFF for i in range(150))
    # and doing it again writes nothing (every marketing type is off) and succeeds
    again = list(connector.apply([planned(i, Action.RESTRICT_EMAIL) for i in seeded[:3]]))
    assert all(r.outcome is Outcome.APPLIED for r in again)
    assert hubspot.calls["prefs.batch_write"] == 3 and hubspot.calls["prefs.batch_unsubscribe_all"] == 0


def test_an_address_the_batch_unsubscribe_fails_fails_its_change_only(hubspot: FakeHubSpot, connect: Connect) -> None:
    seeded = seed(hubspot, 3)
    hubspot.portal.v4_rejected.add("p1@example.com")
    changes = [planned(i, Action.RESTRICT_ALL) for i in seeded]
    results = list(connect().apply(changes))
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.APPLIED, None), (Outcome.FAILED, "VALIDATION_ERROR"), (Outcome.APPLIED, None),
    ]  # fmt: skip
    assert hubspot.portal.status_of("p1@example.com") == {}  # untouched
    assert "gomme_restricted" not in (hubspot.portal.get(seeded[1]) or {})  # never marked without unsubscribing
    assert (hubspot.portal.get(seeded[0]) or {})["gomme_restricted"] == "true"


def test_an_error_naming_no_address_is_checked_by_reading_back(
    hubspot: FakeHubSpot, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous = {"status": "error", "category": "VALIDATION_ERROR", "message": "invalid input", "context": {}}
    monkeypatch.setattr(Portal, "_v4_error", staticmethod(lambda address, message=None: anonymous))
    seeded = seed(hubspot, 3)
    hubspot.portal.v4_rejected.add("p2@example.com")
    results = list(connect().apply([planned(i, Action.RESTRICT_EMAIL) for i in seeded]))
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.APPLIED, None), (Outcome.APPLIED, None), (Outcome.FAILED, "NO_RESULT"),
    ]  # fmt: skip


def test_a_lost_batch_unsubscribe_answer_is_repeated_safely(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    (record_id,) = seed(hubspot, 1)
    hubspot.inject("lost", route="prefs.batch_write")
    (result,) = connector.apply([planned(record_id, Action.RESTRICT_EMAIL)])
    assert result.outcome is Outcome.APPLIED and hubspot.calls["prefs.batch_write"] == 2
    assert hubspot.portal.status_of("p0@example.com") == MARKETING_OFF


def test_retried_batch_reads_log_no_address(
    hubspot: FakeHubSpot, connect: Connect, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(hubspot, 3)
    hubspot.inject("503", route="prefs.batch_read", times=2)
    hubspot.inject("reset", route="prefs.batch_write", times=1)
    connector = connect(read_subscriptions=True)
    records = list(connector.pull(EVERYTHING))
    list(connector.apply([planned(r.id, Action.RESTRICT_EMAIL) for r in records]))
    assert connector.stats.retries == 3 and connector.stats.calls["prefs.batch_read"] == 3
    logged = capsys.readouterr().out
    assert "hubspot_retry" in logged and "example.com" not in logged


def test_the_fake_refuses_more_than_100_inputs_and_a_missing_channel(hubspot: FakeHubSpot) -> None:
    def post(path: str, inputs: list[Any]) -> urllib3.BaseHTTPResponse:
        return urllib3.request(
            "POST", f"{hubspot.url}/communication-preferences/v4/statuses/batch/{path}",
            body=json.dumps({"inputs": inputs}), headers={"Authorization": f"Bearer {TOKEN}",
                                                          "Content-Type": "application/json"},
        )  # fmt: skip

    too_many = post("read?channel=EMAIL", [f"p{i}@example.com" for i in range(101)])
    assert too_many.status == 400 and too_many.json()["category"] == "VALIDATION_ERROR"
    assert post("unsubscribe-all", ["p0@example.com"]).status == 400  # no channel
    assert hubspot.calls["prefs.batch_read"] == 1 and hubspot.calls["prefs.batch_unsubscribe_all"] == 1
    write = {
        "subscriberIdString": "p0@example.com",
        "subscriptionId": 101,
        "channel": "EMAIL",
        "statusState": "UNSUBSCRIBED",
        "legalBasis": "LEGITIMATE_INTEREST_OTHER",
        "legalBasisExplanation": "x",
    }
    too_many = post("write", [write] * 101)
    assert too_many.status == 400 and too_many.json()["category"] == "VALIDATION_ERROR"
    assert hubspot.portal.status_of("p0@example.com") == {}  # nothing applied
    hubspot.v4 = False
    assert post("read?channel=EMAIL", ["p0@example.com"]).status == 404
