"""The `gomme` command line: typer commands that parse options, call jobs, and render results.

Exit codes (docs/architecture.md): 0 ok, 1 run failed, 2 bad usage or configuration, 3 nothing written: blast-radius
abort, or the connector is busy with another run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import IO, Annotated, NoReturn

import typer
from rich.console import Console

from gomme import __version__
from gomme.commands import UsageError, error_line
from gomme.commands.audit import AuditQuery
from gomme.config import CONFIG_ENV, Config, ConfigError, NoConfigError, demo_home, find_config, load_config_file
from gomme.connectors.errors import FatalError
from gomme.jobs.guard import ChangeLimitValue
from gomme.logs import configure_logging, json_logs
from gomme.state.keys import SecretKeyError
from gomme.state.requests import RequestType
from gomme.wiring import App

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BLAST_RADIUS = 0, 1, 2, 3
LOG_DEFAULT_LIMIT = 50  # `audit log` entries shown without --limit or --all

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Keep the personal data in your CRMs lawful (GDPR, CNIL), with a verifiable audit log.",
)
audit_app = typer.Typer(no_args_is_help=True, help="Read and verify the audit log (for auditors).")
db_app = typer.Typer(no_args_is_help=True, help="The state database.")
local_app = typer.Typer(no_args_is_help=True, help="The local SQLite CRM (type = \"local\").")
config_app = typer.Typer(no_args_is_help=True, help="The configuration file.")
policy_app = typer.Typer(no_args_is_help=True, help="The policy: the rules gomme applies.")
request_app = typer.Typer(no_args_is_help=True, help="Data-subject requests (GDPR Art 15-21), in every CRM.")
key_app = typer.Typer(no_args_is_help=True, help="The state key.")
for sub, name in ((audit_app, "audit"), (db_app, "db"), (local_app, "local"), (config_app, "config"),
                  (policy_app, "policy"), (request_app, "request"), (key_app, "key")):
    app.add_typer(sub, name=name)

err = Console(stderr=True, highlight=False)


class LogFormat(StrEnum):
    auto = "auto"
    console = "console"
    json = "json"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(error_line(message), soft_wrap=True)
    raise typer.Exit(code)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gomme {metadata.version('gomme')}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", envvar=CONFIG_ENV,
            help="Config file (TOML). Default: ./gomme.toml, else ./config.toml, else ~/.config/gomme/config.toml.",
        ),
    ] = None,
    log_format: Annotated[LogFormat | None, typer.Option(help="Log format; default from config, else auto.")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error.")] = None,
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit.")
    ] = False,
) -> None:
    options = _Options(config, log_format, log_level)
    ctx.obj = options
    ctx.call_on_close(options.close)


class _Options:
    """Global options; the config is loaded on first use so `--help` never needs a valid config."""

    def __init__(self, path: Path | None, log_format: LogFormat | None, log_level: str | None) -> None:
        self.path, self.log_format, self.log_level = path, log_format, log_level
        self._app: App | None = None

    def config_path(self) -> Path:
        """--config or GOMME_CONFIG, else the first file found where gomme looks (never the demo's)."""
        found = self.path or find_config(Path.cwd())
        if found is None:
            raise NoConfigError(Path.cwd())
        return found

    def app(self) -> App:
        if self._app is None:
            config = self._load()
            fmt = self.log_format.value if self.log_format else config.logging.format
            configure_logging(fmt, self.log_level or config.logging.level)
            self._app = App(config)
        return self._app

    def close(self) -> None:
        """When the command ends: the state's pooled connections close with it."""
        if self._app is not None:
            self._app.close()

    def _load(self) -> Config:
        try:
            return load_config_file(self.config_path())
        except NoConfigError as exc:
            fail(str(exc))
        except ConfigError as exc:
            err.print(error_line(f"invalid configuration in {exc.source}:"), soft_wrap=True)
            for issue in exc.issues:
                err.print(f"  {issue}", soft_wrap=True, markup=False)
            raise typer.Exit(EXIT_USAGE) from None


def _app(ctx: typer.Context) -> App:
    options: _Options = ctx.obj
    return options.app()


def _announce(gomme: App, *, crms: list[str] | None = None, state: bool = False) -> None:
    """One line on stderr naming the config and the CRMs (or the state database) the command acts on."""
    from gomme.header import header_line

    err.print(header_line(gomme.config, crms=crms, state=state), soft_wrap=True, markup=False, highlight=False)


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a user can fix become one clear line and exit 2, never a traceback."""
    try:
        yield
    except (FatalError, SecretKeyError, LookupError, UsageError) as exc:
        fail(str(exc).strip("'\""))


@contextmanager
def output_stream(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8", newline="") as stream:
        yield stream


@app.command()
def version() -> None:
    """Print gomme's version."""
    typer.echo(__version__)


@app.command()
def sweep(
    ctx: typer.Context,
    connector: Annotated[
        list[str] | None, typer.Option("--connector", help="Only this connector (repeatable).")
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Write the changes. Without it: dry run.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Ignore the incremental cursor.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Pull at most N records (a trial run).")] = None,
    max_changes: Annotated[
        str | None, typer.Option(help="Abort before any write if the plan has more than N changes, or N% of pulled.")
    ] = None,
    fmt: Annotated[
        OutputFormat | None, typer.Option("--format", help="Plan format (default: table, or by --output suffix).")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write the plan to this file.")] = None,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a connector another run uses (default: exit 3 at once).")
    ] = 0.0,
) -> None:
    """Pull, decide and plan; with --apply, write the changes and audit each one."""
    from gomme.commands.sweep import run_sweep

    gomme = _app(ctx)
    try:
        guard = ChangeLimitValue.parse(max_changes) if max_changes is not None else gomme.config.sweep.max_changes
    except ValueError as exc:
        fail(f"--max-changes: {exc}")
    chosen = fmt or _format_for(output)
    with user_errors():
        _announce(gomme, crms=gomme.connector_names(connector))
        code = run_sweep(gomme, connector, apply=apply, full=full, limit=limit, guard=guard, fmt=chosen.value,
                         output=output, console=err, wait=wait, json_logs=json_logs())
    raise typer.Exit(code)


def _format_for(output: Path | None) -> OutputFormat:
    suffix = output.suffix.lower().lstrip(".") if output else ""
    return OutputFormat(suffix) if suffix in ("json", "csv") else OutputFormat.table


@app.command()
def demo(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where the demo keeps its files. Default: ~/.local/state/gomme/demo.")
    ] = None,
) -> None:
    """300 synthetic people in a local CRM: dry run, apply, audit log, verification. No config, no network."""
    from gomme.commands.demo import run_demo

    raise typer.Exit(run_demo(directory or demo_home(), console=err))


