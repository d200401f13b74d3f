"""Progress bars on a terminal for a sweep: one line per connector and stage, with counts, rate and ETA."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from gomme.jobs.progress import ProgressLog, Stage, SweepObserver

REFRESH_PER_SECOND = 4  # the job only bumps counters per batch; rich redraws at this pace


class _Count(ProgressColumn):
    """`1,200/5,000` when the total is known, `1,200` otherwise."""

    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        return Text(done if task.total is None else f"{done}/{int(task.total):,}")


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s")


class _Remaining(TimeRemainingColumn):
    """The ETA only where a total is known (a pull or a plan has none: spinner, count and rate)."""

    def render(self, task: Task) -> Text:
        return super().render(task) if task.total is not None else Text("")


class ProgressBars(SweepObserver):
    """Draws the stages on `console` (a terminal); `hold()` stops drawing so a plan can be printed in between,
    the next stage draws again below it."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress: Progress | None = None
        self._tasks: dict[tuple[str, Stage], TaskID] = {}

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.hold()

    def stage_started(self, connector: str, stage: Stage, total: int | None = None) -> None:
        progress = self._live()
        self._tasks[(connector, stage)] = progress.add_task(f"{connector} {stage}", total=total)

    def advanced(self, connector: str, stage: Stage, count: int) -> None:
        task = self._tasks.get((connector, stage))
        if task is None:
            self.stage_started(connector, stage)
            task = self._tasks[(connector, stage)]
        if self._progress is not None:
            self._progress.advance(task, count)

    def finished(self, connector: str) -> None:
        for (name, _), task in list(self._tasks.items()):
            if name == connector and self._progress is not None:
                self._progress.stop_task(task)

    def hold(self) -> None:
        """Stop drawing, leaving the bars' last state on screen."""
        if self._progress is not None:
            for task in self._tasks.values():
                self._progress.stop_task(task)
            self._progress.stop()
        self._progress, self._tasks = None, {}

    def _live(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(finished_text=" "), TextColumn("{task.description}"), BarColumn(), _Count(), _Rate(),
                _Remaining(), console=self._console, refresh_per_second=REFRESH_PER_SECOND,
            )  # fmt: skip
            self._progress.start()
        return self._progress


def progress_for(console: Console, *, json_logs: bool) -> ProgressBars | ProgressLog:
    """Bars on a terminal (unless the logs are JSON lines), else periodic `progress` log events."""
    if console.is_terminal and not json_logs:
        return ProgressBars(console)
    return ProgressLog()
