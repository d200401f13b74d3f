"""Helpers shared by the HubSpot connector tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fakes.hubspot import TOKEN

from gomme.connectors.hubspot import HubSpotConnector, HubSpotSettings
from gomme.connectors.hubspot.limiter import RateLimiter
from gomme.model.changes import Action, PlannedChange

ENV = {"HUBSPOT_TOKEN": TOKEN, "HS_SECRET": "client-secret", "HS_REFRESH": "refresh-1"}
FAST: dict[str, Any] = {
    "backoff_seconds": 0.001, "backoff_max_seconds": 0.02, "timeout_seconds": 1.0, "max_attempts": 5,
    "index_lag_seconds": 0, "legal_hold_property": "legal_hold", "contract_end_property": "contract_end_date",
}  # fmt: skip
# No effective limit; short windows so an injected 429 (which says "wait one window") costs 50 ms.
OAUTH = {"client_id": "gomme-app", "client_secret_env": "HS_SECRET", "refresh_token_env": "HS_REFRESH"}

Connect = Callable[..., HubSpotConnector]


def settings_for(url: str, **overrides: Any) -> HubSpotSettings:
    auth: dict[str, Any] = {} if "client_id" in overrides else {"access_token_env": "HUBSPOT_TOKEN"}
    return HubSpotSettings.model_validate({"type": "hubspot", "base_url": url, **auth, **FAST, **overrides})


def unlimited() -> RateLimiter:
    return RateLimiter(())


class Clock:
    """A settable UTC clock, shared by the fake portal (its timestamps) and a connector (its cursor cap)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def planned(record_id: str, action: Action, *also: Action, crm: str = "hs", **values: Any) -> PlannedChange:
    return PlannedChange(
        f"{action}-{record_id}", crm, "contact", record_id, action, "rule", "basis", "0" * 64, values=values, also=also
    )
