"""Built-in rule kinds. A rule is its validated params plus `evaluate` and `prefilters`.

Adding a kind = one `RuleBase` subclass here (or in its own module) + one entry in `RULE_KINDS`.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PlainValidator, model_validator

from gomme.connectors.base import Condition, FilterGroup, Op
from gomme.connectors.changes import Action
from gomme.connectors.records import Lifecycle, PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.period import Period


def _one_of(*allowed: Action) -> Callable[[object], object]:
    """A before-validator limiting an Action field to `allowed`, with a message that lists them."""

    def check(value: object) -> object:
        if value not in allowed:
            names = ", ".join(a.value for a in allowed)
            raise ValueError(f"must be one of: {names} (got {value!r})")
        return value

    return check


ErasingAction = Annotated[Action, BeforeValidator(_one_of(Action.ANONYMISE, Action.DELETE))]
EndOfRetentionAction = Annotated[Action, BeforeValidator(_one_of(Action.ANONYMISE, Action.DELETE, Action.RESTRICT_ALL))]
PeriodParam = Annotated[Period, PlainValidator(Period.parse), PlainSerializer(str, return_type=str)]
RuleId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]


class RuleBase(BaseModel):
    """Params shared by every kind; subclasses add theirs and implement the two methods."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    # A cap's finding is a ceiling on the other rules' actions, never an action of its own.
    caps: ClassVar[bool] = False

    id: RuleId
    kind: str
    legal_basis: str = Field(min_length=1)
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {**cls.defaults(data), **data}
        return data

    @classmethod
    def defaults(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults that depend on other params (e.g. the legal basis of a lifecycle)."""
        return {}

    @abstractmethod
    def evaluate(self, record: PersonRecord, now: dt.datetime) -> Finding | None:
        """The finding when the rule fires on `record` at `now` (aware UTC), else None. Pure."""

    @abstractmethod
    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        """Groups selecting a superset of the records it can fire on; `()` = changed ones; None = all."""

    def finding(self, action: Action, reason: str, facts: Mapping[str, str]) -> Finding:
        return Finding(self.id, self.kind, action, self.legal_basis, reason, facts, cap=self.caps)


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


def _utc(moment: dt.datetime) -> dt.datetime:
    # Connectors give aware datetimes; a naive one is read as UTC rather than crash the sweep.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


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

    def evaluate(self, record: PersonRecord, now: dt.datetime) -> Finding | None:
        if record.lifecycle != self.lifecycle or self._contract_running(record, now):
            return None
        fields = _CLOCK_FIELDS[self.clock]
        name = next((f for f in fields if getattr(record, f) is not None), None)
        if name is None:
            return None  # no date at all: nothing proves the period has run out
        started: dt.date = getattr(record, name)
        cutoff = self.after.before(now)
        if isinstance(started, dt.datetime):
            limit: dt.date = cutoff
            expired = _utc(started) < cutoff
        else:
            limit = cutoff.date()
            expired = started < limit
        if not expired:
            return None
        missing = ", ".join(f"no {_FIELD_LABELS[f]}" for f in fields[: fields.index(name)])
        reason = (
            f"{_FIELD_LABELS[name]} {started:%Y-%m-%d}{f' ({missing})' if missing else ''} older than "
            f"the {self.after.human} cutoff {limit:%Y-%m-%d} ({self.lifecycle})"
        )
        facts = {
            "clock": self.clock.value,
            "clock_field": name,
            "clock_value": started.isoformat(),
            "cutoff": limit.isoformat(),
            "after": self.after.text,
            "lifecycle": self.lifecycle.value,
        }
        return self.finding(self.action, reason, facts)

    def _contract_running(self, record: PersonRecord, now: dt.datetime) -> bool:
        """A contract that has not ended (or a customer with no end date) keeps the record."""
        if record.contract_end is None:
            return record.lifecycle is Lifecycle.CUSTOMER
        return record.contract_end >= now.astimezone(dt.UTC).date()

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        cutoff = self.after.before(now)
        fields = _CLOCK_FIELDS[self.clock]
        if self.lifecycle is Lifecycle.CUSTOMER and fields[0] == "contract_end":
            fields = fields[:1]  # a customer without contract end is still under contract
        groups: list[FilterGroup] = []
        for position, name in enumerate(fields):
            nulls = tuple(Condition(f, Op.IS_NULL) for f in fields[:position])
            limit = cutoff.date() if name == "contract_end" else cutoff
            groups.append((Condition("lifecycle", Op.EQ, self.lifecycle), *nulls, Condition(name, Op.LT, limit)))
        return tuple(groups)


class ErasureRequestRule(RuleBase):
    """Erase the record of a person who asked for it (Art 17(1))."""

    kind: Literal["erasure_request"] = "erasure_request"
    legal_basis: str = Field(default="GDPR Art 17(1): the person asked for erasure", min_length=1)
    description: str = "erase the records of people who asked for erasure"
    action: ErasingAction = Action.ANONYMISE

    def evaluate(self, record: PersonRecord, now: dt.datetime) -> Finding | None:
        if not record.erasure_requested:
            return None
        reason = "erasure requested (erasure_requested flag set)"
        return self.finding(self.action, reason, {"field": "erasure_requested"})

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return ((Condition("erasure_requested", Op.EQ, True),),)


class LegalHoldRule(RuleBase):
    """A cap, not an action: a record under legal hold is restricted instead of erased (Art 17(3)(e))."""

    caps: ClassVar[bool] = True
    kind: Literal["legal_hold"] = "legal_hold"
    legal_basis: str = Field(
        default="GDPR Art 17(3)(e): kept for the establishment, exercise or defence of legal claims; "
        "Art 18(2): restricted data is only stored",
        min_length=1,
    )
    description: str = "records under legal hold are restricted, never erased"

    def evaluate(self, record: PersonRecord, now: dt.datetime) -> Finding | None:
        if not record.legal_hold:
            return None
        reason = "record under legal hold: erasure capped to restrict_all"
        return self.finding(Action.RESTRICT_ALL, reason, {"field": "legal_hold"})

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return ()  # only lowers what other rules ask, so their groups already pull the record


RULE_KINDS: Mapping[str, type[RuleBase]] = {
    "retention": RetentionRule,
    "erasure_request": ErasureRequestRule,
    "legal_hold": LegalHoldRule,
}
