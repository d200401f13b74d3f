"""Realistic, deterministic synthetic people for the demo, the tests and the benchmarks: never real data.

Emails use only the domains reserved for examples (RFC 2606); phones only numbers reserved for fiction
(France +33 1 99 00 xx xx, UK +44 7700 900xxx, US +1 202 555 01xx). People of the other countries have no
phone, for want of a published fiction range.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import replace

from gomme.model.records import Consent, ConsentStatus, Lifecycle, OptOuts, PersonRecord

DEMO_SEED = 1789
DEMO_SIZE = 300
RETENTION = dt.timedelta(days=3 * 365)  # the CNIL's 3 years for prospects and former customers
_MARGIN = 30  # days kept clear of the retention cutoff, so "expired or not" never depends on rounding
_DAY = 86_400.0

_COUNTRY_WEIGHTS: Mapping[str, int] = {
    "FR": 30, "DE": 14, "ES": 10, "IT": 10, "BE": 6, "NL": 6, "GB": 10, "IE": 4, "AT": 4, "US": 6,
}  # fmt: skip
_NAMES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "FR": (("Camille", "Léa", "Hugo", "Louis", "Chloé", "Mathis", "Inès", "Théo"),
           ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Fournier", "Mercier")),
    "DE": (("Lukas", "Mia", "Jonas", "Emma", "Felix", "Hannah", "Paul", "Lena"),
           ("Müller", "Schmidt", "Weber", "Wagner", "Becker", "Hoffmann", "Schäfer", "Koch")),
    "ES": (("Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Pablo", "Julia", "Álvaro"),
           ("García", "Fernández", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres")),
    "IT": (("Giulia", "Leonardo", "Sofia", "Francesco", "Aurora", "Lorenzo", "Ginevra", "Matteo"),
           ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci")),
    "BE": (("Louise", "Arthur", "Olivia", "Noah", "Emma", "Jules", "Elena", "Lucas"),
           ("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens")),
    "NL": (("Sanne", "Daan", "Emma", "Sem", "Julia", "Lucas", "Tess", "Finn"),
           ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer")),
    "GB": (("Olivia", "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack"),
           ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Davies")),
    "IE": (("Aoife", "Conor", "Saoirse", "Cian", "Niamh", "Oisín", "Ciara", "Darragh"),
           ("Murphy", "Kelly", "O'Sullivan", "Walsh", "Byrne", "Ryan", "O'Brien", "Doyle")),
    "AT": (("Anna", "Maximilian", "Marie", "Elias", "Laura", "Tobias", "Sophie", "Florian"),
           ("Gruber", "Huber", "Bauer", "Pichler", "Steiner", "Moser", "Mayer", "Hofer")),
    "US": (("Emily", "Michael", "Madison", "Ethan", "Abigail", "Ryan", "Harper", "Tyler"),
           ("Johnson", "Miller", "Davis", "Anderson", "Thompson", "Harris", "Clark", "Lewis")),
}  # fmt: skip
_LIFECYCLES = (Lifecycle.PROSPECT, Lifecycle.CUSTOMER, Lifecycle.FORMER_CUSTOMER)
_STATUSES = (ConsentStatus.OPT_IN, ConsentStatus.OPT_OUT, ConsentStatus.UNKNOWN)
_DOMAINS = ("example.com", "example.org", "example.net")
_SOURCES = ("web_form:newsletter", "web_form:whitepaper", "trade_show:stand", "checkout", "webinar:signup")
_NOTES = (
    "Asked for a quote on the annual plan; follow up after the budget meeting.",
    "Met at the trade show, interested in the reporting module.",
    "Prefers to be contacted in the afternoon. Renewal discussion planned for Q3.",
    "Requested the product sheet in German and a demo for the team.",
    "Invoice address changed to the head office; purchase order number to be quoted.",
)


def synthetic_people(n: int, *, seed: int, now: dt.datetime, crm: str = "local") -> Iterator[PersonRecord]:
    """`n` invented people, the same for the same seed and (timezone-aware) `now`; person i does not depend on n.

    Mix: half prospects (about a quarter of them past 3 years of inactivity, some with no
    last_activity_at), customers, former customers (some with contract_end over 3 years ago), ~3%
    erasure requests, a few notes, consents with and without proof, ~3% minors (10 to 15 years old).
    Nobody is under legal hold (see `demo_people`).
    """
    now = now.astimezone(dt.UTC).replace(microsecond=0)
    for index in range(n):
        rng = random.Random(f"gomme-synthetic:{seed}:{index}")  # noqa: S311 - reproducible fiction, not secrets
        yield _person(rng, index, now, crm)


def demo_people(now: dt.datetime) -> Iterator[PersonRecord]:
    """The 300 people of `gomme demo` (seed DEMO_SEED).

    Exactly one of them is under legal hold, and that person would otherwise be erased: the first who
    asked for erasure (or, failing that, the first whose retention expired). The demo thus shows the
    legal-hold cap (Art 17(3)(e)) turning an erasure into restrict_all.
    """
    people = list(synthetic_people(DEMO_SIZE, seed=DEMO_SEED, now=now))
    held = _first_erasable(people, now)
    for person in people:
        if person is held:
            note = "Invoice dispute in progress; legal department asked to keep this file."
            yield replace(person, legal_hold=True, notes={**person.notes, "description": note})
        else:
            yield person


def retention_expired(person: PersonRecord, now: dt.datetime) -> bool:
    """The retention test the generator's mix is built around (last activity, else creation; contract end)."""
    cutoff = now - RETENTION
    if person.lifecycle is Lifecycle.PROSPECT:
        started = person.last_activity_at or person.created_at
        return started is not None and started < cutoff
    if person.lifecycle is Lifecycle.FORMER_CUSTOMER and person.contract_end is not None:
        return person.contract_end < cutoff.date()
    return False


