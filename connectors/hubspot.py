"""HubSpot connector (`type = "hubspot"`). Settings are validated today; the API client lands next."""

from __future__ import annotations

from pathlib import Path

from gomme.connectors.base import Connector
from gomme.connectors.errors import FatalError
from gomme.connectors.hubspot_settings import HubSpotSettings


class HubSpotConnector:
    Settings = HubSpotSettings

    @classmethod
    def from_settings(cls, name: str, settings: HubSpotSettings, *, base_dir: Path) -> Connector:
        raise FatalError(
            f"connectors.{name}: the hubspot connector is not available in this version of gomme yet; "
            "its configuration is valid and will be used unchanged once it is"
        )