@app.command()
def init(
    crm: Annotated[
        list[str] | None, typer.Option("--crm", help="A CRM to configure: salesforce, hubspot or local (repeatable).")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")] = Path("config.toml"),
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
) -> None:
    """Write a commented configuration for the CRMs named, ready for `gomme config check` once its secrets are set."""
    from gomme.commands.init import init_config

    with user_errors():
        raise typer.Exit(init_config(crm or [], output, err, force=force))


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        str | None, typer.Option(help="SEQ:HASH from `gomme audit checkpoint`: prove nothing up to it changed.")
    ] = None,
    anchors: Annotated[
        Path | None,
        typer.Option(help="The anchor file to check (default: [audit] anchor_file); use the auditor's own copy."),
    ] = None,
) -> None:
    """Recompute the hash chain and its MACs, and check the anchors; exit 1 naming what does not hold."""
    from gomme.commands.audit import verify_chain
    from gomme.state.audit import Checkpoint

    try:
        mark = Checkpoint.parse(checkpoint) if checkpoint else None
    except ValueError as exc:
        fail(f"--checkpoint: {exc}")
    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(verify_chain(gomme, err, mark, anchors))


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context) -> None:
    """Print the verified head (SEQ:HASH) to keep outside gomme, for `audit verify --checkpoint`."""
    from gomme.commands.audit import checkpoint

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(checkpoint(gomme, sys.stdout))


Since = Annotated[str | None, typer.Option(help="From this ISO date/time, inclusive (UTC if no zone).")]
Until = Annotated[str | None, typer.Option(help="Up to this ISO date/time, exclusive.")]


