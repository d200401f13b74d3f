"""The subset of SOQL gomme's Salesforce connector emits, parsed and evaluated — for the fake org only.

SELECT fields (relationship fields, COUNT(), FIELDS(ALL)) FROM object [WHERE …] [ORDER BY …] [LIMIT n],
with AND/OR/NOT and parentheses (mixing AND and OR without parentheses is refused, as Salesforce does),
=, !=, <, <=, >, >=, IN, NOT IN, LIKE, null, booleans, numbers, dates, datetimes and escaped strings.
Comparisons on text ignore case; a null field satisfies only `= null` and `!= value`-free tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Value = Any
Resolver = Callable[[str], tuple[str, Value]]  # field path → (Salesforce type, value)


class SoqlError(ValueError):
    """A query Salesforce would refuse; `code` is the errorCode of the 400 answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:\\.|[^'\\])*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<special>COUNT\(\)|FIELDS\(ALL\))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_UNESCAPE = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "%": "\\%",
             "_": "\\_"}  # fmt: skip
_KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "limit", "asc", "desc",
             "nulls", "first", "last", "null", "true", "false"}  # fmt: skip


@dataclass(frozen=True)
class Literal:
    kind: str  # string | date | datetime | number | boolean | null
    value: Value


@dataclass(frozen=True, eq=False)  # identity: cheap to hash as a cache key
class Condition:
    field: str
    op: str  # = != < <= > >= in notin like
    operand: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Junction:
    op: str  # and | or | not
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    sobject: str
    where: Condition | Junction | None
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None

    @property
    def is_count(self) -> bool:
        return self.fields == ("COUNT()",)


