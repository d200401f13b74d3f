"""What a breach reached, counted over a stream of records: pure, one record at a time, aggregates out.

People are told apart by a keyed 8-byte digest of their normalised email (a record without one is a person of its
own), under a random key that lives only as long as the assessment: the digests cannot be linked to anyone, and
the memory held is one digest and one bitmask of what was seen per person, never a record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gomme.model.records import PersonRecord
from gomme.policies.minor import age_on
from gomme.policies.notes.lexicon import Category
from gomme.policies.related import related_texts

ADULT_AGE = 18  # a child for the risk assessment (the UN Convention's age), whatever the Art 8 consent age

# Categories of data held, from which fields are non-empty: the Art 33(3)(a) "categories of personal data".
DATA_CATEGORIES: Mapping[str, str] = {
    "identity": "Identity (first and last name)",
    "contact": "Contact details (email, phone)",
    "birth_date": "Date of birth",
    "country": "Country of residence",
    "consents": "Consents and their proof",
    "notes": "Free-text notes",
    "related": "Activities and related records (calls, emails, cases)",
}
SPECIAL = tuple(c for c in Category if c not in (Category.CRIMINAL, Category.INSULTING))  # Art 9(1)

NoteScan = Callable[[Mapping[str, str]], set[Category]]
"""The categories the notes scanner finds in a record's free text (policies/notes)."""
ConsentAge = Callable[[str | None], int]
"""The digital-consent age of a country (policies/minor.py `MinorRule.threshold`)."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What gomme's state knows of the record: its person was erased before (the suppression list)."""

    erased_before: bool = False


class Assessment:
    """Add records one by one, then `result()`: records and people per label (`all`, `group:crm/object`,
    `country:FR`, `data:contact`, `special:health`, `criminal`, `minor`, …). An anonymised record is only
    `scanned` and `anonymised`: it holds nothing personal any more, so nobody in it is concerned."""

    def __init__(self, *, now: dt.datetime, scan: NoteScan, consent_age: ConsentAge) -> None:
        self._today, self._scan, self._consent_age = now.date(), scan, consent_age
        self._salt = secrets.token_bytes(16)
        self._bits: dict[str, int] = {}
        self._people: dict[int, int] = {}  # digest → labels seen for the person, as bits
        self._records: Counter[str] = Counter()

    def add(self, record: PersonRecord, facts: Facts = Facts()) -> None:
        labels = list(self.labels(record, facts))
        mask = 0
        for label in labels:
            self._records[label] += 1
            mask |= 1 << self._bit(label)
        person = self._person(record)
        self._people[person] = self._people.get(person, 0) | mask

    def labels(self, record: PersonRecord, facts: Facts) -> Iterable[str]:
        yield "scanned"
        if record.anonymised:
            yield "anonymised"
            return  # nothing personal left in it (Recital 26): not a person concerned
        yield "all"
        yield f"crm:{record.crm}"
        yield f"group:{record.crm}/{record.object_type}"
        if facts.erased_before:
            yield "erased"  # erased before, and back (a re-import): on the suppression list
        if record.restricted or record.opt_outs.processing:
            yield "restricted"
        yield f"country:{record.country or 'unknown'}"
        yield from (f"data:{name}" for name, held in self._held(record).items() if held)
        if record.email or record.phone:
            yield "contactable"
        notes = {**record.notes, **related_texts(record)} if record.related else dict(record.notes)
        found = self._scan({name: text for name, text in notes.items() if text}) if any(notes.values()) else set()
        yield from (f"special:{category}" for category in sorted(found) if category in SPECIAL)
        if found & set(SPECIAL):
            yield "special"
        if Category.CRIMINAL in found:
            yield "criminal"
        if record.birthdate is not None and record.birthdate <= self._today:
            age = age_on(record.birthdate, self._today)
            if age < ADULT_AGE:
                yield "minor"
            if age < self._consent_age(record.country):
                yield "below_consent_age"

    @staticmethod
    def _held(record: PersonRecord) -> dict[str, bool]:
        return {
            "identity": bool(record.first_name or record.last_name), "contact": bool(record.email or record.phone),
            "birth_date": record.birthdate is not None, "country": bool(record.country),
            "consents": bool(record.consents), "notes": any(record.notes.values()),
            "related": bool(record.related),
        }

    def _bit(self, label: str) -> int:
        bit = self._bits.get(label)
        if bit is None:
            bit = self._bits[label] = len(self._bits)
        return bit

    def _person(self, record: PersonRecord) -> int:
        who = f"email:{record.email.strip().casefold()}" if record.email else f"record:{record.ref}"
        digest = hashlib.blake2b(who.encode(), key=self._salt, digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def result(self) -> dict[str, Any]:
        """`{"records": {label: n}, "people": {label: n}}`: counts only."""
        people: Counter[str] = Counter()
        by_bit = {bit: label for label, bit in self._bits.items()}
        for mask in self._people.values():
            while mask:
                low = mask & -mask
                people[by_bit[low.bit_length() - 1]] += 1
                mask ^= low
        return {"records": dict(sorted(self._records.items())), "people": dict(sorted(people.items()))}


def approximately(count: int) -> str:
    """How a notification states a number: exact below 100, else two significant figures ("approximately 1,200")."""
    if count < 100:
        return f"{count}"
    digits = len(str(count)) - 2
    rounded = round(count, -digits)
    return f"approximately {rounded:,}"