def _query(
    *, run: str | None = None, request: str | None = None, rule: str | None = None, action: str | None = None,
    connector: str | None = None, record: str | None = None, since: str | None = None, until: str | None = None,
    limit: int | None = None,
) -> AuditQuery:
    from gomme.commands.audit import AuditQuery, moment

    return AuditQuery(run=run, request=request, rule=rule, action=action, connector=connector, record=record,
                      since=moment(since, "--since") if since else None,
                      until=moment(until, "--until") if until else None, limit=limit)


@audit_app.command("log")
def audit_log(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Option(help="Only this run id.")] = None,
    request: Annotated[str | None, typer.Option(help="Only this data-subject request id.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    connector: Annotated[str | None, typer.Option(help="Only this connector.")] = None,
    record: Annotated[str | None, typer.Option(help="Only this CRM record id (looked up by its HMAC).")] = None,
    since: Since = None,
    until: Until = None,
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    limit: Annotated[
        int | None, typer.Option(min=1, help=f"The last N matching entries (default {LOG_DEFAULT_LIMIT}).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every matching entry (`audit export` for hand-over).")] = False,
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """List the last 50 matching audit entries, oldest first (--limit N or --all for more)."""
    from gomme.commands.audit import show_recent

    if all_ and limit is not None:
        fail("--all and --limit exclude each other: choose one")
    with user_errors():
        query = _query(run=run, request=request, rule=rule, action=action, connector=connector, record=record,
                       since=since, until=until)
        _announce(gomme := _app(ctx), state=True)
        with output_stream(output) as stream:
            show_recent(gomme, query, fmt.value, stream, err, last=None if all_ else limit or LOG_DEFAULT_LIMIT)


@audit_app.command("show")
def audit_show(ctx: typer.Context, seq: Annotated[int, typer.Argument(min=1, help="The entry's number.")]) -> None:
    """One audit entry, every field."""
    from gomme.commands.audit import show_entry

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(show_entry(gomme, seq, sys.stdout))


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="The file to write; the manifest goes beside it.")],
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.jsonl,
    since: Since = None,
    until: Until = None,
    connector: Annotated[str | None, typer.Option(help="Only this connector.")] = None,
) -> None:
    """Export entries with a manifest: count, seq range, chain head, sha256 of the file."""
    from gomme.commands.audit import export_log

    with user_errors():
        query = _query(connector=connector, since=since, until=until)
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(export_log(gomme, query, fmt.value, output, err))


@audit_app.command("report")
def audit_report(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option(help="The HTML file to write (self-contained).")],
    since: Since = None,
    until: Until = None,
) -> None:
    """One HTML file for auditors: changes over time, failures, requests, policy versions, chain check."""
    from gomme.commands.audit import moment
    from gomme.reports.audit_report import render_report
    from gomme.state.clock import utc_now

    with user_errors():
        gomme = _app(ctx)
        _announce(gomme, state=True)
        html = render_report(gomme.engine(), gomme.keyring(), since=moment(since, "--since") if since else None,
                             until=moment(until, "--until") if until else None, now=utc_now())
    output.write_text(html, encoding="utf-8")
    err.print(f"audit report written to {output}")


class RegisterFormat(StrEnum):
    md = "md"
    csv = "csv"
    html = "html"


