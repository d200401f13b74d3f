"""The fake Salesforce org set up like a real admin's org (docs/real-orgs.md), driven through simple-salesforce."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_schema import Field
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceResourceNotFound,
)

HOST = "fake.my.salesforce.com"
T0 = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
FLS_TITLE = ("Unable to create/update fields: Title. Please check the security settings of this field and verify that "
             "it is read/write for your profile or permission set.")  # fmt: skip
Connect = Callable[..., tuple[FakeSalesforce, Salesforce]]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def connect() -> Iterator[Connect]:
    """`connect(**options)` → an org built with those options and a simple-salesforce client on it."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:

        def build(**options: Any) -> tuple[FakeSalesforce, Salesforce]:
            org = FakeSalesforce(host=HOST, clock=Clock(), **options)
            org.register(mock)
            return org, Salesforce(instance_url=f"https://{HOST}", session_id="fake-token", version=org.version)

        yield build


def fields_of(described: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {field["name"]: field for field in described["fields"]}


def patch(sf: Salesforce, *records: dict[str, Any]) -> list[dict[str, Any]]:
    body = {"allOrNone": False, "records": [{"attributes": {"type": r.pop("type", "Contact")}, **r} for r in records]}
    answer: list[dict[str, Any]] = sf.restful("composite/sobjects", method="PATCH", json=body)
    return answer


def error_of(caught: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    content = caught.value.content
    assert isinstance(content, list) and len(content) == 1
    item: dict[str, Any] = content[0]
    return item


def failed_rows(sf: Salesforce, sobject: str, job_id: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(getattr(sf.bulk2, sobject).get_failed_records(job_id))))


# -- describe ---------------------------------------------------------------------------------------------


def test_describe_has_salesforce_shape_and_is_a_counted_call(connect: Connect) -> None:
    org, sf = connect(custom_fields={"Contact": {"Legal_Hold__c": Field("boolean")}})
    described = sf.restful("sobjects/Contact/describe/")  # the trailing slash form
    assert sf.api_usage["api-usage"].used == 1 and org.calls_of("describe") == 1
    assert {"name": "Contact", "createable": True, "updateable": True, "deletable": True, "queryable": True}.items() \
        <= described.items()  # fmt: skip
    fields = fields_of(described)
    expected_email = {"type": "email", "length": 80, "nillable": True, "createable": True, "updateable": True,
                      "custom": False, "calculated": False, "relationshipName": None, "referenceTo": []}  # fmt: skip
    assert expected_email.items() <= fields["Email"].items()
    assert {"type": "reference", "relationshipName": "Account", "referenceTo": ["Account"]}.items() \
        <= fields["AccountId"].items()  # fmt: skip
    assert fields["LastName"]["nillable"] is False
    for system in ("Id", "CreatedDate", "SystemModstamp", "LastModifiedDate", "LastActivityDate", "IsDeleted"):
        assert (fields[system]["createable"], fields[system]["updateable"]) == (False, False), system
    assert {"custom": True, "type": "boolean", "defaultedOnCreate": True, "nillable": False}.items() \
        <= fields["Legal_Hold__c"].items()  # fmt: skip
    country = fields["MailingCountryCode"]
    france = {"value": "FR", "label": "France", "active": True, "defaultValue": False, "validFor": None}
    assert country["type"] == "picklist" and france in country["picklistValues"]
    assert sf.Contact.describe()["name"] == "Contact" and org.calls_of("describe") == 2


def test_account_type_values_come_from_the_org(connect: Connect) -> None:
    _, default = connect()
    values = [v["value"] for v in fields_of(default.restful("sobjects/Account/describe"))["Type"]["picklistValues"]]
    assert values == ["Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
                      "Installation Partner", "Technology Partner", "Other"]  # fmt: skip
    _, renamed = connect(account_types=["Lead", "Client", "Ex-Client"])
    values = [v["value"] for v in fields_of(renamed.Account.describe())["Type"]["picklistValues"]]
    assert values == ["Lead", "Client", "Ex-Client"]


def test_describe_of_an_unknown_object_is_404(connect: Connect) -> None:
    _, sf = connect()
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.restful("sobjects/Nope__c/describe")
    assert error_of(caught) == {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}


def test_describe_answers_304_until_the_schema_changes(connect: Connect) -> None:
    org, sf = connect()
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.Contact.describe(headers={"If-Modified-Since": "Wed, 3 Jul 2024 19:43:31 GMT"})
    assert caught.value.status == 304 and caught.value.content == ""
    assert sf.Contact.describe(headers={"If-Modified-Since": "Wed, 3 Jul 2013 19:43:31 GMT"})["name"] == "Contact"
    org.add_field("Contact", "Shoe_Size__c", Field("double"))  # the admin adds a field at the clock's 2025-01-06
    again = sf.Contact.describe(headers={"If-Modified-Since": "Wed, 3 Jul 2024 19:43:31 GMT"})
    assert fields_of(again)["Shoe_Size__c"]["custom"] is True
    assert org.calls_of("describe") == 3


# -- field-level security -------------------------------------------------------------------------------------

HIDDEN = {"Contact": {"Birthdate", "HomePhone"}, "Individual": {"BirthDate"}}


def test_hidden_fields_are_absent_from_describe(connect: Connect) -> None:
    _, sf = connect(hidden_fields=HIDDEN)
    assert {"Birthdate", "HomePhone"}.isdisjoint(fields_of(sf.Contact.describe()))
    assert "BirthDate" not in fields_of(sf.Individual.describe())


@pytest.mark.parametrize(
    ("soql", "column", "message"),
    [
        ("SELECT Id, Birthdate FROM Contact", 12, "No such column 'Birthdate' on entity 'Contact'."),
        ("SELECT Id FROM Contact WHERE HomePhone != null", 30, "No such column 'HomePhone' on entity 'Contact'."),
        ("SELECT Id, Individual.BirthDate FROM Contact", 12, "No such column 'BirthDate' on entity 'Individual'."),
    ],
)
def test_a_query_naming_a_hidden_field_is_invalid_field(connect: Connect, soql: str, column: int, message: str) -> None:
    _, sf = connect(hidden_fields=HIDDEN)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    error = error_of(caught)
    assert error["errorCode"] == "INVALID_FIELD"
    assert error["message"] == (
        f"\n{soql}\n{' ' * (column - 1)}^\nERROR at Row:1:Column:{column}\n{message} If you are attempting to use a "
        "custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
        "describe call for the appropriate names."
    )


def test_a_collections_write_naming_a_hidden_field_fails_the_whole_request(connect: Connect) -> None:
    org, sf = connect(hidden_fields=HIDDEN)
    first = org.create("Contact", LastName="One", HomePhone="+33 1 00 00 00 01")
    second = org.create("Contact", LastName="Two")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        patch(sf, {"id": second, "LastName": "Deux"}, {"id": first, "HomePhone": None})
    assert error_of(caught) == {"errorCode": "INVALID_FIELD",
                                "message": "No such column 'HomePhone' on sobject of type Contact"}  # fmt: skip
    assert org.record("Contact", second)["LastName"] == "Two"  # nothing applied
    assert org.record("Contact", first)["HomePhone"] == "+33 1 00 00 00 01"


def test_a_bulk_job_naming_a_hidden_field_fails(connect: Connect) -> None:
    org, sf = connect(hidden_fields=HIDDEN)
    contact = org.create("Contact", LastName="One", HomePhone="+33 1 00 00 00 01")
    with pytest.raises(SalesforceOperationError, match="InvalidBatch : Field name not found : HomePhone"):
        sf.bulk2.Contact.update(records=[{"Id": contact, "HomePhone": "#N/A"}], wait=0)
    (job,) = org.bulk.jobs.values()
    assert (job.state, job.info()["numberRecordsProcessed"]) == ("Failed", 0)
    assert org.record("Contact", contact)["HomePhone"] == "+33 1 00 00 00 01"


def test_a_read_only_field_fails_only_its_record(connect: Connect) -> None:
    org, sf = connect(read_only_fields={"Contact": {"Title"}})
    title = fields_of(sf.Contact.describe())["Title"]
    assert (title["createable"], title["updateable"]) == (False, False)
    first, second = org.create("Contact", LastName="One", Title="CEO"), org.create("Contact", LastName="Two")
    results = patch(sf, {"id": first, "Title": None, "LastName": "Uno"}, {"id": second, "LastName": "Deux"})
    assert results == [
        {"id": first, "success": False,
         "errors": [{"statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE", "message": FLS_TITLE, "fields": ["Title"]}]},
        {"id": second, "success": True, "errors": []},
    ]  # fmt: skip
    assert org.record("Contact", first)["LastName"] == "One" and org.record("Contact", second)["LastName"] == "Deux"


def test_a_read_only_field_fails_its_bulk_row(connect: Connect) -> None:
    org, sf = connect(read_only_fields={"Contact": {"Title"}})
    first, second = org.create("Contact", LastName="One", Title="CEO"), org.create("Contact", LastName="Two")
    (job,) = sf.bulk2.Contact.update(records=[{"Id": first, "Title": "#N/A"}, {"Id": second, "Title": ""}], wait=0)
    assert job["numberRecordsFailed"] == 1
    (row,) = failed_rows(sf, "Contact", job["job_id"])
    assert (row["sf__Id"], row["sf__Error"]) == (first, f"INVALID_FIELD_FOR_INSERT_UPDATE:{FLS_TITLE}:Title --")


def test_per_record_errors_carry_status_code_message_and_fields(connect: Connect) -> None:
    org, sf = connect()
    contact = org.create("Contact", LastName="One")
    gone = org.create("Contact", LastName="Gone")
    org.delete_one(gone)
    results = patch(sf, {"id": contact, "LastName": None}, {"id": gone, "LastName": "X"})
    assert [r["errors"] for r in results] == [
        [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]",
          "fields": ["LastName"]}],
        [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}],
    ]  # fmt: skip


