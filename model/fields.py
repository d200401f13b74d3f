"""The field schema: each canonical field of a person record, its type and its spellings, once.

Two spellings exist for the opt-out flags, each where it is at home:
- `opt_outs.email`: how policies and prefilter conditions name the flag (the record's `opt_outs.email`);
- `opt_out_email`: how field maps (`[connectors.*.fields]`), the local CRM's columns and audit entries name it,
  one flat word per field.
`key_of` and `canonical` convert between them; nothing else spells an opt-out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gomme.model.records import Audience, LegalBasis, Lifecycle, OptOuts, PersonRecord


class FieldType(StrEnum):
    TEXT = "text"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    ANY = "any"  # raw.<name>: the CRM's own value, of whatever type it has


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One canonical field: its name in conditions, its type, its values if an enum, its flat key."""

    name: str
    kind: FieldType
    enum: type[StrEnum] | None = None

    @property
    def key(self) -> str:
        """The flat spelling of field maps, columns and audit entries (`opt_out_email` for `opt_outs.email`)."""
        return key_of(self.name)


OPT_OUT_NAMES: tuple[str, ...] = tuple(flag.name for flag in dataclasses.fields(OptOuts))
OPT_OUT_PREFIX, OPT_OUT_KEY_PREFIX = "opt_outs.", "opt_out_"
OPT_OUT_FIELDS: tuple[str, ...] = tuple(OPT_OUT_PREFIX + name for name in OPT_OUT_NAMES)
OPT_OUT_KEYS: tuple[str, ...] = tuple(OPT_OUT_KEY_PREFIX + name for name in OPT_OUT_NAMES)

_TEXT = ("crm", "object_type", "id", "email", "first_name", "last_name", "phone", "country")
_ENUMS: Mapping[str, type[StrEnum]] = {"lifecycle": Lifecycle, "audience": Audience, "legal_basis": LegalBasis}
_FLAGS = ("erasure_requested", "legal_hold", "restricted", "anonymised", "parental_consent", *OPT_OUT_FIELDS)
_SPECS = (
    *(FieldSpec(name, FieldType.TEXT) for name in _TEXT),
    *(FieldSpec(name, FieldType.TEXT, enum) for name, enum in _ENUMS.items()),
    *(FieldSpec(name, FieldType.BOOL) for name in _FLAGS),
    *(FieldSpec(name, FieldType.DATE) for name in ("birthdate", "contract_end")),
    *(FieldSpec(name, FieldType.DATETIME) for name in ("created_at", "modified_at", "last_activity_at")),
)
FIELDS: Mapping[str, FieldSpec] = {spec.name: spec for spec in _SPECS}
"""Every canonical scalar field a condition may name, by its condition spelling."""
PREFIXES: Mapping[str, FieldType] = {"notes.": FieldType.TEXT, "raw.": FieldType.ANY}
"""Families of fields named by prefix: a note (`notes.description`) or the CRM's own field (`raw.Foo__c`)."""


def key_of(name: str) -> str:
    """`opt_outs.email` → `opt_out_email`; every other name is its own key."""
    return OPT_OUT_KEY_PREFIX + name[len(OPT_OUT_PREFIX) :] if name in OPT_OUT_FIELDS else name


def canonical(name: str) -> str:
    """`opt_out_email` → `opt_outs.email`; every other name is already canonical."""
    return OPT_OUT_PREFIX + name[len(OPT_OUT_KEY_PREFIX) :] if name in OPT_OUT_KEYS else name


def spec(name: str) -> FieldSpec | None:
    """The scalar field named `name` (either spelling), or None."""
    return FIELDS.get(canonical(name))


def field_type(name: str) -> FieldType | None:
    """The type of a field a condition names (canonical spelling, or a prefixed one), or None if gomme has none."""
    if name in FIELDS:
        return FIELDS[name].kind
    prefix = next((p for p in PREFIXES if name.startswith(p) and len(name) > len(p)), None)
    return None if prefix is None else PREFIXES[prefix]


Getter = Callable[[PersonRecord], Any]


def getter(name: str) -> Getter:
    """Reads a field from a record (either spelling, or a prefixed one); a missing note or raw field is None."""
    name = canonical(name)
    if name.startswith(OPT_OUT_PREFIX):
        flag = name.removeprefix(OPT_OUT_PREFIX)
        return lambda record: getattr(record.opt_outs, flag)
    if name.startswith("notes."):
        note = name.removeprefix("notes.")
        return lambda record: record.notes.get(note)
    if name.startswith("raw."):
        key = name.removeprefix("raw.")
        return lambda record: record.raw.get(key)
    if name not in FIELDS:
        raise KeyError(name)
    return operator.attrgetter(name)


def as_datetime(value: dt.date) -> dt.datetime:
    """A date as midnight UTC, a naive datetime as UTC: how dates and datetimes compare with each other."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