@app.command()
def register(
    ctx: typer.Context,
    fmt: Annotated[RegisterFormat, typer.Option("--format")] = RegisterFormat.md,
    output: Annotated[Path | None, typer.Option(help="Write to this file.")] = None,
) -> None:
    """The Art 30 record of processing for the CRMs gomme manages; exit 1 if mandatory items are missing."""
    from gomme.jobs.extract import recorded_extracts
    from gomme.reports.register import missing, register_entries, render

    config = (gomme := _app(ctx)).config
    _announce(gomme, crms=list(config.connectors))
    with user_errors():
        entries = register_entries(config, recorded_extracts(gomme.engine()))
    with output_stream(output) as stream:
        stream.write(render(entries, fmt.value, policy_hash=config.policy.hash))
    gaps = missing(entries)
    for entry in gaps:
        fix = entry.hint or f"set it in [register] of {config.source}"
        err.print(f"missing (Art {entry.article}): {entry.item} — {fix}", soft_wrap=True, markup=False)
    raise typer.Exit(1 if gaps else 0)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the state database migrations (gomme also does it on start)."""
    from gomme.state.db import current_revision

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        engine = gomme.engine()
    err.print(f"state database at revision {current_revision(engine)}")


@key_app.command("rotate")
def key_rotate(
    ctx: typer.Context,
    new_key_file: Annotated[
        Path | None,
        typer.Option(help="Take the new key from this file (default: GOMME_NEW_SECRET_KEY, else a fresh key; "
                          "with GOMME_SECRET_KEY, one of the two is required)."),
    ] = None,
) -> None:
    """Replace the state key (stop every other gomme process first); see docs/audit-trail.md, "The key".

    Re-seals sealed values; the old key's lookup and MAC keys stay valid for what they wrote, nothing after.
    """
    from gomme.commands.key import rotate_key

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(rotate_key(gomme, new_key_file, err))


@local_app.command("import")
def local_import(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="A .csv, .json or .jsonl file.")
    ] = None,
    connector: Annotated[str | None, typer.Option(help="The local connector to import into.")] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows and skip the others (default: all or none).")
    ] = False,
    template: Annotated[
        Path | None, typer.Option(help="Write a CSV with every column's header to this file instead (no config).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="The CSV separator: , ; | or tab (default: sniffed; a template uses ,).")
    ] = None,
) -> None:
    """Import people into a local CRM: every row is checked first; one bad row and nothing is imported.

    Columns (docs/local-import.md): id, object_type (contact|lead), email, first_name, last_name, phone, country,
    birthdate, created_at, last_activity_at, lifecycle, contract_end, note (or description),
    opt_out_email|phone|processing|profiling|tracking|solicit, erasure_requested, legal_hold, restricted.
    An unknown column stops the file. CSV in UTF-8, separated by , ; tab or |.
    """
    from gomme.commands.local import import_people, parse_delimiter, write_template_file

    with user_errors():
        separator = parse_delimiter(delimiter) if delimiter is not None else None
        if template is not None:
            if file is not None:
                raise UsageError("give a FILE to import or --template FILE to write, not both")
            raise typer.Exit(write_template_file(template, separator or ",", err))
        if file is None:
            raise UsageError("missing FILE to import (or --template FILE to write the columns to fill in)")
        gomme = _app(ctx)
        local = [name for name, block in gomme.config.connectors.items() if getattr(block, "type", None) == "local"]
        _announce(gomme, crms=[connector] if connector else local)
        code = import_people(gomme, file, connector, err, skip_invalid=skip_invalid, delimiter=separator)
        raise typer.Exit(code)


@config_app.command("check")
def config_check(
    ctx: typer.Context,
    online: Annotated[
        bool, typer.Option("--online", help="Also connect to each CRM and check every mapped field against it.")
    ] = False,
) -> None:
    """Validate the configuration and report every problem at once, unset environment variables it names
    included (exit 2); --online checks it against the CRMs."""
    from gomme.commands.config_check import check_offline, check_online

    gomme = _app(ctx)
    _announce(gomme, crms=list(gomme.config.connectors))
    code = check_offline(gomme.config, err)
    if code or not online:
        raise typer.Exit(code)
    raise typer.Exit(check_online(gomme, Console(highlight=False)))


@policy_app.command("show")
def policy_show(ctx: typer.Context) -> None:
    """Print the effective policy (after packs and overrides) and its hash."""
    from gomme.commands.policy import show_policy

    show_policy(_app(ctx).config.policy, sys.stdout)


@policy_app.command("check")
def policy_check(file: Annotated[Path, typer.Argument(help="A policy TOML file.")]) -> None:
    """Validate a policy file and list every problem with its TOML path (exit 2 if any)."""
    from gomme.commands.policy import check_policy_file

    raise typer.Exit(check_policy_file(file, err))


@policy_app.command("explain")
def policy_explain(
    ctx: typer.Context,
    connector: Annotated[str, typer.Option(help="The connector holding the record.")],
    record_id: Annotated[str, typer.Option("--id", help="The record's id in that CRM.")],
) -> None:
    """Pull one record and show each rule: whether it fired, why, and the action taken."""
    from gomme.commands.policy import explain

    with user_errors():
        gomme = _app(ctx)
        _announce(gomme, crms=gomme.connector_names([connector]))
        raise typer.Exit(explain(gomme, connector, record_id, Console(highlight=False)))


def _request_command(kind: RequestType, summary: str) -> None:
    """One `gomme request <type>` command; the five differ only in what they ask for."""

    def create(
        ctx: typer.Context,
        email: Annotated[str, typer.Option(help="The person's email address, as given in the request.")],
        set_: Annotated[
            list[str] | None, typer.Option("--set", help="field=value to correct (rectify only; repeatable).")
        ] = None,
        note: Annotated[str | None, typer.Option(help="Admin note, kept encrypted until completion.")] = None,
        now: Annotated[bool, typer.Option("--now", help="Carry it out right away in every CRM.")] = False,
    ) -> None:
        from gomme.commands.request import new_request

        with user_errors():
            gomme = _app(ctx)
            _announce(gomme, crms=list(gomme.config.connectors) if now else None, state=not now)
            raise typer.Exit(new_request(gomme, kind, email, set_ or [], note, now, err))

    create.__doc__ = summary
    request_app.command(kind.value)(create)


for _kind, _summary in (
    (RequestType.ERASE, "Erase the person everywhere (Art 17), unless under legal hold; suppress re-imports."),
    (RequestType.ACCESS, "Give the person a copy of their data and what it is used for (Art 15, 20)."),
    (RequestType.RESTRICT, "Restrict all processing of the person's data everywhere (Art 18)."),
    (RequestType.OBJECT, "Stop direct marketing to the person everywhere, for good (Art 21(2))."),
    (RequestType.RECTIFY, "Correct the person's data everywhere (Art 16): --set field=value."),
):
    _request_command(_kind, _summary)


@request_app.command("process")
def request_process(
    ctx: typer.Context,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a connector another run is using (default: retry later).")
    ] = 0.0,
) -> None:
    """Carry out every open request in every CRM (the daemon runs this too)."""
    from gomme.commands.request import process_requests

    with user_errors():
        gomme = _app(ctx)
        _announce(gomme, crms=list(gomme.config.connectors))
        raise typer.Exit(process_requests(gomme, err, wait=wait))


@request_app.command("list")
def request_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open, in_progress or completed.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past their deadline.")] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """List requests with their deadlines."""
    from gomme.commands.request import list_requests

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(list_requests(gomme, status, overdue, fmt.value, sys.stdout))


@request_app.command("show")
def request_show(ctx: typer.Context, request_id: Annotated[str, typer.Argument(help="Id or unique prefix.")]) -> None:
    """One request and its progress in each CRM (Art 19)."""
    from gomme.commands.request import show_request

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(show_request(gomme, request_id, sys.stdout))


@request_app.command("extend")
def request_extend(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="Id or unique prefix.")],
    months: Annotated[int, typer.Option(min=1, max=2, help="1 or 2 further months.")],
    reason: Annotated[str, typer.Option(help="Why; the person must be told, within the first month.")],
) -> None:
    """Extend the deadline by up to two months (Art 12(3)), only within the first month."""
    from gomme.commands.request import extend_request

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(extend_request(gomme, request_id, months, reason, err))


@request_app.command("overdue")
def request_overdue(
    ctx: typer.Context, fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table
) -> None:
    """Exit 1 listing the requests past their deadline (for monitoring)."""
    from gomme.commands.request import overdue_requests

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(overdue_requests(gomme, fmt.value, sys.stdout, err))


breach_app = typer.Typer(no_args_is_help=True, help="Personal-data breaches (GDPR Art 33/34): 72-hour notification.")
app.add_typer(breach_app, name="breach")
CaseId = Annotated[str, typer.Argument(help="The case id, or a unique prefix of it.")]


class ReportFormat(StrEnum):
    html = "html"
    md = "md"


@breach_app.command("open")
def breach_open(
    ctx: typer.Context,
    connector: Annotated[list[str], typer.Option("--connector", help="A CRM the breach reached (repeatable).")],
    aware_at: Annotated[str, typer.Option(help="When you became aware of it (ISO, UTC if no zone): starts the 72 h.")],
    note: Annotated[str, typer.Option(help="What happened, in your words; never copy a record's data into it.")],
    obj: Annotated[
        list[str] | None, typer.Option("--object", help="Only this object type, e.g. contact (repeatable).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="When the breach started (ISO date/time).")] = None,
    until: Annotated[
        str | None, typer.Option(help="When it ended: records created after it are not concerned.")
    ] = None,
    where: Annotated[
        list[str] | None, typer.Option("--where", help="FIELD OP VALUE, e.g. 'country eq FR' (repeatable, AND-ed).")
    ] = None,
    establishment: Annotated[
        str | None, typer.Option(help="Country code of your main EU establishment: names the lead authority.")
    ] = None,
) -> None:
    """Record a breach case and its 72-hour deadline (Art 33(1)); nothing personal is stored."""
    from gomme.commands.breach import open_case

    with user_errors():
        gomme = _app(ctx)
        _announce(gomme, state=True)
        raise typer.Exit(open_case(gomme, connectors=connector, objects=obj or [], since=since, until=until,
                                   where=where or [], aware_at=aware_at, note=note, establishment=establishment,
                                   console=err))


@breach_app.command("assess")
def breach_assess(ctx: typer.Context, case: CaseId) -> None:
    """Stream the case's scope and count people, records, data categories, sensitive notes, minors, countries."""
    from gomme.commands.breach import assess_case

    with user_errors():
        gomme = _app(ctx)
        _announce(gomme, crms=list(gomme.config.connectors), state=True)
        raise typer.Exit(assess_case(gomme, case, err))


