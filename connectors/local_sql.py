"""Storage format of the local connector: the SQLite schema, value encoding, and PullQuery → SQL WHERE.

Column names only ever come from the constants below; every value is bound as a parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gomme.connectors.incremental import MICROSECOND, Position
from gomme.model.conditions import Condition, FilterGroup, Op, PullQuery
from gomme.model.fields import FIELDS, OPT_OUT_FIELDS, OPT_OUT_KEYS, OPT_OUT_NAMES, FieldType, canonical, getter, key_of
from gomme.model.records import Consent, ConsentStatus, Lifecycle, OptOuts, PersonRecord

SCHEMA_VERSION = 2  # 2: activities (connectors/local_related.py)
OBJECT_TYPES: tuple[str, ...] = ("contact", "lead")
ANONYMISED_LAST_NAME = "ANONYMISED"  # a constant, never derived from the original (WP29 05/2014)
OPT_OUT_COLUMNS: tuple[str, ...] = OPT_OUT_KEYS
FLAG_COLUMNS: tuple[str, ...] = ("erasure_requested", "legal_hold", "restricted", "anonymised")
BOOL_COLUMNS: frozenset[str] = frozenset((*OPT_OUT_COLUMNS, *FLAG_COLUMNS))
PERSON_COLUMNS: tuple[str, ...] = (
    "id", "object_type", "email", "first_name", "last_name", "phone", "country", "birthdate",
    "created_at", "modified_at", "last_activity_at", "lifecycle", "contract_end",
    *OPT_OUT_COLUMNS, *FLAG_COLUMNS,
)  # fmt: skip
CONSENT_COLUMNS: tuple[str, ...] = (
    "person_id", "channel", "purpose", "status", "captured_at", "source", "double_opt_in_at",
)  # fmt: skip

_BOOL_DDL = ",\n    ".join(f"{column} INTEGER NOT NULL DEFAULT 0" for column in sorted(BOOL_COLUMNS))
SCHEMA: tuple[str, ...] = (
    f"""CREATE TABLE IF NOT EXISTS person (
    id TEXT PRIMARY KEY,
    object_type TEXT NOT NULL CHECK (object_type IN ('contact', 'lead')),
    email TEXT, first_name TEXT, last_name TEXT, phone TEXT, country TEXT, birthdate TEXT,
    created_at TEXT, modified_at TEXT NOT NULL, last_activity_at TEXT,
    lifecycle TEXT NOT NULL DEFAULT 'unknown', contract_end TEXT,
    {_BOOL_DDL}
)""",
    """CREATE TABLE IF NOT EXISTS note (
    person_id TEXT NOT NULL REFERENCES person (id) ON DELETE CASCADE,
    field TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (person_id, field)
)""",
    """CREATE TABLE IF NOT EXISTS consent (
    person_id TEXT NOT NULL REFERENCES person (id) ON DELETE CASCADE,
    channel TEXT NOT NULL, purpose TEXT NOT NULL, status TEXT NOT NULL,
    captured_at TEXT, source TEXT, double_opt_in_at TEXT
)""",
    "CREATE INDEX IF NOT EXISTS consent_person ON consent (person_id)",
    "CREATE INDEX IF NOT EXISTS person_modified_at ON person (modified_at)",
    "CREATE INDEX IF NOT EXISTS person_last_activity_at ON person (last_activity_at)",
    "CREATE INDEX IF NOT EXISTS person_email ON person (lower(email))",
)

# Built from the column constants above only (hence the noqa): no value is ever formatted into SQL.
UPSERT_PERSON = (
    f"INSERT INTO person ({', '.join(PERSON_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + column for column in PERSON_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET "
    f"{', '.join(f'{column} = excluded.{column}' for column in PERSON_COLUMNS[1:])}"
)
INSERT_CONSENT = f"INSERT INTO consent ({', '.join(CONSENT_COLUMNS)}) VALUES ({', '.join('?' * 7)})"  # noqa: S608


# Canonical PersonRecord field names a prefilter may use, by their flat key: they double as column names.
FIELD_KINDS: Mapping[str, FieldType] = {column: FIELDS[canonical(column)].kind for column in PERSON_COLUMNS}
_MIDNIGHT = "T00:00:00.000000+00:00"  # a date compared with a datetime counts as midnight UTC
_COMPARE: Mapping[Op, str] = {Op.EQ: "=", Op.NE: "IS NOT", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}


@dataclass(frozen=True, slots=True)
class Sql:
    """A fragment of SQL and the parameters it binds, in order."""

    text: str
    params: tuple[Any, ...] = ()


TRUE = Sql("1")
FALSE = Sql("0")


def iso_datetime(value: dt.datetime) -> str:
    """One fixed-width UTC form, so that string order is time order inside SQLite."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: gomme times are timezone-aware")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_datetime(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def parse_date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def cursor_value(text: str, object_type: str) -> str:
    """The stored form of a cursor position's inclusive bound (`connectors/incremental.py`)."""
    position = Position.parse(text, resolution=MICROSECOND, connector="local", object_type=object_type)
    return iso_datetime(position.at)


def any_of(parts: Sequence[Sql]) -> Sql:
    if not parts:
        return FALSE
    return Sql(" OR ".join(f"({part.text})" for part in parts), tuple(p for part in parts for p in part.params))


def all_of(parts: Sequence[Sql]) -> Sql:
    if not parts:
        return TRUE
    return Sql(" AND ".join(f"({part.text})" for part in parts), tuple(p for part in parts for p in part.params))


def pull_where(query: PullQuery) -> Sql:
    """Everything, or changed at/after the cursor, or any prefilter group (PullQuery's contract)."""
    if query.everything:
        return TRUE
    since = since_where(query.since)
    return any_of([*([since] if since else []), *(group_where(group) for group in query.prefilters)])


def since_where(since: Mapping[str, str] | None) -> Sql | None:
    """Incremental part; an object type absent from the cursor has never been pulled, so all of it counts."""
    if since is None:
        return None
    parts = [
        Sql("object_type = ? AND modified_at >= ?", (kind, cursor_value(since[kind], kind)))
        if kind in since
        else Sql("object_type = ?", (kind,))
        for kind in OBJECT_TYPES
    ]
    return any_of(parts)


def group_where(group: FilterGroup) -> Sql:
    return all_of([condition_where(condition) for condition in group])


def condition_where(condition: Condition) -> Sql:
    """Translates one `field op value`; NULL-safe for eq/ne so that `ne` keeps unset fields, as Python does."""
    column = key_of(condition.field)
    kind = FIELD_KINDS.get(column)
    if kind is None:
        return TRUE  # a field this CRM does not store: the condition cannot narrow the pull (a superset)
    op = Op(condition.op)
    if op is Op.IS_NULL or (op is Op.EQ and condition.value is None):
        return Sql(f"{column} IS NULL")
    if op is Op.NOT_NULL or (op is Op.NE and condition.value is None):
        return Sql(f"{column} IS NOT NULL")
    if op is Op.IN:
        return _in_where(column, kind, condition)
    if condition.value is None:
        raise ValueError(f"prefilter {condition.field} {op}: needs a value")
    expression, value = _operand(column, kind, condition.value, condition.field)
    return Sql(f"{expression} {_COMPARE[op]} ?", (value,))


def _in_where(column: str, kind: FieldType, condition: Condition) -> Sql:
    values = condition.value
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"prefilter {condition.field} in: needs a list of values")
    items = list(values)
    by_expression: dict[str, list[Any]] = {}  # a date column against dates, and against datetimes (at midnight)
    for item in items:
        if item is not None:
            expression, value = _operand(column, kind, item, condition.field)
            by_expression.setdefault(expression, []).append(value)
    parts = [Sql(f"{column} IS NULL")] if None in items else []
    for expression, values in by_expression.items():
        parts.append(Sql(f"{expression} IN ({', '.join('?' * len(values))})", tuple(values)))
    return any_of(parts)


