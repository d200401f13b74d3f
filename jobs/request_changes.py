"""What a data-subject request changes in one record, and whether that is already in place.

Erasure follows the policy (its erasure action, capped by legal hold: Art 17(3)(e)); the other
types map to one action each. Pure functions: records in, changes out.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from gomme.jobs.plan import fields_of, with_related
from gomme.model.changes import Action, PlannedChange
from gomme.model.records import PersonRecord
from gomme.policies.engine import decide
from gomme.policies.policy import Policy
from gomme.state.requests import RequestDetails, RequestType

LEGAL_BASIS = {
    RequestType.ERASE: "GDPR Art 17(1): erasure requested by the data subject",
    RequestType.RESTRICT: "GDPR Art 18(1): restriction of processing requested by the data subject",
    RequestType.OBJECT: "GDPR Art 21(2)-(3): objection to direct marketing",
    RequestType.RECTIFY: "GDPR Art 16: rectification requested by the data subject",
}


@dataclass(frozen=True, slots=True)
class RequestChange:
    """The change for one record, with `held` set when legal hold turned an erasure into a restriction."""

    change: PlannedChange
    held: bool = False


def change_for(
    kind: RequestType, record: PersonRecord, details: RequestDetails, policy: Policy, now: dt.datetime
) -> RequestChange | None:
    """The change `kind` asks of `record`, or None when its effect is already there (a re-run changes nothing)."""
    rule_id, basis, values, held = f"request-{kind}", LEGAL_BASIS[kind], dict(details.values), False
    match kind:
        case RequestType.ERASE:
            action, held, basis = _erasure(record, policy, now)
        case RequestType.RESTRICT:
            action = Action.RESTRICT_ALL
        case RequestType.OBJECT:
            action = Action.RESTRICT_EMAIL
        case RequestType.RECTIFY:
            action = Action.RECTIFY
        case RequestType.ACCESS:
            return None
    if _in_place(action, record, values):
        return None
    change = PlannedChange(
        change_id=uuid.uuid4().hex, crm=record.crm, object_type=record.object_type, record_id=record.id,
        action=action, rule_id=rule_id, legal_basis=basis, policy_hash=policy.hash,
        fields=fields_of(action, record, values), values=values if action is Action.RECTIFY else {},
    )
    return RequestChange(with_related(change, record, {}), held)


def _erasure(record: PersonRecord, policy: Policy, now: dt.datetime) -> tuple[Action, bool, str]:
    decision = decide(replace(record, erasure_requested=True), policy, now)
    if decision.capped_by is not None:
        basis = f"{LEGAL_BASIS[RequestType.ERASE]}; under legal hold, Art 17(3)(e): processing restricted instead"
        return Action.RESTRICT_ALL, True, basis
    action = decision.action if decision.action.erases else Action.ANONYMISE
    return action, False, LEGAL_BASIS[RequestType.ERASE]


def _in_place(action: Action, record: PersonRecord, values: dict[str, str | None]) -> bool:
    match action:
        case Action.ANONYMISE:
            return record.anonymised
        case Action.RESTRICT_ALL:
            return record.restricted
        case Action.RESTRICT_EMAIL:
            return record.opt_outs.email
        case Action.RECTIFY:
            return all(_text(getattr(record, name)) == value for name, value in values.items())
        case _:
            return False


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)