@breach_app.command("report")
def breach_report(
    ctx: typer.Context,
    case: CaseId,
    output: Annotated[Path, typer.Option(help="The file to write: .html or .md.")],
    fmt: Annotated[ReportFormat | None, typer.Option("--format", help="Default: by --output's suffix.")] = None,
) -> None:
    """Draft the Art 33(3) notification from the assessment; what a person must write is marked TO COMPLETE."""
    from gomme.commands.breach import report_case

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(report_case(gomme, case, output, fmt.value if fmt else None, err))


@breach_app.command("notify-list")
def breach_notify_list(
    ctx: typer.Context,
    case: CaseId,
    output: Annotated[Path, typer.Option(help="The CSV to write (mode 0600: it holds personal data).")],
) -> None:
    """Write the contact details and language of the people to inform (Art 34); audited by count."""
    from gomme.commands.breach import notify_list

    with user_errors():
        gomme = _app(ctx)
        _announce(gomme, crms=list(gomme.config.connectors), state=True)
        raise typer.Exit(notify_list(gomme, case, output, err))


@breach_app.command("list")
def breach_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Closed cases too.")] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
) -> None:
    """Open cases with the hours left before their 72-hour deadline."""
    from gomme.commands.breach import list_cases

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(list_cases(gomme, every=all_, fmt=fmt.value, stream=sys.stdout, console=err))


