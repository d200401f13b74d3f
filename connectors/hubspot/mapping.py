"""HubSpot contact properties ↔ the canonical PersonRecord, and the property writes each action makes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gomme.connectors.hubspot.settings import HubSpotSettings, legal_basis_key
from gomme.connectors.parental import DEFAULT_PARENTAL_PHRASES, mentions_parental_consent
from gomme.model.changes import Action, PlannedChange
from gomme.model.countries import country_code
from gomme.model.records import (
    RECTIFIABLE_FIELDS,
    Audience,
    Consent,
    LegalBasis,
    Lifecycle,
    OptOuts,
    PersonRecord,
)

OBJECT_TYPE = "contact"
ID_PROPERTY = "hs_object_id"
MODIFIED_PROPERTY = "lastmodifieddate"
# The fixed anonymisation marker: a constant, never derived from the original (WP29 05/2014). A contact is
# anonymised when its last name is the marker and it has no email; anonymise writes exactly that.
ANONYMISED_LAST_NAME = "ANONYMISED"
NOTE_PREFIX = "notes."

# Properties HubSpot computes itself; never written, whatever the portal's schema says (second guard).
READ_ONLY: frozenset[str] = frozenset({
    ID_PROPERTY, MODIFIED_PROPERTY, "createdate", "hs_email_optout", "notes_last_contacted",
    "hs_last_sales_activity_timestamp", "hs_createdate", "hs_lastmodifieddate",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    """What the portal's schema says about one contact property (`GET /crm/v3/properties/contacts`)."""

    name: str
    type: str  # string, number, date, datetime, enumeration, bool, phone_number
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class EmailPreferences:
    """The subscription statuses of a contact's email, as consents, and whether it is opted out of email.

    `opted_out` (read as `opt_outs.email`): no marketing email may reach the address, i.e. every marketing type
    is off (subscriptions.marketing_types) or it opted out of all email. One-to-one sales or service types may
    stay subscribed: restrict_email leaves them, and the record must then read as opted out.
    """

    consents: tuple[Consent, ...]
    opted_out: bool
    explanations: tuple[str, ...] = ()  # the statuses' legal-basis explanations (free text, may name a parent)


@dataclass(frozen=True, slots=True)
class PropertyMap:
    """Which property holds each canonical field; `activity` are combined (the latest one counts)."""

    fields: Mapping[str, str]
    activity: tuple[str, ...]
    notes: Mapping[str, str]
    lifecycle: Mapping[str, Lifecycle]
    legal_basis: Mapping[str, LegalBasis]
    anonymise_extra: tuple[str, ...]
    parental_phrases: tuple[str, ...] = DEFAULT_PARENTAL_PHRASES

    @classmethod
    def from_settings(cls, settings: HubSpotSettings) -> PropertyMap:
        return cls(
            fields=settings.property_map(),
            activity=tuple(settings.activity_properties),
            notes=dict(settings.note_properties),
            lifecycle=dict(settings.lifecycle_map),
            legal_basis=dict(settings.legal_basis_map),
            anonymise_extra=tuple(settings.anonymise_properties),
            parental_phrases=tuple(settings.parental_consent_phrases),
        )

    def requested(self) -> list[str]:
        """The properties a pull asks for: the mapped ones only, sorted (stable requests)."""
        names = {*self.fields.values(), *self.activity, *self.notes.values(), ID_PROPERTY, MODIFIED_PROPERTY}
        return sorted(names)

    def properties_of(self, field: str) -> tuple[str, ...]:
        """The properties behind a canonical field (several for `last_activity_at`, none when unmapped)."""
        if field == "last_activity_at":
            return self.activity
        if field == "modified_at":
            return (MODIFIED_PROPERTY,)
        if field == "id":
            return (ID_PROPERTY,)
        if field == "phone":
            return tuple(self.fields[f] for f in ("phone", "mobile_phone") if f in self.fields)
        name = self.fields.get(field)
        return (name,) if name else ()


