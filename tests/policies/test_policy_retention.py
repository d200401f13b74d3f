"""Retention rule: which clock date starts the period, the cutoff boundaries, and the evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from policy_testkit import NOW, at, matches, person

from gomme.model.changes import Action
from gomme.model.conditions import Condition, Op
from gomme.model.records import Lifecycle
from gomme.policies.period import Period
from gomme.policies.rules import RetentionRule


def retention(**params: Any) -> RetentionRule:
    return RetentionRule.model_validate({"id": "retention-test", "kind": "retention", "after": "P3Y", **params})


PROSPECT = retention(lifecycle="prospect")
FORMER = retention(lifecycle="former_customer")
CUSTOMER = retention(lifecycle="customer")


@pytest.mark.parametrize(
    ("rule", "now", "record_fields", "fires"),
    [
        # NOW = 2024-11-23 12:00 UTC, so the 3-year cutoff is 2021-11-23 12:00 UTC.
        (PROSPECT, NOW, {"last_activity_at": at(2021, 11, 23)}, False),  # exactly at the cutoff
        (PROSPECT, NOW, {"last_activity_at": at(2021, 11, 23, 11, 59, 59)}, True),  # one second older
        (PROSPECT, NOW, {"last_activity_at": at(2021, 11, 22)}, True),  # one day older
        (PROSPECT, NOW, {"last_activity_at": at(2021, 11, 24)}, False),  # one day younger
        # Leap days: 29 Feb minus whole years lands on 28 Feb (calendar arithmetic, not 365-day years).
        (PROSPECT, at(2024, 2, 29, 0), {"last_activity_at": at(2021, 2, 28, 0)}, False),
        (PROSPECT, at(2024, 2, 29, 0), {"last_activity_at": at(2021, 2, 27, 23, 59)}, True),
        (
            retention(lifecycle="prospect", after="P1Y"),
            at(2025, 3, 1, 0),
            {"last_activity_at": at(2024, 2, 29, 0)},
            True,
        ),
        (
            retention(lifecycle="prospect", after="P4Y"),
            at(2028, 2, 29, 0),
            {"last_activity_at": at(2024, 2, 29, 0)},
            False,
        ),
        (retention(lifecycle="prospect", after="P18M"), NOW, {"last_activity_at": at(2023, 5, 23)}, False),
        (retention(lifecycle="prospect", after="P18M"), NOW, {"last_activity_at": at(2023, 5, 22)}, True),
        # contract_end is a date: compared with the cutoff's date.
        (FORMER, NOW, {"contract_end": dt.date(2021, 11, 23)}, False),
        (FORMER, NOW, {"contract_end": dt.date(2021, 11, 22)}, True),
    ],
)
def test_retention_fires_only_strictly_before_the_cutoff(
    rule: RetentionRule, now: dt.datetime, record_fields: dict[str, Any], fires: bool
) -> None:
    record = person(lifecycle=rule.lifecycle, created_at=at(2015, 1, 1), **record_fields)
    assert (rule.evaluate(record, now) is not None) is fires


def test_prospect_inactive_three_years_is_anonymised_with_evidence() -> None:
    record = person(lifecycle="prospect", created_at=at(2019, 5, 1), last_activity_at=at(2021, 3, 1))

    finding = PROSPECT.evaluate(record, NOW)

    assert finding is not None
    assert finding.action is Action.ANONYMISE
    assert finding.reason == "last activity 2021-03-01 older than the 3-year cutoff 2021-11-23 (prospect)"
    assert finding.facts == {
        "clock": "last_activity",
        "clock_field": "last_activity_at",
        "clock_value": "2021-03-01T12:00:00+00:00",
        "cutoff": "2021-11-23T12:00:00+00:00",
        "after": "P3Y",
        "lifecycle": "prospect",
        "started": "2021-03-01",
        "due": "2024-03-01",
    }
    assert finding.evidence == (
        "lifecycle=prospect clock_field=last_activity_at started=2021-03-01 after=P3Y due=2024-03-01"
    )
    assert finding.legal_basis.startswith("GDPR Art 5(1)(e); CNIL référentiel gestion commerciale (2021-131)")


@pytest.mark.parametrize(
    ("rule", "record_fields", "clock_field", "reason_start"),
    [
        (PROSPECT, {"created_at": at(2020, 1, 1)}, "created_at", "created 2020-01-01 (no last activity) older"),
        (
            FORMER,
            {"last_activity_at": at(2020, 6, 1), "created_at": at(2018, 1, 1)},
            "last_activity_at",
            "end of relationship: last activity 2020-06-01 (no contract end) older",
        ),
        (
            FORMER,
            {"created_at": at(2019, 1, 1)},
            "created_at",
            "created 2019-01-01 (no contract end, no last activity)",
        ),
        (
            FORMER,
            {"contract_end": dt.date(2020, 12, 31), "last_activity_at": at(2019, 1, 1)},
            "contract_end",
            "end of relationship: contract end 2020-12-31 (last activity 2019-01-01 earlier) older",
        ),
        (
            CUSTOMER,
            {"last_activity_at": at(2021, 1, 1), "created_at": at(2015, 1, 1)},
            "last_activity_at",
            "end of relationship: last activity 2021-01-01 (no contract end) older",
        ),
    ],
)
def test_clock_falls_back_to_the_next_date_when_one_is_missing(
    rule: RetentionRule, record_fields: dict[str, Any], clock_field: str, reason_start: str
) -> None:
    finding = rule.evaluate(person(lifecycle=rule.lifecycle, **record_fields), NOW)

    assert finding is not None
    assert finding.facts["clock_field"] == clock_field
    assert finding.reason.startswith(reason_start)


def test_recent_activity_keeps_prospect_even_when_created_long_ago() -> None:
    record = person(lifecycle="prospect", created_at=at(2010, 1, 1), last_activity_at=at(2024, 1, 1))
    assert PROSPECT.evaluate(record, NOW) is None


@pytest.mark.parametrize(
    ("rule", "record_fields"),
    [
        (CUSTOMER, {"contract_end": dt.date(2026, 1, 1), "last_activity_at": at(2015, 1, 1)}),  # running contract
        (CUSTOMER, {"contract_end": None, "last_activity_at": at(2023, 1, 1), "created_at": at(2014, 1, 1)}),
        (CUSTOMER, {"contract_end": None, "created_at": at(2014, 1, 1)}),  # nothing shows the relationship ended
        (FORMER, {"contract_end": NOW.date(), "last_activity_at": at(2015, 1, 1)}),  # ends today: still running
        (PROSPECT, {"contract_end": dt.date(2025, 6, 30), "last_activity_at": at(2015, 1, 1)}),
    ],
)
def test_record_with_a_running_contract_is_kept(rule: RetentionRule, record_fields: dict[str, Any]) -> None:
    assert rule.evaluate(person(lifecycle=rule.lifecycle, **record_fields), NOW) is None


def test_customer_whose_contract_ended_long_ago_fires() -> None:
    record = person(lifecycle="customer", contract_end=dt.date(2020, 1, 31), last_activity_at=at(2020, 6, 1))
    assert CUSTOMER.evaluate(record, NOW) is not None


@pytest.mark.parametrize("lifecycle", ["customer", "former_customer"])
def test_contact_initiated_after_the_contract_ended_restarts_the_clock(lifecycle: str) -> None:
    """docs/law.md §6: the relationship ends at the latest of the contract end and the person's last contact."""
    rule = retention(lifecycle=lifecycle)
    came_back = person(lifecycle=lifecycle, contract_end=dt.date(2019, 1, 31), last_activity_at=at(2023, 2, 1))
    stayed_away = person(lifecycle=lifecycle, contract_end=dt.date(2019, 1, 31), last_activity_at=at(2018, 2, 1))

    assert rule.evaluate(came_back, NOW) is None
    finding = rule.evaluate(stayed_away, NOW)
    assert finding is not None and finding.facts["clock_field"] == "contract_end"


