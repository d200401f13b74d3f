"""Pseudonymised extracts for processors (`gomme export --pseudonymise`, docs/extracts.md).

Streams a connector's records into a CSV or JSON Lines file where identifiers are keyed pseudonyms
(jobs/pseudonymise.py), quasi-identifiers are generalised, and notes are dropped or redacted. The file is written
to a temporary file beside the output and renamed only once the extract's k-anonymity (jobs/kanon.py) is known to
meet `min_k`; the key goes to its own file (0600), and the extract is recorded in the audit log — counts, field
names and the key's fingerprint, never a value.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import IO, Any

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from gomme.connectors.base import Connector
from gomme.jobs.kanon import GroupSizes
from gomme.jobs.pseudonymise import POSTCODE_FIELDS, ExtractKey, age_band, month, postcode_of, region
from gomme.model.conditions import PullQuery
from gomme.model.fields import FIELDS, canonical, getter, key_of
from gomme.model.records import PersonRecord
from gomme.state.audit import AuditEntry, AuditFilter, append, entries
from gomme.state.clock import stamp
from gomme.state.db import session
from gomme.state.keys import Keyring

log = structlog.get_logger(__name__)

EXTRACT_ACTION = "pseudonymised extract"
EXTRACT_RULE = "extract"
EXTRACT_BASIS = "GDPR Art 28 (processor), Art 4(5) and 32(1)(a) (pseudonymisation), Art 5(1)(c) (minimisation)"
REDACTED = "[redacted]"
KEY_FILE_FORMAT = "gomme extract key v1"


class Treatment(StrEnum):
    """What happens to a field in the extract."""

    PSEUDONYMISED = "pseudonymised"  # identifiers: keyed pseudonym
    AGE_BAND = "age band"  # birth date
    REGION = "region"  # postcode
    MONTH = "month"  # dates and times
    KEPT = "kept"  # codes and flags that single no one out alone (country, lifecycle, opt-outs…)


IDENTIFIERS: Mapping[str, str] = {"id": "record", "email": "email", "phone": "phone", "first_name": "first_name",
                                  "last_name": "last_name"}  # fmt: skip
"""Identifier fields and the kind their pseudonym is keyed with."""
POSTCODE = "postcode"
_DATES = ("created_at", "modified_at", "last_activity_at", "contract_end")
_STATUS = ("erasure_requested", "legal_hold", "restricted", "anonymised")  # never in an extract: such rows are left out
QUASI_DEFAULT = ("birthdate", POSTCODE, "country")


def treatment(name: str) -> Treatment:
    """How field `name` (canonical or flat spelling) is treated; KeyError when an extract cannot hold it."""
    name = canonical(name)
    if name in IDENTIFIERS:
        return Treatment.PSEUDONYMISED
    if name == "birthdate":
        return Treatment.AGE_BAND
    if name == POSTCODE:
        return Treatment.REGION
    if name in _DATES:
        return Treatment.MONTH
    if name in FIELDS and name not in _STATUS:
        return Treatment.KEPT
    raise KeyError(name)


def extractable() -> list[str]:
    """Every field `--fields` accepts, by its flat spelling."""
    return [key_of(name) for name in (*FIELDS, POSTCODE) if name not in _STATUS]


def column_of(name: str) -> str:
    """The column a field becomes: `email_pseudonym`, `age_band`, `region`, `created_month`, or its own name."""
    name = canonical(name)
    kind = treatment(name)
    if kind is Treatment.PSEUDONYMISED:
        return "record" if name == "id" else f"{name}_pseudonym"
    if kind is Treatment.AGE_BAND:
        return "age_band"
    if kind is Treatment.REGION:
        return "region"
    if kind is Treatment.MONTH:
        return f"{name.removesuffix('_at')}_month"
    return key_of(name)


class ExtractError(ValueError):
    """Bad input for an extract: one line, what is wrong and what to do."""


class MinKNotMet(Exception):
    """The extract's k is below `--min-k`: nothing was written."""

    def __init__(self, k: int, min_k: int, rows: int, below: int) -> None:
        self.k, self.min_k, self.rows, self.below = k, min_k, rows, below
        super().__init__(f"k = {k} is below --min-k {min_k} ({below} of {rows} rows sit in smaller groups)")


