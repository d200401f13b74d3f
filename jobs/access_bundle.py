"""The access/portability bundle (Art 15, 20): what each CRM holds on the person, and what it means.

A directory created 0700 with files 0600: `data.json` (every CRM's export, consents included, and
gomme's own audit history for the person), one CSV per CRM object, and `summary.html` for the person.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from gomme.policies.policy import Policy

_TEMPLATES = Environment(loader=PackageLoader("gomme.jobs", "templates"), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True, slots=True)
class Recipient:
    """A system holding the data: a configured CRM, its hosting and transfer basis (Art 15(1)(c), 15(2))."""

    name: str
    kind: str
    hosting: str = "not stated in the configuration"
    transfer_basis: str = "not stated in the configuration"


@dataclass(frozen=True, slots=True)
class ProcessingNotice:
    """What the controller declares about the processing (the Art 30 register feeds it)."""

    controller: str = "the controller (not named in the configuration)"
    dpo_contact: str | None = None
    purposes: Sequence[str] = ("Customer relationship management", "Direct marketing")
    data_categories: Sequence[str] = ("Identity", "Contact details", "Commercial relationship", "Consents")
    source: str = "Collected from you, or from the systems listed below"
    recipients: Sequence[Recipient] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CrmExport:
    connector: str
    records: Sequence[Mapping[str, Any]]


def write_bundle(
    directory: Path, *, request_id: str, received: str, exports: Sequence[CrmExport],
    audit_history: Sequence[Mapping[str, Any]], notice: ProcessingNotice, policy: Policy, now: dt.datetime,
) -> Path:
    """Write the bundle into `directory` (created 0700) and return it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    data = {
        "request": {"id": request_id, "received": received, "produced": now.isoformat()},
        "crms": {export.connector: list(export.records) for export in exports},
        "gomme_audit_history": list(audit_history),
    }
    _private_write(directory / "data.json", json.dumps(data, indent=2, ensure_ascii=False, default=str))
    for export in exports:
        _write_csvs(directory, export)
    html = _TEMPLATES.get_template("access_summary.html.j2").render(
        notice=notice, exports=exports, retention=_retention_lines(policy), produced=now.date().isoformat(),
        request_id=request_id, audit_count=len(audit_history),
    )
    _private_write(directory / "summary.html", html)
    return directory


def _write_csvs(directory: Path, export: CrmExport) -> None:
    """One CSV per object type; nested values (consents, notes) as JSON in their cell."""
    by_object: dict[str, list[Mapping[str, Any]]] = {}
    for record in export.records:
        by_object.setdefault(str(record.get("object_type", "record")), []).append(record)
    for object_type, rows in by_object.items():
        columns = sorted({key for row in rows for key in row})
        path = directory / f"{export.connector}-{object_type}.csv"
        with _private_open(path) as stream:
            writer = csv.DictWriter(stream, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: v if isinstance(v, str | int | float | None) else json.dumps(v, default=str)
                                 for k, v in row.items()})


def _retention_lines(policy: Policy) -> list[str]:
    lines = []
    for rule in policy.canonical().get("rules", []):
        if rule.get("kind") == "retention":
            lines.append(f"{rule.get('lifecycle')}: erased {rule.get('after')} after {rule.get('clock')}")
    return lines


def _private_write(path: Path, text: str) -> None:
    with _private_open(path) as stream:
        stream.write(text)


def _private_open(path: Path) -> Any:
    """Open for writing with mode 0600 from the first byte (no window where others could read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