def to_person(
    crm: str, obj: Mapping[str, Any], pmap: PropertyMap, prefs: EmailPreferences | None, *, basis_tracked: bool = False
) -> PersonRecord:
    """One contact as the canonical record; `prefs` only when subscription statuses were read.

    `basis_tracked`: the portal has the legal-basis property (GDPR settings on), so an empty one means none
    is recorded (`LegalBasis.NONE`), not "not known".
    """
    props: Mapping[str, Any] = obj.get("properties") or {}

    def text(field: str) -> str | None:
        name = pmap.fields.get(field)
        return _text(props.get(name)) if name else None

    def flag(field: str) -> bool:
        return parse_bool(text(field))

    email, last_name, restricted = text("email"), text("last_name"), flag("restricted")
    activity = [moment for name in pmap.activity if (moment := parse_datetime(props.get(name))) is not None]
    email_opted_out = flag("opt_out_email") or email is None or (prefs is not None and prefs.opted_out)
    return PersonRecord(
        crm=crm,
        object_type=OBJECT_TYPE,
        id=str(obj.get("id") or props.get(ID_PROPERTY)),
        email=email,
        first_name=text("first_name"),
        last_name=last_name,
        phone=text("phone") or text("mobile_phone"),
        country=country_code(text("country")),
        birthdate=parse_date(text("birthdate")),
        created_at=parse_datetime(text("created_at")) or parse_datetime(obj.get("createdAt")),
        modified_at=parse_datetime(props.get(MODIFIED_PROPERTY)) or parse_datetime(obj.get("updatedAt")),
        last_activity_at=max(activity, default=None),
        lifecycle=pmap.lifecycle.get(text("lifecycle") or "", Lifecycle.UNKNOWN),
        contract_end=parse_date(text("contract_end")),
        consents=prefs.consents if prefs is not None else (),
        # Restriction of processing (Art 18) stops every use; email also stops without an address.
        opt_outs=OptOuts(email_opted_out, restricted, restricted, restricted, restricted, restricted),
        erasure_requested=flag("erasure_requested"),
        legal_hold=flag("legal_hold"),
        restricted=restricted,
        anonymised=(last_name or "").upper() == ANONYMISED_LAST_NAME and email is None,
        notes={note: value for note, name in pmap.notes.items() if (value := _text(props.get(name)))},
        raw={**props, "id": str(obj.get("id"))},
        audience=_audience(text("audience")),
        legal_basis=_legal_basis(text("legal_basis"), pmap.legal_basis, basis_tracked),
        parental_consent=flag("parental_consent")
        or (prefs is not None and mentions_parental_consent(prefs.explanations, pmap.parental_phrases)),
    )


@dataclass(frozen=True, slots=True)
class WritePlan:
    """What one change needs from HubSpot: property values, unsubscribing its email, deleting it."""

    properties: dict[str, str]
    unsubscribe: bool = False
    delete: bool = False
    anonymise: bool = False


