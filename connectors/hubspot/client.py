"""The one HubSpot client of a connector: auth, rate limiting, retries and error classification.

Every call goes through the generated hubspot-api-client APIs (which build the URL, auth header and
JSON body) over one shared urllib3 pool. Bodies are passed as JSON-ready dicts, which the generated
client serialises as they are, and responses are read raw (`_preload_content=False`): building the
generated models costs ~7 ms per page of 100 contacts, and the raw response keeps the
`X-HubSpot-RateLimit-*` headers the limiter reads. urllib3's own retries are off: tenacity retries
every call, POSTs included (batch update/archive, gdpr-delete and unsubscribe are safe to repeat).
The communication-preferences v4 batch endpoints (read, write), which the library does not wrap, go through the v3
package's ApiClient (`Apis.post_v4`): same pool, token, user agent, errors and raw responses. Engagements go through
the library's generic CRM objects batch API (`crm.objects.batch_api`, any object type) and the associations v4 batch
read (`crm.associations.v4.batch_api.get_page`).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import version
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import hubspot.communication_preferences
import hubspot.crm.associations.v4
import hubspot.crm.contacts
import hubspot.crm.objects
import hubspot.crm.properties
import hubspot.oauth
import structlog
import urllib3
from hubspot import HubSpot
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from urllib3.util.retry import Retry

from gomme.connectors.errors import FatalError, RetryableError
from gomme.connectors.hubspot.limiter import LimitExhausted, RateLimiter
from gomme.connectors.hubspot.settings import HubSpotSettings
from gomme.connectors.settings import secret_from_env

log = structlog.get_logger(__name__)

# Each generated sub-package has its own ApiException class; these are the ones the connector calls into.
_API_ERRORS: tuple[type[Exception], ...] = (
    hubspot.crm.contacts.ApiException,
    hubspot.crm.properties.ApiException,
    hubspot.crm.objects.ApiException,
    hubspot.crm.associations.v4.ApiException,
    hubspot.communication_preferences.ApiException,
    hubspot.oauth.ApiException,
)
_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
_REFRESH_MARGIN = dt.timedelta(seconds=60)  # refresh an OAuth token this long before it expires


class Endpoint(StrEnum):
    LIST = "contacts.list"
    SEARCH = "contacts.search"
    BATCH_READ = "contacts.batch_read"
    BATCH_UPDATE = "contacts.batch_update"
    BATCH_ARCHIVE = "contacts.batch_archive"
    GDPR_DELETE = "contacts.gdpr_delete"
    PROPERTIES = "properties.list"
    DEFINITIONS = "prefs.definitions"
    STATUS = "prefs.status"
    UNSUBSCRIBE = "prefs.unsubscribe"
    STATUS_BATCH = "prefs.batch_read"  # v4
    STATUS_WRITE_BATCH = "prefs.batch_write"  # v4, per (address, type); never "unsubscribe from all"
    OAUTH = "oauth.token"
    ASSOCIATIONS = "associations.batch_read"  # v4, any pair of object types
    OBJECTS_READ = "objects.batch_read"  # engagements (notes, emails, calls, meetings, tasks)
    OBJECTS_UPDATE = "objects.batch_update"
    OBJECTS_ARCHIVE = "objects.batch_archive"


# Endpoints a portal or token may lack (v4 batch: Marketing Hub Enterprise scopes; engagements: an object's scope,
# e.g. sales-email-read for emails): a 403 is the caller's to handle.
_OPTIONAL: frozenset[Endpoint] = frozenset({
    Endpoint.STATUS_BATCH, Endpoint.STATUS_WRITE_BATCH, Endpoint.ASSOCIATIONS, Endpoint.OBJECTS_READ,
    Endpoint.OBJECTS_UPDATE, Endpoint.OBJECTS_ARCHIVE,
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


class HubSpotApiError(FatalError):
    """A 4xx answer the caller may handle (404, 400, 409); fatal if nobody does. Carries codes, never text."""

    def __init__(
        self, endpoint: Endpoint, status: int, category: str | None, ids: tuple[str, ...] = (), named: str = ""
    ) -> None:
        super().__init__(f"HubSpot {endpoint} answered {status} {category or ''}".rstrip())
        self.status = status
        self.category = category
        self.ids = ids
        self.named = named  # properties and error codes its message names, e.g. "lifecyclestage INVALID_OPTION"

    @property
    def code(self) -> str:
        return self.category or f"HTTP_{self.status}"


class _Unauthorized(Exception):
    """401: the access token is invalid or expired."""


@dataclass(slots=True)
class CallStats:
    """What the connector asked of HubSpot: calls per endpoint (attempts), 429s received, retries."""

    calls: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # HTTP status, or "network" when none came back
    rate_limited: int = 0
    retries: int = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())


Invoke = Callable[["Apis", dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Apis:
    """The generated APIs the connector uses, built once per access token over the shared pool."""

    basic: Any
    batch: Any
    search: Any
    properties: Any
    definitions: Any
    status: Any
    tokens: Any
    objects: Any  # crm.objects batch API: read / update / archive of any object type
    associations: Any  # crm.associations.v4 batch API

    def post_v4(
        self, path: str, body: Mapping[str, Any], query: Sequence[tuple[str, str]], options: Mapping[str, Any]
    ) -> Any:
        """POST to a communication-preferences v4 path (not in hubspot-api-client 12) through the v3 API's client."""
        return self.status.api_client.call_api(
            path,
            "POST",
            query_params=list(query),
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=body,
            response_types_map={},
            auth_settings=["oauth2"],
            **options,
        )


