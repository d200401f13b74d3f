"""Actions, planned changes and their per-record outcomes: the words jobs and connectors share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gomme.model.related import RelatedEdit, RelatedOutcome


class Action(StrEnum):
    """What gomme does to a record, weakest first; `strength` orders them for conflicts."""

    KEEP = "keep"
    RECTIFY = "rectify"  # Art 16, from a data-subject request only: `values` holds the corrected fields
    REDACT_NOTE = "redact_note"
    RESTRICT_EMAIL = "restrict_email"
    RESTRICT_ALL = "restrict_all"
    ANONYMISE = "anonymise"
    DELETE = "delete"

    @property
    def strength(self) -> int:
        return _STRENGTH[self]

    @property
    def erases(self) -> bool:
        return self in (Action.ANONYMISE, Action.DELETE)


_STRENGTH = {a: i for i, a in enumerate(Action)}


class Outcome(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One change to one record. `values` holds new field values in memory only; never persisted.

    `fields` are the canonical names of the fields the change writes (what the audit keeps).
    """

    change_id: str
    crm: str
    object_type: str
    record_id: str
    action: Action
    rule_id: str
    legal_basis: str
    policy_hash: str
    fields: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)
    also: tuple[Action, ...] = ()  # combined actions, e.g. redact_note alongside restrict_all
    evidence: str = ""  # why, for the audit trail: the deciding rules' audited evidence, never a value
    # Writes to the person's related records (memory only), and what the plan already knows will remain (objects
    # the connector could not read), by name.
    related: tuple[RelatedEdit, ...] = ()
    related_remains: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.crm}:{self.object_type}:{self.record_id}"

    @property
    def actions(self) -> tuple[Action, ...]:
        return (self.action, *self.also)


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What the CRM said about one change. `error_code` is the CRM's code, never its message text."""

    change_id: str
    outcome: Outcome
    error_code: str | None = None
    detail: str | None = None  # safe, PII-free explanation (e.g. "already deleted")
    related: RelatedOutcome | None = None  # what became of the related records, for a change that had some
