"""The local (SQLite-file) connector: what a user of the demo, or of a cleaned CSV export, would notice."""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gomme.connectors.base import Connector
from gomme.connectors.errors import FatalError, RecordError
from gomme.connectors.incremental import MICROSECOND, Position
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange
from gomme.model.conditions import Condition, Op, PullQuery
from gomme.model.records import Consent, ConsentStatus, Lifecycle, OptOuts, PersonRecord

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)


def at(day: int) -> dt.datetime:
    """A fixed modification time in January 2025."""
    return dt.datetime(2025, 1, day, 9, 0, tzinfo=dt.UTC)


def person(record_id: str, object_type: str = "contact", **fields: Any) -> PersonRecord:
    defaults: dict[str, Any] = {"modified_at": at(1), "email": f"{record_id}@example.com"}
    return PersonRecord(crm="local", object_type=object_type, id=record_id, **{**defaults, **fields})


def full_person(record_id: str = "p1") -> PersonRecord:
    """A synthetic person with every field set, so that each action's effect is visible."""
    return person(
        record_id,
        email="Ada.Example@example.org",
        first_name="Ada",
        last_name="Example",
        phone="+33 1 99 00 12 34",
        country="FR",
        birthdate=dt.date(1980, 5, 17),
        created_at=dt.datetime(2019, 3, 1, tzinfo=dt.UTC),
        last_activity_at=dt.datetime(2021, 2, 1, tzinfo=dt.UTC),
        lifecycle=Lifecycle.FORMER_CUSTOMER,
        contract_end=dt.date(2021, 1, 31),
        legal_hold=True,
        consents=(
            Consent("email", "marketing", ConsentStatus.OPT_IN, at(2), "web_form:newsletter", at(3)),
            Consent("phone", "marketing", ConsentStatus.OPT_OUT),
        ),
        notes={"description": "Wants the annual plan, call back in spring.", "comment": "Met at the fair."},
    )


def change(record: PersonRecord, action: Action, *also: Action, **values: str) -> PlannedChange:
    return PlannedChange(
        change_id=f"{action}-{record.id}",
        crm=record.crm,
        object_type=record.object_type,
        record_id=record.id,
        action=action,
        rule_id="test",
        legal_basis="test",
        policy_hash="0" * 64,
        values={f"notes.{field}": text for field, text in values.items()},
        also=also,
    )


