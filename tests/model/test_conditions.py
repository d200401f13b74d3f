"""The one reference meaning of a prefilter condition (`model/conditions.py`), and the field schema's spellings."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gomme.model.conditions import Condition, Op, holds, matches_any, value_holds
from gomme.model.fields import FIELDS, OPT_OUT_FIELDS, OPT_OUT_KEYS, canonical, field_type, getter, key_of
from gomme.model.records import Lifecycle, OptOuts, PersonRecord

CUTOFF = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)
PERSON = PersonRecord(
    crm="sf", object_type="contact", id="003", email=None, lifecycle=Lifecycle.PROSPECT,
    last_activity_at=dt.datetime(2021, 5, 1, tzinfo=dt.UTC), contract_end=dt.date(2021, 1, 1),
    opt_outs=OptOuts(email=True),
)  # fmt: skip


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Condition("last_activity_at", Op.LT, CUTOFF), True),
        (Condition("last_activity_at", Op.GE, dt.date(2021, 5, 1)), True),  # a date is midnight UTC
        (Condition("contract_end", Op.LT, CUTOFF), True),  # a date next to a moment counts as midnight UTC
        (Condition("contract_end", Op.GE, dt.datetime(2021, 1, 1, 0, 30, tzinfo=dt.UTC)), False),
        (Condition("email", Op.NE, "a@example.com"), True),  # `ne` keeps empty fields
        (Condition("email", Op.EQ, None), True),
        (Condition("email", Op.LT, "z"), False),  # ordering on an empty field is false
        (Condition("email", Op.IS_NULL), True),
        (Condition("email", Op.NOT_NULL), False),
        (Condition("opt_outs.email", Op.EQ, True), True),
        (Condition("opt_out_email", Op.EQ, True), True),  # the flat spelling reads the same flag
        (Condition("opt_outs.phone", Op.EQ, True), False),
        (Condition("lifecycle", Op.IN, [Lifecycle.CUSTOMER, Lifecycle.PROSPECT]), True),
        (Condition("lifecycle", Op.IN, []), False),
        (Condition("legal_hold", Op.EQ, True), False),
        (Condition("object_type", Op.EQ, "contact"), True),
    ],
)
def test_a_condition_holds_on_a_record_as_the_contract_says(condition: Condition, expected: bool) -> None:
    assert holds(PERSON, condition) is expected
    assert matches_any(PERSON, [(condition,)]) is expected


def test_what_cannot_be_evaluated_counts_as_unsure() -> None:
    unknown = Condition("favourite_colour", Op.EQ, "blue")
    wrong_type = Condition("last_activity_at", Op.LT, "yesterday")
    with pytest.raises(KeyError):
        holds(PERSON, unknown)
    with pytest.raises(TypeError):
        holds(PERSON, wrong_type)
    for condition in (unknown, wrong_type):
        assert matches_any(PERSON, [(condition,)]) is True  # a prefilter may select more, never fewer
        assert matches_any(PERSON, [(condition,)], unsure=False) is False


def test_groups_are_and_ed_inside_and_or_ed_between() -> None:
    prospect, customer = Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT), Condition("lifecycle", Op.EQ, "customer")
    held = Condition("legal_hold", Op.EQ, True)
    assert matches_any(PERSON, [(prospect,), (customer,)])
    assert not matches_any(PERSON, [(prospect, held)])
    assert not matches_any(PERSON, [])  # no group: nothing selected


def test_comparisons_follow_python_with_nulls() -> None:
    assert value_holds(None, Op.EQ, None) and not value_holds(None, Op.GT, 1) and value_holds(2, Op.IN, [1, 2])
    assert value_holds(None, Op.NE, 1) and not value_holds(None, Op.LE, 1)


@given(day=st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)), op=st.sampled_from([Op.LT, Op.LE, Op.GT, Op.GE]))
def test_a_date_compares_with_a_moment_as_its_midnight_utc(day: dt.date, op: Op) -> None:
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    for moment in (midnight, midnight + dt.timedelta(seconds=1), midnight - dt.timedelta(seconds=1)):
        assert value_holds(day, op, moment) is value_holds(midnight, op, moment)


def test_each_opt_out_has_one_condition_spelling_and_one_flat_key() -> None:
    assert [key_of(name) for name in OPT_OUT_FIELDS] == list(OPT_OUT_KEYS)
    assert [canonical(key) for key in OPT_OUT_KEYS] == list(OPT_OUT_FIELDS)
    assert key_of("email") == canonical("email") == "email"
    assert all(field_type(name) is not None for name in FIELDS)
    assert field_type("notes.description") and field_type("raw.Foo__c") and field_type("notes.") is None
    assert field_type("opt_out_email") is None  # conditions use the canonical spelling only


def test_every_schema_field_reads_from_a_record() -> None:
    for name in FIELDS:
        getter(name)(PERSON)  # never raises for a field the schema names
    with pytest.raises(KeyError):
        getter("favourite_colour")
