"""The connector contract (DESIGN.md "Connector contract") and the pull query it answers."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, Self, runtime_checkable

from gomme.connectors.changes import Action, ChangeResult, PlannedChange
from gomme.connectors.records import PersonRecord


class Op(StrEnum):
    """Comparison operators a prefilter may use; every connector translates them natively."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    IS_NULL = "is_null"
    NOT_NULL = "not_null"


@dataclass(frozen=True, slots=True)
class Condition:
    """`field op value` on a canonical PersonRecord field name (e.g. `last_activity_at lt <cutoff>`).

    Value types: an aware UTC `datetime` for timestamps, a `date` for `contract_end`/`birthdate`
    (a date compared with a datetime counts as midnight UTC), a `Lifecycle` for `lifecycle`, a
    `bool` for flags (`erasure_requested`, `legal_hold`, `anonymised`, `restricted`, `opt_out_*`).
    `ne` matches empty fields, as in Python; ordering comparisons on an empty field are false.
    """

    field: str
    op: Op
    value: Any = None


FilterGroup = tuple[Condition, ...]
"""Conditions AND-ed together; a query OR-s its groups."""


@dataclass(frozen=True, slots=True)
class PullQuery:
    """Which records a pull must return.

    A record is returned when `everything` is set, or it changed at or after `since`
    (per object type, the connector's own opaque cursor), or it matches any prefilter group.
    Pushdown is a superset: rules still decide on every record returned.
    An object type missing from `since` was never pulled: all of it is returned. A query with
    only prefilters (`since=None`, `everything=False`) returns the cursor `{}`: it did not look at
    what changed, so it must not move the cursor. `limit` never moves the cursor past an unread record.
    """

    everything: bool = True
    since: Mapping[str, str] | None = None
    prefilters: tuple[FilterGroup, ...] = ()
    limit: int | None = None


class Pulled:
    """A streamed pull: iterate the records; once exhausted, `cursor` holds the next position."""

    def __init__(self, records: Generator[PersonRecord, None, dict[str, str]]) -> None:
        self._records = records
        self.cursor: dict[str, str] | None = None

    def __iter__(self) -> Iterator[PersonRecord]:
        self.cursor = yield from self._records


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a connector can do natively, so the planner never asks for an impossible action."""

    actions: frozenset[Action]
    incremental: bool = True
    pushdown: bool = True
    notes: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)


class ClosedOnExit:
    """`with connector:` closes it on the way out; the built-in connectors take this from here."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@runtime_checkable
class Connector(Protocol):
    """One CRM. Every method streams; `apply` yields one result per change, in any order."""

    name: str

    @property
    def capabilities(self) -> Capabilities: ...

    def pull(self, query: PullQuery) -> Pulled: ...

    def get(self, ids: Iterable[tuple[str, str]]) -> Iterator[PersonRecord]:
        """Re-read records by (object_type, id); missing ones are simply not yielded."""
        ...

    def find(self, email: str) -> Iterator[PersonRecord]: ...

    def apply(self, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        """One result per change; APPLIED means the CRM has saved it. Re-applying an applied change succeeds."""
        ...

    def export(self, record: PersonRecord) -> dict[str, Any]:
        """Everything the CRM holds on the person, JSON-ready; a missing record raises RecordError(NOT_FOUND)."""
        ...

    def size(self) -> int | None:
        """How many person records the CRM holds (one cheap count), or None when it cannot tell."""
        ...

    def notices(self) -> list[str]:
        """What the run should tell the admin once: defaults the CRM lacks and skipped, values left unknown.

        Object, field and property names and counts only, never a value.
        """
        ...

    def close(self) -> None: ...
