"""The local CRM's activities: records about one or more people, read beside them and written by related edits.

An activity (a call, a meeting, a note) links to every person it concerns; deleting a person removes the links,
never the activity (as HubSpot keeps a deleted contact's engagements), so erasure deletes or scrubs it itself
(docs/related-records.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gomme.model.related import RelatedEdit, RelatedOp, RelatedOutcome, RelatedRecord

OBJECT = "activity"
TEXT_COLUMNS: tuple[str, ...] = ("subject", "body")
SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS activity (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'task', subject TEXT, body TEXT, created_at TEXT
)""",
    """CREATE TABLE IF NOT EXISTS activity_person (
    activity_id TEXT NOT NULL REFERENCES activity (id) ON DELETE CASCADE,
    person_id TEXT NOT NULL REFERENCES person (id) ON DELETE CASCADE,
    PRIMARY KEY (activity_id, person_id)
)""",
    "CREATE INDEX IF NOT EXISTS activity_person_person ON activity_person (person_id)",
)


@dataclass(frozen=True, slots=True)
class Activity:
    """An activity to add to the local CRM (tests, demos, imports): its text and the people it concerns."""

    id: str
    person_ids: tuple[str, ...]
    subject: str | None = None
    body: str | None = None
    kind: str = "task"

    def __repr__(self) -> str:
        return f"Activity({self.id}, people={len(self.person_ids)})"


def add_activities(conn: sqlite3.Connection, activities: Iterable[Activity]) -> int:
    """Insert or replace activities and their links, in the caller's transaction."""
    count = 0
    for activity in activities:
        conn.execute(
            "INSERT INTO activity (id, kind, subject, body) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "kind = excluded.kind, subject = excluded.subject, body = excluded.body",
            (activity.id, activity.kind, activity.subject, activity.body),
        )
        conn.execute("DELETE FROM activity_person WHERE activity_id = ?", (activity.id,))
        conn.executemany(
            "INSERT INTO activity_person (activity_id, person_id) VALUES (?, ?)",
            [(activity.id, person_id) for person_id in dict.fromkeys(activity.person_ids)],
        )
        count += 1
    return count


def related_of(
    conn: sqlite3.Connection, person_ids: Sequence[str], *, delete_on_erase: bool
) -> dict[str, list[RelatedRecord]]:
    """The activities of a page of people (one query), with how many other people each concerns."""
    if not person_ids:
        return {}
    marks = ", ".join("?" * len(person_ids))
    sql = (
        "SELECT link.person_id, a.id, a.subject, a.body, "  # noqa: S608 - placeholders only
        "(SELECT COUNT(*) FROM activity_person other WHERE other.activity_id = a.id) AS people "
        f"FROM activity_person link JOIN activity a ON a.id = link.activity_id WHERE link.person_id IN ({marks}) "
        "ORDER BY link.person_id, a.id"
    )
    found: dict[str, list[RelatedRecord]] = {}
    for row in conn.execute(sql, list(person_ids)):
        text = {name: row[name] for name in TEXT_COLUMNS if row[name] is not None}
        record = RelatedRecord(OBJECT, row["id"], text, others=int(row["people"]) - 1, delete_on_erase=delete_on_erase)
        found.setdefault(row["person_id"], []).append(record)
    return found


def write_edits(conn: sqlite3.Connection, edits: Sequence[RelatedEdit]) -> RelatedOutcome:
    """Apply one change's related edits in the caller's transaction; an unknown field or object is refused."""
    written: list[RelatedEdit] = []
    refused: list[tuple[RelatedEdit, str]] = []
    for edit in edits:
        if edit.object_type != OBJECT or not set(edit.values) <= set(TEXT_COLUMNS):
            refused.append((edit, "INVALID_FIELD"))
            continue
        if edit.op is RelatedOp.DELETE:
            conn.execute("DELETE FROM activity WHERE id = ?", (edit.id,))
        else:
            _update(conn, edit.id, edit.values)
        written.append(edit)
    return RelatedOutcome.of(written, refused)


def _update(conn: sqlite3.Connection, activity_id: str, values: Mapping[str, str | None]) -> None:
    for name, value in values.items():  # names checked against TEXT_COLUMNS by the caller
        conn.execute(f"UPDATE activity SET {name} = ? WHERE id = ?", (value, activity_id))  # noqa: S608
