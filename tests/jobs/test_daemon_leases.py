"""Job locks and slot claims, on SQLite and PostgreSQL state: one holder at a time, each slot once,
and a holder that dies lets go."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

from daemon_testkit import poll
from sqlalchemy import Engine
from sqlmodel import Session, select

from gomme.jobs.leases import claim_slot, finish_claim, job_lock, prune_claims
from gomme.state.models import JobClaim

SLOT = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)
NOW = SLOT + dt.timedelta(seconds=1)


def test_a_slot_is_claimed_once_per_job(state_engine: Engine) -> None:
    assert claim_slot(state_engine, "sweep @ 0 3 * * *", SLOT, holder="a:1", now=NOW)
    assert not claim_slot(state_engine, "sweep @ 0 3 * * *", SLOT, holder="b:2", now=NOW)
    assert claim_slot(state_engine, "sweep @ 0 3 * * *", SLOT + dt.timedelta(days=1), holder="b:2", now=NOW)
    assert claim_slot(state_engine, "requests @ every 5m", SLOT, holder="b:2", now=NOW)

    finish_claim(state_engine, "sweep @ 0 3 * * *", SLOT, status="succeeded", now=NOW)
    with Session(state_engine) as db:
        claim = db.get_one(JobClaim, ("sweep @ 0 3 * * *", "2026-11-26T03:00:00.000000Z"))
    assert (claim.holder, claim.status) == ("a:1", "succeeded")


def test_old_claims_are_pruned(state_engine: Engine) -> None:
    claim_slot(state_engine, "job", SLOT - dt.timedelta(days=40), holder="a:1", now=NOW)
    claim_slot(state_engine, "job", SLOT, holder="a:1", now=NOW)

    prune_claims(state_engine, before=SLOT - dt.timedelta(days=30))

    with Session(state_engine) as db:
        assert [claim.slot for claim in db.exec(select(JobClaim))] == ["2026-11-26T03:00:00.000000Z"]


def test_a_job_lock_has_one_holder_until_released(state_engine: Engine) -> None:
    first, second, other = job_lock(state_engine, "job"), job_lock(state_engine, "job"), job_lock(state_engine, "x")

    assert first.acquire()
    assert not second.acquire()
    assert other.acquire()
    first.release()
    assert second.acquire()
    second.release()
    other.release()


HOLDER = textwrap.dedent("""
    import sys, time
    from gomme.jobs.leases import job_lock
    from gomme.state.db import make_engine
    assert job_lock(make_engine(sys.argv[1]), "job").acquire()
    print("held", flush=True)
    time.sleep(60)
""")


def test_the_lock_of_a_holder_that_dies_is_released(state_engine: Engine, state_url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, state_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = job_lock(state_engine, "job")
        assert not lock.acquire()

        holder.kill()  # SIGKILL: no cleanup code runs
        holder.wait()

        poll(lock.acquire, timeout=10, what="the dead holder's lock to be released")
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
        if holder.stdout is not None:
            holder.stdout.close()
