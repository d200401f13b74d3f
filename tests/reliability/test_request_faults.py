"""Data-subject requests with about 10% of CRM calls faulted, in a local CRM, the fake Salesforce org and the
fake HubSpot portal at once: each request completes in one run, reaches every CRM (Art 19), fails nothing
for a transient reason, and audits each change once. Seeded; synthetic people only.

Salesforce: 503s, connection resets, row locks, expired sessions (gomme logs in again) and calls carried out
whose answer was lost; HubSpot: 429s, 503s, timeouts, resets, and writes applied whose answer was lost.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import responses
from fakes.hubspot import TOKEN, UNLIMITED, FakeHubSpot
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS, seed
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent, Change
from tests.policy_fixture import RETENTION_POLICY_TOML
from tests.reliability.test_faults import CountedFaults
from tests.state_key import TEST_KEYRING

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
KINDS = ("erase", "restrict", "rectify", "access", "object")
RECTIFIED = "Rectified-Name"
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
username = "gomme@example.com"
password_env = "SF_FAULT_PASSWORD"
security_token_env = "SF_FAULT_SECURITY_TOKEN"
legal_hold_field = "Legal_Hold__c"
contract_end_field = "Contract_End__c"
backoff_seconds = 0.001
backoff_max_seconds = 0.01

[connectors.hs]
type = "hubspot"
base_url = "{hubspot}"
access_token_env = "HUBSPOT_TOKEN"
legal_hold_property = "legal_hold"
contract_end_property = "contract_end_date"
limit_fraction = 1.0
index_lag_seconds = 0
timeout_seconds = 0.2
backoff_seconds = 0.001
backoff_max_seconds = 0.02
max_attempts = 8
"""


def _people() -> list[PersonRecord]:
    """Synthetic people a request can act on in full: an address, no legal hold, nothing done yet."""
    chosen = [
        person for person in synthetic_people(40, seed=7, now=NOW)
        if person.email and not (person.legal_hold or person.erasure_requested or person.opt_outs.email)
    ]  # fmt: skip
    return chosen[:8]


PEOPLE = _people()


@dataclass
class World:
    config: Path
    tmp: Path
    state_url: str
    sf: FakeSalesforce
    sf_faults: CountedFaults
    sf_ids: dict[str, str]
    hs: FakeHubSpot
    hs_ids: dict[str, str]

    def run(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), "--log-level", "error", *args])
        return result.exit_code, result.output

    def out(self, *args: str) -> tuple[int, str]:
        """The exit code and stdout alone, as a script reading JSON or CSV gets it (stderr has the header)."""
        result = runner.invoke(app, ["--config", str(self.config), "--log-level", "error", *args])
        return result.exit_code, result.stdout

    def local(self, person: PersonRecord) -> PersonRecord:
        with LocalConnector("local", self.tmp / "local.db") as crm:
            return next(r for r in crm.pull(PullQuery()) if r.id == person.id)

    def salesforce(self, person: PersonRecord) -> dict[str, Any]:
        row = self.sf.record("Lead" if person.object_type == "lead" else "Contact", self.sf_ids[person.id])
        assert row is not None
        return row

    def hubspot(self, person: PersonRecord) -> dict[str, str]:
        return dict(self.hs.portal.get(self.hs_ids[person.id]) or {})

    def faults_fired(self) -> tuple[int, int]:
        return self.sf_faults.fired, sum(self.hs.faults_done.values())


@contextmanager
def faulty_world(tmp: Path, state_url: str, monkeypatch: pytest.MonkeyPatch, fault_seed: int) -> Iterator[World]:
    """The people in all three CRMs; then ~10% of the calls to each fake faulted, drawn from `fault_seed`."""
    monkeypatch.setenv("SF_FAULT_PASSWORD", "fake-password")
    monkeypatch.setenv("SF_FAULT_SECURITY_TOKEN", "fake-security-token")
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    with LocalConnector("local", tmp / "local.db") as crm:
        crm.add([replace(person, crm="local") for person in PEOPLE])
    org = FakeSalesforce(custom_fields=CUSTOM_FIELDS)
    sf_ids = seed(org, PEOPLE)
    org.faults = sf_faults = CountedFaults(seed=fault_seed, unavailable_rate=0.03, reset_rate=0.02, lock_rate=0.02,
                                           expire_rate=0.01, lost_rate=0.02, retry_after="0")  # fmt: skip
    with FakeHubSpot(limits=UNLIMITED, timeout_delay=0.3, seed=fault_seed) as hs:
        for name, kind in (("gomme_restricted", "bool"), ("legal_hold", "bool"), ("contract_end_date", "date")):
            hs.portal.define(name, kind)
        rows = [{"email": p.email, "firstname": p.first_name, "lastname": p.last_name, "phone": p.phone,
                 "country": p.country, "lifecyclestage": "customer", "message": "Asked for a product sheet."}
                for p in PEOPLE]  # fmt: skip
        hs_ids = dict(zip([p.id for p in PEOPLE], hs.portal.add_many(rows), strict=True))
        for person in PEOPLE:
            assert person.email is not None
            hs.portal.set_status(person.email, "101", "SUBSCRIBED")
        for kind in ("429", "503", "timeout", "reset", "lost"):
            hs.fault_rate(kind, 0.02)
        config = tmp / "config.toml"
        config.write_text(CONFIG.format(state_url=state_url, hubspot=hs.url) + RETENTION_POLICY_TOML)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            org.register(mock)
            yield World(config, tmp, state_url, org, sf_faults, sf_ids, hs, hs_ids)


