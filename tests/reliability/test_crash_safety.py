"""SIGKILL `gomme sweep --apply` at random points; the rerun must end exactly where a clean run ends.

Seeded: the kill delays are reproducible. Each iteration compares the final CRM state with a clean
run's, record by record, and checks one `applied` audit entry per change and an intact chain.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest
from sqlmodel import Session, select

from gomme.connectors.base import PullQuery
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent, Change

ITERATIONS = int(os.environ.get("GOMME_CRASH_ITERATIONS", "20"))
PEOPLE = 600
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def _workspace(directory: Path) -> Path:
    directory.mkdir()
    with LocalConnector("crm", directory / "crm.db") as crm:
        crm.add(synthetic_people(PEOPLE, seed=7, now=NOW))
    config = directory / "config.toml"
    config.write_text('[state]\nurl = "sqlite:///state.db"\n[sweep]\nbatch_size = 10\n'
                      '[connectors.crm]\ntype = "local"\npath = "crm.db"\n')
    return config


def _sweep(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gomme", "--config", str(config), "--log-level", "error",
                             "sweep", "--apply", "--format", "json"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=os.environ.copy())


def _final_state(directory: Path) -> dict[str, dict[str, object]]:
    with LocalConnector("crm", directory / "crm.db") as crm:
        return {r.id: {k: v for k, v in asdict(r).items() if k not in ("modified_at", "raw")}
                for r in crm.pull(PullQuery())}


def _applied_records(directory: Path) -> int:
    with Session(make_engine(f"sqlite:///{directory / 'state.db'}")) as db:
        return len({c.record_key for c in db.exec(select(Change).where(Change.status == "applied"))})


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, object]], int]:
    """The final CRM state and the number of records changed when nothing goes wrong."""
    directory = tmp_path_factory.mktemp("clean") / "ws"
    config = _workspace(directory)
    process = _sweep(config)
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors.decode()
    return _final_state(directory), _applied_records(directory)


def _kill_when(process: subprocess.Popen[bytes], state: Path, status: str, count: int) -> None:
    """SIGKILL once `count` changes have reached `status` (polled straight from SQLite, read-only)."""
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if _count(state, status) >= count:
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _count(state: Path, status: str) -> int:
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1) as db:
            if status == "any":
                return int(db.execute('SELECT COUNT(*) FROM "change"').fetchone()[0])
            return int(db.execute('SELECT COUNT(*) FROM "change" WHERE status = ?', (status,)).fetchone()[0])
    except sqlite3.Error:  # not created yet, or mid-migration
        return 0


@pytest.mark.parametrize("iteration", range(ITERATIONS))
def test_killed_sweep_converges_to_the_clean_result(
    tmp_path: Path, clean_run: tuple[dict[str, dict[str, object]], int], iteration: int
) -> None:
    clean_state, clean_changes = clean_run
    rng = random.Random(f"crash-{iteration}")
    config = _workspace(tmp_path / "ws")
    process = _sweep(config)
    # Kills at a seeded random depth: a third once k changes exist in any state (planned, pending or
    # written: the window around each batch), the rest once k are applied.
    status = "any" if rng.random() < 1 / 3 else "applied"
    _kill_when(process, tmp_path / "ws" / "state.db", status, rng.randint(1, clean_changes - 1))
    assert process.returncode == -signal.SIGKILL, "the sweep finished before the kill: nothing was tested"

    rerun = _sweep(config)
    _, errors = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, errors.decode()

    assert _final_state(tmp_path / "ws") == clean_state
    engine = make_engine(f"sqlite:///{tmp_path / 'ws' / 'state.db'}")
    with Session(engine) as db:
        applied_changes = {c.id for c in db.exec(select(Change).where(Change.status == "applied"))}
        per_change = Counter(e.change_id for e in db.exec(select(AuditEvent)) if e.outcome == "applied")
        pending = list(db.exec(select(Change).where(Change.status == "pending")))
    assert pending == []
    assert set(per_change.values()) == {1}, "a change was audited twice"
    assert set(per_change) == applied_changes and len(applied_changes) == clean_changes
    assert verify(engine).ok
