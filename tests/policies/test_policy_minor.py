"""The `minor` kind: the digital-consent age per country (docs/law.md §4) and its boundaries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from policy_testkit import NOW, matches, person

from gomme.model.changes import Action
from gomme.policies.engine import decide
from gomme.policies.minor import DIGITAL_CONSENT_AGES, MinorRule, age_on
from gomme.policies.policy import PolicyError, load_policy

MINOR = MinorRule(id="minor")
PARIS_SUMMER = dt.timezone(dt.timedelta(hours=2))


def utc(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("country", "birthdate", "now", "fires"),
    [
        # France: 15. The 15th birthday is 2024-11-23.
        ("FR", dt.date(2009, 11, 24), NOW, True),  # 14, turns 15 tomorrow
        ("FR", dt.date(2009, 11, 23), NOW, False),  # 15 today
        ("FR", dt.date(2009, 11, 22), NOW, False),
        # Germany: 16.
        ("DE", dt.date(2008, 11, 24), NOW, True),
        ("DE", dt.date(2008, 11, 23), NOW, False),
        # Not in the table, unknown, or lower case / alias.
        ("PT", dt.date(2008, 11, 24), NOW, True),  # unverified in docs/law.md §4: default 16
        (None, dt.date(2008, 11, 24), NOW, True),
        ("fr", dt.date(2009, 11, 23), NOW, False),
        ("UK", dt.date(2011, 11, 23), NOW, False),  # GB: 13
        ("UK", dt.date(2011, 11, 24), NOW, True),
        # Time zones: the day is the UTC day of `now`.
        ("FR", dt.date(2009, 11, 23), dt.datetime(2024, 11, 23, 1, 0, tzinfo=PARIS_SUMMER), True),  # 22 Nov UTC
        ("FR", dt.date(2009, 11, 23), dt.datetime(2024, 11, 23, 2, 0, tzinfo=PARIS_SUMMER), False),  # 00:00 UTC
        (
            "FR",
            dt.date(2009, 11, 23),
            dt.datetime(2024, 11, 22, 20, 0, tzinfo=dt.timezone(-dt.timedelta(hours=5))),
            False,
        ),
        # 29 February birthdays come of age on 1 March in common years.
        ("DE", dt.date(2008, 2, 29), utc(2024, 2, 28), True),
        ("DE", dt.date(2008, 2, 29), utc(2024, 2, 29), False),
        ("FR", dt.date(2008, 2, 29), utc(2023, 2, 28), True),
        ("FR", dt.date(2008, 2, 29), utc(2023, 3, 1), False),
    ],
)
def test_minor_fires_strictly_below_the_age_of_the_country(
    country: str | None, birthdate: dt.date, now: dt.datetime, fires: bool
) -> None:
    record = person(country=country, birthdate=birthdate)
    decision = decide(record, load_policy({"rules": [{"id": "minor", "kind": "minor"}]}, source="t"), now)
    assert (decision.action is Action.RESTRICT_ALL) is fires


@pytest.mark.parametrize(
    "record_fields",
    [
        {"birthdate": None},  # unknown birthdate: no decision
        {"birthdate": dt.date(2015, 1, 1), "parental_consent": True},
        {"birthdate": dt.date(2015, 1, 1), "legal_basis": "contract"},  # Art 8 covers consent only
        {"birthdate": dt.date(2015, 1, 1), "legal_basis": "legitimate_interest"},
        {"birthdate": dt.date(2030, 1, 1)},  # a future birthdate is a data error, not a child
        {"birthdate": dt.date(2015, 1, 1), "anonymised": True},
    ],
)
def test_no_restriction_without_a_known_child_on_consent_without_parents(record_fields: dict[str, Any]) -> None:
    assert MINOR.evaluate(person(**record_fields), NOW) is None


def test_minor_evidence_holds_the_age_never_the_birthdate() -> None:
    finding = MINOR.evaluate(person(country="FR", birthdate=dt.date(2012, 6, 15), legal_basis="consent"), NOW)

    assert finding is not None
    assert finding.facts == {"age": "12", "threshold": "15", "country": "FR", "legal_basis": "consent", "under": "15"}
    assert "2012" not in finding.reason + "".join(finding.facts.values())
    assert finding.evidence == "country=FR under=15 legal_basis=consent"  # the audit trail keeps no age either
    assert finding.reason == "age 12 below the digital-consent age 15 (FR), no parental consent recorded"


def test_ages_override_single_countries_and_keep_the_table() -> None:
    rule = MinorRule.model_validate({"id": "minor", "ages": {"PT": 13, "FR": 16}, "default_age": 18})

    assert rule.ages == {**DIGITAL_CONSENT_AGES, "PT": 13, "FR": 16}
    assert rule.threshold("pt") == (13, "PT")
    assert rule.threshold("XX") == (18, "default")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ages": {"FR": 12}}, "rules[0].ages.FR: Input should be greater than or equal to 13"),
        ({"ages": {"France": 15}}, "rules[0].ages.France.[key]: String should match pattern '^[A-Z]{2}$'"),
        ({"default_age": 21}, "rules[0].default_age: Input should be less than or equal to 18"),
        ({"action": "redact_note"}, "rules[0].action: must be one of: restrict_email, restrict_all, anonymise, delete"),
    ],
)
def test_invalid_minor_params_are_reported_with_their_path(params: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy({"rules": [{"id": "minor", "kind": "minor", **params}]}, source="t")
    assert any(str(issue).startswith(message) for issue in caught.value.issues), caught.value.issues


@pytest.mark.parametrize("now", [NOW, utc(2024, 2, 29), utc(2025, 2, 28), utc(2025, 3, 1)])
def test_minor_prefilter_selects_every_record_it_can_fire_on(now: dt.datetime) -> None:
    groups = MINOR.prefilters(now)
    assert groups is not None
    sixteen_years_ago = dt.date(now.year - 16, now.month, min(now.day, 28))
    for days in range(-3, 5):
        record = person(birthdate=sixteen_years_ago + dt.timedelta(days=days))
        if MINOR.evaluate(record, now) is not None:
            assert matches(record, groups)
    assert not matches(person(birthdate=dt.date(1990, 1, 1)), groups)


@pytest.mark.parametrize(
    ("birthdate", "day", "age"),
    [
        (dt.date(2000, 1, 1), dt.date(2016, 1, 1), 16),
        (dt.date(2000, 1, 2), dt.date(2016, 1, 1), 15),
        (dt.date(2004, 2, 29), dt.date(2021, 2, 28), 16),
        (dt.date(2004, 2, 29), dt.date(2021, 3, 1), 17),
    ],
)
def test_age_counts_whole_years(birthdate: dt.date, day: dt.date, age: int) -> None:
    assert age_on(birthdate, day) == age