def _ask(world: World, kind: str, person: PersonRecord, *, now: bool) -> tuple[str, int, str]:
    assert person.email is not None
    extra = ["--set", f"last_name={RECTIFIED}"] if kind == "rectify" else []
    code, output = world.run("request", kind, "--email", person.email, *extra, *(["--now"] if now else []))
    match = re.search(r"request (\S+) \(" + kind + r"\) recorded", output)
    assert match, output
    return match.group(1), code, output


def _check_done(world: World, kind: str, person: PersonRecord, request_id: str, output: str) -> None:
    """What the person and the admin see: the request completed, its effect in every CRM."""
    assert f"request {request_id} ({kind}): completed" in output and "will be retried" not in output, output
    code, shown = world.out("request", "show", request_id)
    assert code == 0, shown
    progress = json.loads(shown)
    assert progress["status"] == "completed", progress
    assert sorted((p["connector"], p["status"]) for p in progress["progress"]) == [
        ("hs", "done"), ("local", "done"), ("sf", "done")]  # fmt: skip
    local, contact, hubspot = world.local(person), world.salesforce(person), world.hubspot(person)
    if kind == "erase":
        assert local.anonymised and local.email is None
        assert (contact["LastName"], contact.get("Email")) == ("ANONYMISED", None)
        assert hubspot.get("lastname") == "ANONYMISED" and not hubspot.get("email")
    elif kind == "restrict":
        assert local.restricted
        individual = world.sf.record("Individual", str(contact["IndividualId"]))
        assert individual is not None and individual["HasOptedOutProcessing"]
        assert str(hubspot.get("gomme_restricted")).lower() == "true"
    elif kind == "rectify":
        assert (local.last_name, contact["LastName"], hubspot.get("lastname")) == (RECTIFIED,) * 3
    elif kind == "object":
        assert person.email is not None
        assert local.opt_outs.email and contact["HasOptedOutOfEmail"]
        assert set(world.hs.portal.status_of(person.email).values()) == {"NOT_SUBSCRIBED"}
    elif kind == "access":
        bundle = Path(output.split("access bundle: ", 1)[1].split()[0])
        data = json.loads((bundle / "data.json").read_text())
        assert sorted(data["crms"]) == ["hs", "local", "sf"], data["crms"].keys()
        for name, records in data["crms"].items():
            assert len(records) == 1 and str(person.email) in json.dumps(records), name


def _check_untouched(world: World, people: list[PersonRecord]) -> None:
    for person in people:
        assert world.local(person).last_name == person.last_name
        assert world.salesforce(person)["LastName"] == person.last_name
        assert world.hubspot(person).get("lastname") == person.last_name


def _check_changes(world: World, requests_done: int) -> Counter[str]:
    """No change failed or left pending, each audited exactly once, the chain intact."""
    engine = make_engine(world.state_url)
    try:
        with Session(engine) as db:
            changes = list(db.exec(select(Change)))
            events = list(db.exec(select(AuditEvent)))
        assert verify(engine, TEST_KEYRING).ok
    finally:
        engine.dispose()
    statuses = Counter(change.status for change in changes)
    assert set(statuses) <= {"applied"}, statuses
    per_change = Counter(event.change_id for event in events if event.change_id)
    assert per_change == Counter({change.id: 1 for change in changes}), "a change was audited twice, or never"
    assert {event.outcome for event in events} == {"applied"}, "a record failed for a transient reason"
    completions = [e for e in events if e.crm == "gomme" and e.action == "completed"]
    assert len(completions) == requests_done
    return Counter(event.crm for event in events if event.change_id)


