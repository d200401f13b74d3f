"""Structured conditions of the `match` kind: field / operator / value leaves in all/any groups.

Never `eval`, never an expression string: each leaf is checked against the field's type when the
policy loads, and compiled once into a predicate the engine calls per record.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from gomme.model.fields import FIELDS, PREFIXES, FieldType, field_type, getter, spec
from gomme.model.records import PersonRecord
from gomme.policies.period import Period
from gomme.policies.rule import utc

Predicate = Callable[[PersonRecord, dt.datetime], bool]


class MatchOp(StrEnum):
    """Operators of a `match` condition; comparisons with a missing field are false, except ne/not_in."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"
    OLDER_THAN = "older_than"
    NEWER_THAN = "newer_than"


_ORDER = (MatchOp.EQ, MatchOp.NE, MatchOp.LT, MatchOp.LE, MatchOp.GT, MatchOp.GE)
_OPS: Mapping[FieldType, tuple[MatchOp, ...]] = {
    FieldType.TEXT: (*_ORDER, MatchOp.IN, MatchOp.NOT_IN, MatchOp.CONTAINS, MatchOp.EXISTS),
    FieldType.BOOL: (MatchOp.EQ, MatchOp.NE, MatchOp.EXISTS),
    FieldType.DATE: (*_ORDER, MatchOp.IN, MatchOp.NOT_IN, MatchOp.EXISTS, MatchOp.OLDER_THAN, MatchOp.NEWER_THAN),
    FieldType.ANY: tuple(MatchOp),
}
_OPS = {**_OPS, FieldType.DATETIME: _OPS[FieldType.DATE]}
_COMPARE: Mapping[MatchOp, Callable[[Any, Any], bool]] = {
    MatchOp.EQ: operator.eq,
    MatchOp.NE: operator.ne,
    MatchOp.LT: operator.lt,
    MatchOp.LE: operator.le,
    MatchOp.GT: operator.gt,
    MatchOp.GE: operator.ge,
}


def check_leaf(name: str, op: MatchOp, value: Any) -> str | None:
    """Why `name op value` cannot be evaluated, or None when it is well-formed."""
    kind = field_type(name)
    if kind is None:
        known = ", ".join((*FIELDS, *(f"{p}<name>" for p in PREFIXES)))
        return f"unknown field {name!r} (one of: {known})"
    if op not in _OPS[kind]:
        return f"operator {op} does not apply to {kind} field {name!r} (use one of: {', '.join(_OPS[kind])})"
    if op is MatchOp.EXISTS:
        return None if isinstance(value, bool) or value is None else "exists takes true or false"
    if value is None:
        return f"{op} needs a value"
    if op in (MatchOp.OLDER_THAN, MatchOp.NEWER_THAN):
        try:
            Period.parse(value)
        except ValueError as exc:
            return str(exc)
        return None
    items = value if op in (MatchOp.IN, MatchOp.NOT_IN) else [value]
    if op in (MatchOp.IN, MatchOp.NOT_IN) and not isinstance(value, list | tuple):
        return f"{op} needs a list of values"
    return next((problem for item in items if (problem := _check_value(name, kind, op, item))), None)


def _check_value(name: str, kind: FieldType, op: MatchOp, value: Any) -> str | None:
    if kind is FieldType.BOOL and not isinstance(value, bool):
        return f"{name} is true or false (got {value!r})"
    if kind in (FieldType.DATE, FieldType.DATETIME) and not isinstance(value, dt.date):
        return f"{name} compares with a TOML date or date-time such as 2024-01-31 (got {value!r})"
    if kind is FieldType.TEXT and not isinstance(value, str):
        return f"{name} compares with text (got {value!r})"
    found = spec(name)
    enum = found.enum if found is not None else None
    if enum is not None and op is not MatchOp.CONTAINS and value not in tuple(enum):
        return f"{value!r} is not a {name} (one of: {', '.join(enum)})"
    return None


def compile_leaf(name: str, op: MatchOp, value: Any) -> Predicate:
    """The predicate of a well-formed leaf; it never raises (an incomparable value is simply false)."""
    read, kind = getter(name), field_type(name)
    norm = _normaliser(kind)
    if op is MatchOp.EXISTS:
        wanted = value is not False
        return lambda record, now: _present(read(record)) is wanted
    if op in (MatchOp.OLDER_THAN, MatchOp.NEWER_THAN):
        period, older = Period.parse(value), op is MatchOp.OLDER_THAN
        as_date = kind is FieldType.DATE

        def by_age(record: PersonRecord, now: dt.datetime) -> bool:
            current = norm(read(record))
            if current is None:
                return False
            cutoff: Any = period.before(now)
            cutoff = cutoff.date() if as_date or not isinstance(current, dt.datetime) else cutoff
            return _safe(operator.lt if older else operator.ge, current, cutoff)

        return by_age
    if op in (MatchOp.IN, MatchOp.NOT_IN):
        items, negate = [norm(item) for item in value], op is MatchOp.NOT_IN
        return lambda record, now: _member(norm(read(record)), items) is not negate
    if op is MatchOp.CONTAINS:
        needle = str(value).casefold()
        return lambda record, now: _contains(read(record), needle)
    compare, target, missing = _COMPARE[op], norm(value), op is MatchOp.NE
    return lambda record, now: missing if (current := norm(read(record))) is None else _safe(compare, current, target)


def _normaliser(kind: FieldType | None) -> Callable[[Any], Any]:
    """Puts dates and datetimes on one footing: aware UTC datetimes, plain dates for date fields."""
    if kind is FieldType.DATETIME:
        return lambda v: utc(v) if isinstance(v, dt.datetime) else _midnight(v) if isinstance(v, dt.date) else v
    if kind is FieldType.DATE:
        return lambda v: utc(v).date() if isinstance(v, dt.datetime) else v
    if kind is FieldType.ANY:
        return lambda v: utc(v) if isinstance(v, dt.datetime) else v
    return lambda v: v


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _safe(compare: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    try:
        return bool(compare(left, right))
    except TypeError:
        return compare is operator.ne  # values of different types are not equal, and not ordered


def _member(value: Any, items: list[Any]) -> bool:
    return value is not None and any(_safe(operator.eq, value, item) for item in items)


def _contains(value: Any, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value.casefold()
    if isinstance(value, list | tuple | set | frozenset):
        return any(isinstance(item, str) and item.casefold() == needle for item in value)
    return False