class Clock:
    """A settable clock, so tests can tell whether a write stamped `modified_at`."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def crm(tmp_path: Path, clock: Clock) -> Iterator[LocalConnector]:
    with LocalConnector("local", tmp_path / "crm.db", clock=clock) as connector:
        yield connector


def state(crm: LocalConnector, record: PersonRecord) -> dict[str, Any] | None:
    try:
        return crm.export(record)
    except RecordError:
        return None


def ids(records: Any) -> list[str]:
    return [record.id for record in records]


# -- opening and configuration ----------------------------------------------------------------------------


def test_local_connector_satisfies_the_connector_protocol(crm: LocalConnector) -> None:
    assert isinstance(crm, Connector)
    assert crm.capabilities.actions == frozenset(Action)
    assert crm.capabilities.incremental and crm.capabilities.pushdown


def test_records_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with LocalConnector("local", path) as first:
        first.add([full_person()])
    with LocalConnector("local", path) as second:
        (record,) = second.get([("contact", "p1")])
    assert record.last_name == "Example"
    assert record.notes["comment"] == "Met at the fair."
    assert len(record.consents) == 2


def test_settings_resolve_a_relative_path_against_the_config_directory(tmp_path: Path) -> None:
    settings = LocalConnector.Settings.model_validate({"type": "local", "path": "data/crm.db"})
    (tmp_path / "data").mkdir()
    with LocalConnector.from_settings("demo", settings, base_dir=tmp_path) as connector:
        assert connector.name == "demo"
        assert connector.path == tmp_path / "data" / "crm.db"
    assert (tmp_path / "data" / "crm.db").exists()


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        LocalConnector.Settings.model_validate({"type": "local", "path": "crm.db", "pathh": "x"})


@pytest.mark.parametrize("make_path", ["missing_directory", "not_a_database"])
def test_an_unusable_path_is_a_fatal_configuration_error(tmp_path: Path, make_path: str) -> None:
    path = tmp_path / "nowhere" / "crm.db"
    if make_path == "not_a_database":
        path = tmp_path / "crm.db"
        path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(FatalError):
        LocalConnector("local", path)


# -- apply: each action's resulting state ---------------------------------------------------------------

ALL_OPT_OUTS = {
    f"opt_out_{name}": True for name in ("email", "phone", "processing", "profiling", "tracking", "solicit")
}
STAMPED = {"modified_at": NOW.isoformat(timespec="microseconds")}
ACTION_EFFECTS: list[tuple[PlannedChange, dict[str, Any] | None]] = [
    (change(full_person(), Action.KEEP), {}),
    (change(full_person(), Action.RESTRICT_EMAIL), {"opt_out_email": True, **STAMPED}),
    (change(full_person(), Action.RESTRICT_ALL), {**ALL_OPT_OUTS, "restricted": True, **STAMPED}),
    (
        change(full_person(), Action.ANONYMISE),
        {
            "email": None,
            "first_name": None,
            "phone": None,
            "birthdate": None,
            "last_name": "ANONYMISED",
            "anonymised": True,
            "notes": {},
            "consents": [],
            **STAMPED,
        },
    ),
    (
        change(full_person(), Action.REDACT_NOTE, description="[redacted]"),
        {"notes": {"comment": "Met at the fair.", "description": "[redacted]"}, **STAMPED},
    ),
    (
        change(full_person(), Action.RESTRICT_ALL, Action.REDACT_NOTE, comment="[redacted]"),
        {
            **ALL_OPT_OUTS,
            "restricted": True,
            "notes": {"comment": "[redacted]", "description": "Wants the annual plan, call back in spring."},
            **STAMPED,
        },
    ),
    (change(full_person(), Action.DELETE), None),
]


@pytest.mark.parametrize(("planned", "effect"), ACTION_EFFECTS, ids=lambda value: getattr(value, "change_id", ""))
def test_each_action_changes_exactly_its_fields(
    crm: LocalConnector, planned: PlannedChange, effect: dict[str, Any] | None
) -> None:
    # given a person with every field set
    crm.add([full_person()])
    before = state(crm, full_person())
    assert before is not None
    # when the change is applied
    (result,) = crm.apply([planned])
    # then it is applied and only the expected fields differ
    assert result == ChangeResult(planned.change_id, Outcome.APPLIED)
    after = state(crm, full_person())
    assert after == (None if effect is None else {**before, **effect})


def test_anonymised_export_keeps_no_trace_of_the_identifying_values(crm: LocalConnector) -> None:
    original = full_person()
    crm.add([original])
    list(crm.apply([change(original, Action.ANONYMISE)]))
    text = json.dumps(crm.export(original)).lower()
    for value in ("ada", "example@", "99 00 12 34", "1980-05-17", "annual plan", "fair", "newsletter"):
        assert value not in text


def test_delete_removes_notes_and_consents_with_the_row(crm: LocalConnector) -> None:
    crm.add([full_person()])
    list(crm.apply([change(full_person(), Action.DELETE)]))
    crm.add([person("p1")])  # same id comes back: nothing of the deleted person may reappear with it
    (record,) = crm.get([("contact", "p1")])
    assert record.notes == {} and record.consents == ()


@pytest.mark.parametrize(("planned", "effect"), ACTION_EFFECTS, ids=lambda value: getattr(value, "change_id", ""))
def test_applying_a_change_twice_is_applied_again_and_changes_nothing_more(
    crm: LocalConnector, clock: Clock, planned: PlannedChange, effect: dict[str, Any] | None
) -> None:
    # given a change already applied
    crm.add([full_person()])
    list(crm.apply([planned]))
    after_first = state(crm, full_person())
    # when it is applied again, later
    clock.now = LATER
    (result,) = crm.apply([planned])
    # then it is applied, and the record is untouched (not even re-stamped)
    assert result.outcome is Outcome.APPLIED
    assert state(crm, full_person()) == after_first


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (Action.DELETE, ChangeResult("x", Outcome.APPLIED, detail="already deleted")),
        (Action.ANONYMISE, ChangeResult("x", Outcome.FAILED, "NOT_FOUND", "record not found")),
        (Action.RESTRICT_EMAIL, ChangeResult("x", Outcome.FAILED, "NOT_FOUND", "record not found")),
    ],
)
def test_a_change_to_a_record_that_is_gone(crm: LocalConnector, action: Action, expected: ChangeResult) -> None:
    planned = PlannedChange("x", "local", "contact", "gone", action, "r", "b", "h")
    assert list(crm.apply([planned])) == [expected]


def test_a_change_names_the_object_type_too(crm: LocalConnector) -> None:
    crm.add([person("p1", object_type="lead")])
    planned = change(person("p1", object_type="contact"), Action.RESTRICT_EMAIL)
    (result,) = crm.apply([planned])
    assert result.error_code == "NOT_FOUND"


@pytest.mark.parametrize("values", [{}, {"notes.description": 42}, {"description": "x"}])
def test_redact_note_without_replacement_text_fails_and_changes_nothing(
    crm: LocalConnector, values: dict[str, Any]
) -> None:
    crm.add([full_person()])
    before = state(crm, full_person())
    planned = PlannedChange("x", "local", "contact", "p1", Action.REDACT_NOTE, "r", "b", "h", values=values)
    (result,) = crm.apply([planned])
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "INVALID_CHANGE")
    assert state(crm, full_person()) == before


def test_a_batch_yields_one_result_per_change_without_personal_data(crm: LocalConnector) -> None:
    people = [full_person("p1"), full_person("p2")]
    crm.add(people)
    batch = [
        change(people[0], Action.ANONYMISE),
        change(people[1], Action.DELETE),
        change(person("p3"), Action.RESTRICT_ALL),
        PlannedChange("other", "elsewhere", "contact", "p1", Action.DELETE, "r", "b", "h"),
    ]
    results = list(crm.apply(batch))
    assert [result.change_id for result in results] == [planned.change_id for planned in batch]
    assert [result.outcome for result in results] == [Outcome.APPLIED, Outcome.APPLIED, Outcome.FAILED, Outcome.FAILED]
    assert [result.error_code for result in results] == [None, None, "NOT_FOUND", "WRONG_CRM"]
    text = " ".join(f"{result.error_code} {result.detail}" for result in results).lower()
    assert "ada" not in text and "example" not in text


def test_apply_is_done_when_it_returns_even_if_results_are_not_read(crm: LocalConnector) -> None:
    crm.add([full_person()])
    crm.apply([change(full_person(), Action.DELETE)])
    assert state(crm, full_person()) is None


# -- pull --------------------------------------------------------------------------------------------------


@pytest.fixture
def timeline(crm: LocalConnector) -> LocalConnector:
    """Contacts c1..c3 and leads l1..l2 modified on known January days."""
    crm.add(
        [
            person("c1", modified_at=at(10), lifecycle=Lifecycle.PROSPECT, country="FR"),
            person("c2", modified_at=at(20), lifecycle=Lifecycle.CUSTOMER, country="DE"),
            person("c3", modified_at=at(5), lifecycle=Lifecycle.PROSPECT, country=None, erasure_requested=True),
            person("l1", "lead", modified_at=at(15), lifecycle=Lifecycle.PROSPECT, country="FR"),
            person("l2", "lead", modified_at=at(3), lifecycle=Lifecycle.UNKNOWN, country="ES"),
        ]
    )
    return crm


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def bounds(cursor: dict[str, str] | None) -> dict[str, dt.datetime]:
    """The inclusive bound of each object type's position in a cursor."""
    assert cursor is not None
    return {
        kind: Position.parse(text, resolution=MICROSECOND, connector="crm", object_type=kind).at
        for kind, text in cursor.items()
    }