def parse(text: str) -> Query:
    return _Parser(_tokens(text)).query()


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise SoqlError("MALFORMED_QUERY", f"unexpected character at {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def keyword(self, *words: str) -> bool:
        kind, text = self.peek()
        return kind == "name" and text.lower() in words

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end":
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.at += 1
        return token

    def expect(self, word: str) -> None:
        _, text = self.take()
        if text.lower() != word:
            raise SoqlError("MALFORMED_QUERY", f"expected {word.upper()}, found {text!r}")

    def query(self) -> Query:
        self.expect("select")
        fields = [self.field_item()]
        while self.peek() == ("punct", ","):
            self.take()
            fields.append(self.field_item())
        self.expect("from")
        sobject = self.identifier()
        where = None
        if self.keyword("where"):
            self.take()
            where = self.expression()
        order: list[tuple[str, bool]] = []
        if self.keyword("order"):
            self.take()
            self.expect("by")
            while True:
                name = self.identifier()
                descending = False
                if self.keyword("asc", "desc"):
                    descending = self.take()[1].lower() == "desc"
                order.append((name, descending))
                if self.peek() != ("punct", ","):
                    break
                self.take()
        limit = None
        if self.keyword("limit"):
            self.take()
            kind, text = self.take()
            if kind != "number":
                raise SoqlError("MALFORMED_QUERY", "LIMIT needs a number")
            limit = int(text)
        if self.peek()[0] != "end":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token {self.peek()[1]!r}")
        return Query(tuple(fields), sobject, where, tuple(order), limit)

    def field_item(self) -> str:
        kind, text = self.take()
        if kind == "special":
            return text.upper()
        if kind != "name" or text.lower() in _KEYWORDS:
            raise SoqlError("MALFORMED_QUERY", f"not a field: {text!r}")
        return text

    def identifier(self) -> str:
        kind, text = self.take()
        if kind != "name" or text.lower() in _KEYWORDS:
            raise SoqlError("MALFORMED_QUERY", f"expected a name, found {text!r}")
        return text

    def expression(self) -> Condition | Junction:
        parts = [self.unary()]
        joiner = None
        while self.keyword("and", "or"):
            word = self.take()[1].lower()
            if joiner is not None and word != joiner:
                raise SoqlError("MALFORMED_QUERY", "AND and OR mixed without parentheses")
            joiner = word
            parts.append(self.unary())
        return parts[0] if joiner is None else Junction(joiner, tuple(parts))

    def unary(self) -> Condition | Junction:
        if self.keyword("not"):
            self.take()
            return Junction("not", (self.unary(),))
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("punct", ")"):
                raise SoqlError("MALFORMED_QUERY", "missing )")
            return inner
        field = self.identifier()
        if self.keyword("not"):
            self.take()
            self.expect("in")
            return Condition(field, "notin", self.values())
        if self.keyword("in"):
            self.take()
            return Condition(field, "in", self.values())
        if self.keyword("like"):
            self.take()
            operand = self.literal()
            if operand.kind != "string":
                raise SoqlError("MALFORMED_QUERY", "LIKE needs a string")
            return Condition(field, "like", operand)
        kind, op = self.take()
        if kind != "op":
            raise SoqlError("MALFORMED_QUERY", f"expected an operator, found {op!r}")
        return Condition(field, op, self.literal())

    def values(self) -> tuple[Literal, ...]:
        if self.take() != ("punct", "("):
            raise SoqlError("MALFORMED_QUERY", "IN needs a list")
        items = [self.literal()]
        while self.peek() == ("punct", ","):
            self.take()
            items.append(self.literal())
        if self.take() != ("punct", ")"):
            raise SoqlError("MALFORMED_QUERY", "missing ) after the IN list")
        return tuple(items)

    def literal(self) -> Literal:
        kind, text = self.take()
        if kind == "string":
            return Literal("string", _unescape(text[1:-1]))
        if kind == "datetime":
            return Literal("datetime", dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        if kind == "date":
            return Literal("date", dt.date.fromisoformat(text))
        if kind == "number":
            return Literal("number", float(text))
        if kind == "name" and text.lower() in ("true", "false"):
            return Literal("boolean", text.lower() == "true")
        if kind == "name" and text.lower() == "null":
            return Literal("null", None)
        raise SoqlError("MALFORMED_QUERY", f"expected a value, found {text!r}")


def _unescape(body: str) -> str:
    out, index = [], 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            if index + 1 >= len(body) or body[index + 1] not in _UNESCAPE:
                raise SoqlError("MALFORMED_QUERY", "invalid escape sequence")
            out.append(_UNESCAPE[body[index + 1]])
            index += 2
            continue
        if char == "'":
            raise SoqlError("MALFORMED_QUERY", "unescaped quote in a string")
        out.append(char)
        index += 1
    return "".join(out)


# -- evaluation -----------------------------------------------------------------------------------------


def evaluate(node: Condition | Junction | None, resolve: Resolver) -> bool:
    if node is None:
        return True
    if isinstance(node, Junction):
        if node.op == "and":
            return all(evaluate(part, resolve) for part in node.parts)
        if node.op == "or":
            return any(evaluate(part, resolve) for part in node.parts)
        return not evaluate(node.parts[0], resolve)
    field_type, value = resolve(node.field)
    if node.op in ("in", "notin"):
        assert isinstance(node.operand, tuple)
        members, with_null = _members(node, field_type)
        key = value.casefold() if isinstance(value, str) else value
        hits = (value is None and with_null) or (value is not None and key in members)
        return hits if node.op == "in" else (value is not None and not hits)
    assert isinstance(node.operand, Literal)
    if node.op == "like":
        return value is not None and _like(str(node.operand.value)).fullmatch(str(value)) is not None
    return _compare(field_type, value, node.op, node.operand, node.field)


@functools.cache
def _members(node: Condition, field_type: str) -> tuple[frozenset[Any], bool]:
    """An IN list as a set of comparable values (checked against the field's type once)."""
    assert isinstance(node.operand, tuple)
    values = [_coerce(field_type, item, node.field) for item in node.operand if item.kind != "null"]
    folded = frozenset(v.casefold() if isinstance(v, str) else v for v in values)
    return folded, any(item.kind == "null" for item in node.operand)


def _compare(field_type: str, value: Value, op: str, operand: Literal, field: str) -> bool:
    if operand.kind == "null":
        if op not in ("=", "!="):
            raise SoqlError("MALFORMED_QUERY", "null only compares with = and !=")
        return (value is None) == (op == "=")
    right = _coerce(field_type, operand, field)
    if value is None:
        return False
    left = value.casefold() if isinstance(value, str) else value
    right = right.casefold() if isinstance(right, str) else right
    return {"=": left == right, "!=": left != right, "<": left < right, "<=": left <= right, ">": left > right,
            ">=": left >= right}[op]  # fmt: skip


def _coerce(field_type: str, operand: Literal, field: str) -> Value:
    """The literal as the field's type; a literal of the wrong type is refused, as the org does."""
    literal_kinds = {"boolean": "boolean", "date": "date", "datetime": "datetime", "double": "number"}
    wanted = literal_kinds.get(field_type, "string")
    if operand.kind != wanted:
        raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{field}' must be of type {field_type}")
    if operand.kind == "datetime":
        return operand.value.astimezone(dt.UTC)
    return operand.value


def _like(pattern: str) -> re.Pattern[str]:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def sort_key(order: Sequence[tuple[str, bool]], resolve: Resolver) -> tuple[Any, ...]:
    """Nulls first, ascending (the SOQL default); descending keys are not used by gomme."""
    key: list[Any] = []
    for field, _descending in order:
        _, value = resolve(field)
        key.append((value is not None, value if value is not None else ""))
    return tuple(key)
