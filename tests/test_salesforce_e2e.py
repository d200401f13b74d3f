"""End to end on Salesforce: `gomme sweep --apply` against the stateful fake org, then the org is checked.

The expected outcome per person comes from the law (CNIL retention, erasure requests, legal hold), as in
the local end-to-end test; the assertions read the fake org's records, field by field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import responses
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.synthetic import demo_people
from gomme.model.records import Lifecycle, PersonRecord
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent
from tests.policy_fixture import RETENTION_POLICY_TOML

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
CONFIG = """
[state]
url = "{state_url}"

[connectors.sf]
type = "salesforce"
instance_url = "https://fake.my.salesforce.com"
access_token_env = "SF_E2E_TOKEN"
legal_hold_field = "Legal_Hold__c"
contract_end_field = "Contract_End__c"
batch_size = 200
bulk_threshold = 1000

"""


def expected_outcome(person: PersonRecord) -> str:
    """CNIL retention (3 years) and erasure requests; legal hold restricts instead (Art 17(3)(e))."""
    cutoff = NOW - dt.timedelta(days=3 * 365)
    start = person.last_activity_at or person.created_at
    if person.lifecycle is Lifecycle.FORMER_CUSTOMER and person.contract_end is not None:
        expired = person.contract_end < cutoff.date()
    else:
        expired = (
            person.lifecycle in (Lifecycle.PROSPECT, Lifecycle.FORMER_CUSTOMER) and start is not None and start < cutoff
        )
    if not (expired or person.erasure_requested):
        return "unchanged"
    return "restricted" if person.legal_hold else "anonymised"


@dataclass
class Org:
    fake: FakeSalesforce
    people: list[PersonRecord]
    ids: dict[str, str]
    config: Path
    state_url: str

    def sweep(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), "--log-format", "json", "sweep", *args])
        return result.exit_code, result.output

    def row(self, person: PersonRecord) -> dict[str, object] | None:
        sobject = "Lead" if person.object_type == "lead" else "Contact"
        return self.fake.record(sobject, self.ids[person.id])


@pytest.fixture
def org(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    monkeypatch.setenv("SF_E2E_TOKEN", "fake-token")
    fake = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    people = list(demo_people(NOW))
    ids = seed(fake, people)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(state_url=state_url) + RETENTION_POLICY_TOML)  # pinned: the oracle's law
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.register(mock)
        yield Org(fake, people, ids, config, state_url)


def test_sweep_apply_leaves_every_record_as_the_law_requires(org: Org) -> None:
    before = {p.id: dict(org.row(p) or {}) for p in org.people}
    code, output = org.sweep("--apply")
    assert code == 0, output

    outcomes = {p.id: expected_outcome(p) for p in org.people}
    assert sorted(set(outcomes.values())) == ["anonymised", "restricted", "unchanged"]
    for person in org.people:
        row, was = org.row(person), before[person.id]
        assert row is not None, person.id
        individual = org.fake.record("Individual", str(row.get("IndividualId"))) if row.get("IndividualId") else None
        match outcomes[person.id]:
            case "unchanged":
                assert row == was, person.id
            case "anonymised":
                assert (row["LastName"], row.get("FirstName"), row.get("Email"), row.get("Phone")) == (
                    "ANONYMISED",
                    None,
                    None,
                    None,
                ), person.id
                assert row.get("Description") is None and row.get("MailingCountryCode") == was.get("MailingCountryCode")
                if individual is not None:
                    assert (individual["LastName"], individual.get("FirstName"), individual.get("BirthDate")) == (
                        "ANONYMISED",
                        None,
                        None,
                    ), person.id
                    assert org.fake.consents_of(individual["Id"]) == []
            case "restricted":
                assert individual is not None and individual["HasOptedOutProcessing"], person.id
                assert row["HasOptedOutOfEmail"] and row["DoNotCall"]
                assert (row["LastName"], row.get("Email")) == (was["LastName"], was.get("Email"))

    changed = sum(outcome != "unchanged" for outcome in outcomes.values())
    engine = make_engine(org.state_url)
    with Session(engine) as db:
        events = list(db.exec(select(AuditEvent)))
    assert len(events) == changed and {e.outcome for e in events} == {"applied"}

    calls = org.fake.api_calls
    code, output = org.sweep("--apply")
    assert code == 0, output
    assert "planned 0" in output
    # Incremental: the records gomme changed, nothing else; their related records cost per page, not per person
    # (describes of Task, Event, Case, Note and the two relation objects, then at most 8 `IN (...)` queries a page,
    # one of them for classic Notes).
    assert org.fake.api_calls - calls <= 10 + 6 + 8


def test_validation_rule_failures_fail_only_their_records_and_keep_the_crm_code(org: Org) -> None:
    doomed = next(p for p in org.people if expected_outcome(p) == "anonymised")
    org.fake.faults.rejected[org.ids[doomed.id]] = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    code, output = org.sweep("--apply")
    assert code == 1, output
    assert "failed 1" in output
    engine = make_engine(org.state_url)
    with Session(engine) as db:
        failed = list(db.exec(select(AuditEvent).where(AuditEvent.outcome == "failed")))
    assert [event.error_code for event in failed] == ["FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    row = org.row(doomed)
    assert row is not None and row["LastName"] != "ANONYMISED"
