"""Salesforce: `SalesforceConnector` (the registry's `gomme.connectors.salesforce:SalesforceConnector`)."""

from gomme.connectors.salesforce.connector import SalesforceConnector
from gomme.connectors.salesforce.settings import SalesforceSettings

__all__ = ["SalesforceConnector", "SalesforceSettings"]
