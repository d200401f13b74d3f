"""`gomme local import`: load a CSV/JSON export into a local CRM, reporting bad rows without their values; or
write a CSV template with every column it takes."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from gomme.commands import UsageError
from gomme.connectors.local import LocalConnector
from gomme.connectors.local_import import (
    COLUMNS,
    DELIMITERS,
    ImportFileError,
    ImportReport,
    import_file,
    write_template,
)
from gomme.wiring import App

_SHOWN = 20  # problems listed; the count says how many more
_NAMED_DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}


def parse_delimiter(text: str) -> str:
    """`--delimiter`: one of , ; | or tab (also by name: comma, semicolon, tab, pipe)."""
    delimiter = _NAMED_DELIMITERS.get(text.strip().lower(), text)
    if delimiter not in DELIMITERS:
        raise UsageError(f"--delimiter: '{text}' is not one of , ; | tab (or comma, semicolon, pipe)")
    return delimiter


def write_template_file(path: Path, delimiter: str, console: Console) -> int:
    """`--template FILE`: the header line of an import file, every column gomme takes."""
    if path.suffix.lower() != ".csv":
        raise UsageError(f"{path}: the template is a CSV file, name it with .csv (nothing was written)")
    if path.exists():
        raise UsageError(f"{path} already exists: choose another name for the template (nothing was written)")
    try:
        write_template(path, delimiter)
    except OSError as exc:
        raise UsageError(f"cannot write the template {path}: {exc.strerror}") from None
    console.print(
        f"template written to {path}: {len(COLUMNS)} columns, one person per row; fill it in (UTF-8), then "
        f"`gomme local import {path}`. docs/local-import.md says what each column holds.",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    return 0


def import_people(
    app: App,
    file: Path,
    connector_name: str | None,
    console: Console,
    *,
    skip_invalid: bool = False,
    delimiter: str | None = None,
) -> int:
    name = _local_connector(app, connector_name)
    with app.connector(name) as connector:
        assert isinstance(connector, LocalConnector)
        try:
            report = import_file(connector, file, skip_invalid=skip_invalid, delimiter=delimiter)
        except ImportFileError as exc:
            raise UsageError(str(exc)) from None
    console.print(_summary(file, name, report, skip_invalid), soft_wrap=True, markup=False, highlight=False)
    for error in report.errors[:_SHOWN]:
        console.print(f"  {error}", markup=False, highlight=False)
    if len(report.errors) > _SHOWN:
        console.print(f"  … and {len(report.errors) - _SHOWN} more problem(s)", markup=False)
    return 1 if report.errors else 0


def _summary(file: Path, name: str, report: ImportReport, skip_invalid: bool) -> str:
    """One line whose counts add up: read = imported + skipped + repeated."""
    if report.errors and not skip_invalid:
        return (
            f"{file.name}: {report.read} row(s) read, {report.rejected} invalid: nothing was imported into "
            f"connector '{name}'. Fix the rows below and import again, or pass --skip-invalid to import the "
            f"{report.read - report.rejected} valid row(s)."
        )
    repeated = f", {report.repeated} repeating an earlier row's id (the later row wins)" if report.repeated else ""
    return (
        f"{file.name}: {report.read} row(s) read: imported {report.imported}, skipped {report.skipped}{repeated} "
        f"into connector '{name}'"
    )


def _local_connector(app: App, wanted: str | None) -> str:
    local = [name for name, settings in app.config.connectors.items() if getattr(settings, "type", None) == "local"]
    if wanted is not None:
        if wanted not in local:
            raise LookupError(
                f"'{wanted}' is not a local connector in {app.config.source}; local ones: {', '.join(local) or 'none'}"
            )
        return wanted
    if len(local) != 1:
        raise LookupError(
            f"{app.config.source} has {len(local)} local connectors ({', '.join(local) or 'none'}); "
            "choose one with --connector"
        )
    return local[0]
