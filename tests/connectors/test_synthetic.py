"""Synthetic people: deterministic, obviously fictional, and mixed so that every rule has work to do."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest

from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import DEMO_SIZE, RETENTION, demo_people, retention_expired, synthetic_people
from gomme.model.records import ConsentStatus, Lifecycle, PersonRecord

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
COUNTRIES = {"FR", "DE", "ES", "IT", "BE", "NL", "GB", "IE", "AT", "US"}
FICTION_PHONES = re.compile(r"\+33 1 99 00 \d\d \d\d|\+44 7700 900\d{3}|\+1 202-555-01\d\d")
RESERVED_EMAIL = re.compile(r"[a-z0-9.]+@example\.(com|org|net)")


@pytest.fixture(scope="module")
def crowd() -> list[PersonRecord]:
    return list(synthetic_people(2000, seed=42, now=NOW))


def share(people: list[PersonRecord], predicate: object) -> float:
    assert callable(predicate)
    return sum(1 for person in people if predicate(person)) / len(people)


def test_the_same_seed_gives_the_same_people() -> None:
    assert list(synthetic_people(50, seed=7, now=NOW)) == list(synthetic_people(50, seed=7, now=NOW))


def test_another_seed_gives_other_people() -> None:
    first = {person.id for person in synthetic_people(50, seed=7, now=NOW)}
    second = {person.id for person in synthetic_people(50, seed=8, now=NOW)}
    assert not first & second


def test_asking_for_more_people_keeps_the_first_ones() -> None:
    assert list(synthetic_people(100, seed=7, now=NOW))[:20] == list(synthetic_people(20, seed=7, now=NOW))


def test_ids_are_unique(crowd: list[PersonRecord]) -> None:
    assert len({person.id for person in crowd}) == len(crowd)


def test_emails_use_only_reserved_example_domains(crowd: list[PersonRecord]) -> None:
    emails = [person.email for person in crowd if person.email]
    assert len(emails) > 0.9 * len(crowd)
    assert all(RESERVED_EMAIL.fullmatch(email) for email in emails)


def test_phones_are_only_numbers_reserved_for_fiction(crowd: list[PersonRecord]) -> None:
    phones = [person.phone for person in crowd if person.phone]
    assert phones
    assert all(FICTION_PHONES.fullmatch(phone) for phone in phones)


def test_people_come_from_the_ten_countries(crowd: list[PersonRecord]) -> None:
    assert {person.country for person in crowd} == COUNTRIES


def test_about_a_quarter_of_prospects_are_past_three_years_of_inactivity(crowd: list[PersonRecord]) -> None:
    prospects = [person for person in crowd if person.lifecycle is Lifecycle.PROSPECT]
    assert 0.2 <= share(prospects, lambda person: retention_expired(person, NOW)) <= 0.3
    silent = [person for person in prospects if person.last_activity_at is None]
    assert silent and any(retention_expired(person, NOW) for person in silent)


def test_some_former_customers_ended_their_contract_over_three_years_ago(crowd: list[PersonRecord]) -> None:
    former = [person for person in crowd if person.lifecycle is Lifecycle.FORMER_CUSTOMER]
    assert 0.2 <= share(former, lambda person: retention_expired(person, NOW)) <= 0.6
    assert all(person.contract_end and person.contract_end <= NOW.date() for person in former)


def test_all_three_lifecycles_and_both_object_types_appear(crowd: list[PersonRecord]) -> None:
    lifecycles = Counter(person.lifecycle for person in crowd)
    assert set(lifecycles) == {Lifecycle.PROSPECT, Lifecycle.CUSTOMER, Lifecycle.FORMER_CUSTOMER}
    assert {person.object_type for person in crowd} == {"contact", "lead"}


def test_about_three_percent_asked_for_erasure(crowd: list[PersonRecord]) -> None:
    assert 0.015 <= share(crowd, lambda person: person.erasure_requested) <= 0.045


def test_consents_come_with_and_without_proof(crowd: list[PersonRecord]) -> None:
    consents = [consent for person in crowd for consent in person.consents]
    proven = [consent for consent in consents if consent.captured_at and consent.source]
    assert proven and len(proven) < len(consents)
    assert any(consent.status is ConsentStatus.OPT_OUT for consent in consents)
    assert any(consent.double_opt_in_at for consent in consents)


def test_some_people_are_minors_and_a_few_have_notes(crowd: list[PersonRecord]) -> None:
    sixteen_years_ago = NOW.date().replace(year=NOW.year - 16)
    assert 0.01 <= share(crowd, lambda person: person.birthdate and person.birthdate > sixteen_years_ago) <= 0.05
    assert 0.02 <= share(crowd, lambda person: person.notes) <= 0.1


def test_dates_are_coherent(crowd: list[PersonRecord]) -> None:
    for person in crowd:
        assert person.created_at and person.modified_at
        assert person.created_at <= person.modified_at <= NOW
        assert person.last_activity_at is None or person.created_at <= person.last_activity_at <= NOW


def test_nobody_is_under_legal_hold_outside_the_demo(crowd: list[PersonRecord]) -> None:
    assert not any(person.legal_hold for person in crowd)


def test_the_demo_has_exactly_one_held_person_who_would_otherwise_be_erased() -> None:
    people = list(demo_people(NOW))
    assert len(people) == DEMO_SIZE
    (held,) = [person for person in people if person.legal_hold]
    assert held.erasure_requested or retention_expired(held, NOW)


def test_the_demo_is_the_same_people_on_every_run() -> None:
    later = NOW + RETENTION
    assert [person.id for person in demo_people(NOW)] == [person.id for person in demo_people(later)]
    held_ids = {person.id for when in (NOW, later) for person in demo_people(when) if person.legal_hold}
    assert len(held_ids) == 1


def test_the_demo_loads_into_the_local_connector(tmp_path: Path) -> None:
    with LocalConnector("local", tmp_path / "demo.db") as crm:
        assert crm.add(demo_people(NOW)) == DEMO_SIZE
        assert len(list(crm.find(next(p.email for p in demo_people(NOW) if p.email)))) == 1
