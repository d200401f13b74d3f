"""PullQuery prefilters → HubSpot search filter groups, always a superset of what the conditions select.

A condition translates to alternatives (a small OR of AND-ed filters): `[[]]` means "cannot be expressed,
drop it" (matches everything), `[]` means "can never hold" (an unmapped field whose fixed value fails it).
A group is the product of its conditions' alternatives. Whatever exceeds the search API's limits is
dropped (a broader group) or split into several queries; when nothing selective is left, the pull falls
back to the list endpoint. Nothing here can make HubSpot answer 400.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gomme.connectors.hubspot.mapping import ANONYMISED_LAST_NAME, ID_PROPERTY, PropertyInfo, PropertyMap
from gomme.model.conditions import Condition, FilterGroup, Op, value_holds
from gomme.model.fields import FIELDS, OPT_OUT_FIELDS, FieldType, as_datetime
from gomme.model.records import Lifecycle, PersonRecord

# Limits enforced by the API (docs/crm-apis.md B1): 5 groups; per-group/total filter counts are documented as
# 10/25 or 6/18, so the stricter pair is used. One filter per group is kept for keyset paging.
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS_TOTAL = 18
MAX_ALTERNATIVES = 12  # conjunctions one prefilter group may expand to before its widest condition is dropped
MAX_QUERIES = 16  # beyond this many searches per pull (a call each, at least), the list endpoint is the better deal
PAGE_SIZE = 200

Filter = dict[str, Any]
Conjunction = tuple[Filter, ...]
Alternatives = list[Conjunction]
ANY: Alternatives = [()]  # matches everything: the condition is dropped
NONE: Alternatives = []  # matches nothing

_DATETIME = frozenset(name for name, spec in FIELDS.items() if spec.kind is FieldType.DATETIME)
_DATE = frozenset(name for name, spec in FIELDS.items() if spec.kind is FieldType.DATE)
_BOOL = frozenset({"erasure_requested", "legal_hold", "restricted", "parental_consent"})
_TEXT = frozenset({"email", "first_name", "last_name", "id"})
_TIME_TYPES = frozenset({"datetime", "date"})
_TEXT_TYPES = frozenset({"string", "enumeration", "phone_number", "number"})
_ORDER = {Op.LT: "LT", Op.LE: "LTE", Op.GT: "GT", Op.GE: "GTE"}
_DEFAULTS: Mapping[str, Any] = {
    **{f.name: f.default for f in dataclasses.fields(PersonRecord) if f.default is not dataclasses.MISSING},
    **{name: False for name in OPT_OUT_FIELDS},
}


@dataclass(frozen=True, slots=True)
class PullPlan:
    """How to read a PullQuery: the list endpoint, or search queries (each ≤ the API limits) merged by id."""

    everything: bool
    queries: tuple[tuple[Conjunction, ...], ...] = ()
    dropped: tuple[str, ...] = ()  # canonical fields whose conditions could not be pushed down


def plan_prefilters(groups: Sequence[FilterGroup], pmap: PropertyMap, schema: Mapping[str, PropertyInfo]) -> PullPlan:
    """Search queries selecting a superset of the records matching any of `groups`.

    Degrades in steps: every condition; then without the `not anonymised` narrowing (which triples the
    groups); then, past MAX_QUERIES, the list endpoint.
    """
    plan = _plan(groups, pmap, schema, narrow=True)
    if plan.everything and len(plan.queries) > MAX_QUERIES:
        plan = _plan(groups, pmap, schema, narrow=False)
    if len(plan.queries) > MAX_QUERIES:
        return PullPlan(everything=True, dropped=plan.dropped)
    return plan


def _plan(
    groups: Sequence[FilterGroup], pmap: PropertyMap, schema: Mapping[str, PropertyInfo], *, narrow: bool
) -> PullPlan:
    dropped: list[str] = []
    conjunctions: dict[str, Conjunction] = {}
    for group in groups:
        kept = group if narrow else tuple(c for c in group if c.field != "anonymised")
        if len(kept) < len(group):
            dropped.append("anonymised")
        for conjunction in _group(kept, pmap, schema, dropped):
            if not conjunction:
                return PullPlan(everything=True, dropped=tuple(dict.fromkeys(dropped)))
            conjunctions.setdefault(json.dumps(conjunction, sort_keys=True), conjunction)
    queries = tuple(pack(list(conjunctions.values())))
    # `everything` with queries: over the limit; the caller decides how to degrade further.
    return PullPlan(everything=len(queries) > MAX_QUERIES, queries=queries, dropped=tuple(dict.fromkeys(dropped)))


def _group(
    group: FilterGroup, pmap: PropertyMap, schema: Mapping[str, PropertyInfo], dropped: list[str]
) -> Alternatives:
    """The product of the conditions' alternatives, narrowed to the limits by dropping conditions."""
    parts: list[tuple[str, Alternatives]] = []
    for condition in group:
        alternatives = translate(condition, pmap, schema)
        if not alternatives:
            return NONE  # one condition can never hold: neither can the group
        if alternatives == ANY:
            dropped.append(condition.field)
        else:
            parts.append((condition.field, alternatives))
    while _size(parts) > MAX_ALTERNATIVES:
        # The widest condition goes; on a tie the `not anonymised` narrowing, before conditions on the data.
        widest = max(range(len(parts)), key=lambda i: (len(parts[i][1]), parts[i][0] == "anonymised"))
        dropped.append(parts.pop(widest)[0])
    result: Alternatives = []
    for combination in itertools.product(*(alternatives for _, alternatives in parts)):
        filters = tuple(f for conjunction in combination for f in conjunction)
        result.append(filters[: MAX_FILTERS_PER_GROUP - 1])  # fewer filters: a broader group, still a superset
    return result


