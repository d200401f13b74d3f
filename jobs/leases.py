"""Who runs a scheduled job when several daemons share one state database.

Two mechanisms, because each alone falls short:
- a **lock per job** says who may run the job *now*, so two replicas never run it at once. On
  PostgreSQL it is a session-level `pg_try_advisory_lock`; on SQLite an `fcntl` lock on a file next
  to the database (one host). The operating system or the database server drops it when its holder
  dies, so a dead replica never blocks the job.
- a **claim per slot** (a `job_claim` row keyed by job and scheduled fire time) says *whether* the
  slot already ran: replica B may take the lock right after A finished the same slot, or fire
  late because of clock skew. Whoever inserts the row runs the slot; the key makes the others skip.

A replica that dies mid-run keeps its claim: that slot is not run again, the next one is (and, for
sweeps, resumes the dead run's pending changes).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, delete

from gomme.state.clock import stamp
from gomme.state.db import is_postgres, session
from gomme.state.models import JobClaim


class JobLock(Protocol):
    """Non-blocking: `acquire` says at once whether this process now holds the job."""

    def acquire(self) -> bool: ...

    def release(self) -> None: ...


def holder_name() -> str:
    """This replica, as claims and logs name it: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def job_lock(engine: Engine, job: str) -> JobLock:
    """The lock that fits the state database: advisory on PostgreSQL, a file next to a SQLite file."""
    if is_postgres(engine):
        return AdvisoryLock(engine, job)
    database = engine.url.database
    if not database or database == ":memory:":
        return ProcessLock(job)
    return FileLock(lock_path(Path(database), job))


@contextmanager
def holding(lock: JobLock) -> Iterator[bool]:
    """`with holding(lock) as held:` runs the body either way; `held` says whether the lock was taken."""
    held = lock.acquire()
    try:
        yield held
    finally:
        if held:
            lock.release()


def lock_path(database: Path, job: str) -> Path:
    """`<state.db>.locks/<job slug>-<hash>.lock`: readable, and distinct for distinct job ids."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", job).strip("-")[:40]
    digest = hashlib.sha256(job.encode()).hexdigest()[:12]
    return database.with_name(f"{database.name}.locks") / f"{slug}-{digest}.lock"


def advisory_key(scope: str, job: str) -> int:
    """A signed 64-bit key for `pg_try_advisory_lock`, distinct per schema and job."""
    digest = hashlib.sha256(f"gomme-job:{scope}:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection held for the run.

    The transaction is committed right after locking, so the session holds the lock while idle (not
    `idle in transaction`); if the session dies, the server releases the lock.
    """

    def __init__(self, engine: Engine, job: str) -> None:
        self.engine, self.job = engine, job
        self._held: tuple[Connection, int] | None = None

    def acquire(self) -> bool:
        connection = self.engine.connect()
        try:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            key = advisory_key(str(schema), self.job)
            taken = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one())
            connection.commit()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        self._held = (connection, key)
        return True

    def release(self) -> None:
        if self._held is None:
            return
        connection, key = self._held
        self._held = None
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
        except DBAPIError:
            connection.invalidate()  # the session is gone, and its lock with it
        finally:
            connection.close()


class FileLock:
    """An exclusive `flock` on a file: across processes on one host, and between threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        # The file stays: removing it would let a third process lock a new file while one holds the old.
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class ProcessLock:
    """For an in-memory state database, which only this process can see."""

    _locks: ClassVar[dict[str, threading.Lock]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, job: str) -> None:
        with self._guard:
            self._lock = self._locks.setdefault(job, threading.Lock())
        self._held = False

    def acquire(self) -> bool:
        self._held = self._lock.acquire(blocking=False)
        return self._held

    def release(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()


def claim_slot(engine: Engine, job: str, slot: dt.datetime, *, holder: str, now: dt.datetime) -> bool:
    """Insert the slot's claim; False when another replica (or an earlier run here) already has it."""
    try:
        with session(engine) as db:
            db.add(JobClaim(job=job, slot=stamp(slot), holder=holder, claimed_at=stamp(now)))
    except IntegrityError:
        return False
    return True


def finish_claim(engine: Engine, job: str, slot: dt.datetime, *, status: str, now: dt.datetime) -> None:
    with session(engine) as db:
        claim = db.get_one(JobClaim, (job, stamp(slot)))
        claim.status, claim.finished_at = status, stamp(now)
        db.add(claim)


def prune_claims(engine: Engine, *, before: dt.datetime) -> None:
    """Old claims only ever answer "did that slot run?" for slots long past: keep the table small."""
    with session(engine) as db:
        db.execute(delete(JobClaim).where(col(JobClaim.slot) < stamp(before)))
