"""Configuration of a Salesforce connector (`type = "salesforce"`), validated once, before any call."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from gomme.connectors.parental import DEFAULT_PARENTAL_PHRASES
from gomme.connectors.settings import EnvVarName
from gomme.model.records import Lifecycle

DEFAULT_API_VERSION = "62.0"
SalesforceObject = Literal["Contact", "Lead"]
DEFAULT_OBJECTS: tuple[SalesforceObject, ...] = ("Contact", "Lead")
FieldKind = Literal["text", "date", "datetime", "bool"]

_FIELD_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){0,4}")


def _field_path(value: str) -> str:
    if value and not _FIELD_PATH.fullmatch(value):
        raise ValueError(f"'{value}' is not a Salesforce field name (letters, digits, _ and . only)")
    return value


FieldPath = Annotated[str, AfterValidator(_field_path)]
"""A Salesforce field API name, possibly through relationships (`Individual.BirthDate`); never a value.
In `fields`, `contact_fields` and `lead_fields`, "" means: this object has no such field."""

# Canonical name → Salesforce field, per object; relationships where the data lives on Individual/Account.
_INDIVIDUAL_FIELDS: dict[str, str] = {
    "birthdate": "Individual.BirthDate",
    "opt_out_processing": "Individual.HasOptedOutProcessing",
    "opt_out_profiling": "Individual.HasOptedOutProfiling",
    "opt_out_tracking": "Individual.HasOptedOutTracking",
    "opt_out_solicit": "Individual.HasOptedOutSolicit",
    "erasure_requested": "Individual.ShouldForget",
    "restricted": "Individual.HasOptedOutProcessing",
}
_COMMON_FIELDS: dict[str, str] = {
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "phone": "Phone",
    "created_at": "CreatedDate",
    "last_activity_at": "LastActivityDate",
    "opt_out_email": "HasOptedOutOfEmail",
    "opt_out_phone": "DoNotCall",
}
DEFAULT_FIELDS: dict[SalesforceObject, dict[str, str]] = {
    "Contact": {**_COMMON_FIELDS, "country": "MailingCountryCode", "lifecycle": "Account.Type"},
    "Lead": {**_COMMON_FIELDS, "country": "CountryCode"},  # a Lead is always a prospect
}
# Canonical names a mapping may use (PersonRecord's scalar fields; `modified_at` is always SystemModstamp).
CANONICAL_FIELDS: frozenset[str] = frozenset({
    *_COMMON_FIELDS, *_INDIVIDUAL_FIELDS, "country", "lifecycle", "contract_end", "legal_hold",
    "opt_out_email", "opt_out_phone", "audience", "legal_basis", "parental_consent",
})  # fmt: skip
# Salesforce types of the standard fields whose type differs from the canonical field's.
STANDARD_FIELD_TYPES: dict[str, FieldKind] = {
    "LastActivityDate": "date", "Birthdate": "date", "BirthDate": "date", "SystemModstamp": "datetime",
    "CreatedDate": "datetime", "LastModifiedDate": "datetime",
}  # fmt: skip

DEFAULT_B2C_ACCOUNT_NAMES: tuple[str, ...] = (
    "individuals", "individual", "private individuals", "private customers", "consumers", "b2c",
    "particuliers", "particulier", "clients particuliers", "privatkunden", "privatpersonen",
)  # fmt: skip
DEFAULT_B2C_LEAD_COMPANIES: tuple[str, ...] = (
    "[not provided]", "not provided", "n/a", "na", "none", "-", "private", "individual", "particulier", "privé",
    "prive", "privat", "privatperson",
)  # fmt: skip

DEFAULT_LIFECYCLE_MAP: dict[str, Lifecycle] = {
    "Prospect": Lifecycle.PROSPECT,
    "Customer - Direct": Lifecycle.CUSTOMER,
    "Customer - Channel": Lifecycle.CUSTOMER,
    "Former Customer": Lifecycle.FORMER_CUSTOMER,
}

# Fields `anonymise` clears (LastName gets the marker: it is required). Country is kept, coarse enough.
AnonymisedObject = Literal["Contact", "Lead", "Individual"]
DEFAULT_ANONYMISE_FIELDS: dict[AnonymisedObject, list[str]] = {
    "Contact": [
        "FirstName", "Email", "Phone", "MobilePhone", "HomePhone", "OtherPhone", "Fax", "AssistantName",
        "AssistantPhone", "Title", "Birthdate", "Description", "MailingStreet", "MailingCity", "MailingState",
        "MailingPostalCode", "OtherStreet", "OtherCity", "OtherState", "OtherPostalCode",
    ],
    "Lead": [
        "FirstName", "Email", "Phone", "MobilePhone", "Fax", "Title", "Description", "Street", "City", "State",
        "PostalCode",
    ],
    "Individual": ["FirstName", "BirthDate"],
}  # fmt: skip


# connectors/salesforce/related_objects.py RELATED_OBJECTS; one the org lacks or hides is skipped and reported
RelatedObjectName = Literal["Task", "Event", "Case", "EmailMessage", "ContentNote", "Note"]
DEFAULT_RELATED_OBJECTS: tuple[RelatedObjectName, ...] = (
    "Task", "Event", "Case", "EmailMessage", "ContentNote", "Note",
)  # fmt: skip


class SalesforceSettings(BaseModel):
    """One `[connectors.<name>]` block of type salesforce. Exactly one way to authenticate."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["salesforce"]
    # -- authentication --
    instance_url: HttpUrl | None = None
    domain: str = Field(default="login", pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^\d{2,3}\.0$")
    access_token_env: EnvVarName | None = None
    username: str | None = None
    password_env: EnvVarName | None = None
    security_token_env: EnvVarName | None = None
    client_id: str | None = None
    client_secret_env: EnvVarName | None = None
    consumer_key: str | None = None
    private_key_file: Path | None = None
    # -- what is read --
    objects: list[SalesforceObject] = Field(default_factory=lambda: list(DEFAULT_OBJECTS), min_length=1)
    data_protection: bool = True  # Individual and ContactPointTypeConsent exist (Data Protection enabled)
    fields: dict[str, FieldPath] = Field(default_factory=dict)
    contact_fields: dict[str, FieldPath] = Field(default_factory=dict)
    lead_fields: dict[str, FieldPath] = Field(default_factory=dict)
    field_types: dict[FieldPath, FieldKind] = Field(default_factory=dict)
    note_fields: dict[str, FieldPath] = Field(default_factory=lambda: {"description": "Description"})
    legal_hold_field: FieldPath | None = None
    contract_end_field: FieldPath | None = None
    restricted_field: FieldPath | None = None
    lifecycle_map: dict[str, Lifecycle] = Field(default_factory=lambda: dict(DEFAULT_LIFECYCLE_MAP))
    # B2B or B2C without an `audience` field (docs/clocks.md "Audience"): contacts of these placeholder Accounts
    # and Leads with these companies (or none, or their own name) are private individuals.
    b2c_account_names: list[str] = Field(default_factory=lambda: list(DEFAULT_B2C_ACCOUNT_NAMES))
    b2c_lead_companies: list[str] = Field(default_factory=lambda: list(DEFAULT_B2C_LEAD_COMPANIES))
    # A consent row whose CaptureSource says a parent or guardian consented is parental consent (Art 8(1)).
    parental_consent_phrases: list[str] = Field(default_factory=lambda: list(DEFAULT_PARENTAL_PHRASES))
    # -- what is written --
    anonymised_marker: str = Field(default="ANONYMISED", min_length=1, max_length=40)
    anonymise_fields: dict[AnonymisedObject, list[FieldPath]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ANONYMISE_FIELDS.items()}
    )
    erase_individual: bool = True
    hard_delete: bool = False
    # -- records about the person beside it (docs/related-records.md) --
    related_objects: list[RelatedObjectName] = Field(default_factory=lambda: list(DEFAULT_RELATED_OBJECTS))
    # When a person is erased, a Task, Event, draft email or note about them alone is deleted, or kept with their
    # identifiers cut out ("scrub"); one about other people too, and a Case, are always scrubbed; a sent email
    # about them alone is always deleted (its fields cannot be updated).
    related_on_erase: Literal["delete", "scrub"] = "delete"
    # -- transport and API allowance --
    batch_size: int = Field(default=2000, ge=200, le=2000)
    bulk_threshold: int = Field(default=2000, ge=200)
    bulk_poll_seconds: int = Field(default=5, ge=0)
    # A related-record query holding more rows than this is read as one Bulk API 2.0 query job (50,000 rows a
    # call after a create and polls) rather than paged through REST (batch_size rows a call): at 50,000 rows, 25
    # REST calls against about 5 (docs/related-records.md).
    bulk_read_threshold: int = Field(default=50_000, ge=2_000)
    requests_per_second: float = Field(default=10.0, gt=0, le=1000)
    timeout_seconds: float = Field(default=120.0, gt=0)
    reserve_percent: float = Field(default=10.0, ge=0, lt=100)
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=60.0, ge=0)
    limit_backoff_seconds: float = Field(default=300.0, ge=0)
    limit_attempts: int = Field(default=2, ge=1, le=10)
    max_query_length: int = Field(default=15_000, ge=2_000, le=16_000)

    @model_validator(mode="after")
    def _one_auth_method(self) -> Self:
        methods = {
            "access token (instance_url + access_token_env)": self.access_token_env is not None,
            "password (username + password_env + security_token_env)": self.password_env is not None,
            "client credentials (client_id + client_secret_env + domain)": self.client_secret_env is not None,
            "JWT bearer (consumer_key + private_key_file + username)": self.private_key_file is not None,
        }
        chosen = [name for name, used in methods.items() if used]
        if len(chosen) != 1:
            raise ValueError("choose exactly one way to authenticate: " + "; ".join(methods))
        if self.access_token_env and self.instance_url is None:
            raise ValueError("instance_url: missing (needed with access_token_env)")
        if self.password_env and not (self.username and self.security_token_env):
            raise ValueError("username and security_token_env are needed with password_env")
        if self.client_secret_env and not self.client_id:
            raise ValueError("client_id is needed with client_secret_env")
        if self.client_secret_env and self.domain in ("login", "test"):
            raise ValueError("client credentials need your My Domain in `domain`, not 'login' or 'test'")
        if self.private_key_file and not (self.consumer_key and self.username):
            raise ValueError("consumer_key and username are needed with private_key_file")
        return self

    @model_validator(mode="after")
    def _mapping_is_usable(self) -> Self:
        problems = [
            f"{table}: unknown canonical field '{name}'"
            for table, mapping in (("fields", self.fields), ("contact_fields", self.contact_fields),
                                   ("lead_fields", self.lead_fields))
            for name in mapping
            if name not in CANONICAL_FIELDS
        ]  # fmt: skip
        if not self.data_protection and self.restricted_field is None:
            problems.append("restricted_field: needed when data_protection = false (restrict_all must leave a mark)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def field_map(self, sobject: SalesforceObject) -> dict[str, str]:
        """Canonical field → Salesforce field for one object: defaults, then config, then the custom fields."""
        mapping = dict(DEFAULT_FIELDS[sobject])
        if self.data_protection:
            mapping.update(_INDIVIDUAL_FIELDS)
        custom = {
            "legal_hold": self.legal_hold_field,
            "contract_end": self.contract_end_field if sobject == "Contact" else None,  # Leads have no contract
            "restricted": self.restricted_field,
        }
        mapping.update({name: path for name, path in custom.items() if path})
        mapping.update(self.fields)
        mapping.update(self.contact_fields if sobject == "Contact" else self.lead_fields)
        return {name: path for name, path in mapping.items() if path}
