"""Prefilter pushdown: each condition as HubSpot filters, always a superset, never beyond the API's limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gomme.connectors.hubspot import search
from gomme.connectors.hubspot.mapping import PropertyInfo, PropertyMap
from gomme.connectors.hubspot.search import (
    ANY,
    MAX_FILTERS_PER_GROUP,
    MAX_FILTERS_TOTAL,
    MAX_GROUPS,
    NONE,
    Alternatives,
    pack,
    plan_prefilters,
    translate,
)
from gomme.connectors.hubspot.settings import HubSpotSettings
from gomme.model.conditions import Condition, Op
from gomme.model.records import Lifecycle

SETTINGS = HubSpotSettings.model_validate({
    "type": "hubspot", "access_token_env": "T", "legal_hold_property": "legal_hold",
    "contract_end_property": "contract_end_date",
})  # fmt: skip
PMAP = PropertyMap.from_settings(SETTINGS)
SCHEMA = {
    name: PropertyInfo(name, kind)
    for name, kind in {
        "email": "string", "firstname": "string", "lastname": "string", "phone": "string", "mobilephone": "string",
        "country": "string", "date_of_birth": "string", "lifecyclestage": "enumeration", "createdate": "datetime",
        "lastmodifieddate": "datetime", "notes_last_contacted": "datetime", "hs_object_id": "number",
        "hs_last_sales_activity_timestamp": "datetime", "contract_end_date": "date", "legal_hold": "bool",
        "gomme_restricted": "bool", "hs_email_optout": "bool",
    }.items()
}  # fmt: skip
CUTOFF = dt.datetime(2023, 1, 15, 10, 30, tzinfo=dt.UTC)
CUTOFF_MS = str(int(CUTOFF.timestamp() * 1000))
DAY = dt.date(2023, 1, 15)
DAY_MS = str(int(dt.datetime(2023, 1, 15, tzinfo=dt.UTC).timestamp() * 1000))
NEXT_DAY_MS = str(int(dt.datetime(2023, 1, 16, tzinfo=dt.UTC).timestamp() * 1000))
PROSPECT_STAGES = ["lead", "marketingqualifiedlead", "opportunity", "salesqualifiedlead", "subscriber"]


def f(name: str, operator: str, value: str | None = None, values: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"propertyName": name, "operator": operator}
    if value is not None:
        spec["value"] = value
    if values is not None:
        spec["values"] = values
    return spec


def absent(name: str) -> dict[str, Any]:
    return f(name, "NOT_HAS_PROPERTY")


def present(name: str) -> dict[str, Any]:
    return f(name, "HAS_PROPERTY")


ACTIVITY = ("notes_last_contacted", "hs_last_sales_activity_timestamp")
CASES: list[tuple[str, Condition, Alternatives]] = [
    ("datetime before", Condition("created_at", Op.LT, CUTOFF), [(f("createdate", "LT", CUTOFF_MS),)]),
    ("datetime empty", Condition("created_at", Op.IS_NULL), [(absent("createdate"),)]),
    ("datetime not equal keeps empties", Condition("created_at", Op.NE, CUTOFF),
     [(f("createdate", "NEQ", CUTOFF_MS),), (absent("createdate"),)]),
    ("date before a date", Condition("contract_end", Op.LT, DAY), [(f("contract_end_date", "LT", DAY_MS),)]),
    ("date before a time of day", Condition("contract_end", Op.LT, CUTOFF),
     [(f("contract_end_date", "LTE", DAY_MS),)]),
    ("date after a time of day", Condition("contract_end", Op.GE, CUTOFF),
     [(f("contract_end_date", "GTE", NEXT_DAY_MS),)]),
    ("date equal to a time of day never holds", Condition("contract_end", Op.EQ, CUTOFF), NONE),
    ("latest activity before: every set one before, one at least",
     Condition("last_activity_at", Op.LT, CUTOFF), [
         (f(ACTIVITY[0], "LT", CUTOFF_MS), absent(ACTIVITY[1])),
         (f(ACTIVITY[1], "LT", CUTOFF_MS), absent(ACTIVITY[0])),
         (f(ACTIVITY[0], "LT", CUTOFF_MS), f(ACTIVITY[1], "LT", CUTOFF_MS)),
     ]),
    ("latest activity after: any one after", Condition("last_activity_at", Op.GT, CUTOFF),
     [(f(ACTIVITY[0], "GT", CUTOFF_MS),), (f(ACTIVITY[1], "GT", CUTOFF_MS),)]),
    ("no activity at all", Condition("last_activity_at", Op.IS_NULL), [(absent(ACTIVITY[0]), absent(ACTIVITY[1]))]),
    ("flag set", Condition("legal_hold", Op.EQ, True), [(f("legal_hold", "EQ", "true"),)]),
    ("flag unset includes empties", Condition("legal_hold", Op.EQ, False),
     [(f("legal_hold", "EQ", "false"),), (absent("legal_hold"),)]),
    ("restriction marker", Condition("restricted", Op.NE, True),
     [(f("gomme_restricted", "EQ", "false"),), (absent("gomme_restricted"),)]),
    ("lifecycle through the map", Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT),
     [(f("lifecyclestage", "IN", values=PROSPECT_STAGES),)]),
    ("lifecycle no stage maps to", Condition("lifecycle", Op.EQ, Lifecycle.FORMER_CUSTOMER), NONE),
    ("lifecycle unknown covers empties: dropped", Condition("lifecycle", Op.EQ, Lifecycle.UNKNOWN), ANY),
    ("email equal", Condition("email", Op.EQ, "ada@example.com"), [(f("email", "EQ", "ada@example.com"),)]),
    ("email in a list", Condition("email", Op.IN, ["a@example.com"]), [(f("email", "IN", values=["a@example.com"]),)]),
    ("email empty: blanks are set to HubSpot, dropped", Condition("email", Op.IS_NULL), ANY),
    ("birth date kept as text: only 'has one'", Condition("birthdate", Op.GT, DAY), [(present("date_of_birth"),)]),
    ("birth date kept as text, empty: dropped", Condition("birthdate", Op.IS_NULL), ANY),
    ("country is free text: only 'has one'", Condition("country", Op.EQ, "FR"), [(present("country"),)]),
    ("phone or mobile", Condition("phone", Op.EQ, "+33 1 99"), [(present("phone"),), (present("mobilephone"),)]),
    ("anonymised marker", Condition("anonymised", Op.EQ, True), [(f("lastname", "EQ", "ANONYMISED"), absent("email"))]),
    ("not anonymised: lacks either half of the marker", Condition("anonymised", Op.EQ, False), [
        (f("lastname", "NEQ", "ANONYMISED"),), (absent("lastname"),), (present("email"),),
    ]),
    ("unmapped flag is always false: never true", Condition("erasure_requested", Op.EQ, True), NONE),
    ("unmapped flag is always false: always false", Condition("erasure_requested", Op.EQ, False), ANY),
    ("opt-outs come from several sources", Condition("opt_outs.email", Op.EQ, False), ANY),
    ("not a record field", Condition("shoe_size", Op.GT, 42), ANY),
    ("wrong value type", Condition("created_at", Op.LT, "yesterday"), [(present("createdate"),)]),
]  # fmt: skip


@pytest.mark.parametrize(("condition", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_condition_becomes_a_superset_of_filters(condition: Condition, expected: Alternatives) -> None:
    assert translate(condition, PMAP, SCHEMA) == expected


def test_a_property_missing_from_the_portal_reads_as_the_default() -> None:
    schema = {name: info for name, info in SCHEMA.items() if name != "legal_hold"}
    assert translate(Condition("legal_hold", Op.EQ, True), PMAP, schema) == NONE
    assert translate(Condition("legal_hold", Op.EQ, False), PMAP, schema) == ANY


def test_a_group_with_nothing_expressible_falls_back_to_the_list_endpoint() -> None:
    plan = plan_prefilters([(Condition("shoe_size", Op.GT, 42), Condition("opt_outs.email", Op.EQ, False))], PMAP,
                           SCHEMA)  # fmt: skip
    assert plan.everything and set(plan.dropped) == {"shoe_size", "opt_outs.email"}


def test_a_group_that_can_never_hold_is_left_out() -> None:
    plan = plan_prefilters([(Condition("erasure_requested", Op.EQ, True),)], PMAP, SCHEMA)
    assert not plan.everything and plan.queries == ()


def test_the_retention_groups_are_pushed_down_exactly_within_the_limits() -> None:
    prospect = Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT)
    groups = [
        (prospect, Condition("anonymised", Op.EQ, False), Condition("last_activity_at", Op.LT, CUTOFF)),
        (prospect, Condition("last_activity_at", Op.IS_NULL), Condition("created_at", Op.LT, CUTOFF)),
    ]
    plan = plan_prefilters(groups, PMAP, SCHEMA)
    # 1 x 3 (not anonymised) x 3 (latest activity) + 1 conjunctions, nothing dropped, split to fit
    assert not plan.everything and plan.dropped == ()
    assert sum(len(query) for query in plan.queries) == 10
    for query in plan.queries:
        assert len(query) <= MAX_GROUPS and sum(len(c) + 1 for c in query) <= MAX_FILTERS_TOTAL


def test_too_many_alternatives_drop_the_widest_condition_first_the_anonymised_narrowing() -> None:
    # 3 x 2 x 2 x 3 = 36 conjunctions, over the cap of 12: one of the widest goes, the group broadens
    group = (
        Condition("last_activity_at", Op.LT, CUTOFF),
        Condition("phone", Op.EQ, "x"),
        Condition("legal_hold", Op.EQ, False),
        Condition("anonymised", Op.EQ, False),
    )
    plan = plan_prefilters([group], PMAP, SCHEMA)
    assert plan.dropped == ("anonymised",)
    assert sum(len(query) for query in plan.queries) == 12


def test_many_groups_are_split_into_queries_within_every_limit() -> None:
    conjunctions = [
        tuple(f(f"p{i}_{j}", "HAS_PROPERTY") for j in range(n)) for i, n in enumerate([5, 4, 3, 5, 1, 2, 5])
    ]
    queries = pack(conjunctions)
    assert sorted(repr(c) for q in queries for c in q) == sorted(map(repr, conjunctions))  # each group once
    for query in queries:
        assert len(query) <= MAX_GROUPS
        assert sum(len(c) + 1 for c in query) <= MAX_FILTERS_TOTAL  # +1: the keyset filter of each group
        assert all(len(c) + 1 <= MAX_FILTERS_PER_GROUP for c in query)


def test_more_queries_than_worth_running_fall_back_to_the_list_endpoint() -> None:
    groups = [(Condition("email", Op.EQ, f"p{i}@example.com"),) for i in range(85)]  # 17 queries of 5 groups
    assert plan_prefilters(groups, PMAP, SCHEMA).everything


def test_when_the_narrowing_makes_too_many_queries_it_goes_before_the_list_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # prospects and former customers (a custom stage), each with its retention groups: 10 queries narrowed
    monkeypatch.setattr(search, "MAX_QUERIES", 5)
    pmap = PropertyMap.from_settings(
        SETTINGS.model_copy(update={"lifecycle_map": {"lead": Lifecycle.PROSPECT, "former": Lifecycle.FORMER_CUSTOMER}})
    )
    groups = [
        (Condition("lifecycle", Op.EQ, lifecycle), Condition("anonymised", Op.EQ, False), *rest)
        for lifecycle in (Lifecycle.PROSPECT, Lifecycle.FORMER_CUSTOMER)
        for rest in [
            (Condition("last_activity_at", Op.LT, CUTOFF),),
            (Condition("last_activity_at", Op.IS_NULL), Condition("created_at", Op.LT, CUTOFF)),
            (Condition("contract_end", Op.LT, DAY),),
        ]
    ]
    plan = plan_prefilters(groups, pmap, SCHEMA)
    assert not plan.everything and "anonymised" in plan.dropped
    assert sum(len(query) for query in plan.queries) == 10
