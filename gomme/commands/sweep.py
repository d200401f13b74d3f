"""`gomme sweep`: one sweep per connector, its plan shown before its writes, progress meanwhile, a summary per run."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from gomme.jobs.apply import ApplyCounts
from gomme.jobs.guard import ChangeLimitValue
from gomme.jobs.leases import ConnectorBusy
from gomme.jobs.progress import Stage, SweepObserver
from gomme.jobs.sweep import SweepOptions, SweepReport, sweep
from gomme.plan_output import (
    EMPTY_PLAN,
    NOTHING_READ,
    PlanSummary,
    PlanWriter,
    PlanWriters,
    TablePlanWriter,
    plan_writer,
)
from gomme.progress_display import ProgressBars, progress_for
from gomme.state.clock import utc_now
from gomme.state.runs import RunStatus
from gomme.wiring import App, default_actor

EXIT_OK, EXIT_FAILED, EXIT_NOT_WRITTEN = 0, 1, 3  # 3: blast-radius abort, or a connector busy with another run


def run_sweep(
    app: App,
    connectors: list[str] | None,
    *,
    apply: bool,
    full: bool,
    limit: int | None,
    guard: ChangeLimitValue | None,
    fmt: str,
    output: Path | None,
    console: Console,
    wait: float = 0.0,
    json_logs: bool = False,
) -> int:
    """Sweep each chosen connector in turn and return the exit code of the worst run.

    Each connector's plan (or its summary, when the plan goes out as JSON, CSV or to a file) is printed as soon
    as it is complete, before any of its changes is written; progress shows on stderr meanwhile.
    """
    names = app.connector_names(connectors)
    engine, keyring, now, actor = app.engine(), app.keyring(), utc_now(), default_actor()
    options = SweepOptions(apply=apply, full=full, limit=limit, max_changes=guard, wait=wait)
    reports: list[SweepReport] = []
    busy: list[ConnectorBusy] = []
    stream = output.open("w", encoding="utf-8", newline="") if output else None
    progress = progress_for(console, json_logs=json_logs)
    try:
        writer = plan_writer(fmt, stream or sys.stdout)
        plan = PlanWriters(writer, PlanSummary(console)) if fmt != "table" or output else writer
        view = SweepView(progress, plan, console, apply=apply)
        for name in names:
            with app.connector(name) as connector:
                ctx = app.context(connector, engine, keyring, now=now, actor=actor)
                try:
                    reports.append(sweep(ctx, options, plan, view))
                except ConnectorBusy as exc:
                    busy.append(exc)
            view.section_done()  # a plan that never reached `plan_ready` (guard, interruption) is shown too
        if isinstance(plan, TablePlanWriter):
            unread = reports and all(r.status is RunStatus.FAILED for r in reports)
            plan.close(empty=NOTHING_READ if unread else EMPTY_PLAN)
        else:
            plan.close()
    finally:
        view_hold(progress)
        if stream:
            stream.close()
    if apply:
        app.anchor()
    for report in reports:
        summarise(report, console, guard)
    for refused in busy:
        console.print(Text("not run: ", style="bold red") + Text(str(refused)), soft_wrap=True)
    if not apply and any(r.planned for r in reports):
        console.print("Dry run: nothing was written. Run again with --apply to make these changes.")
    code = exit_code(reports)
    return EXIT_NOT_WRITTEN if busy and code == EXIT_OK else code


class SweepView(SweepObserver):
    """Progress for the admin, and each connector's plan printed when it is ready: before its first write."""

    def __init__(
        self, progress: SweepObserver, plan: PlanWriter | PlanWriters, console: Console, *, apply: bool
    ) -> None:
        self._progress, self._plan, self._console, self._apply = progress, plan, console, apply

    def stage_started(self, connector: str, stage: Stage, total: int | None = None) -> None:
        self._progress.stage_started(connector, stage, total)

    def advanced(self, connector: str, stage: Stage, count: int) -> None:
        self._progress.advanced(connector, stage, count)

    def plan_ready(self, connector: str, planned: int) -> None:
        self.section_done()
        if self._apply and planned:
            self._console.print(
                f"{connector}: applying {planned:,} change(s)", soft_wrap=True, markup=False, highlight=False
            )

    def finished(self, connector: str) -> None:
        self._progress.finished(connector)

    def section_done(self) -> None:
        self.hold()
        self._plan.section_done()

    def hold(self) -> None:
        view_hold(self._progress)


def view_hold(progress: SweepObserver) -> None:
    """Stop drawing bars (if any) so what follows prints below them."""
    if isinstance(progress, ProgressBars):
        progress.hold()


def summarise(report: SweepReport, console: Console, guard: ChangeLimitValue | None) -> None:
    mode = "apply" if report.apply else "dry run"
    line = (
        f"[bold]{report.connector}[/] ({mode}, run {report.run_id}): {report.status}; pulled {report.pulled}, "
        f"planned {report.planned}"
    )
    if report.apply:
        line += f", applied {report.outcome.applied}, failed {report.outcome.failed}, skipped {report.outcome.skipped}"
    console.print(line, soft_wrap=True)
    if _any(report.resumed):
        console.print(
            f"  finished {report.resumed.applied} change(s) an earlier run left pending "
            f"({report.resumed.failed} failed, {report.resumed.skipped} no longer needed)",
            soft_wrap=True,
        )
    if report.status is RunStatus.ABORTED:
        base = f"the {report.size} records the CRM holds" if report.size is not None else f"{report.pulled} pulled"
        console.print(
            f"  [bold red]aborted[/]: the plan changes {report.planned} of {base}, more than "
            f"--max-changes {guard}; nothing was written. Check the plan, then raise the limit.",
            soft_wrap=True,
        )
    for notice in report.notices:
        console.print(f"  note: {notice}", soft_wrap=True, markup=False, highlight=False)
    errors = report.outcome.errors + report.resumed.errors
    for error, count in errors.most_common(10):
        console.print(f"  failed {count}: {error}", soft_wrap=True, markup=False, highlight=False)
    if report.error:
        console.print(Text("  error: ", style="bold red") + Text(report.error), soft_wrap=True)


def _any(counts: ApplyCounts) -> bool:
    return bool(counts.applied or counts.failed or counts.skipped)


def exit_code(reports: list[SweepReport]) -> int:
    statuses = {report.status for report in reports}
    if RunStatus.FAILED in statuses:
        return EXIT_FAILED
    if RunStatus.ABORTED in statuses:
        return EXIT_NOT_WRITTEN
    return EXIT_OK