@breach_app.command("close")
def breach_close(
    ctx: typer.Context,
    case: CaseId,
    reason: Annotated[str, typer.Option(help="How it ended: notified on …, or why no notification was needed.")],
) -> None:
    """Close a case once notified (or documented as not requiring it, Art 33(5))."""
    from gomme.commands.breach import close_case

    with user_errors():
        _announce(gomme := _app(ctx), state=True)
        raise typer.Exit(close_case(gomme, case, reason, err))


export_app = typer.Typer()  # its help is the `export` callback's docstring
app.add_typer(export_app, name="export")


@export_app.callback(invoke_without_command=True)
def export(
    ctx: typer.Context,
    pseudonymise: Annotated[
        bool, typer.Option("--pseudonymise", help="Replace identifiers by keyed pseudonyms (required).")
    ] = False,
    connector: Annotated[str | None, typer.Option(help="The connector to read.")] = None,
    fields: Annotated[
        list[str] | None, typer.Option("--fields", help="Fields to extract, comma-separated or repeated.")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="What the processor does with it (audit, register).")] = None,
    recipient: Annotated[str | None, typer.Option(help="The processor receiving it (audit, register).")] = None,
    output: Annotated[Path | None, typer.Option(help="The file to write: .csv, or .jsonl for JSON Lines.")] = None,
    key_output: Annotated[Path | None, typer.Option(help="Where the key goes (0600; default: OUTPUT.key).")] = None,
    min_k: Annotated[int | None, typer.Option(help="Refuse (exit 2, nothing written) if k is below this.")] = None,
    notes: Annotated[bool, typer.Option("--notes", help="Include the notes, redacted (default: dropped).")] = False,
    transfer_basis: Annotated[
        str | None, typer.Option(help="Transfer outside the EU and its safeguard, or 'No transfer outside the EU'.")
    ] = None,
    quasi: Annotated[
        list[str] | None, typer.Option("--quasi", help="Another chosen field to count as a quasi-identifier.")
    ] = None,
) -> None:
    """Pseudonymised extracts for processors: identifiers keyed, quasi-identifiers generalised, k printed.

    Example: gomme export --pseudonymise --connector crm --fields email,birthdate,country,lifecycle
    --purpose "churn scoring" --recipient "Acme Analytics" --output extract.csv --min-k 5.
    The key goes to OUTPUT.key (0600); each extract is audited and listed by `gomme register` (docs/extracts.md).
    """
    if ctx.invoked_subcommand is not None:
        return
    from gomme.commands.export import export_extract, split_fields
    from gomme.jobs.extract import ExtractSpec

    if not pseudonymise:
        fail("gomme only writes pseudonymised extracts: add --pseudonymise")
    if not (connector and fields and purpose and recipient and output):
        given = {"--connector": connector, "--fields": fields, "--purpose": purpose, "--recipient": recipient,
                 "--output": output}
        fail(f"missing {', '.join(name for name, value in given.items() if not value)} (see gomme export --help)")
    spec = ExtractSpec(connector=connector, fields=split_fields(fields or []), purpose=purpose, recipient=recipient,
                       transfer_basis=transfer_basis, notes=notes, min_k=min_k, quasi=split_fields(quasi or []))
    with user_errors():
        gomme = _app(ctx)
        _announce(gomme, crms=gomme.connector_names([connector]), state=True)
        raise typer.Exit(export_extract(gomme, spec, output, key_output, err))


