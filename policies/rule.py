"""The base of every rule kind and the parameter types they share."""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PlainValidator, model_validator

from gomme.model.changes import Action
from gomme.model.conditions import Condition, FilterGroup, Op
from gomme.model.records import PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.period import Period


def one_of(*allowed: Action) -> Callable[[object], object]:
    """A before-validator limiting an Action field to `allowed`, with a message that lists them."""

    def check(value: object) -> object:
        if value not in allowed:
            names = ", ".join(a.value for a in allowed)
            raise ValueError(f"must be one of: {names} (got {value!r})")
        return value

    return check


ErasingAction = Annotated[Action, BeforeValidator(one_of(Action.ANONYMISE, Action.DELETE))]
RestrictingAction = Annotated[
    Action, BeforeValidator(one_of(Action.RESTRICT_EMAIL, Action.RESTRICT_ALL, Action.ANONYMISE, Action.DELETE))
]
PeriodParam = Annotated[Period, PlainValidator(Period.parse), PlainSerializer(str, return_type=str)]
RuleId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]

# Pulled records that gomme anonymised already hold nothing personal: every erasing rule skips them.
NOT_ANONYMISED = Condition("anonymised", Op.EQ, False)


class RuleBase(BaseModel):
    """Params shared by every kind; subclasses add theirs and implement the two methods."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    # A cap's finding is a ceiling on the other rules' actions, never an action of its own.
    caps: ClassVar[bool] = False
    # The keys of a finding's facts that the audit trail keeps, in this order, as `key=value` (its evidence).
    # A kind lists only facts that say nothing about the person beyond the decision: rule parameters, codes,
    # flag and field names, counts, the dates that drove a clock; never a name, email, phone, note or birth date.
    audited: ClassVar[tuple[str, ...]] = ()

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

    def prepare(self) -> None:
        """Load now what the rule would otherwise load on its first record (a long-running process wants it at
        start); nothing for most rules."""

    @abstractmethod
    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        """The finding when the rule fires on `record` at `now` (aware UTC), else None. Pure, never raises."""

    @abstractmethod
    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        """Groups selecting a superset of the records it can fire on; `()` = changed ones; None = all."""

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        """Why the rule did not fire on `record` at `now`, in one line, for `gomme policy explain`.

        Called only for a rule whose `evaluate` returned None, never by `decide` (the hot path). Dates, codes and
        field names only, never a personal value; kinds override this generic line.
        """
        return "its conditions do not hold for this record"

    def finding(
        self, action: Action, reason: str, facts: Mapping[str, str], values: Mapping[str, Any] | None = None
    ) -> Finding:
        """The finding of this rule; its evidence is the `audited` facts (one join: rules fire in the hot path)."""
        evidence = " ".join([f"{key}={facts[key]}" for key in self.audited if key in facts])
        return Finding(self.id, self.kind, action, self.legal_basis, reason, facts, self.caps, values or {}, evidence)


def utc(moment: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC; a naive one is read as UTC rather than crash the sweep."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    if moment.tzinfo is dt.UTC:
        return moment
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # within a day of datetime.min/max: the bound is as good as the moment
        return (dt.datetime.min if moment.year == 1 else dt.datetime.max).replace(tzinfo=dt.UTC)