class Transport:
    """Calls HubSpot: limiter first, then the call, then classification; retries RetryableError with tenacity."""

    def __init__(
        self,
        name: str,
        settings: HubSpotSettings,
        limiter: RateLimiter,
        *,
        env: Mapping[str, str] = os.environ,
        sleep: Callable[[float], None],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.name = name
        self.settings = settings
        self.stats = CallStats()
        self._limiter = limiter
        self._sleep = sleep
        self._clock = clock
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=4, retries=Retry(total=False))
        self._user_agent = f"gomme (hubspot-api-client-python; {version('hubspot-api-client')})"
        if settings.oauth:
            assert settings.client_id and settings.client_secret_env and settings.refresh_token_env  # validated
            self._client_id = settings.client_id
            self._client_secret = secret_from_env(name, "client_secret_env", settings.client_secret_env, env)
            self._refresh_token = secret_from_env(name, "refresh_token_env", settings.refresh_token_env, env)
            token = None
        else:
            assert settings.access_token_env  # validated: one auth method
            token = secret_from_env(name, "access_token_env", settings.access_token_env, env)
        self._expires_at: dt.datetime | None = None
        self._client = HubSpot(access_token=token, host=settings.host, retry=Retry(total=False), api_factory=self._api)
        self._apis = self._build() if token else None

    def close(self) -> None:
        self._pool.clear()

    def call(self, endpoint: Endpoint, invoke: Invoke) -> Response:
        """One logical call: retried on RetryableError; on 401 an OAuth token is refreshed once and it repeats."""
        try:
            return self._retrying(endpoint, invoke)
        except _Unauthorized:
            if not self.settings.oauth:
                raise FatalError(f"connectors.{self.name}: HubSpot rejected the access token (401)") from None
        self._refresh()
        try:
            return self._retrying(endpoint, invoke)
        except _Unauthorized:
            raise FatalError(f"connectors.{self.name}: HubSpot rejected a freshly refreshed token (401)") from None

    def _retrying(self, endpoint: Endpoint, invoke: Invoke) -> Response:
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        response: Response = retrying(self._attempt, endpoint, invoke)
        return response

    def _wait(self, state: RetryCallState) -> float:
        backoff = self.settings.backoff_seconds
        base = (wait_exponential(multiplier=backoff, max=self.settings.backoff_max_seconds) + wait_random(0, backoff))(
            state
        )
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, RetryableError) else None
        return max(base, retry_after or 0.0)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.info("hubspot_retry", connector=self.name, attempt=state.attempt_number, error=str(error))

    def _attempt(self, endpoint: Endpoint, invoke: Invoke) -> Response:
        if endpoint is not Endpoint.OAUTH:
            self._ensure_token()
        try:
            self._limiter.acquire(search=endpoint is Endpoint.SEARCH)
        except LimitExhausted as exc:
            raise FatalError(f"connectors.{self.name}: {exc}; stopping before the account's limit") from None
        self.stats.calls[endpoint] += 1
        options: dict[str, Any] = {"_preload_content": False, "_request_timeout": self.settings.timeout_seconds}
        assert self._apis is not None
        try:
            raw = invoke(self._apis, options)
            data = raw.data  # reading it all returns the connection to the pool
        except _API_ERRORS as exc:
            headers: Mapping[str, str] = getattr(exc, "headers", None) or {}
            self._limiter.observe(headers)
            status = int(getattr(exc, "status", 0) or 0)
            self.stats.statuses[str(status) if status else "network"] += 1
            raise self._classify(endpoint, status, getattr(exc, "body", None), headers) from None
        except _NETWORK_ERRORS as exc:
            self.stats.statuses["network"] += 1
            # The exception text can hold the URL (an email, for preference calls): only its type is kept.
            raise RetryableError(
                f"connectors.{self.name}: cannot reach {self._where()} for {endpoint} ({type(exc).__name__}); check "
                f"connectors.{self.name}.base_url and that this machine can reach it (DNS, proxy, firewall)"
            ) from None
        self.stats.statuses[str(raw.status)] += 1
        self._limiter.observe(raw.headers)
        return Response(raw.status, json.loads(data) if data else None, raw.headers)

    def _where(self) -> str:
        url = urlparse(self.settings.host)
        host = url.hostname or self.settings.host
        return f"{host}:{url.port}" if url.port not in (None, 443) else host

    def _classify(self, endpoint: Endpoint, status: int, body: Any, headers: Mapping[str, str]) -> Exception:
        error = _json(body)
        category = error.get("category") or error.get("errorType")
        if status == 401:
            return _Unauthorized()
        if status == 429:
            self.stats.rate_limited += 1
            policy = str(error.get("policyName") or "")
            if policy == "DAILY":
                return FatalError(
                    f"connectors.{self.name}: HubSpot's daily API limit is reached (429 DAILY); pending changes "
                    "resume on the next run"
                )
            label = f"429 {policy}" if policy else "429"
            return RetryableError(
                f"HubSpot {endpoint}: rate limited ({label})", retry_after=_retry_after(headers, endpoint)
            )
        if status >= 500:
            return RetryableError(
                f"HubSpot {endpoint}: server error {status}", retry_after=_header_float(headers, "Retry-After")
            )
        if status == 403 and endpoint not in _OPTIONAL:
            return FatalError(
                f"connectors.{self.name}: HubSpot refused {endpoint} (403); the token lacks a scope "
                "(crm.objects.contacts.read/write, communication_preferences.read_write, crm.schemas.contacts.read)"
            )
        if status == 0:
            return FatalError(f"connectors.{self.name}: TLS error talking to {self.settings.host}")
        context = error.get("context") or {}
        ids = tuple(str(i) for i in context.get("ids") or ()) if isinstance(context, dict) else ()
        return HubSpotApiError(endpoint, status, str(category) if category else None, ids, _named(error))

    # -- auth ------------------------------------------------------------------------------------------------

    def _ensure_token(self) -> None:
        if not self.settings.oauth:
            return
        if self._apis is None or (self._expires_at is not None and self._clock() >= self._expires_at):
            self._refresh()

    def _refresh(self) -> None:
        """OAuth refresh-token grant (`POST /oauth/v1/token`); the new token replaces the old in every API."""

        def grant(apis: Apis, options: dict[str, Any]) -> Any:
            return apis.tokens.create(
                grant_type="refresh_token",
                refresh_token=self._refresh_token,
                client_id=self._client_id,
                client_secret=self._client_secret,
                **options,
            )

        if self._apis is None:
            self._apis = self._build()  # the token API needs no access token
        try:
            body = self._retrying(Endpoint.OAUTH, grant).body
        except (HubSpotApiError, _Unauthorized):
            raise FatalError(f"connectors.{self.name}: HubSpot refused the OAuth refresh token") from None
        self._client.access_token = body["access_token"]
        self._refresh_token = body.get("refresh_token") or self._refresh_token
        expires_in = float(body.get("expires_in") or 1800)
        self._expires_at = self._clock() + dt.timedelta(seconds=expires_in) - _REFRESH_MARGIN
        self._apis = self._build()
        log.info("hubspot_token_refreshed", connector=self.name, expires_in=int(expires_in))

    def _build(self) -> Apis:
        client = self._client
        return Apis(
            basic=client.crm.contacts.basic_api,
            batch=client.crm.contacts.batch_api,
            search=client.crm.contacts.search_api,
            properties=client.crm.properties.core_api,
            definitions=client.communication_preferences.definition_api,
            status=client.communication_preferences.status_api,
            tokens=client.oauth.tokens_api,
            objects=client.crm.objects.batch_api,
            associations=client.crm.associations.v4.batch_api,
        )

    def _api(self, package: ModuleType, api_name: str, config: Mapping[str, Any]) -> Any:
        """The library's api_factory hook: its default, plus one shared connection pool for every API."""
        configuration = package.Configuration()
        for key, value in config.items():
            if key == "retry":
                configuration.retries = value
            elif key != "api_key":
                setattr(configuration, key, value)
        api_client = package.ApiClient(configuration=configuration)
        api_client.user_agent = self._user_agent
        api_client.rest_client.pool_manager = self._pool
        return getattr(package, api_name)(api_client=api_client)