def test_customer_without_contract_end_inactive_three_years_is_past_its_period() -> None:
    """A HubSpot "customer" never moves back by itself: the stage alone proves no running relationship."""
    record = person(lifecycle="customer", last_activity_at=at(2020, 5, 1), created_at=at(2016, 1, 1))

    finding = CUSTOMER.evaluate(record, NOW)

    assert finding is not None
    assert finding.reason.startswith("end of relationship: last activity 2020-05-01 (no contract end)")


def test_relationship_end_is_an_alias_of_the_contract_end_clock() -> None:
    assert retention(lifecycle="customer", clock="relationship_end").clock == "contract_end"


@pytest.mark.parametrize(
    "record_fields",
    [
        {"lifecycle": "customer", "last_activity_at": at(2015, 1, 1)},  # another lifecycle
        {"lifecycle": "prospect"},  # no date at all: nothing proves the period ran out
    ],
)
def test_prospect_rule_ignores_other_lifecycles_and_undated_records(record_fields: dict[str, Any]) -> None:
    assert PROSPECT.evaluate(person(**record_fields), NOW) is None


@pytest.mark.parametrize(
    ("lifecycle", "clock", "basis_fragment"),
    [
        ("prospect", "last_activity", "last contact initiated by the prospect"),
        ("customer", "contract_end", "end of the commercial relationship"),
        ("former_customer", "contract_end", "end of the commercial relationship"),
        ("unknown", "last_activity", "storage limitation"),
    ],
)
def test_clock_and_legal_basis_default_per_lifecycle(lifecycle: str, clock: str, basis_fragment: str) -> None:
    rule = retention(lifecycle=lifecycle)
    assert rule.clock == clock
    assert basis_fragment in rule.legal_basis


