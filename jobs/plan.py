"""From a decision to a planned change: which fields an action writes, and the PII-free reasons."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gomme.model.changes import Action, PlannedChange
from gomme.model.fields import OPT_OUT_KEYS, key_of
from gomme.model.records import IDENTIFYING_FIELDS, PersonRecord
from gomme.policies.decision import Decision
from gomme.policies.related import person_values, related_edits

EVIDENCE_LIMIT = 300  # characters of the `evidence` column of the change and audit_event tables (state/models.py)


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
        evidence=evidence_of(decision),
    )
    reasons = tuple(f"{f.rule_id}: {f.reason}" for f in decision.findings)
    return PlanItem(with_related(change, record, decision.values), reasons)


def evidence_of(decision: Decision) -> str:
    """What the audit entry keeps of why: the taken rule's evidence first, then the rules behind the combined
    actions and the cap that lowered it (`rule: key=value ...; rule: ...`), cut to fit the state column."""
    rule_id, capped_by, actions = decision.rule_id, decision.capped_by, decision.actions
    deciding = [
        f for f in decision.findings
        if f.evidence and (f.rule_id == rule_id or f.rule_id == capped_by or f.action in actions)
    ]  # fmt: skip
    deciding.sort(key=lambda f: f.rule_id != rule_id)  # stable: policy order after the taken rule
    return fit_evidence("; ".join(f"{f.rule_id}: {f.evidence}" for f in deciding))


def fit_evidence(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    """`text` within `limit` characters, cut after a whole rule's evidence, else after a whole `key=value`,
    and marked with `…` when cut."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    for separator in ("; ", " "):
        cut = head.rfind(separator)
        if cut >= limit // 3:  # not when it would throw most of the first rule's evidence away
            return head[:cut].rstrip(";, ") + "…"
    return head + "…"


def with_related(change: PlannedChange, record: PersonRecord, values: Mapping[str, Any]) -> PlannedChange:
    """`change` with the writes its actions make to the record's related records (docs/related-records.md), their
    audited field names, and what an erasure cannot reach because the connector could not read it; `values`
    are the decision's, related ones included (they leave the change's own values)."""
    if not record.related and not record.related_gaps:
        return change
    related = related_edits(record, change.actions, values)
    audited = (name for edit in related for name in edit.audited_fields)
    erasing = any(action.erases for action in change.actions)
    return replace(
        change,
        values=person_values(change.values),
        fields=tuple(dict.fromkeys((*change.fields, *audited))),
        related=related,
        related_remains=tuple(str(gap) for gap in record.related_gaps) if erasing else (),
    )


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
