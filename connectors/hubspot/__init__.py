"""HubSpot connector (`type = "hubspot"`): `client` (auth, limits, retries), `limiter`, `search` (pushdown),
`reader` (pulls), `mapping` (properties ↔ PersonRecord), `subscriptions` (communication preferences),
`writer` (apply), `connector` (the Connector itself).
"""

from gomme.connectors.hubspot.connector import HubSpotConnector
from gomme.connectors.hubspot.settings import HubSpotSettings

__all__ = ["HubSpotConnector", "HubSpotSettings"]
