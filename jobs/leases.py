"""Who may write: one writer per connector, and who runs a scheduled job when several daemons share one state.

**A lease per connector** (`connector_lease`): every sweep (dry or apply) and every request run takes it, whatever
started it (`gomme sweep`, `gomme request process`, the daemon), so two of them never write through one connector
at once; a second starter waits up to `wait` seconds, then gets `ConnectorBusy` naming the run that holds it. It is
the same kind of lock as a job's (below), so it dies with its holder; whoever takes it next closes the runs the
dead holder left `running` (state/runs.py `abandon_dead_runs`).

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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, delete

from gomme.state.clock import stamp
from gomme.state.db import is_postgres, session
from gomme.state.models import JobClaim
from gomme.state.runs import abandon_dead_runs, running

_POLL = 1.0  # seconds between two tries of a busy lease


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


class ConnectorBusy(Exception):
    """Another process is running a sweep or a request on this connector."""

    def __init__(self, connector: str, run_id: str | None, kind: str | None, since: str | None) -> None:
        doing = "carrying out requests" if kind == "request" else "sweeping"
        holder = f"run {run_id} ({doing}) since {since}" if run_id else "another process that is starting a run"
        super().__init__(
            f"connector {connector} is busy: {holder}. Only one run writes through a connector at a time; "
            "wait for it to end, or pass --wait SECONDS"
        )
        self.connector, self.run_id = connector, run_id


@contextmanager
def connector_lease(
    engine: Engine, connector: str, *, now: Callable[[], dt.datetime], wait: float = 0.0
) -> Iterator[list[str]]:
    """Hold the connector's lease for the body; yields the ids of the dead runs it closed on taking it.

    Raises `ConnectorBusy` when another holder keeps it for more than `wait` seconds.
    """
    lock = job_lock(engine, f"connector:{connector}")
    deadline = time.monotonic() + wait
    while not lock.acquire():
        left = deadline - time.monotonic()
        if left <= 0:
            with session(engine) as db:
                run = running(db, connector)
            raise ConnectorBusy(connector, *((run.id, run.kind, run.started_at) if run else (None, None, None)))
        time.sleep(min(_POLL, left))
    try:
        with session(engine) as db:
            closed = abandon_dead_runs(db, connector, now=stamp(now()))
        yield closed
    finally:
        lock.release()


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
