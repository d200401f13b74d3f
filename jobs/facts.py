"""What gomme's own state says about records, looked up once per batch for the pure engine."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from gomme.connectors.records import PersonRecord
from gomme.jobs.context import RunContext
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.state.suppression import SuppressionReason, suppressed


def facts_for(ctx: RunContext, records: Sequence[PersonRecord]) -> dict[str, RecordFacts]:
    """Record id → facts: whether the person's email is on the suppression list after an erasure.

    One query per batch. An objection (Art 21(2)) suppresses marketing only: it does not make a
    re-imported person erasable, so only erasure suppressions count here.
    """
    keys = {record.id: ctx.keyring.email_key(record.email) for record in records if record.email}
    if not keys:
        return {}
    with Session(ctx.engine) as db:
        listed = suppressed(db, keys.values())
    return {
        record_id: RecordFacts(suppressed=True)
        for record_id, key in keys.items()
        if listed.get(key) is SuppressionReason.ERASURE
    }


def facts_of(facts: dict[str, RecordFacts], record: PersonRecord) -> RecordFacts:
    return facts.get(record.id, NO_FACTS)
