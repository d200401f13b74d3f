"""`gomme sweep`: one sweep per connector, the plan streamed to its writer, a summary per run."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from gomme.jobs.apply import ApplyCounts
from gomme.jobs.guard import ChangeLimitValue
from gomme.jobs.leases import ConnectorBusy
from gomme.jobs.sweep import SweepOptions, SweepReport, sweep
from gomme.plan_output import plan_writer
from gomme.state.clock import utc_now
from gomme.state.runs import RunStatus
from gomme.wiring import App, default_actor

EXIT_OK, EXIT_FAILED, EXIT_NOT_WRITTEN = 0, 1, 3  # 3: blast-radius abort, or a connector busy with another run


def run_sweep(
    app: App, connectors: list[str] | None, *, apply: bool, full: bool, limit: int | None,
    guard: ChangeLimitValue | None, fmt: str, output: Path | None, console: Console, wait: float = 0.0,
) -> int:
    """Sweep each chosen connector in turn and return the exit code of the worst run."""
    names = app.connector_names(connectors)
    engine, keyring, now, actor = app.engine(), app.keyring(), utc_now(), default_actor()
    options = SweepOptions(apply=apply, full=full, limit=limit, max_changes=guard, wait=wait)
    reports: list[SweepReport] = []
    busy: list[ConnectorBusy] = []
    stream = output.open("w", encoding="utf-8", newline="") if output else None
    try:
        writer = plan_writer(fmt, stream or sys.stdout)
        for name in names:
            with app.connector(name) as connector:
                ctx = app.context(connector, engine, keyring, now=now, actor=actor)
                try:
                    reports.append(sweep(ctx, options, writer))
                except ConnectorBusy as exc:
                    busy.append(exc)
        writer.close()
    finally:
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


def summarise(report: SweepReport, console: Console, guard: ChangeLimitValue | None) -> None:
    mode = "apply" if report.apply else "dry run"
    line = f"[bold]{report.connector}[/] ({mode}, run {report.run_id}): {report.status}; pulled {report.pulled}, " \
           f"planned {report.planned}"
    if report.apply:
        line += f", applied {report.outcome.applied}, failed {report.outcome.failed}, skipped {report.outcome.skipped}"
    console.print(line, soft_wrap=True)
    if _any(report.resumed):
        console.print(f"  finished {report.resumed.applied} change(s) an earlier run left pending "
                      f"({report.resumed.failed} failed, {report.resumed.skipped} no longer needed)", soft_wrap=True)
    if report.status is RunStatus.ABORTED:
        base = f"the {report.size} records the CRM holds" if report.size is not None else f"{report.pulled} pulled"
        console.print(f"  [bold red]aborted[/]: the plan changes {report.planned} of {base}, more than "
                      f"--max-changes {guard}; nothing was written. Check the plan, then raise the limit.",
                      soft_wrap=True)
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
