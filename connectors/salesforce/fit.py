"""The configured mapping fitted to the org's describe, before the first query or write.

A field the admin named (in `fields`, `contact_fields`, `lead_fields`, `legal_hold_field`,
`contract_end_field`, `restricted_field`, `note_fields` or `anonymise_fields`) that the org lacks, hides
from the integration user or does not let it update is a configuration error: nothing is read or written.
A default the org lacks is skipped and reported once (docs/salesforce-orgs.md), with the fallbacks real
orgs need: free-text `MailingCountry`/`Country` when State and Country picklists are off, the Contact's own
`Birthdate` beside the Individual's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gomme.connectors.errors import MappingMismatch
from gomme.connectors.salesforce.describe import OrgSchema
from gomme.connectors.salesforce.mapping import AUDIENCE_FIELDS, ObjectMap
from gomme.connectors.salesforce.reader import CONSENT_OBJECT
from gomme.connectors.salesforce.settings import SalesforceObject, SalesforceSettings

# Other places the same canonical field may live, tried when the default is missing, read when it is empty.
_ALTERNATIVES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Contact", "country"): ("MailingCountryCode", "MailingCountry"),
    ("Lead", "country"): ("CountryCode", "Country"),
    ("Contact", "birthdate"): ("Individual.BirthDate", "Birthdate"),
}


@dataclass(frozen=True, slots=True)
class Fitted:
    """Each object's map as the org allows it, and what was skipped (reported once per run)."""

    maps: dict[str, ObjectMap]
    notices: tuple[str, ...]


def fit(name: str, settings: SalesforceSettings, schema: OrgSchema) -> Fitted:
    """Raises MappingMismatch listing every explicit field the org lacks or will not let gomme write."""
    problems: list[str] = []
    notices: list[str] = []
    data_protection = settings.data_protection and schema.has("Individual")
    if settings.data_protection and not data_protection:
        notices.append(
            "Individual: not available to the integration user (Data Protection and Privacy off, or no access): "
            "birth dates, opt-outs and erasure requests on Individuals are not read; set `data_protection = false` "
            "and a `restricted_field` to silence this"
        )
    consents = data_protection and schema.has(CONSENT_OBJECT)
    if data_protection and not consents:
        notices.append(f"{CONSENT_OBJECT}: not available to the integration user: consent rows are not read")
    maps: dict[str, ObjectMap] = {}
    shared: dict[str, list[str]] = {}  # legal_hold_field / restricted_field: per object where it is missing
    for sobject in settings.objects:
        if not schema.has(sobject):
            problems.append(f"connectors.{name}.objects: {sobject} is not available to the integration user")
            continue
        fitter = _ObjectFitter(name, settings, schema, sobject, data_protection)
        maps[sobject.lower()] = fitter.fitted(consents)
        problems += fitter.problems
        notices += fitter.notices
        for canonical, text in fitter.shared_missing.items():
            shared.setdefault(canonical, []).append(text)
    for texts in shared.values():
        # A custom field an admin created on Contact only is fine: the Leads simply do not have it.
        if len(texts) == len(maps):
            problems += texts
        else:
            notices += [f"{text}; read on the other objects only" for text in texts]
    if problems:
        raise MappingMismatch("Salesforce org", problems, list(dict.fromkeys(notices)))
    return Fitted(maps, tuple(dict.fromkeys(notices)))


