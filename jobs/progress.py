"""How far a sweep got, told to whoever runs it: counts per connector and stage, batch by batch, no UI.

The job calls a `SweepObserver` after each batch (never per record); the CLI draws progress bars from it
(gomme/progress_display.py), the daemon and JSON logs get `ProgressLog`'s periodic `progress` events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import structlog

log = structlog.get_logger(__name__)
PROGRESS_EVERY = 10.0  # seconds between two `progress` events of a run


class Stage(StrEnum):
    PULLED = "pulled"  # records read from the CRM
    PLANNED = "planned"  # changes decided and stored
    APPLIED = "applied"  # changes settled (applied, failed or skipped)


class SweepObserver:
    """Told what a sweep does; every method does nothing here, so an observer overrides only what it needs."""

    def stage_started(self, connector: str, stage: Stage, total: int | None = None) -> None:
        """A stage begins; `total` when the count it will reach is known (the apply stage's plan size)."""

    def advanced(self, connector: str, stage: Stage, count: int) -> None:
        """`count` more records (or changes) went through the stage."""

    def plan_ready(self, connector: str, planned: int) -> None:
        """The whole plan is decided (and stored with --apply) and passed the guard; nothing of it is written yet."""

    def finished(self, connector: str) -> None:
        """The connector's sweep is over, whatever its outcome."""


@dataclass(slots=True)
class _Count:
    done: int = 0
    total: int | None = None
    started: float = 0.0


@dataclass(slots=True)
class _Run:
    stages: dict[Stage, _Count] = field(default_factory=dict)
    last_event: float = 0.0

    @property
    def headline(self) -> Stage:
        """The stage whose pace the event reports: the pull while planning (planning keeps up with it), then
        the apply."""
        return Stage.APPLIED if Stage.APPLIED in self.stages else Stage.PULLED


class ProgressLog(SweepObserver):
    """A structured `progress` event at most every `every` seconds per connector: counts, rate and ETA."""

    def __init__(self, every: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = PROGRESS_EVERY if every is None else every
        self._clock = clock
        self._runs: dict[str, _Run] = {}

    def stage_started(self, connector: str, stage: Stage, total: int | None = None) -> None:
        now = self._clock()
        run = self._runs.setdefault(connector, _Run(last_event=now))
        run.stages[stage] = _Count(total=total, started=now)

    def advanced(self, connector: str, stage: Stage, count: int) -> None:
        run = self._runs.get(connector)
        if run is None or stage not in run.stages:
            self.stage_started(connector, stage)
            run = self._runs[connector]
        run.stages[stage].done += count
        now = self._clock()
        if now - run.last_event >= self._every:
            run.last_event = now
            self._emit(connector, run, now)

    def finished(self, connector: str) -> None:
        self._runs.pop(connector, None)

    @staticmethod
    def _emit(connector: str, run: _Run, now: float) -> None:
        headline = run.headline
        stage = run.stages.get(headline) or _Count(started=now)
        elapsed = max(now - stage.started, 1e-9)
        rate = stage.done / elapsed
        extra: dict[str, float | int] = {}
        if stage.total is not None:
            extra["total"] = stage.total
            if rate > 0:
                extra["eta_s"] = round(max(stage.total - stage.done, 0) / rate, 1)
        counts = {str(name): count.done for name, count in run.stages.items()}
        log.info(
            "progress",
            connector=connector,
            stage=str(headline),
            rate_per_s=round(rate, 1),
            **extra,
            **counts,
        )