@dataclass(frozen=True, slots=True)
class ExtractSpec:
    """What the controller asked for: which fields, for whom, why."""

    connector: str
    fields: tuple[str, ...]
    purpose: str
    recipient: str
    transfer_basis: str | None = None
    notes: bool = False
    min_k: int | None = None
    quasi: tuple[str, ...] = ()  # extra quasi-identifiers, beyond the generalised ones chosen
    postcode_fields: tuple[str, ...] = POSTCODE_FIELDS

    def validated(self) -> ExtractSpec:
        """The spec with field names canonical and de-duplicated; ExtractError on an unknown or refused field."""
        chosen: list[str] = []
        for raw_name in self.fields:
            name = canonical(raw_name.strip())
            if name == "notes" or name.startswith("notes."):
                raise ExtractError(f"--fields: {raw_name} — notes are dropped unless you add --notes (then redacted)")
            try:
                treatment(name)
            except KeyError:
                raise ExtractError(
                    f"--fields: unknown field {raw_name!r}; choose among {', '.join(extractable())}"
                ) from None
            if name not in chosen:
                chosen.append(name)
        if not chosen:
            raise ExtractError("--fields: name at least one field, e.g. --fields birthdate,country,lifecycle")
        for raw_name in self.quasi:
            if canonical(raw_name.strip()) not in chosen:
                raise ExtractError(f"--quasi: {raw_name!r} is not among --fields; add it there first")
        for label, text in (("--purpose", self.purpose), ("--recipient", self.recipient)):
            if not text.strip():
                raise ExtractError(f"{label}: say it in words (it goes to the audit log and the Art 30 register)")
        if self.min_k is not None and self.min_k < 1:
            raise ExtractError("--min-k: give a group size of 1 or more")
        return ExtractSpec(
            connector=self.connector, fields=tuple(chosen), purpose=self.purpose.strip(),
            recipient=self.recipient.strip(), transfer_basis=(self.transfer_basis or "").strip() or None,
            notes=self.notes, min_k=self.min_k, quasi=tuple(canonical(q.strip()) for q in self.quasi),
            postcode_fields=self.postcode_fields,
        )

    @property
    def columns(self) -> list[str]:
        """The extract's columns: the record's pseudonym first, then each field's, then the notes if asked."""
        columns = ["record", *(column_of(name) for name in self.fields if name != "id")]
        return [*columns, "notes"] if self.notes else columns

    @property
    def quasi_identifiers(self) -> tuple[str, ...]:
        """The columns k is computed over: the generalised fields chosen, country, and any `quasi` asked for."""
        names = [name for name in self.fields if name in QUASI_DEFAULT or name in self.quasi]
        return tuple(column_of(name) for name in names)


# -- one row ------------------------------------------------------------------------------------------------------

NoteRedactor = Callable[[str, PersonRecord], str]


@dataclass(frozen=True, slots=True)
class RowMaker:
    """Turns a record into an extract row (pure: the key and `today` are given)."""

    spec: ExtractSpec
    key: ExtractKey
    today: dt.date
    redact: NoteRedactor | None = None
    _getters: dict[str, Callable[[PersonRecord], Any]] = field(default_factory=dict)

    def row(self, record: PersonRecord) -> dict[str, Any]:
        row: dict[str, Any] = {"record": record_pseudonym(self.key, record.crm, record.object_type, record.id)}
        for name in self.spec.fields:
            if name == "id":
                continue
            row[column_of(name)] = self._value(name, record)
        if self.spec.notes:
            redact = self.redact or _drop
            row["notes"] = {name: redact(text, record) for name, text in sorted(record.notes.items()) if text}
        return row

    def _value(self, name: str, record: PersonRecord) -> Any:
        kind = treatment(name)
        if kind is Treatment.REGION:
            return region(postcode_of(record.raw, self.spec.postcode_fields), record.country)
        value = self._get(name)(record)
        if kind is Treatment.PSEUDONYMISED:
            return self.key.pseudonym(IDENTIFIERS[name], None if value is None else str(value))
        if kind is Treatment.AGE_BAND:
            return age_band(value, self.today)
        if kind is Treatment.MONTH:
            return month(value)
        return value.value if isinstance(value, Enum) else value

    def _get(self, name: str) -> Callable[[PersonRecord], Any]:
        if name not in self._getters:
            self._getters[name] = getter(name)
        return self._getters[name]


