"""From a decision to a planned change: which fields an action writes, and the PII-free reasons."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gomme.model.changes import Action, PlannedChange
from gomme.model.fields import OPT_OUT_KEYS, key_of
from gomme.model.records import IDENTIFYING_FIELDS, PersonRecord
from gomme.policies.decision import Decision


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One line of a plan: the change and the evidence of every rule that fired (never personal data)."""

    change: PlannedChange
    reasons: tuple[str, ...]


def plan_change(
    record: PersonRecord, decision: Decision, policy_hash: str, change_id: str | None = None
) -> PlanItem | None:
    """The change a decision asks for, or None when it asks for nothing."""
    if not decision.changes or decision.rule_id is None or decision.legal_basis is None:
        return None
    change = PlannedChange(
        change_id=change_id or uuid.uuid4().hex,
        crm=record.crm,
        object_type=record.object_type,
        record_id=record.id,
        action=decision.action,
        also=decision.also,
        rule_id=decision.rule_id,
        legal_basis=decision.legal_basis,
        policy_hash=policy_hash,
        fields=fields_written(record, decision),
        values=decision.values,
        evidence="; ".join(
            f"{f.rule_id}: {f.evidence}" for f in decision.findings if f.evidence and f.action in decision.actions
        ),
    )
    return PlanItem(change, tuple(f"{f.rule_id}: {f.reason}" for f in decision.findings))


def fields_written(record: PersonRecord, decision: Decision) -> tuple[str, ...]:
    """Canonical names of the fields the actions write: what the audit log keeps instead of values."""
    names: list[str] = []
    for action in decision.actions:
        names.extend(fields_of(action, record, decision.values))
    return tuple(dict.fromkeys(names))


def fields_of(action: Action, record: PersonRecord, values: Mapping[str, Any]) -> tuple[str, ...]:
    """The canonical field names one action writes on `record`, given the change's new `values`."""
    match action:
        case Action.RESTRICT_EMAIL:
            return (key_of("opt_outs.email"),)
        case Action.RESTRICT_ALL:
            return (*OPT_OUT_KEYS, "restricted")
        case Action.ANONYMISE:
            return (*IDENTIFYING_FIELDS, *(f"notes.{name}" for name in record.notes), "consents", "anonymised")
        case Action.DELETE:
            return ("*",)
        case Action.REDACT_NOTE:
            return tuple(sorted(key for key in values if key.startswith("notes.")))
        case Action.RECTIFY:
            return tuple(sorted(key for key in values if not key.startswith("notes.")))
        case Action.KEEP:
            return ()