@export_app.command("reidentify")
def export_reidentify(
    ctx: typer.Context,
    key: Annotated[Path, typer.Option(help="The extract's key file (written beside it by gomme export).")],
    pseudonym: Annotated[str, typer.Option(help="A pseudonym from the extract (any identifier column).")],
    connector: Annotated[str | None, typer.Option(help="The connector to search (default: the extract's).")] = None,
) -> None:
    """Print the record a pseudonym stands for (the controller's side: needs the key); exit 1 if none."""
    from gomme.commands.export import reidentify_pseudonym

    with user_errors():
        gomme = _app(ctx)
        _announce(gomme, crms=gomme.connector_names([connector]) if connector else None)
        raise typer.Exit(reidentify_pseudonym(gomme, key, pseudonym, connector, sys.stdout, err))


@export_app.command("pseudonym")
def export_pseudonym(
    key: Annotated[Path, typer.Option(help="The extract's key file.")],
    object_type: Annotated[str, typer.Option(help="The record's object type, as `reidentify` prints it.")],
    record_id: Annotated[str, typer.Option("--id", help="The record's id in the CRM.")],
) -> None:
    """Print a record's pseudonym in the extract made with this key: tell its processor which row changed (Art 19)."""
    from gomme.commands.export import pseudonym_of

    with user_errors():
        raise typer.Exit(pseudonym_of(key, object_type, record_id, sys.stdout))


@app.command()
def daemon(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Run every scheduled job once, then exit (for cron or a CronJob).")
    ] = False,
) -> None:
    """Run the [[schedules]] and request processing, with /healthz and /metrics; SIGTERM stops after the batch."""
    from gomme.commands.daemon import daemon_logging, run_daemon

    options: _Options = ctx.obj
    gomme = _app(ctx)
    daemon_logging(options.log_format.value if options.log_format else None, options.log_level, gomme.config)
    _announce_daemon(gomme)

    def reload_config() -> Config:
        return load_config_file(options.config_path())

    with user_errors():
        raise typer.Exit(run_daemon(gomme, reload_config, once=once, console=err))


def _announce_daemon(gomme: App) -> None:
    """The header as an `acting_on` log event when the logs are JSON lines (a plain line would break them)."""
    crms = list(gomme.config.connectors)
    if not json_logs():
        _announce(gomme, crms=crms, state=True)
        return
    import structlog

    from gomme.header import header_fields

    fields = header_fields(gomme.config, crms=crms, state=True)
    structlog.get_logger("gomme.daemon").info("acting_on", **{key.lower(): value for key, value in fields.items()})


def main() -> None:
    app()
