"""The decision loop: run every rule, keep every finding, resolve conflicts and caps. Pure, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from gomme.model.changes import Action
from gomme.model.conditions import FilterGroup, PullQuery
from gomme.model.records import PersonRecord
from gomme.policies.decision import Decision, Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.policy import Policy

# A weaker action that must still be applied alongside a stronger main one: redacting a note
# is not implied by a restriction (restricted data is still stored), but anonymise clears free text.
COMBINES_WITH: Mapping[Action, frozenset[Action]] = {
    Action.REDACT_NOTE: frozenset({Action.RESTRICT_EMAIL, Action.RESTRICT_ALL}),
}


def utc_now(now: dt.datetime) -> dt.datetime:
    """`now` in UTC; a naive datetime is refused because its meaning depends on the machine."""
    if now.tzinfo is dt.UTC:
        return now
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(UTC))")
    return now.astimezone(dt.UTC)


def decide(record: PersonRecord, policy: Policy, now: dt.datetime, *, facts: RecordFacts = NO_FACTS) -> Decision:
    """What the policy requires for `record` at `now`: every finding, and the one action taken.

    `facts` are what the caller knows from gomme's state (e.g. the suppression list); the engine reads nothing.
    An anonymised record holds nothing personal any more (Recital 26): no rule is evaluated on it.
    """
    now = utc_now(now)
    if record.anonymised:
        return Decision(record.ref, Action.KEEP, None, None, in_effect=Action.ANONYMISE, policy_hash=policy.hash)
    findings = [f for check in policy.checks if (f := check(record, now, facts)) is not None]
    if not findings:
        return Decision(record.ref, Action.KEEP, None, None, evaluated=policy.rule_ids, policy_hash=policy.hash)
    if len(findings) == 1 and not findings[0].cap:
        return _alone(record, findings[0], policy.rule_ids, policy.hash)
    return resolve(record, findings, evaluated=policy.rule_ids, policy_hash=policy.hash)


def why_not(
    record: PersonRecord, policy: Policy, now: dt.datetime, decision: Decision, *, facts: RecordFacts = NO_FACTS
) -> dict[str, str]:
    """Rule id → why it did not fire, for each rule `decision` ran that found nothing (`gomme policy explain`).

    Not part of `decide`: each rule re-reads the record to say which of its conditions failed, which a sweep
    never needs.
    """
    now = utc_now(now)
    fired = {finding.rule_id for finding in decision.findings}
    ran = set(decision.evaluated) - fired
    return {rule.id: rule.why_not(record, now, facts) for rule in policy.rules if rule.id in ran}


def _alone(record: PersonRecord, finding: Finding, evaluated: tuple[str, ...], policy_hash: str) -> Decision:
    """`resolve` for the common case of one finding and no cap, without its sorting and merging."""
    action, ref, alone = finding.action, record.ref, (finding,)
    if action is Action.KEEP:
        return Decision(ref, Action.KEEP, None, None, alone, evaluated=evaluated, policy_hash=policy_hash)
    if _in_effect(action, record):
        return Decision(
            ref, Action.KEEP, None, None, alone, in_effect=action, evaluated=evaluated, policy_hash=policy_hash
        )
    return Decision(
        ref,
        action,
        finding.rule_id,
        finding.legal_basis,
        alone,
        values=dict(finding.values),
        evaluated=evaluated,
        policy_hash=policy_hash,
    )


def resolve(
    record: PersonRecord, findings: Sequence[Finding], *, evaluated: tuple[str, ...] = (), policy_hash: str = ""
) -> Decision:
    """The conflict resolver: strongest proposal, lowered to the tightest cap, minus what is already done.

    Ties go to the earlier finding, i.e. policy order (rules sorted by id), so the result is deterministic.
    `capped_by` names the cap that lowered the strongest proposal, even when the result is then a keep.
    """
    findings = tuple(findings)
    proposals = sorted(
        (f for f in findings if not f.cap and f.action is not Action.KEEP), key=lambda f: -f.action.strength
    )
    if not proposals:
        return Decision(record.ref, Action.KEEP, None, None, findings, evaluated=evaluated, policy_hash=policy_hash)
    top = proposals[0]
    cap = min((f for f in findings if f.cap), key=lambda f: f.action.strength, default=None)
    capped = cap is not None and top.action.strength > cap.action.strength
    action = cap.action if cap is not None and capped else top.action
    taken = [(action, top)]
    for p in proposals:
        if action in COMBINES_WITH.get(p.action, ()) and all(a is not p.action for a, _ in taken):
            taken.append((p.action, p))
    pending = [(a, f) for a, f in taken if not _in_effect(a, record)]
    in_effect = None if pending and pending[0][0] is action else action
    capped_by = cap.rule_id if cap is not None and capped else None
    if not pending:
        return Decision(
            record.ref,
            Action.KEEP,
            None,
            None,
            findings,
            capped_by,
            in_effect=in_effect,
            evaluated=evaluated,
            policy_hash=policy_hash,
        )
    main_action, main = pending[0]
    legal_basis = main.legal_basis
    if cap is not None and capped and main is top:
        legal_basis = f"{top.legal_basis}; capped by {cap.rule_id}: {cap.legal_basis}"
    values: dict[str, Any] = {}
    for a, f in pending:
        if a is f.action:  # a lowered action does not carry the values computed for the stronger one
            values.update(f.values)
    return Decision(
        record_ref=record.ref,
        action=main_action,
        rule_id=main.rule_id,
        legal_basis=legal_basis,
        findings=findings,
        capped_by=capped_by,
        also=tuple(a for a, _ in pending[1:]),
        values=values,
        in_effect=in_effect,
        evaluated=evaluated,
        policy_hash=policy_hash,
    )


def _in_effect(action: Action, record: PersonRecord) -> bool:
    """Whether the record already carries `action`, so a second sweep plans nothing."""
    if action is Action.DELETE:
        return False  # a deleted record is never pulled again
    if action is Action.KEEP or record.anonymised:
        return True  # nothing personal is left to restrict, redact or anonymise
    if action is Action.RESTRICT_ALL:
        return record.restricted
    if action is Action.RESTRICT_EMAIL:
        return record.opt_outs.email
    return False


def prefilter_query(policy: Policy, now: dt.datetime, since: Mapping[str, str] | None) -> PullQuery:
    """The pull that returns every record a rule could act on: changed since `since` OR any rule's groups.

    A rule returning None needs every record; one returning `()` relies on `since`, so without a
    cursor (first or full sweep) every record is pulled. Caps are skipped: they never act alone.
    """
    now = utc_now(now)
    groups: dict[FilterGroup, None] = {}
    for rule in policy.rules:
        if rule.caps:
            continue
        rule_groups = rule.prefilters(now)
        if rule_groups is None or (not rule_groups and since is None):
            return PullQuery(everything=True, since=since)
        groups.update(dict.fromkeys(rule_groups))
    return PullQuery(everything=False, since=since, prefilters=tuple(groups))
