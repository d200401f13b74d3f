"""Canonical people → the fake org's Contacts, Leads, Accounts, Individuals and consent rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fakes.salesforce import FakeSalesforce
from fakes.salesforce_schema import Field

from gomme.model.records import ConsentStatus, Lifecycle, PersonRecord

ACCOUNT_TYPES = {Lifecycle.PROSPECT: "Prospect", Lifecycle.CUSTOMER: "Customer - Direct",
                 Lifecycle.FORMER_CUSTOMER: "Former Customer"}  # fmt: skip
CUSTOM_FIELDS = {
    "Contact": {
        "Legal_Hold__c": Field("boolean"),
        "Contract_End__c": Field("date"),
        "Gomme_Restricted__c": Field("boolean"),
    },
    "Lead": {"Legal_Hold__c": Field("boolean")},
}
_STATUS = {ConsentStatus.OPT_IN: "OptIn", ConsentStatus.OPT_OUT: "OptOut", ConsentStatus.UNKNOWN: "Seen"}
_CHANNEL = {"email": "Email", "phone": "Phone", "mail": "MailingAddress"}


def needs_individual(person: PersonRecord) -> bool:
    """People with data that lives on an Individual in Salesforce (birth date, requests, consents, opt-outs)."""
    opt = person.opt_outs
    return bool(person.birthdate or person.erasure_requested or person.consents or opt.processing or opt.profiling
                or opt.tracking or opt.solicit or person.restricted)  # fmt: skip


def seed(
    org: FakeSalesforce, people: Iterable[PersonRecord], individual: Callable[[PersonRecord], bool] = needs_individual
) -> dict[str, str]:
    """Stores the people; returns their canonical id → Salesforce id."""
    accounts = {stage: org.create("Account", Name=f"{name} Ltd", Type=name) for stage, name in ACCOUNT_TYPES.items()}
    purpose = org.create("DataUsePurpose", Name="Marketing")
    ids: dict[str, str] = {}
    for person in people:
        individual_id = None
        if individual(person):
            individual_id = org.create(
                "Individual", FirstName=person.first_name, LastName=person.last_name or "Unknown",
                BirthDate=person.birthdate, ShouldForget=person.erasure_requested,
                HasOptedOutProcessing=person.opt_outs.processing or person.restricted,
                HasOptedOutProfiling=person.opt_outs.profiling, HasOptedOutTracking=person.opt_outs.tracking,
                HasOptedOutSolicit=person.opt_outs.solicit,
            )  # fmt: skip
        common = {
            "FirstName": person.first_name, "LastName": person.last_name or "Unknown", "Email": person.email,
            "Phone": person.phone, "HasOptedOutOfEmail": person.opt_outs.email, "DoNotCall": person.opt_outs.phone,
            "LastActivityDate": person.last_activity_at.date() if person.last_activity_at else None,
            "CreatedDate": person.created_at, "SystemModstamp": person.modified_at or person.created_at,
            "Description": person.notes.get("description"), "IndividualId": individual_id,
            "Legal_Hold__c": person.legal_hold,
        }  # fmt: skip
        common = {key: value for key, value in common.items() if value is not None}
        if person.object_type == "lead":
            ids[person.id] = org.create("Lead", **common, Company="Example SARL", CountryCode=person.country,
                                        IsConverted=False, Status="Open")  # fmt: skip
        else:
            ids[person.id] = org.create(
                "Contact", **common, AccountId=accounts.get(person.lifecycle), MailingCountryCode=person.country,
                Contract_End__c=person.contract_end,
            )  # fmt: skip
        for consent in person.consents if individual_id else ():
            org.create(
                "ContactPointTypeConsent", Name=f"{consent.channel} consent", PartyId=individual_id,
                ContactPointType=_CHANNEL.get(consent.channel, "Web"), PrivacyConsentStatus=_STATUS[consent.status],
                CaptureDate=consent.captured_at, CaptureSource=consent.source,
                DoubleConsentCaptureDate=consent.double_opt_in_at, DataUsePurposeId=purpose,
                CaptureContactPointType=_CHANNEL.get(consent.channel, "Web"),
            )  # fmt: skip
    return ids
