"""The `local` connector: a CRM kept in one SQLite file (the demo's CRM, the tests', and CSV/JSON cleaning)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from gomme.connectors.base import Capabilities, ClosedOnExit, Pulled, Usage
from gomme.connectors.errors import FatalError, RecordError, RetryableError
from gomme.connectors.incremental import MICROSECOND, Position, Tracker
from gomme.connectors.local_related import SCHEMA as RELATED_SCHEMA
from gomme.connectors.local_related import Activity, add_activities, related_of, write_edits
from gomme.connectors.local_sql import (
    ANONYMISED_LAST_NAME,
    INSERT_CONSENT,
    OBJECT_TYPES,
    OPT_OUT_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    TRUE,
    UPSERT_PERSON,
    Sql,
    all_of,
    consent_from_row,
    consent_row,
    export_dict,
    iso_datetime,
    person_from_row,
    person_row,
    pull_where,
    since_where,
)
from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange
from gomme.model.conditions import PullQuery, matches_any
from gomme.model.records import RECTIFIABLE_FIELDS, Consent, PersonRecord
from gomme.model.related import export_related

_BATCH = 500  # rows per page and per write; also keeps `IN (...)` lists under SQLite's variable limit
_NOTE_PREFIX = "notes."
_T = TypeVar("_T")

# Every SQL text below is built from constants and placeholders only; values are always bound parameters,
# which is why the f-string SQL carries `noqa: S608` (ruff cannot see that the pieces are constants).


class LocalConnector(ClosedOnExit):
    """A SQLite-file CRM implementing the `Connector` protocol; one user at a time per instance."""

    class Settings(BaseModel):
        """`[connectors.<name>]` with `type = "local"`: where the SQLite file lives."""

        model_config = ConfigDict(extra="forbid")

        type: Literal["local"]
        path: Path
        # When a person is erased, an activity about them alone is deleted, or kept with their identifiers cut out
        # of it ("scrub"); an activity about other people too is always scrubbed (docs/related-records.md).
        related_on_erase: Literal["delete", "scrub"] = "delete"

    @classmethod
    def from_settings(cls, name: str, settings: LocalConnector.Settings, *, base_dir: Path) -> LocalConnector:
        """Builds the connector from config; a relative path is relative to the config file's directory."""
        path = settings.path.expanduser()
        delete = settings.related_on_erase == "delete"
        return cls(name, path if path.is_absolute() else base_dir / path, delete_related=delete)

    def __init__(
        self, name: str, path: Path, *, clock: Callable[[], dt.datetime] | None = None, delete_related: bool = True
    ) -> None:
        self.name = name
        self.path = path
        self._clock = clock or _utc_now
        self._delete_related = delete_related
        self._conn = _open(path)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(actions=frozenset(Action), incremental=True, pushdown=True, notes=True)

    def close(self) -> None:
        self._conn.close()

    def size(self) -> int:
        """How many people the CRM holds: the base of the blast-radius guard's percentage."""
        row = self._conn.execute("SELECT COUNT(*) FROM person").fetchone()
        return int(row[0])

    def usage(self) -> Usage:
        """No API: nothing to count."""
        return Usage()

    def notices(self) -> list[str]:
        """Nothing to report: gomme created this CRM's schema itself."""
        return []

    # -- reading ----------------------------------------------------------------------------------------

    def pull(self, query: PullQuery) -> Pulled:
        """Streams matching records ordered by id; a bad prefilter (ValueError) or cursor (FatalError) raises here,
        before any read."""
        previous = self._positions(query)  # an unreadable cursor stops here, naming this connector
        return Pulled(self._stream(query, pull_where(query), previous))

    def get(self, ids: Iterable[tuple[str, str]]) -> Iterator[PersonRecord]:
        """Re-reads records by (object_type, id); missing ones are not yielded."""
        for chunk in _chunks(ids, _BATCH):
            wanted = set(chunk)
            marks = ", ".join("?" * len(wanted))
            sql = f"SELECT * FROM person WHERE id IN ({marks}) ORDER BY id"  # noqa: S608 - placeholders only
            rows = self._conn.execute(sql, [record_id for _, record_id in wanted]).fetchall()
            yield from self._hydrate([row for row in rows if (row["object_type"], row["id"]) in wanted])

    def find(self, email: str) -> Iterator[PersonRecord]:
        """People whose email matches, ignoring case and surrounding whitespace (emails are stored stripped)."""
        key = email.strip().lower()
        if not key:
            return
        # Read in full before yielding (a handful of rows), so the caller may apply changes while iterating.
        rows = self._conn.execute("SELECT * FROM person WHERE lower(email) = ? ORDER BY id", (key,)).fetchall()
        for chunk in _chunks(rows, _BATCH):
            yield from self._hydrate(chunk)

    def export(self, record: PersonRecord) -> dict[str, Any]:
        """Everything stored on the person, notes and consents included (Art 15 / Art 20)."""
        found = next(self.get([(record.object_type, record.id)]), None)
        if found is None:
            raise RecordError("record not found", record_id=record.id, code="NOT_FOUND")
        related = export_related(found.related, email=found.email, phone=found.phone)
        return {**export_dict(found), "related": related}

    def _stream(
        self, query: PullQuery, where: Sql, previous: Mapping[str, Position]
    ) -> Generator[PersonRecord, None, dict[str, str]]:
        # Keyset pages, not one long cursor: a suspended pull holds no statement open, so the caller may
        # apply changes between pages.
        trackers = {kind: Tracker(previous.get(kind), MICROSECOND) for kind in OBJECT_TYPES}
        last_id, remaining = "", query.limit
        while remaining is None or remaining > 0:
            size = _BATCH if remaining is None else min(_BATCH, remaining)
            sql = f"SELECT * FROM person WHERE ({where.text}) AND id > ? ORDER BY id LIMIT ?"  # noqa: S608
            rows = self._conn.execute(sql, (*where.params, last_id, size)).fetchall()
            for record in self._hydrate(rows):
                if self._read_before(query, previous.get(record.object_type), record):
                    continue
                trackers[record.object_type].saw(record.id, record.modified_at)
                yield record
            if len(rows) < size:
                return self._next_cursor(query, trackers, unseen_after=None)
            last_id = rows[-1]["id"]
            remaining = None if remaining is None else remaining - len(rows)
        return self._next_cursor(query, trackers, unseen_after=last_id)

    def _positions(self, query: PullQuery) -> dict[str, Position]:
        return {
            kind: Position.parse(text, resolution=MICROSECOND, connector=self.name, object_type=kind)
            for kind, text in (query.since or {}).items()
            if kind in OBJECT_TYPES
        }

    @staticmethod
    def _read_before(query: PullQuery, since: Position | None, record: PersonRecord) -> bool:
        """Read by the previous pull at the cursor's very instant, unchanged, and not asked for otherwise."""
        if query.everything or since is None or record.modified_at is None:
            return False
        return since.already_seen(record.id, record.modified_at) and not matches_any(record, query.prefilters)

    def _next_cursor(self, query: PullQuery, trackers: dict[str, Tracker], unseen_after: str | None) -> dict[str, str]:
        """Newest change read per type, never past a record a `limit` left unread, never backwards."""
        if not query.everything and query.since is None:
            return {}  # a prefilter-only pull did not scan the changes, so it establishes no position
        cursor = {kind: value for kind, value in (query.since or {}).items() if kind not in OBJECT_TYPES}
        unseen = self._oldest_unseen(query, unseen_after) if unseen_after is not None else {}
        for kind, tracker in trackers.items():
            cap = dt.datetime.fromisoformat(unseen[kind]) if kind in unseen else None
            position = tracker.position(cap)
            if position is not None:
                cursor[kind] = position.dump()
        return cursor

    def _oldest_unseen(self, query: PullQuery, after_id: str) -> dict[str, str]:
        where = all_of([pull_where(query), since_where(query.since) or TRUE])
        sql = (
            f"SELECT object_type, MIN(modified_at) FROM person WHERE ({where.text}) AND id > ? "  # noqa: S608
            "GROUP BY object_type"
        )
        return {row[0]: row[1] for row in self._conn.execute(sql, (*where.params, after_id))}

    def _hydrate(self, rows: Sequence[sqlite3.Row]) -> Iterator[PersonRecord]:
        """Joins notes and consents onto a page of person rows with one query each."""
        ids = [row["id"] for row in rows]
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        notes: dict[str, dict[str, str]] = {}
        consents: dict[str, list[Consent]] = {}
        note_sql = f"SELECT person_id, field, text FROM note WHERE person_id IN ({marks}) ORDER BY field"  # noqa: S608
        for person_id, field, text in self._conn.execute(note_sql, ids):
            notes.setdefault(person_id, {})[field] = text
        consent_sql = f"SELECT * FROM consent WHERE person_id IN ({marks}) ORDER BY rowid"  # noqa: S608
        for row in self._conn.execute(consent_sql, ids):
            consents.setdefault(row["person_id"], []).append(consent_from_row(row))
        related = related_of(self._conn, ids, delete_on_erase=self._delete_related)
        for row in rows:
            record_id = row["id"]
            person = person_from_row(self.name, dict(row), notes.get(record_id, {}), tuple(consents.get(record_id, ())))
            yield replace(person, related=tuple(related[record_id])) if record_id in related else person

    # -- writing ----------------------------------------------------------------------------------------

    def add(self, records: Iterable[PersonRecord], *, atomic: bool = False) -> int:
        """Inserts or replaces records (upsert by id, notes and consents replaced) in batches; returns the count.

        `atomic`: all of them in one transaction, so an error or a kill part-way leaves nothing half-added.
        """
        if atomic:
            with self._transaction():
                return self._add(records, nullcontext)
        return self._add(records, self._transaction)

    def _add(self, records: Iterable[PersonRecord], transaction: Callable[[], AbstractContextManager[None]]) -> int:
        count = 0
        for chunk in _chunks(records, _BATCH):
            unique = list({record.id: record for record in chunk}.values())
            for record in unique:
                if record.object_type not in OBJECT_TYPES:
                    raise ValueError(f"record {record.id}: object_type must be one of {OBJECT_TYPES}")
            now = self._clock()
            with transaction():
                self._conn.executemany(UPSERT_PERSON, [person_row(record, now) for record in unique])
                self._replace_children(unique)
            count += len(unique)
        return count

    def add_activities(self, activities: Iterable[Activity]) -> int:
        """Inserts or replaces activities (calls, meetings, notes about people), in one transaction."""
        with self._transaction():
            return add_activities(self._conn, activities)

    def apply(self, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        """Applies the batch in one transaction, then yields: an APPLIED result is already durable."""
        stamp = iso_datetime(self._clock())
        with self._transaction():
            results = [self._apply_one(change, stamp) for change in changes]
        return iter(results)

    def _apply_one(self, change: PlannedChange, stamp: str) -> ChangeResult:
        actions = sorted(set(change.actions), key=lambda action: action.strength)
        if change.crm != self.name:
            return ChangeResult(change.change_id, Outcome.FAILED, "WRONG_CRM", "change is for another connector")
        if not self._exists(change.object_type, change.record_id):
            if Action.DELETE in actions:
                return ChangeResult(change.change_id, Outcome.APPLIED, detail="already deleted")
            return ChangeResult(change.change_id, Outcome.FAILED, "NOT_FOUND", "record not found")
        if Action.REDACT_NOTE in actions and not _note_values(change.values) and not change.related:
            detail = "redact_note needs text values keyed notes.<field>"
            return ChangeResult(change.change_id, Outcome.FAILED, "INVALID_CHANGE", detail)
        # Related records first: once the person is deleted, nothing links them to their activities any more.
        related = write_edits(self._conn, change.related) if change.related else None
        before = self._conn.total_changes
        for action in actions:
            _WRITERS[action](self._conn, change.record_id, change.values)
        if self._conn.total_changes != before and Action.DELETE not in actions:
            self._conn.execute("UPDATE person SET modified_at = ? WHERE id = ?", (stamp, change.record_id))
        return ChangeResult(change.change_id, Outcome.APPLIED, related=related)

    def _exists(self, object_type: str, record_id: str) -> bool:
        sql = "SELECT 1 FROM person WHERE id = ? AND object_type = ?"
        return self._conn.execute(sql, (record_id, object_type)).fetchone() is not None

    def _replace_children(self, records: Sequence[PersonRecord]) -> None:
        ids = [(record.id,) for record in records]
        self._conn.executemany("DELETE FROM note WHERE person_id = ?", ids)
        self._conn.executemany("DELETE FROM consent WHERE person_id = ?", ids)
        notes = [(record.id, field, text) for record in records for field, text in record.notes.items()]
        self._conn.executemany("INSERT INTO note (person_id, field, text) VALUES (?, ?, ?)", notes)
        consents = [consent_row(record.id, consent) for record in records for consent in record.consents]
        self._conn.executemany(INSERT_CONSENT, consents)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error; a busy file becomes a RetryableError."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise RetryableError("local CRM database is locked by another process") from error
            raise


def _restrict_email(conn: sqlite3.Connection, record_id: str, values: Mapping[str, Any]) -> None:
    conn.execute("UPDATE person SET opt_out_email = 1 WHERE id = ? AND opt_out_email = 0", (record_id,))


def _restrict_all(conn: sqlite3.Connection, record_id: str, values: Mapping[str, Any]) -> None:
    # Art 18: every opt-out and the restriction marker; nothing else changes.
    columns = (*OPT_OUT_COLUMNS, "restricted")
    assignments = ", ".join(f"{column} = 1" for column in columns)
    unchanged = " AND ".join(f"{column} = 1" for column in columns)
    sql = f"UPDATE person SET {assignments} WHERE id = ? AND NOT ({unchanged})"  # noqa: S608 - constant columns
    conn.execute(sql, (record_id,))


def _anonymise(conn: sqlite3.Connection, record_id: str, values: Mapping[str, Any]) -> None:
    # Constants only, never derived from the originals: a hash is pseudonymisation, not anonymisation.
    conn.execute(
        "UPDATE person SET email = NULL, first_name = NULL, phone = NULL, birthdate = NULL, "
        "last_name = ?, anonymised = 1 WHERE id = ? AND (email IS NOT NULL OR first_name IS NOT NULL "
        "OR phone IS NOT NULL OR birthdate IS NOT NULL OR last_name IS NOT ? OR anonymised = 0)",
        (ANONYMISED_LAST_NAME, record_id, ANONYMISED_LAST_NAME),
    )
    conn.execute("DELETE FROM note WHERE person_id = ?", (record_id,))
    conn.execute("DELETE FROM consent WHERE person_id = ?", (record_id,))


def _delete(conn: sqlite3.Connection, record_id: str, values: Mapping[str, Any]) -> None:
    conn.execute("DELETE FROM note WHERE person_id = ?", (record_id,))
    conn.execute("DELETE FROM consent WHERE person_id = ?", (record_id,))
    conn.execute("DELETE FROM person WHERE id = ?", (record_id,))


def _redact_note(conn: sqlite3.Connection, record_id: str, values: Mapping[str, Any]) -> None:
    for field, text in _note_values(values).items():
        sql = "UPDATE note SET text = ? WHERE person_id = ? AND field = ? AND text IS NOT ?"
        conn.execute(sql, (text, record_id, field, text))


def _keep(conn: sqlite3.Connection, record_id: str, values: Mapping[str, Any]) -> None:
    return None


def _rectify(conn: sqlite3.Connection, record_id: str, values: Mapping[str, Any]) -> None:
    # Art 16: only the canonical identity fields, each compared first so a re-apply changes nothing.
    for field in RECTIFIABLE_FIELDS:
        if field in values:
            value = None if values[field] is None else str(values[field])
            sql = f"UPDATE person SET {field} = ? WHERE id = ? AND {field} IS NOT ?"  # noqa: S608 - constant names
            conn.execute(sql, (value, record_id, value))


_WRITERS: Mapping[Action, Callable[[sqlite3.Connection, str, Mapping[str, Any]], None]] = {
    Action.KEEP: _keep,
    Action.RECTIFY: _rectify,
    Action.REDACT_NOTE: _redact_note,
    Action.RESTRICT_EMAIL: _restrict_email,
    Action.RESTRICT_ALL: _restrict_all,
    Action.ANONYMISE: _anonymise,
    Action.DELETE: _delete,
}


def _note_values(values: Mapping[str, Any]) -> dict[str, str]:
    """The `notes.<field>` → replacement text entries of a change; empty if any of them is not text."""
    notes = {key.removeprefix(_NOTE_PREFIX): text for key, text in values.items() if key.startswith(_NOTE_PREFIX)}
    return notes if all(isinstance(text, str) for text in notes.values()) else {}


def _open(path: Path) -> sqlite3.Connection:
    """Opens the file, creating the schema when new; a wrong file or directory is a configuration error."""
    if not path.parent.is_dir():
        raise FatalError(f"local CRM: directory does not exist: {path.parent}")
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, SCHEMA_VERSION):
            raise FatalError(f"local CRM {path}: schema version {version}, this gomme reads {SCHEMA_VERSION}")
        if version != SCHEMA_VERSION:  # new, or version 1 (before activities): the missing tables are created
            conn.execute("BEGIN IMMEDIATE")
            for statement in (*SCHEMA, *RELATED_SCHEMA):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
    except sqlite3.DatabaseError as error:
        raise FatalError(f"local CRM {path} is not a usable SQLite database ({type(error).__name__})") from error
    return conn


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
