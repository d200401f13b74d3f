"""Two daemons on one PostgreSQL state database and one CRM: every scheduled sweep runs exactly once."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from daemon_testkit import DaemonProcess, local_crm, poll, utc_now, write_config
from sqlalchemy import Engine
from sqlmodel import Session, select

from gomme.connectors.synthetic import demo_people
from gomme.state.db import make_engine
from gomme.state.models import JobClaim, Run

SWEEP = "sweep @ every 1s"
SLOTS = 5


def _slots_seen(daemon: DaemonProcess) -> dict[str, str]:
    """Slot → what this daemon did about it: `ran`, or why it skipped (busy, claimed)."""
    seen = {e["slot"]: "ran" for e in daemon.events("job_finished") if e["job"] == SWEEP}
    seen.update({e["slot"]: e["reason"] for e in daemon.events("job_skipped") if e["job"] == SWEEP})
    return seen


def _contested(a: DaemonProcess, b: DaemonProcess) -> list[str]:
    """Slots both daemons fired for (and logged what they did)."""
    return sorted(set(_slots_seen(a)) & set(_slots_seen(b)))


def test_two_daemons_sharing_a_postgresql_state_run_each_scheduled_sweep_once(
    tmp_path: Path, postgres_url: str
) -> None:
    local_crm(tmp_path / "crm.db", demo_people(utc_now()))
    schedule = '[[schedules]]\njob = "sweep"\nevery = "1s"\n'
    config = write_config(tmp_path / "config.toml", state_url=postgres_url, schedules=schedule)
    first, second = DaemonProcess(config), DaemonProcess(config)
    try:
        first.wait_for("daemon_started")
        second.wait_for("daemon_started")
        poll(lambda: len(_contested(first, second)) >= SLOTS, what=f"{SLOTS} slots both daemons fired for")
        assert first.stop() == 0
        assert second.stop() == 0
    finally:
        first.kill()
        second.kill()

    ran: dict[str, list[str]] = defaultdict(list)
    for daemon in (first, second):
        for event in daemon.events("job_finished"):
            if event["job"] == SWEEP:
                ran[event["slot"]].extend(event["run_ids"])
    for slot in _contested(first, second):
        outcomes = sorted([_slots_seen(first)[slot], _slots_seen(second)[slot]])
        assert outcomes in (["busy", "ran"], ["claimed", "ran"], ["ran", "running"]), (slot, outcomes)
    assert all(len(run_ids) == 1 for run_ids in ran.values()), ran

    engine: Engine = make_engine(postgres_url)
    try:
        with Session(engine) as db:
            runs = {run.id for run in db.exec(select(Run).where(Run.kind == "sweep"))}
            claims = list(db.exec(select(JobClaim).where(JobClaim.job == SWEEP)))
    finally:
        engine.dispose()
    assert runs == {run_id for run_ids in ran.values() for run_id in run_ids}  # no run outside a claimed slot
    assert sorted(claim.slot for claim in claims) == sorted(ran)
    # SIGTERM lets a running sweep finish its batch and records it `interrupted` (jobs/daemon.py): only the
    # sweep each daemon had in flight when it was stopped (they stop one after the other) may end so.
    statuses = Counter(claim.status for claim in claims)
    assert set(statuses) <= {"succeeded", "interrupted"} and statuses["interrupted"] <= 2, statuses
