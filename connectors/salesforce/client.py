"""The Salesforce transport: login, one pooled HTTP session, limits, retries and error classification.

Every request goes through `MeteredSession.send`, the one place that counts calls, waits for the rate
limiter, refuses to eat into the allowance reserve and reads `Sforce-Limit-Info`. Every logical call
goes through `SalesforceClient.call`: tenacity retries RetryableError only, and an expired session is
renewed once (when gomme holds credentials) before the call is repeated.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import requests
import structlog
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError, SalesforceResourceNotFound
from simple_salesforce.login import SalesforceLogin
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from gomme.connectors.errors import ConnectorError, FatalError, RetryableError
from gomme.connectors.salesforce.limits import ApiBudget, RateLimiter
from gomme.connectors.salesforce.settings import SalesforceSettings
from gomme.connectors.settings import secret_from_env

log = structlog.get_logger(__name__)
T = TypeVar("T")
Login = Callable[[requests.Session], tuple[str, str]]

_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})
_USER_ID = re.compile(r"005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")  # a User id: key prefix 005, 15 or 18 characters
_MAPPING_CODES = frozenset({"INVALID_FIELD", "INVALID_TYPE", "MALFORMED_QUERY", "INVALID_QUERY_FILTER_OPERATOR"})


class RequestLimited(RetryableError):
    """REQUEST_LIMIT_EXCEEDED: retried only after a long pause, and only a few times."""


class SessionExpired(ConnectorError):
    """INVALID_SESSION_ID: renew the session once, then repeat the call."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to open a session: an existing token, or a login gomme may repeat when the session expires."""

    token: tuple[str, str] | None = None  # (access token, instance host)
    login: Login | None = None


def credentials(
    name: str, settings: SalesforceSettings, *, base_dir: Path, env: Mapping[str, str] = os.environ
) -> Credentials:
    """Reads the secrets the configuration names (FatalError naming the variable when one is missing)."""
    version, domain = settings.api_version, settings.domain
    if settings.access_token_env:
        token = secret_from_env(name, "access_token_env", settings.access_token_env, env)
        url = urlparse(str(settings.instance_url))
        host = url.hostname or ""
        return Credentials(token=(token, host if url.port in (None, 443) else f"{host}:{url.port}"))
    if settings.password_env and settings.security_token_env:
        password = secret_from_env(name, "password_env", settings.password_env, env)
        security_token = secret_from_env(name, "security_token_env", settings.security_token_env, env)
        username = settings.username

        def password_login(session: requests.Session) -> tuple[str, str]:
            return SalesforceLogin(
                username=username,
                password=password,
                security_token=security_token,
                sf_version=version,
                domain=domain,
                session=session,
            )

        return Credentials(login=password_login)
    if settings.client_secret_env:
        secret = secret_from_env(name, "client_secret_env", settings.client_secret_env, env)
        client_id = settings.client_id

        def client_credentials_login(session: requests.Session) -> tuple[str, str]:
            return SalesforceLogin(consumer_key=client_id, consumer_secret=secret, domain=domain, session=session)

        return Credentials(login=client_credentials_login)
    assert settings.private_key_file is not None  # the settings allow exactly these four modes
    key_file = settings.private_key_file.expanduser()
    key_file = key_file if key_file.is_absolute() else base_dir / key_file
    if not key_file.is_file():
        raise FatalError(f"connectors.{name}.private_key_file: no such file: {key_file}")
    username, consumer_key = settings.username, settings.consumer_key

    def jwt_login(session: requests.Session) -> tuple[str, str]:
        return SalesforceLogin(
            username=username, consumer_key=consumer_key, privatekey_file=str(key_file), domain=domain, session=session
        )

    return Credentials(login=jwt_login)


