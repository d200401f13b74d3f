"""Fixtures for the HubSpot connector: a fake HubSpot on loopback, and connectors aimed at it.

Retries back off in milliseconds, requests time out after 0.3 s and the client-side limiter is
off unless a test builds one: the whole HubSpot test set runs in seconds, real HTTP all the way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes.hubspot import UNLIMITED, FakeHubSpot
from hubspot_testkit import ENV, Clock, Connect, settings_for, unlimited

from gomme.connectors.hubspot import HubSpotConnector
from gomme.connectors.hubspot.limiter import RateLimiter


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    """A running fake portal with gomme's custom properties defined, and no effective rate limit."""
    fake = FakeHubSpot(limits=UNLIMITED, timeout_delay=1.2)  # longer than the client timeout
    fake.portal.define("gomme_restricted", "bool")
    fake.portal.define("legal_hold", "bool")
    fake.portal.define("contract_end_date", "date")
    with fake:
        yield fake


@pytest.fixture
def connect(hubspot: FakeHubSpot) -> Iterator[Connect]:
    """Builds connectors on the fake (settings overridable), closed at the end of the test."""
    made: list[HubSpotConnector] = []

    def make(
        *,
        limiter: RateLimiter | None = None,
        env: dict[str, str] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        **overrides: Any,
    ) -> HubSpotConnector:
        connector = HubSpotConnector(
            "hs", settings_for(hubspot.url, **overrides), env=ENV if env is None else env,
            limiter=limiter or unlimited(), clock=clock,
        )  # fmt: skip
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


@pytest.fixture
def connector(connect: Connect) -> HubSpotConnector:
    return connect()


@pytest.fixture
def clock(hubspot: FakeHubSpot) -> Clock:
    """Time stands still unless the test moves it: the portal's timestamps come from here."""
    shared = Clock(dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC))
    hubspot.portal.clock = shared
    return shared
