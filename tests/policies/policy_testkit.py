"""Synthetic records and a pure-Python evaluator of prefilter conditions for the policy tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from gomme.model.changes import Action
from gomme.model.conditions import Condition, FilterGroup, Op
from gomme.model.records import Audience, Consent, ConsentStatus, LegalBasis, Lifecycle, OptOuts, PersonRecord

UTC = dt.UTC
CORPUS_FIGURES = pytest.StashKey[list[str]]()
"""Lines the corpus test leaves for the terminal summary (precision, recall, per language)."""
NOW = dt.datetime(2024, 11, 23, 12, 0, tzinfo=UTC)


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def person(**fields: Any) -> PersonRecord:
    """A synthetic contact with no personal data at all; enum fields may be given as strings."""
    for name, enum in (("lifecycle", Lifecycle), ("audience", Audience), ("legal_basis", LegalBasis)):
        if isinstance(fields.get(name), str):
            fields[name] = enum(fields[name])
    return PersonRecord(crm="local", object_type="contact", id=fields.pop("id", "c-0001"), **fields)


def holds(record: PersonRecord, condition: Condition) -> bool:
    """SQL-like truth of one condition: comparisons with a null field are false."""
    value: Any = record
    for part in condition.field.split("."):  # e.g. opt_outs.email
        value = getattr(value, part)
    match condition.op:
        case Op.IS_NULL:
            return value is None
        case Op.NOT_NULL:
            return value is not None
        case Op.EQ:
            return value is not None and bool(value == condition.value)
        case Op.IN:
            return value is not None and value in condition.value
    if value is None:
        return False
    compare = {Op.NE: value.__ne__, Op.LT: value.__lt__, Op.LE: value.__le__, Op.GT: value.__gt__, Op.GE: value.__ge__}[
        condition.op
    ]
    return bool(compare(condition.value))


def matches(record: PersonRecord, groups: Iterable[FilterGroup]) -> bool:
    """Whether the record satisfies at least one group (conditions AND-ed, groups OR-ed)."""
    return any(all(holds(record, c) for c in group) for group in groups)


def applied(record: PersonRecord, actions: Iterable[Action], values: Mapping[str, Any] | None = None) -> PersonRecord:
    """The record as the CRM would hold it after the actions: what the next sweep pulls."""
    for action in actions:
        if action is Action.REDACT_NOTE:
            redacted = {k.removeprefix("notes."): v for k, v in (values or {}).items() if k.startswith("notes.")}
            record = dataclasses.replace(record, notes={**record.notes, **redacted})
        if action is Action.ANONYMISE:
            record = dataclasses.replace(record, anonymised=True, notes={})
        elif action is Action.RESTRICT_ALL:
            everything = OptOuts(True, True, True, True, True, True)
            record = dataclasses.replace(record, restricted=True, opt_outs=everything)
        elif action is Action.RESTRICT_EMAIL:
            record = dataclasses.replace(record, opt_outs=dataclasses.replace(record.opt_outs, email=True))
    return record


def consent(
    status: str = "opt_in",
    captured_at: dt.datetime | None = None,
    source: str | None = "web form",
    channel: str = "email",
    purpose: str = "marketing",
) -> Consent:
    """An email marketing consent; the defaults are a proven opt-in but for the capture date."""
    return Consent(channel, purpose, ConsentStatus(status), captured_at, source)
