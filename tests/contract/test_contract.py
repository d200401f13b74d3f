"""The connector contract (connectors/base.py, model/conditions.py), checked the same way on every connector.

Every test runs once per world (conftest.py): the local CRM, the Salesforce fake, the HubSpot fake, plug-ins.
Pushdown is judged by the one reference evaluator, `model.conditions.matches_any`, on the records as the same
connector reads them in full: a prefiltered pull may return more (the rules decide), never fewer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gomme.connectors.base import Connector
from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange
from gomme.model.conditions import Condition, FilterGroup, Op, PullQuery, matches_any
from gomme.model.fields import OPT_OUT_FIELDS, FieldType, field_type, getter
from gomme.model.records import Lifecycle, PersonRecord
from tests.contract.contract_api import World

ORDERING = (Op.LT, Op.LE, Op.GT, Op.GE)
PUSHABLE = (
    "country", "lifecycle", "object_type", "created_at", "last_activity_at", "birthdate", "contract_end",
    "erasure_requested", "legal_hold", "restricted", "anonymised", *OPT_OUT_FIELDS,
)  # fmt: skip
TARGET = "person-12"  # a contact with an email, a phone, a birth date and a note, opted out of nothing
OTHERS = ("person-04", "person-06", "person-10")  # with an email each


def ids(records: Iterable[PersonRecord]) -> list[str]:
    return [record.id for record in records]


def pull(world: World, query: PullQuery) -> tuple[list[str], dict[str, str] | None]:
    pulled = world.connector.pull(query)
    return ids(pulled), pulled.cursor


def xfail_for(request: pytest.FixtureRequest, reasons: Mapping[str, str]) -> None:
    """Marks the test as a known, strict failure on the worlds named (a connector that breaks this contract)."""
    name = request.getfixturevalue("world_name")
    if name in reasons:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{name}: {reasons[name]}"))


# -- pull: everything, limit, cursor -----------------------------------------------------------------------


def test_the_connector_implements_the_protocol(contract_world: World) -> None:
    connector = contract_world.connector
    assert isinstance(connector, Connector)
    assert connector.capabilities.actions <= set(Action)


def test_pull_everything_returns_every_person_once(contract_world: World, everyone: list[PersonRecord]) -> None:
    assert sorted(ids(everyone)) == sorted(contract_world.ids.values())


@pytest.mark.parametrize("limit", [0, 1, 5, 24, 100])
def test_a_limited_pull_returns_at_most_limit_records(contract_world: World, limit: int) -> None:
    found, _ = pull(contract_world, PullQuery(limit=limit))
    assert len(found) == min(limit, len(contract_world.ids))
    assert len(set(found)) == len(found) and set(found) <= set(contract_world.ids.values())


@pytest.mark.parametrize("limit", [1, 4, 7, 23])
def test_resuming_from_a_limited_pulls_cursor_skips_no_record(contract_world: World, limit: int) -> None:
    # a limited pull, then an incremental pull from its cursor: no record may fall between the two
    first, cursor = pull(contract_world, PullQuery(limit=limit))
    assert cursor is not None
    rest, _ = pull(contract_world, PullQuery(everything=False, since=cursor))
    assert set(first) | set(rest) == set(contract_world.ids.values())


def test_a_prefilter_only_pull_returns_the_cursor_empty(contract_world: World) -> None:
    groups = ((Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT),),)
    found, cursor = pull(contract_world, PullQuery(everything=False, prefilters=groups))
    assert found and cursor == {}


def test_a_record_changed_after_a_pull_comes_back_in_the_next_incremental_pull(fresh_world: World) -> None:
    # given a full pull
    _, cursor = pull(fresh_world, PullQuery())
    assert cursor
    # when a user edits one record in the CRM
    changed = fresh_world.ids["person-05"]
    fresh_world.touch(changed)
    # then the next incremental pull returns it, without reading the whole CRM again
    found, _ = pull(fresh_world, PullQuery(everything=False, since=cursor))
    assert changed in found
    assert len(found) < len(fresh_world.ids)


# -- prefilter pushdown against the reference evaluator ----------------------------------------------------

ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))])


def _values(records: Sequence[PersonRecord], field: str) -> list[Any]:
    """The values the records hold, so that boundaries (equal values) are drawn often."""
    read = getter(field)
    return sorted({value for record in records if (value := read(record)) is not None}, key=repr)


def _moments(records: Sequence[PersonRecord], field: str) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """Dates and datetimes, the stored ones and others (in several zones): either kind compares with either field.

    Values stay within 1900-2100; odder ones have their own tests (test_an_odd_but_valid_condition...).
    """
    stored = _values(records, field)
    days = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))
    moments = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1), timezones=ZONES)
    midnights = days.map(lambda day: dt.datetime.combine(day, dt.time(), dt.UTC))
    if stored:
        exact = st.sampled_from(stored)
        days |= exact.map(lambda value: value.date() if isinstance(value, dt.datetime) else value)
        moments |= exact.map(lambda value: value if isinstance(value, dt.datetime) else _midnight(value))
    return days, moments | midnights


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _condition(records: Sequence[PersonRecord], field: str) -> st.SearchStrategy[Condition]:
    kind = field_type(field)
    lists: st.SearchStrategy[list[Any]]
    if field == "lifecycle":
        values: st.SearchStrategy[Any] = st.sampled_from(list(Lifecycle))
    elif kind is FieldType.BOOL:
        values = st.booleans()
    elif kind is FieldType.TEXT:
        values = st.sampled_from([*_values(records, field), "ZZ", "prospect"])
    else:
        days, moments = _moments(records, field)
        values = days | moments
        lists = st.lists(days | st.none(), max_size=3) | st.lists(moments | st.none(), max_size=3)  # one kind each
    if kind not in (FieldType.DATE, FieldType.DATETIME):
        lists = st.lists(values | st.none(), max_size=3)
    shapes = [
        st.builds(Condition, st.just(field), st.sampled_from([Op.EQ, Op.NE]), values | st.none()),
        st.builds(Condition, st.just(field), st.just(Op.IN), lists),
        st.builds(Condition, st.just(field), st.sampled_from([Op.IS_NULL, Op.NOT_NULL])),
    ]
    if kind in (FieldType.DATE, FieldType.DATETIME):
        shapes.append(st.builds(Condition, st.just(field), st.sampled_from(ORDERING), values))
    return st.one_of(shapes)


def _groups(records: Sequence[PersonRecord]) -> st.SearchStrategy[tuple[FilterGroup, ...]]:
    condition = st.sampled_from(PUSHABLE).flatmap(lambda field: _condition(records, field))
    return st.lists(st.lists(condition, min_size=1, max_size=3).map(tuple), min_size=1, max_size=3).map(tuple)


def _describe(record: PersonRecord, groups: Sequence[FilterGroup]) -> str:
    fields = dict.fromkeys(condition.field for group in groups for condition in group)
    return f"{record.ref} " + ", ".join(f"{field}={getter(field)(record)!r}" for field in fields)


@pytest.mark.usefixtures("contract_world", "everyone")  # taken from `request`: a failure report stays short
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_prefiltered_pull_returns_every_record_the_reference_evaluator_selects(
    request: pytest.FixtureRequest, data: st.DataObject
) -> None:
    contract_world: World = request.getfixturevalue("contract_world")
    everyone: list[PersonRecord] = request.getfixturevalue("everyone")
    groups = data.draw(_groups(everyone), label="prefilters")
    found, _ = pull(contract_world, PullQuery(everything=False, prefilters=groups))
    assert len(set(found)) == len(found), "a record came twice"
    missed = [
        _describe(record, groups) for record in everyone if matches_any(record, groups) and record.id not in found
    ]
    assert not missed, f"pushdown lost records the conditions select: {missed}"


UNKNOWN = Condition("favourite_colour", Op.EQ, "blue")
REFUSES_UNKNOWN: dict[str, str] = {}  # every connector drops such a condition (a superset, as `unsure` does)
ODD_CONDITIONS: dict[str, tuple[tuple[FilterGroup, ...], dict[str, str]]] = {
    # name: (prefilters, {world: why it fails there})
    "unknown field alone": (((UNKNOWN,),), REFUSES_UNKNOWN),
    "unknown field and-ed with a known one": (((UNKNOWN, Condition("country", Op.EQ, "FR")),), REFUSES_UNKNOWN),
    "unknown field or-ed with a known group": (
        ((UNKNOWN,), (Condition("lifecycle", Op.EQ, Lifecycle.CUSTOMER),)),
        REFUSES_UNKNOWN,
    ),
    "a moment before year 1000": (
        ((Condition("created_at", Op.GT, dt.date(999, 1, 1)),),),
        {},
    ),
    "dates and datetimes in one list": (
        ((Condition("birthdate", Op.IN, [dt.date(1952, 3, 3), _midnight(dt.date(1960, 11, 9))]),),),
        {},
    ),
}


@pytest.mark.parametrize(("groups", "fails"), list(ODD_CONDITIONS.values()), ids=list(ODD_CONDITIONS))
def test_an_odd_but_valid_condition_never_fails_the_pull_nor_loses_a_record(
    contract_world: World,
    everyone: list[PersonRecord],
    groups: tuple[FilterGroup, ...],
    fails: dict[str, str],
    request: pytest.FixtureRequest,
) -> None:
    xfail_for(request, fails)
    found, _ = pull(contract_world, PullQuery(everything=False, prefilters=groups))
    assert {record.id for record in everyone if matches_any(record, groups)} <= set(found)


# -- apply -------------------------------------------------------------------------------------------------

ACTIONS = [Action.RESTRICT_EMAIL, Action.RESTRICT_ALL, Action.ANONYMISE, Action.DELETE, Action.REDACT_NOTE]


def change(record: PersonRecord, action: Action, crm: str) -> PlannedChange:
    values = {"notes.description": "[redacted]"} if action is Action.REDACT_NOTE else {}
    return PlannedChange(
        f"{action}-{record.id}", crm, record.object_type, record.id, action, "contract", "test", "0" * 64, values=values
    )


def read(world: World, *people: str) -> list[PersonRecord]:
    """The people's records as a sweep reads them before writing (a pull)."""
    wanted = {world.ids[person] for person in people}
    by_id = {record.id: record for record in world.connector.pull(PullQuery()) if record.id in wanted}
    return [by_id[world.ids[person]] for person in people]


