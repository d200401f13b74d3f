"""The `retention` kind: storage limitation per lifecycle, with the clock date that starts the period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from gomme.connectors.base import Condition, FilterGroup, Op
from gomme.connectors.changes import Action
from gomme.connectors.records import Lifecycle, PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.rule import NOT_ANONYMISED, PeriodParam, RuleBase, one_of, utc

EndOfRetentionAction = Annotated[Action, BeforeValidator(one_of(Action.ANONYMISE, Action.DELETE, Action.RESTRICT_ALL))]


class Clock(StrEnum):
    """Which date starts a retention period."""

    LAST_ACTIVITY = "last_activity"
    CONTRACT_END = "contract_end"


# Canonical fields tried in order: the first non-null one starts the period.
_CLOCK_FIELDS = {
    Clock.LAST_ACTIVITY: ("last_activity_at", "created_at"),
    Clock.CONTRACT_END: ("contract_end", "last_activity_at", "created_at"),
}
_FIELD_LABELS = {"last_activity_at": "last activity", "created_at": "created", "contract_end": "contract end"}
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


class RetentionRule(RuleBase):
    """Erase records of a lifecycle whose clock date (last activity, contract end…) is older than `after`."""

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
        fields = _CLOCK_FIELDS[self.clock]
        for name in fields:
            started: dt.date | None = getattr(record, name)
            if started is not None:
                break
        else:
            return None  # no date at all: nothing proves the period has run out
        cutoff = self.after.before(now)
        if isinstance(started, dt.datetime):
            limit: dt.date = cutoff
            expired = utc(started) < cutoff
        else:
            limit = cutoff.date()
            expired = started < limit
        if not expired:
            return None
        missing = ", ".join(f"no {_FIELD_LABELS[f]}" for f in fields[: fields.index(name)])
        reason = (
            f"{_FIELD_LABELS[name]} {_day(started).isoformat()}{f' ({missing})' if missing else ''} older than "
            f"the {self.after.human} cutoff {_day(limit).isoformat()} ({self.lifecycle.value})"
        )
        facts_ = {
            "clock": self.clock.value,
            "clock_field": name,
            "clock_value": started.isoformat(),
            "cutoff": limit.isoformat(),
            "after": self.after.text,
            "lifecycle": self.lifecycle.value,
        }
        return self.finding(self.action, reason, facts_)

    def _contract_running(self, record: PersonRecord, now: dt.datetime) -> bool:
        """A contract that has not ended (or a customer with no end date) keeps the record."""
        if record.contract_end is None:
            return record.lifecycle is Lifecycle.CUSTOMER
        return record.contract_end >= now.date()

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        cutoff = self.after.before(now)
        fields = _CLOCK_FIELDS[self.clock]
        if self.lifecycle is Lifecycle.CUSTOMER and fields[0] == "contract_end":
            fields = fields[:1]  # a customer without contract end is still under contract
        groups: list[FilterGroup] = []
        lifecycle = Condition("lifecycle", Op.EQ, self.lifecycle)
        for position, name in enumerate(fields):
            nulls = tuple(Condition(f, Op.IS_NULL) for f in fields[:position])
            limit = cutoff.date() if name == "contract_end" else cutoff
            groups.append((lifecycle, NOT_ANONYMISED, *nulls, Condition(name, Op.LT, limit)))
        return tuple(groups)


def _day(moment: dt.date) -> dt.date:
    return moment.date() if isinstance(moment, dt.datetime) else moment
