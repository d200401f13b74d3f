"""The pull query and its prefilter conditions (`field op value`, AND-ed in groups, groups OR-ed), with the
one reference evaluator of those conditions.

Every connector translates conditions into its CRM's query language (SOQL, HubSpot search filters, SQL); what a
condition means is defined here, by `holds`, and the contract suite checks each translation against it.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gomme.model.fields import as_datetime, getter
from gomme.model.records import PersonRecord


class Op(StrEnum):
    """Comparison operators a prefilter may use; every connector translates them natively."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    IS_NULL = "is_null"
    NOT_NULL = "not_null"


@dataclass(frozen=True, slots=True)
class Condition:
    """`field op value` on a canonical PersonRecord field name (e.g. `last_activity_at lt <cutoff>`).

    Value types: an aware UTC `datetime` for timestamps, a `date` for `contract_end`/`birthdate`
    (a date compared with a datetime counts as midnight UTC), a `Lifecycle` for `lifecycle`, a
    `bool` for flags (`erasure_requested`, `legal_hold`, `anonymised`, `restricted`, `opt_outs.*`).
    `ne` matches empty fields, as in Python; ordering comparisons on an empty field are false.
    """

    field: str
    op: Op
    value: Any = None


FilterGroup = tuple[Condition, ...]
"""Conditions AND-ed together; a query OR-s its groups."""

@dataclass(frozen=True, slots=True)
class PullQuery:
    """Which records a pull must return.

    A record is returned when `everything` is set, or it changed at or after `since`
    (per object type, the connector's own opaque cursor), or it matches any prefilter group.
    Pushdown is a superset: rules still decide on every record returned.
    An object type missing from `since` was never pulled: all of it is returned. A query with
    only prefilters (`since=None`, `everything=False`) returns the cursor `{}`: it did not look at
    what changed, so it must not move the cursor. `limit` never moves the cursor past an unread record.
    """

    everything: bool = True
    since: Mapping[str, str] | None = None
    prefilters: tuple[FilterGroup, ...] = ()
    limit: int | None = None


_PYTHON: Mapping[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


def value_holds(current: Any, op: Op, value: Any) -> bool:
    """`current op value` with `Condition`'s meaning; raises TypeError when the two cannot be compared."""
    if op is Op.IS_NULL:
        return current is None
    if op is Op.NOT_NULL:
        return current is not None
    if op is Op.IN:
        return any(value_holds(current, Op.EQ, item) for item in value)
    if current is None or value is None:
        if op in (Op.EQ, Op.NE):
            return bool(_PYTHON[op](current, value))
        return False
    left, right = _comparable(current), _comparable(value)
    return bool(_PYTHON[op](left, right))


def holds(record: PersonRecord, condition: Condition) -> bool:
    """Whether the record meets the condition: the reference every connector's translation must agree with.

    Raises KeyError for a field gomme does not know and TypeError for a value of the wrong type.
    """
    return value_holds(getter(condition.field)(record), Op(condition.op), condition.value)


def matches_any(record: PersonRecord, groups: Iterable[FilterGroup], *, unsure: bool = True) -> bool:
    """Whether the record meets every condition of some group; a condition that cannot be evaluated (unknown
    field, wrong type) counts as `unsure` (True: a superset, as a prefilter must be)."""
    return any(all(_holds_or(record, condition, unsure) for condition in group) for group in groups)


def _holds_or(record: PersonRecord, condition: Condition, unsure: bool) -> bool:
    try:
        return holds(record, condition)
    except (KeyError, TypeError, ValueError):
        return unsure


def _comparable(value: Any) -> Any:
    return as_datetime(value) if isinstance(value, dt.date) else value  # datetimes included
