"""`gomme config check`: the file is valid and every environment variable it names is set; with `--online`,
connect to each CRM and check the configuration against what it really has.

Offline, a file that loads (gomme/config.py lists every problem of its own) is also checked against the
environment it will run in: each secret a connector names (`*_env`) must be set, or every run would stop at
its first call. `--online` is what `dbt debug` is for a warehouse: every connector is opened, its org's or
portal's schema is read (the same describe / properties a run reads first), the mapping is fitted to it,
and one table says, per connector, what blocks a run (exit 2) and what is skipped (a warning), each with
what to do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gomme.commands import error_line
from gomme.config import Config
from gomme.connectors.errors import ConnectorError, FatalError, MappingMismatch
from gomme.state.keys import ENV_VAR as SECRET_KEY_VAR
from gomme.wiring import App

EXIT_OK, EXIT_BLOCKED = 0, 2
_ENV_SUFFIX = "_env"  # connector options naming the environment variable that holds a secret


@dataclass(frozen=True, slots=True)
class EnvReference:
    """An environment variable the configuration names, and the option (TOML path) that names it."""

    path: str
    variable: str


def env_references(config: Config) -> list[EnvReference]:
    """Every `*_env` option of every connector block, built-in or plug-in, in the order of the file."""
    return [
        EnvReference(f"connectors.{name}.{option}", value)
        for name, settings in config.connectors.items()
        for option, value in settings
        if option.endswith(_ENV_SUFFIX) and isinstance(value, str) and value
    ]


def unset_variables(config: Config, env: Mapping[str, str] = os.environ) -> list[EnvReference]:
    """The variables the configuration names that are unset or empty where gomme runs."""
    return [reference for reference in env_references(config) if not env.get(reference.variable)]


def state_notes(config: Config, env: Mapping[str, str] = os.environ) -> list[str]:
    """What is worth knowing about the state's secrets, though nothing is wrong yet (no exit code).

    A path or URL that cannot be resolved gives no note: opening the state says what is wrong with it.
    """
    notes = []
    with suppress(RuntimeError, ValueError, OSError):  # e.g. `~user/` of an unknown user
        key_file = config.key_file()
        if not env.get(SECRET_KEY_VAR) and not key_file.exists():
            notes.append(
                f"state key: {SECRET_KEY_VAR} is not set and {key_file} does not exist: the first command that "
                "opens the state creates a key there (keep a copy; with an existing state, restore yours instead)"
            )
    try:
        url = make_url(config.state_url())
    except (ArgumentError, ValueError, RuntimeError):
        return notes
    if url.get_backend_name() == "postgresql":
        if url.password is not None:
            notes.append("state.url holds a password: move it to PGPASSWORD (or ~/.pgpass), out of the file")
        elif not (env.get("PGPASSWORD") or env.get("PGPASSFILE") or _pgpass_exists()):
            notes.append(
                "state.url has no password and PGPASSWORD, PGPASSFILE and ~/.pgpass are unset: fine with "
                "certificate, peer or trust authentication, else export PGPASSWORD"
            )
    return notes


def _pgpass_exists() -> bool:
    with suppress(RuntimeError, OSError):
        return (Path.home() / ".pgpass").exists()
    return False


def check_offline(config: Config, console: Console, env: Mapping[str, str] = os.environ) -> int:
    """The file is valid (it loaded); exit 2 when a variable it names is unset, each listed with its option."""
    summary = f"{len(config.connectors)} connector(s), policy {config.policy.hash[:12]}"
    unset = unset_variables(config, env)
    if unset:
        console.print(
            error_line(
                f"{config.source}: the file is valid ({summary}), but {len(unset)} environment variable(s) "
                "it names are not set:"
            ),
            soft_wrap=True,
        )
        for reference in unset:
            console.print(f"  {reference.path}: {reference.variable} is not set", markup=False, highlight=False)
        console.print(
            "Export each one with its secret where gomme runs (never in the file), then check again.",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    else:
        console.print(f"{config.source}: valid ({summary})", soft_wrap=True, markup=False, highlight=False)
    for note in state_notes(config, env):
        console.print(f"note: {note}", soft_wrap=True, markup=False, highlight=False)
    return EXIT_BLOCKED if unset else EXIT_OK


@dataclass(frozen=True, slots=True)
class Finding:
    connector: str
    status: str  # ok, warning, error
    detail: str
    fix: str


def check_online(app: App, console: Console) -> int:
    """Check every connector; exit 2 when one of them cannot run as configured."""
    findings: list[Finding] = []
    for name in app.connector_names(None):
        findings += _check(app, name)
    table = Table(title="gomme config check --online", show_lines=False)
    for column in ("connector", "status", "what", "what to do"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        table.add_row(finding.connector, finding.status, finding.detail, finding.fix)
    console.print(table)
    blocked = [f for f in findings if f.status == "error"]
    console.print(f"{len(blocked)} blocking problem(s), {sum(f.status == 'warning' for f in findings)} warning(s)")
    return EXIT_BLOCKED if blocked else EXIT_OK


def _check(app: App, name: str) -> list[Finding]:
    try:
        with app.connector(name) as connector:
            notices = connector.notices()  # reads the describe / properties and fits the mapping
    except MappingMismatch as mismatch:
        return [*(Finding(name, "error", text, _fix(text)) for text in mismatch.problems),
                *(Finding(name, "warning", text, _fix(text)) for text in mismatch.notices)]  # fmt: skip
    except FatalError as error:
        return [Finding(name, "error", str(error), "see the message; README, Setup")]
    except ConnectorError as error:
        return [Finding(name, "error", str(error), "check the network, instance_url/base_url and credentials")]
    rows = [Finding(name, "warning", notice, _fix(notice)) for notice in notices]
    return rows or [Finding(name, "ok", "every mapped field exists and is writable where gomme writes", "")]


def _fix(text: str) -> str:
    if "field-level security" in text or "read-only" in text:
        return "grant the integration user read/edit on the field (profile or permission set), or unmap it"
    if "does not exist" in text:
        return "correct the field name in the configuration, or create the field"
    if "Individual" in text or "ContactPointTypeConsent" in text:
        return "enable Data Protection and Privacy, or set data_protection = false and a restricted_field"
    if "country" in text.casefold():
        return "map a country field, or clean the values (gomme leaves unknown ones unknown)"
    return "see README, Setup"