def run(crm: LocalConnector, query: PullQuery) -> tuple[list[str], dict[str, str] | None]:
    pulled = crm.pull(query)
    return ids(pulled), pulled.cursor


def test_pull_everything_streams_every_record_ordered_by_id(timeline: LocalConnector) -> None:
    found, cursor = run(timeline, PullQuery())
    assert found == ["c1", "c2", "c3", "l1", "l2"]
    assert bounds(cursor) == {"contact": at(20), "lead": at(15)}


@pytest.mark.parametrize(
    ("since", "expected_ids", "expected_cursor"),
    [
        # the bound is inclusive: a record modified exactly at the cursor comes back
        ({"contact": iso(at(10)), "lead": iso(at(15))}, ["c1", "c2", "l1"], {"contact": at(20), "lead": at(15)}),
        # nothing newer for leads: their cursor is kept as it was
        ({"contact": iso(at(11)), "lead": iso(at(16))}, ["c2"], {"contact": at(20), "lead": at(16)}),
        # a type missing from the cursor was never pulled: all of it comes back
        ({"contact": iso(at(21))}, ["l1", "l2"], {"contact": at(21), "lead": at(15)}),
        # another spelling of the same instant is accepted and normalised
        ({"contact": "2025-01-20T10:00:00+01:00", "lead": iso(at(16))}, ["c2"], {"contact": at(20), "lead": at(16)}),
    ],
)
def test_pull_since_returns_records_changed_at_or_after_the_cursor(
    timeline: LocalConnector,
    since: dict[str, str],
    expected_ids: list[str],
    expected_cursor: dict[str, dt.datetime],
) -> None:
    found, cursor = run(timeline, PullQuery(everything=False, since=since))
    assert found == expected_ids
    assert bounds(cursor) == expected_cursor


