"""Policies as TOML: the cnil pack, extends/override/disable, every error at once, a stable hash."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gomme.model.changes import Action
from gomme.policies.policy import (
    Policy,
    PolicyError,
    PolicyIssue,
    available_packs,
    load_pack,
    load_policy,
    load_policy_file,
)
from gomme.policies.rules import ErasureRequestRule, LegalHoldRule, RetentionRule, RuleBase


def policy_from_toml(text: str) -> Policy:
    return load_policy(tomllib.loads(text), source="test.toml")


def issues_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(data, source="test.toml")
    return [str(issue) for issue in caught.value.issues]


def test_cnil_pack_holds_the_cnil_defaults() -> None:
    pack = load_pack("cnil")
    rules = {rule.id: rule for rule in pack.rules}

    assert available_packs() == ("cnil",)
    assert pack.source == "pack:cnil"
    assert set(rules) == {
        "erasure-request",
        "retention-prospect",
        "retention-former-customer",
        "retention-customer",
        "legal-hold",
        "suppression",
        "consent-withdrawn-email",
        "consent-proof-email",
        "processing-basis-email",
        "minor",
        "sensitive-note",
    }
    erasure, prospect, former = (
        rules["erasure-request"],
        rules["retention-prospect"],
        rules["retention-former-customer"],
    )
    assert isinstance(erasure, ErasureRequestRule) and erasure.action is Action.ANONYMISE
    assert isinstance(prospect, RetentionRule)
    assert (prospect.lifecycle, prospect.clock, prospect.after.text, prospect.action) == (
        "prospect",
        "last_activity",
        "P3Y",
        Action.ANONYMISE,
    )
    assert isinstance(former, RetentionRule)
    assert (former.lifecycle, former.clock, former.after.text, former.action) == (
        "former_customer",
        "contract_end",
        "P3Y",
        Action.ANONYMISE,
    )
    assert isinstance(rules["legal-hold"], LegalHoldRule)
    defaults = {rule_id: getattr(rule, "action", None) for rule_id, rule in rules.items() if not rule.caps}
    assert defaults == {
        "erasure-request": Action.ANONYMISE,
        "retention-prospect": Action.ANONYMISE,
        "retention-former-customer": Action.ANONYMISE,
        "retention-customer": Action.ANONYMISE,
        "suppression": Action.ANONYMISE,
        "consent-withdrawn-email": Action.RESTRICT_EMAIL,
        "consent-proof-email": Action.RESTRICT_EMAIL,
        "processing-basis-email": Action.RESTRICT_EMAIL,
        "minor": Action.RESTRICT_ALL,
        "sensitive-note": Action.REDACT_NOTE,
    }


@pytest.mark.parametrize("rule", load_pack("cnil").rules, ids=lambda rule: rule.id)
def test_every_cnil_rule_cites_an_article_or_cnil_guidance(rule: RuleBase) -> None:
    assert re.search(r"Art \d+|CNIL", rule.legal_basis), rule.legal_basis


def test_extending_a_pack_overrides_params_by_id_and_keeps_the_rest() -> None:
    policy = policy_from_toml(
        """
        extends = "cnil"
        [[rules]]
        id = "retention-prospect"
        after = "P2Y"
        action = "delete"
        """
    )
    prospect = next(r for r in policy.rules if r.id == "retention-prospect")

    assert isinstance(prospect, RetentionRule)
    assert (prospect.after.text, prospect.action, prospect.lifecycle) == ("P2Y", Action.DELETE, "prospect")
    assert len(policy.rules) == len(load_pack("cnil").rules) == 11


def test_enabled_false_disables_an_inherited_rule() -> None:
    policy = policy_from_toml('extends = "cnil"\n[[rules]]\nid = "legal-hold"\nenabled = false\n')
    assert "legal-hold" not in policy.rule_ids
    assert len(policy.rules) == 10


def test_a_policy_can_add_its_own_rules_and_disable_its_own_drafts() -> None:
    policy = policy_from_toml(
        """
        [[rules]]
        id = "retention-customer"
        kind = "retention"
        lifecycle = "customer"
        after = "P5Y"
        [[rules]]
        id = "draft"
        kind = "retention"
        lifecycle = "unknown"
        after = "P1Y"
        enabled = false
        """
    )
    assert policy.rule_ids == ("retention-customer",)


def test_every_validation_error_is_reported_at_once_with_its_path() -> None:
    data: dict[str, Any] = {
        "extends": "cnil",
        "colour": "red",
        "rules": [
            {"id": "r0", "kind": "retention", "lifecycle": "prospect", "after": "three years"},
            {"id": "r1", "kind": "retention", "lifecycle": "alien", "after": "P3Y", "cutoff": 3},
            {"id": "r2", "kind": "teleport"},
            {"kind": "legal_hold"},
            {"id": "r0", "kind": "legal_hold"},
            {"id": "erasure-request", "action": "restrict_email"},
            {"id": "no-such-rule", "enabled": False},
            {"id": "r7", "kind": "retention", "lifecycle": "prospect", "enabled": "no"},
            {"id": "r8", "kind": "retention", "lifecycle": "prospect"},
            {"id": "retention-prospect", "kind": "legal_hold"},
            {"id": "r10"},
        ],
    }

    assert issues_of(data) == [
        "colour: unknown key (allowed: extends, rules)",
        "rules[0].after: invalid ISO-8601 duration 'three years' (expected e.g. 'P3Y', 'P18M', 'P30D')",
        "rules[1].lifecycle: Input should be 'prospect', 'customer', 'former_customer' or 'unknown'",
        "rules[1].cutoff: unknown parameter (allowed: action, after, clock, description, enabled, id, kind, "
        "legal_basis, lifecycle)",
        "rules[2].kind: unknown rule kind 'teleport' (one of: consent_proof, consent_withdrawn, erasure_request, "
        "legal_hold, match, minor, processing_basis, retention, sensitive_note, suppression)",
        "rules[3].id: required: a non-empty string",
        "rules[4].id: duplicate rule id 'r0'",
        "rules[5].action: must be one of: anonymise, delete (got 'restrict_email')",
        "rules[6].id: no inherited rule 'no-such-rule' to disable (inherited: erasure-request, retention-prospect, "
        "retention-former-customer, retention-customer, legal-hold, suppression, consent-withdrawn-email, "
        "consent-proof-email, processing-basis-email, minor, sensitive-note)",
        "rules[7].enabled: must be true or false",
        "rules[8].after: required",
        "rules[9].kind: cannot change the kind of inherited rule 'retention-prospect' (retention); use a new id",
        "rules[10].kind: required (one of: consent_proof, consent_withdrawn, erasure_request, legal_hold, match, "
        "minor, processing_basis, retention, sensitive_note, suppression)",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"extends": "nope"}, ["extends: unknown pack 'nope' (available: cnil)"]),
        ({"extends": 3}, ["extends: must be a pack name (a string)"]),
        ({"rules": {"id": "x"}}, ["rules: must be an array of tables ([[rules]])"]),
        ({"rules": ["x"]}, ["rules[0]: must be a table ([[rules]])"]),
        (
            {"rules": [{"id": "bad id!", "kind": "legal_hold"}]},
            ["rules[0].id: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'"],
        ),
        (
            {"rules": [{"id": "x", "kind": "retention", "lifecycle": "prospect", "after": "P0D"}]},
            ["rules[0].after: duration 'P0D' must be longer than zero"],
        ),
        (
            {"rules": [{"id": "x", "kind": "retention", "lifecycle": "prospect", "after": "P3Y", "clock": "moon"}]},
            ["rules[0].clock: Input should be 'last_activity' or 'contract_end'"],
        ),
        (
            {"rules": [{"id": "x", "kind": "erasure_request", "legal_basis": ""}]},
            ["rules[0].legal_basis: String should have at least 1 character"],
        ),
    ],
)
def test_structural_errors_name_the_place(data: dict[str, Any], expected: list[str]) -> None:
    assert issues_of(data) == expected


def test_unknown_pack_names_the_available_ones() -> None:
    with pytest.raises(PolicyError, match=r"unknown pack '\.\./cnil' \(available: cnil\)"):
        load_pack("../cnil")


def test_policy_error_message_lists_every_issue() -> None:
    error = PolicyError([PolicyIssue("rules[0].after", "bad"), PolicyIssue("colour", "unknown key")], "p.toml")
    assert str(error) == "p.toml: 2 problem(s):\n  rules[0].after: bad\n  colour: unknown key"


def test_policy_file_is_read_with_tomllib(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('extends = "cnil"\n', encoding="utf-8")

    policy = load_policy_file(path)

    assert (policy.source, policy.hash) == (str(path), load_pack("cnil").hash)


def test_invalid_toml_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[[rules]\nid = 1\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="invalid TOML"):
        load_policy_file(path)


BASE_TOML = """
extends = "cnil"
[[rules]]
id = "retention-prospect"
after = "P2Y"
[[rules]]
id = "retention-unknown"
kind = "retention"
lifecycle = "unknown"
after = "P5Y"
"""

REORDERED_TOML = """
# same policy: rules, keys and spacing in another order, defaults spelt out
extends   =   "cnil"

