"""`gomme demo`: the whole tour on synthetic people, offline, in a directory of its own."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from gomme.commands import error_line
from gomme.commands.audit import AuditQuery, show_log, verify_chain
from gomme.commands.sweep import exit_code, summarise
from gomme.config import EMBEDDED_CONFIG, demo_home, load_config_file
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import DEMO_SIZE, demo_people
from gomme.jobs.plan import PlanItem
from gomme.jobs.sweep import SweepOptions, SweepReport, sweep
from gomme.logs import configure_logging
from gomme.plan_output import plan_writer
from gomme.state.clock import utc_now
from gomme.wiring import App

MARKER = ".gomme-demo"
DEMO_FILES = ("crm.db", "state.db", "config.toml", "anchors.jsonl")


def run_demo(directory: Path, console: Console) -> int:
    configure_logging("auto", "warning")
    directory = directory.resolve()
    if not _prepare(directory, console):
        return 2
    config_path = directory / "config.toml"
    config_path.write_text(EMBEDDED_CONFIG, encoding="utf-8")
    app = App(load_config_file(config_path))
    try:
        return _tour(app, directory, config_path)
    finally:
        app.close()


def _tour(app: App, directory: Path, config_path: Path) -> int:
    """The five steps, each under a rule: dry run, apply, the log, verify, a second sweep with nothing left."""
    now = utc_now()
    with LocalConnector("demo", directory / "crm.db") as crm:
        crm.add(demo_people(now))
    out = Console(file=sys.stdout, width=max(Console().width, 120))

    out.print(Rule(f"1. Dry run on {DEMO_SIZE} synthetic people (nothing is written)"))
    dry = _sweep(app, apply=False, show_plan=True)
    out.print(Rule("2. Apply: write-ahead, CRM writes, one audit entry per change"))
    applied = _sweep(app, apply=True, show_plan=False)
    out.print(Rule("3. The audit log (record keys are HMACs: no names, no emails)"))
    show_log(app, AuditQuery(limit=10), "table", sys.stdout)
    out.print("The person under legal hold asked for erasure: restricted instead, GDPR Art 17(3)(e):")
    show_log(app, AuditQuery(action="restrict_all", rule="erasure-request"), "table", sys.stdout)
    out.print(Rule("4. Verify the hash chain"))
    verified = verify_chain(app, out)
    out.print(Rule("5. A second sweep finds nothing left to do"))
    again = _sweep(app, apply=False, show_plan=True)
    hint = "" if directory == demo_home() else f"--config {config_path} "
    out.print(f"\nThe demo's files are in {directory}. Go on with, for example:\n"
              f"  gomme {hint}audit log --format json\n"
              f"  gomme {hint}sweep")
    worst = exit_code([dry, applied, again])
    return worst or verified or (1 if again.planned else 0)


def _sweep(app: App, *, apply: bool, show_plan: bool) -> SweepReport:
    engine, keyring = app.engine(), app.keyring()
    writer = plan_writer("table", sys.stdout, rows=8)
    with app.connector("demo") as connector:
        report = sweep(app.context(connector, engine, keyring, now=utc_now(), actor="demo"),
                       SweepOptions(apply=apply), writer if show_plan else _ignore)
    if apply:
        app.anchor()
    if show_plan:
        writer.close()
    summarise(report, Console(file=sys.stdout, highlight=False), None)
    return report


def _ignore(_item: PlanItem) -> None:
    """The apply step's plan is the one shown in step 1."""


def _prepare(directory: Path, console: Console) -> bool:
    """Start from a clean demo directory, but never delete files the demo did not create."""
    if directory.exists() and any(directory.iterdir()) and not (directory / MARKER).exists():
        console.print(error_line(f"{directory} exists and was not made by `gomme demo`; choose another --dir"),
                      soft_wrap=True)
        return False
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in DEMO_FILES:
        for path in directory.glob(f"{name}*"):
            path.unlink() if path.is_file() else shutil.rmtree(path)
    (directory / MARKER).touch()
    return True