# -- State and Country/Territory picklists ------------------------------------------------------------------------


def test_without_country_picklists_the_code_fields_do_not_exist(connect: Connect) -> None:
    org, sf = connect(country_picklists=False)
    contact_fields = fields_of(sf.Contact.describe())
    assert {"MailingCountryCode", "MailingStateCode", "OtherCountryCode", "OtherStateCode"}.isdisjoint(contact_fields)
    assert contact_fields["MailingCountry"]["type"] == "string"
    assert {"CountryCode", "StateCode"}.isdisjoint(fields_of(sf.Lead.describe()))
    assert {"BillingCountryCode", "BillingStateCode"}.isdisjoint(fields_of(sf.Account.describe()))
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, MailingCountryCode FROM Contact")
    assert error_of(caught)["errorCode"] == "INVALID_FIELD"
    contact = org.create("Contact", LastName="One")
    assert patch(sf, {"id": contact, "MailingCountry": "Deutschland"})[0]["success"]  # free text
    assert sf.query("SELECT MailingCountry FROM Contact")["records"][0]["MailingCountry"] == "Deutschland"


def test_with_country_picklists_state_codes_exist_too(connect: Connect) -> None:
    _, sf = connect()
    assert {"MailingCountryCode", "MailingStateCode", "OtherCountryCode", "OtherStateCode"} <= set(
        fields_of(sf.Contact.describe())
    )
    assert {"CountryCode", "StateCode"} <= set(fields_of(sf.Lead.describe()))
    assert {"BillingCountryCode", "BillingStateCode"} <= set(fields_of(sf.Account.describe()))


