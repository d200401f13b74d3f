"""Unsubscribing type by type: restrict_email stops marketing email only, restrict_all every type; never all email.

The fake portal's types: 101 Newsletter and 102 Product updates (purpose Marketing), 103 One to one (Sales).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes.hubspot import TOKEN, FakeHubSpot
from fakes.hubspot_portal import Portal
from fakes.hubspot_search import PortalError
from hubspot_testkit import Connect, planned
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.errors import RetryableError
from gomme.connectors.hubspot.subscriptions import Definition, marketing_types
from gomme.model.changes import Action, Outcome, PlannedChange
from gomme.model.conditions import PullQuery
from gomme.model.records import ConsentStatus

EVERYTHING = PullQuery(everything=True)
NS, SUB = "NOT_SUBSCRIBED", "SUBSCRIBED"
MARKETING_OFF = {"101": NS, "102": NS, "103": SUB}  # one-to-one sales email stays
ALL_OFF = {"101": NS, "102": NS, "103": NS}
EXPECTED = {Action.RESTRICT_EMAIL: MARKETING_OFF, Action.RESTRICT_ALL: ALL_OFF}


def seed(hubspot: FakeHubSpot, count: int) -> list[str]:
    """`count` contacts subscribed to the newsletter and to one-to-one email; product updates not specified."""
    ids = []
    for i in range(count):
        ids.append(hubspot.portal.add(email=f"u{i}@example.com", lastname=f"U{i}"))
        hubspot.portal.set_status(f"u{i}@example.com", "101", SUB, "CONSENT_WITH_NOTICE", "Signed up online")
        hubspot.portal.set_status(f"u{i}@example.com", "103", SUB, "LEGITIMATE_INTEREST_CLIENT", "Sales contact")
    return ids


def written(hubspot: FakeHubSpot) -> list[dict[str, Any]]:
    return [item for request in hubspot.recorded("prefs.batch_write") for item in request.body["inputs"]]


@pytest.mark.parametrize("v4", [True, False], ids=["v4", "v3"])
@pytest.mark.parametrize("action", [Action.RESTRICT_EMAIL, Action.RESTRICT_ALL])
def test_each_restriction_unsubscribes_its_types_and_never_from_all_email(
    hubspot: FakeHubSpot, connect: Connect, action: Action, v4: bool
) -> None:
    # given a contact subscribed to a marketing type and to one-to-one email
    (record_id,) = seed(hubspot, 1)
    hubspot.v4 = v4
    connector = connect()
    # when it is restricted
    (result,) = connector.apply([planned(record_id, action)])
    # then restrict_email turned its marketing types off and left one-to-one alone; restrict_all turned every type
    # off; neither opted the address out of all email (HubSpot has no undo for that)
    assert result.outcome is Outcome.APPLIED, result
    assert hubspot.portal.status_of("u0@example.com") == EXPECTED[action]
    assert not hubspot.portal.opted_out_all and hubspot.calls["prefs.batch_unsubscribe_all"] == 0
    # with a legal basis and an explanation naming the rule (GDPR portals refuse a write without them)
    sent = written(hubspot) if v4 else [r.body for r in hubspot.recorded("prefs.unsubscribe")]
    assert {(s["legalBasis"], s["legalBasisExplanation"]) for s in sent} == {
        ("LEGITIMATE_INTEREST_OTHER", "gomme: GDPR restriction (rule)")
    }
    assert len(sent) == (2 if action is Action.RESTRICT_EMAIL else 3)  # one-to-one: only for restrict_all
    assert hubspot.portal.status_details["u0@example.com"]["103"].explanation == (
        "Sales contact" if action is Action.RESTRICT_EMAIL else "gomme: GDPR restriction (rule)"
    )
    # and the record reads back opted out of email, its one-to-one subscription still there for restrict_email
    (record,) = connect(read_subscriptions=True).get([("contact", record_id)])
    assert record.opt_outs.email
    one_to_one = [c.status for c in record.consents if c.purpose == "one to one"]
    assert one_to_one == [ConsentStatus.OPT_IN if action is Action.RESTRICT_EMAIL else ConsentStatus.OPT_OUT]


def test_types_already_off_are_not_written_again(hubspot: FakeHubSpot, connect: Connect) -> None:
    (record_id,) = seed(hubspot, 1)
    hubspot.portal.set_status("u0@example.com", "102", "UNSUBSCRIBED", None, "The person's own choice")
    connector = connect()
    list(connector.get([("contact", record_id)]))  # the apply loop reads the record (and statuses) first
    hubspot.reset_counts()
    (result,) = connector.apply([planned(record_id, Action.RESTRICT_ALL)])
    assert result.outcome is Outcome.APPLIED
    assert [(i["subscriberIdString"], i["subscriptionId"]) for i in written(hubspot)] == [
        ("u0@example.com", 101), ("u0@example.com", 103)
    ]  # fmt: skip
    assert hubspot.calls["prefs.batch_read"] == 0  # the statuses read with the record serve
    assert hubspot.portal.status_details["u0@example.com"]["102"].explanation == "The person's own choice"


def test_portals_whose_types_carry_no_purpose_are_told_apart_by_name(hubspot: FakeHubSpot, connect: Connect) -> None:
    hubspot.portal.definitions = [
        {"id": "201", "name": "Newsletter"}, {"id": "202", "name": "One to One"}, {"id": "203", "name": "Sales"},
        {"id": "204", "name": "Customer Service"}, {"id": "205", "name": "Webinars & events"},
    ]  # fmt: skip
    record_id = hubspot.portal.add(email="ada@example.org")
    (result,) = connect().apply([planned(record_id, Action.RESTRICT_EMAIL)])
    assert result.outcome is Outcome.APPLIED
    assert hubspot.portal.status_of("ada@example.org") == {"201": NS, "205": NS}


def test_marketing_types_by_purpose_else_by_name_else_all() -> None:
    by_purpose = (Definition("1", "News", "MARKETING"), Definition("2", "One to one", "Sales"), Definition("3", "X"))
    assert [d.id for d in marketing_types(by_purpose)] == ["1"]
    by_name = (Definition("1", "News"), Definition("2", "one-to-one"), Definition("3", "Sales updates"),
               Definition("4", "Service notices"), Definition("5", "Offers"))  # fmt: skip
    assert [d.id for d in marketing_types(by_name)] == ["1", "5"]
    only_sales = (Definition("1", "One to one", "Sales"), Definition("2", "Support", "Service"))
    assert marketing_types(only_sales) == only_sales  # nothing to stop marketing with otherwise
    assert marketing_types(()) == ()


@pytest.mark.parametrize("v4", [True, False], ids=["v4", "v3"])
def test_a_lost_answer_is_repeated_and_counts_as_done(hubspot: FakeHubSpot, connect: Connect, v4: bool) -> None:
    (record_id,) = seed(hubspot, 1)
    hubspot.v4 = v4
    route = "prefs.batch_write" if v4 else "prefs.unsubscribe"
    hubspot.inject("lost", route=route)  # HubSpot applies it, then the connection drops before the answer
    (result,) = connect().apply([planned(record_id, Action.RESTRICT_ALL)])
    assert result.outcome is Outcome.APPLIED, result
    assert hubspot.portal.status_of("u0@example.com") == ALL_OFF
    assert hubspot.calls[route] == (2 if v4 else 4)  # v3: the repeat answers 400 "already", checked by a read


def test_re_applying_after_the_retries_ran_out_succeeds(hubspot: FakeHubSpot, connect: Connect) -> None:
    # given an unsubscribe HubSpot carried out while every answer was lost, so the run stopped
    (record_id,) = seed(hubspot, 1)
    hubspot.inject("lost", route="prefs.batch_write", times=99)
    with pytest.raises(RetryableError):
        connect().apply([planned(record_id, Action.RESTRICT_EMAIL)])
    assert hubspot.portal.status_of("u0@example.com") == MARKETING_OFF
    # when the next run applies the change again
    hubspot.clear_faults()
    hubspot.reset_counts()
    (result,) = connect().apply([planned(record_id, Action.RESTRICT_EMAIL)])
    # then it reads the statuses, finds the marketing types off and succeeds without writing
    assert result.outcome is Outcome.APPLIED
    assert hubspot.calls["prefs.batch_read"] == 1 and hubspot.calls["prefs.batch_write"] == 0


def test_a_type_already_off_counts_as_done_when_written_again(hubspot: FakeHubSpot, connect: Connect) -> None:
    # statuses not known (the read failed): every targeted type is written, NO_STATUS_CHANGE is success
    (record_id,) = seed(hubspot, 1)
    hubspot.portal.set_status("u0@example.com", "102", "UNSUBSCRIBED", None, "The person's own choice")
    hubspot.portal.v4_rejected.add("u0@example.com")
    hubspot.inject("500", route="prefs.status", times=99)
    connector = connect(max_attempts=1)
    with pytest.raises(RetryableError):
        connector.apply([planned(record_id, Action.RESTRICT_EMAIL)])
    hubspot.clear_faults()
    hubspot.portal.v4_rejected.clear()
    (result,) = connector.apply([planned(record_id, Action.RESTRICT_EMAIL)])
    assert result.outcome is Outcome.APPLIED
    assert hubspot.portal.status_details["u0@example.com"]["102"].explanation == "The person's own choice"


def test_a_v3_failure_fails_only_that_address(
    hubspot: FakeHubSpot, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Portal.change_status

    def refusing(portal: Portal, body: Any, status: str) -> dict[str, Any]:
        if body.get("emailAddress") == "u1@example.com":
            raise PortalError(400, "VALIDATION_ERROR", "Invalid email u1@example.com")
        return original(portal, body, status)

    monkeypatch.setattr(Portal, "change_status", refusing)
    hubspot.v4 = False
    seeded = seed(hubspot, 3)
    results = list(connect().apply([planned(i, Action.RESTRICT_ALL) for i in seeded]))
    assert [(r.outcome, r.error_code) for r in results] == [
        (Outcome.APPLIED, None), (Outcome.FAILED, "VALIDATION_ERROR"), (Outcome.APPLIED, None),
    ]  # fmt: skip
    assert "gomme_restricted" not in (hubspot.portal.get(seeded[1]) or {})  # never marked without unsubscribing
    assert hubspot.portal.status_of("u2@example.com") == ALL_OFF


# (v4, action, read just before) → calls to restrict 250 contacts, each subscribed to one marketing type and to
# one-to-one email (the other marketing type not specified): 2 pairs each for restrict_email, 3 for restrict_all.
# Not read just before: the addresses and statuses are read first (and, once per connector, the portal's properties
# and subscription types).
ONCE = {"properties.list": 1, "prefs.definitions": 1}
CALLS_FOR_250: list[tuple[bool, Action, bool, dict[str, int]]] = [
    (True, Action.RESTRICT_EMAIL, True, {"prefs.batch_write": 5}),
    (True, Action.RESTRICT_ALL, True, {"prefs.batch_write": 8, "contacts.batch_update": 3}),
    (True, Action.RESTRICT_EMAIL, False, {**ONCE, "contacts.batch_read": 3, "prefs.batch_read": 3,
                                          "prefs.batch_write": 5}),
    (False, Action.RESTRICT_EMAIL, True, {"prefs.batch_write": 1, "prefs.unsubscribe": 500}),
    (False, Action.RESTRICT_ALL, True, {"prefs.batch_write": 1, "prefs.unsubscribe": 750,
                                        "contacts.batch_update": 3}),
    (False, Action.RESTRICT_EMAIL, False, {**ONCE, "contacts.batch_read": 3, "prefs.batch_read": 1,
                                           "prefs.status": 250, "prefs.batch_write": 1, "prefs.unsubscribe": 500}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("v4", "action", "warm", "calls"), CALLS_FOR_250,
    ids=[f"{'v4' if v4 else 'v3'}-{action}-{'read' if warm else 'cold'}" for v4, action, warm, _ in CALLS_FOR_250],
)  # fmt: skip
def test_the_calls_to_restrict_250_contacts(
    hubspot: FakeHubSpot, connect: Connect, v4: bool, action: Action, warm: bool, calls: dict[str, int]
) -> None:
    seeded = seed(hubspot, 250)
    hubspot.v4 = v4
    connector = connect()
    if warm:
        list(connector.get([("contact", i) for i in seeded]))  # as the apply loop does before writing
    hubspot.reset_counts()
    results = list(connector.apply([planned(i, action) for i in seeded]))
    assert all(r.outcome is Outcome.APPLIED for r in results)
    assert dict(hubspot.calls) == calls
    assert all(hubspot.portal.status_of(f"u{i}@example.com") == EXPECTED[action] for i in range(250))
    if v4:
        assert max(len(r.body["inputs"]) for r in hubspot.recorded("prefs.batch_write")) == 100


def test_the_fake_batch_write_fails_bad_inputs_alone(hubspot: FakeHubSpot, connect: Connect) -> None:
    seed(hubspot, 2)
    good = {
        "subscriberIdString": "u0@example.com",
        "subscriptionId": 101,
        "channel": "EMAIL",
        "statusState": "UNSUBSCRIBED",
        "legalBasis": "LEGITIMATE_INTEREST_OTHER",
        "legalBasisExplanation": "x",
    }
    unexplained = {**good, "subscriberIdString": "u1@example.com", "legalBasis": None}
    status, body = hubspot.portal.batch_write({"inputs": [good, unexplained, {**good, "subscriptionId": 999}]})
    assert status == 207 and [e["context"]["ids"] for e in body["errors"]] == [["u1@example.com"], ["u0@example.com"]]
    assert [r["setStatusSuccessReason"] for r in body["results"]] == ["REQUESTED_CHANGE_OCCURRED"]
    status, body = hubspot.portal.batch_write({"inputs": [good]})
    assert status == 200 and body["results"][0]["setStatusSuccessReason"] == "NO_STATUS_CHANGE"
    with pytest.raises(PortalError):
        hubspot.portal.batch_write({"inputs": [good] * 101})


def test_gommes_own_explanation_is_never_read_as_parental_consent(hubspot: FakeHubSpot, connect: Connect) -> None:
    (record_id,) = seed(hubspot, 1)
    change = planned(record_id, Action.RESTRICT_EMAIL)
    change = PlannedChange(
        change.change_id, "hs", "contact", record_id, Action.RESTRICT_EMAIL, "parental-consent-missing", "basis",
        "0" * 64,
    )  # fmt: skip
    (result,) = connect().apply([change])
    assert result.outcome is Outcome.APPLIED
    (record,) = connect(read_subscriptions=True).get([("contact", record_id)])
    assert not record.parental_consent


SWEEP_CONFIG = """
[state]
url = "{state_url}"

