"""Salesforce rows ↔ canonical records: which fields to read, how to read them, what `anonymised` means."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from gomme.connectors.records import Audience, Consent, ConsentStatus, LegalBasis, Lifecycle, OptOuts, PersonRecord
from gomme.connectors.salesforce.settings import STANDARD_FIELD_TYPES, FieldKind, SalesforceObject, SalesforceSettings

OPT_OUT_NAMES: tuple[str, ...] = ("email", "phone", "processing", "profiling", "tracking", "solicit")
CANONICAL_KINDS: Mapping[str, FieldKind] = {
    **dict.fromkeys(("email", "first_name", "last_name", "phone", "country", "lifecycle", "audience",
                     "legal_basis", "id", "object_type"), "text"),
    **dict.fromkeys(("birthdate", "contract_end"), "date"),
    **dict.fromkeys(("created_at", "modified_at", "last_activity_at"), "datetime"),
    **dict.fromkeys((*(f"opt_out_{n}" for n in OPT_OUT_NAMES), "erasure_requested", "legal_hold", "restricted",
                     "parental_consent", "anonymised"), "bool"),
}  # fmt: skip
CONSENT_FIELDS: tuple[str, ...] = (
    "Id", "PartyId", "ContactPointType", "PrivacyConsentStatus", "CaptureDate", "CaptureSource",
    "DoubleConsentCaptureDate", "EffectiveFrom", "EffectiveTo", "DataUsePurposeId", "DataUsePurpose.Name",
)  # fmt: skip
CONSENTS_KEY = "ContactPointTypeConsents"  # where a record's consent rows sit in `raw`
_CONSENT_STATUS = {"optin": ConsentStatus.OPT_IN, "optout": ConsentStatus.OPT_OUT}
_CHANNELS = {"mailingaddress": "mail"}
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_E = TypeVar("_E", Audience, LegalBasis)


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
        if self.data_protection:
            fields += ["IndividualId", "Individual.LastName"]
            fields += [f"Individual.{name}" for name in self.individual_anonymise_fields]
        return list(dict.fromkeys(fields))

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
        read = _Reader(row, self.fields)
        return PersonRecord(
            crm=crm,
            object_type=self.object_type,
            id=_text(row.get("Id"), "Id") or "",
            email=read.text("email"),
            first_name=read.text("first_name"),
            last_name=read.text("last_name"),
            phone=read.text("phone"),
            country=_country(read.text("country")),
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
            audience=_enum(Audience, read.text("audience"), Audience.UNKNOWN),
            legal_basis=_enum(LegalBasis, read.text("legal_basis"), LegalBasis.UNKNOWN),
            parental_consent=read.flag("parental_consent"),
        )

    def _lifecycle(self, value: str | None) -> Lifecycle:
        if self.sobject == "Lead":
            return Lifecycle.PROSPECT  # a Lead is someone not (yet) a customer
        return self.lifecycle_map.get(value.casefold(), Lifecycle.UNKNOWN) if value else Lifecycle.UNKNOWN


class _Reader:
    def __init__(self, row: Mapping[str, Any], fields: Mapping[str, str]) -> None:
        self._row, self._fields = row, fields

    def _value(self, name: str) -> tuple[Any, str]:
        path = self._fields.get(name)
        return (None, name) if path is None else (value_at(self._row, path), path)

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
        purpose=purpose.strip().lower() if purpose else "marketing",
        status=_CONSENT_STATUS.get(status, ConsentStatus.UNKNOWN),
        captured_at=parse_datetime(row.get("CaptureDate"), "CaptureDate"),
        source=_text(row.get("CaptureSource"), "CaptureSource"),
        double_opt_in_at=parse_datetime(row.get("DoubleConsentCaptureDate"), "DoubleConsentCaptureDate"),
    )


def with_consents(record: PersonRecord, rows: Sequence[Mapping[str, Any]]) -> PersonRecord:
    """The record with its consent rows, as Consents and in `raw` (ids kept for erasure)."""
    consents = tuple(consent_from_row(row) for row in rows)
    return replace(record, consents=consents, raw={**record.raw, CONSENTS_KEY: [plain(row) for row in rows]})


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


def _country(value: str | None) -> str | None:
    """ISO-3166 alpha-2 from a country-code field; free text ("France") is not guessed at."""
    value = value.strip() if value else None
    return value.upper() if value and _COUNTRY.fullmatch(value) else None


def _enum(kind: type[_E], value: str | None, default: _E) -> _E:
    if not value:
        return default
    key = re.sub(r"[^a-z0-9]+", "_", value.casefold()).strip("_")
    return next((member for member in kind if member.value == key), default)