def _drop(text: str, record: PersonRecord) -> str:
    return REDACTED


def left_out(record: PersonRecord) -> str | None:
    """Why a record never goes into an extract: its processing is restricted (Art 18(2): stored only), the person
    objected to processing or asked for erasure, it is under legal hold, or nothing personal is left in it."""
    if record.anonymised:
        return "anonymised"
    if record.restricted or record.opt_outs.processing:
        return "restricted"
    if record.erasure_requested:
        return "erasure requested"
    if record.legal_hold:
        return "legal hold"
    return None


# -- notes --------------------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[^\s@<>()\[\]]+@[^\s@<>()\[\]]+\.[^\s@<>()\[\]]+")
_PHONE = re.compile(r"\+?\d[\d .\-/()]{6,}\d")
_WRITTEN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{4}")  # a date is not a phone number
_MIN_PHONE_DIGITS = 8


def note_redactor() -> NoteRedactor:
    """Redacts, sentence by sentence, what the sensitive-note scanner finds (Art 9/10 data, insults) and any
    sentence holding an email address, a phone number, or the person's own name, email or phone."""
    from gomme.policies.notes.scanner import scanner
    from gomme.policies.notes.text import replace_sentences, sentences_holding

    scan = scanner().scan

    def redact(text: str, record: PersonRecord) -> str:
        spans = [match.span for match in scan(text)]
        spans += identifier_spans(text, record)
        if not spans:
            return text
        return replace_sentences(text, sentences_holding(text, spans), REDACTED)

    return redact


def identifier_spans(text: str, record: PersonRecord) -> list[tuple[int, int]]:
    """Where `text` holds an email, a phone number, or the record's own identifiers (whole words, any case)."""
    spans = [m.span() for m in _EMAIL.finditer(text)]
    for match in _PHONE.finditer(text):
        piece = match.group()
        if sum(c.isdigit() for c in piece) >= _MIN_PHONE_DIGITS and not _WRITTEN_DATE.fullmatch(piece.strip()):
            spans.append(match.span())
    for value in (record.first_name, record.last_name, record.email, record.phone):
        if value and value.strip():
            pattern = re.compile(rf"(?<!\w){re.escape(value.strip())}(?!\w)", re.IGNORECASE)
            spans += [m.span() for m in pattern.finditer(text)]
    return spans


# -- the file -----------------------------------------------------------------------------------------------------


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @classmethod
    def of(cls, path: Path) -> Format:
        """JSON Lines for `.jsonl` / `.ndjson`, CSV otherwise."""
        return cls.JSONL if path.suffix.lower() in (".jsonl", ".ndjson") else cls.CSV


class RowWriter:
    """Writes rows as CSV (nested values as JSON in their cell, booleans as true/false) or JSON Lines."""

    def __init__(self, stream: IO[str], fmt: Format, columns: Sequence[str]) -> None:
        self._stream, self._fmt = stream, fmt
        self._csv = csv.DictWriter(stream, fieldnames=list(columns)) if fmt is Format.CSV else None
        if self._csv is not None:
            self._csv.writeheader()

    def write(self, row: Mapping[str, Any]) -> None:
        if self._csv is None:
            self._stream.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            return
        self._csv.writerow({key: _cell(value) for key, value in row.items()})


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False) if value else ""
    return "" if value is None else value


@dataclass(frozen=True, slots=True)
class ExtractResult:
    """What the extract holds, in counts: rows, k over which columns, records left out and why."""

    extract_id: str
    rows: int
    k: int | None
    groups: int
    quasi_identifiers: tuple[str, ...]
    left_out: Mapping[str, int]
    key_fingerprint: str
    fmt: Format
    output: Path
    key_file: Path


def write_rows(records: Iterable[PersonRecord], maker: RowMaker, writer: RowWriter) -> tuple[GroupSizes, Counter[str]]:
    """Stream `records` into `writer`, one at a time; the group sizes over the quasi-identifiers, and the records
    left out by reason."""
    sizes, skipped = GroupSizes(), Counter[str]()
    quasi = maker.spec.quasi_identifiers
    for record in records:
        reason = left_out(record)
        if reason is not None:
            skipped[reason] += 1
            continue
        row = maker.row(record)
        writer.write(row)
        sizes.add(tuple(row[column] for column in quasi))
    return sizes, skipped


