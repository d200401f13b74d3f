"""Records held beside a person (activities, notes, cases, engagements) and what a change does to them.

A connector that reads related records attaches them to the person it pulls (`PersonRecord.related`), with
the objects it could not read (`PersonRecord.related_gaps`). The policy side decides what becomes of each
(`gomme.policies.related`), the connector writes it (`RelatedEdit`) and reports what it did and what could not
be removed (`RelatedOutcome`), which the audit entry keeps as object and field names and counts, never values.
See docs/related-records.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class RelatedRecord:
    """One record about the person in another object: an activity, a note, a case, an engagement.

    `text` holds the record's free-text and identifying fields the connector read (field name → value), in memory
    only. `others` counts the other people it concerns (a shared activity); such a record is never deleted for
    one person, only cleaned. `cascades` is True when deleting the person makes the CRM delete this record too.
    `clearable` names the fields of `text` that hold only the person's identifiers (e.g. a case's SuppliedEmail):
    erasure empties them rather than scrubbing their text. `delete_on_erase`: when the person is erased, a record
    about them alone is deleted (True) or has their identifiers scrubbed (False); the connector's settings say which.
    """

    object_type: str
    id: str
    text: Mapping[str, str] = field(default_factory=dict)
    others: int = 0
    cascades: bool = False
    clearable: frozenset[str] = frozenset()
    delete_on_erase: bool = True

    @property
    def ref(self) -> str:
        return f"{self.object_type}:{self.id}"

    def __repr__(self) -> str:
        return f"RelatedRecord({self.ref}, fields={sorted(self.text)}, others={self.others})"


@dataclass(frozen=True, slots=True)
class RelatedGap:
    """An object the connector could not read for the person: missing from the org, or not readable or writable.

    `reason` is PII-free ("not in this org", "not readable: INSUFFICIENT_ACCESS").
    """

    object_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.object_type} ({self.reason})"


class RelatedOp(StrEnum):
    DELETE = "deleted"  # the record is deleted
    SCRUB = "scrubbed"  # the person's identifiers are cut out of its text
    REDACT = "redacted"  # sentences with special-category content are cut out of its text


@dataclass(frozen=True, slots=True)
class RelatedEdit:
    """One write to one related record: delete it, or set new values of some of its text fields."""

    object_type: str
    id: str
    op: RelatedOp
    values: Mapping[str, str | None] = field(default_factory=dict)  # field → new text (None: emptied)

    @property
    def ref(self) -> str:
        return f"{self.object_type}:{self.id}"

    @property
    def audited_fields(self) -> tuple[str, ...]:
        """`related.<object>` for a deletion, `related.<object>.<field>` for each field written: no ids, no text."""
        if self.op is RelatedOp.DELETE:
            return (f"related.{self.object_type}",)
        return tuple(f"related.{self.object_type}.{name}" for name in sorted(self.values))

    def __repr__(self) -> str:
        return f"RelatedEdit({self.ref}, {self.op}, fields={sorted(self.values)})"


class Erasure(StrEnum):
    """What an erasing change achieved, as the audit entry says it (docs/related-records.md)."""

    ERASED = "erased"  # nothing identifying is left that the CRM's API can reach
    PSEUDONYMISED = "pseudonymised"  # something is left: `RelatedOutcome.remains` says what, by name


@dataclass(frozen=True, slots=True)
class RelatedOutcome:
    """What the connector did to the related records of one change, and what it could not remove.

    `done` counts edits written by "object op" (e.g. "Task deleted": 2); `failed` the same for refused ones, with
    the CRM's code; `remains` names what still holds the person's data (object or object.field, with why), never a
    value.
    """

    done: Mapping[str, int] = field(default_factory=dict)
    failed: Mapping[str, int] = field(default_factory=dict)
    remains: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, written: list[RelatedEdit], refused: list[tuple[RelatedEdit, str]], remains: tuple[str, ...] = ()
    ) -> RelatedOutcome:
        done = Counter(f"{edit.object_type} {edit.op}" for edit in written)
        failed = Counter(f"{edit.object_type} {edit.op} {code}" for edit, code in refused)
        left = (*remains, *sorted({f"{edit.object_type} (write refused: {code})" for edit, code in refused}))
        return cls(dict(sorted(done.items())), dict(sorted(failed.items())), tuple(dict.fromkeys(left)))

    @property
    def erasure(self) -> Erasure:
        return Erasure.PSEUDONYMISED if self.remains else Erasure.ERASED

    def summary(self) -> str:
        """One PII-free line for the audit entry: counts by object and op, then what remains."""
        parts = [", ".join(f"{name}={count}" for name, count in self.done.items()) or "no related record changed"]
        if self.failed:
            parts.append("failed: " + ", ".join(f"{name}={count}" for name, count in self.failed.items()))
        if self.remains:
            parts.append("remains: " + ", ".join(self.remains))
        return "; ".join(parts)


OTHER_PERSON = "[other person]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d .()/-]{6,}\d(?!\w)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}")
_PHONE_TAIL = 9  # the national number's last digits: the same in +33 6 12 34 56 78 and 06 12 34 56 78
_MIN_PHONE_DIGITS = 8


def export_related(
    records: tuple[RelatedRecord, ...], *, email: str | None = None, phone: str | None = None
) -> list[dict[str, object]]:
    """A person's related records for an access bundle (Art 15): object, id, the fields read, others concerned.

    Art 15(4): the copy must not adversely affect others. In a record shared with other people, the email
    addresses and phone numbers that are not the person's own (`email`, `phone`) are withheld; how many is said
    (`withheld_for_others`). Names of the others cannot be told apart from words: docs/related-records.md.
    """
    exported: list[dict[str, object]] = []
    for record in records:
        text, withheld = dict(record.text), 0
        if record.others:
            cut = _Withhold(email, phone)
            text = {name: cut(value) for name, value in text.items()}
            withheld = cut.count
        row: dict[str, object] = {"object": record.object_type, "id": record.id, **text, "other_people": record.others}
        if withheld:
            row["withheld_for_others"] = withheld
        exported.append(row)
    return exported


class _Withhold:
    """Replaces the email addresses and phone numbers in a text that are not the person's own, counting them."""

    def __init__(self, email: str | None, phone: str | None) -> None:
        self._email = (email or "").strip().casefold()
        self._phone = re.sub(r"\D", "", phone or "")[-_PHONE_TAIL:]
        self.count = 0

    def __call__(self, value: str) -> str:
        if not isinstance(value, str) or not value:
            return value
        return _PHONE.sub(self._phone_of_other, _EMAIL.sub(self._email_of_other, value))

    def _email_of_other(self, found: re.Match[str]) -> str:
        if found[0].casefold() == self._email:
            return found[0]
        self.count += 1
        return OTHER_PERSON

    def _phone_of_other(self, found: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", found[0])
        if len(digits) < _MIN_PHONE_DIGITS or _DATE.fullmatch(found[0].strip()) or OTHER_PERSON in found[0]:
            return found[0]
        if self._phone and len(self._phone) >= _MIN_PHONE_DIGITS and digits.endswith(self._phone):
            return found[0]
        self.count += 1
        return OTHER_PERSON
