"""`gomme daemon`: the configuration turned into scheduled jobs, served until a signal, or run once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy.engine import make_url

from gomme.commands import error_line
from gomme.config import Config, ConfigError
from gomme.jobs.daemon import Daemon, EndpointUnavailable, SetupRejected
from gomme.jobs.scheduled import DaemonSettings, JobResult, Setup, daemon_actor
from gomme.jobs.schedules import JobKind, JobSpec, job_id, parse_interval
from gomme.logs import configure_logging
from gomme.state.runs import RunStatus
from gomme.wiring import App

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BLAST_RADIUS = 0, 1, 2, 3


def run_daemon(app: App, reload_config: Callable[[], Config], *, once: bool, console: Console) -> int:
    """Serve until SIGTERM/SIGINT (exit 0), or with `once` run every job once and exit with the worst outcome."""
    daemon = Daemon(build_setup(app, None), _loader(reload_config), actor=daemon_actor())
    if once:
        return once_exit_code(daemon.run_once())
    try:
        daemon.serve()
    except EndpointUnavailable as exc:
        console.print(error_line(f"{exc}; set [daemon] address"), soft_wrap=True)
        return EXIT_USAGE
    return EXIT_OK


def daemon_logging(fmt: str | None, level: str | None, config: Config) -> None:
    """JSON lines unless console was asked for explicitly (docs/architecture.md: JSON in daemon mode)."""
    chosen = fmt or config.logging.format
    configure_logging("console" if chosen == "console" else "json", level or config.logging.level)


def build_setup(app: App, previous: Setup | None) -> Setup:
    """A live setup; the state engine is reused when the state URL did not change (one connection pool, not two)."""
    config = app.config
    if previous is not None and previous.engine.url == make_url(config.state_url()):
        app = App(config, engine=previous.engine)
    engine = app.engine()
    settings = DaemonSettings(address=config.daemon.address, misfire_grace=config.daemon.misfire_grace,
                              timezone=ZoneInfo(config.daemon.timezone))
    config.policy.prepare()  # the notes lexicons compile here, not in the first scheduled run
    return Setup(wiring=app, engine=engine, keyring=app.keyring(), jobs=job_specs(config), settings=settings)


def job_specs(config: Config) -> tuple[JobSpec, ...]:
    """One spec per `[[schedules]]` entry, plus request processing every `[daemon] requests_every` unless scheduled."""
    specs: list[JobSpec] = []
    for schedule in config.schedules:
        kind = JobKind(schedule.job)
        every = parse_interval(schedule.every) if schedule.every is not None else None
        connectors = tuple(schedule.connectors) if kind is JobKind.SWEEP else ()
        apply = schedule.apply and kind is JobKind.SWEEP
        ident = job_id(kind, connectors=connectors, apply=apply, cron=schedule.cron, every=every)
        limit = schedule.max_changes if schedule.max_changes is not None else config.sweep.max_changes
        specs.append(JobSpec(id=_unique(ident, specs), kind=kind, cron=schedule.cron, every=every,
                             connectors=connectors, apply=apply, max_changes=limit))
    if not any(spec.kind is JobKind.REQUESTS for spec in specs):
        every = config.daemon.requests_every
        specs.append(JobSpec(id=job_id(JobKind.REQUESTS, every=every), kind=JobKind.REQUESTS, every=every))
    return tuple(specs)


def once_exit_code(results: Sequence[JobResult]) -> int:
    """1 if a run failed, else 3 if a blast-radius guard aborted one, else 0 (interrupted and skipped runs too)."""
    statuses = {result.status for result in results}
    if RunStatus.FAILED in statuses:
        return EXIT_FAILED
    if RunStatus.ABORTED in statuses:
        return EXIT_BLAST_RADIUS
    return EXIT_OK


def _unique(ident: str, specs: Sequence[JobSpec]) -> str:
    """Two identical schedules stay two jobs (with their own locks and slots)."""
    taken = {spec.id for spec in specs}
    candidate, number = ident, 1
    while candidate in taken:
        number += 1
        candidate = f"{ident} #{number}"
    return candidate


def _loader(reload_config: Callable[[], Config]) -> Callable[[Setup], Setup]:
    def load(previous: Setup) -> Setup:
        try:
            config = reload_config()
        except ConfigError as exc:
            raise SetupRejected([f"{exc.source}: {issue}" for issue in exc.issues]) from None
        return build_setup(App(config), previous)

    return load