class MeteredSession(requests.Session):
    """A pooled session that counts calls, rate-limits, keeps the reserve and never waits forever."""

    def __init__(self, budget: ApiBudget, limiter: RateLimiter, timeout: float) -> None:
        super().__init__()
        self.budget, self.limiter, self.timeout = budget, limiter, timeout
        self.calls = 0
        self.statuses: Counter[str] = Counter()  # HTTP status, or the error class of a call that got none
        self.retry_after: float | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.budget.ensure(1)
        self.limiter.acquire()
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        self.calls += 1
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException as exc:
            self.statuses[type(exc).__name__] += 1
            raise
        self.statuses[str(response.status_code)] += 1
        self.budget.observe(response.headers.get("Sforce-Limit-Info"))
        self.retry_after = _seconds(response.headers.get("Retry-After"))
        return response


class SalesforceClient:
    """One connector's authenticated access to one org; `call` wraps every API call."""

    def __init__(
        self,
        name: str,
        settings: SalesforceSettings,
        creds: Credentials,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.settings, self._creds = name, settings, creds
        self.budget = ApiBudget(name, settings.reserve_percent)
        self.session = MeteredSession(
            self.budget, RateLimiter(settings.requests_per_second, clock=clock, sleep=sleep), settings.timeout_seconds
        )
        self.sleep = sleep
        self._sf: Salesforce | None = None
        self._user_id: str | None = None

    @property
    def calls(self) -> int:
        return self.session.calls

    def close(self) -> None:
        self.session.close()

    def retrying(self) -> Retrying:
        """The retry policy of `call` (RetryableError only, backoff and attempts as configured), for a caller that
        must do something before each new attempt, such as look for what a lost answer had created."""
        return Retrying(
            retry=retry_if_exception_type(RetryableError), wait=self._wait, stop=self._stop,
            sleep=self.sleep, reraise=True,
        )  # fmt: skip

    def call(self, what: str, operation: Callable[[Salesforce], T], *, retry: bool = True) -> T:
        """Run one API call with retries (transient errors) and one session renewal (expired session).

        `retry=False`: a transient error is raised to the caller instead, for a call that is not safe to repeat
        as is (a create whose answer may be lost after Salesforce committed it)."""
        if not retry:
            return self._renewing(what, operation)
        for attempt in self.retrying():
            with attempt:
                return self._renewing(what, operation)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    def _renewing(self, what: str, operation: Callable[[Salesforce], T]) -> T:
        try:
            return self._once(what, operation)
        except SessionExpired:
            if self._creds.login is None:
                raise FatalError(
                    f"connectors.{self.name}: Salesforce rejected the access token (INVALID_SESSION_ID); it expired "
                    "or was revoked. Put a fresh token in the environment variable, or configure a login."
                ) from None
            log.info("salesforce_session_renewed", connector=self.name)
            self._sf = None
            try:
                return self._once(what, operation)
            except SessionExpired:
                raise FatalError(f"connectors.{self.name}: Salesforce rejected a freshly opened session") from None

    def _once(self, what: str, operation: Callable[[Salesforce], T]) -> T:
        try:
            return operation(self._connection())
        except ConnectorError:
            raise
        except (SalesforceError, requests.RequestException) as exc:
            raise self._classify(exc, what) from None

    def _connection(self) -> Salesforce:
        if self._sf is None:
            token = self._creds.token
            if token is None:
                assert self._creds.login is not None
                token = self._creds.login(self.session)
            self._sf = Salesforce(
                session_id=token[0], instance=token[1], session=self.session, version=self.settings.api_version,
                object_pairs_hook=dict,  # plain dicts: lighter than the default OrderedDict for 2,000-row pages
            )  # fmt: skip
        return self._sf

    def _classify(self, exc: Exception, what: str) -> ConnectorError:
        """What the caller should do about an error; messages carry codes, never response text (it may hold PII)."""
        if isinstance(exc, SalesforceAuthenticationFailed):
            return FatalError(f"connectors.{self.name}: Salesforce login failed ({exc.code}); check the credentials")
        if isinstance(exc, requests.RequestException):
            return RetryableError(
                f"connectors.{self.name}: cannot reach {self._host(exc)} during {what} ({type(exc).__name__}); "
                f"check {self._host_key()} and that this machine can reach it (DNS, proxy, firewall)"
            )
        assert isinstance(exc, SalesforceError)
        status, code = exc.status, error_code(exc.content)
        if status == 401:
            return (
                SessionExpired(code)
                if code == "INVALID_SESSION_ID"
                else FatalError(f"connectors.{self.name}: Salesforce refused the session ({code})")
            )
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            return RequestLimited(f"Salesforce API request limit exceeded during {what}", retry_after=None)
        if status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES:
            retry_after = self.session.retry_after
            return RetryableError(f"Salesforce answered {status} {code} to {what}", retry_after=retry_after)
        hint = ""
        if code in _MAPPING_CODES:
            said = safe_message(exc.content)
            hint = (f": {said}" if said else "") + (
                "; check the field mapping (fields, contact_fields, lead_fields, field_types, data_protection), "
                "or run `gomme config check --online`"
            )
        elif status == 404:
            hint = "; check instance_url and api_version"
        elif status == 403:
            hint = "; check the integration user's permissions"
        return FatalError(f"connectors.{self.name}: Salesforce refused {what} ({status} {code}){hint}")

    def _host(self, exc: requests.RequestException) -> str:
        """The host a failed request went to (never its path or query, which may hold a record's values)."""
        sent = exc.request.url if exc.request is not None else None
        url = urlparse(sent if isinstance(sent, str) and sent else str(self.settings.instance_url or ""))
        host = url.hostname or f"{self.settings.domain}.salesforce.com"
        return f"{host}:{url.port}" if url.port not in (None, 443) else host

    def _host_key(self) -> str:
        """The configuration key that decides where gomme connects."""
        key = "instance_url" if self._creds.token is not None else "domain"
        return f"connectors.{self.name}.{key}"

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        settings = self.settings
        if isinstance(error, RequestLimited):
            return float(settings.limit_backoff_seconds * 2 ** (state.attempt_number - 1))
        backoff = wait_random_exponential(multiplier=settings.backoff_seconds, max=settings.backoff_max_seconds)
        floor = error.retry_after if isinstance(error, RetryableError) and error.retry_after else 0.0
        return max(float(backoff(state)), min(floor, settings.backoff_max_seconds))

    def _stop(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        limit = self.settings.limit_attempts if isinstance(error, RequestLimited) else self.settings.max_attempts
        return state.attempt_number >= limit

    # -- the calls gomme makes ------------------------------------------------------------------------

    def pages(self, soql: str, *, all_rows: bool = False) -> Iterator[list[dict[str, Any]]]:
        """The query's records, one page at a time (`nextRecordsUrl`), `batchSize` as configured; `all_rows`:
        through queryAll (archived and recycle-bin rows too)."""
        yield from self.following(self.first_page(soql, all_rows=all_rows), all_rows=all_rows)

    def first_page(self, soql: str, *, all_rows: bool = False) -> dict[str, Any]:
        """The query's first answer as Salesforce sends it: its `totalSize` says how many rows the query holds."""
        what, headers = "queryAll" if all_rows else "query", self._paging()
        page: dict[str, Any] = self.call(what, lambda sf: sf.query(soql, include_deleted=all_rows, headers=headers))
        return page

    def following(self, page: Mapping[str, Any], *, all_rows: bool = False) -> Iterator[list[dict[str, Any]]]:
        """The records of `page` (a `first_page`), then of each page after it."""
        what, headers = "queryAll page" if all_rows else "query page", self._paging()
        while True:
            yield list(page.get("records", ()))
            following = page.get("nextRecordsUrl")
            if page.get("done", True) or not following:
                return
            page = self._more(what, str(following), headers)

    def _more(self, what: str, url: str, headers: dict[str, str]) -> dict[str, Any]:
        page: dict[str, Any] = self.call(what, lambda sf: sf.query_more(url, identifier_is_url=True, headers=headers))
        return page

    def _paging(self) -> dict[str, str]:
        return {"Sforce-Query-Options": f"batchSize={self.settings.batch_size}"}

    def describe(self, sobject: str) -> dict[str, Any] | None:
        """`GET sobjects/{sobject}/describe`; None when the org lacks the object or hides it from this user."""

        def read(sf: Salesforce) -> dict[str, Any] | None:
            try:
                result = sf.restful(f"sobjects/{sobject}/describe")
            except SalesforceResourceNotFound:
                return None
            return result if isinstance(result, dict) else None

        return self.call(f"describe of {sobject}", read)

    def count(self, soql: str) -> int:
        return int(self.call("count", lambda sf: sf.query(soql))["totalSize"])

    def save(self, method: str, records: list[dict[str, Any]], *, retry: bool = True) -> list[dict[str, Any]]:
        """sObject Collections update (PATCH) or create (POST): ≤200 records, per-record results in order.

        A create has no idempotency key: the writer sends it with `retry=False` and looks up what it created
        before trying again (docs/salesforce-orgs.md, "Idempotent creates and cleanups")."""
        body = {"allOrNone": False, "records": records}
        results = self.call(
            f"composite {method}", lambda sf: sf.restful("composite/sobjects", method=method, json=body), retry=retry
        )
        return list(results or ())

    def user_id(self) -> str:
        """The integration user's id, from the `identity` URL of Resources by Version (`GET /services/data/vXX.X/`,
        REST API guide "List Available REST Resources": `https://…/id/<org id>/<user id>`); read once."""
        if self._user_id is None:
            resources = self.call("resources by version", lambda sf: sf.restful(""))
            identity = str(resources.get("identity") or "") if isinstance(resources, Mapping) else ""
            user = identity.rstrip("/").rsplit("/", 1)[-1]
            if not _USER_ID.fullmatch(user):
                raise FatalError(f"connectors.{self.name}: Salesforce did not say which user this session is")
            self._user_id = user
        return self._user_id

    def delete(self, ids: list[str]) -> list[dict[str, Any]]:
        """sObject Collections delete: ≤200 ids, per-record results in order."""
        params = {"ids": ",".join(ids), "allOrNone": "false"}
        results = self.call("composite DELETE", lambda sf: sf.restful("composite/sobjects", params, method="DELETE"))
        return list(results or ())


def error_code(content: Any) -> str:
    """The first `errorCode` of a Salesforce error body (a JSON list), or UNKNOWN."""
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        return str(content[0].get("errorCode") or "UNKNOWN")
    if isinstance(content, Mapping):
        return str(content.get("errorCode") or content.get("error") or "UNKNOWN")
    return "UNKNOWN"


# Salesforce's own words about a schema error, which name fields and objects, never values.
_SAFE_MESSAGES = (
    (re.compile(r"No such column '([\w.]+)' on (?:entity|sobject of type) '?(\w+)"), "no field {0} on {1}"),
    (re.compile(r"sObject type '(\w+)' is not supported"), "object {0} is not available"),
    (re.compile(r"Unable to create/update fields: ([\w, .]+?)\. Please check"), "fields not writable: {0}"),
    (re.compile(r"Didn't understand relationship '(\w+)' in field path"), "no relationship {0}"),
)


def safe_message(content: Any) -> str | None:
    """The field or object Salesforce's error message names, in a fixed form (no free text, so no PII)."""
    items = content if isinstance(content, list) else [content]
    messages = [item.get("message") for item in items if isinstance(item, Mapping)]
    for message in messages:
        for pattern, form in _SAFE_MESSAGES:
            found = pattern.search(str(message or ""))
            if found:
                return form.format(*found.groups())
    return None


def _seconds(header: str | None) -> float | None:
    try:
        return float(header) if header else None
    except ValueError:
        return None