@pytest.mark.parametrize(
    ("groups", "expected_ids"),
    [
        (((Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT),),), ["c1", "c3", "l1"]),
        # AND within a group
        (((Condition("lifecycle", Op.EQ, "prospect"), Condition("country", Op.EQ, "FR")),), ["c1", "l1"]),
        # OR across groups
        (((Condition("country", Op.EQ, "DE"),), (Condition("erasure_requested", Op.EQ, True),)), ["c2", "c3"]),
        (((Condition("country", Op.IN, ["ES", "DE"]),),), ["c2", "l2"]),
        (((Condition("country", Op.IN, []),),), []),
        # ne keeps records where the field is not set, as Python's != would
        (((Condition("country", Op.NE, "FR"),),), ["c2", "c3", "l2"]),
        (((Condition("country", Op.IS_NULL),),), ["c3"]),
        (((Condition("modified_at", Op.LT, at(10)),),), ["c3", "l2"]),
        (((Condition("modified_at", Op.LE, at(10)),),), ["c1", "c3", "l2"]),
        (((Condition("modified_at", Op.GE, dt.date(2025, 1, 15)),),), ["c2", "l1"]),
        (((Condition("opt_outs.email", Op.EQ, False), Condition("object_type", Op.EQ, "lead")),), ["l1", "l2"]),
        ((), []),
    ],
)
def test_pull_prefilters_select_matching_records(
    timeline: LocalConnector, groups: tuple[tuple[Condition, ...], ...], expected_ids: list[str]
) -> None:
    found, cursor = run(timeline, PullQuery(everything=False, prefilters=groups))
    assert found == expected_ids
    assert cursor == {}  # a prefilter-only pull scanned no changes, so it gives no position


def test_pull_returns_the_union_of_since_and_prefilters(timeline: LocalConnector) -> None:
    query = PullQuery(
        everything=False,
        since={"contact": iso(at(20)), "lead": iso(at(30))},
        prefilters=((Condition("country", Op.EQ, "ES"),),),
    )
    found, cursor = run(timeline, query)
    assert found == ["c2", "l2"]
    assert bounds(cursor) == {"contact": at(20), "lead": at(30)}


def test_date_fields_compare_with_datetimes_as_midnight_utc(crm: LocalConnector) -> None:
    crm.add([person("a", contract_end=dt.date(2022, 1, 1)), person("b", contract_end=dt.date(2022, 1, 2))])
    half_past_midnight = dt.datetime(2022, 1, 2, 0, 30, tzinfo=dt.UTC)
    paris_half_past_midnight = half_past_midnight.replace(tzinfo=dt.timezone(dt.timedelta(hours=2)))
    for moment, expected in ((half_past_midnight, ["a", "b"]), (paris_half_past_midnight, ["a"])):
        groups = ((Condition("contract_end", Op.LT, moment),),)
        assert ids(crm.pull(PullQuery(everything=False, prefilters=groups))) == expected


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        (Condition("last_activity_at", Op.LT, "someone@example.com"), "last_activity_at"),
        (Condition("last_activity_at", Op.LT, dt.datetime(2020, 1, 1)), "naive"),
        (Condition("last_activity_at", Op.LT, None), "needs a value"),
        (Condition("country", Op.IN, "FR"), "list"),
        (Condition("legal_hold", Op.EQ, "yes"), "legal_hold"),
    ],
)
def test_a_bad_prefilter_is_refused_when_the_pull_is_made_without_echoing_the_value(
    crm: LocalConnector, condition: Condition, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem) as raised:
        crm.pull(PullQuery(everything=False, prefilters=((condition,),)))
    assert "someone@example.com" not in str(raised.value)


def test_a_malformed_cursor_is_refused(crm: LocalConnector) -> None:
    with pytest.raises(FatalError, match="cursor for contact is unreadable"):
        crm.pull(PullQuery(everything=False, since={"contact": "yesterday"}))