# -- Person Accounts ------------------------------------------------------------------------------------------------

PERSON_CUSTOM = {"Contact": {"Legal_Hold__c": Field("boolean")}, "Account": {"Contract_End__c": Field("date")}}


def person_org(connect: Connect) -> tuple[FakeSalesforce, Salesforce, str, str]:
    org, sf = connect(person_accounts=True, custom_fields=PERSON_CUSTOM)
    account, contact = org.create_person_account(
        FirstName="Ada", LastName="Lovelace", PersonEmail="ada@example.com", PersonBirthdate=dt.date(1990, 12, 10),
        PersonMailingCountry="UK", PersonHasOptedOutOfEmail=False, Legal_Hold__pc=True,
        Contract_End__c=dt.date(2020, 1, 31), Phone="+44 20 0000 0000",
    )  # fmt: skip
    return org, sf, account, contact


def test_person_account_fields_are_described(connect: Connect) -> None:
    _, sf, _, _ = person_org(connect)
    account = fields_of(sf.Account.describe())
    expected = {"IsPersonAccount", "PersonContactId", "FirstName", "LastName", "Salutation", "PersonEmail",
                "PersonMobilePhone", "PersonHomePhone", "PersonBirthdate", "PersonMailingCountryCode",
                "PersonHasOptedOutOfEmail", "PersonDoNotCall", "PersonIndividualId", "Legal_Hold__pc"}  # fmt: skip
    assert expected <= set(account)
    assert (account["IsPersonAccount"]["updateable"], account["PersonContactId"]["referenceTo"]) == (False, ["Contact"])
    assert account["PersonIndividualId"]["referenceTo"] == ["Individual"] and account["Legal_Hold__pc"]["custom"]
    assert fields_of(sf.Contact.describe())["IsPersonAccount"]["createable"] is False


