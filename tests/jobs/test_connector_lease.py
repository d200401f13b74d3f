"""One writer per connector: concurrent sweeps and request runs, on SQLite and PostgreSQL state.

Several `gomme sweep --apply` started together (processes), or sweeps started from threads, must change and
audit each due record exactly once: one run holds the connector's lease, the others exit 3 naming it, or wait
for it with `--wait`. A run whose process died is closed as `abandoned` by the next one, its unwritten plan
dropped.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from gomme.jobs.context import RunContext
from gomme.jobs.leases import ConnectorBusy, connector_lease
from gomme.jobs.sweep import SweepOptions, sweep
from gomme.model.changes import Action, PlannedChange
from gomme.policies.policy import load_pack
from gomme.state.audit import verify
from gomme.state.changes import record_plan
from gomme.state.clock import stamp
from gomme.state.db import make_engine, session, upgrade
from gomme.state.models import AuditEvent, Change, Run
from gomme.state.runs import start_run
from tests.policy_fixture import RETENTION_POLICY_TOML
from tests.state_key import TEST_KEYRING

NOW = dt.datetime.now(dt.UTC)
PEOPLE = 3_000  # enough for a sweep to last while the others start
KEYRING = TEST_KEYRING


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    path = tmp_path / "crm.db"
    with LocalConnector("crm", path) as connector:
        connector.add(synthetic_people(PEOPLE, seed=17, now=NOW))
    return path


def _config(tmp_path: Path, state_url: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\nurl = "{state_url}"\n\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n' + RETENTION_POLICY_TOML
    )
    return config


def _start_sweep(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gomme", "--config", str(config), "--log-format", "json", "sweep", "--apply", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent,
    )  # fmt: skip


def _audited_once(engine: Engine) -> tuple[int, Counter[str]]:
    """(changes applied, how many `applied` entries each change has)."""
    with Session(engine) as db:
        applied = len(db.exec(select(Change).where(Change.status == "applied")).all())
        per_change = Counter(e.change_id or "" for e in db.exec(select(AuditEvent)) if e.outcome == "applied")
    return applied, per_change


@pytest.mark.parametrize("wait", [False, True], ids=["exit-3", "wait"])
def test_sweeps_started_together_write_each_change_once(
    tmp_path: Path, crm: Path, state_url: str, wait: bool
) -> None:
    config = _config(tmp_path, state_url)
    upgrade(make_engine(state_url))  # the migration lock is tested apart (tests/state)
    processes = [_start_sweep(config, *(["--wait", "300"] if wait else [])) for _ in range(4)]
    results = [(process.wait(timeout=300), *process.communicate()) for process in processes]

    codes = Counter(code for code, _, _ in results)
    print(f"exit codes: {dict(codes)}")
    if wait:
        assert codes == {0: 4}, results
    else:
        assert set(codes) <= {0, 3} and codes[0] >= 1, results
        refused = [err for code, _, err in results if code == 3]
        assert all("connector crm is busy: " in err and "--wait SECONDS" in err for err in refused), refused
    engine = make_engine(state_url)
    applied, per_change = _audited_once(engine)
    assert applied > 100 and set(per_change.values()) == {1}, "a change was applied or audited twice"
    assert len(per_change) == applied
    with Session(engine) as db:
        runs = Counter(run.status for run in db.exec(select(Run)))
    assert runs == {"succeeded": codes[0]}, "a refused starter leaves no run behind"
    assert verify(engine, TEST_KEYRING).ok


def test_sweeps_from_threads_write_each_change_once(tmp_path: Path, crm: Path, state_engine: Engine) -> None:
    policy, outcomes = load_pack("cnil"), []
    lock = threading.Lock()

    def one_sweep() -> None:
        with LocalConnector("crm", crm) as connector:
            ctx = RunContext(connector=connector, policy=policy, engine=state_engine, keyring=KEYRING, now=NOW,
                             actor="test", batch_size=100)  # fmt: skip
            try:
                outcome: str = str(sweep(ctx, SweepOptions(apply=True), lambda item: None).status)
            except ConnectorBusy as exc:
                outcome = f"busy {exc.run_id is not None}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one_sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert "succeeded" in outcomes and set(outcomes) <= {"succeeded", "busy True", "busy False"}, outcomes
    applied, per_change = _audited_once(state_engine)
    assert applied > 100 and set(per_change.values()) == {1} and len(per_change) == applied


def test_a_busy_connector_names_the_run_holding_it(tmp_path: Path, crm: Path, state_url: str) -> None:
    engine = make_engine(state_url)
    upgrade(engine)
    with connector_lease(engine, "crm", now=lambda: NOW):
        with session(engine) as db:
            holder = start_run(db, kind="sweep", connector="crm", mode="apply", policy_hash="p", actor="ops",
                               now=stamp(NOW))  # fmt: skip
        process = _start_sweep(_config(tmp_path, state_url))
        _, err = process.communicate(timeout=120)

    assert process.returncode == 3, err
    assert f"connector crm is busy: run {holder.id} (sweeping) since {stamp(NOW)}" in err
    with Session(engine) as db:
        assert [run.id for run in db.exec(select(Run))] == [holder.id], "the refused sweep started no run"


def test_the_next_run_closes_a_dead_run_and_drops_its_unwritten_plan(crm: Path, state_engine: Engine) -> None:
    with session(state_engine) as db:  # what a killed sweep leaves: a running run, a plan never written
        dead = start_run(db, kind="sweep", connector="crm", mode="apply", policy_hash="p", actor="ops",
                         now=stamp(NOW - dt.timedelta(hours=2)))  # fmt: skip
        change = PlannedChange("c" * 32, "crm", "contact", "p0000001", Action.ANONYMISE, "retention", "basis", "p")
        record_plan(db, dead.id, [change], KEYRING, stamp(NOW - dt.timedelta(hours=2)))

    with connector_lease(state_engine, "crm", now=lambda: NOW) as closed:
        assert closed == [dead.id]

    with Session(state_engine) as db:
        run = db.get_one(Run, dead.id)
        (row,) = db.exec(select(Change).where(col(Change.run_id) == dead.id))
    assert (run.status, run.finished_at) == ("abandoned", stamp(NOW))
    assert (row.status, row.error_code) == ("skipped", "RUN_ABANDONED")


def test_a_lease_is_released_when_the_run_ends(state_engine: Engine) -> None:
    with connector_lease(state_engine, "crm", now=lambda: NOW):
        with pytest.raises(ConnectorBusy), connector_lease(state_engine, "crm", now=lambda: NOW):
            pass
        with connector_lease(state_engine, "other", now=lambda: NOW):
            pass  # another connector is free
    with connector_lease(state_engine, "crm", now=lambda: NOW):
        pass