def _first_erasable(people: list[PersonRecord], now: dt.datetime) -> PersonRecord:
    requested = [person for person in people if person.erasure_requested]
    expired = [person for person in people if retention_expired(person, now)]
    return (requested or expired)[0]


def _person(rng: random.Random, index: int, now: dt.datetime, crm: str) -> PersonRecord:
    country = rng.choices(list(_COUNTRY_WEIGHTS), weights=list(_COUNTRY_WEIGHTS.values()))[0]
    first_names, last_names = _NAMES[country]
    first, last = rng.choice(first_names), rng.choice(last_names)
    lifecycle = rng.choices(_LIFECYCLES, weights=(50, 30, 20))[0]
    dates = _DATES[lifecycle](rng, now)
    created_at, last_activity_at, contract_end = dates
    erasure_requested = rng.random() < 0.03
    touched = max(created_at, last_activity_at or created_at)
    modified_at = min(now, touched + _span(rng, 0, 30))
    if erasure_requested:
        modified_at = max(touched, now - _span(rng, 0, 60))
    consents = _consents(rng, created_at, now)
    withdrawn = any(consent.status is ConsentStatus.OPT_OUT for consent in consents)
    return PersonRecord(
        crm=crm,
        object_type="lead" if lifecycle is Lifecycle.PROSPECT and rng.random() < 0.5 else "contact",
        id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
        email=None if rng.random() < 0.02 else f"{_ascii(first)}.{_ascii(last)}{index}@{rng.choice(_DOMAINS)}",
        first_name=first,
        last_name=last,
        phone=_phone(rng, country),
        country=country,
        birthdate=_birthdate(rng, now),
        created_at=created_at,
        modified_at=modified_at,
        last_activity_at=last_activity_at,
        lifecycle=lifecycle,
        contract_end=contract_end,
        consents=consents,
        # Most withdrawals reached the CRM flag; the others are what `consent_withdrawn` is for.
        opt_outs=OptOuts(email=withdrawn and rng.random() < 0.7),
        erasure_requested=erasure_requested,
        notes={"description": rng.choice(_NOTES)} if rng.random() < 0.06 else {},
    )


