"""A stateful in-memory Salesforce org behind `responses`: SOQL, paging, sObject Collections, Bulk 2.0, faults.

Contacts, Leads, Individuals, Accounts, ContactPointTypeConsents (and DataUsePurposes) live in dicts; the
REST endpoints gomme uses are served by callbacks on `https://<host>/services/data/vXX.X/...`, logins on
`https://<domain>.salesforce.com/services/(Soap/u|oauth2/token)`. Every API response carries
`Sforce-Limit-Info: api-usage=N/M`; `requests` lists every API call. Faults are injected through
`Faults`: bursts (`*_next`, consumed as they fire) and seeded rates, so later tests can run at 10%; a lost
answer is a call carried out in full whose connection then drops.
Usable outside pytest: `with responses.RequestsMock() as mock: org.register(mock)`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
import responses
from fakes.salesforce_bulk import BulkJobs
from fakes.salesforce_http import Call, Faults, Response, answer, batch_size, error, kind_of, result
from fakes.salesforce_schema import KEY_PREFIX, SCHEMA, Field, check_value, relationship, render
from fakes.salesforce_soql import Query, SoqlError, evaluate, parse, sort_key

URI_LIMIT = 16_384


class FakeSalesforce:
    """One org. `clock` stamps SystemModstamp on every write (default: real UTC time)."""

    def __init__(
        self,
        *,
        host: str = "fake.my.salesforce.com",
        api_version: str = "62.0",
        daily_limit: int = 5_000_000,
        used: int = 0,
        faults: Faults | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        custom_fields: dict[str, dict[str, Field]] | None = None,
        token: str = "fake-token",
    ) -> None:
        self.host, self.version = host, api_version
        self.daily_limit, self.used = daily_limit, used
        self.faults = faults or Faults()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.schema = {name: dict(fields) for name, fields in SCHEMA.items()}
        for sobject, extra in (custom_fields or {}).items():
            self.schema[sobject].update(extra)
        self.tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SCHEMA}
        self.deleted: dict[str, str] = {}  # id → object, in the recycle bin
        self.purged: set[str] = set()
        self.tokens = {token}
        self.requests: list[Call] = []
        self.queries: list[str] = []
        self.logins = 0
        self._by_party: dict[str, dict[str, None]] = {}
        self._counter = itertools.count(1)
        self._cursors: dict[str, tuple[Query, list[str], int]] = {}
        self._texts: dict[str, str] = {}  # query locator → statement
        self.bulk = BulkJobs(self)

    # -- data -----------------------------------------------------------------------------------------

    def create(self, sobject: str, **fields: Any) -> str:
        """Stores a record as is (system fields filled in); for arranging tests, no validation."""
        record_id = f"{KEY_PREFIX[sobject]}{next(self._counter):012d}AAA"
        now = self.clock()
        row = {"Id": record_id, "CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now, **fields}
        self.tables[sobject][record_id] = row
        if sobject == "ContactPointTypeConsent" and row.get("PartyId"):
            self._by_party.setdefault(row["PartyId"], {})[record_id] = None
        return record_id

    def record(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        return self.tables[sobject].get(record_id)

    def consents_of(self, individual_id: str) -> list[dict[str, Any]]:
        table = self.tables["ContactPointTypeConsent"]
        return [table[cid] for cid in self._by_party.get(individual_id, {}) if cid in table]

    def expire_session(self) -> None:
        self.tokens.clear()

    @property
    def api_calls(self) -> int:
        return sum(call.kind != "login" for call in self.requests)

    def calls_of(self, kind: str) -> int:
        return sum(call.kind == kind for call in self.requests)

    # -- writes shared by collections and bulk ----------------------------------------------------------

    def write_fault(self, record_id: str | None) -> str | None:
        if record_id and record_id in self.faults.rejected:
            return self.faults.rejected[record_id]
        if record_id and self.faults.locked.get(record_id, 0) > 0:
            self.faults.locked[record_id] -= 1
            return "UNABLE_TO_LOCK_ROW"
        return "UNABLE_TO_LOCK_ROW" if self.faults.draw(self.faults.lock_rate) else None

    def update_one(self, sobject: str, record_id: str, fields: dict[str, Any]) -> str | None:
        table = self.tables.get(sobject, {})
        if record_id not in table:
            return "ENTITY_IS_DELETED" if record_id in self.deleted or record_id in self.purged else "INVALID_ID_FIELD"
        fault = self.write_fault(record_id)
        if fault:
            return fault
        checked = {}
        for name, value in fields.items():
            stored, error = check_value(self.schema, sobject, name, value)
            if error:
                return error
            checked[name] = stored
        table[record_id].update(checked, SystemModstamp=self.clock(), LastModifiedDate=self.clock())
        return None

    def insert_one(self, sobject: str, fields: dict[str, Any]) -> tuple[str | None, str | None]:
        fault = self.write_fault(None)
        if fault:
            return None, fault
        checked = {}
        for name, value in fields.items():
            stored, error = check_value(self.schema, sobject, name, value)
            if error:
                return None, error
            checked[name] = stored
        missing = [n for n, f in self.schema[sobject].items() if f.required and checked.get(n) in (None, "")]
        return (None, "REQUIRED_FIELD_MISSING") if missing else (self.create(sobject, **checked), None)

    def delete_one(self, record_id: str, *, hard: bool = False) -> str | None:
        if record_id in self.purged or (record_id in self.deleted and not hard):
            return "ENTITY_IS_DELETED"
        sobject = next((name for name, table in self.tables.items() if record_id in table), None)
        if sobject is None and record_id not in self.deleted:
            return "INVALID_CROSS_REFERENCE_KEY"
        fault = self.write_fault(record_id)
        if fault:
            return fault
        if sobject is not None:
            row = self.tables[sobject].pop(record_id)
            if sobject == "ContactPointTypeConsent":
                self._by_party.get(row.get("PartyId") or "", {}).pop(record_id, None)
            self.deleted[record_id] = sobject
        if hard:
            self.deleted.pop(record_id, None)
            self.purged.add(record_id)
        return None

    # -- HTTP -----------------------------------------------------------------------------------------

    def register(self, mock: responses.RequestsMock) -> None:
        base = re.escape(f"https://{self.host}/services/data/v{self.version}/")
        routes: list[tuple[str, str, Callable[[Any], Response]]] = [
            ("GET", base + r"query/?\?.*", self._query),
            ("GET", base + r"query/[^/?]+$", self._query_more),
            *[
                (method, base + r"composite/sobjects/?(\?.*)?$", self._composite)
                for method in ("PATCH", "POST", "DELETE")
            ],
        ]
        for method, pattern, handler in routes:
            mock.add_callback(method, re.compile(pattern), callback=self._api(handler), content_type=None)
        self.bulk.register(mock, base, self._api)
        login = r"https://[A-Za-z0-9.-]+\.salesforce\.com/services/"
        mock.add_callback("POST", re.compile(login + r"Soap/u/[0-9.]+$"), callback=self._soap_login, content_type=None)
        mock.add_callback("POST", re.compile(login + r"oauth2/token$"), callback=self._oauth_login, content_type=None)

    def _api(self, handler: Callable[[Any], Response]) -> Callable[[Any], Response | Exception]:
        def respond(request: Any) -> Response | Exception:
            kind = kind_of(request)
            self.requests.append(Call(request.method, kind, urlparse(request.url).path, self._statement(request)))
            faults = self.faults
            if faults.reset_next > 0 or faults.draw(faults.reset_rate):
                faults.reset_next = max(0, faults.reset_next - 1)
                return requests.ConnectionError("Connection reset by peer (fake)")
            self.used += 1
            status, headers, body = self._checked(request, handler)
            if faults.lose(request.method, urlparse(request.url).path):  # applied, then the connection dropped
                return requests.ConnectionError("Connection reset by peer (fake): answer lost")
            if faults.time_out(request.method, urlparse(request.url).path):  # applied, slower than the client waits
                return requests.exceptions.ReadTimeout("Read timed out (fake)")
            headers = {"Sforce-Limit-Info": f"api-usage={self.used}/{self.daily_limit}", **headers}
            return status, headers, body

        return respond

    def _checked(self, request: Any, handler: Callable[[Any], Response]) -> Response:
        faults = self.faults
        if faults.unavailable_next > 0 or faults.draw(faults.unavailable_rate):
            faults.unavailable_next = max(0, faults.unavailable_next - 1)
            headers = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            return error(503, "SERVER_UNAVAILABLE", "Service temporarily unavailable", headers)
        if faults.request_limit_next > 0 or self.used > self.daily_limit:
            faults.request_limit_next = max(0, faults.request_limit_next - 1)
            return error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if faults.expire_session_after is not None:
            faults.expire_session_after -= 1
            if faults.expire_session_after < 0:
                faults.expire_session_after = None
                self.expire_session()
        token = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        if token in faults.served and faults.draw(faults.expire_rate):  # a session in use times out, not a new one
            faults.expired += 1
            self.expire_session()
        if token not in self.tokens or faults.sessions_expire:
            return error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        faults.served.add(token)
        if len(request.url) > URI_LIMIT:
            return 414, {}, "URI Too Long"
        try:
            return handler(request)
        except SoqlError as exc:
            return error(400, exc.code, str(exc))

    def _statement(self, request: Any) -> str:
        url = urlparse(request.url)
        if "/query/" not in url.path:
            return ""
        if "q=" in (url.query or ""):
            return parse_qs(url.query)["q"][0]
        locator = url.path.rsplit("/", 1)[-1].rpartition("-")[0]
        return self._texts.get(locator, "")

    def _soap_login(self, request: Any) -> Response:
        self.logins += 1
        self.requests.append(Call("POST", "login", urlparse(request.url).path))
        token = self._new_token()
        body = (f"<?xml version='1.0'?><Envelope><Body><loginResponse><result><serverUrl>https://{self.host}"
                f"/services/Soap/u/{self.version}/00D</serverUrl><sessionId>{token}</sessionId></result>"
                "</loginResponse></Body></Envelope>")  # fmt: skip
        return 200, {"Content-Type": "text/xml"}, body

    def _oauth_login(self, request: Any) -> Response:
        self.logins += 1
        self.requests.append(Call("POST", "login", urlparse(request.url).path))
        body = {"access_token": self._new_token(), "instance_url": f"https://{self.host}", "token_type": "Bearer"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _new_token(self) -> str:
        token = f"fake-token-{self.logins}"
        self.tokens = {token}
        return token

    # -- queries --------------------------------------------------------------------------------------

    def _query(self, request: Any) -> Response:
        text = parse_qs(urlparse(request.url).query)["q"][0]
        self.queries.append(text)
        query = parse(text)
        if query.sobject not in self.schema:
            raise SoqlError("INVALID_TYPE", f"sObject type '{query.sobject}' is not supported")
        for path in (*query.fields, *_fields_of(query.where), *(name for name, _ in query.order_by)):
            if path not in ("COUNT()", "FIELDS(ALL)"):
                self._resolve(query.sobject, None, path)
        if "FIELDS(ALL)" in query.fields and (query.limit is None or query.limit > 200):
            raise SoqlError("MALFORMED_QUERY", "FIELDS(ALL) needs a LIMIT of 200 at most")
        rows = [row for row in self._candidates(query)
                if evaluate(query.where, lambda path, row=row: self._resolve(query.sobject, row, path))]  # fmt: skip
        if query.is_count:
            return answer(200, {"totalSize": len(rows), "done": True, "records": []})
        if query.order_by:
            rows.sort(key=lambda row: sort_key(query.order_by, lambda path: self._resolve(query.sobject, row, path)))
        ids = [row["Id"] for row in rows][: query.limit]
        return self._page(query, ids, 0, batch_size(request), text=text)

    def _query_more(self, request: Any) -> Response:
        locator, _, offset = urlparse(request.url).path.rsplit("/", 1)[-1].rpartition("-")
        if locator not in self._cursors:
            return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        query, ids, batch = self._cursors[locator]
        return self._page(query, ids, int(offset), batch, locator)

    def _page(
        self, query: Query, ids: list[str], offset: int, batch: int, locator: str | None = None, text: str = ""
    ) -> Response:
        table = self.tables[query.sobject]
        chunk = [table[i] for i in ids[offset : offset + batch] if i in table]
        records = [self._render(query.sobject, row, query.fields) for row in chunk]
        body: dict[str, Any] = {"totalSize": len(ids), "done": offset + batch >= len(ids), "records": records}
        if not body["done"]:
            if locator is None:
                locator = f"01gFAKE{len(self._cursors) + 1:08d}"
                self._texts[locator] = text
            self._cursors[locator] = (query, ids, batch)
            body["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{locator}-{offset + batch}"
        return answer(200, body)

    def _candidates(self, query: Query) -> Iterable[dict[str, Any]]:
        """Rows worth evaluating: an `Id`/`PartyId` IN or = at the top of the WHERE narrows them (an index)."""
        table = self.tables[query.sobject]
        where = query.where
        parts = where.parts if where is not None and getattr(where, "op", "") == "and" else (where,)
        for part in parts:
            name = getattr(part, "field", None)
            if name in ("Id", "PartyId") and part.op in ("=", "in"):
                values = part.operand if isinstance(part.operand, tuple) else (part.operand,)
                keys = [str(v.value) for v in values]
                if name == "Id":
                    return [table[k] for k in dict.fromkeys(keys) if k in table]
                if query.sobject == "ContactPointTypeConsent":
                    return [table[c] for k in dict.fromkeys(keys) for c in self._by_party.get(k, {}) if c in table]
        return list(table.values())

    def _resolve(self, sobject: str, row: dict[str, Any] | None, path: str) -> tuple[str, Any]:
        *links, name = path.split(".")
        for link in links:
            found = relationship(sobject, link) if link[0].isupper() else None
            if found is None:
                raise SoqlError("INVALID_FIELD", f"Didn't understand relationship '{link}'")
            reference, sobject = found
            row = self.tables[sobject].get(row.get(reference) or "") if row else None
        spec = self.schema[sobject].get(name)
        if spec is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'")
        return spec.type, (row.get(name) if row else None)

    def _render(self, sobject: str, row: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        url = f"/services/data/v{self.version}/sobjects/{sobject}/{row['Id']}"
        out: dict[str, Any] = {"attributes": {"type": sobject, "url": url}}
        for path in fields:
            if path == "FIELDS(ALL)":
                out.update({name: render(row.get(name)) for name in self.schema[sobject]})
                continue
            self._put(out, sobject, row, path.split("."))
        return out

    def _put(self, out: dict[str, Any], sobject: str, row: dict[str, Any], parts: list[str]) -> None:
        if len(parts) == 1:
            out[parts[0]] = render(row.get(parts[0]))
            return
        found = relationship(sobject, parts[0])
        assert found is not None
        reference, target = found
        related = self.tables[target].get(row.get(reference) or "")
        if related is None:
            out[parts[0]] = None
            return
        nested = out.get(parts[0]) or {"attributes": {"type": target, "url": f"/sobjects/{target}/{related['Id']}"}}
        out[parts[0]] = nested
        self._put(nested, target, related, parts[1:])

    # -- sObject Collections ----------------------------------------------------------------------------

    def _composite(self, request: Any) -> Response:
        if request.method == "DELETE":
            params = parse_qs(urlparse(request.url).query)
            ids = params.get("ids", [""])[0].split(",")
            if len(ids) > 200:
                return error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
            return answer(200, [result(i, self.delete_one(i)) for i in ids])
        body = json.loads(request.body)
        records = body.get("records", [])
        if len(records) > 200:
            return error(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
        types = [record["attributes"]["type"] for record in records]
        if sum(1 for i, t in enumerate(types) if i == 0 or t != types[i - 1]) > 10:
            return error(400, "INVALID_BATCH_REQUEST", "more than 10 chunks of types")
        results = []
        for record, sobject in zip(records, types, strict=True):
            fields = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
            if request.method == "POST":
                new_id, code = self.insert_one(sobject, fields)
                results.append(result(new_id, code))
            else:
                record_id = record.get("id") or record.get("Id")
                results.append(result(record_id, self.update_one(sobject, record_id, fields)))
        return answer(200, results)


def _fields_of(node: Any) -> list[str]:
    if node is None:
        return []
    if hasattr(node, "parts"):
        return [name for part in node.parts for name in _fields_of(part)]
    return [node.field]
