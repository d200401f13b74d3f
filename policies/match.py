"""The `match` kind: user conditions as structured TOML (all/any groups of field/op/value) → any action."""

from __future__ import annotations

import datetime as dt
import itertools
from functools import cached_property
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, model_validator

from gomme.model.changes import Action
from gomme.model.conditions import Condition, FilterGroup, Op
from gomme.model.fields import OPT_OUT_FIELDS
from gomme.model.records import PersonRecord
from gomme.policies.conditions import MatchOp, Predicate, check_leaf, compile_leaf
from gomme.policies.decision import Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.period import Period
from gomme.policies.rule import RuleBase

# Fields every connector can filter on natively, and how a leaf becomes a prefilter (None: not pushed down).
_PUSHABLE = frozenset(
    {"country", "lifecycle", "object_type", "created_at", "last_activity_at", "birthdate", "contract_end"}
    | {"erasure_requested", "legal_hold", "restricted", "anonymised"}
    | set(OPT_OUT_FIELDS)
)
_PUSHED_OPS = {MatchOp.EQ: Op.EQ, MatchOp.LT: Op.LT, MatchOp.LE: Op.LE, MatchOp.GT: Op.GT, MatchOp.GE: Op.GE}
_MAX_GROUPS = 32  # beyond this many OR-ed groups, pulling everything is cheaper than the query