def run_extract(
    connector: Connector, spec: ExtractSpec, *, output: Path, key_file: Path, engine: Engine, keyring: Keyring,
    now: dt.datetime, actor: str, policy_hash: str,
) -> ExtractResult:
    """Write the extract, its key file and its audit entry, or nothing at all.

    The rows go to a temporary file beside `output` (0600); when k is below `spec.min_k` it is removed and
    `MinKNotMet` raised. Otherwise the key file is written (0600, never beside the rows inside the extract), the
    audit entry appended, and both files moved into place inside the audit entry's transaction.
    """
    key = ExtractKey.fresh()
    fmt = Format.of(output)
    maker = RowMaker(spec, key, now.date(), note_redactor() if spec.notes else None)
    fd, temp_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    temp = Path(temp_name)
    key_temp: Path | None = None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            sizes, skipped = write_rows(_pulled(connector), maker, RowWriter(stream, fmt, spec.columns))
        k = sizes.k
        if spec.min_k is not None and k is not None and k < spec.min_k:
            raise MinKNotMet(k, spec.min_k, sizes.rows, sizes.below(spec.min_k))
        result = ExtractResult(
            extract_id=uuid.uuid4().hex, rows=sizes.rows, k=k, groups=sizes.groups,
            quasi_identifiers=spec.quasi_identifiers, left_out=dict(skipped), key_fingerprint=key.fingerprint,
            fmt=fmt, output=output, key_file=key_file,
        )
        key_temp = _write_key_file(key_file, key, spec, result, now)
        with session(engine) as db:
            append(db, audit_entry(spec, result, actor=actor, policy_hash=policy_hash), stamp(now), keyring)
            key_temp.replace(key_file)
            key_temp = None
            temp.replace(output)
        log.info("extract_written", connector=spec.connector, extract_id=result.extract_id, rows=result.rows,
                 k=result.k, left_out=sum(skipped.values()), key=result.key_fingerprint[:12])
        return result
    except MinKNotMet as exc:
        log.info("extract_refused", connector=spec.connector, k=exc.k, min_k=exc.min_k, rows=exc.rows)
        raise
    finally:
        temp.unlink(missing_ok=True)
        if key_temp is not None:
            key_temp.unlink(missing_ok=True)


def _pulled(connector: Connector) -> Iterator[PersonRecord]:
    yield from connector.pull(PullQuery(everything=True))


def _write_key_file(key_file: Path, key: ExtractKey, spec: ExtractSpec, result: ExtractResult,
                    now: dt.datetime) -> Path:
    """The key, beside what the controller needs to use it, in a temporary file (0600) next to `key_file`."""
    content = {
        "format": KEY_FILE_FORMAT, "key": key.secret.hex(), "fingerprint": key.fingerprint,
        "connector": spec.connector, "extract": result.output.name, "extract_id": result.extract_id,
        "created_at": now.isoformat(), "recipient": spec.recipient,
        "pseudonymised": [name for name in spec.fields if name in IDENTIFIERS] or ["id"],
    }
    fd, name = tempfile.mkstemp(dir=key_file.parent, prefix=f".{key_file.name}.", suffix=".part")
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(json.dumps(content, indent=2) + "\n")
    return Path(name)


# -- the audit entry and the register -----------------------------------------------------------------------------


class ExtractDisclosure(BaseModel):
    """To whom, why and under which transfer safeguard: the audit entry's `disclosure`, as JSON."""

    recipient: str
    purpose: str
    transfer_basis: str | None = None


_QUASI_ROOM = 120


