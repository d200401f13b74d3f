"""Which records a breach reached: `--object`, the breach's window and `--where field op value` conditions. Pure.

The window is when the breach ran: a record is concerned when it existed during it, that is created before its end
(a record whose creation date is unknown counts: the safe side). `--since` is recorded for the notification and does
not narrow the scope: a record created before the breach began was still exposed. `--where` narrows it further.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from gomme.model.conditions import Condition, FilterGroup, Op, PullQuery, holds
from gomme.model.fields import FIELDS, PREFIXES, FieldType, field_type, spec
from gomme.model.records import PersonRecord
from gomme.state.breach import CaseScope

_SYMBOLS = {"=": Op.EQ, "==": Op.EQ, "!=": Op.NE, "<": Op.LT, "<=": Op.LE, ">": Op.GT, ">=": Op.GE}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


class ScopeError(ValueError):
    """A scope the command line cannot have meant: shown as one line, exit 2."""


def parse_where(text: str) -> Condition:
    """`field op value` (e.g. `country eq FR`, `birthdate gt 2010-01-01`, `lifecycle in prospect,customer`,
    `phone not_null`) into a condition on a canonical field, the value typed as the field is."""
    parts = text.split(None, 2)
    if len(parts) < 2:
        raise ScopeError(f"--where '{text}': expected FIELD OP VALUE, e.g. --where 'country eq FR'")
    name, op_text = parts[0], parts[1].lower()
    kind = field_type(name)
    if kind is None:
        known = ", ".join((*FIELDS, *(f"{p}<name>" for p in PREFIXES)))
        raise ScopeError(f"--where '{text}': unknown field '{name}'; use one of: {known}")
    op = _SYMBOLS.get(op_text) or next((o for o in Op if o.value == op_text), None)
    if op is None:
        raise ScopeError(f"--where '{text}': unknown operator '{parts[1]}'; use one of: {', '.join(Op)}")
    if op in (Op.IS_NULL, Op.NOT_NULL):
        if len(parts) > 2:
            raise ScopeError(f"--where '{text}': {op} takes no value")
        return Condition(name, op)
    if len(parts) < 3:
        raise ScopeError(f"--where '{text}': {op} needs a value")
    raw = parts[2].strip()
    if op is Op.IN:
        return Condition(name, op, tuple(_value(name, kind, item.strip(), text) for item in raw.split(",")))
    return Condition(name, op, _value(name, kind, raw, text))


def _value(name: str, kind: FieldType, raw: str, text: str) -> object:
    if kind is FieldType.BOOL:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise ScopeError(f"--where '{text}': {name} is true or false")
    if kind in (FieldType.DATE, FieldType.DATETIME):
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise ScopeError(f"--where '{text}': {name} compares with an ISO date such as 2024-01-31") from None
        if kind is FieldType.DATE and len(raw) == 10:
            return moment.date()
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    found = spec(name)
    if found is not None and found.enum is not None:
        if raw not in tuple(found.enum):
            raise ScopeError(f"--where '{text}': '{raw}' is not a {name} (one of: {', '.join(found.enum)})")
        return found.enum(raw)
    return raw


@dataclass(frozen=True, slots=True)
class Scope:
    """A case's scope, parsed: what `holds` checks on every record streamed (the connector's pushdown is a
    superset)."""

    objects: frozenset[str]
    until: dt.datetime | None
    conditions: tuple[Condition, ...]

    @classmethod
    def of(cls, scope: CaseScope) -> Scope:
        return cls(frozenset(o.casefold() for o in scope.objects), scope.until,
                   tuple(parse_where(text) for text in scope.where))

    def query(self) -> PullQuery:
        """Everything, or the `--where` conditions pushed down as one group (object names differ in case between
        CRMs, and the window lets unknown creation dates in: both are checked here only)."""
        if not self.conditions:
            return PullQuery()
        group: FilterGroup = self.conditions
        return PullQuery(everything=False, prefilters=(group,))

    def holds(self, record: PersonRecord) -> bool:
        if self.objects and record.object_type.casefold() not in self.objects:
            return False
        if self.until is not None and record.created_at is not None and record.created_at >= self.until:
            return False
        return all(_holds(record, condition) for condition in self.conditions)


def _holds(record: PersonRecord, condition: Condition) -> bool:
    try:
        return holds(record, condition)
    except (TypeError, ValueError):
        return False  # a value the field cannot compare with: the record is not in the scope


def check_window(since: dt.datetime | None, until: dt.datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise ScopeError(f"--since {since.isoformat()} is not before --until {until.isoformat()}: the breach's "
                         "window must start before it ends (swap them?)")


def parse_all(where: Sequence[str]) -> tuple[Condition, ...]:
    """Every condition, or the first problem (so `breach open` refuses before writing anything)."""
    return tuple(parse_where(text) for text in where)
