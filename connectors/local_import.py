"""Loads a CSV/JSON/JSON Lines export into the local connector, as strictly as a bank would.

The whole file is read and checked first; by default one bad row means nothing is imported (the report lists
every bad row), and `skip_invalid` imports the good rows and skips the others. The rows then land in one
transaction: nothing is ever half-imported. CSV is parsed strictly (unterminated quotes, stray quotes, cells over
`MAX_CELL` characters stop the file with the row and line); NUL and other control characters, line breaks outside
the note (an unterminated quote swallowing the next line) and over-long values reject their row. A column gomme
does not know stops the whole file, named once with the columns it takes (`COLUMNS`, docs/local-import.md).
The CSV separator (comma, semicolon: the French Excel default, tab or |) is sniffed from the start of the file.

Errors name the row and the column and say what is wrong, never the cell's value (it may be personal data).
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from gomme.connectors.local import LocalConnector
from gomme.model.countries import country_code
from gomme.model.fields import OPT_OUT_KEYS, OPT_OUT_NAMES
from gomme.model.records import Lifecycle, OptOuts, PersonRecord

# ISO 3166-1 alpha-2, officially assigned codes.
_TRUE = frozenset(("true", "1", "yes"))
_FALSE = frozenset(("false", "0", "no"))
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SUFFIXES = (".csv", ".json", ".jsonl")
_NOT_JSON = object()  # stands for a JSON Lines line that does not parse
_TWICE = object()  # stands for a JSON object with two keys naming one column (`note` and `description`, ...)
_SWALLOWED = object()  # stands for a CSV row whose note swallowed the rows after it
MAX_CELL = 131_072  # characters in one CSV cell: Salesforce's long text area maximum
MAX_NOTE = 32_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, line feed and carriage return are text
_LINE_BREAK = re.compile(r"[\r\n]")
DELIMITERS = (",", ";", "\t", "|")
_SNIFFED = 65_536  # characters of the file the separator is sniffed from
_CSV_PROBLEMS = (  # csv.Error texts → what to fix
    ("field larger than field limit", f"a cell is longer than {MAX_CELL:,} characters"),
    ("unexpected end of data", "a quoted cell is never closed (an unterminated quote)"),
    ("expected after", "a quote inside a cell is not doubled, or a quoted cell goes on after its closing quote"),
)


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
    """What happened to every row read: `read` = imported + skipped + repeated (rows repeating an earlier id)."""

    imported: int
    skipped: int
    errors: tuple[RowError, ...]
    read: int = 0
    repeated: int = 0

    @property
    def rejected(self) -> int:
        """Rows with at least one error (skipped, or the reason nothing was imported)."""
        return len({error.row for error in self.errors})


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

    id: str | None = Field(default=None, max_length=255)
    object_type: Literal["contact", "lead"] = "contact"
    email: Email | None = Field(default=None, max_length=254)
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=40)
    country: Country | None = None
    birthdate: IsoDate | None = None
    created_at: IsoDateTime | None = None
    last_activity_at: IsoDateTime | None = None
    lifecycle: Lifecycle = Lifecycle.UNKNOWN
    contract_end: IsoDate | None = None
    note: str | None = Field(default=None, max_length=MAX_NOTE)
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
        opt_outs = OptOuts(**{name: getattr(self, key) for name, key in zip(OPT_OUT_NAMES, OPT_OUT_KEYS, strict=True)})
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


COLUMNS: tuple[str, ...] = tuple(ImportRow.model_fields)
"""Every column an import file may have, in the order of docs/local-import.md and of `write_template`."""
ALIASES: dict[str, str] = {"description": "note"}
"""Other names taken for a column: Salesforce and HubSpot exports call the note `Description`."""


def canonical_column(name: str) -> str:
    """A column name as gomme reads it: spaces around it and case ignored, aliases resolved."""
    key = name.strip().lower()
    return ALIASES.get(key, key)


def write_template(path: Path, delimiter: str = ",") -> None:
    """A CSV with the header line alone, every column in `COLUMNS`; refuses to replace an existing file."""
    with path.open("x", newline="", encoding="utf-8") as file:
        csv.writer(file, delimiter=delimiter).writerow(COLUMNS)


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong type, not UTF-8, not JSON, unknown columns); rows are apart."""


