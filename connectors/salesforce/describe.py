"""What the org really has: each object's describe, read once per connector (one call per object).

An org is not our defaults (docs/salesforce-orgs.md): field-level security hides fields from the
integration user (they are then absent from the describe, and naming one in a query or a write fails the
whole call), some fields are readable but not editable, Data Protection objects may be off, State and
Country picklists may be off. Everything gomme reads or writes is checked against this first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field as the describe shows it to the running user."""

    name: str
    type: str
    updateable: bool
    createable: bool
    nillable: bool
    relationship: str | None = None
    reference_to: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> FieldInfo:
        return cls(
            name=str(raw.get("name")),
            type=str(raw.get("type") or "string"),
            updateable=bool(raw.get("updateable")),
            createable=bool(raw.get("createable")),
            nillable=bool(raw.get("nillable", True)),
            relationship=raw.get("relationshipName") or None,
            reference_to=tuple(str(target) for target in raw.get("referenceTo") or ()),
        )


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    name: str
    fields: Mapping[str, FieldInfo]

    @classmethod
    def of(cls, name: str, raw: Mapping[str, Any]) -> ObjectInfo:
        fields = (FieldInfo.of(item) for item in raw.get("fields") or () if isinstance(item, Mapping))
        return cls(name, {info.name: info for info in fields})

    def field(self, name: str) -> FieldInfo | None:
        return self.fields.get(name)

    def target(self, relationship: str) -> str | None:
        """The object a relationship name (`Account`, `Individual`) leads to, if the user can see it."""
        for info in self.fields.values():
            if info.relationship == relationship and info.reference_to:
                return info.reference_to[0]
        return None


class OrgSchema:
    """Describes on demand, each object once; `None` for an object the org lacks or hides (404)."""

    def __init__(self, describe: Callable[[str], Mapping[str, Any] | None]) -> None:
        self._describe = describe
        self._objects: dict[str, ObjectInfo | None] = {}

    def object(self, sobject: str) -> ObjectInfo | None:
        if sobject not in self._objects:
            raw = self._describe(sobject)
            self._objects[sobject] = None if raw is None else ObjectInfo.of(sobject, raw)
        return self._objects[sobject]

    def has(self, sobject: str) -> bool:
        return self.object(sobject) is not None

    def resolve(self, sobject: str, path: str) -> FieldInfo | None:
        """The field a path names (`Email`, `Account.Type`, `Individual.BirthDate`), or None if unreachable."""
        current = self.object(sobject)
        *hops, last = path.split(".")
        for hop in hops:
            target = current.target(hop) if current else None
            current = self.object(target) if target else None
        return current.field(last) if current else None

    def writable(self, sobject: str, names: Iterable[str]) -> list[str]:
        """Those of `names` the running user may update on `sobject`."""
        info = self.object(sobject)
        return [name for name in names if info and (found := info.field(name)) and found.updateable]
