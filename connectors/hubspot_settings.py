"""Configuration of a HubSpot connector (`type = "hubspot"`), validated before any call."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from gomme.connectors.records import Lifecycle
from gomme.connectors.settings import EnvVarName

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
    "last_activity_at": "notes_last_contacted",
    "last_sales_activity_at": "hs_last_sales_activity_timestamp",
    "created_at": "createdate",
    "modified_at": "lastmodifieddate",
    "description": "message",
}

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
    legal_hold_property: str | None = None
    contract_end_property: str | None = None
    restriction_property: str = "gomme_restricted"
    lifecycle_map: dict[str, Lifecycle] = Field(
        default_factory=lambda: dict(DEFAULT_LIFECYCLE_MAP)
    )
    requests_per_10s: int = Field(default=80, ge=1, le=250)
    search_requests_per_second: int = Field(default=4, ge=1, le=5)
    daily_limit: int = Field(default=250_000, ge=1)

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

    def property_map(self) -> dict[str, str]:
        mapping = {**DEFAULT_PROPERTIES, **self.properties}
        if self.legal_hold_property:
            mapping["legal_hold"] = self.legal_hold_property
        if self.contract_end_property:
            mapping["contract_end"] = self.contract_end_property
        return mapping
