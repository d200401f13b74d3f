"""The line a command prints first: which configuration, and which CRMs or state database it acts on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from gomme.config import Config

SEPARATOR = " · "


def header_line(config: Config, *, crms: Sequence[str] | None = None, state: bool = False) -> str:
    """`config: /abs/config.toml · CRMs: sf (salesforce), hs (hubspot)` and/or `· state: <database>`.

    CRMs by their connector name and type; the state database without user, password or query parameters.
    """
    return SEPARATOR.join(f"{label}: {value}" for label, value in header_fields(config, crms=crms, state=state).items())


def header_fields(config: Config, *, crms: Sequence[str] | None = None, state: bool = False) -> dict[str, str]:
    """The header's parts by label, also for a JSON log event."""
    fields = {"config": str(config_path(config))}
    if crms is not None:
        fields["CRMs"] = describe_crms(config, crms)
    if state:
        fields["state"] = state_location(config.state_url())
    return fields


def config_path(config: Config) -> Path:
    """The file's absolute path (`config.source` is the path as given, maybe relative)."""
    return config.base_dir / Path(config.source).name


def describe_crms(config: Config, names: Sequence[str]) -> str:
    known = [name for name in names if name in config.connectors]
    return ", ".join(f"{name} ({getattr(config.connectors[name], 'type', '?')})" for name in known) or "none"


def state_location(url: str) -> str:
    """Where the state lives, safe to print: a SQLite file's path, or a server URL without credentials."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(unreadable URL)"
    if parsed.get_backend_name() == "sqlite":
        return f"{parsed.database or ':memory:'} (sqlite)"
    bare = URL.create(parsed.drivername, host=parsed.host, port=parsed.port, database=parsed.database)
    return bare.render_as_string(hide_password=True)