class _ObjectFitter:
    def __init__(
        self, name: str, settings: SalesforceSettings, schema: OrgSchema, sobject: SalesforceObject, dp: bool
    ) -> None:
        self.name, self.settings, self.schema, self.sobject, self.dp = name, settings, schema, sobject, dp
        self.problems: list[str] = []
        self.notices: list[str] = []
        self.shared_missing: dict[str, str] = {}
        self.base = ObjectMap.from_settings(settings, sobject)

    def fitted(self, consents: bool) -> ObjectMap:
        fields, fallbacks = self._fields()
        notes = self._notes()
        anonymise = self._anonymise(self.sobject, self.base.anonymise_fields)
        individual = self._anonymise("Individual", self.base.individual_anonymise_fields) if self.dp else ()
        readable = self._readable([*fields.values(), *(p for paths in fallbacks.values() for p in paths),
                                   *notes.values(), *anonymise])  # fmt: skip
        writable = self._writable(fields, notes)
        if not self._can_update(self.sobject, "LastName"):
            self._problem(f"{self.sobject}.LastName is not writable by the integration user: anonymise needs it")
        company = self.sobject == "Lead" and self._can_update("Lead", "Company")
        markers = ("LastName", "Company") if company else ("LastName",)
        return replace(
            self.base, fields=fields, fallbacks=fallbacks, notes=notes, anonymise_fields=anonymise,
            individual_anonymise_fields=individual, data_protection=self.dp,
            erase_individual=self.base.erase_individual and self.dp, consents=consents, readable=frozenset(readable),
            writable=frozenset(writable), marker_fields=markers,
        )  # fmt: skip

    # -- reads ----------------------------------------------------------------------------------------

    def _fields(self) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
        fields: dict[str, str] = {}
        fallbacks: dict[str, tuple[str, ...]] = {}
        mapped = dict(self.base.fields)
        for (sobject, canonical), candidates in _ALTERNATIVES.items():
            if sobject == self.sobject and canonical not in mapped:
                mapped[canonical] = candidates[0]
        for canonical, path in mapped.items():
            if self._explicit(canonical):
                if self._visible(path):
                    fields[canonical] = path
                elif self._config_path(canonical).endswith("_field"):
                    self.shared_missing[canonical] = f"{self._config_path(canonical)}: {self._missing(path)}"
                else:
                    self._problem(f"{self._config_path(canonical)}: {self._missing(path)}")
                continue
            candidates = _ALTERNATIVES.get((self.sobject, canonical), (path,))
            found = [c for c in candidates if self._visible(c) and (self.dp or not c.startswith("Individual."))]
            if not found:
                if self.dp or not path.startswith("Individual."):
                    self._notice(f"{self.sobject}.{path}: {self._why_missing(path)}; {canonical} is not read")
                continue
            fields[canonical] = found[0]
            if len(found) > 1:
                fallbacks[canonical] = tuple(found[1:])
        return fields, fallbacks

    def _notes(self) -> dict[str, str]:
        explicit = "note_fields" in self.settings.model_fields_set
        notes: dict[str, str] = {}
        for note, path in self.base.notes.items():
            if self._visible(path) and ("." in path or self._can_update(self.sobject, path)):
                notes[note] = path
            elif explicit:
                self._problem(f"connectors.{self.name}.note_fields.{note}: {self._missing(path, write=True)}")
            else:
                self._notice(f"{self.sobject}.{path}: {self._why_missing(path, write=True)}; not scanned for notes")
        return notes

    def _readable(self, paths: list[str]) -> list[str]:
        extra = ["Id", "SystemModstamp", "FirstName", "LastName", "Email", *AUDIENCE_FIELDS.get(self.sobject, ())]
        if self.dp:
            extra += ["IndividualId", "Individual.LastName"]
            extra += [f"Individual.{name}" for name in self.base.individual_anonymise_fields]
        return [path for path in dict.fromkeys([*paths, *extra]) if self._visible(path)]

    # -- writes ---------------------------------------------------------------------------------------

    def _writable(self, fields: dict[str, str], notes: dict[str, str]) -> list[str]:
        """Paths gomme may write: direct fields of the object, and `Individual.X`, that the user may update."""
        writable: list[str] = []
        for canonical, path in fields.items():
            if path.count(".") > 1 or (path.count(".") == 1 and not path.startswith("Individual.")):
                continue  # read through another object (Account.Type): never written
            sobject, field = ("Individual", path[11:]) if path.startswith("Individual.") else (self.sobject, path)
            if self._can_update(sobject, field):
                writable.append(path)
            elif canonical == "restricted" and self._explicit(canonical):
                self._problem(f"{self._config_path(canonical)}: {self._missing(path, write=True)}")
            elif canonical.startswith("opt_out_") or canonical == "restricted":
                self._notice(f"{sobject}.{field}: {self._why_missing(field, write=True, sobject=sobject)}; "
                             "restrictions do not set it")  # fmt: skip
        writable += [path for path in notes.values() if "." not in path]
        return writable

    def _anonymise(self, sobject: str, names: tuple[str, ...]) -> tuple[str, ...]:
        explicit = "anonymise_fields" in self.settings.model_fields_set and sobject in self.settings.anonymise_fields
        kept: list[str] = []
        for field in names:
            info = self.schema.resolve(sobject, field)
            if info is not None and info.updateable and info.nillable:
                kept.append(field)
            elif explicit:
                self._problem(f"connectors.{self.name}.anonymise_fields.{sobject}: "
                              f"{self._missing(field, write=True, sobject=sobject)}")  # fmt: skip
            else:
                self._notice(f"{sobject}.{field}: {self._why_missing(field, write=True, sobject=sobject)}; "
                             "anonymise does not clear it")  # fmt: skip
        return tuple(kept)

    # -- helpers --------------------------------------------------------------------------------------

    def _explicit(self, canonical: str) -> bool:
        settings = self.settings
        per_object = settings.contact_fields if self.sobject == "Contact" else settings.lead_fields
        custom = {"legal_hold": settings.legal_hold_field, "restricted": settings.restricted_field,
                  "contract_end": settings.contract_end_field}  # fmt: skip
        return canonical in settings.fields or canonical in per_object or bool(custom.get(canonical))

    def _config_path(self, canonical: str) -> str:
        settings = self.settings
        if canonical in ("legal_hold", "restricted", "contract_end") and canonical not in settings.fields:
            per_object = settings.contact_fields if self.sobject == "Contact" else settings.lead_fields
            if canonical not in per_object:
                return f"connectors.{self.name}.{canonical}_field"
        table = "fields" if canonical in settings.fields else f"{self.sobject.lower()}_fields"
        return f"connectors.{self.name}.{table}.{canonical}"

    def _visible(self, path: str) -> bool:
        return self.schema.resolve(self.sobject, path) is not None

    def _can_update(self, sobject: str, field: str) -> bool:
        info = self.schema.resolve(sobject, field)
        return info is not None and info.updateable

    def _missing(self, path: str, *, write: bool = False, sobject: str | None = None) -> str:
        return f"{sobject or self.sobject}.{path} {self._why_missing(path, write=write, sobject=sobject)}"

    def _why_missing(self, path: str, *, write: bool = False, sobject: str | None = None) -> str:
        info = self.schema.resolve(sobject or self.sobject, path)
        if info is None:
            return "does not exist or is hidden from the integration user (field-level security)"
        if write and not info.updateable:
            return "is read-only for the integration user (field-level security)"
        if write and not info.nillable:
            return "is required (cannot be cleared)"
        return "is not usable"

    def _problem(self, text: str) -> None:
        self.problems.append(text)

    def _notice(self, text: str) -> None:
        self.notices.append(text)
