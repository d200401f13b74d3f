"""A fake HubSpot on loopback: a stateful portal (`fakes.hubspot_portal`) behind a ThreadingHTTPServer.

The real hubspot-api-client talks to it over HTTP (urllib3, which `responses` cannot intercept):
`HubSpot(access_token=TOKEN, host=fake.url)`. Besides the API it has what tests and benchmarks need:
- per-route call counts (`calls`, routes named like the connector's endpoints) and a log of requests;
- auth: a private-app token, OAuth refresh (`/oauth/v1/token`) issuing expiring tokens, 401s;
- rate limits as sliding windows (per `Limits`), answered with HubSpot's 429 body and the
  `X-HubSpot-RateLimit-*` headers (search answers carry none, the daily ones are not sent for OAuth);
- injectable faults, queued (`inject`) or at a rate (`fault_rate`): 429 bursts, 5xx, timeouts,
  connection resets, and "lost" (the request is applied, then the connection drops without answer);
- the communication-preferences v4 batch endpoints (read, write per type, unsubscribe-all), which a portal
  without them (or an app without the batch scopes: Marketing Hub Enterprise only) refuses: `v4=False` answers
  `v4_refusal` (404, or 403). `calls["prefs.batch_unsubscribe_all"]` tells whether anyone opted an address out
  of all email (gomme must not: it has no undo);
- engagements (`fakes.hubspot_engagements`): the CRM objects batch read / update / archive of notes, emails, calls,
  meetings and tasks (routes `objects.batch_read`… whatever the object; the object is in the recorded path) and the
  associations v4 batch read (`associations.batch_read`).
"""

from __future__ import annotations

import collections
import json
import random
import re
import socket
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fakes.hubspot_portal import Portal
from fakes.hubspot_search import PortalError

TOKEN = "pat-test-token"
FAULTS = ("429", "500", "502", "503", "timeout", "reset", "lost")
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/crm/v3/objects/contacts"), "contacts.list"),
    ("POST", re.compile(r"/crm/v3/objects/contacts"), "contacts.create"),
    ("POST", re.compile(r"/crm/v3/objects/contacts/search"), "contacts.search"),
    ("POST", re.compile(r"/crm/v3/objects/contacts/batch/(read|update|archive|create)"), "contacts.batch_"),
    ("POST", re.compile(r"/crm/v3/objects/contacts/gdpr-delete"), "contacts.gdpr_delete"),
    ("GET", re.compile(r"/crm/v3/objects/contacts/(\d+)"), "contacts.get"),
    ("GET", re.compile(r"/crm/v3/properties/contacts"), "properties.list"),
    ("GET", re.compile(r"/communication-preferences/v3/definitions"), "prefs.definitions"),
    ("GET", re.compile(r"/communication-preferences/v3/status/email/(.+)"), "prefs.status"),
    ("POST", re.compile(r"/communication-preferences/v3/(unsubscribe|subscribe)"), "prefs."),
    ("POST", re.compile(r"/communication-preferences/v4/statuses/batch/read"), "prefs.batch_read"),
    ("POST", re.compile(r"/communication-preferences/v4/statuses/batch/write"), "prefs.batch_write"),
    (
        "POST",
        re.compile(r"/communication-preferences/v4/statuses/batch/unsubscribe-all"),
        "prefs.batch_unsubscribe_all",
    ),
    ("POST", re.compile(r"/oauth/v1/token"), "oauth.token"),
    # After the contacts' own batch routes, which would match too.
    ("POST", re.compile(r"/crm/v3/objects/(?P<kind>[a-z0-9_-]+)/batch/(?P<op>read|update|archive)"), "objects.batch_"),
    (
        "POST",
        re.compile(r"/crm/v4/associations/(?P<from_type>[a-z0-9_-]+)/(?P<to_type>[a-z0-9_-]+)/batch/read"),
        "associations.batch_read",
    ),
]