def test_prospect_prefilter_groups_push_the_cutoff_down() -> None:
    cutoff = at(2021, 11, 23)
    prospect, live = Condition("lifecycle", Op.EQ, Lifecycle.PROSPECT), Condition("anonymised", Op.EQ, False)
    assert PROSPECT.prefilters(NOW) == (
        (prospect, live, Condition("last_activity_at", Op.LT, cutoff)),
        (prospect, live, Condition("last_activity_at", Op.IS_NULL), Condition("created_at", Op.LT, cutoff)),
    )


def test_customer_prefilter_needs_every_date_past_and_one_set() -> None:
    groups = CUSTOMER.prefilters(NOW)
    assert groups is not None
    assert len(groups) == 2
    assert matches(person(lifecycle="customer", contract_end=dt.date(2020, 1, 1)), groups)
    assert matches(person(lifecycle="customer", last_activity_at=at(2020, 1, 1)), groups)
    assert not matches(person(lifecycle="customer", created_at=at(2010, 1, 1)), groups)
    # a superset: a later contact keeps this one, but only `evaluate` can tell (one date per group here)
    assert matches(person(lifecycle="customer", contract_end=dt.date(2020, 1, 1), last_activity_at=at(2023, 1, 1)),
                   groups)  # fmt: skip


def test_former_customer_prefilter_selects_each_fallback_clock() -> None:
    groups = FORMER.prefilters(NOW)
    assert groups is not None
    assert len(groups) == 3
    assert matches(person(lifecycle="former_customer", contract_end=dt.date(2020, 1, 1)), groups)
    assert matches(person(lifecycle="former_customer", last_activity_at=at(2020, 1, 1)), groups)
    assert matches(person(lifecycle="former_customer", created_at=at(2020, 1, 1)), groups)
    assert not matches(
        person(lifecycle="former_customer", contract_end=dt.date(2023, 1, 1), last_activity_at=at(2020, 1, 1)), groups
    )


@pytest.mark.parametrize(
    ("text", "canonical", "human"),
    [
        ("P3Y", "P3Y", "3-year"),
        ("P3Y0M", "P3Y", "3-year"),
        ("P18M", "P18M", "18-month"),
        ("P30D", "P30D", "30-day"),
        ("P1Y6M", "P1Y6M", "P1Y6M"),
        ("P2W", "P14D", "14-day"),
    ],
)
def test_period_text_is_normalised_and_humanised(text: str, canonical: str, human: str) -> None:
    period = Period.parse(text)
    assert (period.text, period.human) == (canonical, human)


@pytest.mark.parametrize("text", ["three years", "3Y", "", "P0D", "-P3Y", "P"])
def test_period_rejects_unparsable_or_non_positive_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        Period.parse(text)
