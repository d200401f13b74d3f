"""The connector contract (docs/architecture.md "Connector contract") and the pull query it answers."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, runtime_checkable

from gomme.model.changes import Action, ChangeResult, PlannedChange
from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord


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
    # Changes per `apply` call the CRM writes best (Salesforce's Bulk API 2.0 jobs); 0: the run's batch size.
    write_batch: int = 0
    # Whether `delete` leaves nothing the CRM's users could restore (no recycle bin, no 90-day restore).
    permanent_delete: bool = True


@dataclass(frozen=True, slots=True)
class Usage:
    """API use since the connector was opened, for the daemon's metrics (jobs/metrics.py)."""

    calls: Mapping[str, int] = field(default_factory=dict)  # by HTTP status or error class, as text
    budget_remaining: float | None = None  # calls left in the CRM's allowance, or None if it publishes none


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

    def usage(self) -> Usage:
        """API calls made since the connector was opened, and the allowance left (a local CRM: none)."""
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