def _size(parts: Sequence[tuple[str, Alternatives]]) -> int:
    size = 1
    for _, alternatives in parts:
        size *= len(alternatives)
    return size


def pack(conjunctions: Sequence[Conjunction]) -> list[tuple[Conjunction, ...]]:
    """Groups into queries of at most MAX_GROUPS groups and MAX_FILTERS_TOTAL filters (keyset filter included)."""
    queries: list[list[Conjunction]] = []
    for conjunction in conjunctions:
        cost = len(conjunction) + 1
        for query in queries:
            if len(query) < MAX_GROUPS and sum(len(c) + 1 for c in query) + cost <= MAX_FILTERS_TOTAL:
                query.append(conjunction)
                break
        else:
            queries.append([conjunction])
    return [tuple(query) for query in queries]


def translate(condition: Condition, pmap: PropertyMap, schema: Mapping[str, PropertyInfo]) -> Alternatives:
    """One condition as alternatives of HubSpot filters (see the module docstring for ANY and NONE)."""
    field, op, value = condition.field, Op(condition.op), condition.value
    if field == "anonymised":
        return _anonymised(op, value, pmap, schema)
    if field == "lifecycle":
        return _lifecycle(op, value, pmap, schema)
    if field not in _DEFAULTS or field in OPT_OUT_FIELDS:
        return ANY  # not a record field, or derived from several sources (opt-outs, subscriptions)
    names = pmap.properties_of(field)
    infos = [schema[name] for name in names if name in schema]  # a property the portal lacks is never set
    if not infos:
        # Unmapped, or not in the portal: every record holds the field's default value.
        return ANY if _holds(_DEFAULTS.get(field), op, value) else NONE
    result = ANY
    if field in _DATETIME or field in _DATE:
        result = _latest_of(infos, op, value) if len(infos) > 1 else _compare(infos[0], op, value)
    elif field in _BOOL and infos[0].type == "bool":
        result = _boolean(infos[0].name, op, value)
    elif field in _TEXT and infos[0].type in _TEXT_TYPES:
        result = _text(infos[0].name, op, value)
    if result == ANY and _needs_value(op, value):
        # Not expressible exactly (e.g. a birth date kept as text), but it can only hold on a set value.
        return [(_f(info.name, "HAS_PROPERTY"),) for info in infos]
    return result


