"""Reading from HubSpot: list paging, keyset search past the 10,000 cap, incremental cursors, re-reads, export."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from fakes.hubspot import FakeHubSpot
from hubspot_testkit import Clock, Connect

from gomme.connectors.base import Connector
from gomme.connectors.errors import RecordError
from gomme.connectors.hubspot import HubSpotConnector
from gomme.connectors.hubspot.mapping import PropertyMap
from gomme.model.conditions import Condition, Op, PullQuery
from gomme.model.records import Lifecycle

OLD = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
CUTOFF = dt.datetime(2022, 6, 1, tzinfo=dt.UTC)
STALE_PROSPECT = (Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT), Condition("created_at", Op.LT, CUTOFF))


def seed(hubspot: FakeHubSpot, count: int, **properties: object) -> list[str]:
    return [hubspot.portal.add(email=f"p{i}@example.com", lastname=f"L{i}", **properties) for i in range(count)]


def ids(records: object) -> list[str]:
    return [record.id for record in records]  # type: ignore[attr-defined]


def test_the_connector_satisfies_the_protocol(connector: HubSpotConnector) -> None:
    assert isinstance(connector, Connector)
    assert connector.capabilities.permanent_delete is True


def test_a_full_pull_pages_the_list_endpoint_asking_only_for_mapped_properties(
    hubspot: FakeHubSpot, connect: Connect
) -> None:
    # given 250 contacts
    seeded = seed(hubspot, 250)
    # when everything is pulled
    # subscription statuses: test_hubspot_preferences_v4.py; engagements: test_hubspot_related.py
    connector = connect(read_subscriptions=False, read_engagements=False)
    records = list(connector.pull(PullQuery(everything=True)))
    # then three pages of at most 100 were read, following paging.next.after, in id order
    assert ids(records) == seeded
    pages = hubspot.recorded("contacts.list")
    assert [page.query.get("limit") for page in pages] == [["100"]] * 3
    assert [page.query.get("after", [None])[0] for page in pages] == [None, seeded[100], seeded[200]]
    assert sorted(pages[0].query["properties"]) == PropertyMap.from_settings(connector.settings).requested()
    # plus one read of the portal's properties (is the legal-basis property there?), once per connector
    assert hubspot.calls["contacts.list"] == 3 and hubspot.calls["properties.list"] == 1
    assert sum(hubspot.calls.values()) == 4


def test_a_search_reads_past_the_10000_result_cap_with_keyset_pages(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    # given 10,050 stale prospects and some recent ones
    stale = seed(hubspot, 10_050, lifecyclestage="lead", createdate=OLD)
    hubspot.portal.add(email="fresh@example.com", lifecyclestage="lead")
    # when the prefilter is pushed down
    records = list(connector.pull(PullQuery(everything=False, prefilters=(STALE_PROSPECT,))))
    # then every match is read once, in ceil(10,050 / 200) searches, none refused for the cap
    assert ids(records) == stale
    assert hubspot.calls["contacts.search"] == math.ceil(10_050 / 200)
    bodies = [request.body for request in hubspot.recorded("contacts.search")]
    assert all(body["limit"] == 200 and "after" not in body for body in bodies)
    assert bodies[1]["filterGroups"][0]["filters"][-1] == {"propertyName": "hs_object_id", "operator": "GT",
                                                           "value": stale[199]}  # fmt: skip


def test_records_matching_several_searches_come_once_in_id_order(
    hubspot: FakeHubSpot, connector: HubSpotConnector, clock: Clock
) -> None:
    # given contacts that match the incremental search, the prefilter search, or both
    stale = seed(hubspot, 3, lifecyclestage="lead", createdate=OLD)
    since = clock.advance(hours=1)
    clock.advance(minutes=1)
    both = hubspot.portal.add(email="both@example.com", lifecyclestage="lead", createdate=OLD)
    recent = hubspot.portal.add(email="recent@example.com", lifecyclestage="customer")
    # when pulling what changed since the cursor or matches the prefilter
    query = PullQuery(everything=False, since={"contact": since.isoformat()}, prefilters=(STALE_PROSPECT,))
    records = list(connector.pull(query))
    # then each comes once
    assert ids(records) == [*stale, both, recent]


def test_an_incremental_pull_reads_only_what_changed_and_skips_the_boundary(
    hubspot: FakeHubSpot, connect: Connect, clock: Clock
) -> None:
    connector = connect(clock=clock)
    first_ids = seed(hubspot, 5, lifecyclestage="lead")  # all at the same millisecond
    first = connector.pull(PullQuery(everything=True))
    assert ids(first) == first_ids and first.cursor is not None
    expected = {"at": "2025-06-01T12:00:00.000Z", "seen": dict.fromkeys(first_ids, 0)}
    assert json.loads(first.cursor["contact"]) == expected
    # nothing changed: the records at the cursor's exact timestamp are not read again
    again = connector.pull(PullQuery(everything=False, since=first.cursor))
    assert ids(again) == [] and again.cursor == first.cursor
    # two records change later: only they are read, and the cursor moves to their time
    clock.advance(seconds=5)
    hubspot.portal.batch_update({"inputs": [{"id": first_ids[1], "properties": {"firstname": "X"}},
                                            {"id": first_ids[3], "properties": {"firstname": "Y"}}]})  # fmt: skip
    changed = connector.pull(PullQuery(everything=False, since=again.cursor))
    assert ids(changed) == [first_ids[1], first_ids[3]]
    assert json.loads(changed.cursor["contact"]) == {
        "at": "2025-06-01T12:00:05.000Z",
        "seen": dict.fromkeys((first_ids[1], first_ids[3]), 0),
    }
    search = hubspot.recorded("contacts.search")[-1].body
    assert search["filterGroups"][0]["filters"][0] == {
        "propertyName": "lastmodifieddate", "operator": "GTE",
        "value": str(int(dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC).timestamp() * 1000)),
    }  # fmt: skip


def test_the_cursor_stays_behind_the_search_index_lag(hubspot: FakeHubSpot, connect: Connect, clock: Clock) -> None:
    # given records changed just now, and a search index that may lag up to 60 s
    connector = connect(clock=clock, index_lag_seconds=60)
    seed(hubspot, 3)
    pulled = connector.pull(PullQuery(everything=True))
    list(pulled)
    # then the cursor is 60 s before the pull started, so a lagging record is read next time
    assert json.loads(pulled.cursor["contact"]) == {"at": "2025-06-01T11:59:00.000Z", "seen": {}}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (PullQuery(everything=True, limit=2), {}),
        (PullQuery(everything=False, since={"contact": "2020-01-01T00:00:00Z"}, limit=2),
         {"contact": "2020-01-01T00:00:00Z"}),
    ],
    ids=["limited, never pulled: stays unset", "limited: stays put"],
)  # fmt: skip
def test_a_pull_that_did_not_read_everything_does_not_move_the_cursor(
    hubspot: FakeHubSpot, connector: HubSpotConnector, query: PullQuery, expected: dict[str, str]
) -> None:
    seed(hubspot, 5, lifecyclestage="lead", createdate=OLD)
    pulled = connector.pull(query)
    records = list(pulled)
    assert len(records) == (query.limit or 5) and pulled.cursor == expected


def test_subscription_statuses_are_read_by_default_else_only_when_a_rule_needs_them(
    hubspot: FakeHubSpot, connect: Connect
) -> None:
    seed(hubspot, 3)
    hubspot.portal.set_status("p0@example.com", "101", "NOT_SUBSCRIBED")
    list(connect(read_subscriptions=False).pull(PullQuery(everything=True)))
    assert hubspot.calls["prefs.status"] == hubspot.calls["prefs.batch_read"] == 0
    needs = PullQuery(everything=False, prefilters=((Condition("opt_outs.email", Op.EQ, False),),))
    records = list(connect(read_subscriptions=False).pull(needs))
    assert hubspot.calls["prefs.batch_read"] == 1 and hubspot.calls["prefs.definitions"] == 1  # one for 3 emails
    assert hubspot.calls["prefs.status"] == 0
    assert [c.purpose for c in records[0].consents] == ["newsletter"]
    assert next(iter(connect().pull(PullQuery(everything=True)))).consents  # the default: read, in batches


def test_get_rereads_by_id_in_batches_and_skips_missing_ones(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    seeded = seed(hubspot, 150)
    wanted = [("contact", i) for i in seeded] + [("contact", "999999"), ("contact", "not-an-id"), ("lead", seeded[0])]
    records = list(connector.get(wanted))
    assert ids(records) == seeded
    bodies = [request.body for request in hubspot.recorded("contacts.batch_read")]
    assert [len(body["inputs"]) for body in bodies] == [100, 51]  # the 207's missing id is simply not yielded


def test_find_matches_an_email_ignoring_case(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    wanted = hubspot.portal.add(email="Ada.Example@example.org")
    hubspot.portal.add(email="someone@example.org")
    assert ids(connector.find("  ada.example@EXAMPLE.org ")) == [wanted]
    assert list(connector.find("")) == [] and hubspot.calls["contacts.search"] == 1


def test_size_is_one_search_of_one_result(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    seed(hubspot, 42)
    assert connector.size() == 42
    (request,) = hubspot.recorded("contacts.search")
    assert request.body["limit"] == 1


def test_export_holds_every_property_and_the_subscription_statuses(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    record_id = hubspot.portal.add(email="ada@example.org", firstname="Ada", jobtitle="CFO", message="Met at the fair")
    hubspot.portal.set_status("ada@example.org", "102", "SUBSCRIBED")
    (record,) = connector.get([("contact", record_id)])
    exported = connector.export(record)
    assert exported["properties"]["jobtitle"] == "CFO"  # not a mapped property: export asks for all of them
    assert exported["subscriptions"] == [{"id": "102", "name": "Product updates", "status": "SUBSCRIBED",
                                          "sourceOfStatus": "SUBSCRIPTION_STATUS"}]  # fmt: skip
    assert (exported["object_type"], exported["id"]) == ("contact", record_id)
    hubspot.portal.gdpr_delete({"objectId": record_id})
    with pytest.raises(RecordError) as missing:
        connector.export(record)
    assert missing.value.code == "NOT_FOUND"


def test_a_record_new_at_the_cursors_millisecond_is_read_once_and_joins_the_boundary(
    hubspot: FakeHubSpot, connect: Connect, clock: Clock
) -> None:
    connector = connect(clock=clock)
    first = seed(hubspot, 2)
    pulled = connector.pull(PullQuery(everything=True))
    list(pulled)
    late = hubspot.portal.add(email="late@example.com")  # same millisecond, visible only now
    again = connector.pull(PullQuery(everything=False, since=pulled.cursor))
    assert ids(again) == [late]
    assert json.loads(again.cursor["contact"]) == {
        "at": "2025-06-01T12:00:00.000Z",
        "seen": dict.fromkeys((first[0], first[1], late), 0),
    }
    assert ids(connector.pull(PullQuery(everything=False, since=again.cursor))) == []
