"""`gomme local import`: load a CSV/JSON export into a local CRM, reporting bad rows without their values."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from gomme.commands import UsageError
from gomme.connectors.local import LocalConnector
from gomme.connectors.local_import import ImportFileError, import_file
from gomme.wiring import App


def import_people(app: App, file: Path, connector_name: str | None, console: Console) -> int:
    name = _local_connector(app, connector_name)
    with app.connector(name) as connector:
        assert isinstance(connector, LocalConnector)
        try:
            report = import_file(connector, file)
        except ImportFileError as exc:
            raise UsageError(str(exc)) from None
    console.print(f"{file.name}: imported {report.imported}, skipped {report.skipped} into connector '{name}'")
    for error in report.errors:
        console.print(f"  {error}", markup=False)
    return 1 if report.skipped else 0


def _local_connector(app: App, wanted: str | None) -> str:
    local = [name for name, settings in app.config.connectors.items() if getattr(settings, "type", None) == "local"]
    if wanted is not None:
        if wanted not in local:
            raise LookupError(f"'{wanted}' is not a local connector in {app.config.source}; local ones: "
                              f"{', '.join(local) or 'none'}")
        return wanted
    if len(local) != 1:
        raise LookupError(f"{app.config.source} has {len(local)} local connectors ({', '.join(local) or 'none'}); "
                          "choose one with --connector")
    return local[0]
