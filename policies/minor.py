"""The `minor` kind: restrict a child's data below the digital-consent age of their country (Art 8)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, field_validator

from gomme.model.changes import Action
from gomme.model.conditions import Condition, FilterGroup, Op
from gomme.model.countries import country_code
from gomme.model.records import LegalBasis, PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.rule import NOT_ANONYMISED, RestrictingAction, RuleBase

Age = Annotated[int, Field(ge=13, le=18)]  # Art 8(1): Member States may not go below 13
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]

# docs/law.md §4, entries marked ✔ only; unverified ones (PT 13, GR 15, HR 15, PL…) fall back to the default 16,
# the highest age and so the safe side.
DIGITAL_CONSENT_AGES: Mapping[str, int] = {
    "AT": 14, "BE": 13, "CZ": 15, "DK": 13, "FI": 13, "FR": 15, "DE": 16, "HU": 16, "IE": 16,
    "IT": 14, "NL": 16, "SK": 16, "ES": 14, "SE": 13, "GB": 13,
}  # fmt: skip


def age_on(birthdate: dt.date, day: dt.date) -> int:
    """Whole years lived on `day`; a 29 February birthday falls on 1 March in common years (later: safer)."""
    years = day.year - birthdate.year
    if (day.month, day.day) < (birthdate.month, birthdate.day):
        years -= 1
    return years


class MinorRule(RuleBase):
    """Restrict a person younger than their country's digital-consent age whose basis may be consent.

    No parental consent recorded is required; an unknown or future birthdate decides nothing.
    """

    # The country and its threshold ("under 15"), never the age or the birth date: an audit entry outlives them.
    audited: ClassVar[tuple[str, ...]] = ("country", "under", "legal_basis")

    kind: Literal["minor"] = "minor"
    legal_basis: str = Field(
        default="GDPR Art 8(1): below the digital-consent age of the Member State, consent must be given or "
        "authorised by a holder of parental responsibility; Art 18 restriction",
        min_length=1,
    )
    description: str = "restrict children's data without parental consent"
    action: RestrictingAction = Action.RESTRICT_ALL
    ages: dict[CountryCode, Age] = Field(default_factory=lambda: dict(sorted(DIGITAL_CONSENT_AGES.items())))
    default_age: Age = 16
    # Art 8 covers processing on the basis of consent; an unrecorded basis may be consent.
    bases: tuple[LegalBasis, ...] = Field(
        default=(LegalBasis.CONSENT, LegalBasis.NONE, LegalBasis.UNKNOWN), min_length=1
    )

    @field_validator("ages", mode="after")
    @classmethod
    def _over_the_table(cls, ages: dict[str, int]) -> dict[str, int]:
        """Given ages override entries of the §4 table; the other countries keep theirs."""
        return dict(sorted({**DIGITAL_CONSENT_AGES, **ages}.items()))

    def prepare(self) -> None:
        country_code("FR")  # builds the table of country names in every language (tenths of a second) at start

    def threshold(self, country: str | None) -> tuple[int, str]:
        """The age and the country it was taken for (`default` when the country is unknown or not listed)."""
        code = country_code(country)  # the record's country is normally a code already; a name is read too
        age = self.ages.get(code) if code is not None else None
        return (self.default_age, "default") if code is None or age is None else (age, code)

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        birthdate = record.birthdate
        if birthdate is None or record.parental_consent or record.anonymised or record.legal_basis not in self.bases:
            return None
        today = now.date()
        if birthdate > today:
            return None  # a birthdate in the future is a data error, not a child
        age = age_on(birthdate, today)
        threshold, country = self.threshold(record.country)
        if age >= threshold:
            return None
        reason = f"age {age} below the digital-consent age {threshold} ({country}), no parental consent recorded"
        facts_ = {
            "age": str(age),
            "threshold": str(threshold),
            "country": country,
            "legal_basis": str(record.legal_basis),
            "under": str(threshold),
        }
        return self.finding(self.action, reason, facts_)

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        if record.birthdate is None:
            return "no birth date"
        if record.parental_consent:
            return "parental consent recorded"
        if record.anonymised:
            return "already anonymised"
        if record.legal_basis not in self.bases:
            bases = ", ".join(str(b) for b in self.bases)
            return f"legal basis is {record.legal_basis} (Art 8 is about consent; rule is for {bases})"
        if record.birthdate > now.date():
            return "birth date in the future: a data error, not a child"
        threshold, country = self.threshold(record.country)
        return f"not under {threshold}, the digital-consent age ({country})"

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        oldest = max((self.default_age, *self.ages.values()))
        born_after = _years_before(now.date(), oldest)  # anyone born on or before it is old enough everywhere
        return ((Condition("birthdate", Op.GT, born_after), NOT_ANONYMISED),)


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier; 29 February becomes 28 February (so `>` keeps every minor)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)
