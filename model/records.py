"""The canonical person record every connector produces and every rule reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gomme.model.related import RelatedGap, RelatedRecord


class Lifecycle(StrEnum):
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    FORMER_CUSTOMER = "former_customer"
    UNKNOWN = "unknown"


class Audience(StrEnum):
    """Whom the person is reached as: a professional (B2B) or a private individual (B2C), CPCE L.34-5."""

    B2B = "b2b"
    B2C = "b2c"
    UNKNOWN = "unknown"


class LegalBasis(StrEnum):
    """The Art 6(1) basis the controller recorded for processing the person's data."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTEREST = "legitimate_interest"
    NONE = "none"  # the CRM records a basis per person (e.g. HubSpot's GDPR settings) and none is recorded
    UNKNOWN = "unknown"  # the CRM does not say (no such field mapped)


class ConsentStatus(StrEnum):
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Consent:
    """One consent for a channel and purpose, with what proves it (Art 7(1))."""

    channel: str
    purpose: str = "marketing"
    status: ConsentStatus = ConsentStatus.UNKNOWN
    captured_at: dt.datetime | None = None
    source: str | None = None
    double_opt_in_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class OptOuts:
    email: bool = False
    phone: bool = False
    processing: bool = False
    profiling: bool = False
    tracking: bool = False
    solicit: bool = False


# Canonical names of the fields that identify a person directly; anonymise overwrites them.
IDENTIFYING_FIELDS: tuple[str, ...] = ("email", "first_name", "last_name", "phone", "birthdate")
# Canonical names of the fields a rectification request (Art 16) may correct.
RECTIFIABLE_FIELDS: tuple[str, ...] = ("email", "first_name", "last_name", "phone", "country", "birthdate")


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person as one CRM holds them, in gomme's vocabulary (docs/architecture.md "Canonical record").

    `modified_at` is the CRM's own change timestamp, used for incremental pulls.
    `raw` is the CRM's field dict, kept for write-back and export only.
    `audience`, `legal_basis` and `parental_consent` (Art 8 evidence) default to "not known".
    """

    crm: str
    object_type: str
    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    country: str | None = None
    birthdate: dt.date | None = None
    created_at: dt.datetime | None = None
    modified_at: dt.datetime | None = None
    last_activity_at: dt.datetime | None = None
    lifecycle: Lifecycle = Lifecycle.UNKNOWN
    contract_end: dt.date | None = None
    consents: tuple[Consent, ...] = ()
    opt_outs: OptOuts = field(default_factory=OptOuts)
    erasure_requested: bool = False
    legal_hold: bool = False
    restricted: bool = False
    anonymised: bool = False
    notes: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    audience: Audience = Audience.UNKNOWN
    legal_basis: LegalBasis = LegalBasis.UNKNOWN
    parental_consent: bool = False
    # Records about the person in other objects (activities, notes, cases), when the connector reads them, and the
    # objects it could not read (docs/related-records.md).
    related: tuple[RelatedRecord, ...] = ()
    related_gaps: tuple[RelatedGap, ...] = ()

    @property
    def ref(self) -> str:
        """The record's identity as `crm:object:id`, the input of its audit key."""
        return f"{self.crm}:{self.object_type}:{self.id}"

    def __repr__(self) -> str:
        # Never let a stray repr() (logs, tracebacks, pytest output) carry personal data.
        return f"PersonRecord({self.ref})"
