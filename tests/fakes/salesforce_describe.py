"""The fake org's sObject Describe: the shape of `GET /services/data/vXX.X/sobjects/{SObject}/describe`.

The keys follow DescribeSObjectResult / DescribeFieldResult (developer.salesforce.com, SOAP API "describeSObjects()"
and REST "sObject Describe"); only the ones a client reads for mapping and field-level security are filled in.
Labels and picklist values are Salesforce's defaults as far as known: unverified unless noted.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import Any

from fakes.salesforce_schema import KEY_PREFIX, Field

# Salesforce's default Account.Type values (docs/real-orgs.md §4: seen only in public code, unverified).
DEFAULT_ACCOUNT_TYPES = ("Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller",
                         "Installation Partner", "Technology Partner", "Other")  # fmt: skip
_COUNTRIES = {"AT": "Austria", "BE": "Belgium", "CA": "Canada", "CH": "Switzerland", "DE": "Germany", "DK": "Denmark",
              "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "United Kingdom", "IE": "Ireland", "IT": "Italy",
              "NL": "Netherlands", "NO": "Norway", "PL": "Poland", "PT": "Portugal", "SE": "Sweden",
              "US": "United States"}  # fmt: skip  # a sample: the real list has ~250 ISO codes
_STATES = {"CA": "California", "NY": "New York", "TX": "Texas", "WA": "Washington", "ON": "Ontario",
           "QC": "Quebec"}  # fmt: skip  # a sample; real state picklists depend on the country
_CHANNELS = ("Email", "MailingAddress", "Phone", "Social", "Web")  # ✔ Object Reference ContactPointTypeConsent
PICKLISTS: dict[str, tuple[str, ...] | dict[str, str]] = {
    "Salutation": ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof."),
    "Status": ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"),
    "ContactPointType": _CHANNELS,
    "CaptureContactPointType": _CHANNELS,
    "PrivacyConsentStatus": ("OptIn", "OptOut", "Seen", "NotSeen"),
}
# docs/real-orgs.md §5 ✔ for the Individual labels; the others are Salesforce's usual labels (unverified).
LABELS = {
    "HasOptedOutOfEmail": "Email Opt Out", "HasOptedOutOfFax": "Fax Opt Out", "DoNotCall": "Do Not Call",
    "HasOptedOutSolicit": "Don't Market", "HasOptedOutProcessing": "Don't Process", "ShouldForget":
    "Forget this Individual", "HasOptedOutProfiling": "Don't Profile", "HasOptedOutTracking": "Don't Track",
    "HasOptedOutGeoTracking": "Don't Track Location", "SendIndividualData": "Export Individual's Data",
    "CanStorePiiElsewhere": "OK to Store PII Data Elsewhere", "BirthDate": "Birth Date", "Birthdate": "Birthdate",
    "PersonBirthdate": "Birthdate", "SystemModstamp": "System Modstamp", "IsDeleted": "Deleted",
    "IsConverted": "Converted", "IsPersonAccount": "Is Person Account", "Type": "Account Type",
    "PersonEmail": "Email", "PersonMobilePhone": "Mobile", "MobilePhone": "Mobile Phone",
}  # fmt: skip
_STRINGY = {"id", "reference", "string", "email", "phone", "textarea", "picklist", "url"}
_SOAP = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "date": "xsd:date",
         "datetime": "xsd:dateTime", "double": "xsd:double"}  # fmt: skip
_DEFAULTED = {"Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted", "OwnerId"}


def label_of(sobject: str, name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    if name == "Id":
        return f"{_words(sobject)} ID"
    base = re.sub(r"__p?c$", "", name)
    if base != name:
        return base.replace("_", " ")
    name = name.removeprefix("Person")  # a person account's PersonTitle is labelled Title, as on the Contact
    if name.endswith("Id") and len(name) > 2:
        return f"{_words(name[:-2])} ID"
    return _words(name)


def _words(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)


def picklist_values(sobject: str, name: str, account_types: tuple[str, ...]) -> list[dict[str, Any]]:
    if sobject == "Account" and name == "Type":
        values: tuple[str, ...] | dict[str, str] = account_types
    elif name.endswith("CountryCode"):
        values = _COUNTRIES
    elif name.endswith("StateCode"):
        values = _STATES
    else:
        values = PICKLISTS.get(name, ())
    pairs = values.items() if isinstance(values, dict) else ((v, v) for v in values)
    return [{"active": True, "defaultValue": False, "label": label, "validFor": None, "value": value}
            for value, label in pairs]  # fmt: skip


def describe_field(
    sobject: str, name: str, field: Field, *, editable: bool, account_types: tuple[str, ...]
) -> dict[str, Any]:
    custom = name.endswith(("__c", "__pc"))
    reference = field.type == "reference"
    relationship = (f"{name[:-3]}__r" if custom else name[:-2]) if reference else None
    return {
        "name": name, "label": label_of(sobject, name), "type": field.type,
        "length": field.length if field.type in _STRINGY and field.type not in ("id", "reference") else 0,
        "byteLength": field.length * 3 if field.type in _STRINGY else 0,
        "precision": 18 if field.type == "double" else 0, "scale": 0, "digits": 0,
        "soapType": _SOAP.get(field.type, "xsd:string"),
        "nillable": not field.required and field.type != "boolean" and name != "Id",
        "createable": editable, "updateable": editable,
        "defaultedOnCreate": field.type == "boolean" or name in _DEFAULTED,
        "calculated": False, "custom": custom, "unique": False, "externalId": False, "idLookup": name == "Id",
        "nameField": name == "Name" or (name == "LastName" and sobject != "Account"),
        "filterable": field.type != "textarea" or field.length <= 255, "sortable": field.type != "textarea",
        "relationshipName": relationship, "referenceTo": [field.target] if reference and field.target else [],
        "picklistValues": picklist_values(sobject, name, account_types) if field.type == "picklist" else [],
        "restrictedPicklist": field.type == "picklist" and name.endswith(("CountryCode", "StateCode")),
        "dependentPicklist": name.endswith("StateCode"),
        "controllerName": name.replace("StateCode", "CountryCode") if name.endswith("StateCode") else None,
        "defaultValue": False if field.type == "boolean" else None, "inlineHelpText": None,
    }  # fmt: skip


def describe_object(
    sobject: str, fields: dict[str, Field], read_only: set[str], account_types: tuple[str, ...], version: str
) -> dict[str, Any]:
    url = f"/services/data/v{version}/sobjects/{sobject}"
    label = _words(sobject)
    return {
        "name": sobject, "label": label, "labelPlural": f"{label}s", "keyPrefix": KEY_PREFIX.get(sobject),
        "custom": sobject.endswith("__c"), "createable": True, "updateable": True, "deletable": True,
        "queryable": True, "retrieveable": True, "searchable": True, "undeletable": True, "layoutable": True,
        "fields": [describe_field(sobject, name, field, editable=name not in read_only, account_types=account_types)
                   for name, field in fields.items()],
        "childRelationships": [], "recordTypeInfos": [],
        "urls": {"sobject": url, "describe": f"{url}/describe", "rowTemplate": f"{url}/{{ID}}"},
    }  # fmt: skip


def modified_since(header: str | None, changed_at: dt.datetime) -> bool:
    """Whether the schema changed after an `If-Modified-Since` date (EEE, dd MMM yyyy HH:mm:ss z); an absent or
    unreadable header counts as changed."""
    if not header:
        return True
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return True
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return changed_at.replace(microsecond=0) > since
