"""Connector types by name: the built-ins, and third-party ones from the `gomme.connectors` entry points.

A connector type is a class with a pydantic `Settings` model (whose `type` field is a Literal of
its name) and a `from_settings(name, settings, *, base_dir)` class method.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from gomme.connectors.base import Connector

BUILTIN: dict[str, str] = {
    "local": "gomme.connectors.local:LocalConnector",
    "salesforce": "gomme.connectors.salesforce:SalesforceConnector",
    "hubspot": "gomme.connectors.hubspot:HubSpotConnector",
}


class ConnectorType(Protocol):
    Settings: type[BaseModel]

    @classmethod
    def from_settings(cls, name: str, settings: Any, *, base_dir: Path) -> Connector: ...


class UnknownConnectorType(LookupError):
    def __init__(self, type_name: str) -> None:
        super().__init__(f"unknown connector type '{type_name}'; known types: {', '.join(sorted(known_types()))}")


def known_types() -> set[str]:
    return set(BUILTIN) | {ep.name for ep in entry_points(group="gomme.connectors")}


def connector_type(type_name: str) -> ConnectorType:
    """The class for `type_name`; built-ins win over plug-ins of the same name."""
    if type_name in BUILTIN:
        module, _, attr = BUILTIN[type_name].partition(":")
        found: ConnectorType = getattr(import_module(module), attr)
        return found
    for ep in entry_points(group="gomme.connectors", name=type_name):
        plugin: ConnectorType = ep.load()
        return plugin
    raise UnknownConnectorType(type_name)