def _needs_value(op: Op, value: Any) -> bool:
    """Whether the condition is false on an empty field (ordering, or equality with a non-false value)."""
    if op in _ORDER:
        return True
    if op is Op.EQ:
        return value is not None and not isinstance(value, bool)
    if op is Op.IN and isinstance(value, Iterable) and not isinstance(value, str | bytes):
        items = list(value)
        return bool(items) and all(item is not None and not isinstance(item, bool) for item in items)
    return False


def _compare(info: PropertyInfo, op: Op, value: Any) -> Alternatives:
    """A date/datetime property against a date/datetime value; a date property holds midnight UTC."""
    name = info.name
    if info.type not in _TIME_TYPES:
        return ANY  # e.g. a date kept as text: an unreadable value is "empty" to gomme but set to HubSpot
    if op is Op.IS_NULL or (op is Op.EQ and value is None):
        return [(_f(name, "NOT_HAS_PROPERTY"),)]
    if op is Op.NOT_NULL or (op is Op.NE and value is None):
        return [(_f(name, "HAS_PROPERTY"),)]
    if not isinstance(value, dt.date) or op is Op.IN:
        return ANY
    moment = as_datetime(value).astimezone(dt.UTC)
    if info.type == "date" and moment.timetz().replace(tzinfo=None) != dt.time():
        # A date (midnight) never equals a time inside a day; against one, compare with the day's bounds.
        day = moment.date()
        if op in (Op.LT, Op.LE):
            return [(_f(name, "LTE", _millis(day)),)]
        if op in (Op.GT, Op.GE):
            return [(_f(name, "GTE", _millis(day + dt.timedelta(days=1))),)]
        return NONE if op is Op.EQ else ANY
    if op is Op.EQ:
        return [(_f(name, "EQ", _millis(moment)),)]
    if op is Op.NE:
        return [(_f(name, "NEQ", _millis(moment)),), (_f(name, "NOT_HAS_PROPERTY"),)]
    return [(_f(name, _ORDER[op], _millis(moment)),)]


def _latest_of(infos: Sequence[PropertyInfo], op: Op, value: Any) -> Alternatives:
    """The latest of several datetime properties (empty ones ignored), e.g. the last activity."""
    absent = {info.name: (_f(info.name, "NOT_HAS_PROPERTY"),) for info in infos}
    if op is Op.IS_NULL or (op is Op.EQ and value is None):
        return [tuple(f for conjunction in absent.values() for f in conjunction)]
    if op in (Op.GT, Op.GE, Op.NOT_NULL) or (op is Op.NE and value is None):
        return [c for info in infos for c in _compare(info, op, value)]
    if op not in (Op.LT, Op.LE):
        return ANY
    # max < v: every set property below v, and at least one set (one alternative per non-empty subset).
    result: Alternatives = []
    for size in range(1, len(infos) + 1):
        for chosen in itertools.combinations(infos, size):
            below = [_compare(info, op, value) for info in chosen]
            rest = [[absent[info.name]] for info in infos if info not in chosen]
            for combination in itertools.product(*below, *rest):
                result.append(tuple(f for conjunction in combination for f in conjunction))
    return result


def _boolean(name: str, op: Op, value: Any) -> Alternatives:
    if op is Op.IS_NULL:
        return [(_f(name, "NOT_HAS_PROPERTY"),)]
    if op is Op.NOT_NULL:
        return [(_f(name, "HAS_PROPERTY"),)]
    if op not in (Op.EQ, Op.NE) or not isinstance(value, bool):
        return ANY
    if (op is Op.EQ) == value:
        return [(_f(name, "EQ", "true"),)]
    return [(_f(name, "EQ", "false"),), (_f(name, "NOT_HAS_PROPERTY"),)]  # unset reads as false


