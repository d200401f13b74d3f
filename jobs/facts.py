"""What gomme's own state says about records, looked up once per batch for the pure engine."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from gomme.jobs.context import RunContext
from gomme.model.records import PersonRecord
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.state.suppression import SuppressionReason, suppressed_any


def facts_for(ctx: RunContext, records: Sequence[PersonRecord]) -> dict[str, RecordFacts]:
    """Record id → facts: whether the person's email is on the suppression list, and why.

    One query per batch. An erasure makes a re-imported person erasable again; an objection to direct
    marketing (Art 21(2)) only keeps marketing off.
    """
    keys = {record.id: ctx.keyring.email_keys(record.email) for record in records if record.email}
    if not keys:
        return {}
    with Session(ctx.engine) as db:
        listed = suppressed_any(db, keys)  # every key's HMAC: people listed before a key rotation too
    return {
        record_id: RecordFacts(suppressed=reason is SuppressionReason.ERASURE,
                               objected=reason is SuppressionReason.OBJECTION)
        for record_id, reason in listed.items()
    }


def facts_of(facts: dict[str, RecordFacts], record: PersonRecord) -> RecordFacts:
    return facts.get(record.id, NO_FACTS)
