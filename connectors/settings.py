"""Pieces shared by connector settings: secrets named by environment variable, never stored."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator

from gomme.connectors.errors import FatalError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"'{value}' is not an environment variable name (letters, digits, underscores)")
    return value


EnvVarName = Annotated[str, AfterValidator(_env_name)]
"""The name of an environment variable that holds a secret; the config file never holds the secret."""


def secret_from_env(connector: str, option: str, name: str, env: Mapping[str, str] = os.environ) -> str:
    """Read a secret, or stop with a message that names the variable and the config option."""
    value = env.get(name)
    if not value:
        raise FatalError(
            f"connectors.{connector}.{option}: environment variable {name} is not set; "
            f"export it with the secret before running gomme"
        )
    return value
