"""After full sweeps on the Salesforce and HubSpot fakes, the state database and the logs hold none of the
seeded emails, phones, names or notes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import responses
from fakes.hubspot import TOKEN, UNLIMITED, FakeHubSpot
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.synthetic import demo_people
from tests.policy_fixture import RETENTION_POLICY_TOML
from tests.test_no_personal_data import _leaks, _needles

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)


def _sweep(config: Path) -> str:
    result = runner.invoke(app, ["--config", str(config), "--log-format", "json", "--log-level", "debug",
                                 "sweep", "--apply", "--format", "json"])
    assert result.exit_code == 0, result.output
    return result.output


def _state(tmp_path: Path) -> str:
    return b"".join(p.read_bytes() for p in tmp_path.glob("state.db*") if p.is_file()).decode("utf-8", "replace")


def test_salesforce_run_leaves_no_personal_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_PII_TOKEN", "fake-token")
    org = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    people = list(demo_people(NOW))
    seed(org, people)
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "sqlite:///{tmp_path}/state.db"\n[connectors.sf]\ntype = "salesforce"\n'
                      'instance_url = "https://fake.my.salesforce.com"\naccess_token_env = "SF_PII_TOKEN"\n'
                      'legal_hold_field = "Legal_Hold__c"\n' + RETENTION_POLICY_TOML)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org.register(mock)
        output = _sweep(config)
    needles = _needles(people)
    assert '"sweep_finished"' in output and "audit_event" in _state(tmp_path)
    assert _leaks(output, needles) == [] and _leaks(_state(tmp_path), needles) == []


def test_hubspot_run_leaves_no_personal_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.connectors.hubspot.test_hubspot_sweep_e2e import config_text, properties

    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    people = list(demo_people(NOW))
    with FakeHubSpot(limits=UNLIMITED, timeout_delay=0.3) as hubspot:
        for name, kind in (("gomme_restricted", "bool"), ("legal_hold", "bool"), ("contract_end_date", "date"),
                           ("gomme_erasure_requested", "bool")):
            hubspot.portal.define(name, kind)
        hubspot.portal.add_many(properties(person) for person in people)
        config = tmp_path / "config.toml"
        config.write_text(config_text(hubspot.url, f"sqlite:///{tmp_path}/state.db", "anonymise"))
        output = _sweep(config)
    needles = _needles(people)
    assert '"sweep_finished"' in output and "audit_event" in _state(tmp_path)
    assert _leaks(output, needles) == [] and _leaks(_state(tmp_path), needles) == []