@dataclass(frozen=True, slots=True)
class Limits:
    """The account's limits; tests shrink the windows to force bursts without waiting seconds."""

    per_window: int = 100
    window_seconds: float = 10.0
    daily: int = 250_000
    search_per_window: int = 4
    search_window_seconds: float = 1.0


# No limit that a test would hit, in windows short enough that none waits: for tests not about limits.
UNLIMITED = Limits(per_window=1_000_000, window_seconds=0.05, search_per_window=1_000_000, search_window_seconds=0.05)


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    route: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class _Fault:
    kind: str
    route: str | None
    times: int


@dataclass
class FakeHubSpot:
    portal: Portal = field(default_factory=Portal)
    limits: Limits = field(default_factory=Limits)
    timeout_delay: float = 1.0
    seed: int = 0
    v4: bool = True  # the communication-preferences v4 batch endpoints exist (else `v4_refusal` answers)
    v4_refusal: int = 404
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    rate_limited: collections.Counter[str] = field(default_factory=collections.Counter)
    faults_done: collections.Counter[str] = field(default_factory=collections.Counter)
    requests: collections.deque[Recorded] = field(default_factory=lambda: collections.deque(maxlen=20_000))
    connections: int = 0  # TCP connections accepted: a pooling client opens few

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)  # fault injection, not secrets
        self._queued: list[_Fault] = []
        self._rates: list[tuple[str, float, str | None]] = []
        self._windows: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._daily_used = 0
        self._tokens: dict[str, float | None] = {TOKEN: None}  # token → expiry (monotonic), None = never
        self._oauth_tokens: set[str] = set()
        self._clients: dict[str, tuple[str, str, float]] = {}  # client id → (secret, refresh token, lifetime)
        self._issued = 0
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeHubSpot:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server = self._server
        threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.02), name="fake-hubspot", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHubSpot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- test controls ---------------------------------------------------------------------------------------

    def inject(self, kind: str, *, route: str | None = None, times: int = 1) -> None:
        """The next `times` requests (to `route`, or any) get fault `kind` (one of FAULTS)."""
        assert kind in FAULTS, kind
        with self._lock:
            self._queued.append(_Fault(kind, route, times))

    def fault_rate(self, kind: str, rate: float, *, route: str | None = None) -> None:
        """Each request (to `route`, or any) gets fault `kind` with probability `rate` (seeded)."""
        assert kind in FAULTS, kind
        with self._lock:
            self._rates.append((kind, rate, route))

    def clear_faults(self) -> None:
        with self._lock:
            self._queued.clear()
            self._rates.clear()

    def oauth_client(self, client_id: str, secret: str, refresh_token: str, *, lifetime: float = 1800.0) -> None:
        self._clients[client_id] = (secret, refresh_token, lifetime)

    def expire_tokens(self) -> None:
        """Every OAuth access token issued so far expires now."""
        with self._lock:
            for token in self._oauth_tokens:
                self._tokens[token] = 0.0

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.rate_limited.clear()
            self.faults_done.clear()
            self.requests.clear()

    def recorded(self, route: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.route == route]

    # -- request pipeline (called by the handler threads) -----------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[str, Any]:
        """→ ("reply", (status, headers, body)) | ("drop", None) | ("lost", reply) | ("timeout", None)."""
        parts = urlsplit(path)
        route, match = _route(method, parts.path)
        query = parse_qs(parts.query)
        body = _decode(raw, headers.get("content-type", ""))
        with self._lock:
            self.calls[route] += 1
            self.requests.append(Recorded(method, route, parts.path, query, body))
            fault = self._fault(route)
        if fault in ("429", "500", "502", "503"):
            return "reply", self._fault_reply(fault)
        if fault in ("reset", "timeout"):
            return ("drop" if fault == "reset" else "timeout"), None
        reply = self._serve(route, match, query, body, headers)
        return ("lost", reply) if fault == "lost" else ("reply", reply)

    def _fault(self, route: str) -> str | None:
        for queued in self._queued:
            if queued.times > 0 and queued.route in (None, route):
                queued.times -= 1
                self.faults_done[queued.kind] += 1
                return queued.kind
        for kind, rate, only in self._rates:
            if only in (None, route) and self._random.random() < rate:
                self.faults_done[kind] += 1
                return kind
        return None

    def _fault_reply(self, kind: str) -> tuple[int, dict[str, str], Any]:
        if kind == "429":
            limit_headers = self._limit_headers(remaining=0, oauth=False)
            return 429, limit_headers, _rate_limit_body("TEN_SECONDLY_ROLLING")
        return int(kind), {}, {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"}

    def _serve(
        self, route: str, match: re.Match[str] | None, query: dict[str, list[str]], body: Any, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        if route == "oauth.token":
            return self._token(body)
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        with self._lock:
            expiry = self._tokens.get(token, -1.0)
            oauth = token in self._oauth_tokens
        if expiry is not None and expiry <= time.monotonic():
            category = "EXPIRED_AUTHENTICATION" if token in self._tokens else "INVALID_AUTHENTICATION"
            return (
                401,
                {},
                {"status": "error", "message": "Authentication credentials not found.", "category": category},
            )
        limited = self._take(route)
        search = route == "contacts.search"
        if limited is not None:
            self.rate_limited[route] += 1
            extra = {} if search else self._limit_headers(0 if limited != "DAILY" else None, oauth)
            return 429, extra, _rate_limit_body(limited)
        rate_headers = {} if search else self._limit_headers(None, oauth)
        try:
            status, payload = self._dispatch(route, match, query, body)
        except PortalError as error:
            return error.status, rate_headers, error.body()
        return status, rate_headers, payload

    def _dispatch(
        self, route: str, match: re.Match[str] | None, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        portal = self.portal
        properties = [p for value in query.get("properties", []) for p in value.split(",") if p]
        if route == "contacts.list":
            limit = int(query.get("limit", ["10"])[0])
            return 200, portal.list_page(limit, query.get("after", [None])[0], properties)
        if route == "contacts.get" and match:
            return 200, portal.read_one(match.group(1), properties)
        if route == "contacts.search":
            return 200, portal.search(body)
        if route == "contacts.create":
            return 201, portal.create(body)
        if route in ("contacts.batch_read", "contacts.batch_update", "contacts.batch_create"):
            return getattr(portal, route.removeprefix("contacts."))(body)  # type: ignore[no-any-return]
        if route == "contacts.batch_archive":
            portal.batch_archive(body)
            return 204, None
        if route == "contacts.gdpr_delete":
            portal.gdpr_delete(body)
            return 204, None
        if route.startswith("objects.batch_") and match:
            kind, engagements = match.group("kind"), portal.engagements
            with portal.lock:
                if route == "objects.batch_archive":
                    engagements.batch_archive(kind, body or {})
                    return 204, None
                if route == "objects.batch_read":
                    return engagements.batch_read(kind, body or {})
                return engagements.batch_update(kind, body or {})
        if route == "associations.batch_read" and match:
            with portal.lock:
                return portal.engagements.associations(match.group("from_type"), match.group("to_type"), body or {})
        if route == "properties.list":
            return 200, portal.property_defs()
        if route == "prefs.definitions":
            return 200, portal.definitions_page()
        if route == "prefs.status" and match:
            return 200, portal.email_status(unquote(match.group(1)))
        if route in ("prefs.unsubscribe", "prefs.subscribe"):
            return 200, portal.change_status(body, "NOT_SUBSCRIBED" if route == "prefs.unsubscribe" else "SUBSCRIBED")
        if route in ("prefs.batch_read", "prefs.batch_write", "prefs.batch_unsubscribe_all"):
            if not self.v4:
                return _v4_refused(self.v4_refusal)
            channel = query.get("channel", [None])[0]
            if route == "prefs.batch_read":
                return portal.batch_statuses(body, channel)
            if route == "prefs.batch_write":
                return portal.batch_write(body)
            return portal.batch_unsubscribe_all(body, channel)
        return 404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}

    def _token(self, form: Any) -> tuple[int, dict[str, str], Any]:
        form = form if isinstance(form, dict) else {}
        client = self._clients.get(str(form.get("client_id")))
        valid = (
            form.get("grant_type") == "refresh_token" and client is not None
            and form.get("client_secret") == client[0] and form.get("refresh_token") == client[1]
        )  # fmt: skip
        if not valid or client is None:
            return 400, {}, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}
        with self._lock:
            self._issued += 1
            token = f"oauth-access-{self._issued}"
            self._tokens[token] = time.monotonic() + client[2]
            self._oauth_tokens.add(token)
        return (
            200,
            {},
            {"access_token": token, "refresh_token": client[1], "expires_in": int(client[2]), "token_type": "bearer"},
        )

    def _take(self, route: str) -> str | None:
        """Counts the call in its windows, or names the policy it would exceed (then it is not counted)."""
        now = time.monotonic()
        limits = self.limits
        if route == "contacts.search":
            policies = [("SECONDLY", limits.search_per_window, limits.search_window_seconds)]
        else:
            policies = [("TEN_SECONDLY_ROLLING", limits.per_window, limits.window_seconds)]
        with self._lock:
            if self._daily_used >= limits.daily:
                return "DAILY"
            for name, limit, seconds in policies:
                window = self._windows[name]
                while window and window[0] <= now - seconds:
                    window.popleft()
                if len(window) >= limit:
                    return name
            for name, _, _ in policies:
                self._windows[name].append(now)
            self._daily_used += 1
        return None

    def _limit_headers(self, remaining: int | None, oauth: bool) -> dict[str, str]:
        limits = self.limits
        with self._lock:
            window = self._windows["TEN_SECONDLY_ROLLING"]
            left = max(0, limits.per_window - len(window)) if remaining is None else remaining
            daily_left = max(0, limits.daily - self._daily_used)
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(limits.window_seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(limits.per_window),
            "X-HubSpot-RateLimit-Remaining": str(left),
        }
        if not oauth:
            headers |= {
                "X-HubSpot-RateLimit-Daily": str(limits.daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(daily_left),
            }
        return headers


class _Handler(BaseHTTPRequestHandler):
    owner: FakeHubSpot
    protocol_version = "HTTP/1.1"  # keep-alive, as HubSpot: the client's pool reuses connections
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall per POST
    timeout = 30

    def setup(self) -> None:
        super().setup()
        with self.owner._lock:
            self.owner.connections += 1

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def do_DELETE(self) -> None:
        self._respond("DELETE")

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        outcome, reply = self.owner.handle(method, self.path, headers, raw)
        if outcome == "timeout":
            time.sleep(self.owner.timeout_delay)
        if outcome in ("drop", "timeout", "lost"):
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, extra, body = reply
        data = b"" if body is None else json.dumps(body).encode()
        try:
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            if status != 204:
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if status != 204:
                self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (its timeout): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _route(method: str, path: str) -> tuple[str, re.Match[str] | None]:
    for verb, pattern, name in _ROUTES:
        match = pattern.fullmatch(path)
        if verb == method and match:
            suffix = match.groupdict().get("op") or match.group(1) if name.endswith(("_", ".")) else ""
            return name + suffix, match
    return f"unknown {method} {path}", None


def _decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "x-www-form-urlencoded" in content_type:
        return {key: values[0] for key, values in parse_qs(raw.decode()).items()}
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _v4_refused(status: int) -> tuple[int, dict[str, Any]]:
    if status == 403:
        return 403, {
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call.",
            "correlationId": "00000000-0000-4000-8000-000000000000",
            "category": "MISSING_SCOPES",
            "errors": [{"message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": ["subscription-status-batch-read"]}}],
        }  # fmt: skip
    return status, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}


def _rate_limit_body(policy: str) -> dict[str, Any]:
    message = "You have reached your daily limit." if policy == "DAILY" else "You have reached your secondly limit."
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": "0",
        "policyName": policy,
        "requestId": "0",
    }
