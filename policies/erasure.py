"""Kinds about erasure itself: the person's request, the legal hold that caps it, and the suppression list."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import Field

from gomme.model.changes import Action
from gomme.model.conditions import Condition, FilterGroup, Op
from gomme.model.records import PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.rule import NOT_ANONYMISED, ErasingAction, RuleBase


class ErasureRequestRule(RuleBase):
    """Erase the record of a person who asked for it (Art 17(1))."""

    audited: ClassVar[tuple[str, ...]] = ("field",)

    kind: Literal["erasure_request"] = "erasure_request"
    legal_basis: str = Field(default="GDPR Art 17(1): the person asked for erasure", min_length=1)
    description: str = "erase the records of people who asked for erasure"
    action: ErasingAction = Action.ANONYMISE

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        if not record.erasure_requested or record.anonymised:
            return None
        reason = "erasure requested (erasure_requested flag set)"
        return self.finding(self.action, reason, {"field": "erasure_requested"})

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        return "already anonymised" if record.anonymised else "no erasure request (erasure_requested not set)"

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return ((Condition("erasure_requested", Op.EQ, True), NOT_ANONYMISED),)


class LegalHoldRule(RuleBase):
    """A cap, not an action: a record under legal hold is restricted instead of erased (Art 17(3)(e))."""

    caps: ClassVar[bool] = True
    audited: ClassVar[tuple[str, ...]] = ("field",)
    kind: Literal["legal_hold"] = "legal_hold"
    legal_basis: str = Field(
        default="GDPR Art 17(3)(e): kept for the establishment, exercise or defence of legal claims; "
        "Art 18(2): restricted data is only stored",
        min_length=1,
    )
    description: str = "records under legal hold are restricted, never erased"

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        if not record.legal_hold:
            return None
        reason = "record under legal hold: erasure capped to restrict_all"
        return self.finding(Action.RESTRICT_ALL, reason, {"field": "legal_hold"})

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        return "not under legal hold (legal_hold not set)"

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return ()  # only lowers what other rules ask, so their groups already pull the record


class SuppressionRule(RuleBase):
    """Erase again a person gomme erased before who reappears (a re-import): the erasure must stay effective."""

    audited: ClassVar[tuple[str, ...]] = ("list", "match")

    kind: Literal["suppression"] = "suppression"
    legal_basis: str = Field(
        default="GDPR Art 17(1) and Art 21(3): a person whose data was erased, or who objected to marketing, "
        "is not processed again; a re-import brings no new legal basis",
        min_length=1,
    )
    description: str = "erase again people on gomme's suppression list"
    action: ErasingAction = Action.ANONYMISE

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        if facts.suppressed:
            reason = "email on the suppression list: the person was erased before and reappears"
            return self.finding(self.action, reason, {"list": "suppression", "match": "email_hmac"})
        if facts.objected:  # Art 21(3): marketing stops for good, whatever a later import says
            reason = "email on the suppression list: the person objected to direct marketing and reappears"
            return self.finding(Action.RESTRICT_EMAIL, reason, {"list": "objection", "match": "email_hmac"})
        return None

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        return "not on the suppression list (no erasure or objection recorded for this email)"

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return ()  # a re-import is a new or changed record: the incremental cursor brings it
