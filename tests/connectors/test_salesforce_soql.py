"""The SOQL builder and the pushdown of prefilters: every literal escaped, every condition a safe superset."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fakes.salesforce_soql import parse
from salesforce_testkit import settings

from gomme.connectors.salesforce.mapping import ObjectMap
from gomme.connectors.salesforce.pushdown import condition_where, groups_where
from gomme.connectors.salesforce.soql import FALSE, TRUE, Compare, In, Like, Soql, all_of, any_of, literal
from gomme.model.conditions import Condition, Op
from gomme.model.records import Lifecycle

CUTOFF = dt.datetime(2022, 3, 1, 10, 30, tzinfo=dt.UTC)
MIDNIGHT = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)
CONTACT = ObjectMap.from_settings(settings(), "Contact")
LEAD = ObjectMap.from_settings(settings(), "Lead")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("O'Brien", r"'O\'Brien'"),
        ("back\\slash", r"'back\\slash'"),
        ('say "hi"', r"'say \"hi\"'"),
        ("line\nbreak\ttab", r"'line\nbreak\ttab'"),
        ("100% _sure_", "'100% _sure_'"),
        ("x' OR Name != '", r"'x\' OR Name != \''"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (dt.date(2024, 1, 31), "2024-01-31"),
        (dt.datetime(2024, 1, 31, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2024-01-31T07:00:00Z"),
    ],
)
def test_literals_are_escaped_or_typed(value: Any, text: str) -> None:
    assert literal(value) == text


def test_like_escapes_wildcards_so_they_match_themselves() -> None:
    assert str(Like("Email", "100%_a'b")) == r"Email LIKE '100\%\_a\'b'"
    assert str(Like("Email", "ab_", prefix=True)) == r"Email LIKE 'ab\_%'"


@pytest.mark.parametrize("bad", ["Email; DELETE", "Email--", "1Field", "A.B.C.D.E.F.G", "Name)", ""])
def test_identifiers_that_are_not_field_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="field name"):
        Compare(bad, "=", "x")


@pytest.mark.parametrize(
    "value", [float("nan"), dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 0, 0, 5, tzinfo=dt.UTC), object()]
)
def test_values_without_an_exact_literal_are_refused(value: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        literal(value)


def test_escaped_strings_survive_a_round_trip_through_a_soql_parser() -> None:
    nasty = "it's a \\ 'quoted' \"value\"\n% _"
    query = parse(str(Soql.select("Contact", ["Id"]).filter(Compare("Email", "=", nasty))))
    assert query.where is not None and query.where.operand.value == nasty


def test_folding_drops_impossible_groups_and_lets_certain_ones_win() -> None:
    a, b = Compare("Email", "=", "a"), Compare("Phone", "=", "b")
    assert all_of([a, TRUE]) == a and all_of([a, FALSE]) == FALSE and all_of([]) == TRUE
    assert any_of([a, FALSE]) == a and any_of([a, TRUE]) == TRUE and any_of([]) == FALSE
    assert str(any_of([all_of([a, b]), b])) == "(Email = 'a' AND Phone = 'b') OR Phone = 'b'"


def test_a_statement_reads_like_soql() -> None:
    soql = Soql.select("Lead", ["Id", "Email", "Id"]).filter(Compare("IsConverted", "=", False))
    soql = soql.filter(In("Id", ("00Q1", "00Q2"))).ordered("SystemModstamp", "Id").limited(5)
    assert str(soql) == (
        "SELECT Id, Email FROM Lead WHERE IsConverted = false AND Id IN ('00Q1', '00Q2') "
        "ORDER BY SystemModstamp, Id LIMIT 5"
    )


@pytest.mark.parametrize(
    ("condition", "omap", "soql"),
    [
        # time-based retention on a date field (LastActivityDate): a moment with a time of day rounds outwards
        (Condition("last_activity_at", Op.LT, CUTOFF), CONTACT, "LastActivityDate <= 2022-03-01"),
        (Condition("last_activity_at", Op.LT, MIDNIGHT), CONTACT, "LastActivityDate < 2022-03-01"),
        (Condition("last_activity_at", Op.GE, CUTOFF), CONTACT, "LastActivityDate > 2022-03-01"),
        (Condition("created_at", Op.LT, CUTOFF), CONTACT, "CreatedDate < 2022-03-01T10:30:00Z"),
        (Condition("created_at", Op.LT, CUTOFF.replace(microsecond=5)), CONTACT, "CreatedDate < 2022-03-01T10:30:01Z"),
        (Condition("created_at", Op.GT, CUTOFF.replace(microsecond=5)), CONTACT, "CreatedDate > 2022-03-01T10:30:00Z"),
        (Condition("contract_end", Op.LT, dt.date(2022, 3, 1)), CONTACT, "Contract_End__c < 2022-03-01"),
        (Condition("contract_end", Op.LT, dt.date(2022, 3, 1)), LEAD, "Id = null"),  # Leads have no contract
        (Condition("contract_end", Op.IS_NULL), LEAD, "Id != null"),
        (Condition("birthdate", Op.IS_NULL), CONTACT, "Individual.BirthDate = null"),
        (Condition("erasure_requested", Op.EQ, True), CONTACT, "Individual.ShouldForget = true"),
        (
            Condition("erasure_requested", Op.EQ, False),
            CONTACT,
            "Individual.ShouldForget = false OR Individual.ShouldForget = null",
        ),
        (Condition("opt_outs.email", Op.NE, True), CONTACT, "HasOptedOutOfEmail = false OR HasOptedOutOfEmail = null"),
        (Condition("legal_hold", Op.EQ, True), CONTACT, "Legal_Hold__c = true"),
        (Condition("email", Op.NE, "a@example.com"), CONTACT, "Email != 'a@example.com' OR Email = null"),
        (Condition("email", Op.IN, ["a@x.org", None]), CONTACT, "Email = 'a@x.org' OR Email = null"),
        (Condition("country", Op.EQ, "FR"), CONTACT, "MailingCountryCode = 'FR'"),
        (Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT), CONTACT, "Account.Type IN ('prospect')"),
        (Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT), LEAD, "Id != null"),
        (Condition("lifecycle", Op.EQ, Lifecycle.CUSTOMER), LEAD, "Id = null"),
        (
            Condition("lifecycle", Op.EQ, Lifecycle.UNKNOWN),
            CONTACT,
            "Account.Type = null OR Account.Type NOT IN ('prospect', 'customer - direct', 'customer - channel', "
            "'former customer')",
        ),
        (
            Condition("lifecycle", Op.NE, Lifecycle.FORMER_CUSTOMER),
            CONTACT,
            "Account.Type = null OR Account.Type NOT IN ('former customer')",
        ),
        (Condition("object_type", Op.EQ, "lead"), LEAD, "Id != null"),
        (Condition("modified_at", Op.GE, CUTOFF), CONTACT, "SystemModstamp >= 2022-03-01T10:30:00Z"),
    ],
)
def test_conditions_become_soql(condition: Condition, omap: ObjectMap, soql: str) -> None:
    assert str(condition_where(condition, omap)) == soql


@pytest.mark.parametrize(
    "condition",
    [
        Condition("favourite_colour", Op.EQ, "blue"),  # not a canonical field
        Condition("last_activity_at", Op.EQ, CUTOFF),  # a time of day against a date field
        Condition("email", Op.EQ, 42),  # a value of the wrong type
        Condition("lifecycle", Op.EQ, "no such stage"),
    ],
)
def test_conditions_without_an_exact_translation_widen_to_every_record(condition: Condition) -> None:
    assert condition_where(condition, CONTACT) == TRUE


def test_fields_read_through_a_value_map_are_not_pushed_down() -> None:
    omap = ObjectMap.from_settings(
        settings(contact_fields={"country": "MailingCountry", "audience": "Audience__c"}), "Contact"
    )
    assert condition_where(Condition("country", Op.EQ, "FR"), omap) == TRUE
    assert condition_where(Condition("audience", Op.EQ, "b2b"), omap) == TRUE


def test_a_condition_on_an_unmapped_field_is_decided_on_its_default() -> None:
    assert condition_where(Condition("audience", Op.EQ, "b2b"), CONTACT) == FALSE  # every record: unknown
    assert condition_where(Condition("parental_consent", Op.EQ, False), CONTACT) == TRUE


def test_anonymised_marker_detection_is_pushed_down_both_ways() -> None:
    done = str(condition_where(Condition("anonymised", Op.EQ, True), CONTACT))
    not_done = str(condition_where(Condition("anonymised", Op.EQ, False), CONTACT))
    assert done.startswith("LastName = 'ANONYMISED' AND FirstName = null AND Email = null")
    assert not_done.startswith("LastName != 'ANONYMISED' OR LastName = null OR FirstName != null OR Email != null")
    assert "Individual.BirthDate != null" in not_done


def test_a_retention_group_is_one_conjunction_per_object() -> None:
    group = (Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT), Condition("last_activity_at", Op.LT, MIDNIGHT))
    assert str(groups_where([group], CONTACT)) == "Account.Type IN ('prospect') AND LastActivityDate < 2022-03-01"
    assert str(groups_where([group], LEAD)) == "LastActivityDate < 2022-03-01"


def test_every_pushed_down_where_parses_as_soql_salesforce_accepts() -> None:
    groups = [
        (Condition("lifecycle", Op.EQ, Lifecycle.FORMER_CUSTOMER), Condition("anonymised", Op.EQ, False),
         Condition("contract_end", Op.IS_NULL), Condition("last_activity_at", Op.LT, CUTOFF)),
        (Condition("erasure_requested", Op.EQ, True), Condition("anonymised", Op.EQ, False)),
    ]  # fmt: skip
    where = groups_where(groups, CONTACT)
    parse(str(Soql.select("Contact", ["Id"]).filter(Compare("SystemModstamp", ">=", MIDNIGHT), where)))
    parse(str(Soql.select("Contact", ["Id"]).filter(any_of([Compare("SystemModstamp", ">=", MIDNIGHT), where]))))
