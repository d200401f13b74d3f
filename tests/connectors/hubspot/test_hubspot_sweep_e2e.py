"""End to end: `gomme --config ... sweep --apply` against the fake HubSpot, checked record by record.

The demo's 300 synthetic people are imported into the fake portal; the expected outcome of each is
written here from the law (retention, erasure requests, legal hold), not from the engine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fakes.hubspot import TOKEN, FakeHubSpot
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.synthetic import demo_people
from gomme.model.records import Lifecycle, PersonRecord
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent
from tests.state_key import TEST_KEYRING

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
STAGES = {Lifecycle.PROSPECT: "lead", Lifecycle.CUSTOMER: "customer", Lifecycle.FORMER_CUSTOMER: "former_customer"}


def config_text(url: str, state_url: str, action: str) -> str:
    return f"""
[state]
url = "{state_url}"

[policy]
[[policy.rules]]
id = "erasure-request"
kind = "erasure_request"
action = "{action}"
[[policy.rules]]
id = "retention-prospect"
kind = "retention"
lifecycle = "prospect"
after = "P3Y"
action = "{action}"
[[policy.rules]]
id = "retention-former-customer"
kind = "retention"
lifecycle = "former_customer"
after = "P3Y"
action = "{action}"
[[policy.rules]]
id = "legal-hold"
kind = "legal_hold"

[connectors.hs]
type = "hubspot"
base_url = "{url}"
access_token_env = "HUBSPOT_TOKEN"
delete_mode = "gdpr"
legal_hold_property = "legal_hold"
contract_end_property = "contract_end_date"
requests_per_10s = 250
search_requests_per_second = 5
limit_fraction = 1.0    # the fast lane: the limiter's pacing is tested on its own

[connectors.hs.properties]
erasure_requested = "gomme_erasure_requested"

[connectors.hs.lifecycle_map]
lead = "prospect"
customer = "customer"
former_customer = "former_customer"
"""


def properties(person: PersonRecord) -> dict[str, Any]:
    """The person as a HubSpot import would hold them."""
    return {
        "email": person.email, "firstname": person.first_name, "lastname": person.last_name, "phone": person.phone,
        "country": person.country, "date_of_birth": person.birthdate, "lifecyclestage": STAGES[person.lifecycle],
        "createdate": person.created_at, "notes_last_contacted": person.last_activity_at,
        "contract_end_date": person.contract_end, "legal_hold": person.legal_hold,
        "gomme_erasure_requested": person.erasure_requested, "message": person.notes.get("description"),
    }  # fmt: skip


def expected_outcome(person: PersonRecord) -> str:
    """The oracle: 3-year retention for prospects and former customers, erasure requests, legal hold."""
    cutoff = NOW.replace(year=NOW.year - 3, day=min(NOW.day, 28))
    start = person.last_activity_at or person.created_at
    expired = False
    if person.lifecycle is Lifecycle.PROSPECT:
        expired = start is not None and start < cutoff
    elif person.lifecycle is Lifecycle.FORMER_CUSTOMER:
        if person.contract_end is not None:
            expired = person.contract_end < cutoff.date()
        else:
            expired = start is not None and start < cutoff
    if not (expired or person.erasure_requested):
        return "unchanged"
    return "restricted" if person.legal_hold else "erased"


@pytest.fixture
def imported(hubspot: FakeHubSpot, monkeypatch: pytest.MonkeyPatch) -> dict[str, PersonRecord]:
    """The demo people in the portal, by HubSpot id; clear of the oracle's cutoff by at least 30 days."""
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    hubspot.portal.define("gomme_erasure_requested", "bool")
    people = list(demo_people(NOW))
    ids = hubspot.portal.add_many(properties(person) for person in people)
    for person in people:
        if person.email:
            hubspot.portal.set_status(person.email, "101", "SUBSCRIBED")
    return dict(zip(ids, people, strict=True))


def sweep(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "--log-format", "json", "sweep", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("action", ["anonymise", "delete"])
def test_sweep_apply_leaves_each_contact_as_the_law_requires(
    hubspot: FakeHubSpot, imported: dict[str, PersonRecord], tmp_path: Path, action: str
) -> None:
    state_url = f"sqlite:///{tmp_path}/state.db"  # the state layer's own tests cover PostgreSQL
    config = tmp_path / "config.toml"
    config.write_text(config_text(hubspot.url, state_url, action))
    before = {record_id: hubspot.portal.get(record_id) for record_id in imported}

    code, output = sweep(config, "--apply")

    assert code == 0, output
    outcomes = {record_id: expected_outcome(person) for record_id, person in imported.items()}
    assert sorted(set(outcomes.values())) == ["erased", "restricted", "unchanged"]
    for record_id, person in imported.items():
        now = hubspot.portal.get(record_id)
        match outcomes[record_id]:
            case "unchanged":
                assert now == before[record_id], record_id
            case "erased" if action == "delete":
                assert now is None and (person.email is None or person.email.lower() in hubspot.portal.blocklist)
            case "erased":
                assert now is not None and now["lastname"] == "ANONYMISED", record_id
                assert not {"email", "firstname", "phone", "date_of_birth", "message"} & set(now), record_id
                assert (now.get("country"), now["lifecyclestage"]) == (person.country, STAGES[person.lifecycle])
            case "restricted":  # restrict_all: every type off, one to one included
                assert now is not None and now["gomme_restricted"] == "true" and now["email"] == person.email
                assert hubspot.portal.status_of(person.email or "") == {
                    "101": "NOT_SUBSCRIBED", "102": "NOT_SUBSCRIBED", "103": "NOT_SUBSCRIBED"
                }  # fmt: skip
    assert not hubspot.portal.opted_out_all and hubspot.calls["prefs.batch_unsubscribe_all"] == 0  # type by type

    changed = {record_id for record_id, outcome in outcomes.items() if outcome != "unchanged"}
    engine = make_engine(state_url)
    keyring = Keyring(os.environ["GOMME_SECRET_KEY"].encode())
    with Session(engine) as db:
        events = list(db.exec(select(AuditEvent)))
    assert {e.record_key for e in events} == {keyring.record_key(f"hs:contact:{i}") for i in changed}
    assert all(e.outcome == "applied" for e in events) and verify(engine, TEST_KEYRING).ok
    assert hubspot.calls["contacts.search"] >= 1 and hubspot.calls["contacts.list"] == 0  # pushed down
    assert sum(hubspot.rate_limited.values()) == 0

    hubspot.reset_counts()
    code, output = sweep(config, "--apply")
    assert code == 0 and "planned 0" in output, output
    assert hubspot.calls["contacts.batch_update"] == hubspot.calls["contacts.gdpr_delete"] == 0
    with Session(engine) as db:
        assert len(list(db.exec(select(AuditEvent)))) == len(changed)


def test_dry_run_plans_without_writing_to_hubspot(
    hubspot: FakeHubSpot, imported: dict[str, PersonRecord], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text(hubspot.url, f"sqlite:///{tmp_path}/state.db", "anonymise"))
    code, output = sweep(config, "--output", str(tmp_path / "plan.json"))
    assert code == 0, output
    plan = json.loads((tmp_path / "plan.json").read_text())
    expected = {i for i, person in imported.items() if expected_outcome(person) != "unchanged"}
    assert {row["record_id"] for row in plan} == expected
    written = ("contacts.batch_update", "contacts.gdpr_delete", "contacts.batch_archive", "prefs.unsubscribe",
               "prefs.batch_write", "prefs.batch_unsubscribe_all")  # fmt: skip
    assert not any(hubspot.calls[route] for route in written)
