"""The fake portal's CRM search (filter groups, operators per property type, sorts, paging, caps), and the
error type and value encodings the whole fake shares."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakes.hubspot_portal import Contact, Portal

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS_TOTAL, MAX_SEARCH_LIMIT, SEARCH_CAP = 5, 6, 18, 200, 10_000
MAX_BATCH, MAX_LIST_LIMIT = 100, 100
DEFAULT_SEARCH_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
DEFAULT_LIST_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")


class PortalError(Exception):
    """An API error: HTTP status, HubSpot category and a message (which, like HubSpot's, may quote values)."""

    def __init__(self, status: int, category: str, message: str, ids: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status, self.category, self.message, self.ids = status, category, message, list(ids)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "category": self.category,
            "correlationId": "00000000-0000-4000-8000-000000000000",
        }
        if self.ids:
            body["context"] = {"ids": self.ids}
        return body


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def millis(value: str) -> int | None:
    """A stored datetime/date value, or a filter value (epoch ms or ISO), as epoch milliseconds."""
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


Test = Callable[[dict[str, str]], bool]
_OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}


def run_search(portal: Portal, body: Mapping[str, Any]) -> dict[str, Any]:
    groups = body.get("filterGroups") or []
    limit = int(body.get("limit") or 10)
    after = int(body.get("after") or 0)
    if len(groups) > MAX_GROUPS:
        raise PortalError(400, "VALIDATION_ERROR", f"Too many filter groups ({len(groups)} > {MAX_GROUPS})")
    counts = [len(group.get("filters") or ()) for group in groups]
    if any(count > MAX_FILTERS_PER_GROUP for count in counts) or sum(counts) > MAX_FILTERS_TOTAL:
        raise PortalError(400, "VALIDATION_ERROR", "Too many filters")
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise PortalError(400, "VALIDATION_ERROR", f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
    if after + limit > portal.search_cap:
        raise PortalError(400, "VALIDATION_ERROR", f"The maximum number of results is {portal.search_cap}")
    tests = [[_filter(portal, f) for f in group.get("filters") or ()] for group in groups]
    sort = _sort(body.get("sorts") or [])
    candidates = _from_lower_bound(portal, groups) if tests else list(portal.contacts.values())
    matches = [c for c in candidates if not tests or any(all(t(c.properties) for t in group) for group in tests)]
    if sort is not None and sort != ("hs_object_id", False):  # contacts are kept in id order already
        name, descending = sort
        matches.sort(key=lambda c: _sort_key(portal, name, c), reverse=descending)
    page = matches[after : after + limit]
    properties = list(body.get("properties") or DEFAULT_SEARCH_PROPERTIES)
    result: dict[str, Any] = {"total": len(matches), "results": [portal.public(c, properties) for c in page]}
    if after + limit < len(matches):
        result["paging"] = {"next": {"after": str(after + limit)}}
    return result


def _from_lower_bound(portal: Portal, groups: list[Mapping[str, Any]]) -> list[Contact]:
    """When every group bounds hs_object_id from below (keyset paging), skip the ids below the smallest bound."""
    bounds = []
    for group in groups:
        found = [
            int(f["value"]) + (f["operator"] == "GT")
            for f in group.get("filters") or ()
            if f.get("propertyName") == "hs_object_id"
            and f.get("operator") in ("GT", "GTE")
            and str(f.get("value", "")).isdigit()
        ]
        if not found:
            return list(portal.contacts.values())
        bounds.append(max(found))
    ids = portal.ids
    return [portal.contacts[i] for i in ids[bisect.bisect_left(ids, min(bounds)) :]]


def _sort(sorts: list[Any]) -> tuple[str, bool] | None:
    if not sorts:
        return None
    first = sorts[0]
    if isinstance(first, str):
        return first.lstrip("-"), first.startswith("-")
    return str(first.get("propertyName")), first.get("direction") == "DESCENDING"


def _sort_key(portal: Portal, name: str, contact: Contact) -> tuple[int, Any]:
    value = contact.properties.get(name)
    if value is None:
        return (1, "")
    kind = portal.properties[name].type if name in portal.properties else "string"
    if kind == "number":
        return (0, float(value))
    if kind in ("datetime", "date"):
        return (0, millis(value) or 0)
    return (0, value.lower())


def _filter(portal: Portal, spec: Mapping[str, Any]) -> Test:
    name, operator = str(spec.get("propertyName")), str(spec.get("operator"))
    if operator not in _OPERATORS:
        raise PortalError(400, "VALIDATION_ERROR", f"Unsupported operator {operator}")
    definition = portal.properties.get(name)
    if definition is None:
        raise PortalError(400, "VALIDATION_ERROR", f"Property {name} does not exist")
    if operator == "HAS_PROPERTY":
        return lambda props: props.get(name) is not None
    if operator == "NOT_HAS_PROPERTY":
        return lambda props: props.get(name) is None
    convert = _converter(definition.type)
    if operator in ("IN", "NOT_IN"):
        wanted = {convert(str(v)) for v in spec.get("values") or ()}
        inside = operator == "IN"
        return lambda props: props.get(name) is not None and (convert(props[name]) in wanted) == inside
    if "value" not in spec:
        raise PortalError(400, "VALIDATION_ERROR", f"{operator} needs a value")
    value = convert(str(spec["value"]))
    high = convert(str(spec.get("highValue"))) if operator == "BETWEEN" else None
    compare: Callable[[Any], bool] = {
        "EQ": lambda v: v == value, "NEQ": lambda v: v != value, "LT": lambda v: v < value,
        "LTE": lambda v: v <= value, "GT": lambda v: v > value, "GTE": lambda v: v >= value,
        "BETWEEN": lambda v: value <= v <= high,
    }[operator]  # fmt: skip

    def test(props: dict[str, str]) -> bool:
        stored = props.get(name)
        if stored is None:
            return False  # no value: no comparison holds, NEQ included
        try:
            return compare(convert(stored))
        except TypeError:
            return False

    return test


def _converter(kind: str) -> Callable[[str], Any]:
    if kind == "number":
        return lambda text: float(text)
    if kind in ("datetime", "date"):
        return millis
    return lambda text: text.lower()