class UnknownColumnsError(ImportFileError):
    """Columns gomme does not import: named once, with the ones it takes; nothing is imported."""

    def __init__(self, file_name: str, unknown: Iterable[str], *, separator: str | None = None) -> None:
        self.unknown = tuple(unknown)
        named = ", ".join(f"'{column}'{_guess(column)}" for column in self.unknown)
        other = next((d for d in DELIMITERS if d != separator and any(d in name for name in self.unknown)), None)
        if separator is not None and other is not None:
            named += f" (read with the separator {separator!r}, while the header holds {other!r}: check --delimiter)"
        aliases = ", ".join(f"{alias} for {column}" for alias, column in ALIASES.items())
        super().__init__(
            f"{file_name}: unknown column(s) {named}. The columns gomme imports are: {', '.join(COLUMNS)} (also "
            f"{aliases}; case and spaces ignored; docs/local-import.md says what each holds). Rename or remove the "
            "unknown ones (`gomme local import --template FILE` writes a header to start from); nothing was imported"
        )


def _guess(column: str) -> str:
    close = difflib.get_close_matches(column.replace(" ", "_").replace("-", "_"), COLUMNS, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def import_file(
    connector: LocalConnector, path: Path, *, skip_invalid: bool = False, delimiter: str | None = None
) -> ImportReport:
    """Check every row, then import the file in one transaction: all of it, or (`skip_invalid`) its good rows.

    `delimiter` is the CSV separator; sniffed from the file when None. Raises `ImportFileError`, nothing
    imported, when the file cannot be read as a whole or has columns gomme does not know (`UnknownColumnsError`).
    """
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ImportFileError(f"cannot import {path.name}: expected one of {', '.join(_SUFFIXES)}")
    errors: list[RowError] = []
    read, ids, repeated = 0, set(), 0
    unknown: dict[str, None] = {}  # JSON keys gomme does not import, in the order met (a CSV's stop at its header)
    for number, data in _readable_rows(path, suffix, delimiter):  # first pass: the whole file, nothing written
        read += 1
        if isinstance(data, Mapping):
            unknown.update(dict.fromkeys(key for key in data if isinstance(key, str) and key and key not in COLUMNS))
        record = _validate(number, data, connector.name, errors)
        if record is not None and isinstance(data, Mapping) and data.get("id"):
            repeated += record.id in ids
            ids.add(record.id)
    if unknown:
        raise UnknownColumnsError(path.name, unknown)
    if errors and not skip_invalid:
        return ImportReport(imported=0, skipped=0, errors=tuple(errors), read=read)

    def valid_records() -> Iterator[PersonRecord]:
        checked: list[RowError] = []
        for number, data in _readable_rows(path, suffix, delimiter):
            record = _validate(number, data, connector.name, checked)
            if record is not None:
                yield record

    imported = read - len({error.row for error in errors}) - repeated
    connector.add(valid_records(), atomic=True)
    return ImportReport(
        imported=imported, skipped=len({e.row for e in errors}), errors=tuple(errors), read=read, repeated=repeated
    )


def _readable_rows(path: Path, suffix: str, delimiter: str | None) -> Iterator[tuple[int, object]]:
    """`_rows`, with a file that cannot be read as a whole turned into `ImportFileError` (row and line named)."""
    rows = _rows(path, suffix, delimiter)
    number = 0
    try:
        for number, data in rows:
            yield number, data
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"{path.name} is not UTF-8 text (after row {number}, byte {error.start} of a line): save it as UTF-8 "
            "(in Excel: CSV UTF-8) and import it again; nothing was imported"
        ) from None
    except csv.Error as error:
        problem = next((fix for text, fix in _CSV_PROBLEMS if text in str(error)), f"not valid CSV ({error})")
        raise ImportFileError(
            f"{path.name}, row {number + 1}: {problem}; fix the file and import it again; nothing was imported"
        ) from None


def _validate(number: int, data: object, crm: str, errors: list[RowError]) -> PersonRecord | None:
    if data is _SWALLOWED:
        problem = "the note runs over several lines and holds what looks like another row: an unterminated quote?"
        errors.append(RowError(number, "note", problem))
        return None
    if data is _TWICE:
        errors.append(RowError(number, "", "two keys name the same column (note and description?): keep one"))
        return None
    if data is _NOT_JSON or not isinstance(data, Mapping):
        errors.append(RowError(number, "", "not valid JSON" if data is _NOT_JSON else "not an object"))
        return None
    if None in data:  # csv.DictReader puts surplus cells under the key None
        errors.append(RowError(number, "", "more cells than header columns"))
        return None
    unsafe = [RowError(number, str(column), problem) for column, problem in _unsafe_cells(data)]
    if unsafe:
        errors.extend(unsafe)
        return None
    try:
        return ImportRow.model_validate(data).to_record(crm)
    except ValidationError as error:
        errors.extend(RowError(number, _column(detail["loc"]), _problem(detail)) for detail in error.errors())
        return None