def test_a_person_account_has_a_mirrored_person_contact(connect: Connect) -> None:
    _, sf, account, contact = person_org(connect)
    soql = ("SELECT Id, AccountId, IsPersonAccount, Email, Birthdate, MailingCountry, Legal_Hold__c, Phone, "
            "Account.IsPersonAccount, Account.Contract_End__c FROM Contact WHERE Account.IsPersonAccount = true "
            "AND Account.Contract_End__c < 2021-01-01")  # fmt: skip
    (record,) = sf.query(soql)["records"]
    assert {"Id": contact, "AccountId": account, "IsPersonAccount": True, "Email": "ada@example.com",
            "Birthdate": "1990-12-10", "MailingCountry": "UK", "Legal_Hold__c": True,
            "Phone": "+44 20 0000 0000"}.items() <= record.items()  # fmt: skip
    assert {"IsPersonAccount": True, "Contract_End__c": "2020-01-31"}.items() <= record["Account"].items()
    (person,) = sf.query("SELECT Name, PersonContactId, PersonEmail FROM Account WHERE IsPersonAccount = true")[
        "records"
    ]
    assert (person["Name"], person["PersonContactId"], person["PersonEmail"]) == (
        "Ada Lovelace", contact, "ada@example.com"
    )  # fmt: skip


def test_updating_the_person_account_updates_its_contact(connect: Connect) -> None:
    org, sf, account, contact = person_org(connect)
    before = org.record("Contact", contact)["SystemModstamp"]
    assert patch(sf, {"type": "Account", "id": account, "PersonEmail": None, "LastName": "ANONYMISED"})[0]["success"]
    person, row = org.record("Account", account), org.record("Contact", contact)
    assert (row["Email"], row["LastName"], person["Name"]) == (None, "ANONYMISED", "Ada ANONYMISED")
    assert row["SystemModstamp"] == person["SystemModstamp"] > before
    (job,) = sf.bulk2.Account.update(records=[{"Id": account, "PersonBirthdate": "#N/A", "Legal_Hold__pc": "false"}],
                                     wait=0)  # fmt: skip
    assert job["numberRecordsFailed"] == 0
    row = org.record("Contact", contact)
    assert (row["Birthdate"], row["Legal_Hold__c"]) == (None, False)


