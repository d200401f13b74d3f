"""The assessment on Salesforce (the stateful fake org): its counts equal the seeded people in scope."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
import responses
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from sqlmodel import Session, select

from gomme.connectors.synthetic import demo_people
from gomme.state.db import make_engine
from gomme.state.models import BreachCase
from tests.breach.breach_kit import gomme

NOW = dt.datetime.now(dt.UTC)


def test_assessment_on_salesforce_counts_the_seeded_scope(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_BREACH_TOKEN", "fake-token")
    fake = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    people = list(demo_people(NOW))
    seed(fake, people)
    state_url = f"sqlite:///{tmp_path}/state.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[state]\nurl = "{state_url}"\n[connectors.sf]\ntype = "salesforce"\n'
                      'instance_url = "https://fake.my.salesforce.com"\naccess_token_env = "SF_BREACH_TOKEN"\n'
                      'legal_hold_field = "Legal_Hold__c"\n')
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.register(mock)
        code, output = gomme(config, "breach", "open", "--connector", "sf", "--object", "Contact",
                             "--aware-at", (NOW - dt.timedelta(hours=1)).isoformat(), "--note", "Token leaked.")
        assert code == 0, output
        case = output.split("breach case ", 1)[1].split()[0]
        code, output = gomme(config, "breach", "assess", case)
    assert code == 0, output

    contacts = [p for p in people if p.object_type == "contact"]
    engine = make_engine(state_url)
    with Session(engine) as db:
        stored = json.loads(db.exec(select(BreachCase)).one().assessment or "{}")
    engine.dispose()
    assert stored["records"]["all"] == len(contacts) == stored["records"]["group:sf/contact"]
    assert stored["people"]["all"] == len({p.email.casefold() if p.email else p.id for p in contacts})
    expected = Counter(p.country or "unknown" for p in contacts if not p.anonymised)
    assert {code: stored["records"].get(f"country:{code}", 0) for code in expected} == dict(expected)
