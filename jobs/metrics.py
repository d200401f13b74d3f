"""The daemon's Prometheus metrics, in a registry of its own (never prometheus-client's global one).

Counted in this process: job runs and skips, durations, last success, API calls. Read from the state
database at scrape time: open and overdue requests, and the changes this replica settled (its audit
entries, found by its actor, so replicas never count each other's work).

API usage: every connector's `usage()` (connectors/base.py `Usage`), read when the daemon closes it after a
run: `calls`, the API calls made since it was opened (the daemon opens one per run), by HTTP status or error
class; `budget_remaining`, the calls left in the CRM's allowance (Salesforce's daily API requests, from
`Sforce-Limit-Info`), or None when the CRM publishes none.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter as Tally
from collections.abc import Iterator, Mapping

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Engine, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from gomme.connectors.base import Connector
from gomme.state.breach import hours_left, open_cases
from gomme.state.clock import utc_now
from gomme.state.models import AuditEvent
from gomme.state.requests import overdue, unfinished

log = structlog.get_logger(__name__)

DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, float("inf"))


class DaemonMetrics:
    """Everything `/metrics` shows. `watch(engine)` points the state-backed metrics at a database."""

    def __init__(self, *, actor: str) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter("gomme_job_runs", "Scheduled job runs, by job and final status "
                            "(succeeded, failed, interrupted, aborted).", ["job", "status"], registry=self.registry)
        self.skipped = Counter("gomme_job_skipped", "Scheduled runs not made here, by reason: busy (another "
                               "replica runs the job), claimed (another replica ran the slot), running (still running "
                               "here), missed (later than the misfire grace), late, stopping.",
                               ["job", "reason"], registry=self.registry)
        self.last_success = Gauge("gomme_job_last_success_timestamp_seconds", "When each job last succeeded "
                                  "(Unix time).", ["job"], registry=self.registry)
        self.duration = Histogram("gomme_job_duration_seconds", "How long job runs take.", ["job"],
                                  buckets=DURATION_BUCKETS, registry=self.registry)
        self.api_calls = Counter("gomme_api_calls", "CRM API calls, by connector and HTTP status.",
                                 ["connector", "status"], registry=self.registry)
        self.api_budget = Gauge("gomme_api_budget_remaining", "API calls left in the CRM's allowance.",
                                ["connector"], registry=self.registry)
        self.state = StateCollector(actor)
        self.registry.register(self.state)

    def watch(self, engine: Engine) -> None:
        self.state.watch(engine)

    def job_finished(self, job: str, status: str, *, seconds: float, now: dt.datetime) -> None:
        self.runs.labels(job=job, status=status).inc()
        self.duration.labels(job=job).observe(seconds)
        if status == "succeeded":
            self.last_success.labels(job=job).set(now.timestamp())

    def job_skipped(self, job: str, reason: str) -> None:
        self.skipped.labels(job=job, reason=reason).inc()

    def observe_usage(self, connector_name: str, connector: Connector) -> None:
        """Add what the connector reports through `usage()` (connectors/base.py `Usage`)."""
        try:
            usage = connector.usage()
            for status, count in usage.calls.items():
                if count:
                    self.api_calls.labels(connector=connector_name, status=str(status)).inc(float(count))
            if usage.budget_remaining is not None:
                self.api_budget.labels(connector=connector_name).set(float(usage.budget_remaining))
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("connector_usage_unreadable", connector=connector_name, error=type(exc).__name__)


class StateCollector:
    """Scrape-time metrics from the state database; a database outage leaves them out, never fails a scrape."""

    def __init__(self, actor: str) -> None:
        self.actor = actor
        self._engine: Engine | None = None
        self._after_seq: int | None = None  # audit entries up to here are counted (or predate this process)
        self._changes: Tally[tuple[str, str, str]] = Tally()
        self._lock = threading.Lock()

    def watch(self, engine: Engine) -> None:
        with self._lock:
            if engine is not self._engine:
                self._engine, self._after_seq = engine, None
                try:
                    self._catch_up(engine)
                except SQLAlchemyError as exc:  # counting starts at the first scrape that reaches the database
                    log.warning("metrics_state_unavailable", error=type(exc).__name__)

    def describe(self) -> Iterator[Metric]:
        yield from self._families({}, None, {})

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            requests, breaches = None, {}
            if self._engine is not None:
                try:
                    self._catch_up(self._engine)
                    requests = self._requests(self._engine)
                    breaches = self._breaches(self._engine)
                except SQLAlchemyError as exc:
                    log.warning("metrics_state_unavailable", error=type(exc).__name__)
            changes = dict(self._changes)
        yield from self._families(changes, requests, breaches)

    def _families(
        self, changes: Mapping[tuple[str, str, str], int], requests: tuple[int, int] | None,
        breaches: Mapping[str, float],
    ) -> Iterator[Metric]:
        counted = CounterMetricFamily("gomme_changes", "Changes settled by this replica, by connector, action "
                                      "and outcome (applied, failed).", labels=["connector", "action", "outcome"])
        for labels, count in sorted(changes.items()):
            counted.add_metric(list(labels), count)
        yield counted
        open_ = GaugeMetricFamily("gomme_requests_open", "Data-subject requests not yet completed.")
        late = GaugeMetricFamily("gomme_requests_overdue", "Data-subject requests past their deadline (Art 12(3)).")
        if requests is not None:
            open_.add_metric([], requests[0])
            late.add_metric([], requests[1])
        yield open_
        yield late
        deadline = GaugeMetricFamily("gomme_breach_deadline_hours", "Hours left before each open breach case's "
                                     "72-hour notification deadline (Art 33(1)); negative once past it.",
                                     labels=["case"])
        for case, hours in sorted(breaches.items()):
            deadline.add_metric([case], hours)
        yield deadline

    def _catch_up(self, engine: Engine) -> None:
        """Count the audit entries this replica appended since the last look (entries of changes only)."""
        with Session(engine) as db:
            newest = db.exec(select(func.max(AuditEvent.seq))).one() or 0
            if self._after_seq is None:
                self._after_seq = newest
                return
            rows = db.exec(
                select(AuditEvent.crm, AuditEvent.action, AuditEvent.outcome, func.count())
                .where(col(AuditEvent.seq) > self._after_seq, col(AuditEvent.seq) <= newest,
                       AuditEvent.actor == self.actor, col(AuditEvent.change_id).is_not(None))
                .group_by(col(AuditEvent.crm), col(AuditEvent.action), col(AuditEvent.outcome))
            ).all()
        for crm, action, outcome, count in rows:
            self._changes[(crm, action, outcome)] += count
        self._after_seq = newest

    def _breaches(self, engine: Engine) -> dict[str, float]:
        """Open breach case id → hours to its deadline."""
        now = utc_now()
        with Session(engine) as db:
            return {case.id: round(hours_left(case, now), 2) for case in open_cases(db)}

    def _requests(self, engine: Engine) -> tuple[int, int]:
        with Session(engine) as db:
            return sum(1 for _ in unfinished(db)), len(overdue(db, utc_now()))
