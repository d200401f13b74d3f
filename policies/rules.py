"""The registry of built-in rule kinds: kind name → class.

Adding a kind = one `RuleBase` subclass (in its own module) + one entry in `RULE_KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping

from gomme.policies.consent import ConsentProofRule, ConsentWithdrawnRule, ProcessingBasisRule
from gomme.policies.erasure import ErasureRequestRule, LegalHoldRule, SuppressionRule
from gomme.policies.match import MatchRule
from gomme.policies.minor import MinorRule
from gomme.policies.retention import Clock, RetentionRule
from gomme.policies.rule import RuleBase
from gomme.policies.sensitive import SensitiveNoteRule

RULE_KINDS: Mapping[str, type[RuleBase]] = {
    "retention": RetentionRule,
    "erasure_request": ErasureRequestRule,
    "legal_hold": LegalHoldRule,
    "suppression": SuppressionRule,
    "consent_withdrawn": ConsentWithdrawnRule,
    "consent_proof": ConsentProofRule,
    "processing_basis": ProcessingBasisRule,
    "minor": MinorRule,
    "sensitive_note": SensitiveNoteRule,
    "match": MatchRule,
}

__all__ = [
    "RULE_KINDS",
    "Clock",
    "ConsentProofRule",
    "ConsentWithdrawnRule",
    "ErasureRequestRule",
    "LegalHoldRule",
    "MatchRule",
    "MinorRule",
    "ProcessingBasisRule",
    "RetentionRule",
    "RuleBase",
    "SensitiveNoteRule",
    "SuppressionRule",
]