[[rules]]
after = "P5Y"
lifecycle = "unknown"
kind = "retention"
clock = "last_activity"
id = "retention-unknown"

[[rules]]
action = "anonymise"
after = "P2Y0M"
id = "retention-prospect"
"""


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (REORDERED_TOML, True),
        (BASE_TOML.replace('after = "P5Y"', 'after = "P6Y"'), False),
        (BASE_TOML.replace('lifecycle = "unknown"', 'lifecycle = "former_customer"'), False),
        (BASE_TOML + '[[rules]]\nid = "legal-hold"\nenabled = false\n', False),
        (BASE_TOML.replace('after = "P2Y"', 'after = "P2Y"\naction = "delete"'), False),
    ],
)
def test_hash_depends_only_on_the_effective_rules(other: str, same: bool) -> None:
    base, changed = policy_from_toml(BASE_TOML), policy_from_toml(other)
    assert len(base.hash) == 64 and int(base.hash, 16) >= 0
    assert (base.hash == changed.hash) is same
    assert (base.canonical() == changed.canonical()) is same


def test_canonical_form_lists_rules_by_id_with_defaults_filled_in() -> None:
    canonical = load_pack("cnil").canonical()

    assert [rule["id"] for rule in canonical["rules"]] == [
        "consent-proof-email",
        "consent-withdrawn-email",
        "erasure-request",
        "legal-hold",
        "minor",
        "processing-basis-email",
        "retention-customer",
        "retention-former-customer",
        "retention-prospect",
        "sensitive-note",
        "suppression",
    ]
    assert canonical["rules"][8] == {
        "id": "retention-prospect",
        "kind": "retention",
        "lifecycle": "prospect",
        "after": "P3Y",
        "clock": "last_activity",
        "action": "anonymise",
        "description": "prospect records past their retention period",
        "legal_basis": "GDPR Art 5(1)(e); CNIL référentiel gestion commerciale (2021-131): prospect data kept "
        "at most 3 years after the last contact initiated by the prospect",
    }


def test_a_policy_refuses_two_rules_with_one_id() -> None:
    rule = load_pack("cnil").rules[0]
    with pytest.raises(ValueError, match="unique"):
        Policy((rule, rule), source="test")
