"""Configuration of a HubSpot connector (`type = "hubspot"`), validated before any call."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from gomme.connectors.parental import DEFAULT_PARENTAL_PHRASES
from gomme.connectors.settings import EnvVarName
from gomme.model.records import LegalBasis, Lifecycle

# Canonical field → HubSpot contact property. `modified_at` is always `lastmodifieddate` (the cursor).
DEFAULT_PROPERTIES: dict[str, str] = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "phone": "phone",
    "mobile_phone": "mobilephone",
    "country": "country",
    "birthdate": "date_of_birth",
    "lifecycle": "lifecyclestage",
    "legal_basis": "hs_legal_basis",
    "created_at": "createdate",
    "opt_out_email": "hs_email_optout",
}
# Canonical fields that may be mapped in `properties` but have no default (custom properties of the portal).
OPTIONAL_FIELDS: tuple[str, ...] = ("erasure_requested", "audience", "parental_consent")
MAPPABLE_FIELDS: frozenset[str] = frozenset((*DEFAULT_PROPERTIES, *OPTIONAL_FIELDS))

# Contact initiated by the person: a reply or call logged by sales, a click in a marketing email (docs/law.md §6: a
# click counts, an open does not). A property the portal lacks is skipped and reported.
DEFAULT_ACTIVITY_PROPERTIES: list[str] = [
    "notes_last_contacted", "hs_last_sales_activity_timestamp", "hs_email_last_click_date",
]  # fmt: skip
DEFAULT_NOTE_PROPERTIES: dict[str, str] = {"description": "message"}
# Standard identifying properties anonymise also clears (those missing from the portal are skipped).
DEFAULT_ANONYMISE_PROPERTIES: list[str] = ["address", "city", "state", "zip", "jobtitle", "company", "website"]

# Engagement object → its free-text properties: what is read beside each contact, scanned for sensitive text, scrubbed
# or deleted on erasure and exported on access (docs/related-records.md, "HubSpot"). `hs_email_headers` holds the
# sender's and recipients' names and addresses; HubSpot derives its read-only `hs_email_from_*` / `hs_email_to_*`
# properties from it.
DEFAULT_ENGAGEMENTS: dict[str, list[str]] = {
    "notes": ["hs_note_body"],
    "emails": ["hs_email_subject", "hs_email_text", "hs_email_html", "hs_email_headers"],
    "calls": ["hs_call_title", "hs_call_body"],
    "meetings": ["hs_meeting_title", "hs_meeting_body", "hs_internal_meeting_notes"],
    "tasks": ["hs_task_subject", "hs_task_body"],
}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")

DEFAULT_LIFECYCLE_MAP: dict[str, Lifecycle] = {
    "subscriber": Lifecycle.PROSPECT,
    "lead": Lifecycle.PROSPECT,
    "marketingqualifiedlead": Lifecycle.PROSPECT,
    "salesqualifiedlead": Lifecycle.PROSPECT,
    "opportunity": Lifecycle.PROSPECT,
    "customer": Lifecycle.CUSTOMER,
    "evangelist": Lifecycle.CUSTOMER,
    "other": Lifecycle.UNKNOWN,
}

# hs_legal_basis values (and the communication-preferences enum) → the Art 6(1) basis; matched ignoring case,
# with typographic dashes read as hyphens (HubSpot's labels use an en dash).
DEFAULT_LEGAL_BASIS_MAP: dict[str, LegalBasis] = {
    "legitimate interest - prospect/lead": LegalBasis.LEGITIMATE_INTEREST,
    "legitimate interest - existing customer": LegalBasis.LEGITIMATE_INTEREST,
    "legitimate interest - other": LegalBasis.LEGITIMATE_INTEREST,
    "freely given consent from contact": LegalBasis.CONSENT,
    "performance of a contract": LegalBasis.CONTRACT,
    "legitimate_interest_pql": LegalBasis.LEGITIMATE_INTEREST,
    "legitimate_interest_client": LegalBasis.LEGITIMATE_INTEREST,
    "legitimate_interest_other": LegalBasis.LEGITIMATE_INTEREST,
    "consent_with_notice": LegalBasis.CONSENT,
    "performance_of_contract": LegalBasis.CONTRACT,
}


def legal_basis_key(value: str) -> str:
    """The form legal-basis values are compared in: stripped, lower case, dashes as hyphens."""
    return value.strip().lower().replace("\u2013", "-").replace("\u2014", "-")


class HubSpotSettings(BaseModel):
    """One `[connectors.<name>]` block of type hubspot: private-app token or OAuth refresh token."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["hubspot"]
    base_url: HttpUrl = HttpUrl("https://api.hubapi.com")
    access_token_env: EnvVarName | None = None
    client_id: str | None = None
    client_secret_env: EnvVarName | None = None
    refresh_token_env: EnvVarName | None = None
    delete_mode: Literal["gdpr", "archive"] = "gdpr"
    properties: dict[str, str] = Field(default_factory=dict)
    activity_properties: list[str] = Field(default_factory=lambda: list(DEFAULT_ACTIVITY_PROPERTIES))
    note_properties: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_NOTE_PROPERTIES))
    anonymise_properties: list[str] = Field(default_factory=lambda: list(DEFAULT_ANONYMISE_PROPERTIES))
    legal_hold_property: str | None = None
    contract_end_property: str | None = None
    restriction_property: str = "gomme_restricted"
    lifecycle_map: dict[str, Lifecycle] = Field(default_factory=lambda: dict(DEFAULT_LIFECYCLE_MAP))
    legal_basis_map: dict[str, LegalBasis] = Field(default_factory=lambda: dict(DEFAULT_LEGAL_BASIS_MAP))
    # Subscription statuses are consents and opt-outs (v4 batch read: one call per 100 contacts).
    read_subscriptions: bool = True
    # A subscription status whose legal-basis explanation says a parent or guardian consented (Art 8(1)).
    parental_consent_phrases: list[str] = Field(default_factory=lambda: list(DEFAULT_PARENTAL_PHRASES))
    # Engagements read beside each contact (one associations call per object per 1,000 contacts, one read per 100).
    read_engagements: bool = True
    engagements: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ENGAGEMENTS.items()}
    )
    # When a contact is erased, an engagement about them alone is deleted (archived), or kept with their identifiers
    # cut out of it ("scrub"); one that concerns other contacts too is always scrubbed.
    related_on_erase: Literal["delete", "scrub"] = "delete"
    # The account's published limits (docs/crm-apis.md B3); the client-side limiter uses `limit_fraction` of each.
    requests_per_10s: int = Field(default=100, ge=1, le=250)
    search_requests_per_second: int = Field(default=4, ge=1, le=5)
    daily_limit: int = Field(default=250_000, ge=1)
    limit_fraction: float = Field(default=0.8, gt=0.0, le=1.0)
    timeout_seconds: float = Field(default=30.0, gt=0.0)
    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0.0)
    backoff_max_seconds: float = Field(default=60.0, ge=0.0)
    index_lag_seconds: float = Field(default=60.0, ge=0.0)

    @model_validator(mode="after")
    def _one_auth_method(self) -> Self:
        oauth = (self.client_id, self.client_secret_env, self.refresh_token_env)
        if self.access_token_env and any(oauth):
            raise ValueError("choose one way to authenticate: access_token_env, or the OAuth trio")
        if not self.access_token_env and not all(oauth):
            raise ValueError(
                "access_token_env: missing (or give client_id, client_secret_env and refresh_token_env for OAuth)"
            )
        return self

    @field_validator("properties")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - MAPPABLE_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown canonical field(s) {', '.join(unknown)}; mappable: {', '.join(sorted(MAPPABLE_FIELDS))}"
            )
        return value

    @field_validator("engagements")
    @classmethod
    def _engagement_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = sorted(
            name for name, properties in value.items()
            if not _NAME.fullmatch(name) or not properties or not all(_NAME.fullmatch(p) for p in properties)
        )  # fmt: skip
        if bad:
            raise ValueError(
                f"{', '.join(bad)}: give each engagement object (notes, emails, calls, meetings, tasks) a non-empty "
                "list of its property names (lower case, digits, _ and -)"
            )
        return value

    @field_validator("legal_basis_map")
    @classmethod
    def _lowercase_keys(cls, value: dict[str, LegalBasis]) -> dict[str, LegalBasis]:
        return {legal_basis_key(key): basis for key, basis in value.items()}

    @property
    def oauth(self) -> bool:
        return self.access_token_env is None

    @property
    def host(self) -> str:
        """The API root without a trailing slash, as the generated client's `host` expects."""
        return str(self.base_url).rstrip("/")

    def property_map(self) -> dict[str, str]:
        """Canonical field → property: defaults, overlaid with `properties` and the custom-property options."""
        mapping = {**DEFAULT_PROPERTIES, **self.properties}
        if self.legal_hold_property:
            mapping["legal_hold"] = self.legal_hold_property
        if self.contract_end_property:
            mapping["contract_end"] = self.contract_end_property
        mapping["restricted"] = self.restriction_property
        return mapping