[policy]
[[policy.rules]]
id = "processing-basis-email"
kind = "processing_basis"
channel = "email"
action = "restrict_email"
[[policy.rules]]
id = "consent-proof-email"
kind = "consent_proof"
channel = "email"
purposes = ["marketing"]
action = "restrict_email"

[connectors.hs]
type = "hubspot"
base_url = "{url}"
access_token_env = "HUBSPOT_TOKEN"
read_subscriptions = true
requests_per_10s = 250
search_requests_per_second = 5
limit_fraction = 1.0
"""


def test_a_second_sweep_plans_nothing_for_a_contact_restricted_from_marketing(
    hubspot: FakeHubSpot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a GDPR portal (the legal-basis property exists) with three contacts subscribed to the newsletter and
    # to one-to-one email: one with no basis for processing recorded, one whose basis is consent but whose
    # subscriptions say nothing of how it was given, and one with a consent that says so
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    portal = hubspot.portal
    consent = "Freely given consent from contact"
    people = {
        "nobasis@example.org": (None, "Signed up online"),
        "unproven@example.org": (consent, None),
        "proven@example.org": (consent, "Signed up online"),
    }
    ids = {}
    for email, (basis, explanation) in people.items():
        ids[email] = portal.add(email=email, lastname="X", lifecyclestage="lead", hs_legal_basis=basis)
        portal.set_status(email, "101", SUB, None, explanation)
        portal.set_status(email, "103", SUB, None, explanation)
    config = tmp_path / "config.toml"
    config.write_text(SWEEP_CONFIG.format(state_url=f"sqlite:///{tmp_path}/state.db", url=hubspot.url))
    runner = CliRunner()

    def sweep(*args: str) -> str:
        result = runner.invoke(app, ["--config", str(config), "--log-format", "json", "sweep", *args])
        assert result.exit_code == 0, result.output
        return result.output

    # when swept and applied
    first = sweep("--apply")
    # then the two are off marketing email, still reachable one to one, and nothing is opted out of all email
    assert "planned 2" in first, first
    for email in ("nobasis@example.org", "unproven@example.org"):
        assert portal.status_of(email) == MARKETING_OFF, email
    assert portal.status_of("proven@example.org") == {"101": SUB, "103": SUB}
    assert not portal.opted_out_all and hubspot.calls["prefs.batch_unsubscribe_all"] == 0
    # and the next sweep plans nothing: the records read as opted out of email
    hubspot.reset_counts()
    second = sweep("--apply")
    assert "planned 0" in second, second
    assert hubspot.calls["prefs.batch_write"] == hubspot.calls["prefs.unsubscribe"] == 0
