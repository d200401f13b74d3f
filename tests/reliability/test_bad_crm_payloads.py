"""Odd records in Salesforce and HubSpot (quotes, SOQL and LIKE metacharacters, RTL and zero-width text,
emoji, NUL, 32k notes, invalid emails, unknown countries) are swept and looked up without a crash: the
sweep ends with every due record done, and a request by such an address gets a clear outcome."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from unittest.mock import patch

import responses
from fakes.hubspot import TOKEN, UNLIMITED, FakeHubSpot
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gomme.cli import app
from gomme.model.records import Lifecycle, PersonRecord
from tests.policy_fixture import RETENTION_POLICY_TOML
from tests.reliability.test_bad_input import ODD_TEXT

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
ODD_EMAILS = st.one_of(ODD_TEXT, st.sampled_from([
    "o'brien@example.com", "100%_off@example.org", "a\\b@example.net", "x@y", "no-at-sign", "dup@example.com",
    "Ünïcödé@example.com", "quote\"d@example.com", "space d@example.com", "a+b/c?d#e@example.com",
]))  # fmt: skip
ROWS = st.lists(st.tuples(ODD_EMAILS, ODD_TEXT, ODD_TEXT, st.sampled_from(["FR", "ZZ", "", "fr", "Narnia", None]),
                          st.booleans()), min_size=1, max_size=6)  # fmt: skip
# Each example runs whole sweeps against a fresh fake: few examples, and no shrinking (it took minutes).
SLOW = settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def _people(rows: list[tuple[Any, ...]], *, unique_emails: bool = False) -> list[PersonRecord]:
    """The rows as people; HubSpot holds an address once (a second import of it is refused), so with
    `unique_emails` a repeated address is left out, as the import would have."""
    seen: set[str] = set()
    if unique_emails:
        rows = [(None if str(e).lower() in seen or seen.add(str(e).lower()) else e, *rest) for e, *rest in rows]
    return [
        PersonRecord(crm="crm", object_type="contact", id=f"p{i}", email=email or None, first_name=name,
                     last_name=name or "Unknown", country=country, notes={"description": note},
                     erasure_requested=erase, lifecycle=Lifecycle.PROSPECT, created_at=NOW - dt.timedelta(days=2000),
                     last_activity_at=NOW - dt.timedelta(days=2000))
        for i, (email, name, note, country, erase) in enumerate(rows)
    ]  # fmt: skip


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "--log-level", "error", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def _sweep_then_lookup(config: Path, email: str) -> None:
    code, output = _run(config, "sweep", "--apply", "--format", "json")
    assert code == 0, output
    code, output = _run(config, "sweep", "--format", "json")
    assert code == 0 and '"record_id"' not in output, output  # everything due was done
    code, output = _run(config, "request", "erase", "--email", email, "--now")
    assert code in (0, 2), output  # done (or nobody found), or the address refused as invalid: never a crash


@SLOW
@given(ROWS)
def test_odd_salesforce_records_are_swept_and_looked_up(tmp_path_factory: Any, rows: list[tuple[Any, ...]]) -> None:
    directory = tmp_path_factory.mktemp("sf-odd")
    org = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    seed(org, _people(rows))
    config = directory / "config.toml"
    config.write_text(f'[state]\nurl = "sqlite:///{directory}/state.db"\n[requests]\nexport_dir = "{directory}"\n'
                      '[connectors.sf]\ntype = "salesforce"\ninstance_url = "https://fake.my.salesforce.com"\n'
                      'access_token_env = "SF_ODD_TOKEN"\nlegal_hold_field = "Legal_Hold__c"\n'
                      + RETENTION_POLICY_TOML)  # fmt: skip
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
        patch.dict(os.environ, {"SF_ODD_TOKEN": "fake-token"}),
    ):
        org.register(mock)
        _sweep_then_lookup(config, str(rows[0][0]))


@SLOW
@given(ROWS)
def test_odd_hubspot_records_are_swept_and_looked_up(tmp_path_factory: Any, rows: list[tuple[Any, ...]]) -> None:
    from tests.connectors.hubspot.test_hubspot_sweep_e2e import properties

    directory = tmp_path_factory.mktemp("hs-odd")
    with FakeHubSpot(limits=UNLIMITED) as hubspot:
        for name, kind in (("gomme_restricted", "bool"), ("legal_hold", "bool"), ("contract_end_date", "date"),
                           ("gomme_erasure_requested", "bool")):  # fmt: skip
            hubspot.portal.define(name, kind)
        hubspot.portal.add_many(properties(person) for person in _people(rows, unique_emails=True))
        config = directory / "config.toml"
        config.write_text(f'[state]\nurl = "sqlite:///{directory}/state.db"\n[requests]\nexport_dir = "{directory}"\n'
                          f'[connectors.hs]\ntype = "hubspot"\nbase_url = "{hubspot.url}"\n'
                          'access_token_env = "HUBSPOT_TOKEN"\ndelete_mode = "gdpr"\n'
                          'legal_hold_property = "legal_hold"\nlimit_fraction = 1.0\n'
                          '[connectors.hs.properties]\nerasure_requested = "gomme_erasure_requested"\n'
                          '[connectors.hs.lifecycle_map]\nlead = "prospect"\n' + RETENTION_POLICY_TOML)  # fmt: skip
        with patch.dict(os.environ, {"HUBSPOT_TOKEN": TOKEN}):
            _sweep_then_lookup(config, str(rows[0][0]))
