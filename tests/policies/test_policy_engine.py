"""decide(): every finding kept, strongest permitted action, caps, already-in-effect, pushdown query."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pytest
from policy_testkit import NOW, at, matches, person

from gomme.model.changes import Action
from gomme.model.conditions import Condition, FilterGroup, Op
from gomme.model.records import OptOuts, PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.engine import decide, prefilter_query, resolve
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.policy import Policy, load_pack, load_policy
from gomme.policies.rules import RULE_KINDS, RuleBase

CNIL = load_pack("cnil")
STALE_PROSPECT: dict[str, Any] = {"lifecycle": "prospect", "last_activity_at": at(2020, 1, 1)}


def finding(rule_id: str, action: Action, *, cap: bool = False, **values: str) -> Finding:
    return Finding(rule_id, "test", action, f"basis of {rule_id}", f"reason of {rule_id}", {}, cap=cap, values=values)


def test_prospect_inactive_three_years_is_anonymised() -> None:
    decision = decide(person(**STALE_PROSPECT), CNIL, NOW)

    assert (decision.action, decision.rule_id, decision.changes) == (Action.ANONYMISE, "retention-prospect", True)
    assert decision.legal_basis is not None and "Art 5(1)(e)" in decision.legal_basis
    assert decision.record_ref == "local:contact:c-0001"
    assert decision.evaluated == (
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
    )


def test_active_prospect_is_kept_with_no_findings() -> None:
    decision = decide(person(lifecycle="prospect", last_activity_at=at(2024, 6, 1)), CNIL, NOW)

    assert (decision.action, decision.rule_id, decision.findings, decision.changes) == (Action.KEEP, None, (), False)
    assert set(decision.explain().values()) == {"did not fire"}


@pytest.mark.parametrize(
    ("record_fields", "action", "in_effect"),
    [
        ({**STALE_PROSPECT, "legal_hold": True, "restricted": True}, Action.KEEP, Action.RESTRICT_ALL),
        ({**STALE_PROSPECT, "restricted": True}, Action.ANONYMISE, None),  # a restriction is not an erasure
        ({**STALE_PROSPECT, "opt_outs": OptOuts(email=True)}, Action.ANONYMISE, None),
    ],
)
def test_action_already_in_effect_plans_nothing_but_keeps_the_evidence(
    record_fields: dict[str, Any], action: Action, in_effect: Action | None
) -> None:
    decision = decide(person(**record_fields), CNIL, NOW)

    assert (decision.action, decision.in_effect) == (action, in_effect)
    assert decision.changes is (action is not Action.KEEP)
    assert decision.findings  # the rules that fired are still on record
    if in_effect is not None:
        assert decision.rule_id is None
        assert "already in effect" in " ".join(decision.explain().values())


@pytest.mark.parametrize(
    "record_fields",
    [
        {**STALE_PROSPECT},
        {"erasure_requested": True},
        {"birthdate": dt.date(2012, 1, 1), "notes": {"description": "Client très pénible."}},
    ],
)
def test_an_anonymised_record_is_left_alone_without_evaluating_rules(record_fields: dict[str, Any]) -> None:
    decision = decide(person(**record_fields, anonymised=True), CNIL, NOW, facts=RecordFacts(suppressed=True))

    assert (decision.action, decision.in_effect, decision.findings, decision.evaluated) == (
        Action.KEEP,
        Action.ANONYMISE,
        (),
        (),
    )
    assert not decision.changes


@pytest.mark.parametrize(
    ("facts", "legal_hold", "action"),
    [
        (RecordFacts(suppressed=True), False, Action.ANONYMISE),
        (RecordFacts(suppressed=True), True, Action.RESTRICT_ALL),  # Art 17(3)(e) caps the re-erasure too
        (RecordFacts(), False, Action.KEEP),
    ],
)
def test_a_suppressed_person_who_reappears_is_erased_again(
    facts: RecordFacts, legal_hold: bool, action: Action
) -> None:
    record = person(lifecycle="prospect", last_activity_at=at(2024, 11, 1), legal_hold=legal_hold)

    decision = decide(record, CNIL, NOW, facts=facts)

    assert decision.action is action
    fired = {f.rule_id: f for f in decision.findings}
    assert ("suppression" in fired) is facts.suppressed
    if facts.suppressed:
        assert fired["suppression"].facts == {"list": "suppression", "match": "email_hmac"}
        assert "Art 17(1)" in fired["suppression"].legal_basis


def test_facts_default_to_nothing_known() -> None:
    record = person(lifecycle="prospect", last_activity_at=at(2024, 11, 1))
    assert decide(record, CNIL, NOW) == decide(record, CNIL, NOW, facts=RecordFacts())


@pytest.mark.parametrize(
    "record_fields",
    [
        {**STALE_PROSPECT, "legal_hold": True},
        {"erasure_requested": True, "legal_hold": True},
        {"lifecycle": "former_customer", "contract_end": dt.date(2019, 1, 1), "legal_hold": True},
    ],
)
def test_legal_hold_caps_erasure_to_restrict_all(record_fields: dict[str, Any]) -> None:
    decision = decide(person(**record_fields), CNIL, NOW)

    assert decision.action is Action.RESTRICT_ALL
    assert decision.capped_by == "legal-hold"
    assert {f.rule_id for f in decision.findings} >= {"legal-hold"}
    assert decision.legal_basis is not None and "capped by legal-hold: GDPR Art 17(3)(e)" in decision.legal_basis
    assert decision.explain()["legal-hold"].endswith("-> capped the action")


def test_legal_hold_alone_changes_nothing() -> None:
    decision = decide(person(lifecycle="prospect", last_activity_at=at(2024, 1, 1), legal_hold=True), CNIL, NOW)

    assert (decision.action, decision.capped_by, decision.changes) == (Action.KEEP, None, False)
    assert [f.rule_id for f in decision.findings] == ["legal-hold"]


def test_every_rule_that_fires_is_kept_and_the_strongest_wins() -> None:
    policy = load_policy({"extends": "cnil", "rules": [{"id": "erasure-request", "action": "delete"}]}, source="test")
    decision = decide(person(**STALE_PROSPECT, erasure_requested=True), policy, NOW)

    assert (decision.action, decision.rule_id) == (Action.DELETE, "erasure-request")
    assert {f.rule_id for f in decision.findings} == {"erasure-request", "retention-prospect"}
    assert decision.explain()["retention-prospect"].endswith("-> outranked")


@pytest.mark.parametrize(
    ("findings", "record_fields", "expected"),
    [
        # (action, rule_id, also, capped_by)
        ([finding("a", Action.RESTRICT_EMAIL), finding("b", Action.ANONYMISE)], {}, (Action.ANONYMISE, "b", (), None)),
        ([finding("a", Action.ANONYMISE), finding("b", Action.ANONYMISE)], {}, (Action.ANONYMISE, "a", (), None)),
        (
            [finding("a", Action.DELETE), finding("h", Action.RESTRICT_ALL, cap=True)],
            {},
            (Action.RESTRICT_ALL, "a", (), "h"),
        ),
        (
            [finding("a", Action.RESTRICT_EMAIL), finding("h", Action.RESTRICT_ALL, cap=True)],
            {},
            (Action.RESTRICT_EMAIL, "a", (), None),
        ),
        (
            [finding("n", Action.REDACT_NOTE), finding("r", Action.RESTRICT_ALL)],
            {},
            (Action.RESTRICT_ALL, "r", (Action.REDACT_NOTE,), None),
        ),
        (
            [finding("n", Action.REDACT_NOTE), finding("e", Action.RESTRICT_EMAIL)],
            {},
            (Action.RESTRICT_EMAIL, "e", (Action.REDACT_NOTE,), None),
        ),
        ([finding("n", Action.REDACT_NOTE), finding("x", Action.ANONYMISE)], {}, (Action.ANONYMISE, "x", (), None)),
        # an erase capped to a restriction still gets the note redacted
        (
            [
                finding("n", Action.REDACT_NOTE),
                finding("x", Action.ANONYMISE),
                finding("h", Action.RESTRICT_ALL, cap=True),
            ],
            {},
            (Action.RESTRICT_ALL, "x", (Action.REDACT_NOTE,), "h"),
        ),
        # the restriction is already there; the redaction alone remains to do
        (
            [finding("n", Action.REDACT_NOTE), finding("r", Action.RESTRICT_ALL)],
            {"restricted": True},
            (Action.REDACT_NOTE, "n", (), None),
        ),
        ([finding("n", Action.REDACT_NOTE)], {"anonymised": True}, (Action.KEEP, None, (), None)),
        ([finding("k", Action.KEEP)], {}, (Action.KEEP, None, (), None)),
    ],
)
def test_conflicts_resolve_to_the_strongest_permitted_action(
    findings: list[Finding],
    record_fields: dict[str, Any],
    expected: tuple[Action, str | None, tuple[Action, ...], str | None],
) -> None:
    decision = resolve(person(**record_fields), findings)

    assert (decision.action, decision.rule_id, decision.also, decision.capped_by) == expected
    assert decision.findings == tuple(findings)


def test_values_come_only_from_the_findings_whose_action_is_taken() -> None:
    findings = [
        finding("n", Action.REDACT_NOTE, note="[redacted]"),
        finding("x", Action.ANONYMISE, email="anon@invalid"),
        finding("h", Action.RESTRICT_ALL, cap=True),
    ]
    assert resolve(person(), findings).values == {"note": "[redacted]"}


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(person(), CNIL, dt.datetime(2024, 11, 23, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        prefilter_query(CNIL, dt.datetime(2024, 11, 23, 12, 0), None)


def test_now_in_another_timezone_decides_like_utc() -> None:
    paris_winter = dt.timezone(dt.timedelta(hours=1))
    record = person(**STALE_PROSPECT)
    assert decide(record, CNIL, NOW.astimezone(paris_winter)) == decide(record, CNIL, NOW)


def test_prefilter_query_ors_the_groups_of_every_rule_after_a_cursor() -> None:
    query = prefilter_query(CNIL, NOW, {"contact": "2024-11-22T00:00:00Z"})

    assert query.everything is False
    assert query.since == {"contact": "2024-11-22T00:00:00Z"}
    assert (Condition("erasure_requested", Op.EQ, True), Condition("anonymised", Op.EQ, False)) in query.prefilters
    # 1 erasure + 2 prospect + 2 customer + 3 former customer + 1 minor
    assert len(query.prefilters) == len(set(query.prefilters)) == 9
    assert matches(person(**STALE_PROSPECT), query.prefilters)
    assert matches(person(birthdate=dt.date(2010, 5, 1)), query.prefilters)
    assert not matches(person(lifecycle="prospect", last_activity_at=at(2024, 1, 1)), query.prefilters)


def test_anonymised_records_are_not_pulled_again_by_the_erasing_rules() -> None:
    query = prefilter_query(CNIL, NOW, {"contact": "2024-11-22T00:00:00Z"})
    assert not matches(person(**STALE_PROSPECT, anonymised=True), query.prefilters)
    assert not matches(person(erasure_requested=True, anonymised=True), query.prefilters)


def test_first_sweep_pulls_everything_because_consent_and_note_rules_rely_on_the_cursor() -> None:
    query = prefilter_query(CNIL, NOW, None)
    assert (query.everything, query.since) == (True, None)


def test_caps_never_act_alone_so_they_add_no_prefilter() -> None:
    policy = load_policy(
        {
            "extends": "cnil",
            "rules": [
                {"id": rule_id, "enabled": False}
                for rule_id in (
                    "consent-proof-email", "consent-withdrawn-email", "processing-basis-email", "sensitive-note",
                    "suppression",
                )
            ],
        },
        source="test",
    )
    query = prefilter_query(policy, NOW, None)
    assert (query.everything, len(query.prefilters)) == (False, 9)


class EveryoneRule(RuleBase):
    """A rule kind defined outside the package: restricts every record, and needs to see them all."""

    kind: Literal["everyone"] = "everyone"
    legal_basis: str = "test basis"

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        return self.finding(Action.RESTRICT_EMAIL, "every record", {})

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return None


class ChangedOnlyRule(EveryoneRule):
    """Fires only on what changed since the last sweep: relies on the cursor."""

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return ()


def test_a_new_rule_kind_is_one_class_and_one_registry_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(RULE_KINDS, "everyone", EveryoneRule)
    policy = load_policy({"extends": "cnil", "rules": [{"id": "all", "kind": "everyone"}]}, source="test")

    decision = decide(person(lifecycle="prospect", last_activity_at=at(2024, 1, 1)), policy, NOW)

    assert (decision.action, decision.rule_id) == (Action.RESTRICT_EMAIL, "all")
    assert prefilter_query(policy, NOW, {"contact": "x"}).everything is True


@pytest.mark.parametrize(("since", "everything"), [(None, True), ({"contact": "x"}, False)])
def test_a_rule_relying_on_changes_pulls_everything_only_without_a_cursor(
    since: dict[str, str] | None, everything: bool
) -> None:
    policy = Policy((*CNIL.rules, ChangedOnlyRule(id="changed")), source="test")
    query = prefilter_query(policy, NOW, since)
    assert (query.everything, len(query.prefilters)) == (everything, 0 if everything else 9)


@pytest.mark.parametrize(
    "record_fields",
    [{}, {**STALE_PROSPECT}, {**STALE_PROSPECT, "legal_hold": True}, {"anonymised": True}],
)
def test_every_decision_names_the_policy_version(record_fields: dict[str, Any]) -> None:
    assert decide(person(**record_fields), CNIL, NOW).policy_hash == CNIL.hash


def test_a_decision_never_shows_new_field_values_in_its_repr() -> None:
    record = person(notes={"description": "Budget OK. Client très pénible."})
    decision = decide(record, CNIL, NOW)

    assert decision.values == {"notes.description": "Budget OK. [redacted]"}
    assert "Budget" not in repr(decision) and "redacted]" not in repr(decision)
    assert repr(decision).startswith("Decision(record_ref='local:contact:c-0001', action=<Action.REDACT_NOTE")


def test_a_kept_decision_has_no_values_to_change() -> None:
    decision = decide(person(), CNIL, NOW)
    assert decision.values == {}
    with pytest.raises(TypeError):
        decision.values["x"] = "y"  # the shared default is read-only on purpose