def _json(body: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if isinstance(body, str | bytes) and body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _retry_after(headers: Mapping[str, str], endpoint: Endpoint) -> float:
    """429s rarely carry Retry-After: with the window used up, wait for it to roll; search allows per second."""
    explicit = _header_float(headers, "Retry-After")
    if explicit is not None:
        return explicit
    interval = _header_float(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval is not None and _header_float(headers, "X-HubSpot-RateLimit-Remaining") in (0.0, None):
        return interval / 1000.0
    return 1.0 if endpoint is Endpoint.SEARCH else 0.0


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


# HubSpot's validation message embeds JSON naming each bad property and its error ("Property values were not
# valid: [{...,"error":"INVALID_OPTION","name":"lifecyclestage"}]"): only those identifiers are kept, never the
# message, which can quote the value.
_NAMED = re.compile(r'\\?"error\\?"\s*:\s*\\?"([A-Z_]{2,64})\\?"|\\?"name\\?"\s*:\s*\\?"([a-z0-9_]{1,100})\\?"')


def _named(error: Mapping[str, Any]) -> str:
    """`property ERROR_CODE` pairs from a HubSpot error body, in order; empty when it names none."""
    codes: list[str] = []
    names: list[str] = []
    for code, name in _NAMED.findall(str(error.get("message") or "")):
        (codes if code else names).append(code or name)
    pairs = [f"{name} {code}" for name, code in zip(names, codes, strict=False)] or names
    return ", ".join(dict.fromkeys(pairs))
