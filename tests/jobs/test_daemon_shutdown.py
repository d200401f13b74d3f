"""Stopping the daemon during an apply: the first signal finishes the batch, the second exits at once;
either way the next run finishes the interrupted changes, each applied and audited exactly once."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest
from daemon_testkit import DaemonProcess, count, local_crm, poll, run_once, utc_now, write_config
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from gomme.jobs.context import RunContext
from gomme.jobs.sweep import SweepOptions, sweep
from gomme.policies.policy import load_pack
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent, Change, Run
from tests.state_key import TEST_KEYRING

NOW = utc_now()
APPLY_EVERY_SECOND = '[[schedules]]\njob = "sweep"\nevery = "1s"\napply = true\n'


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Engine]:
    """A CRM big enough (about 800 changes in batches of 10) that a signal lands in the middle of the apply."""
    local_crm(tmp_path / "crm.db", synthetic_people(3000, seed=8, now=NOW))
    state_url = f"sqlite:///{tmp_path}/state.db"
    config = write_config(tmp_path / "config.toml", state_url=state_url, schedules=APPLY_EVERY_SECOND, batch_size=10)
    engine = make_engine(state_url)
    yield config, engine
    engine.dispose()


def _applied(engine: Engine) -> int:
    return count(engine, select(func.count()).select_from(Change).where(Change.status == "applied"))


def _start_and_signal_mid_apply(config: Path, engine: Engine, *signums: int) -> tuple[int, DaemonProcess]:
    daemon = DaemonProcess(config)
    try:
        poll(lambda: _applied(engine) >= 20, what="the first batches applied")
        for signum in signums:
            daemon.send(signum)
        return daemon.wait(), daemon
    finally:
        daemon.kill()


def _assert_everything_applied_once(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as db:
        changes = list(db.exec(select(Change)))
        events = list(db.exec(select(AuditEvent).where(AuditEvent.outcome == "applied")))
    applied = {change.id for change in changes if change.status == "applied"}
    assert not [change for change in changes if change.status == "pending"]
    per_change = Counter(event.change_id for event in events)
    assert set(per_change) == applied and set(per_change.values()) == {1}
    assert verify(engine, TEST_KEYRING).ok
    with LocalConnector("crm", tmp_path / "crm.db") as connector:
        ctx = RunContext(connector=connector, policy=load_pack("cnil"), engine=engine,
                         keyring=Keyring(b"test-secret-key-not-for-production"), now=utc_now(), actor="test")
        assert sweep(ctx, SweepOptions(), lambda item: None).planned == 0  # nothing left to do


def test_sigterm_during_apply_finishes_the_batch_exits_0_and_the_next_run_completes_each_change_once(
    workspace: tuple[Path, Engine], tmp_path: Path
) -> None:
    config, engine = workspace

    code, daemon = _start_and_signal_mid_apply(config, engine, signal.SIGTERM)

    assert code == 0, daemon.log_path.read_text()
    with Session(engine) as db:
        (interrupted,) = db.exec(select(Run).where(Run.kind == "sweep"))
        unsettled = db.exec(select(func.count()).select_from(Change).where(
            col(Change.status).in_(("planned", "pending")))).one()
    assert interrupted.status == "interrupted"
    assert interrupted.applied > 0
    assert unsettled == 0  # the batch in flight was finished and settled; nothing was left half-done
    assert daemon.events("stop_requested") and daemon.events("daemon_stopped")

    code, output = run_once(config)

    assert code == 0, output
    with Session(engine) as db:
        runs = list(db.exec(select(Run).where(Run.kind == "sweep").order_by(col(Run.started_at))))
    assert [run.status for run in runs] == ["interrupted", "succeeded"]
    assert runs[1].applied > 0  # the rest of the work, done by the next run
    _assert_everything_applied_once(engine, tmp_path)


def test_second_signal_exits_at_once_and_the_next_run_completes_each_change_once(
    workspace: tuple[Path, Engine], tmp_path: Path
) -> None:
    config, engine = workspace

    # Two different signals, so the kernel cannot merge them into one.
    code, daemon = _start_and_signal_mid_apply(config, engine, signal.SIGINT, signal.SIGTERM)

    assert code == 128 + signal.SIGTERM, daemon.log_path.read_text()
    assert daemon.events("stopping_now") and not daemon.events("daemon_stopped")
    with Session(engine) as db:
        (killed,) = db.exec(select(Run).where(Run.kind == "sweep"))
    assert killed.status == "running"  # never recorded: the process did not wait for the batch

    code, output = run_once(config)

    assert code == 0, output
    _assert_everything_applied_once(engine, tmp_path)