def audit_entry(spec: ExtractSpec, result: ExtractResult, *, actor: str, policy_hash: str) -> AuditEntry:
    """The extract in the audit log: recipient, purpose, transfer basis, counts, fields, the key's fingerprint."""
    disclosure = ExtractDisclosure(recipient=spec.recipient, purpose=spec.purpose, transfer_basis=spec.transfer_basis)
    quasi = ",".join(result.quasi_identifiers)
    if len(quasi) > _QUASI_ROOM:  # the evidence column holds 300 characters
        quasi = f"{len(result.quasi_identifiers)} columns"
    evidence = "; ".join((
        f"rows={result.rows}", f"k={'' if result.k is None else result.k}", f"groups={result.groups}",
        f"quasi={quasi}", f"notes={'redacted' if spec.notes else 'dropped'}",
        f"left_out={sum(result.left_out.values())}", f"format={result.fmt}", f"key={result.key_fingerprint}",
    ))  # fmt: skip
    return AuditEntry(
        crm=spec.connector, object_type="extract", record_key=result.key_fingerprint, action=EXTRACT_ACTION,
        rule_id=EXTRACT_RULE, legal_basis=EXTRACT_BASIS, policy_hash=policy_hash, outcome="applied", actor=actor,
        fields=(*map(key_of, spec.fields), *(("notes",) if spec.notes else ())), run_id=result.extract_id,
        evidence=evidence, disclosure=disclosure.model_dump_json(),
    )


@dataclass(frozen=True, slots=True)
class ExtractRecord:
    """One extract as the audit log recorded it (for the Art 30 register)."""

    at: str
    connector: str
    recipient: str
    purpose: str
    transfer_basis: str | None
    fields: tuple[str, ...]
    rows: int
    k: int | None
    key_fingerprint: str


def recorded_extracts(engine: Engine) -> Iterator[ExtractRecord]:
    """Every extract in the audit log, oldest first."""
    with Session(engine) as db:
        for event in entries(db, AuditFilter(action=EXTRACT_ACTION)):
            try:
                disclosure = ExtractDisclosure.model_validate_json(event.disclosure or "")
            except ValidationError:
                continue  # not written by this module
            facts = dict(part.split("=", 1) for part in (event.evidence or "").split("; ") if "=" in part)
            yield ExtractRecord(
                at=event.ts, connector=event.crm, recipient=disclosure.recipient, purpose=disclosure.purpose,
                transfer_basis=disclosure.transfer_basis, fields=tuple(json.loads(event.fields)),
                rows=int(facts.get("rows") or 0), k=int(facts["k"]) if facts.get("k") else None,
                key_fingerprint=event.record_key,
            )


# -- re-identification --------------------------------------------------------------------------------------------


class KeyFileError(ValueError):
    """The key file cannot be read as an extract key."""


@dataclass(frozen=True, slots=True)
class KeyFile:
    key: ExtractKey
    connector: str
    pseudonymised: tuple[str, ...]


def read_key_file(path: Path) -> KeyFile:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        if content.get("format") != KEY_FILE_FORMAT:
            raise KeyFileError(f"{path} is not an extract key file written by gomme export")
        key = ExtractKey(bytes.fromhex(content["key"]))
        if key.fingerprint != content.get("fingerprint"):
            raise KeyFileError(f"{path}: the key does not match its fingerprint (the file was altered)")
        return KeyFile(key, str(content["connector"]), tuple(content.get("pseudonymised") or ("id",)))
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, KeyFileError):
            raise
        raise KeyFileError(f"{path} is not an extract key file written by gomme export") from None


def record_pseudonym(key: ExtractKey, connector: str, object_type: str, record_id: str) -> str:
    """The `record` column of a record in the extract made with `key` (to tell its processor which row changed)."""
    return key.pseudonym("record", f"{connector}:{object_type}:{record_id}")


@dataclass(frozen=True, slots=True)
class Match:
    record_id: str
    object_type: str
    field: str


def reidentify(records: Iterable[PersonRecord], key: ExtractKey, pseudonym: str,
               fields: Sequence[str] = tuple(IDENTIFIERS)) -> Iterator[Match]:
    """The records whose identifier `field` has `pseudonym` under `key` (streamed: the controller's side only)."""
    wanted = pseudonym.strip().lower()
    getters = {name: getter(name) for name in fields if name != "id"}
    for record in records:
        if record_pseudonym(key, record.crm, record.object_type, record.id) == wanted:
            yield Match(record.id, record.object_type, "id")
        for name, get in getters.items():
            value = get(record)
            if value and key.pseudonym(IDENTIFIERS[name], str(value)) == wanted:
                yield Match(record.id, record.object_type, name)
