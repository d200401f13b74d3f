"""Reading from Salesforce: query shapes, paging, consent chunking, the incremental cursor, get/find/export."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlparse

import pytest
import structlog
from salesforce_testkit import T0, Harness, pull_all, query_of

from gomme.connectors.errors import FatalError, RecordError
from gomme.model.conditions import Condition, Op, PullQuery
from gomme.model.records import ConsentStatus, Lifecycle

CUTOFF = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
RETENTION = ((Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT), Condition("last_activity_at", Op.LT, CUTOFF)),)


def test_a_pull_maps_contacts_and_leads_with_their_individual_account_and_consents(sf: Harness) -> None:
    account = sf.org.create("Account", Name="Acme", Type="Former Customer")
    purpose = sf.org.create("DataUsePurpose", Name="Newsletter")
    person = sf.individual(BirthDate=dt.date(1990, 5, 17), ShouldForget=True, HasOptedOutProcessing=True)
    sf.org.create(
        "ContactPointTypeConsent",
        Name="c",
        PartyId=person,
        ContactPointType="Email",
        PrivacyConsentStatus="OptOut",
        CaptureDate=T0,
        CaptureSource="web form",
        DataUsePurposeId=purpose,
    )
    contact = sf.contact(
        AccountId=account,
        IndividualId=person,
        Phone="+33 1 99 00 00 01",
        MailingCountryCode="fr",
        LastActivityDate=dt.date(2021, 2, 1),
        Contract_End__c=dt.date(2021, 1, 31),
        Legal_Hold__c=True,
        HasOptedOutOfEmail=True,
        Description="Met at the fair.",
    )
    lead = sf.lead(CountryCode="DE")
    sf.lead(IsConverted=True)

    records, _ = pull_all(sf.connector())

    by_id = {record.id: record for record in records}
    assert set(by_id) == {contact, lead}  # the converted Lead is not a person to sweep
    got = by_id[contact]
    assert (got.object_type, got.email, got.first_name, got.last_name, got.country) == (
        "contact",
        "ada@example.com",
        "Ada",
        "Example",
        "FR",
    )
    assert (got.lifecycle, got.contract_end, got.birthdate) == (
        Lifecycle.FORMER_CUSTOMER,
        dt.date(2021, 1, 31),
        dt.date(1990, 5, 17),
    )
    assert got.last_activity_at == dt.datetime(2021, 2, 1, tzinfo=dt.UTC)
    assert got.erasure_requested and got.legal_hold and got.restricted and got.opt_outs.processing
    assert got.opt_outs.email and not got.opt_outs.phone and not got.anonymised
    assert got.notes == {"description": "Met at the fair."}
    [consent] = got.consents
    assert (consent.channel, consent.purpose, consent.status, consent.captured_at, consent.source) == (
        "email",
        "newsletter",
        ConsentStatus.OPT_OUT,
        T0,
        "web form",
    )
    assert got.raw["Individual"]["BirthDate"] == "1990-05-17" and got.raw["ContactPointTypeConsents"][0]["Id"]
    assert got.modified_at is not None and got.modified_at.tzinfo is not None
    assert by_id[lead].lifecycle is Lifecycle.PROSPECT and by_id[lead].country == "DE"


@pytest.mark.parametrize(
    ("query", "contact_where"),
    [
        (PullQuery(), " WHERE "),  # everything: no WHERE at all (checked below)
        (
            PullQuery(everything=False, since={"contact": "2025-01-06T09:00:00Z", "lead": "2025-01-06T09:00:00Z"}),
            "WHERE SystemModstamp >= 2025-01-06T09:00:00Z ORDER BY SystemModstamp, Id",
        ),
        (
            PullQuery(everything=False, since={"contact": "2025-01-06T09:00:00Z"}, prefilters=RETENTION),
            "WHERE SystemModstamp >= 2025-01-06T09:00:00Z OR (Account.Type IN ('prospect') AND "
            "LastActivityDate < 2022-01-01) ORDER BY",
        ),
        (
            PullQuery(everything=False, since=None, prefilters=RETENTION),
            "WHERE Account.Type IN ('prospect') AND LastActivityDate < 2022-01-01 ORDER BY",
        ),
        (
            PullQuery(everything=False, since={"lead": "2025-01-06T09:00:00Z"}, prefilters=RETENTION),
            " FROM Contact ORDER BY SystemModstamp, Id",
        ),  # never pulled: all of it
        (PullQuery(limit=7), " FROM Contact ORDER BY SystemModstamp, Id LIMIT 7"),
    ],
)
def test_each_query_shape_becomes_one_soql_query_per_object(sf: Harness, query: PullQuery, contact_where: str) -> None:
    sf.contact()
    pull_all(sf.connector(), query)
    contact_soql = next(q for q in sf.soql() if " FROM Contact" in q)
    lead_soql = next(q for q in sf.soql() if " FROM Lead" in q)
    if query.everything and query.limit is None:
        assert " WHERE " not in contact_soql and "WHERE IsConverted = false ORDER BY" in lead_soql
    else:
        assert contact_where in contact_soql
        assert lead_soql.startswith("SELECT ") and "IsConverted = false" in lead_soql


def test_a_pull_with_nothing_to_match_sends_no_query(sf: Harness) -> None:
    pull_all(sf.connector(), PullQuery(everything=False, prefilters=()))
    assert sf.calls() == []


def test_pages_follow_next_records_url_with_the_configured_batch_size(sf: Harness) -> None:
    for index in range(450):
        sf.contact(Email=f"p{index}@example.com")
    records, _ = pull_all(sf.connector(batch_size=200, objects=["Contact"]))
    assert len({r.id for r in records}) == 450
    queries = sf.calls("query")
    assert len(queries) == 3  # the query, then two nextRecordsUrl pages
    assert all(call.request.headers["Sforce-Query-Options"] == "batchSize=200" for call in queries)
    assert "/query/01g" in queries[1].request.url


def test_consent_rows_are_fetched_per_page_in_as_few_queries_as_the_uri_limit_allows(sf: Harness) -> None:
    for index in range(300):
        person = sf.individual()
        sf.org.create("ContactPointTypeConsent", Name="c", PartyId=person, ContactPointType="Email",
                      PrivacyConsentStatus="OptIn")  # fmt: skip
        sf.contact(IndividualId=person, Email=f"p{index}@example.com")

    records, _ = pull_all(sf.connector(objects=["Contact"]))
    assert all(len(r.consents) == 1 for r in records) and len(records) == 300
    assert sum("FROM ContactPointTypeConsent" in q for q in sf.soql()) == 1

    sf.org.queries.clear()
    sf.mock.calls.reset()
    records, _ = pull_all(sf.connector(objects=["Contact"], max_query_length=3000))
    consent_calls = [c for c in sf.calls("query") if "ContactPointTypeConsent" in query_of(c)["q"][0]]
    assert all(len(r.consents) == 1 for r in records)
    assert 3 <= len(consent_calls) <= 4  # 300 ids of 18 characters, about 90 per 3,000-character URI
    assert all(len(call.request.url) <= 3000 for call in consent_calls)


def test_anonymised_records_need_no_consent_query(sf: Harness) -> None:
    person = sf.individual(LastName="ANONYMISED", FirstName=None)
    sf.contact(IndividualId=person, LastName="ANONYMISED", FirstName=None, Email=None)
    records, _ = pull_all(sf.connector(objects=["Contact"]))
    assert records[0].anonymised and not any("ContactPointTypeConsent" in q for q in sf.soql())


# -- the incremental cursor ---------------------------------------------------------------------------


def test_an_incremental_pull_returns_what_changed_at_or_after_the_cursor(sf: Harness) -> None:
    old = sf.contact()
    connector = sf.connector(objects=["Contact"])
    _, cursor = pull_all(connector)
    sf.clock.set(T0 + dt.timedelta(hours=1))
    changed = sf.contact(Email="new@example.com")
    records, _ = pull_all(connector, PullQuery(everything=False, since=cursor))
    assert [r.id for r in records] == [changed] and old != changed


def test_records_sharing_the_boundary_second_are_not_lost_and_seen_ones_not_repeated(sf: Harness) -> None:
    sf.clock.set(T0)
    seen = sf.contact()  # at T0 + 1 ms
    connector = sf.connector(objects=["Contact"])
    _, cursor = pull_all(connector)
    assert json.loads(cursor["contact"]) == {"at": "2025-01-06T09:00:00Z", "seen": {seen: 1}}
    late = sf.contact()  # same second, committed after the pull: a strict `>` would lose it
    records, cursor = pull_all(connector, PullQuery(everything=False, since=cursor))
    assert [r.id for r in records] == [late]
    assert json.loads(cursor["contact"])["seen"] == {seen: 1, late: 2}
    records, _ = pull_all(connector, PullQuery(everything=False, since=cursor))
    assert records == []


def test_a_seen_record_changed_again_in_the_same_second_is_returned(sf: Harness) -> None:
    record = sf.contact()
    connector = sf.connector(objects=["Contact"])
    _, cursor = pull_all(connector)
    sf.org.tables["Contact"][record]["SystemModstamp"] = sf.clock()  # one millisecond later, same second
    records, _ = pull_all(connector, PullQuery(everything=False, since=cursor))
    assert [r.id for r in records] == [record]


def test_a_seen_boundary_record_that_a_prefilter_wants_is_still_returned(sf: Harness) -> None:
    account = sf.org.create("Account", Name="A", Type="Prospect")
    record = sf.contact(AccountId=account, LastActivityDate=dt.date(2020, 1, 1))
    connector = sf.connector(objects=["Contact"])
    _, cursor = pull_all(connector)
    records, _ = pull_all(connector, PullQuery(everything=False, since=cursor, prefilters=RETENTION))
    assert [r.id for r in records] == [record]


def test_nothing_changed_costs_one_query_per_object(sf: Harness) -> None:
    for _ in range(3):
        person = sf.individual()
        sf.org.create("ContactPointTypeConsent", Name="c", PartyId=person, ContactPointType="Email")
        sf.contact(IndividualId=person)
        sf.lead()
    connector = sf.connector()
    _, cursor = pull_all(connector)
    sf.mock.calls.reset()
    records, again = pull_all(connector, PullQuery(everything=False, since=cursor))
    assert records == [] and again == cursor
    assert len(sf.calls()) == 2  # the boundary records are dropped before any consent query


def test_an_unreadable_stored_cursor_is_a_clear_error(sf: Harness) -> None:
    with pytest.raises(FatalError, match="--full"):
        pull_all(sf.connector(), PullQuery(everything=False, since={"contact": "yesterday"}))


def test_a_plain_timestamp_cursor_is_accepted(sf: Harness) -> None:
    sf.contact()
    records, cursor = pull_all(
        sf.connector(objects=["Contact"]), PullQuery(everything=False, since={"contact": "2025-01-06T08:00:00+00:00"})
    )
    assert len(records) == 1 and json.loads(cursor["contact"])["at"] == "2025-01-06T09:00:00Z"


# -- robustness ---------------------------------------------------------------------------------------


def test_a_row_that_cannot_be_read_is_skipped_and_logged_by_id_only(sf: Harness) -> None:
    good = sf.contact()
    bad = sf.contact(LastActivityDate="sometime last spring", Email="private@example.com")
    with structlog.testing.capture_logs() as logs:
        records, _ = pull_all(sf.connector(objects=["Contact"]))
    assert [r.id for r in records] == [good]
    [entry] = [e for e in logs if e["event"] == "salesforce_record_skipped"]
    assert entry["record_id"] == bad and entry["field"] == "LastActivityDate"
    assert "private@example.com" not in repr(logs)


def test_conditions_on_fields_the_org_lacks_never_reach_it(sf: Harness) -> None:
    sf.contact()
    weird = ((Condition("favourite_colour", Op.EQ, "blue"), Condition("phone", Op.GT, 5)),)
    records, _ = pull_all(sf.connector(objects=["Contact"]), PullQuery(everything=False, prefilters=weird))
    assert len(records) == 1 and "favourite" not in sf.soql()[0]


# -- get, find, export, size --------------------------------------------------------------------------


def test_get_rereads_by_id_in_chunks_and_skips_missing_or_converted_records(sf: Harness) -> None:
    contacts = [sf.contact(Email=f"p{i}@example.com") for i in range(120)]
    converted = sf.lead(IsConverted=True)
    wanted = [("contact", i) for i in contacts] + [("contact", "003000000000999AAA"), ("lead", converted)]
    got = list(sf.connector(max_query_length=2500).get(wanted))
    assert sorted(r.id for r in got) == sorted(contacts)
    id_queries = [q for q in sf.soql() if "Id IN (" in q and "FROM Contact" in q]
    assert len(id_queries) > 1 and all(len(c.request.url) <= 2500 for c in sf.calls("query"))


def test_find_matches_the_email_with_every_literal_escaped(sf: Harness) -> None:
    target = sf.contact(Email="O'Brien@Example.com")
    sf.contact(Email="obrien@example.com")
    found = list(sf.connector().find("  o'brien@example.com "))
    assert [r.id for r in found] == [target]
    assert "Email = 'o\\'brien@example.com'" in sf.soql()[0]


def test_export_returns_the_record_its_individual_and_consents_as_json(sf: Harness) -> None:
    person = sf.individual(BirthDate=dt.date(1990, 1, 2))
    sf.org.create("ContactPointTypeConsent", Name="c", PartyId=person, ContactPointType="Phone",
                  PrivacyConsentStatus="OptIn", CaptureDate=T0)  # fmt: skip
    contact = sf.contact(IndividualId=person, Title="CTO")
    connector = sf.connector()
    [record] = list(connector.get([("contact", contact)]))
    exported = connector.export(record)
    json.dumps(exported)
    assert exported["record"]["Title"] == "CTO" and exported["individual"]["BirthDate"] == "1990-01-02"
    assert [c["ContactPointType"] for c in exported["consents"]] == ["Phone"]
    sf.org.delete_one(contact)
    with pytest.raises(RecordError) as missing:
        connector.export(record)
    assert missing.value.code == "NOT_FOUND"


def test_size_is_one_count_per_object_without_converted_leads(sf: Harness) -> None:
    for _ in range(3):
        sf.contact()
    sf.lead()
    sf.lead(IsConverted=True)
    assert sf.connector().size() == 4
    assert [urlparse(c.request.url).path.endswith("/query/") for c in sf.calls()] == [True, True]
    assert all(q.startswith("SELECT COUNT() FROM") for q in sf.soql())
