"""The `retention` kind: storage limitation per lifecycle, with the clock date that starts the period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator

from gomme.model.changes import Action
from gomme.model.conditions import Condition, FilterGroup, Op
from gomme.model.records import Lifecycle, PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.period import Period
from gomme.policies.rule import NOT_ANONYMISED, PeriodParam, RuleBase, one_of, utc

EndOfRetentionAction = Annotated[Action, BeforeValidator(one_of(Action.ANONYMISE, Action.DELETE, Action.RESTRICT_ALL))]


class Clock(StrEnum):
    """Which dates start a retention period (docs/clocks.md).

    `last_activity`: the latest of the last contact and the collection (`created_at`).
    `contract_end` (alias `relationship_end`): the end of the commercial relationship, the latest of the
    contract end and the last contact (docs/law.md §6, CNIL référentiel 2021-131: "à compter de la fin de la
    relation commerciale"); a former customer with neither falls back to `created_at`, a customer with
    neither is kept (nothing shows the relationship ended).
    """

    LAST_ACTIVITY = "last_activity"
    CONTRACT_END = "contract_end"

    @classmethod
    def _missing_(cls, value: object) -> Clock | None:
        return cls.CONTRACT_END if value == "relationship_end" else None


# Canonical fields whose latest value starts the period, and the fallback used when none is set.
_CLOCK_FIELDS = {
    Clock.LAST_ACTIVITY: ("last_activity_at", "created_at"),
    Clock.CONTRACT_END: ("contract_end", "last_activity_at"),
}
_FALLBACK = {Clock.LAST_ACTIVITY: None, Clock.CONTRACT_END: "created_at"}
_FIELD_LABELS = {"last_activity_at": "last activity", "created_at": "created", "contract_end": "contract end"}
_DATE_NAMES = {"last_activity_at": "last activity", "created_at": "creation", "contract_end": "contract end"}
_DEFAULT_CLOCK = {
    Lifecycle.PROSPECT: Clock.LAST_ACTIVITY,
    Lifecycle.CUSTOMER: Clock.CONTRACT_END,
    Lifecycle.FORMER_CUSTOMER: Clock.CONTRACT_END,
    Lifecycle.UNKNOWN: Clock.LAST_ACTIVITY,
}
_STORAGE_LIMITATION = "GDPR Art 5(1)(e)"
_RETENTION_BASIS = {
    Lifecycle.PROSPECT: f"{_STORAGE_LIMITATION}; CNIL référentiel gestion commerciale (2021-131): "
    "prospect data kept at most 3 years after the last contact initiated by the prospect",
    Lifecycle.CUSTOMER: f"{_STORAGE_LIMITATION}; CNIL référentiel gestion commerciale (2021-131): "
    "customer data used for prospecting kept at most 3 years after the end of the commercial relationship",
    Lifecycle.UNKNOWN: f"{_STORAGE_LIMITATION} (storage limitation)",
}
_RETENTION_BASIS[Lifecycle.FORMER_CUSTOMER] = _RETENTION_BASIS[Lifecycle.CUSTOMER]


@dataclass(frozen=True, slots=True)
class RetentionSchedule:
    """When a retention rule erases one record, for the person's notice.

    `state`: `running` (a contract keeps the record until `contract_end`, then the period runs), `due` (the period
    runs from `started`, the date of `clock_field`, to `due`), `no_date` (nothing starts the clock: kept),
    `erased` (the record was anonymised already).
    """

    after: Period
    action: Action
    state: Literal["running", "due", "no_date", "erased"]
    clock_field: str | None = None
    started: dt.date | None = None
    due: dt.date | None = None
    contract_end: dt.date | None = None


class RetentionRule(RuleBase):
    """Erase records of a lifecycle whose clock date (last activity, contract end…) is older than `after`."""

    audited: ClassVar[tuple[str, ...]] = ("lifecycle", "clock_field", "started", "after", "due")

    kind: Literal["retention"] = "retention"
    lifecycle: Lifecycle
    after: PeriodParam
    clock: Clock
    action: EndOfRetentionAction = Action.ANONYMISE

    @classmethod
    def defaults(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        lifecycle = params.get("lifecycle")
        known = lifecycle if lifecycle in tuple(Lifecycle) else Lifecycle.UNKNOWN
        return {
            "clock": _DEFAULT_CLOCK[Lifecycle(known)].value,
            "legal_basis": _RETENTION_BASIS[Lifecycle(known)],
            "description": f"{known} records past their retention period",
        }

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        if record.lifecycle != self.lifecycle or record.anonymised or self._contract_running(record, now):
            return None
        clock = self.clock_start(record)
        if clock is None:
            return None  # no date at all: nothing proves the period has run out
        name, started = clock
        cutoff = self.after.before(now)
        if isinstance(started, dt.datetime):
            limit: dt.date = cutoff
            expired = utc(started) < cutoff
        else:
            limit = cutoff.date()
            expired = started < limit
        if not expired:
            return None
        reason = (
            f"{self._clock_text(record, name, started)} older than "
            f"the {self.after.human} cutoff {_day(limit).isoformat()} ({self.lifecycle.value})"
        )
        facts_ = {
            "clock": self.clock.value,
            "clock_field": name,
            "clock_value": started.isoformat(),
            "cutoff": limit.isoformat(),
            "after": self.after.text,
            "lifecycle": self.lifecycle.value,
            "started": _day(started).isoformat(),
            "due": _day(self.after.after(started)).isoformat(),
        }
        return self.finding(self.action, reason, facts_)

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        if record.lifecycle != self.lifecycle:
            return f"lifecycle is {record.lifecycle}, rule is for {self.lifecycle}"
        if record.anonymised:
            return "already anonymised"
        if self._contract_running(record, now) and record.contract_end is not None:
            return f"contract runs until {record.contract_end.isoformat()}: kept while it runs"
        clock = self.clock_start(record)
        if clock is None:
            if self.lifecycle is Lifecycle.CUSTOMER and self.clock is Clock.CONTRACT_END:
                return "no contract end and no last activity: nothing shows the relationship ended"
            names = [_DATE_NAMES[name] for name in (*_CLOCK_FIELDS[self.clock], _FALLBACK[self.clock]) if name]
            listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
            return f"no {listed} date: nothing starts the clock"
        name, started = clock
        due = _day(self.after.after(started))
        return f"{_FIELD_LABELS[name]} {_day(started).isoformat()} + {self.after.text}: due {due.isoformat()}, not yet"

    def schedule(self, record: PersonRecord, now: dt.datetime) -> RetentionSchedule:
        """When this rule erases `record`: what the person's retention notice says (no decision is taken here)."""
        if record.anonymised:
            return RetentionSchedule(self.after, self.action, "erased")
        if self._contract_running(record, now):
            return RetentionSchedule(self.after, self.action, "running", contract_end=record.contract_end)
        clock = self.clock_start(record)
        if clock is None:
            return RetentionSchedule(self.after, self.action, "no_date")
        name, started = clock
        due = _day(self.after.after(started))
        return RetentionSchedule(self.after, self.action, "due", clock_field=name, started=_day(started), due=due)

    def clock_start(self, record: PersonRecord) -> tuple[str, dt.date] | None:
        """(field, date) that starts the period: the latest of the clock's dates, else the fallback."""
        latest: tuple[str, dt.date] | None = None  # the first of the latest dates (a loop: this runs per record)
        for name in _CLOCK_FIELDS[self.clock]:
            value = getattr(record, name)
            if value is not None and (latest is None or _as_moment(value) > _as_moment(latest[1])):
                latest = (name, value)
        if latest is not None:
            return latest
        fallback = _FALLBACK[self.clock]
        if fallback is None or self.lifecycle is Lifecycle.CUSTOMER:
            return None  # a customer with no end date and no contact: nothing shows the relationship ended
        value = getattr(record, fallback)
        return None if value is None else (fallback, value)

    def _clock_text(self, record: PersonRecord, name: str, started: dt.date) -> str:
        """Which date drove the clock, and what else was looked at (for `policy explain` and the audit)."""
        text = f"{_FIELD_LABELS[name]} {_day(started).isoformat()}"
        others = [f for f in _CLOCK_FIELDS[self.clock] if f != name]
        if name == _FALLBACK[self.clock]:
            return f"{text} ({', '.join(f'no {_FIELD_LABELS[f]}' for f in _CLOCK_FIELDS[self.clock])})"
        notes = []
        for other in others:
            value = getattr(record, other)
            notes.append(f"no {_FIELD_LABELS[other]}" if value is None else
                         f"{_FIELD_LABELS[other]} {_day(value).isoformat()} earlier")  # fmt: skip
        if self.clock is Clock.CONTRACT_END:
            return f"end of relationship: {text} ({', '.join(notes)})"
        return f"{text} ({', '.join(notes)})" if name != _CLOCK_FIELDS[self.clock][0] else text

    def _contract_running(self, record: PersonRecord, now: dt.datetime) -> bool:
        """A contract that has not ended keeps the record, whatever the other dates say."""
        return record.contract_end is not None and record.contract_end >= now.date()

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        """A superset of the records whose clock may have run out, in as few groups as CRM searches allow.

        The latest of the clock's dates is before the cutoff only if every date set is: the first one when it is
        set, else the second, else the fallback (a group each; records whose later date is recent pass the
        prefilter and are kept by `evaluate`).
        """
        cutoff = self.after.before(now)
        lifecycle = Condition("lifecycle", Op.EQ, self.lifecycle)
        fields = list(_CLOCK_FIELDS[self.clock])
        fallback = _FALLBACK[self.clock]
        if fallback is not None and self.lifecycle is not Lifecycle.CUSTOMER:
            fields.append(fallback)
        groups: list[FilterGroup] = []
        for position, name in enumerate(fields):
            nulls = tuple(Condition(f, Op.IS_NULL) for f in fields[:position])
            limit = cutoff.date() if name == "contract_end" else cutoff
            groups.append((lifecycle, NOT_ANONYMISED, *nulls, Condition(name, Op.LT, limit)))
        return tuple(groups)


def _as_moment(value: dt.date) -> dt.datetime:
    """Dates and datetimes on one axis: a date counts as midnight UTC."""
    if isinstance(value, dt.datetime):
        return utc(value)
    return dt.datetime.combine(value, dt.time(), dt.UTC)


def _day(moment: dt.date) -> dt.date:
    return moment.date() if isinstance(moment, dt.datetime) else moment
