"""`gomme policy explain` says why each rule that did not fire did not: dates, codes and field names, never the
person's data."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from gomme.model.records import Audience, Consent, ConsentStatus, LegalBasis, Lifecycle, OptOuts, PersonRecord
from gomme.policies.engine import decide, why_not
from gomme.policies.facts import RecordFacts
from gomme.policies.period import Period
from gomme.policies.policy import load_pack, load_policy
from tests.reasons_crm import PERSONAL, RECENT, RUNNING, gomme, local_crm

CNIL = load_pack("cnil")
RULES = {rule.id: rule for rule in CNIL.rules}
NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
OPT_OUT = Consent("email", "marketing", ConsentStatus.OPT_OUT, dt.datetime(2023, 1, 5, tzinfo=dt.UTC))
OPT_IN = Consent("email", "marketing", ConsentStatus.OPT_IN, dt.datetime(2024, 2, 1, tzinfo=dt.UTC), source="form")


def _person(**fields: object) -> PersonRecord:
    return PersonRecord(crm="crm", object_type="contact", id="x1", email="someone@example.org", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule_id", "fields", "expected"),
    [
        ("retention-customer", {"lifecycle": Lifecycle.PROSPECT}, "lifecycle is prospect, rule is for customer"),
        ("retention-customer", {"lifecycle": Lifecycle.CUSTOMER, "contract_end": dt.date(2027, 3, 4)},
         "contract runs until 2027-03-04: kept while it runs"),
        ("retention-customer", {"lifecycle": Lifecycle.CUSTOMER},
         "no contract end and no last activity: nothing shows the relationship ended"),
        ("retention-prospect", {"lifecycle": Lifecycle.PROSPECT}, "no last activity or creation date: "
         "nothing starts the clock"),
        ("retention-prospect", {"lifecycle": Lifecycle.PROSPECT,
                                "last_activity_at": dt.datetime(2024, 3, 4, 10, tzinfo=dt.UTC)},
         "last activity 2024-03-04 + P3Y: due 2027-03-04, not yet"),
        ("retention-former-customer", {"lifecycle": Lifecycle.FORMER_CUSTOMER, "contract_end": dt.date(2023, 9, 30)},
         "contract end 2023-09-30 + P3Y: due 2026-09-30, not yet"),
        ("erasure-request", {}, "no erasure request (erasure_requested not set)"),
        ("legal-hold", {}, "not under legal hold (legal_hold not set)"),
        ("suppression", {}, "not on the suppression list (no erasure or objection recorded for this email)"),
        ("consent-withdrawn-email", {}, "no email opt-out recorded for marketing"),
        ("consent-withdrawn-email", {"consents": (OPT_OUT, OPT_IN)},
         "a later email opt-in (2024-02-01) supersedes the opt-out"),
        ("consent-withdrawn-email", {"consents": (OPT_OUT,), "opt_outs": OptOuts(email=True)},
         "opt_outs.email already set: the email channel is closed"),
        ("consent-proof-email", {}, "audience is unknown (rule judges b2c, b2b) and the recorded basis is unknown"),
        ("consent-proof-email", {"audience": Audience.B2B, "legal_basis": LegalBasis.LEGITIMATE_INTEREST},
         "B2B contact on legitimate_interest: exempt"),
        ("consent-proof-email", {"audience": Audience.B2C, "lifecycle": Lifecycle.CUSTOMER},
         "lifecycle customer is exempt (soft opt-in, CPCE L.34-5)"),
        ("consent-proof-email", {"audience": Audience.B2C, "consents": (OPT_IN,)},
         "a email opt-in for marketing records its captured_at and source"),
        ("processing-basis-email", {}, "legal basis for processing is unknown (rule is for none)"),
        ("processing-basis-email", {"legal_basis": LegalBasis.NONE}, "no email subscription"),
        ("minor", {}, "no birth date"),
        ("minor", {"birthdate": dt.date(2014, 1, 1), "parental_consent": True}, "parental consent recorded"),
        ("minor", {"birthdate": dt.date(2014, 1, 1), "legal_basis": LegalBasis.CONTRACT},
         "legal basis is contract (Art 8 is about consent; rule is for consent, none, unknown)"),
        ("minor", {"birthdate": dt.date(2030, 1, 1)}, "birth date in the future: a data error, not a child"),
        ("minor", {"birthdate": dt.date(2009, 1, 1), "country": "FR"}, "not under 15, the digital-consent age (FR)"),
        ("sensitive-note", {}, "no notes"),
        ("sensitive-note", {"notes": {"description": "Asked for a quote."}},
         "no sensitive content found in 1 note field(s): description"),
    ],
)  # fmt: skip
def test_each_kind_says_why_it_did_not_fire(rule_id: str, fields: dict[str, object], expected: str) -> None:
    rule, record = RULES[rule_id], _person(**fields)

    assert rule.evaluate(record, NOW) is None
    assert rule.why_not(record, NOW) == expected
    assert "someone" not in expected and "2014-01-01" not in expected  # no email, no birth date


def test_match_names_the_condition_that_failed() -> None:
    policy = load_policy(
        {"rules": [{"id": "rivals", "kind": "match", "action": "restrict_all", "legal_basis": "Art 21(1)",
                    "all": [{"field": "country", "op": "eq", "value": "FR"}],
                    "any": [{"field": "lifecycle", "op": "eq", "value": "prospect"},
                            {"field": "created_at", "op": "older_than", "value": "P1Y"}]}]},
        source="test",
    )  # fmt: skip
    (rule,) = policy.rules

    assert rule.why_not(_person(country="DE"), NOW) == "not met: country eq 'FR'"
    assert rule.why_not(_person(country="FR", lifecycle=Lifecycle.CUSTOMER, created_at=RECENT), NOW) == (
        "none of any [lifecycle eq 'prospect', created_at older_than 'P1Y'] holds"
    )


def test_why_not_covers_exactly_the_rules_that_ran_and_did_not_fire() -> None:
    record = _person(lifecycle=Lifecycle.PROSPECT, erasure_requested=True)
    decision = decide(record, CNIL, NOW, facts=RecordFacts())

    reasons = why_not(record, CNIL, NOW, decision)

    assert set(reasons) == set(CNIL.rule_ids) - {"erasure-request"}
    assert all(reasons.values())


def test_policy_explain_says_why_for_every_rule(tmp_path: Path, state_url: str) -> None:
    config = local_crm(tmp_path, state_url)

    code, output = gomme(config, "policy", "explain", "--connector", "crm", "--id", "p6")  # a recent prospect

    assert code == 0, output
    due = Period.parse("P3Y").after(RECENT.date()).isoformat()
    for reason in (
        "lifecycle is prospect, rule is for customer",
        "lifecycle is prospect, rule is for former_customer",
        f"last activity {RECENT.date().isoformat()} + P3Y: due {due}, not yet",
        "no erasure request",
        "not under legal hold",
        "not on the suppression list",
        "no email opt-out recorded for marketing",
        "no birth date",
        "no sensitive content found in 1 note field(s): description",
    ):
        assert reason in output, reason
    rows = [line for line in output.splitlines() if re.search(r"\b(yes|no)\b", line)]
    assert not [row for row in rows if re.search(r"│\s*-\s*│", row)]  # no rule is left without a why
    assert "action: keep" in output
    assert not [value for value in PERSONAL if value in output]


def test_policy_explain_of_a_running_contract_names_its_end(tmp_path: Path, state_url: str) -> None:
    config = local_crm(tmp_path, state_url)

    code, output = gomme(config, "policy", "explain", "--connector", "crm", "--id", "p3")  # a child customer

    assert code == 0, output
    assert f"contract runs until {RUNNING.isoformat()}: kept while it runs" in output
    assert "audience is unknown (rule judges b2c, b2b) and the recorded basis is unknown" in output
    assert "action: restrict_all by rule minor" in output
    assert not [value for value in PERSONAL if value in output]
