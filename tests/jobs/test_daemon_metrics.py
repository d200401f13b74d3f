"""`/metrics` in Prometheus format (parsed with prometheus-client's own parser) and `/healthz`."""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_testkit import DaemonProcess, local_crm, poll, utc_now, write_config
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session, select

from gomme.connectors.base import Usage
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import demo_people
from gomme.jobs.metrics import DaemonMetrics
from gomme.state.audit import AuditEntry, append
from gomme.state.clock import stamp
from gomme.state.db import make_engine, session, upgrade
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent
from gomme.state.requests import RequestDetails, RequestType, create_request
from tests.state_key import TEST_KEYRING

SWEEP = "sweep apply @ every 1s"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path}/state.db"
    engine = make_engine(url)
    upgrade(engine)
    yield url, engine
    engine.dispose()


def test_metrics_endpoint_reports_runs_changes_and_requests_in_prometheus_format(
    tmp_path: Path, state: tuple[str, Engine]
) -> None:
    url, engine = state
    local_crm(tmp_path / "crm.db", demo_people(utc_now()))
    with session(engine) as db:  # received two months ago: open and overdue
        create_request(db, kind=RequestType.ERASE, email="late@example.org", details=RequestDetails(),
                       keyring=Keyring(os.environ["GOMME_SECRET_KEY"].encode()),
                       received=utc_now() - dt.timedelta(days=62), actor="test")
    schedules = ('[[schedules]]\njob = "sweep"\nevery = "1s"\napply = true\n\n'
                 '[[schedules]]\njob = "requests"\ncron = "0 0 1 1 *"\n')  # requests wait: they stay open
    daemon = DaemonProcess(write_config(tmp_path / "config.toml", state_url=url, schedules=schedules))
    try:
        port = daemon.port()
        assert daemon.wait_for("http_listening")["host"] == "127.0.0.1"  # the address in clear, not "[redacted]"
        daemon.wait_for("job_finished", lambda e: e["job"] == SWEEP and e["status"] == "succeeded")
        samples = poll(lambda: _scraped_with_changes(port), what="changes in /metrics")
        health = get(port, "/healthz")
        missing = get(port, "/nowhere")
        assert daemon.stop() == 0
    finally:
        daemon.kill()

    assert (value(samples, "gomme_job_runs_total", job=SWEEP, status="succeeded") or 0) >= 1
    last_success = value(samples, "gomme_job_last_success_timestamp_seconds", job=SWEEP)
    assert last_success is not None and abs(last_success - utc_now().timestamp()) < 60
    assert (value(samples, "gomme_job_duration_seconds_count", job=SWEEP) or 0) >= 1
    assert value(samples, "gomme_requests_open") == 1
    assert value(samples, "gomme_requests_overdue") == 1
    with Session(engine) as db:
        audited = Counter((e.crm, e.action, e.outcome) for e in db.exec(select(AuditEvent)) if e.change_id)
    reported = {(dict(labels)["connector"], dict(labels)["action"], dict(labels)["outcome"]): count
                for (name, labels), count in samples.items() if name == "gomme_changes_total"}
    assert reported == audited and audited[("crm", "anonymise", "applied")] > 0
    assert health[0] == 200 and json.loads(health[1]) == {"status": "ok", "scheduler": True, "state_db": True}
    assert missing[0] == 404


def _scraped_with_changes(port: int) -> Samples | None:
    status, body = get(port, "/metrics")
    samples = parse(body) if status == 200 else {}
    return samples if any(name == "gomme_changes_total" for name, _ in samples) else None


class MeteredConnector:
    def __init__(self, calls: dict[str, int], budget: float | None) -> None:
        self.calls, self.budget = calls, budget

    def usage(self) -> Usage:
        return Usage(self.calls, self.budget)


class BrokenUsage:
    def usage(self) -> dict[str, object]:  # a plug-in that does not follow the contract
        return {"calls": ["not", "a", "mapping"]}


def test_api_calls_add_up_per_connector_and_status_and_the_budget_is_the_latest_reported() -> None:
    metrics = DaemonMetrics(actor="me")

    metrics.observe_usage("sf", MeteredConnector({"200": 10, "429": 1}, 14000.0))
    metrics.observe_usage("sf", MeteredConnector({"200": 5}, 13990.0))
    metrics.observe_usage("local", LocalConnector.__new__(LocalConnector))  # no API: no API metrics
    metrics.observe_usage("odd", BrokenUsage())  # type: ignore[arg-type]  # logged, never raised

    samples = parse(generate_latest(metrics.registry).decode())
    assert value(samples, "gomme_api_calls_total", connector="sf", status="200") == 15
    assert value(samples, "gomme_api_calls_total", connector="sf", status="429") == 1
    assert value(samples, "gomme_api_budget_remaining", connector="sf") == 13990
    assert not [key for key in samples if dict(key[1]).get("connector") in ("local", "odd")]


def test_changes_count_only_this_replicas_audit_entries_made_after_it_started(state: tuple[str, Engine]) -> None:
    _, engine = state
    _audit(engine, actor="me", action="anonymise")  # before the daemon watched: history, not counted
    metrics = DaemonMetrics(actor="me")
    metrics.watch(engine)

    _audit(engine, actor="me", action="anonymise")
    _audit(engine, actor="me", action="restrict_all", outcome="failed")
    _audit(engine, actor="another-replica", action="anonymise")
    first = parse(generate_latest(metrics.registry).decode())
    _audit(engine, actor="me", action="anonymise")
    second = parse(generate_latest(metrics.registry).decode())

    assert value(first, "gomme_changes_total", connector="crm", action="anonymise", outcome="applied") == 1
    assert value(first, "gomme_changes_total", connector="crm", action="restrict_all", outcome="failed") == 1
    assert value(second, "gomme_changes_total", connector="crm", action="anonymise", outcome="applied") == 2
    assert value(second, "gomme_requests_open") == 0


def _audit(engine: Engine, *, actor: str, action: str, outcome: str = "applied") -> None:
    entry = AuditEntry(crm="crm", object_type="contact", record_key="k" * 64, action=action, rule_id="r",
                       legal_basis="b", policy_hash="p", outcome=outcome, actor=actor, change_id="c" * 32)
    with session(engine) as db:
        append(db, entry, stamp(utc_now()), TEST_KEYRING)
