"""The fake org's objects and fields: types, lengths, required and read-only fields, relationships."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

READ_ONLY = frozenset({"Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "LastActivityDate", "IsConverted",
                       "IsDeleted", "IsPersonAccount", "PersonContactId"})  # fmt: skip
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Field:
    type: str  # id reference string email phone textarea picklist boolean date datetime double
    length: int = 255
    required: bool = False
    target: str | None = None  # for references


def _text(length: int = 255, required: bool = False) -> Field:
    return Field("string", length, required)


_SYSTEM = {
    "Id": Field("id", 18), "CreatedDate": Field("datetime"), "LastModifiedDate": Field("datetime"),
    "SystemModstamp": Field("datetime"), "IsDeleted": Field("boolean"),
}  # fmt: skip
_FLAGS = {name: Field("boolean") for name in ("HasOptedOutOfEmail", "DoNotCall", "HasOptedOutOfFax")}
_PHONES = {name: Field("phone", 40) for name in ("Phone", "MobilePhone", "Fax")}

SCHEMA: dict[str, dict[str, Field]] = {
    "Contact": {
        **_SYSTEM, **_FLAGS, **_PHONES,
        "AccountId": Field("reference", 18, target="Account"),
        "IndividualId": Field("reference", 18, target="Individual"),
        "FirstName": _text(40), "LastName": _text(80, required=True), "Email": Field("email", 80),
        "HomePhone": Field("phone", 40), "OtherPhone": Field("phone", 40), "AssistantName": _text(40),
        "AssistantPhone": Field("phone", 40), "Title": _text(128), "Department": _text(80), "Birthdate": Field("date"),
        "Description": Field("textarea", 32000), "MailingStreet": Field("textarea", 255), "MailingCity": _text(40),
        "MailingState": _text(80), "MailingPostalCode": _text(20), "MailingCountry": _text(80),
        "MailingCountryCode": Field("picklist", 10), "MailingStateCode": Field("picklist", 10),
        "OtherStreet": Field("textarea", 255), "OtherCity": _text(40), "OtherState": _text(80),
        "OtherPostalCode": _text(20), "OtherCountry": _text(80), "OtherCountryCode": Field("picklist", 10),
        "OtherStateCode": Field("picklist", 10), "Salutation": Field("picklist", 40),
        "LastActivityDate": Field("date"),
    },
    "Lead": {
        **_SYSTEM, **_FLAGS, **_PHONES,
        "IndividualId": Field("reference", 18, target="Individual"), "FirstName": _text(40),
        "LastName": _text(80, required=True), "Company": _text(255, required=True), "Email": Field("email", 80),
        "Title": _text(128), "Description": Field("textarea", 32000), "Street": Field("textarea", 255),
        "City": _text(40), "State": _text(80), "PostalCode": _text(20), "Country": _text(80),
        "CountryCode": Field("picklist", 10), "StateCode": Field("picklist", 10), "Status": Field("picklist", 40),
        "IsConverted": Field("boolean"),
        "LastActivityDate": Field("date"),
    },
    "Individual": {
        **_SYSTEM, "FirstName": _text(40), "LastName": _text(80, required=True), "BirthDate": Field("date"),
        **{name: Field("boolean") for name in (
            "HasOptedOutProcessing", "HasOptedOutProfiling", "HasOptedOutTracking", "HasOptedOutGeoTracking",
            "HasOptedOutSolicit", "ShouldForget", "SendIndividualData", "CanStorePiiElsewhere",
        )},
    },
    "Account": {
        **_SYSTEM, "Name": _text(255, required=True), "Type": Field("picklist", 40), "Phone": Field("phone", 40),
        "Fax": Field("phone", 40), "Description": Field("textarea", 32000),
        **{f"{kind}{part}": field for kind in ("Billing", "Shipping") for part, field in (
            ("Street", Field("textarea", 255)), ("City", _text(40)), ("State", _text(80)), ("PostalCode", _text(20)),
            ("Country", _text(80)), ("CountryCode", Field("picklist", 10)), ("StateCode", Field("picklist", 10)),
        )},
    },
    "ContactPointTypeConsent": {
        **_SYSTEM, "Name": _text(255, required=True), "PartyId": Field("reference", 18, target="Individual"),
        "ContactPointType": Field("picklist", 40), "PrivacyConsentStatus": Field("picklist", 40),
        "CaptureDate": Field("datetime"), "CaptureSource": _text(255), "CaptureContactPointType": Field("picklist"),
        "DoubleConsentCaptureDate": Field("datetime"), "EffectiveFrom": Field("datetime"),
        "EffectiveTo": Field("datetime"), "DataUsePurposeId": Field("reference", 18, target="DataUsePurpose"),
    },
    "DataUsePurpose": {**_SYSTEM, "Name": _text(80, required=True)},
    # Activities and cases (object reference: Task, Event, TaskRelation, EventRelation, Case). WhoId names a
    # Contact or a Lead; with Shared Activities on, TaskRelation/EventRelation rows list every person of one.
    "Task": {
        **_SYSTEM, "WhoId": Field("reference", 18, target="Contact"),
        "WhatId": Field("reference", 18, target="Account"),
        "Subject": _text(255), "Description": Field("textarea", 32000), "Status": Field("picklist", 40),
        "ActivityDate": Field("date"),
    },
    "Event": {
        **_SYSTEM, "WhoId": Field("reference", 18, target="Contact"),
        "WhatId": Field("reference", 18, target="Account"),
        "Subject": _text(255), "Description": Field("textarea", 32000), "ActivityDateTime": Field("datetime"),
    },
    "TaskRelation": {
        **_SYSTEM, "TaskId": Field("reference", 18, target="Task"),
        "RelationId": Field("reference", 18, target="Contact"),
        "IsWhat": Field("boolean"),
    },
    "EventRelation": {
        **_SYSTEM, "EventId": Field("reference", 18, target="Event"),
        "RelationId": Field("reference", 18, target="Contact"),
        "IsWhat": Field("boolean"),
    },
    "Case": {
        **_SYSTEM, "ContactId": Field("reference", 18, target="Contact"), "Subject": _text(255),
        "Description": Field("textarea", 32000), "SuppliedName": _text(80), "SuppliedEmail": Field("email", 80),
        "SuppliedPhone": _text(40), "Status": Field("picklist", 40),
    },
    # Field history: read-only rows (old and new values of tracked fields), deleted with their record.
    "ContactHistory": {**_SYSTEM, "ContactId": Field("reference", 18, target="Contact"), "Field": _text(255),
                       "OldValue": _text(255), "NewValue": _text(255)},
    "LeadHistory": {**_SYSTEM, "LeadId": Field("reference", 18, target="Lead"), "Field": _text(255),
                    "OldValue": _text(255), "NewValue": _text(255)},
}  # fmt: skip
KEY_PREFIX = {"Contact": "003", "Lead": "00Q", "Account": "001", "Individual": "0PK",
              "ContactPointTypeConsent": "0ZY", "DataUsePurpose": "0ZZ", "Task": "00T", "Event": "00U",
              "TaskRelation": "0RT", "EventRelation": "0RE", "Case": "500", "ContactHistory": "017",
              "LeadHistory": "017"}  # fmt: skip
ACTIVITY_RELATIONS = {"Task": ("TaskRelation", "TaskId"), "Event": ("EventRelation", "EventId")}
# Children deleted with a person (the describe's cascadeDelete): activities by WhoId, history rows by parent.
CASCADES = {"Task": "WhoId", "Event": "WhoId", "ContactHistory": "ContactId", "LeadHistory": "LeadId"}


# -- how an admin set the org up ---------------------------------------------------------------------------

DATA_PROTECTION_OBJECTS = ("Individual", "ContactPointTypeConsent", "DataUsePurpose")
# Account field of a person account → the person contact's field it mirrors (custom `X__pc` → `X__c` besides).
PERSON_MIRROR = {
    "FirstName": "FirstName", "LastName": "LastName", "Salutation": "Salutation", "PersonEmail": "Email",
    "PersonMobilePhone": "MobilePhone", "PersonHomePhone": "HomePhone", "PersonOtherPhone": "OtherPhone",
    "PersonAssistantPhone": "AssistantPhone", "PersonAssistantName": "AssistantName", "PersonTitle": "Title",
    "PersonDepartment": "Department", "PersonBirthdate": "Birthdate", "PersonMailingStreet": "MailingStreet",
    "PersonMailingCity": "MailingCity", "PersonMailingState": "MailingState",
    "PersonMailingPostalCode": "MailingPostalCode", "PersonMailingCountry": "MailingCountry",
    "PersonMailingCountryCode": "MailingCountryCode", "PersonMailingStateCode": "MailingStateCode",
    "PersonHasOptedOutOfEmail": "HasOptedOutOfEmail", "PersonHasOptedOutOfFax": "HasOptedOutOfFax",
    "PersonDoNotCall": "DoNotCall", "PersonIndividualId": "IndividualId", "Phone": "Phone", "Fax": "Fax",
    "Description": "Description",
    # system fields: a person account's two rows share their timestamps
    "CreatedDate": "CreatedDate", "LastModifiedDate": "LastModifiedDate", "SystemModstamp": "SystemModstamp",
    "LastActivityDate": "LastActivityDate",
}  # fmt: skip
_PERSON_ACCOUNT_FIELDS = {
    "IsPersonAccount": Field("boolean"), "PersonContactId": Field("reference", 18, target="Contact"),
    "FirstName": _text(40), "LastName": _text(80), "Salutation": Field("picklist", 40),
    "PersonEmail": Field("email", 80), "PersonTitle": _text(128), "PersonDepartment": _text(80),
    **{f"Person{kind}Phone": Field("phone", 40) for kind in ("Mobile", "Home", "Other", "Assistant")},
    "PersonAssistantName": _text(40), "PersonBirthdate": Field("date"),
    "PersonMailingStreet": Field("textarea", 255), "PersonMailingCity": _text(40), "PersonMailingState": _text(80),
    "PersonMailingPostalCode": _text(20), "PersonMailingCountry": _text(80),
    "PersonMailingCountryCode": Field("picklist", 10), "PersonMailingStateCode": Field("picklist", 10),
    "PersonHasOptedOutOfEmail": Field("boolean"), "PersonHasOptedOutOfFax": Field("boolean"),
    "PersonDoNotCall": Field("boolean"), "PersonIndividualId": Field("reference", 18, target="Individual"),
}  # fmt: skip


def is_person_field(name: str) -> bool:
    """Account fields that exist only on person accounts (a business account refuses them)."""
    return name in _PERSON_ACCOUNT_FIELDS or name.endswith("__pc")


def build_schema(
    *,
    custom_fields: dict[str, dict[str, Field]] | None = None,
    country_picklists: bool = True,
    data_protection: bool = True,
    person_accounts: bool = False,
    hidden_fields: dict[str, set[str]] | None = None,
    hidden_objects: set[str] | None = None,
    shared_activities: bool = True,
) -> dict[str, dict[str, Field]]:
    """The objects and fields the integration user sees in an org set up this way."""
    gone = set(hidden_objects or ()) | (set() if shared_activities else {"TaskRelation", "EventRelation"})
    schema = {name: dict(fields) for name, fields in SCHEMA.items() if name not in gone}
    for sobject, extra in (custom_fields or {}).items():
        schema[sobject].update(extra)
    if person_accounts:
        schema["Account"].update(_PERSON_ACCOUNT_FIELDS)
        mirrored = {f"{name[:-3]}__pc": field for name, field in schema["Contact"].items() if name.endswith("__c")}
        schema["Account"].update(mirrored)
        schema["Contact"]["IsPersonAccount"] = Field("boolean")
    if not country_picklists:  # State and Country/Territory Picklists off: no *CountryCode / *StateCode fields
        for fields in schema.values():
            for name in [n for n in fields if n.endswith(("CountryCode", "StateCode"))]:
                del fields[name]
    if not data_protection:  # Data Protection and Privacy off: no Individual, no consent objects, no lookups
        for name in DATA_PROTECTION_OBJECTS:
            del schema[name]
        for fields in schema.values():
            for name in [n for n, f in fields.items() if f.type == "reference" and f.target not in schema]:
                del fields[name]
    for sobject, names in (hidden_fields or {}).items():
        for name in names:
            if name not in schema.get(sobject, {}):
                raise ValueError(f"hidden_fields: {sobject}.{name} is not a field of this org")
            del schema[sobject][name]
    return schema


def relationship(sobject: str, name: str, schema: dict[str, dict[str, Field]] = SCHEMA) -> tuple[str, str] | None:
    """(reference field, target object) of a relationship name (`Individual` → IndividualId, `Foo__r` → Foo__c)."""
    reference = f"{name[:-3]}__c" if name.endswith("__r") else f"{name}Id"
    field = schema.get(sobject, {}).get(reference)
    return (reference, field.target) if field and field.type == "reference" and field.target else None


def check_value(schema: dict[str, dict[str, Field]], sobject: str, name: str, value: Any) -> tuple[Any, str | None]:
    """(stored value, error code): the org's own validation of one field written through the API."""
    field = schema[sobject].get(name)
    if field is None:
        return None, "INVALID_FIELD"
    if name in READ_ONLY:
        return None, "INVALID_FIELD_FOR_INSERT_UPDATE"
    if value is None or value == "":
        return None, ("REQUIRED_FIELD_MISSING" if field.required else None)
    if field.type == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        return (value, None) if isinstance(value, bool) else (None, "INVALID_TYPE_ON_FIELD_IN_RECORD")
    if field.type in ("date", "datetime"):
        try:
            text = str(value)
            parsed = dt.datetime.fromisoformat(text) if field.type == "datetime" else dt.date.fromisoformat(text)
        except ValueError:
            return None, "INVALID_TYPE_ON_FIELD_IN_RECORD"
        return parsed, None
    if not isinstance(value, str):
        return None, "INVALID_TYPE_ON_FIELD_IN_RECORD"
    if len(value) > field.length:
        return None, "STRING_TOO_LONG"
    if field.type == "email" and not _EMAIL.fullmatch(value):
        return None, "INVALID_EMAIL_ADDRESS"
    return value, None


def render(value: Any) -> Any:
    """A stored value as Salesforce's JSON shows it."""
    if isinstance(value, dt.datetime):
        stamp = value.astimezone(dt.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
