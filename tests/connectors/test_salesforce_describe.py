"""The mapping fitted to an org an admin set up: field-level security, picklists off, Person Accounts, no DPP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS
from salesforce_testkit import HOST, Clock, Harness, change, pull_all

from gomme.connectors.errors import FatalError
from gomme.connectors.salesforce.mapping import consent_purpose
from gomme.connectors.salesforce.writer import individual_name
from gomme.model.changes import Action, Outcome
from gomme.model.conditions import Condition, Op, PullQuery
from gomme.model.records import Audience


def org_harness(**options: Any) -> Iterator[Harness]:
    clock = Clock()
    org = FakeSalesforce(host=HOST, custom_fields=CUSTOM_FIELDS, clock=clock, **options)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org.register(mock)
        yield Harness(org, mock, clock)


@pytest.fixture
def admin_org() -> Iterator[Harness]:
    """Picklists off, FLS hiding some standard fields, Title read-only, Person Accounts on."""
    yield from org_harness(
        country_picklists=False, person_accounts=True,
        hidden_fields={"Contact": {"HomePhone", "Birthdate", "AssistantName", "AssistantPhone"}},
        read_only_fields={"Contact": {"Title"}},
    )  # fmt: skip


def test_the_describe_is_read_once_per_object_and_connector(admin_org: Harness) -> None:
    admin_org.contact()
    connector = admin_org.connector()
    pull_all(connector)
    pull_all(connector)
    described = sorted(c.request.url.split("/sobjects/")[1].split("/")[0] for c in admin_org.calls("describe"))
    assert described == ["Account", "Contact", "ContactPointTypeConsent", "Individual", "Lead"]


def test_hidden_defaults_are_skipped_and_reported_once_never_sent(admin_org: Harness) -> None:
    contact = admin_org.contact(MailingCountry="Allemagne", Title="CEO")
    connector = admin_org.connector()
    records, _ = pull_all(connector)

    notices = "\n".join(connector.notices())
    assert "Contact.HomePhone: does not exist or is hidden" in notices
    assert "Contact.Title: is read-only for the integration user" in notices
    assert not any("HomePhone" in soql or "Birthdate " in soql for soql in admin_org.soql())
    assert [r.country for r in records if r.id == contact] == ["DE"]  # free-text country, picklists off

    results = list(connector.apply([change(contact, Action.ANONYMISE)]))
    assert [r.outcome for r in results] == [Outcome.APPLIED]
    row = admin_org.org.record("Contact", contact)
    assert row is not None and row["LastName"] == "ANONYMISED" and row.get("Email") is None
    assert row["Title"] == "CEO"  # read-only for gomme: left, and reported, rather than failing the record


def test_a_field_the_admin_named_that_the_org_hides_is_a_config_error_before_any_query(admin_org: Harness) -> None:
    connector = admin_org.connector(contact_fields={"birthdate": "Birthdate"})
    with pytest.raises(FatalError, match=r"contact_fields.birthdate: Contact.Birthdate does not exist or is hidden"):
        pull_all(connector)
    assert admin_org.calls() == []


def test_an_unknown_country_stays_unknown_and_is_counted(admin_org: Harness) -> None:
    admin_org.contact(MailingCountry="Atlantis")
    admin_org.contact(MailingCountry="Royaume-Uni")
    connector = admin_org.connector(objects=["Contact"])
    records, _ = pull_all(connector)
    assert sorted(str(r.country) for r in records) == ["GB", "None"]
    assert "1 Contact record(s) with a country gomme does not recognise (left unknown)" in connector.notices()


def test_account_types_the_lifecycle_map_does_not_cover_are_reported(admin_org: Harness) -> None:
    account = admin_org.org.create("Account", Name="Example SARL", Type="Client actif")
    admin_org.contact(AccountId=account)
    connector = admin_org.connector(objects=["Contact"])
    records, _ = pull_all(connector)
    assert [str(r.lifecycle) for r in records] == ["unknown"]
    notices = connector.notices()
    assert any("Account.Type values not in lifecycle_map" in n and "'Client actif' (1)" in n for n in notices)


def test_a_person_account_is_b2c_and_written_through_its_account(admin_org: Harness) -> None:
    account, person = admin_org.org.create_person_account(FirstName="Ada", LastName="Example",
                                                          PersonEmail="ada@example.com")  # fmt: skip
    business = admin_org.org.create("Account", Name="Example SARL", Type="Customer - Direct")
    employee = admin_org.contact(AccountId=business)
    private = admin_org.contact()
    connector = admin_org.connector(objects=["Contact"])
    records = {r.id: r for r in pull_all(connector)[0]}
    assert (records[person].audience, records[employee].audience, records[private].audience) == (
        Audience.B2C, Audience.B2B, Audience.B2C)

    results = list(connector.apply([change(person, Action.RESTRICT_EMAIL)]))
    assert [r.outcome for r in results] == [Outcome.APPLIED]
    assert admin_org.org.record("Account", account)["PersonHasOptedOutOfEmail"] is True  # type: ignore[index]
    assert admin_org.org.record("Contact", person)["HasOptedOutOfEmail"] is True  # type: ignore[index]


@pytest.mark.parametrize(("company", "audience"), [("", Audience.B2C), ("[not provided]", Audience.B2C),
                                                   ("Bo Lead", Audience.B2C), ("Example SARL", Audience.B2B)])
def test_a_lead_without_a_real_company_is_b2c(sf: Harness, company: str, audience: Audience) -> None:
    sf.lead(Company=company)
    records, _ = pull_all(sf.connector(objects=["Lead"]))
    assert [r.audience for r in records] == [audience]


def test_without_data_protection_objects_the_individual_is_skipped_and_reported() -> None:
    for harness in org_harness(data_protection=False):
        harness.contact()
        connector = harness.connector()
        records, _ = pull_all(connector)
        assert len(records) == 1
        assert any(n.startswith("Individual: not available") for n in connector.notices())
        assert not any("Individual" in soql for soql in harness.soql())


def test_dont_market_and_parental_consent_are_read_from_the_individual_and_consent_rows(sf: Harness) -> None:
    individual = sf.individual(HasOptedOutSolicit=True)
    sf.org.create("ContactPointTypeConsent", Name="c", PartyId=individual, ContactPointType="Email",
                  PrivacyConsentStatus="OptIn", CaptureSource="Formulaire signé par le représentant légal")  # fmt: skip
    sf.contact(IndividualId=individual)
    records, _ = pull_all(sf.connector(objects=["Contact"]))
    assert [(r.opt_outs.solicit, r.parental_consent) for r in records] == [(True, True)]


@pytest.mark.parametrize(("name", "purpose"), [
    (None, "marketing"), ("Marketing", "marketing"), ("Email Marketing", "marketing"),
    ("Prospection commerciale", "marketing"), ("Newsletter", "newsletter"), ("Werbung", "marketing"),
    ("Billing", "billing"), ("Service  Updates", "service updates"),
])  # fmt: skip
def test_data_use_purposes_named_as_admins_name_them(name: str | None, purpose: str) -> None:
    assert consent_purpose(name) == purpose


def test_a_prefilter_on_a_field_read_from_two_places_finds_the_value_in_either(sf: Harness) -> None:
    """Birth date: the Individual's, else the Contact's own; pushdown must not lose either (it is a superset)."""
    child = sf.contact(Birthdate=dt.date(2015, 6, 1))
    adult = sf.contact(Birthdate=dt.date(1980, 6, 1))
    other_child = sf.contact(IndividualId=sf.individual(BirthDate=dt.date(2014, 1, 1)))
    query = PullQuery(everything=False, prefilters=((Condition("birthdate", Op.GT, dt.date(2008, 1, 1)),),))
    records, _ = pull_all(sf.connector(objects=["Contact"]), query)
    assert sorted(r.id for r in records) == sorted([child, other_child]) and adult not in {r.id for r in records}


def test_restricting_a_person_account_without_an_individual_links_a_new_one_through_the_account(
    admin_org: Harness,
) -> None:
    account, person = admin_org.org.create_person_account(FirstName="Ada", LastName="Example",
                                                          PersonEmail="ada@example.com")  # fmt: skip
    connector = admin_org.connector(objects=["Contact"])
    pull_all(connector)
    results = list(connector.apply([change(person, Action.RESTRICT_ALL)]))
    assert [r.outcome for r in results] == [Outcome.APPLIED], results
    individual_id = admin_org.org.record("Account", account)["PersonIndividualId"]  # type: ignore[index]
    individual = admin_org.org.record("Individual", individual_id)
    assert individual is not None and individual["HasOptedOutProcessing"] is True
    assert individual["LastName"] == individual_name("Contact", person)  # nothing copied from the person
    assert admin_org.org.record("Contact", person)["IndividualId"] == individual_id  # type: ignore[index]
