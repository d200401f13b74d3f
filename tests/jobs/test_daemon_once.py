"""`gomme daemon --once` (for cron or a Kubernetes CronJob): every job once, the exit code says how it went."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from daemon_testkit import local_crm, write_config
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.synthetic import demo_people
from gomme.jobs.leases import holding, job_lock
from gomme.state.db import make_engine, session, upgrade
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent, Request, Run
from gomme.state.requests import RequestDetails, RequestType, create_request

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
NIGHTLY_APPLY = '[[schedules]]\njob = "sweep"\ncron = "0 3 * * *"\napply = true\n'


@pytest.fixture
def engine(state_url: str) -> Engine:
    engine = make_engine(state_url)
    upgrade(engine)
    return engine


def _once(tmp_path: Path, state_url: str, schedules: str) -> tuple[int, str]:
    config = write_config(tmp_path / "config.toml", state_url=state_url, schedules=schedules)
    result = runner.invoke(app, ["--config", str(config), "daemon", "--once"])
    return result.exit_code, result.output


def test_once_runs_every_scheduled_job_and_the_open_requests_then_exits_0(
    tmp_path: Path, state_url: str, engine: Engine
) -> None:
    people = list(demo_people(NOW))
    local_crm(tmp_path / "crm.db", people)
    asking = next(person for person in people if person.email and not person.legal_hold)
    with session(engine) as db:
        create_request(db, kind=RequestType.ERASE, email=asking.email or "", details=RequestDetails(),
                       keyring=Keyring(os.environ["GOMME_SECRET_KEY"].encode()), received=NOW, actor="test")

    code, output = _once(tmp_path, state_url, NIGHTLY_APPLY)

    assert code == 0, output
    with Session(engine) as db:
        sweeps = list(db.exec(select(Run).where(Run.kind == "sweep")))
        requests = list(db.exec(select(Request)))
    assert [(run.mode, run.status, run.applied) for run in sweeps] == [("apply", "succeeded", sweeps[0].planned)]
    assert sweeps[0].applied > 0
    assert [request.status for request in requests] == ["completed"]


def test_once_exits_3_when_a_blast_radius_guard_aborts_and_writes_nothing(
    tmp_path: Path, state_url: str, engine: Engine
) -> None:
    local_crm(tmp_path / "crm.db", demo_people(NOW))

    code, output = _once(tmp_path, state_url, NIGHTLY_APPLY + "max_changes = 10\n")

    assert code == 3, output
    with Session(engine) as db:
        assert db.exec(select(AuditEvent)).first() is None


def test_once_exits_1_when_a_connector_cannot_be_opened(tmp_path: Path, state_url: str, engine: Engine) -> None:
    (tmp_path / "crm.db").mkdir()  # a directory where the CRM file should be

    code, output = _once(tmp_path, state_url, NIGHTLY_APPLY)

    assert code == 1, output
    assert "connector_unavailable" in output


def test_once_skips_a_job_another_replica_is_running(tmp_path: Path, state_url: str, engine: Engine) -> None:
    local_crm(tmp_path / "crm.db", demo_people(NOW))

    with holding(job_lock(engine, "sweep apply @ 0 3 * * *")) as held:
        assert held
        code, output = _once(tmp_path, state_url, NIGHTLY_APPLY)

    assert code == 0, output
    assert '"reason": "busy"' in output
    with Session(engine) as db:
        assert db.exec(select(Run).where(Run.kind == "sweep")).first() is None
