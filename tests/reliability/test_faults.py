"""With about 10% of CRM calls faulted (429/5xx bursts, timeouts, resets, lock errors, answers lost after
the write), sweeps still end in the state the law requires, with no record failed for a transient reason
and each change audited once. Seeded, against the Salesforce and HubSpot fakes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
import responses
from fakes.hubspot import TOKEN, UNLIMITED, FakeHubSpot
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from fakes.salesforce_http import Faults
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.synthetic import demo_people
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent, Change
from tests.policy_fixture import RETENTION_POLICY_TOML
from tests.state_key import TEST_KEYRING

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
# A password login (SOAP), which gomme repeats when the session expires; the fake accepts any secret.
SF_LOGIN = (
    'username = "gomme@example.com"\npassword_env = "SF_FAULT_PASSWORD"\n'
    'security_token_env = "SF_FAULT_SECURITY_TOKEN"\n'
)


class CountedFaults(Faults):
    """The fake's seeded faults, counted, so a test can show they really happened."""

    fired: int = 0
    lost_calls: tuple[str, ...] = ()  # "METHOD path" of each call carried out whose answer was lost

    def draw(self, rate: float) -> bool:
        hit = super().draw(rate)
        self.fired += hit
        return hit

    def lose(self, method: str, path: str) -> bool:
        hit = super().lose(method, path)
        if hit:
            self.lost_calls += (f"{method} {path.split('/services/data/', 1)[-1]}",)
        return hit


def _sweep(config: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "--log-format", "json", "sweep", "--apply"])
    return result.exit_code, result.output


def _audited_once(state_url: str) -> Counter[str]:
    engine = make_engine(state_url)
    with Session(engine) as db:
        events = list(db.exec(select(AuditEvent)))
        statuses = Counter(c.status for c in db.exec(select(Change)))
    assert verify(engine, TEST_KEYRING).ok
    per_change = Counter(e.change_id for e in events)
    assert set(per_change.values()) <= {1}, "a change was audited twice"
    assert {e.outcome for e in events} <= {"applied"}, "a record failed for a transient reason"
    return statuses


def _salesforce_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: Faults) -> FakeSalesforce:
    """Sweeps the demo people in a fake org with these faults; asserts the law's outcome, each change
    audited once and nothing failed or left pending; returns the org."""
    monkeypatch.setenv("SF_FAULT_PASSWORD", "fake-password")
    monkeypatch.setenv("SF_FAULT_SECURITY_TOKEN", "fake-security-token")
    org = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    people = list(demo_people(NOW))
    ids = seed(org, people)
    org.faults = faults
    state_url = f"sqlite:///{tmp_path}/state.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\nurl = "{state_url}"\n[connectors.sf]\ntype = "salesforce"\n'
        + SF_LOGIN
        + 'legal_hold_field = "Legal_Hold__c"\ncontract_end_field = "Contract_End__c"\n'
        "backoff_seconds = 0.001\nbackoff_max_seconds = 0.01\n" + RETENTION_POLICY_TOML
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org.register(mock)
        code, output = _sweep(config)
    assert code == 0, output
    statuses = _audited_once(state_url)
    assert statuses["failed"] == 0 and statuses["pending"] == 0 and statuses["applied"] > 0
    from tests.test_salesforce_e2e import expected_outcome

    for person in people:
        row = org.record("Lead" if person.object_type == "lead" else "Contact", ids[person.id])
        assert row is not None
        anonymised = row["LastName"] == "ANONYMISED"
        assert anonymised == (expected_outcome(person) == "anonymised"), person.id
    return org


# A sweep makes ~30 API calls (describes, the people, their related records, re-reads before writing, writes).
# Seeds chosen so that the answer to a write is lost, with (51) and without (0) a session expiring on the way
# (re-drawn when the calls change; last with issue #19's classic Notes: seeds 0-59 all end right).
@pytest.mark.parametrize(("fault_seed", "expired"), [(51, 1), (0, 0)])
def test_salesforce_sweep_with_ten_percent_faults_ends_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault_seed: int, expired: int
) -> None:
    faults = CountedFaults(seed=fault_seed, unavailable_rate=0.03, reset_rate=0.02, lock_rate=0.02,
                           expire_rate=0.01, lost_rate=0.02, retry_after="0")  # fmt: skip
    org = _salesforce_sweep(tmp_path, monkeypatch, faults)
    assert faults.fired > 0 and faults.expired == expired
    assert any(call.startswith(("PATCH", "DELETE")) for call in faults.lost_calls), faults.lost_calls
    assert org.logins == 1 + faults.expired, "each expired session is renewed by one login"


SEED_TIMING_OUT_A_WRITE = 0  # seeds 0, 1, 9, 10, 11, 14, 16, 19 (of 0-29, all ending right) time out a write too


def test_salesforce_sweep_whose_calls_time_out_after_being_carried_out_ends_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read timeouts: the org carried the call out, too slowly; gomme retries (a write lands twice)."""
    faults = CountedFaults(seed=SEED_TIMING_OUT_A_WRITE, timeout_rate=0.1, timeout_next=2)  # 2 at once, then 10%
    _salesforce_sweep(tmp_path, monkeypatch, faults)
    assert len(faults.timed_out) > 2 and any(call.startswith(("PATCH", "DELETE")) for call in faults.timed_out)


@pytest.mark.parametrize("fault_seed", [1, 3, 5, 6])  # seeds under which faults fire (0-15 all end right)
def test_hubspot_sweep_with_ten_percent_faults_ends_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault_seed: int
) -> None:
    from tests.connectors.hubspot.test_hubspot_sweep_e2e import config_text, expected_outcome, properties

    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    people = list(demo_people(NOW))
    with FakeHubSpot(limits=UNLIMITED, timeout_delay=0.3, seed=fault_seed) as hubspot:
        for name, kind in (
            ("gomme_restricted", "bool"),
            ("legal_hold", "bool"),
            ("contract_end_date", "date"),
            ("gomme_erasure_requested", "bool"),
        ):
            hubspot.portal.define(name, kind)
        ids = hubspot.portal.add_many(properties(person) for person in people)
        for kind in ("429", "503", "timeout", "reset", "lost"):
            hubspot.fault_rate(kind, 0.02)
        state_url = f"sqlite:///{tmp_path}/state.db"
        config = tmp_path / "config.toml"
        fast = "timeout_seconds = 0.2\nbackoff_seconds = 0.001\nbackoff_max_seconds = 0.02\nmax_attempts = 8\n"
        config.write_text(
            config_text(hubspot.url, state_url, "anonymise").replace(
                'delete_mode = "gdpr"\n', 'delete_mode = "gdpr"\n' + fast
            )
        )
        code, output = _sweep(config)
        assert code == 0, output
        assert sum(hubspot.faults_done.values()) > 0
        statuses = _audited_once(state_url)
        assert statuses["failed"] == 0 and statuses["pending"] == 0 and statuses["applied"] > 0
        hubspot.clear_faults()
        for record_id, person in zip(ids, people, strict=True):
            now = hubspot.portal.get(record_id)
            erased = now is not None and now.get("lastname") == "ANONYMISED"
            assert erased == (expected_outcome(person) == "erased"), record_id