def test_a_person_contact_is_not_written_or_deleted_through_contact(connect: Connect) -> None:
    org, sf, _, contact = person_org(connect)
    (result,) = patch(sf, {"id": contact, "Email": None})
    assert result["errors"] == [{"statusCode": "INVALID_PERSON_ACCOUNT_OPERATION",
                                 "message": "cannot reference person contact", "fields": []}]  # fmt: skip
    (deleted,) = sf.restful("composite/sobjects", {"ids": contact}, method="DELETE")
    assert deleted["errors"][0]["statusCode"] == "INVALID_PERSON_ACCOUNT_OPERATION"
    assert org.record("Contact", contact)["Email"] == "ada@example.com"


def test_person_fields_are_refused_on_a_business_account_and_name_on_a_person_account(connect: Connect) -> None:
    org, sf, person, _ = person_org(connect)
    business = org.create("Account", Name="Example Ltd")
    results = patch(sf, {"type": "Account", "id": business, "PersonEmail": "x@example.com"},
                    {"type": "Account", "id": person, "Name": "Someone Else"})  # fmt: skip
    assert [r["errors"][0]["message"] for r in results] == [
        "Account: bad field names on insert/update call: PersonEmail",
        "Unable to create/update fields: Name. Please check the security settings of this field and verify that it "
        "is read/write for your profile or permission set.",
    ]


def test_deleting_the_person_account_deletes_its_contact(connect: Connect) -> None:
    org, sf, account, contact = person_org(connect)
    (deleted,) = sf.restful("composite/sobjects", {"ids": account}, method="DELETE")
    assert deleted["success"] and org.deleted == {account: "Account", contact: "Contact"}
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_without_person_accounts_there_is_no_is_person_account(connect: Connect) -> None:
    _, sf = connect()
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Contact WHERE Account.IsPersonAccount = false")
    assert "No such column 'IsPersonAccount' on entity 'Account'" in error_of(caught)["message"]


# -- Data Protection and Privacy off ----------------------------------------------------------------------------


def test_without_data_protection_there_are_no_individuals(connect: Connect) -> None:
    _, sf = connect(data_protection=False)
    for sobject in ("Individual", "ContactPointTypeConsent", "DataUsePurpose"):
        with pytest.raises(SalesforceResourceNotFound):
            sf.restful(f"sobjects/{sobject}/describe")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Individual")
    error = error_of(caught)
    assert error["errorCode"] == "INVALID_TYPE"
    assert error["message"].startswith(
        "\nSELECT Id FROM Individual\n               ^\nERROR at Row:1:Column:16\n"
        "sObject type 'Individual' is not supported."
    )
    assert "IndividualId" not in fields_of(sf.Contact.describe())
    assert "IndividualId" not in fields_of(sf.Lead.describe())
    for soql in ("SELECT IndividualId FROM Contact", "SELECT Individual.BirthDate FROM Lead"):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.query(soql)
        assert error_of(caught)["errorCode"] == "INVALID_FIELD"


# -- sharing: private contacts ------------------------------------------------------------------------------------


def test_private_contacts_are_visible_by_default(connect: Connect) -> None:
    org, sf = connect()
    org.create("Contact", LastName="Private")
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1


def test_hidden_private_contacts_are_not_returned_nor_writable(connect: Connect) -> None:
    org, sf = connect(private_contacts_visible=False)
    account = org.create("Account", Name="Example Ltd")
    shared = org.create("Contact", LastName="Shared", AccountId=account)
    private = org.create("Contact", LastName="Private")
    assert [r["Id"] for r in sf.query_all("SELECT Id FROM Contact")["records"]] == [shared]
    assert sf.query(f"SELECT COUNT() FROM Contact WHERE Id = '{private}'")["totalSize"] == 0
    denied = {"statusCode": "INSUFFICIENT_ACCESS_OR_READONLY", "message": "insufficient access rights on object id",
              "fields": []}  # fmt: skip
    assert patch(sf, {"id": private, "LastName": "X"})[0]["errors"] == [denied]
    assert sf.restful("composite/sobjects", {"ids": private}, method="DELETE")[0]["errors"] == [denied]
    assert org.record("Contact", private)["LastName"] == "Private"
