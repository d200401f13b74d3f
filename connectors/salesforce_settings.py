"""Configuration of a Salesforce connector (`type = "salesforce"`), validated before any call."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from gomme.connectors.records import Lifecycle
from gomme.connectors.settings import EnvVarName

DEFAULT_API_VERSION = "62.0"
SalesforceObject = Literal["Contact", "Lead"]
DEFAULT_OBJECTS: tuple[SalesforceObject, ...] = ("Contact", "Lead")

# Canonical field → Salesforce field, through relationships where the data lives on Individual/Account.
DEFAULT_FIELDS: dict[str, str] = {
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "phone": "Phone",
    "country": "MailingCountryCode",
    "birthdate": "Individual.BirthDate",
    "created_at": "CreatedDate",
    "modified_at": "SystemModstamp",
    "last_activity_at": "LastActivityDate",
    "lifecycle": "Account.Type",
    "opt_out_email": "HasOptedOutOfEmail",
    "opt_out_phone": "DoNotCall",
    "opt_out_processing": "Individual.HasOptedOutProcessing",
    "opt_out_profiling": "Individual.HasOptedOutProfiling",
    "opt_out_tracking": "Individual.HasOptedOutTracking",
    "opt_out_solicit": "Individual.HasOptedOutSolicit",
    "erasure_requested": "Individual.ShouldForget",
    "description": "Description",
}

DEFAULT_LIFECYCLE_MAP: dict[str, Lifecycle] = {
    "Prospect": Lifecycle.PROSPECT,
    "Customer - Direct": Lifecycle.CUSTOMER,
    "Customer - Channel": Lifecycle.CUSTOMER,
    "Former Customer": Lifecycle.FORMER_CUSTOMER,
}


class SalesforceSettings(BaseModel):
    """One `[connectors.<name>]` block of type salesforce. Exactly one way to authenticate."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["salesforce"]
    instance_url: HttpUrl | None = None
    domain: str = "login"
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^\d{2,3}\.0$")
    access_token_env: EnvVarName | None = None
    username: str | None = None
    password_env: EnvVarName | None = None
    security_token_env: EnvVarName | None = None
    client_id: str | None = None
    client_secret_env: EnvVarName | None = None
    consumer_key: str | None = None
    private_key_file: Path | None = None
    objects: list[SalesforceObject] = Field(default_factory=lambda: list(DEFAULT_OBJECTS), min_length=1)
    batch_size: int = Field(default=2000, ge=200, le=2000)
    fields: dict[str, str] = Field(default_factory=dict)
    legal_hold_field: str | None = None
    contract_end_field: str | None = None
    lifecycle_map: dict[str, Lifecycle] = Field(
        default_factory=lambda: dict(DEFAULT_LIFECYCLE_MAP)
    )
    hard_delete: bool = False
    api_budget_reserve: float = Field(default=0.2, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _one_auth_method(self) -> Self:
        methods = {
            "access token (instance_url + access_token_env)": self.access_token_env is not None,
            "password (username + password_env + security_token_env)": self.password_env is not None,
            "client credentials (client_id + client_secret_env)": self.client_secret_env is not None,
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

    def field_map(self) -> dict[str, str]:
        """Default mapping overlaid with the configured one and the custom legal-hold/contract fields."""
        mapping = {**DEFAULT_FIELDS, **self.fields}
        if self.legal_hold_field:
            mapping["legal_hold"] = self.legal_hold_field
        if self.contract_end_field:
            mapping["contract_end"] = self.contract_end_field
        return mapping
