"""The fake org's wire: injectable faults, the call log, and the shapes of Salesforce's HTTP answers."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

Response = tuple[int, dict[str, str], str]


@dataclass
class Faults:
    """What goes wrong, and how often. Rates draw from `random.Random(seed)`."""

    seed: int = 0
    unavailable_next: int = 0  # the next N API calls answer 503
    unavailable_rate: float = 0.0
    reset_next: int = 0  # the next N API calls lose their connection
    reset_rate: float = 0.0
    request_limit_next: int = 0  # the next N API calls answer 403 REQUEST_LIMIT_EXCEEDED
    lock_rate: float = 0.0  # each record written fails with UNABLE_TO_LOCK_ROW at this rate
    locked: dict[str, int] = field(default_factory=dict)  # record id → how many writes of it are locked out
    rejected: dict[str, str] = field(default_factory=dict)  # record id → error code of every write (validation)
    expire_session_after: int | None = None  # the session expires after this many more API calls
    sessions_expire: bool = False  # every session is refused, even a fresh one
    expire_rate: float = 0.0  # each call on a session already in use finds it expired (tokens cleared) at this rate
    expired: int = 0  # sessions expired so far by expire_rate
    served: set[str] = field(default_factory=set)  # tokens that have answered a call (a session in use)
    lost_next: int = 0  # the next N API calls are carried out, then their connection drops before the answer
    lost_rate: float = 0.0
    lost_only: str = ""  # a regex on "METHOD path": only the calls it matches lose their answer
    lost: int = 0  # answers lost so far
    timeout_next: int = 0  # the next N API calls are carried out too slowly: the client's read times out
    timeout_rate: float = 0.0
    timed_out: list[str] = field(default_factory=list)  # "METHOD path" of each call that timed out
    retry_after: str | None = None  # Retry-After header of the 503s

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def draw(self, rate: float) -> bool:
        return rate > 0 and self.random.random() < rate

    def time_out(self, method: str, path: str) -> bool:
        """Whether this call, carried out, answers after the client's read timeout."""
        if self.timeout_next > 0 or self.draw(self.timeout_rate):
            self.timeout_next = max(0, self.timeout_next - 1)
            self.timed_out.append(f"{method} {path}")
            return True
        return False

    def lose(self, method: str, path: str) -> bool:
        """Whether this call, already carried out, loses its answer."""
        if self.lost_only and not re.search(self.lost_only, f"{method} {path}"):
            return False
        if self.lost_next > 0 or self.draw(self.lost_rate):
            self.lost_next = max(0, self.lost_next - 1)
            self.lost += 1
            return True
        return False


@dataclass(frozen=True)
class Call:
    method: str
    kind: str  # query, query_more, composite, bulk, describe, login
    path: str
    soql: str = ""  # the statement a query or query_more page belongs to


class Failure(str):
    """A per-record error code (compares equal to the bare code) with the `message` and `fields` Salesforce sends."""

    message: str
    fields: tuple[str, ...]

    def __new__(cls, code: str, message: str = "", fields: tuple[str, ...] | list[str] = ()) -> Failure:
        made = super().__new__(cls, code)
        made.message, made.fields = message or MESSAGES.get(code, "(fake)"), tuple(fields)
        return made


# Messages of the per-record codes that carry no detail. ENTITY_IS_DELETED and INSUFFICIENT_ACCESS_OR_READONLY
# are quoted from errors seen in the wild (github.com/SFDO-Community/declarative-lookup-rollup-summaries/issues/317,
# help.salesforce.com article 005305352); the others are unverified wording.
MESSAGES = {
    "ENTITY_IS_DELETED": "entity is deleted",
    "INSUFFICIENT_ACCESS_OR_READONLY": "insufficient access rights on object id",
    "INVALID_CROSS_REFERENCE_KEY": "invalid cross reference id",
    "INVALID_ID_FIELD": "invalid record id",
    "UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record",
}


def result(record_id: str | None, code: str | None) -> dict[str, Any]:
    """One SaveResult of sObject Collections: `errors` items carry statusCode, message and fields."""
    if code is None:
        return {"id": record_id, "success": True, "errors": []}
    failure = code if isinstance(code, Failure) else Failure(code)
    error = {"statusCode": str(failure), "message": failure.message, "fields": list(failure.fields)}
    return {"id": record_id, "success": False, "errors": [error]}


def bulk_error(code: str) -> str:
    """The `sf__Error` cell of a Bulk API failedResults row: `CODE:message:fields --` (fields joined by `;`,
    the separator for several fields is unverified)."""
    failure = code if isinstance(code, Failure) else Failure(code)
    fields = ";".join(failure.fields)
    return f"{failure}:{failure.message}:{fields + ' ' if fields else ''}--"


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps([{"errorCode": code, "message": message}]),
    )


def answer(status: int, body: Any) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def kind_of(request: Any) -> str:
    path = urlparse(request.url).path
    if "/jobs/ingest" in path:
        return "bulk"
    if "/jobs/query" in path:
        return "bulk_query"
    if "/composite/" in path:
        return "composite"
    if "/query/" in path:
        return "query" if "q=" in (urlparse(request.url).query or "") else "query_more"
    if re.search(r"/sobjects/[^/]+/describe/?$", path):
        return "describe"
    return "other"


def batch_size(request: Any) -> int:
    header = str(request.headers.get("Sforce-Query-Options", ""))
    match = re.search(r"batchSize=(\d+)", header)
    return min(2000, max(200, int(match.group(1)))) if match else 2000