class MatchCondition(BaseModel):
    """Either a leaf (`field`, `op`, `value`) or a group (`all` and/or `any` of nested conditions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str | None = None
    op: MatchOp | None = None
    value: Any = None
    all: tuple[MatchCondition, ...] = ()
    any: tuple[MatchCondition, ...] = ()

    @model_validator(mode="after")
    def _leaf_or_group(self) -> Self:
        is_group = bool(self.all or self.any)
        if is_group and (self.field is not None or self.op is not None or self.value is not None):
            raise ValueError("a condition is either field/op/value or a group of all/any, not both")
        if is_group:
            return self
        if self.field is None or self.op is None:
            raise ValueError("a condition needs field and op (or a non-empty all/any group)")
        problem = check_leaf(self.field, self.op, self.value)
        if problem is not None:
            raise ValueError(problem)
        return self

    def compiled(self) -> Predicate:
        """One predicate for the whole tree; leaves are compiled once here, not per record."""
        if self.field is not None and self.op is not None:
            return compile_leaf(self.field, self.op, self.value)
        return _group(self.all, self.any)

    def text(self) -> str:
        """The condition as policy text, e.g. `country eq 'FR'` (values come from the policy, never a record)."""
        if self.field is not None:
            return f"{self.field} {self.op}" + ("" if self.value is None else f" {self.value!r}")
        return _group_text(self.all, self.any)

    def shape(self) -> str:
        """The condition without its value, `field:op` per leaf: what the audit trail keeps of a match."""
        if self.field is not None:
            return f"{self.field}:{self.op}"
        return ",".join(child.shape() for child in (*self.all, *self.any))

    def pushdown(self, now: dt.datetime) -> list[FilterGroup]:
        """OR-ed AND-groups selecting a superset of the records it holds on; `[()]` = cannot narrow."""
        if self.field is None or self.op is None:
            return _group_pushdown(self.all, self.any, now)
        pushed = _pushed(self.field, self.op, self.value, now)
        return [()] if pushed is None else [(pushed,)]

    @property
    def timed(self) -> bool:
        """Whether time alone can change the outcome (older_than/newer_than), without the record changing."""
        if self.op in (MatchOp.OLDER_THAN, MatchOp.NEWER_THAN):
            return True
        return any(child.timed for child in (*self.all, *self.any))


def _group(all_of: tuple[MatchCondition, ...], any_of: tuple[MatchCondition, ...]) -> Predicate:
    musts = tuple(c.compiled() for c in all_of)
    options = tuple(c.compiled() for c in any_of)
    if not options:
        return lambda record, now: all(p(record, now) for p in musts)
    return lambda record, now: all(p(record, now) for p in musts) and any(p(record, now) for p in options)


def _group_text(all_of: tuple[MatchCondition, ...], any_of: tuple[MatchCondition, ...]) -> str:
    parts = [f"all of [{', '.join(c.text() for c in all_of)}]"] if all_of else []
    parts += [f"any of [{', '.join(c.text() for c in any_of)}]"] if any_of else []
    return " and ".join(parts)


def _group_pushdown(
    all_of: tuple[MatchCondition, ...], any_of: tuple[MatchCondition, ...], now: dt.datetime
) -> list[FilterGroup]:
    groups: list[FilterGroup] = [()]
    for child in all_of:  # AND: the cross product of the children's OR-ed groups
        groups = [(*a, *b) for a, b in itertools.product(groups, child.pushdown(now))]
        if len(groups) > _MAX_GROUPS:
            return [()]
    if any_of:
        options = [group for child in any_of for group in child.pushdown(now)]
        if () in options:
            return groups  # one option cannot be narrowed, so the any-group narrows nothing
        groups = [(*a, *b) for a, b in itertools.product(groups, options)]
    return [()] if len(groups) > _MAX_GROUPS else [tuple(dict.fromkeys(g)) for g in groups]


def _pushed(name: str, op: MatchOp, value: Any, now: dt.datetime) -> Condition | None:
    """The connector condition a leaf implies, or None when it must be checked in Python only."""
    if name not in _PUSHABLE:
        return None
    if op is MatchOp.EXISTS:
        return Condition(name, Op.IS_NULL if value is False else Op.NOT_NULL)
    if op is MatchOp.IN:
        dated = any(isinstance(item, dt.date) for item in value)
        return None if dated else Condition(name, Op.IN, tuple(value))
    if op in (MatchOp.OLDER_THAN, MatchOp.NEWER_THAN):
        moment = Period.parse(value).before(now)
        cutoff: dt.date = moment.date() if name in ("birthdate", "contract_end") else moment
        return Condition(name, Op.LT if op is MatchOp.OLDER_THAN else Op.GE, cutoff)
    if op in _PUSHED_OPS and not isinstance(value, dt.date):  # dates: leave the date/datetime mix to Python
        return Condition(name, _PUSHED_OPS[op], value)
    return None  # ne, not_in (nulls differ between CRMs), contains


class MatchRule(RuleBase):
    """Any action when the record meets every `all` condition and, if given, at least one `any` condition."""

    # Which conditions held, by field and operator: a policy's values may name a person (`email eq ...`).
    audited: ClassVar[tuple[str, ...]] = ("conditions", "held")

    kind: Literal["match"] = "match"
    action: Action
    all: tuple[MatchCondition, ...] = ()
    any: tuple[MatchCondition, ...] = ()

    @model_validator(mode="after")
    def _has_conditions(self) -> Self:
        if not (self.all or self.any):
            raise ValueError("a match rule needs conditions: a non-empty `all` and/or `any` list")
        if self.action is Action.REDACT_NOTE:
            raise ValueError("action redact_note needs the redacted text, which only sensitive_note computes")
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Compile the conditions with the policy rather than on the first record."""
        _ = self._compiled

    @cached_property
    def _compiled(self) -> tuple[tuple[Predicate, ...], tuple[Predicate, ...]]:
        return tuple(c.compiled() for c in self.all), tuple(c.compiled() for c in self.any)

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        musts, options = self._compiled
        if not all(p(record, now) for p in musts):
            return None
        held = [c for c, p in zip(self.any, options, strict=True) if p(record, now)]
        if options and not held:
            return None
        reason = _group_text(self.all, ()) if self.all else ""
        if held:
            reason = " and ".join(filter(None, (reason, f"any of [{', '.join(c.text() for c in held)}]")))
        shapes = ",".join(c.shape() for c in (*self.all, *held))
        facts_ = {"conditions": str(len(self.all) + len(held)), "held": shapes}
        return self.finding(self.action, f"matched {reason}", facts_)

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        musts, _ = self._compiled
        for condition, predicate in zip(self.all, musts, strict=True):
            if not predicate(record, now):
                return f"not met: {condition.text()}"
        return f"none of any [{', '.join(c.text() for c in self.any)}] holds"

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        groups = _group_pushdown(self.all, self.any, now)
        if () not in groups:
            return tuple(groups)
        # Not narrowable: without time in the conditions, a record only starts to match when it changes.
        timed = any(c.timed for c in (*self.all, *self.any))
        return None if timed else ()
