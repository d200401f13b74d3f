"""The suppression rule: an erased person who reappears is erased again; an objector gets no marketing."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from gomme.model.changes import Action
from gomme.model.records import Lifecycle, OptOuts, PersonRecord
from gomme.policies.engine import decide
from gomme.policies.facts import RecordFacts
from gomme.policies.policy import load_policy

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
POLICY = load_policy({"rules": [{"id": "suppression", "kind": "suppression"},
                                {"id": "legal-hold", "kind": "legal_hold"}]}, source="test")
RECORD = PersonRecord(crm="c", object_type="contact", id="1", email="x@example.com", last_name="X",
                      lifecycle=Lifecycle.CUSTOMER, created_at=NOW - dt.timedelta(days=10))


@pytest.mark.parametrize(
    ("facts", "record", "action"),
    [
        (RecordFacts(), RECORD, Action.KEEP),
        (RecordFacts(suppressed=True), RECORD, Action.ANONYMISE),
        (RecordFacts(objected=True), RECORD, Action.RESTRICT_EMAIL),
        (RecordFacts(suppressed=True, objected=True), RECORD, Action.ANONYMISE),
        (RecordFacts(objected=True), replace(RECORD, opt_outs=OptOuts(email=True)), Action.KEEP),
        (RecordFacts(suppressed=True), replace(RECORD, legal_hold=True), Action.RESTRICT_ALL),
    ],
    ids=["not-listed", "erased-before", "objected", "both", "objector-already-opted-out", "erased-but-held"],
)
def test_suppression_by_reason(facts: RecordFacts, record: PersonRecord, action: Action) -> None:
    assert decide(record, POLICY, NOW, facts=facts).action is action