def _text(name: str, op: Op, value: Any) -> Alternatives:
    if op is Op.IS_NULL or (op is Op.EQ and value is None):
        return ANY  # a blank value reads as empty to gomme but is set to HubSpot
    if op is Op.NOT_NULL or (op is Op.NE and value is None):
        return [(_f(name, "HAS_PROPERTY"),)]
    if op is Op.EQ and isinstance(value, str):
        return [(_f(name, "EQ", value),)]
    if op is Op.NE and isinstance(value, str):
        return [(_f(name, "NEQ", value),), (_f(name, "NOT_HAS_PROPERTY"),)]
    if op is Op.IN and isinstance(value, Iterable) and not isinstance(value, str | bytes):
        items = list(value)
        if not items or not all(isinstance(item, str) for item in items):
            return ANY  # `None` among them would need "empty", which HubSpot cannot say exactly (blanks)
        return [(_f(name, "IN", values=items),)]
    return ANY


def _lifecycle(op: Op, value: Any, pmap: PropertyMap, schema: Mapping[str, PropertyInfo]) -> Alternatives:
    """Lifecycle through the lifecycle map; `unknown` also covers unmapped and empty stages, so it is dropped."""
    name = pmap.fields.get("lifecycle")
    if name is None or name not in schema:
        return ANY if _holds(Lifecycle.UNKNOWN, op, value) else NONE
    wanted: list[Lifecycle]
    try:
        if op is Op.EQ and isinstance(value, str):
            wanted = [Lifecycle(value)]
        elif op is Op.IN and isinstance(value, Iterable) and not isinstance(value, str | bytes):
            wanted = [Lifecycle(item) for item in value]
        elif op is Op.NE and value == Lifecycle.UNKNOWN:
            wanted = [lifecycle for lifecycle in Lifecycle if lifecycle is not Lifecycle.UNKNOWN]
        else:
            return NONE if op is Op.IS_NULL else ANY
    except ValueError:
        return ANY  # not a lifecycle value: Condition would never hold, but dropping it is always safe
    if Lifecycle.UNKNOWN in wanted:
        return ANY
    stages = sorted(stage for stage, lifecycle in pmap.lifecycle.items() if lifecycle in wanted)
    return [(_f(name, "IN", values=stages),)] if stages else NONE


def _anonymised(op: Op, value: Any, pmap: PropertyMap, schema: Mapping[str, PropertyInfo]) -> Alternatives:
    """The marker: last name ANONYMISED and no email; `not anonymised` keeps whoever lacks either half."""
    last_name, email = pmap.fields.get("last_name"), pmap.fields.get("email")
    if last_name not in schema or email not in schema or not isinstance(value, bool) or op not in (Op.EQ, Op.NE):
        return ANY
    assert last_name and email
    if (op is Op.EQ) == value:
        return [(_f(last_name, "EQ", ANONYMISED_LAST_NAME), _f(email, "NOT_HAS_PROPERTY"))]
    return [
        (_f(last_name, "NEQ", ANONYMISED_LAST_NAME),),
        (_f(last_name, "NOT_HAS_PROPERTY"),),
        (_f(email, "HAS_PROPERTY"),),
    ]


def since_filter(moment: dt.datetime, modified_property: str) -> Conjunction:
    return (_f(modified_property, "GTE", _millis(moment)),)


def search_body(groups: Sequence[Conjunction], after_id: int, properties: list[str], limit: int) -> dict[str, Any]:
    """One keyset page: every group also requires `hs_object_id > after_id`, sorted by id."""
    keyset = _f(ID_PROPERTY, "GT", str(after_id))
    return {
        "filterGroups": [{"filters": [*group, keyset]} for group in groups] or [{"filters": [keyset]}],
        "sorts": [{"propertyName": ID_PROPERTY, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": limit,
    }


def _holds(actual: Any, op: Op, value: Any) -> bool:
    """Whether a fixed value satisfies the condition (`model.conditions`); unsure answers are True (superset)."""
    try:
        return value_holds(actual, op, value)
    except (TypeError, ValueError):
        return True


def _millis(value: dt.date) -> str:
    """HubSpot filters take dates and datetimes as epoch milliseconds (dates at midnight UTC)."""
    return str(int(as_datetime(value).timestamp() * 1000))


def _f(name: str, operator: str, value: str | None = None, *, values: list[str] | None = None) -> Filter:
    result: Filter = {"propertyName": name, "operator": operator}
    if value is not None:
        result["value"] = value
    if values is not None:
        result["values"] = values
    return result