@pytest.mark.parametrize("action", ACTIONS)
def test_applying_a_change_twice_leaves_the_crm_as_applying_it_once(fresh_world: World, action: Action) -> None:
    connector = fresh_world.connector
    if action not in connector.capabilities.actions:
        pytest.skip(f"{connector.name} does not offer {action}")
    (record,) = read(fresh_world, TARGET)
    planned = change(record, action, connector.name)
    before = fresh_world.state(record.id)
    # applied once: it changes the CRM
    (first,) = connector.apply([planned])
    assert first.outcome is Outcome.APPLIED, first
    once = fresh_world.state(record.id)
    assert once != before
    # applied again: it succeeds and writes nothing different
    (second,) = connector.apply([planned])
    assert second.outcome in (Outcome.APPLIED, Outcome.SKIPPED), second
    assert fresh_world.state(record.id) == once


def test_a_record_whose_write_fails_fails_alone(fresh_world: World) -> None:
    connector = fresh_world.connector
    records = read(fresh_world, TARGET, *OTHERS)
    broken = records[1]
    fresh_world.break_record(broken.id)
    before = {record.id: fresh_world.state(record.id) for record in records}
    results = {result.change_id: result for result in connector.apply(
        [change(record, Action.RESTRICT_ALL, connector.name) for record in records])}  # fmt: skip
    assert [_outcome(results[f"restrict_all-{record.id}"]) for record in records] == [
        (Outcome.APPLIED, False),
        (Outcome.FAILED, True),
        (Outcome.APPLIED, False),
        (Outcome.APPLIED, False),
    ]
    assert all(fresh_world.state(record.id) != before[record.id] for record in records if record is not broken)


def test_a_failed_change_does_not_leave_the_record_reading_as_changed(
    fresh_world: World, request: pytest.FixtureRequest
) -> None:
    connector = fresh_world.connector
    (record,) = read(fresh_world, OTHERS[0])
    fresh_world.break_record(record.id)
    key = [(record.object_type, record.id)]
    before = [_data(found) for found in connector.get(key)]
    if not before:
        pytest.skip("this world breaks a record by removing it: nothing is left to read back")
    (result,) = connector.apply([change(record, Action.RESTRICT_ALL, connector.name)])
    assert result.outcome is Outcome.FAILED
    # the next sweep reads it as it was, so it plans the restriction again
    assert [_data(found) for found in connector.get(key)] == before


def _data(record: PersonRecord) -> PersonRecord:
    """The record's canonical fields, without the CRM's change stamp and raw fields."""
    return dataclasses.replace(record, modified_at=None, raw={})


def _outcome(result: ChangeResult) -> tuple[Outcome, bool]:
    """The outcome, and whether it carries the CRM's error code."""
    return result.outcome, bool(result.error_code)
