"""Synthetic records and a pure-Python evaluator of prefilter conditions for the policy tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from gomme.connectors.base import Condition, FilterGroup, Op
from gomme.connectors.changes import Action
from gomme.connectors.records import Lifecycle, OptOuts, PersonRecord

UTC = dt.UTC
NOW = dt.datetime(2024, 11, 23, 12, 0, tzinfo=UTC)


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def person(**fields: Any) -> PersonRecord:
    """A synthetic contact with no personal data at all; `lifecycle` may be given as a string."""
    if isinstance(fields.get("lifecycle"), str):
        fields["lifecycle"] = Lifecycle(fields["lifecycle"])
    return PersonRecord(crm="local", object_type="contact", id=fields.pop("id", "c-0001"), **fields)


def holds(record: PersonRecord, condition: Condition) -> bool:
    """SQL-like truth of one condition: comparisons with a null field are false."""
    value = getattr(record, condition.field)
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


def applied(record: PersonRecord, actions: Iterable[Action]) -> PersonRecord:
    """The record as the CRM would hold it after the actions: what the next sweep pulls."""
    for action in actions:
        if action is Action.ANONYMISE:
            record = dataclasses.replace(record, anonymised=True, notes={})
        elif action is Action.RESTRICT_ALL:
            everything = OptOuts(True, True, True, True, True, True)
            record = dataclasses.replace(record, restricted=True, opt_outs=everything)
        elif action is Action.RESTRICT_EMAIL:
            record = dataclasses.replace(record, opt_outs=dataclasses.replace(record.opt_outs, email=True))
    return record
