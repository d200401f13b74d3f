"""`gomme daemon`: scheduled sweeps and request processing (APScheduler 3), health and metrics, signals.

SIGTERM/SIGINT: no new job starts, running ones finish their batch and record the run `interrupted`,
the process exits 0. A second one exits at once with 128 + the signal number (apply is resumable:
the next run finishes the pending changes). SIGHUP reloads the configuration; a bad one is logged and
the old one kept.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from queue import SimpleQueue
from types import FrameType

import structlog
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gomme.jobs.health import EndpointUnavailable, HttpEndpoint, endpoint_app
from gomme.jobs.metrics import DaemonMetrics
from gomme.jobs.scheduled import JobResult, JobRunner, Setup
from gomme.jobs.schedules import trigger
from gomme.state.clock import stamp, utc_now

log = structlog.get_logger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
Loader = Callable[[Setup], Setup]

__all__ = ["Daemon", "EndpointUnavailable", "Loader", "SetupRejected", "Shutdown"]


class SetupRejected(Exception):
    """A configuration that must not replace the running one; `issues` says why, one line each."""

    def __init__(self, issues: list[str]) -> None:
        super().__init__("; ".join(issues))
        self.issues = issues


class Shutdown:
    """The signal side: plain flag writes and `SimpleQueue.put`, both safe inside a signal handler."""

    def __init__(self) -> None:
        self.stopping = False
        self.signals: SimpleQueue[int] = SimpleQueue()

    def should_stop(self) -> bool:
        return self.stopping

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum in STOP_SIGNALS:
            if self.stopping:
                when = utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                line = json.dumps({"event": "stopping_now", "level": "warning", "signal": signum, "timestamp": when})
                os.write(2, line.encode() + b"\n")  # no logger here: it is not reentrant
                os._exit(128 + signum)
            self.stopping = True
        self.signals.put(signum)

    @contextmanager
    def installed(self, *signums: int) -> Iterator[None]:
        previous = {signum: signal.signal(signum, self.on_signal) for signum in signums}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class Daemon:
    """Runs a `Setup`'s jobs on schedule (`serve`) or each once (`run_once`); `load` builds a new setup."""

    def __init__(self, setup: Setup, load: Loader, *, actor: str) -> None:
        self.setup, self.load, self.actor = setup, load, actor
        self.shutdown = Shutdown()

    def run_once(self) -> list[JobResult]:
        """Every configured job once, in order, whatever its schedule; a stop signal skips the rest."""
        runner = JobRunner(lambda: self.setup, should_stop=self.shutdown.should_stop, metrics=None, actor=self.actor)
        with self.shutdown.installed(*STOP_SIGNALS):
            results = [runner.now(spec) for spec in self.setup.jobs]
        log.info("daemon_once_finished", results={r.job: str(r.status or f"skipped: {r.skipped}") for r in results})
        return results

    def serve(self) -> None:
        """Until SIGTERM/SIGINT. Raises EndpointUnavailable before anything runs if the address is taken."""
        metrics = DaemonMetrics(actor=self.actor)
        metrics.watch(self.setup.engine)
        runner = JobRunner(lambda: self.setup, should_stop=self.shutdown.should_stop, metrics=metrics,
                           actor=self.actor)
        scheduler = BackgroundScheduler(timezone=self.setup.settings.timezone,
                                        executors={"default": ThreadPoolExecutor(max(10, len(self.setup.jobs)))})
        scheduler.add_listener(_counting_misses(metrics), EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        endpoint = HttpEndpoint(self.setup.settings.address, endpoint_app(lambda: self._health(scheduler),
                                                                          metrics.registry))
        with _scheduler_logs(), self.shutdown.installed(*STOP_SIGNALS, signal.SIGHUP):
            with _signals_for_main_thread_only(*STOP_SIGNALS, signal.SIGHUP):
                host, port = endpoint.start()
                self._schedule(scheduler, runner)
                scheduler.start()
            shown = f"[{host}]" if ":" in host else host  # an IPv6 address is bracketed in a URL
            log.info("http_listening", host=host, port=port, url=f"http://{shown}:{port}/")
            log.info("daemon_started", jobs=[spec.id for spec in self.setup.jobs])
            try:
                self._wait(scheduler, runner, metrics)
            finally:
                log.info("daemon_stopping")
                scheduler.shutdown(wait=True)  # running jobs end at their next batch boundary
                endpoint.stop()
        log.info("daemon_stopped")

    def _wait(self, scheduler: BackgroundScheduler, runner: JobRunner, metrics: DaemonMetrics) -> None:
        while True:
            signum = self.shutdown.signals.get()
            if signum != signal.SIGHUP:
                log.info("stop_requested", signal=signal.Signals(signum).name)
                return
            self._reload(scheduler, runner, metrics)

    def _reload(self, scheduler: BackgroundScheduler, runner: JobRunner, metrics: DaemonMetrics) -> None:
        old = self.setup
        try:
            new = self.load(old)
        except SetupRejected as exc:
            log.error("config_reload_rejected", issues=exc.issues, kept="the running configuration")
            return
        except Exception as exc:
            log.error("config_reload_failed", error=f"{type(exc).__name__}: {exc}", kept="the running configuration")
            return
        self.setup = new
        metrics.watch(new.engine)
        self._schedule(scheduler, runner)
        if new.settings.address != old.settings.address:
            log.warning("http_address_needs_restart", address=old.settings.address)
        log.info("config_reloaded", jobs=[spec.id for spec in new.jobs])

    def _schedule(self, scheduler: BackgroundScheduler, runner: JobRunner) -> None:
        """Make the scheduler's jobs those of the current setup; running instances finish undisturbed."""
        settings, wanted = self.setup.settings, {spec.id for spec in self.setup.jobs}
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        for spec in self.setup.jobs:
            fires = trigger(spec, settings.timezone)
            scheduler.add_job(
                runner.scheduled, fires, args=(spec, fires), id=spec.id, name=spec.id, replace_existing=True,
                coalesce=True, max_instances=1, misfire_grace_time=int(settings.misfire_grace.total_seconds()),
            )

    def _health(self, scheduler: BackgroundScheduler) -> dict[str, bool]:
        checks = {"scheduler": bool(scheduler.running) and not self.shutdown.stopping, "state_db": True}
        try:
            with self.setup.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            checks["state_db"] = False
        return checks


def _counting_misses(metrics: DaemonMetrics) -> Callable[[JobEvent], None]:
    """Runs APScheduler itself skips: later than the misfire grace, or the previous run still going."""

    def listener(event: JobEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            reason, slot = "missed", event.scheduled_run_time
        else:
            reason, slot = "running", event.scheduled_run_times[-1]
        log.warning("job_skipped", job=event.job_id, slot=stamp(slot), reason=reason)
        metrics.job_skipped(event.job_id, reason)

    return listener


@contextmanager
def _signals_for_main_thread_only(*signums: int) -> Iterator[None]:
    """Threads started in here (and the threads they start) block these signals.

    The kernel then delivers them to the main thread, the only one whose blocking waits a signal
    interrupts so that Python runs the handler: a second SIGTERM works even while it joins workers.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signums)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _ToStructlog(logging.Handler):
    """APScheduler logs through `logging`; its errors join the JSON stream instead of plain stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        log.log(record.levelno, "scheduler", message=record.getMessage())


@contextmanager
def _scheduler_logs() -> Iterator[None]:
    logger = logging.getLogger("apscheduler")
    handler = _ToStructlog()
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR)  # skips are logged by `_counting_misses`; INFO would repeat every fire
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