def _unsafe_cells(data: Mapping[Any, object]) -> Iterator[tuple[object, str]]:
    """Characters no CRM field should hold: control characters anywhere, line breaks outside the note."""
    for column, value in data.items():
        if not isinstance(value, str):
            continue
        if _CONTROL.search(value):
            yield column, "holds a control character (NUL or another): a binary or damaged export?"
        elif column != "note" and _LINE_BREAK.search(value.strip()):
            yield column, "holds a line break: in a CSV, an unterminated quote swallows the next line"


def _column(location: tuple[int | str, ...]) -> str:
    return str(location[0]) if location else ""


def _problem(detail: Mapping[str, Any]) -> str:
    """pydantic's message without the input: custom validators' text, or its fixed wording."""
    if detail["type"] == "extra_forbidden":
        unnamed = detail["loc"] == ("",)
        return "a cell under a column with no name (a separator too many?)" if unnamed else "unknown column"
    return str(detail["msg"]).removeprefix("Value error, ")


def _rows(path: Path, suffix: str, delimiter: str | None) -> Iterator[tuple[int, object]]:
    """(1-based record number, raw record) pairs, column names made canonical; streamed except a `.json` list."""
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as file:
            separator = delimiter or sniff_delimiter(file.read(_SNIFFED))
            file.seek(0)  # csv's default cell limit is MAX_CELL: a longer cell is a csv.Error, reported as such
            reader = csv.DictReader(file, delimiter=separator, strict=True)
            header = reader.fieldnames
            if header is None:
                return
            reader.fieldnames = _csv_columns(path.name, header, separator)
            width = len(header)
            for number, row in enumerate(reader, start=1):
                yield number, _SWALLOWED if _holds_a_row(row.get("note"), separator, width) else row
    elif suffix == ".jsonl":
        with path.open(encoding="utf-8") as file:
            lines = (line for line in file if line.strip())
            for number, line in enumerate(lines, start=1):
                yield number, _canonical_keys(_json_line(line))
    else:
        for number, data in enumerate(_json_list(path), start=1):
            yield number, _canonical_keys(data)


def sniff_delimiter(sample: str) -> str:
    """The separator of a CSV sample among `DELIMITERS`: csv.Sniffer's guess when the header line holds it, else
    the header's most frequent one, else a comma (a file of one column)."""
    header = sample.lstrip("\ufeff").splitlines()[0] if sample.strip() else ""
    complete = sample[: sample.rfind("\n") + 1] or sample  # the sniffer reads whole lines only
    with suppress(csv.Error):
        sniffed = csv.Sniffer().sniff(complete, delimiters="".join(DELIMITERS)).delimiter
        if sniffed in header:
            return sniffed
    counts = {separator: header.count(separator) for separator in DELIMITERS}
    best = max(DELIMITERS, key=lambda separator: counts[separator])
    return best if counts[best] else ","


def _csv_columns(file_name: str, header: Sequence[str], separator: str) -> list[str]:
    """The header's canonical names; unknown ones stop the file, as do two columns naming the same one."""
    columns = [canonical_column(name) for name in header]
    unknown = [name.strip() for name, column in zip(header, columns, strict=True) if column and column not in COLUMNS]
    if unknown:
        raise UnknownColumnsError(file_name, dict.fromkeys(unknown), separator=separator)
    twice = sorted({column for column in columns if column and columns.count(column) > 1})
    if twice:
        raise ImportFileError(
            f"{file_name}: the header names the same column twice ({', '.join(twice)}; `description` is the note): "
            "keep one of each and import again; nothing was imported"
        )
    return columns


def _canonical_keys(data: object) -> object:
    """A JSON object with canonical column names; `_TWICE` when two of its keys name the same column."""
    if not isinstance(data, Mapping):
        return data
    canonical = {canonical_column(key) if isinstance(key, str) else key: value for key, value in data.items()}
    return _TWICE if len(canonical) < len(data) else canonical


def _holds_a_row(note: object, separator: str, width: int) -> bool:
    """A multi-line note with a line of as many separators as a row: an unterminated quote swallowed that row."""
    if not isinstance(note, str) or width < 3:
        return False
    return any(line.count(separator) >= width - 1 for line in note.splitlines()[1:])


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
