"""SIGKILL `gomme sweep --apply` at random points against each CRM; the rerun must end where a clean run ends.

Seeded: the kill points are reproducible. The CRM outlives the killed worker (a file, or a fake served
from this process), so each iteration compares the CRM's final state with a clean run's, record by
record, and checks one `applied` audit entry per change, nothing left pending and an intact chain.
`GOMME_CRASH_ITERATIONS` sets the iterations per CRM (20 by default).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from gomme.state.audit import verify
from gomme.state.db import make_engine
from gomme.state.models import AuditEvent, Change, Run
from tests.reliability.crash_worlds import WORLDS, State, World
from tests.state_key import TEST_KEYRING

ITERATIONS = int(os.environ.get("GOMME_CRASH_ITERATIONS", "20"))
PEOPLE = {"local": 600, "salesforce": 800, "hubspot": 300}
# How long after a write went pending the kill may wait: inside a remote write (a Bulk API job takes
# ~200 ms here, a HubSpot batch ~50 ms). The local CRM writes at once: no in-flight window to aim at.
IN_FLIGHT_SECONDS = {"local": 0.0, "salesforce": 0.3, "hubspot": 0.05}


@dataclass(frozen=True)
class Workspace:
    directory: Path
    world: World

    @property
    def state_db(self) -> Path:
        return self.directory / "state.db"

    def sweep(self) -> subprocess.Popen[bytes]:
        config = self.directory / "config.toml"
        config.write_text('[state]\nurl = "sqlite:///state.db"\n[sweep]\nbatch_size = 10\n' + self.world.section)
        return subprocess.Popen(
            [sys.executable, "-m", "gomme", "--config", str(config), "--log-level", "error", "sweep", "--apply",
             "--format", "json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **self.world.env},
        )  # fmt: skip

    def applied(self) -> int:
        with Session(make_engine(f"sqlite:///{self.state_db}")) as db:
            return len(list(db.exec(select(Change).where(Change.status == "applied"))))


@pytest.fixture
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    crm = request.param
    directory = tmp_path / "ws"
    directory.mkdir()
    with WORLDS[crm](directory, PEOPLE[crm]) as world:
        yield Workspace(directory, world)


@pytest.fixture(scope="module")
def clean_runs() -> dict[str, tuple[State, int]]:
    """Per CRM, filled on first use: the final state and the number of changes when nothing goes wrong."""
    return {}


def _clean(crm: str, runs: dict[str, tuple[State, int]], directory: Path) -> tuple[State, int]:
    if crm not in runs:
        directory.mkdir()
        with WORLDS[crm](directory, PEOPLE[crm]) as world:
            workspace = Workspace(directory, world)
            process = workspace.sweep()
            _, errors = process.communicate(timeout=180)
            assert process.returncode == 0, errors.decode()
            runs[crm] = world.state(), workspace.applied()
    return runs[crm]


def _count(state: Path, status: str) -> int:
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=1) as db:
            if status == "any":
                return int(db.execute('SELECT COUNT(*) FROM "change"').fetchone()[0])
            return int(db.execute('SELECT COUNT(*) FROM "change" WHERE status = ?', (status,)).fetchone()[0])
    except sqlite3.Error:  # not created yet, or mid-migration
        return 0


def _run_statuses(state: Path) -> Counter[str]:
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5) as db:
        return Counter(status for (status,) in db.execute("SELECT status FROM run"))


def _kill_when(process: subprocess.Popen[bytes], state: Path, status: str, count: int, delay: float) -> None:
    """SIGKILL `delay` seconds after `count` changes reached `status` (polled read-only from SQLite)."""
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if _count(state, status) >= count:
            break
        time.sleep(0.002)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("iteration", range(ITERATIONS))
@pytest.mark.parametrize("workspace", list(WORLDS), indirect=True)
def test_killed_sweep_converges_to_the_clean_result(
    workspace: Workspace, clean_runs: dict[str, tuple[State, int]], tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest, iteration: int,
) -> None:  # fmt: skip
    crm = request.node.callspec.params["workspace"]
    clean_state, clean_changes = _clean(crm, clean_runs, tmp_path_factory.mktemp("clean") / crm)
    rng = random.Random(f"crash-{crm}-{iteration}")
    # A seeded depth: once k changes exist in any state (planned: the window before a write), while a
    # write is in flight (pending, then a short random delay on a remote CRM), or once k are applied.
    remote = IN_FLIGHT_SECONDS[crm] > 0
    status = rng.choice(["any", "pending", "applied"] if remote else ["any", "applied"])
    count = 1 if status == "pending" else rng.randint(1, clean_changes - 1)
    delay = rng.uniform(0, IN_FLIGHT_SECONDS[crm]) if status == "pending" else 0.0
    process = workspace.sweep()
    _kill_when(process, workspace.state_db, status, count, delay)
    assert process.returncode == -signal.SIGKILL, "the sweep finished before the kill: nothing was tested"
    # Killed after its last write but before it exited (anchor, output)? Then its run is already closed.
    killed_run = _run_statuses(workspace.state_db)
    print(
        f"{crm}-{iteration}: killed at {status}>={count} +{delay * 1000:.0f} ms: "
        f"{_count(workspace.state_db, 'any')} planned, {_count(workspace.state_db, 'pending')} pending, "
        f"{_count(workspace.state_db, 'applied')} applied of {clean_changes}"
    )

    rerun = workspace.sweep()
    _, errors = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, errors.decode()

    assert workspace.world.state() == clean_state
    engine = make_engine(f"sqlite:///{workspace.state_db}")
    with Session(engine) as db:
        applied_changes = {c.id for c in db.exec(select(Change).where(Change.status == "applied"))}
        per_change = Counter(e.change_id for e in db.exec(select(AuditEvent)) if e.outcome == "applied")
        pending = list(db.exec(select(Change).where(col(Change.status).in_(("pending", "planned")))))
        runs = Counter(run.status for run in db.exec(select(Run)))
    assert pending == []
    expected_runs = {"succeeded": 2} if killed_run == {"succeeded": 1} else {"abandoned": 1, "succeeded": 1}
    assert runs == expected_runs, f"the killed run ({killed_run}) is closed by the next one"
    assert set(per_change.values()) == {1}, "a change was audited twice"
    assert set(per_change) == applied_changes and len(applied_changes) == clean_changes
    assert verify(engine, TEST_KEYRING).ok
