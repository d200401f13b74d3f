"""The supervisory authorities by country (`jobs/data/supervisory_authorities.toml`, sources in docs/breach.md)."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Authority:
    """One country's supervisory authority; `eea` False: the country has its own law, outside the one-stop shop."""

    country: str
    name: str
    website: str
    languages: tuple[str, ...]
    eea: bool = True
    notification: str | None = None
    caveat: str | None = None

    @property
    def language(self) -> str:
        """The country's first official language: the default language of a notice to its residents."""
        return self.languages[0] if self.languages else ""


@functools.cache
def authorities() -> Mapping[str, Authority]:
    """Country code → authority, read once from the package data."""
    text = (resources.files("gomme.jobs") / "data" / "supervisory_authorities.toml").read_text(encoding="utf-8")
    return {
        code: Authority(country=code, name=row["name"], website=row["website"], languages=tuple(row["languages"]),
                        eea=row.get("eea", True), notification=row.get("notification"), caveat=row.get("caveat"))
        for code, row in tomllib.loads(text).items()
    }


def authority(country: str | None) -> Authority | None:
    return authorities().get(country.upper()) if country else None
