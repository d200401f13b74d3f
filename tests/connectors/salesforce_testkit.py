"""Shared arrangements for the Salesforce connector tests: a fake org behind `responses`, a connector on it."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_data import CUSTOM_FIELDS

from gomme.connectors.salesforce import SalesforceConnector, SalesforceSettings
from gomme.connectors.salesforce.client import Credentials
from gomme.model.changes import Action, PlannedChange
from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord

HOST = "fake.my.salesforce.com"
T0 = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)


class Clock:
    """The fake org's clock: every reading is one millisecond later; `set` jumps."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=1)
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment


def settings(**overrides: Any) -> SalesforceSettings:
    base: dict[str, Any] = {
        "type": "salesforce", "instance_url": f"https://{HOST}", "access_token_env": "SF_TOKEN",
        "legal_hold_field": "Legal_Hold__c", "contract_end_field": "Contract_End__c",
        "backoff_seconds": 1.0, "requests_per_second": 1000,
        # The person's own reads and writes, call by call; related records have their own tests
        # (tests/related/test_salesforce_related.py), which count their calls.
        "related_objects": [],
    }  # fmt: skip
    return SalesforceSettings.model_validate({**base, **overrides})


@dataclass
class Harness:
    """The org, the mock, and a way to build connectors on them; `sleeps` records every backoff."""

    org: FakeSalesforce
    mock: responses.RequestsMock
    clock: Clock
    sleeps: list[float] = field(default_factory=list)

    def connector(self, creds: Credentials | None = None, **overrides: Any) -> SalesforceConnector:
        return SalesforceConnector("sf", settings(**overrides), creds or Credentials(token=("fake-token", HOST)),
                                   sleep=self.sleeps.append)  # fmt: skip

    def contact(self, **fields: Any) -> str:
        defaults = {"FirstName": "Ada", "LastName": "Example", "Email": "ada@example.com"}
        return self.org.create("Contact", **{**defaults, **fields})

    def lead(self, **fields: Any) -> str:
        defaults = {"FirstName": "Bo", "LastName": "Lead", "Company": "Example SARL", "IsConverted": False}
        return self.org.create("Lead", **{**defaults, **fields})

    def individual(self, **fields: Any) -> str:
        return self.org.create("Individual", **{"FirstName": "Ada", "LastName": "Example", **fields})

    def calls(self, kind: str | None = None) -> list[responses.Call]:
        """The API calls seen by `responses`, in order: logins, and the describes a connector reads once before
        its first query (tests/connectors/test_salesforce_describe.py counts those), excluded unless asked."""
        wanted = [call for call in self.mock.calls if "/services/data/" in call.request.url]
        return [c for c in wanted if (kind is None and _kind(c) != "describe") or _kind(c) == kind]

    def soql(self) -> list[str]:
        return list(self.org.queries)


def fitted(connector: SalesforceConnector) -> SalesforceConnector:
    """The connector once it has read the org's describes, with its call counters back at zero."""
    assert connector.maps
    connector.client.session.statuses.clear()
    connector.client.session.calls = 0
    return connector


def _kind(call: responses.Call) -> str:
    url = call.request.url
    if url.split("?")[0].rstrip("/").endswith("/describe"):
        return "describe"
    if "/composite/" in url:
        return f"composite {call.request.method}"
    if "/jobs/ingest" in url:
        return "bulk"
    return "query"


def body(call: responses.Call) -> Any:
    raw = call.request.body
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def query_of(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlparse(call.request.url).query)


@pytest.fixture
def sf() -> Iterator[Harness]:
    clock = Clock()
    org = FakeSalesforce(host=HOST, custom_fields=CUSTOM_FIELDS, clock=clock)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org.register(mock)
        yield Harness(org, mock, clock)


_ids = itertools.count(1)


def change(
    record_id: str,
    action: Action,
    *,
    object_type: str = "contact",
    also: tuple[Action, ...] = (),
    values: dict[str, Any] | None = None,
    crm: str = "sf",
) -> PlannedChange:
    return PlannedChange(
        change_id=f"c{next(_ids)}", crm=crm, object_type=object_type, record_id=record_id, action=action,
        rule_id="rule", legal_basis="test", policy_hash="h", also=also, values=values or {},
    )  # fmt: skip


def pull_all(
    connector: SalesforceConnector, query: PullQuery | None = None
) -> tuple[list[PersonRecord], dict[str, str]]:
    pulled = connector.pull(query or PullQuery())
    records = list(pulled)
    assert pulled.cursor is not None
    return records, pulled.cursor


Sleeper = Callable[[float], None]