def test_changes_applied_while_a_pull_is_paused_do_not_disturb_it(crm: LocalConnector) -> None:
    # given more records than one page
    crm.add(person(f"p{index:04d}") for index in range(700))
    seen = []
    # when each record is deleted as soon as it is pulled
    for record in crm.pull(PullQuery()):
        seen.append(record.id)
        list(crm.apply([change(record, Action.DELETE)]))
    # then every record was pulled exactly once, in id order
    assert seen == [f"p{index:04d}" for index in range(700)]
    assert ids(crm.pull(PullQuery())) == []


# -- pull: properties against a pure-Python evaluation ---------------------------------------------------

PEOPLE = [
    *synthetic_people(60, seed=11, now=NOW),
    person("bare-1", country=None, modified_at=NOW),
    person("bare-2", "lead", email=None, lifecycle=Lifecycle.UNKNOWN, modified_at=NOW),
]
MOMENTS = sorted({moment for record in PEOPLE for moment in (record.modified_at, record.last_activity_at) if moment})
COMPARE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalConnector]:
    with LocalConnector("local", tmp_path_factory.mktemp("crm") / "crm.db") as connector:
        connector.add(PEOPLE)
        yield connector


zones = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))])
instants = st.one_of(
    st.sampled_from(MOMENTS),  # exact stored values, to hit the inclusive/exclusive boundaries
    st.datetimes(dt.datetime(2015, 1, 1), dt.datetime(2026, 1, 1), timezones=zones),
)
days = st.dates(dt.date(1940, 1, 1), dt.date(2030, 1, 1))
EQUALITY, NULLITY, ORDER = [Op.EQ, Op.NE], [Op.IS_NULL, Op.NOT_NULL], list(COMPARE)


def on(fields: list[str], ops: list[Op], values: st.SearchStrategy[Any]) -> st.SearchStrategy[Condition]:
    return st.builds(Condition, st.sampled_from(fields), st.sampled_from(ops), values)


conditions = st.one_of(
    on(["lifecycle"], EQUALITY, st.sampled_from(list(Lifecycle))),
    on(["lifecycle"], [Op.IN], st.lists(st.sampled_from(list(Lifecycle)), max_size=3)),
    on(["country"], EQUALITY, st.sampled_from(["FR", "DE", "US"])),
    on(["country", "email", "last_activity_at", "birthdate"], NULLITY, st.none()),
    on(["last_activity_at", "created_at", "modified_at"], ORDER, instants),
    on(["contract_end", "birthdate"], ORDER, st.one_of(days, instants)),
    on(["erasure_requested", "legal_hold", "opt_outs.email"], EQUALITY, st.booleans()),
)
stamps = instants.map(dt.datetime.isoformat)
cursors = st.one_of(st.none(), st.fixed_dictionaries({}, optional={"contact": stamps, "lead": stamps}))
queries = st.builds(
    PullQuery,
    everything=st.booleans(),
    since=cursors,
    prefilters=st.lists(st.lists(conditions, max_size=3).map(tuple), max_size=3).map(tuple),
)


def field_value(record: PersonRecord, field: str) -> Any:
    if field.startswith("opt_outs."):
        return getattr(record.opt_outs, field.removeprefix("opt_outs."))
    return getattr(record, field)


def comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """A date facing a datetime counts as midnight UTC, the connector's documented convention."""
    if isinstance(left, dt.datetime) != isinstance(right, dt.datetime):
        left, right = (
            value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time(), dt.UTC)
            for value in (left, right)
        )
    return left, right


def holds(record: PersonRecord, condition: Condition) -> bool:
    value = field_value(record, condition.field)
    if condition.op is Op.IS_NULL:
        return value is None
    if condition.op is Op.NOT_NULL:
        return value is not None
    if condition.op is Op.IN:
        return value in condition.value
    if condition.op is Op.EQ:
        return bool(value == condition.value)
    if condition.op is Op.NE:
        return bool(value != condition.value)
    return value is not None and COMPARE[condition.op](*comparable(value, condition.value))


def changed_since(record: PersonRecord, since: dict[str, str] | None) -> bool:
    if since is None:
        return False
    if record.object_type not in since:
        return True
    assert record.modified_at is not None
    return record.modified_at >= dt.datetime.fromisoformat(since[record.object_type])


def selected(record: PersonRecord, query: PullQuery) -> bool:
    since = dict(query.since) if query.since is not None else None
    in_groups = any(all(holds(record, condition) for condition in group) for group in query.prefilters)
    return query.everything or changed_since(record, since) or in_groups


