"""The assessment is pure over a record stream: counts per label, people told apart by email, numbers rounded as a
notification states them, `--where` parsed on the canonical fields."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections.abc import Mapping

import pytest

from gomme.jobs.breach_assessment import Assessment, Facts, approximately
from gomme.jobs.breach_authorities import authorities, authority
from gomme.jobs.breach_scope import Scope, ScopeError, parse_where
from gomme.model.conditions import Condition, Op
from gomme.model.records import Lifecycle, PersonRecord
from gomme.policies.notes.lexicon import Category
from gomme.state.breach import CaseScope

NOW = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)


def _no_scan(notes: Mapping[str, str]) -> set[Category]:
    return {Category.HEALTH} if any("clinic" in text for text in notes.values()) else set()


def _tally() -> Assessment:
    return Assessment(now=NOW, scan=_no_scan, consent_age=lambda country: 15 if country == "FR" else 16)


@pytest.mark.parametrize(("count", "stated"), [
    (0, "0"), (7, "7"), (99, "99"), (100, "approximately 100"), (215, "approximately 220"),
    (1234, "approximately 1,200"), (98_765, "approximately 99,000"),
])
def test_numbers_are_stated_as_a_notification_states_them(count: int, stated: str) -> None:
    assert approximately(count) == stated


def test_one_person_in_two_records_counts_once_and_each_label_is_counted() -> None:
    tally = _tally()
    tally.add(PersonRecord("a", "contact", "1", email="x@example.test", country="FR",
                           birthdate=dt.date(2013, 1, 1), notes={"n": "Seen at the clinic."}))
    tally.add(PersonRecord("b", "lead", "2", email=" X@Example.test ", country="FR"))
    tally.add(PersonRecord("a", "contact", "3", anonymised=True))
    tally.add(PersonRecord("a", "contact", "4", email="y@example.test", country="DE"), Facts(erased_before=True))

    result = tally.result()

    assert result["records"]["scanned"] == 4 and result["records"]["anonymised"] == 1
    assert result["records"]["all"] == 3 and result["people"]["all"] == 2
    assert result["people"]["country:FR"] == 1 and result["records"]["country:FR"] == 2
    assert result["people"]["erased"] == 1 and result["people"]["minor"] == 1
    assert result["people"]["below_consent_age"] == 1 and result["people"]["special:health"] == 1
    assert "country:None" not in result["people"]  # an anonymised record has no country left
    assert result["people"]["group:a/contact"] == 2 and result["people"]["group:b/lead"] == 1


def test_the_assessment_holds_no_record_and_little_memory() -> None:
    tally = _tally()
    tracemalloc.start()
    for n in range(20_000):
        tally.add(PersonRecord("crm", "contact", str(n), email=f"person{n}@example.test", country="FR",
                               lifecycle=Lifecycle.CUSTOMER, first_name="Sam"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert tally.result()["people"]["all"] == 20_000
    assert peak / 20_000 < 300  # bytes per person: a digest and a bitmask, never the record


@pytest.mark.parametrize(("text", "condition"), [
    ("country eq FR", Condition("country", Op.EQ, "FR")),
    ("birthdate > 2010-01-01", Condition("birthdate", Op.GT, dt.date(2010, 1, 1))),
    ("created_at ge 2026-01-01T08:00", Condition("created_at", Op.GE, dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC))),
    ("lifecycle in prospect,customer", Condition("lifecycle", Op.IN, (Lifecycle.PROSPECT, Lifecycle.CUSTOMER))),
    ("opt_outs.email eq true", Condition("opt_outs.email", Op.EQ, True)),
    ("phone not_null", Condition("phone", Op.NOT_NULL)),
    ("notes.description is_null", Condition("notes.description", Op.IS_NULL)),
])
def test_where_is_parsed_on_canonical_fields(text: str, condition: Condition) -> None:
    assert parse_where(text) == condition


@pytest.mark.parametrize(("text", "problem"), [
    ("shoe_size gt 40", "unknown field 'shoe_size'"), ("country like FR", "unknown operator 'like'"),
    ("lifecycle eq alien", "'alien' is not a lifecycle"), ("legal_hold eq maybe", "legal_hold is true or false"),
    ("birthdate gt soon", "compares with an ISO date"), ("phone not_null 3", "not_null takes no value"),
])
def test_a_bad_condition_names_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ScopeError, match=problem):
        parse_where(text)


def test_the_window_keeps_records_that_existed_during_it() -> None:
    scope = Scope.of(CaseScope(connectors=("crm",), objects=("Contact",), until=NOW))
    before = PersonRecord("crm", "contact", "1", created_at=NOW - dt.timedelta(days=1))
    after = PersonRecord("crm", "contact", "2", created_at=NOW + dt.timedelta(days=1))
    unknown = PersonRecord("crm", "contact", "3")
    lead = PersonRecord("crm", "lead", "4", created_at=NOW - dt.timedelta(days=1))
    assert [scope.holds(r) for r in (before, after, unknown, lead)] == [True, False, True, False]


def test_every_eea_country_has_an_authority_and_a_language() -> None:
    eea = {code for code, found in authorities().items() if found.eea}
    assert len(eea) == 30  # 27 Member States and Iceland, Liechtenstein, Norway
    assert all(found.languages and found.website.startswith("https://") for found in authorities().values())
    cnil = authority("fr")
    assert cnil is not None and "CNIL" in cnil.name and cnil.language == "fr"


def test_the_html_draft_escapes_the_note_and_the_markdown_keeps_it() -> None:
    from gomme.jobs.breach import Controller, render_report, report_context
    from gomme.state.models import BreachCase

    case = BreachCase(id="c" * 32, status="open", opened_at="2026-12-05T12:00:00.000000Z",
                      aware_at="2026-12-05T10:00:00.000000Z", deadline_at="2026-12-08T10:00:00.000000Z",
                      scope_sealed="", note_sealed="", actor="me")
    aggregates = {"records": {"all": 1, "group:crm/contact": 1}, "people": {"all": 1, "group:crm/contact": 1}}
    context = report_context(case, aggregates, scope=CaseScope(connectors=("crm",)), note="Export <b>x</b> stolen",
                             controller=Controller(None, None), now=NOW)

    assert "Export &lt;b&gt;x&lt;/b&gt; stolen" in render_report(context, "html")
    assert "> Export <b>x</b> stolen" in render_report(context, "md")
    assert "**TO COMPLETE** (no `controller` in `[register]`)" in render_report(context, "md")
