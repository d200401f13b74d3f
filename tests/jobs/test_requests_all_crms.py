"""Data-subject requests across the three kinds of CRM at once: a local CRM, the fake Salesforce org and
the fake HubSpot portal hold the same person; each request type must reach all three (Art 19)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import responses
from fakes.hubspot import TOKEN, UNLIMITED, FakeHubSpot
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.model.conditions import PullQuery
from gomme.model.records import Lifecycle, PersonRecord
from gomme.state.db import make_engine, upgrade
from gomme.state.models import AuditEvent, Request

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EMAIL = "robin.example@example.net"
PERSON = PersonRecord(
    crm="x", object_type="contact", id="p-1", email=EMAIL, first_name="Robin", last_name="Example",
    phone="+33 1 99 00 45 67", country="FR", created_at=NOW - dt.timedelta(days=500),
    last_activity_at=NOW - dt.timedelta(days=30), lifecycle=Lifecycle.CUSTOMER,
    notes={"description": "Asked for the enterprise plan."},
)
CONFIG = """
[state]
url = "{state_url}"
[requests]
export_dir = "exports"

[connectors.local]
type = "local"
path = "local.db"

[connectors.sf]
type = "salesforce"
instance_url = "https://fake.my.salesforce.com"
access_token_env = "SF_TEST_TOKEN"
legal_hold_field = "Legal_Hold__c"
contract_end_field = "Contract_End__c"

[connectors.hs]
type = "hubspot"
base_url = "{hubspot}"
access_token_env = "HUBSPOT_TOKEN"
legal_hold_property = "legal_hold"
contract_end_property = "contract_end_date"
limit_fraction = 1.0
index_lag_seconds = 0
"""


@dataclass
class World:
    config: Path
    tmp: Path
    sf: FakeSalesforce
    sf_id: str
    hs: FakeHubSpot
    hs_id: str
    state_url: str

    def run(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), "--log-level", "error", *args])
        return result.exit_code, result.output

    def local(self) -> PersonRecord:
        with LocalConnector("local", self.tmp / "local.db") as crm:
            return next(iter(crm.pull(PullQuery())))

    def contact(self) -> dict[str, object]:
        row = self.sf.record("Contact", self.sf_id)
        assert row is not None
        return row

    def hubspot(self) -> dict[str, object]:
        return dict(self.hs.portal.get(self.hs_id) or {})

    def audit(self) -> list[AuditEvent]:
        engine = make_engine(self.state_url)
        upgrade(engine)
        with Session(engine) as db:
            return list(db.exec(select(AuditEvent)))


@pytest.fixture
def world(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("SF_TEST_TOKEN", "fake-token")
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    with LocalConnector("local", tmp_path / "local.db") as crm:
        crm.add([replace(PERSON, crm="local")])
    org = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    sf_id = seed(org, [replace(PERSON, crm="sf")])[PERSON.id]
    with FakeHubSpot(limits=UNLIMITED, timeout_delay=0.5) as hs:
        for name, kind in (("gomme_restricted", "bool"), ("legal_hold", "bool"), ("contract_end_date", "date")):
            hs.portal.define(name, kind)
        hs_id = hs.portal.add_many([{"email": EMAIL, "firstname": "Robin", "lastname": "Example",
                                     "lifecyclestage": "customer", "message": "Asked for the enterprise plan."}])[0]
        hs.portal.set_status(EMAIL, "101", "SUBSCRIBED")
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(state_url=state_url, hubspot=hs.url))
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            org.register(mock)
            yield World(config, tmp_path, org, sf_id, hs, hs_id, state_url)


def _done(output: str) -> None:
    assert "completed" in output and "not finished" not in output, output


def test_erase_reaches_all_three_crms(world: World) -> None:
    code, output = world.run("request", "erase", "--email", EMAIL, "--now")
    assert code == 0, output
    _done(output)
    assert world.local().anonymised
    assert (world.contact()["LastName"], world.contact().get("Email")) == ("ANONYMISED", None)
    assert world.hubspot().get("lastname") == "ANONYMISED" and not world.hubspot().get("email")
    crms = Counter(e.crm for e in world.audit() if e.outcome == "applied")
    assert crms == {"local": 1, "sf": 1, "hs": 1, "gomme": 1}


def test_restrict_reaches_all_three_crms(world: World) -> None:
    code, output = world.run("request", "restrict", "--email", EMAIL, "--now")
    assert code == 0, output
    _done(output)
    assert world.local().restricted
    individual = world.sf.record("Individual", str(world.contact()["IndividualId"]))
    assert individual is not None and individual["HasOptedOutProcessing"]
    assert str(world.hubspot().get("gomme_restricted")).lower() == "true"


def test_rectify_reaches_all_three_crms(world: World) -> None:
    code, output = world.run("request", "rectify", "--email", EMAIL, "--set", "last_name=Exemple", "--now")
    assert code == 0, output
    _done(output)
    assert world.local().last_name == "Exemple"
    assert world.contact()["LastName"] == "Exemple"
    assert world.hubspot().get("lastname") == "Exemple"


def test_access_bundle_holds_every_crm(world: World) -> None:
    code, output = world.run("request", "access", "--email", EMAIL, "--now")
    assert code == 0, output
    bundle = Path(output.split("access bundle: ", 1)[1].split()[0])
    data = json.loads((bundle / "data.json").read_text())
    assert sorted(data["crms"]) == ["hs", "local", "sf"] and all(len(v) == 1 for v in data["crms"].values())
    assert "Asked for the enterprise plan." in json.dumps(data["crms"]["hs"])


def test_a_crm_that_fails_is_retried_and_the_request_completes_later(world: World) -> None:
    world.sf.expire_session()  # a session-token config cannot log in again: the Salesforce leg fails
    code, output = world.run("request", "object", "--email", EMAIL, "--now")
    assert code == 1 and "sf:" in output and "will be retried" in output
    engine = make_engine(world.state_url)
    with Session(engine) as db:
        assert db.exec(select(Request)).one().status == "in_progress"
    assert world.local().opt_outs.email  # the other CRMs were done meanwhile (Art 19, per recipient)
    assert not world.contact()["HasOptedOutOfEmail"]

    world.sf.tokens.add("fake-token")  # the admin exported a fresh token
    code, output = world.run("request", "process")
    assert code == 0, output
    _done(output)
    assert world.contact()["HasOptedOutOfEmail"]
    crms = Counter(e.crm for e in world.audit() if e.outcome == "applied")
    assert crms == {"local": 1, "sf": 1, "hs": 1, "gomme": 1}  # nothing redone where it was done