@settings(max_examples=150, deadline=None)
@given(query=queries)
def test_pull_returns_exactly_what_python_selects_and_the_newest_cursor(
    population: LocalConnector, query: PullQuery
) -> None:
    pulled = population.pull(query)
    found = ids(pulled)
    chosen = [record for record in PEOPLE if selected(record, query)]
    assert found == sorted(record.id for record in chosen)
    if not query.everything and query.since is None:
        assert pulled.cursor == {}
        return
    expected = {kind: dt.datetime.fromisoformat(value) for kind, value in (query.since or {}).items()}
    for record in chosen:
        assert record.modified_at is not None
        expected[record.object_type] = max(expected.get(record.object_type, record.modified_at), record.modified_at)
    assert pulled.cursor is not None
    assert bounds(pulled.cursor) == expected


@settings(max_examples=100, deadline=None)
@given(since=cursors.filter(lambda value: value is not None), limit=st.integers(0, 70), everything=st.booleans())
def test_resuming_from_a_limited_pull_misses_no_changed_record(
    population: LocalConnector, since: dict[str, str], limit: int, everything: bool
) -> None:
    first = population.pull(PullQuery(everything=everything, since=since, limit=limit))
    first_ids = set(ids(first))
    assert len(first_ids) <= limit
    assert first.cursor is not None
    resumed = set(ids(population.pull(PullQuery(everything=False, since=first.cursor))))
    must_see = {record.id for record in PEOPLE if changed_since(record, since)}
    assert must_see <= first_ids | resumed


# -- get / find / export ---------------------------------------------------------------------------------


def test_get_yields_the_records_asked_for_and_skips_missing_ones(timeline: LocalConnector) -> None:
    asked = [("lead", "l1"), ("contact", "c2"), ("contact", "gone"), ("contact", "l2"), ("lead", "l1")]
    assert ids(timeline.get(asked)) == ["c2", "l1"]


@pytest.mark.parametrize("typed", ["ada.example@example.org", "  ADA.Example@EXAMPLE.org\t", "Ada.Example@example.org"])
def test_find_matches_email_ignoring_case_and_surrounding_spaces(crm: LocalConnector, typed: str) -> None:
    crm.add([full_person("p1"), full_person("p2"), person("p3")])
    assert ids(crm.find(typed)) == ["p1", "p2"]


@pytest.mark.parametrize("typed", ["", "   ", "ada@example.org"])
def test_find_without_a_match_yields_nothing(crm: LocalConnector, typed: str) -> None:
    crm.add([full_person()])
    assert list(crm.find(typed)) == []


def test_export_holds_every_stored_field_notes_and_consents_as_json(crm: LocalConnector) -> None:
    crm.add([full_person()])
    exported = crm.export(full_person())
    assert json.loads(json.dumps(exported)) == exported
    assert exported["birthdate"] == "1980-05-17"
    assert exported["legal_hold"] is True and exported["opt_out_email"] is False
    assert exported["notes"] == full_person().notes
    assert exported["consents"][0] == {
        "channel": "email",
        "purpose": "marketing",
        "status": "opt_in",
        "captured_at": iso(at(2)),
        "source": "web_form:newsletter",
        "double_opt_in_at": iso(at(3)),
    }


def test_export_of_a_missing_record_is_a_record_error(crm: LocalConnector) -> None:
    with pytest.raises(RecordError) as raised:
        crm.export(person("gone"))
    assert raised.value.code == "NOT_FOUND" and raised.value.record_id == "gone"


def test_records_read_back_equal_what_was_added(crm: LocalConnector) -> None:
    original = full_person()
    crm.add([original])
    (record,) = crm.get([("contact", "p1")])
    assert {**vars_of(record), "raw": {}} == {**vars_of(original), "raw": {}}
    assert record.raw["id"] == "p1"


def vars_of(record: PersonRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in PersonRecord.__slots__}


def test_add_rejects_an_unknown_object_type(crm: LocalConnector) -> None:
    with pytest.raises(ValueError, match="object_type"):
        crm.add([person("x", object_type="account")])


def test_opt_outs_round_trip(crm: LocalConnector) -> None:
    crm.add([person("p1", opt_outs=OptOuts(phone=True, tracking=True))])
    (record,) = crm.get([("contact", "p1")])
    assert record.opt_outs == OptOuts(phone=True, tracking=True)


def test_people_found_by_email_can_be_erased_while_iterating(crm: LocalConnector) -> None:
    crm.add([full_person("p1"), full_person("p2")])
    for record in crm.find("ada.example@example.org"):
        list(crm.apply([change(record, Action.DELETE)]))
    assert list(crm.find("ada.example@example.org")) == []
