"""`gomme config check --online`: connect to each CRM and check the configuration against what it really has.

What `dbt debug` is for a warehouse: every connector is opened, its org's or portal's schema is read (the
same describe / properties a run reads first), the mapping is fitted to it, and one table says, per
connector, what blocks a run (exit 2) and what is skipped (a warning), each with what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from gomme.connectors.errors import ConnectorError, FatalError, MappingMismatch
from gomme.wiring import App

EXIT_OK, EXIT_BLOCKED = 0, 2


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