# (seed, Salesforce answers lost) under which faults fire on both fakes: a request makes ~7 Salesforce and 4-9
# HubSpot calls, and the draws land on its first calls (finding the person), the same for every kind. 1: an
# expired session and a HubSpot reset; 15: the answer to the Salesforce search lost, a HubSpot 503 and reset;
# 21: the answer to the Salesforce search lost and a HubSpot 429.
SEEDS = ((1, 0), (15, 1), (21, 1))


@pytest.mark.parametrize(("fault_seed", "sf_lost"), SEEDS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_request_completes_in_one_run_despite_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, fault_seed: int, sf_lost: int
) -> None:
    target, others = PEOPLE[0], PEOPLE[1:]
    with faulty_world(tmp_path, f"sqlite:///{tmp_path}/state.db", monkeypatch, fault_seed) as world:
        request_id, code, output = _ask(world, kind, target, now=True)
        assert code == 0, output
        _check_done(world, kind, target, request_id, output)
        _check_untouched(world, others)
        crms = _check_changes(world, requests_done=1)
        assert crms == ({} if kind == "access" else {"local": 1, "sf": 1, "hs": 1}), crms
        sf_fired, hs_fired = world.faults_fired()
        assert sf_fired > 0 and hs_fired > 0, (sf_fired, hs_fired)
        # Whether a Salesforce answer was lost (how many depends on the kind: access reads related records too).
        assert (world.sf_faults.lost > 0) == (sf_lost > 0), world.sf_faults.lost_calls
        assert world.sf.logins == 1 + world.sf_faults.expired  # each expired session renewed by one login


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "access"])
def test_a_write_applied_but_unanswered_or_locked_is_neither_redone_nor_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Faults aimed at the writes: HubSpot applies the update (or unsubscription) but its answer is lost;
    Salesforce answers UNABLE_TO_LOCK_ROW twice for the person's records before taking the write, and the
    answer to its first write call is lost after the org carried it out."""
    target = PEOPLE[0]
    with faulty_world(tmp_path, f"sqlite:///{tmp_path}/state.db", monkeypatch, fault_seed=0) as world:
        world.hs.clear_faults()
        world.sf.faults = faults = CountedFaults(retry_after="0")
        for route in ("contacts.batch_update", "prefs.batch_write"):
            world.hs.inject("lost", route=route)
        row = world.salesforce(target)
        locked = [world.sf_ids[target.id], *([row["IndividualId"]] if row.get("IndividualId") else [])]
        faults.locked.update(dict.fromkeys(locked, 2))
        faults.lost_only, faults.lost_next = r"^(PATCH|POST|DELETE) .*/composite/sobjects$", 1
        request_id, code, output = _ask(world, kind, target, now=True)
        assert code == 0, output
        _check_done(world, kind, target, request_id, output)
        assert _check_changes(world, requests_done=1) == {"local": 1, "sf": 1, "hs": 1}
        assert world.hs.faults_done["lost"] >= 1, world.hs.faults_done
        assert any(faults.locked[i] == 0 for i in locked), faults.locked  # a locked write was retried
        assert faults.lost == 1, faults.lost_calls


# Each with expired sessions, 429s or 503s, and answers lost: 0, 3 and 28 on both sides (seeds 0-39 all end
# right; re-drawn with issue #19's classic Notes: these cover both CRMs and a session expiry).
@pytest.mark.parametrize(
    ("fault_seed", "lost_on"),
    [
        pytest.param(0, {"hs", "sf"}, id="0"),
        pytest.param(3, {"hs", "sf"}, id="3"),
        pytest.param(28, {"hs", "sf"}, id="28"),
    ],
)
def test_every_kind_of_request_completes_in_one_processing_run_despite_faults(
    tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch, fault_seed: int, lost_on: set[str]
) -> None:
    asked = dict(zip(KINDS, PEOPLE, strict=False))
    with faulty_world(tmp_path, state_url, monkeypatch, fault_seed) as world:
        ids = {kind: _ask(world, kind, person, now=False)[0] for kind, person in asked.items()}
        code, output = world.run("request", "process")
        assert code == 0, output
        for kind, person in asked.items():
            _check_done(world, kind, person, ids[kind], output)
        _check_untouched(world, PEOPLE[len(KINDS) :])
        code, listed = world.out("request", "list", "--format", "json")
        assert code == 0 and [json.loads(line)["status"] for line in listed.splitlines()] == ["completed"] * 5
        assert _check_changes(world, requests_done=len(KINDS)) == {"local": 4, "sf": 4, "hs": 4}
        lost = {"hs": world.hs.faults_done["lost"], "sf": world.sf_faults.lost}
        assert {side for side, n in lost.items() if n} == lost_on and world.sf_faults.expired > 0, lost
        assert world.sf.logins == len(KINDS) + world.sf_faults.expired  # one login a request, one per expiry
