"""Properties of the engine over random synthetic records and policies (Hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from policy_testkit import applied, matches, person

from gomme.connectors.changes import Action
from gomme.connectors.records import Lifecycle, OptOuts, PersonRecord
from gomme.policies.engine import decide, prefilter_query
from gomme.policies.policy import Policy, load_policy

ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))])
MOMENTS = st.datetimes(min_value=dt.datetime(2012, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=ZONES)
NOWS = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2026, 12, 31), timezones=ZONES)
DATES = st.dates(min_value=dt.date(2012, 1, 1), max_value=dt.date(2028, 12, 31))

RECORDS = st.builds(
    person,
    lifecycle=st.sampled_from(Lifecycle),
    created_at=st.none() | MOMENTS,
    last_activity_at=st.none() | MOMENTS,
    contract_end=st.none() | DATES,
    erasure_requested=st.booleans(),
    legal_hold=st.booleans(),
    restricted=st.booleans(),
    anonymised=st.booleans(),
    opt_outs=st.builds(OptOuts, email=st.booleans()),
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """The cnil pack with random retention rules added and pack rules tweaked; legal hold stays on."""
    retention = st.fixed_dictionaries(
        {
            "kind": st.just("retention"),
            "lifecycle": st.sampled_from([lc.value for lc in Lifecycle]),
            "after": st.sampled_from(["P30D", "P18M", "P1Y", "P2Y6M", "P3Y", "P5Y"]),
        },
        optional={
            "clock": st.sampled_from(["last_activity", "contract_end"]),
            "action": st.sampled_from(["anonymise", "delete", "restrict_all"]),
        },
    )
    extra: list[dict[str, Any]] = draw(st.lists(retention, max_size=4))
    tables = [{"id": f"extra-{i}", **table} for i, table in enumerate(extra)]
    tables.append({"id": "erasure-request", "action": draw(st.sampled_from(["anonymise", "delete"]))})
    if draw(st.booleans()):
        tables.append({"id": "retention-prospect", "enabled": False})
    return load_policy({"extends": "cnil", "rules": tables}, source="hypothesis")


@given(record=RECORDS, policy=policies(), now=NOWS)
def test_decide_is_deterministic_and_independent_of_the_now_timezone(
    record: PersonRecord, policy: Policy, now: dt.datetime
) -> None:
    first = decide(record, policy, now)
    assert decide(record, policy, now) == first
    assert decide(record, policy, now.astimezone(dt.UTC)) == first


@given(record=RECORDS, policy=policies(), now=NOWS)
def test_a_record_a_rule_fires_on_satisfies_one_of_its_prefilter_groups(
    record: PersonRecord, policy: Policy, now: dt.datetime
) -> None:
    for rule in policy.rules:
        groups = rule.prefilters(now)
        if groups and rule.evaluate(record, now) is not None:
            assert matches(record, groups), f"{rule.id} fired outside its prefilters"
    query = prefilter_query(policy, now, {"contact": "cursor"})
    if decide(record, policy, now).changes and not query.everything:
        assert matches(record, query.prefilters)


@given(record=RECORDS, policy=policies(), now=NOWS)
def test_a_record_under_legal_hold_is_never_erased(record: PersonRecord, policy: Policy, now: dt.datetime) -> None:
    decision = decide(record, policy, now)
    if record.legal_hold:
        assert not any(action.erases for action in decision.actions)


@given(record=RECORDS, policy=policies(), now=NOWS)
def test_a_second_sweep_after_applying_plans_nothing(record: PersonRecord, policy: Policy, now: dt.datetime) -> None:
    decision = decide(record, policy, now)
    if Action.DELETE not in decision.actions:  # a deleted record is not pulled again
        assert not decide(applied(record, decision.actions), policy, now).changes
