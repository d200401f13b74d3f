"""Salesforce rows ↔ canonical records: which fields to read, how to read them, what `anonymised` means."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from gomme.connectors.parental import mentions_parental_consent
from gomme.connectors.salesforce.settings import STANDARD_FIELD_TYPES, FieldKind, SalesforceObject, SalesforceSettings
from gomme.model.countries import country_code
from gomme.model.fields import FIELDS, OPT_OUT_NAMES
from gomme.model.records import Audience, Consent, ConsentStatus, LegalBasis, Lifecycle, OptOuts, PersonRecord

# The canonical fields a Salesforce field may be mapped to, by their flat key (`opt_out_email`), and their kinds.
CANONICAL_KINDS: Mapping[str, FieldKind] = {
    spec.key: cast(FieldKind, spec.kind.value) for spec in FIELDS.values() if spec.name != "crm"
}
CONSENT_FIELDS: tuple[str, ...] = (
    "Id", "PartyId", "ContactPointType", "PrivacyConsentStatus", "CaptureDate", "CaptureSource",
    "DoubleConsentCaptureDate", "EffectiveFrom", "EffectiveTo", "DataUsePurposeId", "DataUsePurpose.Name",
)  # fmt: skip
CONSENTS_KEY = "ContactPointTypeConsents"  # where a record's consent rows sit in `raw`
_CONSENT_STATUS = {"optin": ConsentStatus.OPT_IN, "optout": ConsentStatus.OPT_OUT}
_CHANNELS = {"mailingaddress": "mail"}
_E = TypeVar("_E", Audience, LegalBasis)
# What tells B2B from B2C when no `audience` field is mapped (docs/clocks.md "Audience"), read where visible.
AUDIENCE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Contact": ("AccountId", "Account.Name", "Account.IsPersonAccount", "IsPersonAccount"),
    "Lead": ("Company",),
}


class MappingError(ValueError):
    """A row that cannot become a record; names the field, never the value."""

    def __init__(self, field_name: str) -> None:
        super().__init__(f"field {field_name} has a value of an unexpected type or form")
        self.field_name = field_name


@dataclass(frozen=True, slots=True)
class ObjectMap:
    """How one Salesforce object (Contact or Lead) maps to PersonRecord, built once from the settings."""

    sobject: SalesforceObject
    fields: Mapping[str, str]
    notes: Mapping[str, str]
    field_types: Mapping[str, FieldKind] = field(default_factory=dict)
    lifecycle_map: Mapping[str, Lifecycle] = field(default_factory=dict)
    marker: str = "ANONYMISED"
    data_protection: bool = True
    erase_individual: bool = True
    anonymise_fields: tuple[str, ...] = ()
    individual_anonymise_fields: tuple[str, ...] = ()
    # Set once the map is fitted to the org's describe (fit.py); None means "not checked".
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # read when the mapped field is empty
    consents: bool = True  # ContactPointTypeConsent rows are read
    readable: frozenset[str] | None = None
    writable: frozenset[str] | None = None
    # Required fields anonymise cannot clear, so it writes the marker there (never anything derived): LastName, and
    # on Leads the Company, often the person's own name (fit.py adds it when the user may update it).
    marker_fields: tuple[str, ...] = ("LastName",)
    b2c_accounts: frozenset[str] = frozenset()
    b2c_companies: frozenset[str] = frozenset()
    parental_phrases: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: SalesforceSettings, sobject: SalesforceObject) -> ObjectMap:
        return cls(
            sobject=sobject,
            fields=settings.field_map(sobject),
            notes=dict(settings.note_fields),
            field_types=dict(settings.field_types),
            lifecycle_map={key.casefold(): value for key, value in settings.lifecycle_map.items()},
            marker=settings.anonymised_marker,
            data_protection=settings.data_protection,
            erase_individual=settings.erase_individual and settings.data_protection,
            anonymise_fields=tuple(settings.anonymise_fields.get(sobject, ())),
            individual_anonymise_fields=tuple(settings.anonymise_fields.get("Individual", ())),
            b2c_accounts=frozenset(_key(name) for name in settings.b2c_account_names),
            b2c_companies=frozenset(_key(name) for name in settings.b2c_lead_companies),
            parental_phrases=tuple(settings.parental_consent_phrases),
        )

    @property
    def object_type(self) -> str:
        return self.sobject.lower()

    def kind_of(self, path: str) -> FieldKind:
        """The Salesforce type of a mapped field: configured, else a known standard type, else the canonical one."""
        if path in self.field_types:
            return self.field_types[path]
        last = path.rsplit(".", 1)[-1]
        if last in STANDARD_FIELD_TYPES:
            return STANDARD_FIELD_TYPES[last]
        canonical = next((name for name, mapped in self.fields.items() if mapped == path), None)
        return CANONICAL_KINDS.get(canonical or "", "text")

    def select_fields(self) -> list[str]:
        """Everything a pull reads: the mapped fields, the notes, and what marker detection and writes need."""
        fields = ["Id", "SystemModstamp", "FirstName", "LastName", "Email", *self.fields.values(), *self.notes.values()]
        fields += [path for paths in self.fallbacks.values() for path in paths]
        if self.data_protection:
            fields += ["IndividualId", "Individual.LastName"]
            fields += [f"Individual.{name}" for name in self.individual_anonymise_fields]
        if self.readable is not None:  # fitted: also what tells B2B from B2C, as far as the user can see it
            fields += AUDIENCE_FIELDS.get(self.sobject, ())
            fields = [path for path in fields if path in self.readable]
        return list(dict.fromkeys(fields))

    def can_write(self, path: str) -> bool:
        """Whether gomme may write this field (direct, or `Individual.X`); unfitted maps allow everything."""
        return self.writable is None or path in self.writable

    def clean_when_anonymised(self) -> list[tuple[str, tuple[str | None, ...]]]:
        """(field, accepted values) pairs that all hold once `anonymise` succeeded; the last write is the marker."""
        pairs: list[tuple[str, tuple[str | None, ...]]] = [("LastName", (self.marker,))]
        pairs += [(name, (None,)) for name in ("FirstName", "Email") if name in self.anonymise_fields]
        if self.erase_individual:
            pairs.append(("Individual.LastName", (None, self.marker)))
            pairs += [(f"Individual.{name}", (None,)) for name in self.individual_anonymise_fields]
        return pairs

    def is_anonymised(self, row: Mapping[str, Any]) -> bool:
        for path, accepted in self.clean_when_anonymised():
            value = value_at(row, path)
            if isinstance(value, str) and value.casefold() in {a.casefold() for a in accepted if a is not None}:
                continue
            if value in (None, "") and None in accepted:
                continue
            return False
        return True

    def to_record(self, crm: str, row: Mapping[str, Any], consents: Sequence[Mapping[str, Any]] = ()) -> PersonRecord:
        """One record; raises MappingError naming the first field whose value cannot be read."""
        read = _Reader(row, self.fields, self.fallbacks)
        return PersonRecord(
            crm=crm,
            object_type=self.object_type,
            id=_text(row.get("Id"), "Id") or "",
            email=read.text("email"),
            first_name=read.text("first_name"),
            last_name=read.text("last_name"),
            phone=read.text("phone"),
            country=country_code(read.text("country")),
            birthdate=read.date("birthdate"),
            created_at=read.datetime("created_at"),
            modified_at=_required(parse_datetime(row.get("SystemModstamp"), "SystemModstamp"), "SystemModstamp"),
            last_activity_at=read.datetime("last_activity_at"),
            lifecycle=self._lifecycle(read.text("lifecycle")),
            contract_end=read.date("contract_end"),
            consents=tuple(consent_from_row(consent) for consent in consents),
            opt_outs=OptOuts(**{name: read.flag(f"opt_out_{name}") for name in OPT_OUT_NAMES}),
            erasure_requested=read.flag("erasure_requested"),
            legal_hold=read.flag("legal_hold"),
            restricted=read.flag("restricted"),
            anonymised=self.is_anonymised(row),
            notes={name: text for name, path in self.notes.items() if (text := _text(value_at(row, path), path))},
            raw={**plain(row), CONSENTS_KEY: [plain(consent) for consent in consents]},
            audience=self._audience(row, read),
            legal_basis=self._legal_basis(read),
            parental_consent=read.flag("parental_consent") or self.parental_in(consents),
        )

    def parental_in(self, consents: Sequence[Mapping[str, Any]]) -> bool:
        """A consent row whose capture source says a parent or guardian consented (Art 8(1))."""
        sources = (str(value_at(row, "CaptureSource") or "") for row in consents)
        return mentions_parental_consent(sources, self.parental_phrases) if self.parental_phrases else False

    def _legal_basis(self, read: _Reader) -> LegalBasis:
        if "legal_basis" not in self.fields:
            return LegalBasis.UNKNOWN
        return _enum(LegalBasis, read.text("legal_basis"), LegalBasis.NONE)  # mapped but empty: none recorded

    def _audience(self, row: Mapping[str, Any], read: _Reader) -> Audience:
        """A mapped field wins; else how the org models people (docs/clocks.md "Audience")."""
        if "audience" in self.fields:
            return _enum(Audience, read.text("audience"), Audience.UNKNOWN)
        if self.readable is None:
            return Audience.UNKNOWN
        if self.sobject == "Lead":
            if "Company" not in self.readable:
                return Audience.UNKNOWN
            company = _key(str(row.get("Company") or ""))
            first, last = str(row.get("FirstName") or ""), str(row.get("LastName") or "")
            names = {_key(f"{first} {last}"), _key(last), _key(f"{last} {first}")}
            return Audience.B2C if not company or company in self.b2c_companies or company in names else Audience.B2B
        if row.get("IsPersonAccount") is True or value_at(row, "Account.IsPersonAccount") is True:
            return Audience.B2C  # a Person Account is a consumer
        if "AccountId" not in self.readable:
            return Audience.UNKNOWN
        if not row.get("AccountId"):
            return Audience.B2C  # a private contact: no business behind it
        account = value_at(row, "Account.Name")
        if account is not None and _key(str(account)) in self.b2c_accounts:
            return Audience.B2C  # a placeholder account for individuals
        return Audience.B2B

    def _lifecycle(self, value: str | None) -> Lifecycle:
        if self.sobject == "Lead":
            return Lifecycle.PROSPECT  # a Lead is someone not (yet) a customer
        return self.lifecycle_map.get(value.casefold(), Lifecycle.UNKNOWN) if value else Lifecycle.UNKNOWN


class _Reader:
    def __init__(
        self, row: Mapping[str, Any], fields: Mapping[str, str], fallbacks: Mapping[str, tuple[str, ...]]
    ) -> None:
        self._row, self._fields, self._fallbacks = row, fields, fallbacks

    def _value(self, name: str) -> tuple[Any, str]:
        path = self._fields.get(name)
        if path is None:
            return None, name
        for candidate in (path, *self._fallbacks.get(name, ())):
            value = value_at(self._row, candidate)
            if value not in (None, ""):
                return value, candidate
        return None, path

    def text(self, name: str) -> str | None:
        return _text(*self._value(name))

    def date(self, name: str) -> dt.date | None:
        return parse_date(*self._value(name))

    def datetime(self, name: str) -> dt.datetime | None:
        return parse_datetime(*self._value(name))

    def flag(self, name: str) -> bool:
        value, path = self._value(name)
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise MappingError(path)


def value_at(row: Mapping[str, Any], path: str) -> Any:
    """A field through relationships (`Individual.BirthDate`); a null relationship gives None."""
    current: Any = row
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def parse_datetime(value: Any, path: str) -> dt.datetime | None:
    """Salesforce's `2024-01-31T09:00:00.000+0000`, or a date (midnight UTC), as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise MappingError(path) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)  # a date field (`LastActivityDate`) counts as midnight UTC
        return parsed.astimezone(dt.UTC)
    raise MappingError(path)