_Dates = tuple[dt.datetime, dt.datetime | None, dt.date | None]


def _ago(rng: random.Random, now: dt.datetime, low_days: float, high_days: float) -> dt.datetime:
    return now - _span(rng, low_days, high_days)


def _span(rng: random.Random, low_days: float, high_days: float) -> dt.timedelta:
    """A random duration in whole seconds, so that generated times stay readable."""
    return dt.timedelta(seconds=round(rng.uniform(low_days * _DAY, high_days * _DAY)))


def _around_cutoff(rng: random.Random, now: dt.datetime, *, expired: bool, oldest_days: int) -> dt.datetime:
    """A moment clearly past the 3-year retention cutoff when `expired`, clearly within it otherwise."""
    if expired:
        return _ago(rng, now, RETENTION.days + _MARGIN, oldest_days)
    return _ago(rng, now, 0, RETENTION.days - _MARGIN)


def _prospect_dates(rng: random.Random, now: dt.datetime) -> _Dates:
    # About a quarter past the 3-year cutoff; a fifth never active since collection (created_at counts).
    activity = _around_cutoff(rng, now, expired=rng.random() < 0.25, oldest_days=7 * 365)
    if rng.random() < 0.2:
        return activity, None, None
    return activity - _span(rng, 0, 2 * 365), activity, None


def _customer_dates(rng: random.Random, now: dt.datetime) -> _Dates:
    created = _ago(rng, now, 30, 10 * 365)
    activity = max(created, _ago(rng, now, 0, 300))
    contract_end = (now + _span(rng, 30, 900)).date() if rng.random() < 0.5 else None
    return created, activity, contract_end


def _former_customer_dates(rng: random.Random, now: dt.datetime) -> _Dates:
    ended = _around_cutoff(rng, now, expired=rng.random() < 0.4, oldest_days=8 * 365)
    activity = ended - _span(rng, 0, 365)
    return activity - _span(rng, 365, 5 * 365), activity, ended.date()


_DATES = {
    Lifecycle.PROSPECT: _prospect_dates,
    Lifecycle.CUSTOMER: _customer_dates,
    Lifecycle.FORMER_CUSTOMER: _former_customer_dates,
}


def _consents(rng: random.Random, created_at: dt.datetime, now: dt.datetime) -> tuple[Consent, ...]:
    """Zero to two consents; some with full proof (captured_at and source), some without (Art 7(1))."""
    consents = []
    for channel in ("email", "phone"):
        if rng.random() >= (0.7 if channel == "email" else 0.2):
            continue
        status = rng.choices(_STATUSES, weights=(75, 12, 13))[0]
        proof = rng.random()
        captured = created_at + _span(rng, 0, (now - created_at).days / 10) if proof < 0.75 else None
        double_opt_in = captured + _span(rng, 1 / 1440, 120 / 1440) if captured and proof < 0.3 else None
        source = rng.choice(_SOURCES) if proof < 0.6 else None
        consents.append(Consent(channel, "marketing", status, captured, source, double_opt_in))
    return tuple(consents)


def _phone(rng: random.Random, country: str) -> str | None:
    if rng.random() < 0.3:
        return None
    if country == "FR":
        return f"+33 1 99 00 {rng.randrange(100):02d} {rng.randrange(100):02d}"
    if country == "GB":
        return f"+44 7700 900{rng.randrange(1000):03d}"
    if country == "US":
        return f"+1 202-555-01{rng.randrange(100):02d}"
    return None


def _birthdate(rng: random.Random, now: dt.datetime) -> dt.date | None:
    draw = rng.random()
    if draw < 0.03:  # minors, some below their country's digital-consent age (13 to 16), some not
        years = rng.uniform(10, 15.9)
    elif draw < 0.45:
        years = rng.uniform(18, 80)
    else:
        return None
    return (now - dt.timedelta(days=years * 365.25)).date()


def _ascii(name: str) -> str:
    """`Lefèvre` → `lefevre`, `O'Brien` → `obrien`: the local part of an invented email."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if char.isalnum())
