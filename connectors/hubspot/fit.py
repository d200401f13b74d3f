"""The configured properties checked against the portal's own (`GET /crm/v3/properties/contacts`), once per run.

A property the admin named (`properties`, `legal_hold_property`, `contract_end_property`, `note_properties`,
`anonymise_properties` or `activity_properties` when set) that the portal lacks, or that gomme must write and
the portal computes itself, is a configuration error before anything is read or written; so is a missing
`restriction_property` (restrict_all has nowhere to leave its mark). A default the portal lacks is skipped
and reported once (run summary, `config check --online`).
"""

from __future__ import annotations

from collections.abc import Mapping

from gomme.connectors.errors import MappingMismatch
from gomme.connectors.hubspot.mapping import READ_ONLY, PropertyInfo, PropertyMap
from gomme.connectors.hubspot.settings import HubSpotSettings

# Canonical fields gomme writes (anonymise, rectify): their property must be writable when named explicitly.
_WRITTEN = frozenset({"email", "first_name", "last_name", "phone", "mobile_phone", "birthdate", "country"})


def check_properties(
    name: str, settings: HubSpotSettings, pmap: PropertyMap, schema: Mapping[str, PropertyInfo]
) -> list[str]:
    """Notices for skipped defaults; raises MappingMismatch listing every blocking problem."""
    problems: list[str] = []
    notices: list[str] = []
    explicit = settings.model_fields_set
    prefix = f"connectors.{name}"

    def writable(prop: str) -> bool:
        info = schema.get(prop)
        return info is not None and not info.read_only and prop not in READ_ONLY

    def judge(path: str, prop: str, *, write: bool, named: bool, what: str) -> None:
        if prop not in schema:
            text = f"contact property {prop}: not in the portal"
        elif write and not writable(prop):
            text = f"contact property {prop}: read-only (HubSpot computes it)"
        else:
            return
        if named:
            problems.append(f"{prefix}.{path}: {text}")
        else:
            notices.append(f"{text}; {what}")

    for canonical, prop in pmap.fields.items():
        if canonical == "restricted":
            judge("restriction_property", prop, write=True, named="restriction_property" in explicit,
                  what="restrict_all fails until it is created (a single checkbox)")  # fmt: skip
            if prop in schema and schema[prop].type != "bool":
                problems.append(f"{prefix}.restriction_property: contact property {prop} is a {schema[prop].type}; "
                                "make it a single checkbox")  # fmt: skip
            continue
        custom = {"legal_hold": "legal_hold_property", "contract_end": "contract_end_property"}.get(canonical)
        named = canonical in settings.properties or custom is not None
        path = custom or f"properties.{canonical}"
        judge(path, prop, write=named and canonical in _WRITTEN, named=named, what=f"{canonical} is not read")
    for note, prop in pmap.notes.items():
        judge(f"note_properties.{note}", prop, write=True, named="note_properties" in explicit,
              what="not scanned for notes")  # fmt: skip
    for prop in pmap.anonymise_extra:
        judge("anonymise_properties", prop, write=True, named="anonymise_properties" in explicit,
              what="anonymise does not clear it")  # fmt: skip
    for prop in pmap.activity:
        judge("activity_properties", prop, write=False, named="activity_properties" in explicit,
              what="not counted as activity")  # fmt: skip
    if problems:
        raise MappingMismatch("HubSpot portal", problems, notices)
    return notices
