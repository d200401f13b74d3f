"""Consent kinds: a withdrawn consent the CRM still ignores, and marketing consent without proof."""

from __future__ import annotations

from typing import Any

import pytest
from policy_testkit import NOW, at, consent, person

from gomme.model.changes import Action
from gomme.model.records import OptOuts
from gomme.policies.consent import ConsentProofRule, ConsentWithdrawnRule, ProcessingBasisRule
from gomme.policies.policy import PolicyError, load_policy

WITHDRAWN = ConsentWithdrawnRule(id="withdrawn")
PROOF = ConsentProofRule(id="proof")
PROVEN = consent(captured_at=at(2023, 5, 1), source="web form")


@pytest.mark.parametrize(
    ("consents", "fires"),
    [
        ((consent("opt_out", at(2024, 1, 1)),), True),
        ((consent("opt_out", None),), True),  # an undated withdrawal still counts
        ((consent("opt_in", at(2023, 1, 1)), consent("opt_out", at(2024, 1, 1))), True),
        ((consent("opt_out", at(2023, 1, 1)), consent("opt_in", at(2024, 1, 1))), False),  # consented again later
        ((consent("opt_out", None), consent("opt_in", at(2024, 1, 1))), True),  # undated: not superseded
        ((consent("opt_out", at(2024, 1, 1)), consent("opt_in", at(2024, 1, 1))), True),  # same instant: withdrawn
        ((consent("opt_in", at(2024, 1, 1)),), False),
        ((consent("unknown", at(2024, 1, 1)),), False),
        ((consent("opt_out", at(2024, 1, 1), channel="phone"),), False),  # another channel
        ((consent("opt_out", at(2024, 1, 1), purpose="newsletter"),), False),  # another purpose
        ((), False),
    ],
)
def test_withdrawn_email_consent_fires_until_the_crm_flag_is_set(consents: tuple[Any, ...], fires: bool) -> None:
    assert (WITHDRAWN.evaluate(person(consents=consents), NOW) is not None) is fires
    opted_out = person(consents=consents, opt_outs=OptOuts(email=True))
    assert WITHDRAWN.evaluate(opted_out, NOW) is None


def test_withdrawal_evidence_names_channel_purpose_and_date() -> None:
    finding = WITHDRAWN.evaluate(person(consents=(consent("opt_out", at(2024, 3, 2)),)), NOW)

    assert finding is not None
    assert finding.action is Action.RESTRICT_EMAIL
    assert finding.facts == {
        "channel": "email",
        "purpose": "marketing",
        "withdrawn": "2024-03-02",
        "flag": "opt_outs.email",
    }
    assert "Art 7(3)" in finding.legal_basis


def test_phone_withdrawal_needs_an_explicit_action_that_stops_phones() -> None:
    rule = ConsentWithdrawnRule.model_validate({"id": "phone", "channel": "phone", "action": "restrict_all"})
    record = person(consents=(consent("opt_out", at(2024, 1, 1), channel="phone"),))

    finding = rule.evaluate(record, NOW)

    assert finding is not None and finding.action is Action.RESTRICT_ALL
    assert rule.evaluate(person(consents=record.consents, opt_outs=OptOuts(phone=True)), NOW) is None
    with pytest.raises(PolicyError) as caught:
        load_policy({"rules": [{"id": "p", "kind": "consent_withdrawn", "channel": "phone"}]}, source="t")
    assert [str(i) for i in caught.value.issues] == ["rules[0].action: required"]
    with pytest.raises(PolicyError, match="restrict_email does not stop the phone channel"):
        load_policy(
            {"rules": [{"id": "p", "kind": "consent_withdrawn", "channel": "phone", "action": "restrict_email"}]},
            source="t",
        )


@pytest.mark.parametrize(
    ("record_fields", "missing"),
    [
        ({"audience": "b2c"}, "opt_in"),
        ({"audience": "b2c", "consents": (consent(captured_at=None, source=None),)}, "captured_at,source"),
        ({"audience": "b2c", "consents": (consent(captured_at=at(2023, 1, 1), source=""),)}, "source"),
        ({"audience": "b2c", "consents": (consent(captured_at=None),)}, "captured_at"),
        ({"audience": "b2c", "consents": (consent("opt_out", at(2023, 1, 1)),)}, "opt_in"),
        ({"audience": "b2b", "legal_basis": "consent"}, "opt_in"),  # B2B on consent must prove it too
        ({"audience": "b2b", "legal_basis": "unknown"}, "opt_in"),
        ({"audience": "b2c", "lifecycle": "former_customer"}, "opt_in"),
    ],
)
def test_marketing_without_provable_consent_is_restricted(record_fields: dict[str, Any], missing: str) -> None:
    finding = PROOF.evaluate(person(**record_fields), NOW)

    assert finding is not None
    assert (finding.action, finding.facts["missing"]) == (Action.RESTRICT_EMAIL, missing)


@pytest.mark.parametrize(
    "record_fields",
    [
        {"audience": "b2c", "consents": (PROVEN,)},
        {"audience": "b2c", "consents": (consent(captured_at=None), PROVEN)},  # one proven opt-in suffices
        {"audience": "b2b", "legal_basis": "legitimate_interest"},  # B2B opt-out regime (CNIL 2005)
        {"audience": "b2c", "lifecycle": "customer"},  # soft opt-in for analogous products (L.34-5)
        {"audience": "unknown"},  # not judged by default
        {"audience": "b2c", "opt_outs": OptOuts(email=True)},  # nothing left to restrict
        {
            "audience": "b2c",
            "consents": (consent(captured_at=at(2023, 1, 1), channel="phone"),),
            "lifecycle": "customer",
        },
    ],
)
def test_proven_exempt_or_already_restricted_contacts_are_left_alone(record_fields: dict[str, Any]) -> None:
    assert PROOF.evaluate(person(**record_fields), NOW) is None


