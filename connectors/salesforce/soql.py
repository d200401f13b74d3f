"""A small SOQL builder: identifiers are validated, every literal is escaped; values are never formatted in.

Expressions are tiny immutable trees (`Compare`, `In`, `Like`, `And`, `Or`, the constants `TRUE`/`FALSE`)
folded as they are built, so a group that cannot match disappears and one that always matches wins.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Union

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){0,4}")
_OBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# SOQL's escape sequences for quoted strings (SOQL reference, "Quoted String Escape Sequences").
_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_LIKE_ESCAPES = {**_ESCAPES, "%": "\\%", "_": "\\_"}

Value = Union[str, bool, int, float, dt.date, dt.datetime, None]  # noqa: UP007 - a runtime alias
Comparison = Literal["=", "!=", "<", "<=", ">", ">="]



# Salesforce stores dates and date-times from 1700-01-01T00:00:00Z to 4000-12-31T00:00:00Z (docs/crm-apis.md):
# a literal outside is refused (MALFORMED_QUERY); clamped to them, it selects the same stored records (but for one
# stored at exactly the bound, which a strict comparison with a literal beyond it would have selected too).
_EARLIEST = dt.datetime(1700, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(4000, 12, 31, tzinfo=dt.UTC)


def identifier(name: str) -> str:
    """A field name, possibly through relationships; anything else is a programming or config error."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a Salesforce field name: {name!r}")
    return name


def literal(value: Value, *, like: bool = False) -> str:
    """The SOQL text of one value. Datetimes are rendered in UTC to the second (callers round first)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("SOQL has no literal for NaN or infinity")
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: gomme times are timezone-aware")
        if value.microsecond:
            raise ValueError("SOQL datetime literals have whole seconds; round the value first")
        moment = min(max(value.astimezone(dt.UTC), _EARLIEST), _LATEST)
        return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"
    if isinstance(value, dt.date):
        return min(max(value, _EARLIEST.date()), _LATEST.date()).isoformat()
    if isinstance(value, str):
        table = _LIKE_ESCAPES if like else _ESCAPES
        return "'" + "".join(table.get(char, char) for char in value) + "'"
    raise TypeError(f"no SOQL literal for a {type(value).__name__}")


class Expr:
    """A WHERE expression; render with `str()`."""


@dataclass(frozen=True, slots=True)
class Constant(Expr):
    value: bool

    def __str__(self) -> str:  # only reached when a whole WHERE folds to a constant
        return "Id != null" if self.value else "Id = null"


TRUE = Constant(True)
FALSE = Constant(False)


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    field: str
    op: Comparison
    value: Value

    def __post_init__(self) -> None:
        identifier(self.field)
        if self.value is None and self.op not in ("=", "!="):
            raise ValueError("only = and != compare with null")

    def __str__(self) -> str:
        return f"{self.field} {self.op} {literal(self.value)}"


@dataclass(frozen=True, slots=True)
class In(Expr):
    field: str
    values: tuple[Value, ...]
    negate: bool = False

    def __post_init__(self) -> None:
        identifier(self.field)
        if not self.values or None in self.values:
            raise ValueError("IN needs a non-empty list without null")

    def __str__(self) -> str:
        items = ", ".join(literal(value) for value in self.values)
        return f"{self.field} {'NOT IN' if self.negate else 'IN'} ({items})"


@dataclass(frozen=True, slots=True)
class Like(Expr):
    """`field LIKE 'prefix%'`-style matching: `%` and `_` in `text` are escaped, so they match themselves."""

    field: str
    text: str
    prefix: bool = False

    def __post_init__(self) -> None:
        identifier(self.field)

    def __str__(self) -> str:
        pattern = literal(self.text, like=True)
        return f"{self.field} LIKE {pattern[:-1]}%'" if self.prefix else f"{self.field} LIKE {pattern}"


@dataclass(frozen=True, slots=True)
class And(Expr):
    parts: tuple[Expr, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrapped(part) for part in self.parts)


@dataclass(frozen=True, slots=True)
class Or(Expr):
    parts: tuple[Expr, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrapped(part) for part in self.parts)


def _wrapped(part: Expr) -> str:
    return f"({part})" if isinstance(part, And | Or) else str(part)


def all_of(parts: Iterable[Expr]) -> Expr:
    """AND, folded: FALSE wins, TRUE vanishes, nested ANDs flatten."""
    kept: list[Expr] = []
    for part in parts:
        if part == FALSE:
            return FALSE
        if part == TRUE:
            continue
        kept.extend(part.parts if isinstance(part, And) else (part,))
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else And(tuple(dict.fromkeys(kept)))


def any_of(parts: Iterable[Expr]) -> Expr:
    """OR, folded: TRUE wins, FALSE vanishes, nested ORs flatten."""
    kept: list[Expr] = []
    for part in parts:
        if part == TRUE:
            return TRUE
        if part == FALSE:
            continue
        kept.extend(part.parts if isinstance(part, Or) else (part,))
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else Or(tuple(dict.fromkeys(kept)))


def is_null(field: str) -> Expr:
    return Compare(field, "=", None)


def not_null(field: str) -> Expr:
    return Compare(field, "!=", None)


@dataclass(frozen=True, slots=True)
class Soql:
    """`SELECT fields FROM sobject [WHERE] [ORDER BY] [LIMIT]`, immutable; `str()` is the statement."""

    sobject: str
    fields: tuple[str, ...]
    where: Expr = TRUE
    order_by: tuple[str, ...] = ()
    limit: int | None = None

    def __post_init__(self) -> None:
        if not _OBJECT.fullmatch(self.sobject):
            raise ValueError(f"not a Salesforce object name: {self.sobject!r}")
        for name in (*self.order_by, *(f for f in self.fields if f not in ("COUNT()", "FIELDS(ALL)"))):
            identifier(name)
        if self.limit is not None and self.limit < 0:
            raise ValueError("LIMIT must be zero or more")

    @classmethod
    def select(cls, sobject: str, fields: Sequence[str]) -> Soql:
        return cls(sobject, tuple(dict.fromkeys(fields)))

    @classmethod
    def count(cls, sobject: str, where: Expr = TRUE) -> Soql:
        return cls(sobject, ("COUNT()",), where)

    def filter(self, *parts: Expr) -> Soql:
        return Soql(self.sobject, self.fields, all_of((self.where, *parts)), self.order_by, self.limit)

    def ordered(self, *fields: str) -> Soql:
        return Soql(self.sobject, self.fields, self.where, fields, self.limit)

    def limited(self, limit: int | None) -> Soql:
        return Soql(self.sobject, self.fields, self.where, self.order_by, limit)

    def __str__(self) -> str:
        # Identifiers were validated in __post_init__, literals escaped by `literal`: nothing else gets in.
        text = f"SELECT {', '.join(self.fields)} FROM {self.sobject}"  # noqa: S608
        if self.where != TRUE:
            text += f" WHERE {self.where}"
        if self.order_by:
            text += f" ORDER BY {', '.join(self.order_by)}"
        if self.limit is not None:
            text += f" LIMIT {self.limit}"
        return text