class InvalidChange(ValueError):
    """The change cannot be written as given; `code` goes to the change log."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def write_plan(change: PlannedChange, pmap: PropertyMap) -> WritePlan:
    """The writes of every action of the change, merged; raises InvalidChange for a malformed one."""
    properties: dict[str, str] = {}
    actions = set(change.actions)
    for action in sorted(actions, key=lambda a: a.strength):
        properties.update(_action_properties(action, change, pmap))
    return WritePlan(
        properties=properties,
        unsubscribe=bool(actions & {Action.RESTRICT_EMAIL, Action.RESTRICT_ALL}) and Action.DELETE not in actions,
        delete=Action.DELETE in actions,
        anonymise=Action.ANONYMISE in actions,
    )


def _action_properties(action: Action, change: PlannedChange, pmap: PropertyMap) -> dict[str, str]:
    match action:
        case Action.RESTRICT_ALL:
            return {pmap.fields["restricted"]: "true"}
        case Action.ANONYMISE:
            return anonymise_properties(pmap)
        case Action.REDACT_NOTE:
            if change.related and not any(key.startswith(NOTE_PREFIX) for key in change.values):
                return {}  # only engagements to redact: the related writer does it
            return _note_writes(change.values, pmap)
        case Action.RECTIFY:
            return _rectify_writes(change.values, pmap)
        case Action.KEEP | Action.RESTRICT_EMAIL | Action.DELETE:
            return {}


def anonymise_properties(pmap: PropertyMap) -> dict[str, str]:
    """Every identifying property emptied ("" clears a HubSpot property), the last name set to the marker.

    The email is cleared, not replaced: a placeholder address would have to be unique per portal, and an
    empty value cannot reach anyone nor collide.
    """
    identifying = ("email", "first_name", "phone", "mobile_phone", "birthdate")
    names = [pmap.fields[f] for f in identifying if f in pmap.fields]
    writes = dict.fromkeys([*names, *pmap.notes.values(), *pmap.anonymise_extra], "")
    writes[pmap.fields.get("last_name", "lastname")] = ANONYMISED_LAST_NAME
    return writes


def _note_writes(values: Mapping[str, Any], pmap: PropertyMap) -> dict[str, str]:
    notes = {key.removeprefix(NOTE_PREFIX): text for key, text in values.items() if key.startswith(NOTE_PREFIX)}
    if not notes or not all(isinstance(text, str) for text in notes.values()):
        raise InvalidChange("INVALID_CHANGE", "redact_note needs text values keyed notes.<field>")
    unknown = sorted(set(notes) - set(pmap.notes))
    if unknown:
        raise InvalidChange("INVALID_CHANGE", f"no note property mapped for {', '.join(unknown)}")
    return {pmap.notes[name]: text for name, text in notes.items()}


def _rectify_writes(values: Mapping[str, Any], pmap: PropertyMap) -> dict[str, str]:
    writes: dict[str, str] = {}
    for field in RECTIFIABLE_FIELDS:
        if field not in values:
            continue
        name = pmap.fields.get(field)
        if name is None:
            raise InvalidChange("UNMAPPED_FIELD", f"no property mapped for {field}")
        value = values[field]
        writes[name] = "" if value is None else value.isoformat() if isinstance(value, dt.date) else str(value)
    return writes


def parse_datetime(value: Any) -> dt.datetime | None:
    """HubSpot datetimes: ISO-8601 (`...Z`) or epoch milliseconds; anything else is no value."""
    text = _text(value)
    if text is None:
        return None
    try:
        if text.isdigit():
            return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
        parsed = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def parse_date(value: Any) -> dt.date | None:
    """HubSpot dates: `YYYY-MM-DD`, an ISO datetime, or midnight UTC in epoch milliseconds."""
    text = _text(value)
    if text is None:
        return None
    if len(text) == 10 and not text.isdigit():
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return _day_first(text)
    moment = parse_datetime(text)
    return None if moment is None else moment.date()


def _day_first(text: str) -> dt.date | None:
    """A date typed by hand, `31/12/2009` or `31.12.2009`; only when day and month cannot be swapped."""
    parts = text.replace(".", "/").replace("-", "/").split("/")
    if len(parts) != 3 or not all(part.isdigit() for part in parts) or len(parts[2]) != 4:
        return None
    first, second, year = (int(part) for part in parts)
    if first <= 12 and second <= 12 and first != second:
        return None  # 03/04: March or April? never guessed
    day, month = (first, second) if second <= 12 else (second, first)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_bool(value: Any) -> bool:
    return _text(value) in ("true", "True", "1", "yes")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _audience(value: str | None) -> Audience:
    return {"b2b": Audience.B2B, "b2c": Audience.B2C}.get((value or "").strip().lower(), Audience.UNKNOWN)


def _legal_basis(value: str | None, known: Mapping[str, LegalBasis], tracked: bool) -> LegalBasis:
    """The first recognised basis of a multi-select (`;`-separated) value; NONE when tracked and empty."""
    if not (value or "").strip():
        return LegalBasis.NONE if tracked else LegalBasis.UNKNOWN
    for part in (value or "").split(";"):
        basis = known.get(legal_basis_key(part))
        if basis is not None:
            return basis
    return LegalBasis.UNKNOWN
