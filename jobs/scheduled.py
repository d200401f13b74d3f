"""One run of a daemon job: under its lock, for its slot, counted in metrics and logged without personal data."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from gomme.connectors.base import Connector
from gomme.connectors.errors import ConnectorError
from gomme.jobs.context import RunContext
from gomme.jobs.leases import ConnectorBusy, claim_slot, finish_claim, holder_name, holding, job_lock, prune_claims
from gomme.jobs.metrics import DaemonMetrics
from gomme.jobs.plan import PlanItem
from gomme.jobs.requests import RequestDesk, process
from gomme.jobs.schedules import JobKind, JobSpec, latest_fire_time
from gomme.jobs.sweep import SweepOptions, sweep
from gomme.state.clock import stamp, utc_now
from gomme.state.keys import Keyring
from gomme.state.requests import unfinished
from gomme.state.runs import RunStatus

log = structlog.get_logger(__name__)

CLAIMS_KEPT = dt.timedelta(days=30)
SLOT_MARGIN = dt.timedelta(minutes=1)  # beyond the misfire grace: the executor may start a job a little late
_SEVERITY = (RunStatus.FAILED, RunStatus.ABORTED, RunStatus.INTERRUPTED, RunStatus.SUCCEEDED)


class Wiring(Protocol):
    """What the daemon needs from the composition root (gomme.wiring.App provides it)."""

    def connector_names(self, wanted: list[str] | None = None) -> list[str]: ...

    def connector(self, name: str) -> AbstractContextManager[Connector]: ...

    def context(
        self, connector: Connector, engine: Engine, keyring: Keyring, *, now: dt.datetime, actor: str,
        should_stop: Callable[[], bool] | None = None,
    ) -> RunContext: ...

    def request_desk(self, engine: Engine, keyring: Keyring, *, now: dt.datetime, actor: str) -> RequestDesk: ...

    def anchor(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    address: str
    misfire_grace: dt.timedelta
    timezone: dt.tzinfo


@dataclass(frozen=True, slots=True)
class Setup:
    """A loaded configuration, live: replaced whole when SIGHUP brings a valid new one."""

    wiring: Wiring
    engine: Engine
    keyring: Keyring
    jobs: tuple[JobSpec, ...]
    settings: DaemonSettings


@dataclass(frozen=True, slots=True)
class JobResult:
    job: str
    status: RunStatus | None  # None: not run here, for `skipped`
    skipped: str | None = None  # busy | claimed | late | stopping
    run_ids: tuple[str, ...] = ()


def daemon_actor() -> str:
    """The audit actor of daemon runs: `GOMME_ACTOR`, else this replica (`daemon@host:pid`)."""
    return os.environ.get("GOMME_ACTOR") or f"daemon@{socket.gethostname()}:{os.getpid()}"


def worst(statuses: list[RunStatus]) -> RunStatus:
    return min(statuses, key=_SEVERITY.index, default=RunStatus.SUCCEEDED)


class JobRunner:
    """Runs jobs for the daemon; `current` gives the live setup, `should_stop` is the shutdown flag."""

    def __init__(
        self, current: Callable[[], Setup], *, should_stop: Callable[[], bool], metrics: DaemonMetrics | None,
        actor: str,
    ) -> None:
        self.current, self.should_stop, self.metrics, self.actor = current, should_stop, metrics, actor
        self.holder = holder_name()

    def scheduled(self, spec: JobSpec, fires: Any) -> JobResult:
        """Called by APScheduler when the job's trigger fires: run the slot unless someone else has."""
        setup, now = self.current(), utc_now()
        slot = latest_fire_time(fires, now, setup.settings.misfire_grace + SLOT_MARGIN)
        if slot is None:
            return self._skip(spec, "late")
        return self._run(setup, spec, slot)

    def now(self, spec: JobSpec) -> JobResult:
        """`--once`: run the job right away, for no slot (but never alongside a replica running it)."""
        return self._run(self.current(), spec, None)

    def _run(self, setup: Setup, spec: JobSpec, slot: dt.datetime | None) -> JobResult:
        with structlog.contextvars.bound_contextvars(job=spec.id, **({"slot": stamp(slot)} if slot else {})):
            if self.should_stop():
                return self._skip(spec, "stopping")
            try:
                return self._locked(setup, spec, slot)
            except SQLAlchemyError as exc:  # the state database is down: nothing can be run or recorded
                log.error("job_failed", reason="state database unavailable", error=type(exc).__name__)
                if self.metrics is not None:
                    self.metrics.job_finished(spec.id, str(RunStatus.FAILED), seconds=0.0, now=utc_now())
                return JobResult(spec.id, RunStatus.FAILED)

    def _locked(self, setup: Setup, spec: JobSpec, slot: dt.datetime | None) -> JobResult:
        with holding(job_lock(setup.engine, spec.id)) as held:
            if not held:
                return self._skip(spec, "busy")
            if slot is not None and not claim_slot(setup.engine, spec.id, slot, holder=self.holder, now=utc_now()):
                return self._skip(spec, "claimed")
            result = self._timed(setup, spec)
            if slot is not None:
                self._settle_claim(setup, spec, slot, result)
        return result

    def _settle_claim(self, setup: Setup, spec: JobSpec, slot: dt.datetime, result: JobResult) -> None:
        """Record the slot's outcome; the claim itself already keeps the slot from running twice."""
        try:
            finish_claim(setup.engine, spec.id, slot, status=str(result.status), now=utc_now())
            prune_claims(setup.engine, before=slot - CLAIMS_KEPT)
        except SQLAlchemyError as exc:
            log.warning("claim_not_settled", error=type(exc).__name__)

    def _timed(self, setup: Setup, spec: JobSpec) -> JobResult:
        started = time.monotonic()
        log.info("job_started", kind=str(spec.kind), **({"apply": spec.apply} if spec.kind is JobKind.SWEEP else {}))
        try:
            status, run_ids = self._sweep(setup, spec) if spec.kind is JobKind.SWEEP else self._requests(setup)
        except Exception:
            log.exception("job_crashed")
            status, run_ids = RunStatus.FAILED, []
        seconds = time.monotonic() - started
        try:
            setup.wiring.anchor()  # the chain's head, to the auditor's file, after every job
        except OSError as exc:
            log.error("anchor_not_written", error=f"{type(exc).__name__}: {exc.strerror}")
            status = RunStatus.FAILED
        if self.metrics is not None:
            self.metrics.job_finished(spec.id, str(status), seconds=seconds, now=utc_now())
        log.info("job_finished", status=str(status), run_ids=run_ids, seconds=round(seconds, 3))
        return JobResult(spec.id, status, run_ids=tuple(run_ids))

    def _skip(self, spec: JobSpec, reason: str) -> JobResult:
        log.info("job_skipped", reason=reason)
        if self.metrics is not None:
            self.metrics.job_skipped(spec.id, reason)
        return JobResult(spec.id, None, skipped=reason)

    def _sweep(self, setup: Setup, spec: JobSpec) -> tuple[RunStatus, list[str]]:
        options = SweepOptions(apply=spec.apply, max_changes=spec.max_changes)
        statuses, run_ids = [], []
        for name in setup.wiring.connector_names(list(spec.connectors) or None):
            if self.should_stop():
                statuses.append(RunStatus.INTERRUPTED)
                break
            with structlog.contextvars.bound_contextvars(connector=name):
                try:
                    with self._open(setup, name) as connector:
                        ctx = setup.wiring.context(connector, setup.engine, setup.keyring, now=utc_now(),
                                                   actor=self.actor, should_stop=self.should_stop)
                        report = sweep(ctx, options, _plan_not_kept)
                except ConnectorBusy as exc:  # a hand-started sweep or request holds it: its turn comes next slot
                    log.warning("connector_busy", run_id=exc.run_id, outcome="skipped until the next slot")
                    continue
                except ConnectorError as exc:  # the connector could not even be opened
                    log.error("connector_unavailable", error=str(exc))
                    statuses.append(RunStatus.FAILED)
                    continue
            statuses.append(report.status)
            run_ids.append(report.run_id)
        return worst(statuses), run_ids

    def _requests(self, setup: Setup) -> tuple[RunStatus, list[str]]:
        """Every unfinished request, one at a time: a stop waits for the current request, not the rest."""
        desk = setup.wiring.request_desk(setup.engine, setup.keyring, now=utc_now(), actor=self.actor)
        desk = replace(desk, open_connector=lambda name: self._open(setup, name))
        with Session(setup.engine) as db:
            ids = [request.id for request in unfinished(db)]
        failed = False
        for request_id in ids:
            if self.should_stop():
                return (RunStatus.FAILED if failed else RunStatus.INTERRUPTED), []
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                failed |= bool(process(desk, request_id).failures)
        return (RunStatus.FAILED if failed else RunStatus.SUCCEEDED), []

    @contextmanager
    def _open(self, setup: Setup, name: str) -> Iterator[Connector]:
        """The connector, its API usage counted when it closes."""
        with setup.wiring.connector(name) as connector:
            try:
                yield connector
            finally:
                if self.metrics is not None:
                    self.metrics.observe_usage(name, connector)


def _plan_not_kept(_item: PlanItem) -> None:
    """Scheduled dry runs keep no plan file: the run's counts and logs say what it would change."""
