"""PullQuery prefilters → SOQL WHERE (a safe superset of what `model.conditions.holds` selects).

A condition Salesforce cannot answer exactly (free-text country, a value map, a time with fractions of a
second on a date field) widens to TRUE, never to an error at the org; a condition on an unmapped field is
decided on the record's default value (`legal_hold` unmapped: never held).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from gomme.connectors.salesforce.mapping import CANONICAL_KINDS, ObjectMap
from gomme.connectors.salesforce.soql import (
    FALSE,
    TRUE,
    Compare,
    Comparison,
    Expr,
    In,
    Value,
    all_of,
    any_of,
    is_null,
    not_null,
)  # fmt: skip
from gomme.model.conditions import Condition, FilterGroup, Op, value_holds
from gomme.model.fields import key_of
from gomme.model.records import Lifecycle

_FIXED_PATHS: Mapping[str, str] = {"id": "Id", "modified_at": "SystemModstamp"}
_SYMBOL: Mapping[Op, Comparison] = {Op.EQ: "=", Op.NE: "!=", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}
_SECOND = dt.timedelta(seconds=1)


def groups_where(groups: Iterable[FilterGroup], omap: ObjectMap) -> Expr:
    """Any of the groups, each the conjunction of its conditions."""
    return any_of(all_of(condition_where(condition, omap) for condition in group) for group in groups)


def condition_where(condition: Condition, omap: ObjectMap) -> Expr:
    name = key_of(condition.field)
    op, value = Op(condition.op), condition.value
    if name == "anonymised":
        return _anonymised(omap, op, value)
    if name == "lifecycle" and omap.fields.get("lifecycle") and omap.sobject != "Lead":
        return _lifecycle(omap.fields["lifecycle"], omap, op, value)
    path = _FIXED_PATHS.get(name) or omap.fields.get(name)
    if name not in CANONICAL_KINDS:
        return TRUE  # not a field gomme knows: let every record through, the rules decide
    if path is None or name in ("lifecycle", "object_type"):
        return TRUE if _holds_or_true(_constant(name, omap), op, value) else FALSE
    if name in ("audience", "legal_basis") or (name == "country" and not path.endswith("CountryCode")):
        return TRUE  # the canonical value is derived from the stored one: no exact SOQL for it
    if name == "parental_consent":
        return TRUE  # consent rows can say it too: no SOQL condition on the record does
    paths = (path, *omap.fallbacks.get(name, ()))  # the first non-empty one is the value (mapping._Reader)
    try:
        exprs = [_typed(candidate, omap.kind_of(candidate), op, value) for candidate in paths]
    except (TypeError, ValueError):
        return TRUE  # a value of a type this field cannot be compared with: widen, never fail at the org
    if len(exprs) == 1:
        return exprs[0]
    # Empty only when every place is; otherwise the value is one of them: any of them matching is a superset.
    return all_of(exprs) if op is Op.IS_NULL or (op is Op.EQ and value is None) else any_of(exprs)


def _typed(path: str, kind: str, op: Op, value: Any) -> Expr:
    if op is Op.IS_NULL or (op is Op.EQ and value is None):
        return FALSE if kind == "bool" else is_null(path)
    if op is Op.NOT_NULL or (op is Op.NE and value is None):
        return TRUE if kind == "bool" else not_null(path)
    if op is Op.IN:
        values = list(value)
        exprs = [_typed(path, kind, Op.EQ, item) for item in values]
        return any_of(exprs)
    if kind == "bool":
        return _flag(path, op, value)
    operand = _operand(kind, op, value)
    if operand is None:
        return TRUE
    symbol, literal_value = operand
    if symbol == "!=":
        return any_of([Compare(path, "!=", literal_value), is_null(path)])  # `ne` keeps empty fields
    return Compare(path, symbol, literal_value)


def _flag(path: str, op: Op, value: Any) -> Expr:
    if not isinstance(value, bool) or op not in (Op.EQ, Op.NE):
        return TRUE
    wanted = value if op is Op.EQ else not value
    # A flag read through a missing relationship (no Individual) is null in SOQL, False in gomme.
    return Compare(path, "=", True) if wanted else any_of([Compare(path, "=", False), is_null(path)])


def _operand(kind: str, op: Op, value: Any) -> tuple[Comparison, Value] | None:
    """The comparison and literal for a non-null value, or None when only TRUE is a safe translation."""
    symbol = _SYMBOL[op]
    if kind == "text":
        if not isinstance(value, str):
            raise TypeError("text field")
        return symbol, value
    moment = _as_datetime(value)
    if kind == "datetime":
        if not moment.microsecond:
            return symbol, moment
        if op in (Op.LT, Op.LE):
            return symbol, moment.replace(microsecond=0) + _SECOND  # round outwards: a superset
        if op in (Op.GT, Op.GE):
            return symbol, moment.replace(microsecond=0)
        return None
    # A date field compared with a moment: the stored date counts as midnight UTC (base.Condition).
    day, midnight = moment.date(), moment == dt.datetime.combine(moment.date(), dt.time(), dt.UTC)
    if midnight:
        return symbol, day
    by_op: dict[Op, Comparison] = {Op.LT: "<=", Op.LE: "<=", Op.GT: ">", Op.GE: ">"}
    return (by_op[op], day) if op in by_op else None


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    raise TypeError("not a date or datetime")


def _anonymised(omap: ObjectMap, op: Op, value: Any) -> Expr:
    if op in (Op.IS_NULL, Op.NOT_NULL):
        return FALSE if op is Op.IS_NULL else TRUE
    if not isinstance(value, bool) or op not in (Op.EQ, Op.NE):
        return TRUE
    clean = []
    for path, accepted in omap.clean_when_anonymised():
        literals = [Compare(path, "=", a) for a in accepted if a is not None]
        clean.append(any_of([*literals, *([is_null(path)] if None in accepted else [])]))
    if value == (op is Op.EQ):
        return all_of(clean)
    dirty = []
    for path, accepted in omap.clean_when_anonymised():
        differs = [Compare(path, "!=", a) for a in accepted if a is not None]
        dirty.append(all_of([not_null(path), *differs]) if None in accepted else any_of([*differs, is_null(path)]))
    return any_of(dirty)


def _lifecycle(path: str, omap: ObjectMap, op: Op, value: Any) -> Expr:
    def matching(stage: Lifecycle) -> Expr:
        known = tuple(omap.lifecycle_map)
        if stage is Lifecycle.UNKNOWN:
            return any_of([is_null(path), In(path, known, negate=True)]) if known else TRUE
        keys = tuple(key for key, mapped in omap.lifecycle_map.items() if mapped is stage)
        return In(path, keys) if keys else FALSE

    def negated(stage: Lifecycle) -> Expr:
        if stage is Lifecycle.UNKNOWN:
            return In(path, tuple(omap.lifecycle_map)) if omap.lifecycle_map else FALSE
        keys = tuple(key for key, mapped in omap.lifecycle_map.items() if mapped is stage)
        return any_of([is_null(path), In(path, keys, negate=True)]) if keys else TRUE

    try:
        if op is Op.IN:
            return any_of(matching(Lifecycle(item)) for item in value)
        if op in (Op.EQ, Op.NE):
            return matching(Lifecycle(value)) if op is Op.EQ else negated(Lifecycle(value))
    except (TypeError, ValueError):
        return TRUE
    return FALSE if op is Op.IS_NULL else TRUE


def _holds_or_true(current: Any, op: Op, value: Any) -> bool:
    try:
        return value_holds(current, op, value)
    except (TypeError, ValueError):
        return True  # cannot tell: a superset


def _constant(name: str, omap: ObjectMap) -> Any:
    """The value every record of this object has for a field that is not read from Salesforce."""
    if name == "object_type":
        return omap.object_type
    if name == "lifecycle":
        return Lifecycle.PROSPECT if omap.sobject == "Lead" else Lifecycle.UNKNOWN
    return False if CANONICAL_KINDS[name] == "bool" else None

