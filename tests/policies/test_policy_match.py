"""The `match` kind: structured conditions, their edge cases, validation paths and pushdown."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from policy_testkit import NOW, at, matches, person

from gomme.model.changes import Action
from gomme.model.conditions import Condition, Op
from gomme.model.records import OptOuts
from gomme.policies.match import MatchRule
from gomme.policies.policy import PolicyError, load_policy


def rule(
    *conditions: dict[str, Any], any_of: tuple[dict[str, Any], ...] = (), action: str = "restrict_all"
) -> MatchRule:
    return MatchRule.model_validate(
        {"id": "m", "legal_basis": "test", "action": action, "all": list(conditions), "any": list(any_of)}
    )


def leaf(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op} | ({} if value is None else {"value": value})


@pytest.mark.parametrize(
    ("condition", "record_fields", "holds"),
    [
        (leaf("country", "eq", "FR"), {"country": "FR"}, True),
        (leaf("country", "eq", "FR"), {"country": None}, False),
        (leaf("country", "ne", "FR"), {"country": "DE"}, True),
        (leaf("country", "ne", "FR"), {"country": None}, True),  # a missing value differs from 'FR'
        (leaf("country", "in", ["FR", "BE"]), {"country": "BE"}, True),
        (leaf("country", "in", ["FR", "BE"]), {"country": None}, False),
        (leaf("country", "not_in", ["FR", "BE"]), {"country": None}, True),
        (leaf("country", "not_in", ["FR", "BE"]), {"country": "FR"}, False),
        (leaf("lifecycle", "eq", "prospect"), {"lifecycle": "prospect"}, True),
        (leaf("audience", "eq", "b2c"), {"audience": "b2b"}, False),
        (leaf("email", "contains", "@EXAMPLE.org"), {"email": "someone@example.org"}, True),  # case-insensitive
        (leaf("notes.description", "contains", "vip"), {"notes": {"description": "VIP client"}}, True),
        (leaf("notes.description", "contains", "vip"), {"notes": {}}, False),
        (leaf("notes.description", "exists", True), {"notes": {"description": ""}}, False),  # empty = absent
        (leaf("birthdate", "exists", False), {"birthdate": None}, True),
        (leaf("opt_outs.email", "eq", True), {"opt_outs": OptOuts(email=True)}, True),
        (leaf("legal_hold", "ne", True), {"legal_hold": False}, True),
        (leaf("created_at", "lt", dt.date(2020, 1, 1)), {"created_at": at(2019, 12, 31, 23, 59)}, True),
        (leaf("created_at", "lt", dt.date(2020, 1, 1)), {"created_at": at(2020, 1, 1, 0, 0)}, False),  # midnight UTC
        (leaf("created_at", "ge", at(2020, 1, 1, 12)), {"created_at": dt.datetime(2020, 1, 1, 12)}, True),  # naive=UTC
        (leaf("contract_end", "le", dt.date(2021, 6, 30)), {"contract_end": dt.date(2021, 6, 30)}, True),
        # NOW = 2024-11-23 12:00 UTC; P2Y cutoff = 2022-11-23 12:00 UTC
        (leaf("last_activity_at", "older_than", "P2Y"), {"last_activity_at": at(2022, 11, 23, 11, 59)}, True),
        (leaf("last_activity_at", "older_than", "P2Y"), {"last_activity_at": at(2022, 11, 23, 12)}, False),
        (leaf("last_activity_at", "newer_than", "P2Y"), {"last_activity_at": at(2022, 11, 23, 12)}, True),
        (leaf("last_activity_at", "newer_than", "P2Y"), {"last_activity_at": None}, False),
        (leaf("contract_end", "older_than", "P1Y"), {"contract_end": dt.date(2023, 11, 22)}, True),
        (leaf("contract_end", "older_than", "P1Y"), {"contract_end": dt.date(2023, 11, 23)}, False),
        (leaf("raw.score", "gt", 3), {"raw": {"score": 4}}, True),
        (leaf("raw.score", "gt", 3), {"raw": {"score": "high"}}, False),  # not comparable: false, no error
        (leaf("raw.score", "ne", 3), {"raw": {"score": "high"}}, True),
        (leaf("raw.tags", "contains", "vip"), {"raw": {"tags": ["VIP", "b2b"]}}, True),
    ],
)
def test_each_operator_at_its_edges(condition: dict[str, Any], record_fields: dict[str, Any], holds: bool) -> None:
    assert (rule(condition).evaluate(person(**record_fields), NOW) is not None) is holds


def test_all_and_any_groups_nest() -> None:
    match = rule(
        leaf("country", "eq", "FR"),
        any_of=(
            leaf("lifecycle", "eq", "prospect"),
            {"all": [leaf("lifecycle", "eq", "customer"), leaf("legal_hold", "eq", True)]},
        ),
    )
    assert match.evaluate(person(country="FR", lifecycle="prospect"), NOW) is not None
    assert match.evaluate(person(country="FR", lifecycle="customer", legal_hold=True), NOW) is not None
    assert match.evaluate(person(country="FR", lifecycle="customer"), NOW) is None
    assert match.evaluate(person(country="DE", lifecycle="prospect"), NOW) is None


def test_reason_quotes_the_policy_never_the_record() -> None:
    match = rule(
        leaf("country", "eq", "FR"),
        any_of=(leaf("email", "contains", "@rival.example"), leaf("lifecycle", "eq", "prospect")),
    )

    finding = match.evaluate(person(country="FR", email="jane@rival.example", lifecycle="customer"), NOW)

    assert finding is not None
    assert finding.reason == "matched all of [country eq 'FR'] and any of [email contains '@rival.example']"
    assert "jane" not in finding.reason
    assert (finding.action, finding.legal_basis) == (Action.RESTRICT_ALL, "test")


@pytest.mark.parametrize("action", ["keep", "restrict_email", "restrict_all", "anonymise", "delete"])
def test_a_match_rule_may_ask_for_any_action_but_redaction(action: str) -> None:
    assert rule(leaf("country", "eq", "FR"), action=action).action is Action(action)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"all": [leaf("colour", "eq", "red")]}, "rules[0].all[0]: unknown field 'colour'"),
        ({"all": [leaf("country", "older_than", "P1Y")]}, "rules[0].all[0]: operator older_than does not"),
        ({"all": [leaf("created_at", "older_than", "soon")]}, "rules[0].all[0]: invalid ISO-8601 duration"),
        ({"all": [leaf("country", "in", "FR")]}, "rules[0].all[0]: in needs a list of values"),
        ({"all": [leaf("lifecycle", "eq", "prospekt")]}, "rules[0].all[0]: 'prospekt' is not a lifecycle"),
        ({"all": [leaf("legal_hold", "eq", "yes")]}, "rules[0].all[0]: legal_hold is true or false"),
        ({"all": [leaf("created_at", "lt", "2020-01-01")]}, "rules[0].all[0]: created_at compares with"),
        ({"all": [leaf("country", "eq")]}, "rules[0].all[0]: eq needs a value"),
        ({"all": [{"field": "country"}]}, "rules[0].all[0]: a condition needs field and op"),
        ({"all": [{"field": "country", "op": "like", "value": "F%"}]}, "rules[0].all[0].op: Input should be"),
        ({"any": [{"all": [leaf("x", "eq", 1)]}]}, "rules[0].any[0].all[0]: unknown field 'x'"),
        (
            {"all": [{"field": "country", "op": "eq", "value": "FR", "any": [leaf("country", "eq", "FR")]}]},
            "rules[0].all[0]: a condition is either",
        ),
        ({}, "rules[0]: a match rule needs conditions"),
        ({"all": [leaf("country", "eq", "FR")], "action": "redact_note"}, "rules[0]: action redact_note needs"),
    ],
)
def test_condition_errors_are_reported_at_their_toml_path(table: dict[str, Any], expected: str) -> None:
    data = {"rules": [{"id": "m", "kind": "match", "legal_basis": "b", "action": "restrict_all", **table}]}
    with pytest.raises(PolicyError) as caught:
        load_policy(data, source="t")
    assert any(str(issue).startswith(expected) for issue in caught.value.issues), caught.value.issues


def test_a_match_rule_needs_its_own_legal_basis() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(
            {"rules": [{"id": "m", "kind": "match", "action": "keep", "all": [leaf("country", "eq", "FR")]}]},
            source="t",
        )
    assert [str(issue) for issue in caught.value.issues] == ["rules[0].legal_basis: required"]


@pytest.mark.parametrize(
    ("match", "groups"),
    [
        (
            rule(leaf("country", "eq", "FR"), leaf("created_at", "older_than", "P1Y")),
            ((Condition("country", Op.EQ, "FR"), Condition("created_at", Op.LT, at(2023, 11, 23))),),
        ),
        (
            rule(any_of=(leaf("country", "in", ["FR", "BE"]), leaf("birthdate", "exists", True))),
            ((Condition("country", Op.IN, ("FR", "BE")),), (Condition("birthdate", Op.NOT_NULL),)),
        ),
        (
            rule(
                leaf("lifecycle", "eq", "prospect"), leaf("notes.description", "contains", "x")
            ),  # contains: Python only
            ((Condition("lifecycle", Op.EQ, "prospect"),),),
        ),
        (rule(leaf("country", "ne", "FR")), ()),  # nothing narrows and time plays no part: the cursor suffices
        (
            rule(leaf("country", "ne", "FR"), leaf("created_at", "older_than", "P1Y")),
            ((Condition("created_at", Op.LT, at(2023, 11, 23)),),),
        ),
        (
            rule(leaf("raw.age", "gt", 3), leaf("last_activity_at", "exists", True)),
            ((Condition("last_activity_at", Op.NOT_NULL),),),
        ),
        (rule(any_of=(leaf("country", "eq", "FR"), leaf("email", "contains", "x"))), ()),
        (rule(any_of=(leaf("country", "eq", "FR"), leaf("raw.seen", "older_than", "P1Y"))), None),  # time, no pushdown
    ],
)
def test_conditions_push_down_as_a_superset(match: MatchRule, groups: tuple[Any, ...] | None) -> None:
    assert match.prefilters(NOW) == groups


def test_pushed_down_groups_select_every_record_the_rule_fires_on() -> None:
    match = rule(
        leaf("created_at", "older_than", "P1Y"),
        any_of=(leaf("country", "eq", "FR"), leaf("opt_outs.email", "eq", False)),
    )
    groups = match.prefilters(NOW)
    assert groups
    for record in (
        person(created_at=at(2020, 1, 1), country="FR", opt_outs=OptOuts(email=True)),
        person(created_at=at(2020, 1, 1), country="DE"),
    ):
        assert match.evaluate(record, NOW) is not None
        assert matches(record, groups)
