"""Loads a CSV/JSON/JSON Lines export into the local connector, skipping and reporting the rows it cannot trust.

Row errors name the row and the column and say what is wrong, never the cell's value (it may be personal data).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from gomme.connectors.countries import country_code
from gomme.connectors.local import LocalConnector
from gomme.connectors.records import Lifecycle, OptOuts, PersonRecord

# ISO 3166-1 alpha-2, officially assigned codes.
_TRUE = frozenset(("true", "1", "yes"))
_FALSE = frozenset(("false", "0", "no"))
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SUFFIXES = (".csv", ".json", ".jsonl")
_NOT_JSON = object()  # stands for a JSON Lines line that does not parse


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row was skipped: its 1-based position among the file's records, the column, the problem."""

    row: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column or '(row)'}: {self.problem}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int
    skipped: int
    errors: tuple[RowError, ...]


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError("not a boolean (true/false, 1/0, yes/no)")


def _iso_date(value: object) -> dt.date:
    if isinstance(value, str):
        with suppress(ValueError):
            return dt.date.fromisoformat(value.strip())
    raise ValueError("not an ISO-8601 date (YYYY-MM-DD)")


def _iso_datetime(value: object) -> dt.datetime:
    """ISO-8601; a time without offset is taken as UTC, as CRM exports usually are."""
    if isinstance(value, str):
        with suppress(ValueError):
            parsed = dt.datetime.fromisoformat(value.strip())
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    raise ValueError("not an ISO-8601 date-time")


def _country(value: object) -> str:
    """A code or a name as people type it ("FR", "France", "Allemagne"); anything unrecognised is refused."""
    code = country_code(value) if isinstance(value, str) else None
    if code is None:
        raise ValueError("not a country gomme recognises (an ISO-3166 code or a country name)")
    return code


def _email(value: object) -> str:
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise ValueError("not an email address")
    return value.strip()


Flag = Annotated[bool, BeforeValidator(_flag)]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime)]
Country = Annotated[str, BeforeValidator(_country)]
Email = Annotated[str, BeforeValidator(_email)]


class ImportRow(BaseModel):
    """One row of an import file, in canonical column names; empty cells mean "not set"."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = None
    object_type: Literal["contact", "lead"] = "contact"
    email: Email | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    country: Country | None = None
    birthdate: IsoDate | None = None
    created_at: IsoDateTime | None = None
    last_activity_at: IsoDateTime | None = None
    lifecycle: Lifecycle = Lifecycle.UNKNOWN
    contract_end: IsoDate | None = None
    note: str | None = None
    opt_out_email: Flag = False
    opt_out_phone: Flag = False
    opt_out_processing: Flag = False
    opt_out_profiling: Flag = False
    opt_out_tracking: Flag = False
    opt_out_solicit: Flag = False
    erasure_requested: Flag = False
    legal_hold: Flag = False
    restricted: Flag = False

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_cells(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if not _is_empty(value)}
        return data

    def to_record(self, crm: str) -> PersonRecord:
        opt_outs = OptOuts(
            email=self.opt_out_email,
            phone=self.opt_out_phone,
            processing=self.opt_out_processing,
            profiling=self.opt_out_profiling,
            tracking=self.opt_out_tracking,
            solicit=self.opt_out_solicit,
        )
        return PersonRecord(
            crm=crm,
            object_type=self.object_type,
            id=self.id or uuid.uuid4().hex,
            email=self.email,
            first_name=self.first_name,
            last_name=self.last_name,
            phone=self.phone,
            country=self.country,
            birthdate=self.birthdate,
            created_at=self.created_at,
            last_activity_at=self.last_activity_at,
            lifecycle=self.lifecycle,
            contract_end=self.contract_end,
            opt_outs=opt_outs,
            erasure_requested=self.erasure_requested,
            legal_hold=self.legal_hold,
            restricted=self.restricted,
            notes={"description": self.note} if self.note else {},
        )


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong type, not UTF-8, not JSON); rows are another matter."""


def import_file(connector: LocalConnector, path: Path) -> ImportReport:
    """Validates every row, inserts the good ones (upsert by id) and reports the bad ones."""
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ImportFileError(f"cannot import {path.name}: expected one of {', '.join(_SUFFIXES)}")
    errors: list[RowError] = []

    def valid_records() -> Iterator[PersonRecord]:
        for number, data in _rows(path, suffix):
            record = _validate(number, data, connector.name, errors)
            if record is not None:
                yield record

    try:
        imported = connector.add(valid_records())
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"{path.name} is not UTF-8 text (byte {error.start} of a line); save it as UTF-8 and import it again "
            "(rows before that line were imported; importing again updates them)"
        ) from None
    skipped = len({error.row for error in errors})
    return ImportReport(imported=imported, skipped=skipped, errors=tuple(errors))


def _validate(number: int, data: object, crm: str, errors: list[RowError]) -> PersonRecord | None:
    if data is _NOT_JSON or not isinstance(data, Mapping):
        errors.append(RowError(number, "", "not valid JSON" if data is _NOT_JSON else "not an object"))
        return None
    if None in data:  # csv.DictReader puts surplus cells under the key None
        errors.append(RowError(number, "", "more cells than header columns"))
        return None
    try:
        return ImportRow.model_validate(data).to_record(crm)
    except ValidationError as error:
        errors.extend(RowError(number, _column(detail["loc"]), _problem(detail)) for detail in error.errors())
        return None


def _column(location: tuple[int | str, ...]) -> str:
    return str(location[0]) if location else ""


def _problem(detail: Mapping[str, Any]) -> str:
    """pydantic's message without the input: custom validators' text, or its fixed wording."""
    if detail["type"] == "extra_forbidden":
        return "unknown column"
    return str(detail["msg"]).removeprefix("Value error, ")


def _rows(path: Path, suffix: str) -> Iterator[tuple[int, object]]:
    """(1-based record number, raw record) pairs, streamed except for a plain `.json` list."""
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as file:
            yield from enumerate(csv.DictReader(file), start=1)
    elif suffix == ".jsonl":
        with path.open(encoding="utf-8") as file:
            lines = (line for line in file if line.strip())
            for number, line in enumerate(lines, start=1):
                yield number, _json_line(line)
    else:
        yield from enumerate(_json_list(path), start=1)


def _json_line(line: str) -> object:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return _NOT_JSON


def _json_list(path: Path) -> list[object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ImportFileError(f"{path.name} is not valid JSON (line {error.lineno})") from None
    if not isinstance(data, list):
        raise ImportFileError(f"{path.name}: expected a JSON list of objects")
    return data