def _operand(column: str, kind: FieldType, value: Any, field: str) -> tuple[str, Any]:
    """The column expression and the encoded value to compare it with."""
    if kind is FieldType.BOOL and (isinstance(value, bool) or value in (0, 1)):
        return column, int(value)
    if kind is FieldType.TEXT and isinstance(value, str):
        return column, str(value)
    if kind is FieldType.DATETIME and isinstance(value, dt.date | str):
        return column, iso_datetime(_as_datetime(value, field))
    if kind is FieldType.DATE and isinstance(value, dt.datetime):
        return f"({column} || '{_MIDNIGHT}')", iso_datetime(value)
    if kind is FieldType.DATE and isinstance(value, dt.date | str):
        return column, _as_date(value, field).isoformat()
    raise ValueError(f"prefilter on {field}: value of the wrong type for a {kind} field")


def _as_datetime(value: dt.date | str, field: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        raise ValueError(f"prefilter on {field}: not an ISO-8601 datetime") from None
    if isinstance(parsed, dt.datetime):
        return parsed
    return dt.datetime.combine(parsed, dt.time(), dt.UTC)


def _as_date(value: dt.date | str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        raise ValueError(f"prefilter on {field}: not an ISO-8601 date") from None


def person_row(record: PersonRecord, modified_at: dt.datetime) -> dict[str, Any]:
    """The stored form of a record; the email is stripped so that `find` can match it through the index."""
    opt_outs = {key_of(name): int(getter(name)(record)) for name in OPT_OUT_FIELDS}
    return {
        "id": record.id,
        "object_type": record.object_type,
        "email": record.email.strip() if record.email else None,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "phone": record.phone,
        "country": record.country,
        "birthdate": _iso_date(record.birthdate),
        "created_at": _iso_optional(record.created_at),
        "modified_at": iso_datetime(record.modified_at or modified_at),
        "last_activity_at": _iso_optional(record.last_activity_at),
        "lifecycle": str(record.lifecycle),
        "contract_end": _iso_date(record.contract_end),
        **opt_outs,
        **{column: int(getattr(record, column)) for column in FLAG_COLUMNS},
    }


def consent_row(person_id: str, consent: Consent) -> tuple[Any, ...]:
    return (
        person_id,
        consent.channel,
        consent.purpose,
        str(consent.status),
        _iso_optional(consent.captured_at),
        consent.source,
        _iso_optional(consent.double_opt_in_at),
    )


def consent_from_row(row: Mapping[str, Any]) -> Consent:
    return Consent(
        channel=row["channel"],
        purpose=row["purpose"],
        status=ConsentStatus(row["status"]),
        captured_at=parse_datetime(row["captured_at"]),
        source=row["source"],
        double_opt_in_at=parse_datetime(row["double_opt_in_at"]),
    )


def person_from_row(
    crm: str, row: Mapping[str, Any], notes: Mapping[str, str], consents: tuple[Consent, ...]
) -> PersonRecord:
    return PersonRecord(
        crm=crm,
        object_type=row["object_type"],
        id=row["id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        phone=row["phone"],
        country=row["country"],
        birthdate=parse_date(row["birthdate"]),
        created_at=parse_datetime(row["created_at"]),
        modified_at=parse_datetime(row["modified_at"]),
        last_activity_at=parse_datetime(row["last_activity_at"]),
        lifecycle=Lifecycle(row["lifecycle"]),
        contract_end=parse_date(row["contract_end"]),
        consents=consents,
        opt_outs=OptOuts(**{name: bool(row[key]) for name, key in zip(OPT_OUT_NAMES, OPT_OUT_KEYS, strict=True)}),
        erasure_requested=bool(row["erasure_requested"]),
        legal_hold=bool(row["legal_hold"]),
        restricted=bool(row["restricted"]),
        anonymised=bool(row["anonymised"]),
        notes=notes,
        raw=dict(row),
    )


def export_dict(record: PersonRecord) -> dict[str, Any]:
    """Everything stored on the person, JSON-ready: flags as booleans, times as ISO strings."""
    fields = {column: bool(value) if column in BOOL_COLUMNS else value for column, value in record.raw.items()}
    consents = [dict(zip(CONSENT_COLUMNS[1:], consent_row("", c)[1:], strict=True)) for c in record.consents]
    return {**fields, "notes": dict(record.notes), "consents": consents}


def _iso_optional(value: dt.datetime | None) -> str | None:
    return None if value is None else iso_datetime(value)


def _iso_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()