def parse_date(value: Any, path: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            raise MappingError(path) from None
    raise MappingError(path)


def consent_from_row(row: Mapping[str, Any]) -> Consent:
    kind = (_text(row.get("ContactPointType"), "ContactPointType") or "unknown").lower()
    purpose = _text(value_at(row, "DataUsePurpose.Name"), "DataUsePurpose.Name")
    status = (_text(row.get("PrivacyConsentStatus"), "PrivacyConsentStatus") or "").replace(" ", "").lower()
    return Consent(
        channel=_CHANNELS.get(kind, kind),
        purpose=consent_purpose(purpose),
        status=_CONSENT_STATUS.get(status, ConsentStatus.UNKNOWN),
        captured_at=parse_datetime(row.get("CaptureDate"), "CaptureDate"),
        source=_text(row.get("CaptureSource"), "CaptureSource"),
        double_opt_in_at=parse_datetime(row.get("DoubleConsentCaptureDate"), "DoubleConsentCaptureDate"),
    )


# DataUsePurpose names are the admin's free text ("Email Marketing", "Prospection commerciale", "Werbung"): names
# that say marketing as a whole are the policy's `marketing` purpose; a narrower one ("Newsletter") keeps its own
# name (lower case), so an opt-out of it is not read as withdrawing every marketing consent.
_MARKETING_PURPOSE = re.compile(
    r"marketing|prospect|promotion|advertis|publicit|werbung|d[ée]marchage|commercial offer|offres? commerciales?",
    re.IGNORECASE,
)


def consent_purpose(name: str | None) -> str:
    """The policy's purpose of a consent row: `marketing` without a DataUsePurpose or when its name says so."""
    text = " ".join((name or "").split())
    if not text or _MARKETING_PURPOSE.search(text):
        return "marketing"
    return text.lower()


def with_consents(record: PersonRecord, rows: Sequence[Mapping[str, Any]], omap: ObjectMap) -> PersonRecord:
    """The record with its consent rows, as Consents and in `raw` (ids kept for erasure)."""
    consents = tuple(consent_from_row(row) for row in rows)
    return replace(
        record, consents=consents, raw={**record.raw, CONSENTS_KEY: [plain(row) for row in rows]},
        parental_consent=record.parental_consent or omap.parental_in(rows),
    )  # fmt: skip


def plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as plain JSON-ready dicts, without Salesforce's `attributes` entries."""
    return {
        key: plain(value) if isinstance(value, Mapping) else value for key, value in row.items() if key != "attributes"
    }


def _text(value: Any, path: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise MappingError(path)


def _required(value: dt.datetime | None, path: str) -> dt.datetime:
    if value is None:
        raise MappingError(path)
    return value


def _key(value: str) -> str:
    """A name as compared: case, spacing and surrounding punctuation ignored."""
    return " ".join(value.casefold().split()).strip(" .-")


def _enum(kind: type[_E], value: str | None, default: _E) -> _E:
    if not value:
        return default
    key = re.sub(r"[^a-z0-9]+", "_", value.casefold()).strip("_")
    return next((member for member in kind if member.value == key), default)