@pytest.mark.parametrize(
    ("params", "record_fields", "fires"),
    [
        ({"audiences": ["b2c", "b2b", "unknown"]}, {"audience": "unknown"}, True),
        ({"b2b_exempt_bases": []}, {"audience": "b2b", "legal_basis": "legitimate_interest"}, True),
        ({"exempt_lifecycles": []}, {"audience": "b2c", "lifecycle": "customer"}, True),
        (
            {"required": ["captured_at", "source", "double_opt_in_at"]},
            {"audience": "b2c", "consents": (PROVEN,)},
            True,
        ),
        ({"purposes": ["newsletter"]}, {"audience": "b2c", "consents": (PROVEN,)}, True),
    ],
)
def test_consent_proof_exemptions_are_configurable(
    params: dict[str, Any], record_fields: dict[str, Any], fires: bool
) -> None:
    rule = ConsentProofRule.model_validate({"id": "proof", **params})
    assert (rule.evaluate(person(**record_fields), NOW) is not None) is fires


def test_consent_rules_rely_on_the_cursor_for_pushdown() -> None:
    assert WITHDRAWN.prefilters(NOW) == PROOF.prefilters(NOW) == ()


@pytest.mark.parametrize(
    ("record_fields", "fires"),
    [
        ({"opt_outs": OptOuts(solicit=True)}, True),  # Salesforce "Don't Market" with email still open
        ({"opt_outs": OptOuts(solicit=True, email=True)}, False),  # already closed
        ({"opt_outs": OptOuts(solicit=True), "restricted": True}, False),  # restrict_all closes every channel
        ({"opt_outs": OptOuts()}, False),
    ],
)
def test_dont_market_stops_email_marketing_like_a_withdrawn_consent(record_fields: dict[str, Any], fires: bool) -> None:
    finding = WITHDRAWN.evaluate(person(**record_fields), NOW)
    assert (finding is not None) is fires
    assert ConsentWithdrawnRule(id="w", solicit=False).evaluate(person(**record_fields), NOW) is None


BASIS = ProcessingBasisRule(id="basis")


@pytest.mark.parametrize(
    ("record_fields", "fires"),
    [
        ({"legal_basis": "none", "consents": (consent("opt_in", at(2023, 1, 1), purpose="newsletter"),)}, True),
        ({"legal_basis": "unknown", "consents": (consent("opt_in", at(2023, 1, 1)),)}, False),  # not tracked
        ({"legal_basis": "consent", "consents": (consent("opt_in", at(2023, 1, 1)),)}, False),
        ({"legal_basis": "legitimate_interest", "consents": (consent("opt_in", at(2023, 1, 1)),)}, False),
        ({"legal_basis": "none", "consents": (consent("opt_out", at(2023, 1, 1)),)}, False),  # not subscribed
        ({"legal_basis": "none", "consents": (consent("opt_in", at(2023, 1, 1)),), "opt_outs": OptOuts(email=True)},
         False),
        ({"legal_basis": "none", "consents": (consent("opt_in", at(2023, 1, 1)),), "restricted": True}, False),
    ],
)
def test_subscribed_without_a_recorded_basis_for_processing_is_unsubscribed(
    record_fields: dict[str, Any], fires: bool
) -> None:
    finding = BASIS.evaluate(person(**record_fields), NOW)
    assert (finding is not None) is fires
    if finding is not None:
        assert finding.action is Action.RESTRICT_EMAIL


@pytest.mark.parametrize(
    ("record_fields", "fires"),
    [
        ({"audience": "b2b", "legal_basis": "unknown"}, False),  # B2B opt-out regime, basis not tracked
        ({"audience": "b2b", "legal_basis": "none"}, False),
        ({"audience": "b2b", "legal_basis": "consent"}, True),  # relies on consent: must prove it
        ({"audience": "b2c", "lifecycle": "former_customer"}, False),  # soft opt-in, within retention
        ({"audience": "b2c", "lifecycle": "prospect"}, True),
        ({"audience": "unknown", "lifecycle": "prospect"}, False),
    ],
)
def test_the_cnil_pack_judges_proof_of_consent_where_the_law_requires_it(
    record_fields: dict[str, Any], fires: bool
) -> None:
    rule = next(r for r in load_policy({"extends": "cnil"}, source="t").rules if r.id == "consent-proof-email")
    assert (rule.evaluate(person(**record_fields), NOW) is not None) is fires


@pytest.mark.parametrize(
    ("record_fields", "fires"),
    [
        # the recorded basis is consent; the audience is not known (HubSpot): a subscription must say how
        ({"legal_basis": "consent", "consents": (consent("opt_in", at(2023, 1, 1), source=None),)}, True),
        ({"legal_basis": "consent", "consents": (consent("opt_in", at(2023, 1, 1), source="fair form"),)}, False),
        ({"legal_basis": "consent", "consents": (consent("opt_in", None, source="CONSENT_WITH_NOTICE"),)}, False),
        ({"legal_basis": "consent", "consents": ()}, False),  # not subscribed: nothing to stop
        ({"legal_basis": "legitimate_interest", "consents": (consent("opt_in", at(2023, 1, 1), source=None),)},
         False),
        ({"legal_basis": "consent", "lifecycle": "customer",
          "consents": (consent("opt_in", at(2023, 1, 1), source=None),)}, False),  # soft opt-in
    ],
)
def test_a_consent_basis_must_show_how_consent_was_given_whatever_the_audience(
    record_fields: dict[str, Any], fires: bool
) -> None:
    assert (PROOF.evaluate(person(audience="unknown", **record_fields), NOW) is not None) is fires
