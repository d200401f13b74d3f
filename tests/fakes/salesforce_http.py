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
    kind: str  # query, query_more, composite, bulk, login
    path: str
    soql: str = ""  # the statement a query or query_more page belongs to


def result(record_id: str | None, code: str | None) -> dict[str, Any]:
    if code is None:
        return {"id": record_id, "success": True, "errors": []}
    return {"id": record_id, "success": False, "errors": [{"statusCode": code, "message": "(fake)", "fields": []}]}


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
    if "/composite/" in path:
        return "composite"
    if "/query/" in path:
        return "query" if "q=" in (urlparse(request.url).query or "") else "query_more"
    return "other"


def batch_size(request: Any) -> int:
    header = str(request.headers.get("Sforce-Query-Options", ""))
    match = re.search(r"batchSize=(\d+)", header)
    return min(2000, max(200, int(match.group(1)))) if match else 2000
