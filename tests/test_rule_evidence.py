"""Each audit entry says why: the evidence of the deciding rules (facts that fired, the dates that drove a clock,
codes and counts), shown by `audit show` and the export, never a name, email, phone, birth date or note."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from gomme.jobs.plan import EVIDENCE_LIMIT, evidence_of, fit_evidence
from gomme.model.records import Consent, ConsentStatus, Lifecycle, PersonRecord
from gomme.policies.engine import decide
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.policy import load_pack, load_policy
from tests.reasons_crm import PERSONAL, gomme, local_crm

CNIL = load_pack("cnil")
NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)


def _person(**fields: object) -> PersonRecord:
    who = {"email": "someone@example.org", "first_name": "Given", "last_name": "Family", "phone": "+33 6 00 00 00 01"}
    return PersonRecord(crm="crm", object_type="contact", id="x1", **{**who, **fields})  # type: ignore[arg-type]


def _evidence(record: PersonRecord, facts: RecordFacts = NO_FACTS) -> dict[str, str]:
    return {f.rule_id: f.evidence for f in decide(record, CNIL, NOW, facts=facts).findings}


@pytest.mark.parametrize(
    ("fields", "rule_id", "expected"),
    [
        ({"lifecycle": Lifecycle.PROSPECT, "last_activity_at": dt.datetime(2021, 3, 1, 9, tzinfo=dt.UTC)},
         "retention-prospect",
         "lifecycle=prospect clock_field=last_activity_at started=2021-03-01 after=P3Y due=2024-03-01"),
        ({"lifecycle": Lifecycle.FORMER_CUSTOMER, "contract_end": dt.date(2021, 5, 31)},
         "retention-former-customer",
         "lifecycle=former_customer clock_field=contract_end started=2021-05-31 after=P3Y due=2024-05-31"),
        ({"erasure_requested": True}, "erasure-request", "field=erasure_requested"),
        ({"erasure_requested": True, "legal_hold": True}, "legal-hold", "field=legal_hold"),
        ({"country": "DE", "birthdate": dt.date(2013, 2, 3)}, "minor", "country=DE under=16 legal_basis=unknown"),
        ({"consents": (Consent("email", "marketing", ConsentStatus.OPT_OUT, dt.datetime(2024, 3, 2, tzinfo=dt.UTC)),)},
         "consent-withdrawn-email", "channel=email purpose=marketing withdrawn=2024-03-02 flag=opt_outs.email"),
        ({"audience": "b2c", "lifecycle": Lifecycle.PROSPECT, "last_activity_at": NOW},
         "consent-proof-email", "channel=email audience=b2c legal_basis=unknown missing=opt_in"),
        ({"notes": {"description": "She is on chemotherapy until March."}},
         "sensitive-note", "categories=health sentences=1 fields=description"),
    ],
)  # fmt: skip
def test_every_rule_kind_leaves_evidence_without_personal_data(
    fields: dict[str, object], rule_id: str, expected: str
) -> None:
    evidence = _evidence(_person(**fields))

    assert evidence[rule_id] == expected
    assert not any(value in evidence[rule_id] for value in ("someone", "Given", "Family", "+33", "2013-02-03"))
    assert "chemotherapy" not in evidence[rule_id]


def test_suppression_evidence_names_the_list() -> None:
    evidence = _evidence(_person(lifecycle=Lifecycle.CUSTOMER), RecordFacts(suppressed=True))
    assert evidence["suppression"] == "list=suppression match=email_hmac"


def test_match_evidence_names_fields_and_operators_never_the_policy_values() -> None:
    policy = load_policy(
        {"rules": [{"id": "vip-out", "kind": "match", "action": "restrict_all", "legal_basis": "Art 21(1)",
                    "all": [{"field": "email", "op": "eq", "value": "someone@example.org"}]}]},
        source="test",
    )  # fmt: skip
    (finding,) = decide(_person(), policy, NOW).findings

    assert finding.evidence == "conditions=1 held=email:eq"


def test_the_taken_rule_comes_first_and_a_cap_keeps_the_lowered_rules_evidence() -> None:
    record = _person(lifecycle=Lifecycle.PROSPECT, last_activity_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                     legal_hold=True, notes={"description": "Arrested last year."})  # fmt: skip
    decision = decide(record, CNIL, NOW)

    assert (decision.action, decision.rule_id) == ("restrict_all", "retention-prospect")
    assert decision.capped_by == "legal-hold"
    assert evidence_of(decision) == (
        "retention-prospect: lifecycle=prospect clock_field=last_activity_at started=2020-01-01 after=P3Y "
        "due=2023-01-01; legal-hold: field=legal_hold; sensitive-note: categories=criminal sentences=1 "
        "fields=description"
    )


def test_evidence_is_cut_cleanly_to_the_state_column() -> None:
    one = "retention-prospect: lifecycle=prospect clock_field=last_activity_at started=2020-01-01 after=P3Y"
    text = "; ".join([one] * 5)

    fitted = fit_evidence(text)

    assert len(fitted) <= EVIDENCE_LIMIT and fitted.endswith("…")
    assert fitted[:-1].split("; ") == [one] * 3  # whole rules only
    assert fit_evidence(one) == one
    long_single = "rule: " + " ".join(f"k{n}=v{n}" for n in range(100))
    assert fit_evidence(long_single)[:-1].split(" ")[-1].startswith("k")  # a whole key=value, not half of one


def test_audit_show_and_export_carry_each_entrys_why(tmp_path: Path, state_url: str) -> None:
    config = local_crm(tmp_path, state_url)
    code, output = gomme(config, "sweep", "--apply")
    assert code == 0, output

    code, output = gomme(config, "audit", "log", "--format", "json")
    assert code == 0, output
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    entries = {(e["rule_id"], e["action"]): e for e in rows}
    expected = {
        ("retention-prospect", "anonymise"): "retention-prospect: lifecycle=prospect clock_field=last_activity_at "
        "started=2020-01-15 after=P3Y due=2023-01-15",
        ("retention-prospect", "restrict_all"): "retention-prospect: lifecycle=prospect clock_field=last_activity_at "
        "started=2020-01-15 after=P3Y due=2023-01-15; legal-hold: field=legal_hold",
        ("minor", "restrict_all"): "minor: country=FR under=15 legal_basis=unknown",
        ("consent-withdrawn-email", "restrict_email"): "consent-withdrawn-email: channel=email purpose=marketing "
        "withdrawn=2024-03-02 flag=opt_outs.email",
        ("erasure-request", "anonymise"): "erasure-request: field=erasure_requested",
    }
    assert len(rows) == len(entries) == len(expected)
    for key, evidence in expected.items():
        code, shown = gomme(config, "audit", "show", str(entries[key]["seq"]))
        assert code == 0, shown
        assert json.loads(shown[shown.index("{") :])["evidence"] == evidence, key

    out = tmp_path / "audit.csv"
    code, output = gomme(config, "audit", "export", "--format", "csv", "--output", str(out))
    assert code == 0, output
    exported = {(r["rule_id"], r["action"]): r["evidence"] for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert exported == expected
    everything = out.read_text(encoding="utf-8") + output
    assert not [value for value in PERSONAL if value in everything]
