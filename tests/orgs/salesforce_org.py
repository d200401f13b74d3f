"""A Salesforce org set up the way a French B2B/B2C company's admin set it up, every person labelled.

Seeded from docs/real-orgs.md (how real orgs differ from defaults) and the law (docs/law.md, the `cnil` pack), not
from gomme's mapping code:
- State and Country/Territory Picklists OFF: MailingCountry / Country are free text ("France", "Allemagne",
  "Deutschland", "UK", "Royaume-Uni", "España", "Belgique", "Italia", "USA", blanks, "N/A"); no *CountryCode field.
- Field-level security: HomePhone, Birthdate, AssistantName, AssistantPhone hidden from the integration user (and
  their person-account twins), Title read-only. Hidden fields still hold data: the org has it, gomme cannot see it.
- Account.Type picklist renamed and extended: "Prospect", "Client actif", "Ancien client", "Customer - Direct",
  "Partenaire"; the contract end is a custom date on the Account (`Contract_End__c`).
- Person Accounts on (B2C people) beside business accounts (B2B contacts); a private contact (no AccountId); a
  placeholder account parking contacts.
- Data Protection and Privacy on, yet most Contacts have no Individual; ContactPointTypeConsent rows with and
  without a DataUsePurpose, with CaptureDate/CaptureSource; Individual.BirthDate carries ages (Contact.Birthdate is
  hidden); "Don't Market" (HasOptedOutSolicit) on some.
- Custom legal-hold checkbox `Legal_Hold__c` on Contact (`Legal_Hold__pc` on person accounts).
- Leads: B2B, B2C ("[not provided]" or their own name as Company), converted ones.

`run_salesforce` writes the config an admin writes from the README, runs `gomme sweep` (dry run) then
`gomme sweep --apply` and `gomme audit verify`, and judges every labelled person.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import responses
from fakes.salesforce import FakeSalesforce
from fakes.salesforce_schema import Field
from typer.testing import CliRunner

from gomme.cli import app
from orgs.labels import Dates, Label, Run, Verdict, ascii_name, scrub

TOKEN_ENV = "SF_ACCESS_TOKEN"
TOKEN = "00Dfake!integration-user-token"
HOST = "acme-fr.my.salesforce.com"
ACCOUNT_TYPES = ["Prospect", "Client actif", "Ancien client", "Customer - Direct", "Partenaire"]
HIDDEN = {
    "Contact": {"HomePhone", "Birthdate", "AssistantName", "AssistantPhone"},
    "Account": {"PersonHomePhone", "PersonBirthdate", "PersonAssistantName", "PersonAssistantPhone"},
}
READ_ONLY = {"Contact": {"Title"}, "Account": {"PersonTitle"}}
CUSTOM = {"Contact": {"Legal_Hold__c": Field("boolean")}, "Account": {"Contract_End__c": Field("date")}}
MARKER = "ANONYMISED"

# The configuration an admin writes from README "Salesforce" and config.example.toml for this org.
CONFIG = """\
[state]
url = "{state_url}"

[policy]
extends = "cnil"

[connectors.sf]
type = "salesforce"
instance_url = "https://{host}"
access_token_env = "{token_env}"
objects = ["Contact", "Lead"]                     # converted Leads are skipped
data_protection = true                            # Individual and ContactPointTypeConsent exist in this org
legal_hold_field = "Legal_Hold__c"                # our custom checkbox on Contact
contract_end_field = "Account.Contract_End__c"    # our contract end is a custom date on the Account

# State and Country picklists are off in our org: the country is the free-text field.
[connectors.sf.contact_fields]
country = "MailingCountry"

[connectors.sf.lead_fields]
country = "Country"

# Our Account.Type picklist values.
[connectors.sf.lifecycle_map]
"Prospect" = "prospect"
"Client actif" = "customer"
"Customer - Direct" = "customer"
"Ancien client" = "former_customer"
"Partenaire" = "unknown"
"""

# -- field groups used by the judge ------------------------------------------------------------------------------------

IGNORED = frozenset({"SystemModstamp", "LastModifiedDate"})
EMAIL_OPT_OUT = {"Contact": "HasOptedOutOfEmail", "Lead": "HasOptedOutOfEmail", "Account": "PersonHasOptedOutOfEmail"}
RESTRICT_EMAIL_FIELDS = {"HasOptedOutOfEmail", "PersonHasOptedOutOfEmail"}
RESTRICT_ALL_FIELDS = RESTRICT_EMAIL_FIELDS | {
    "DoNotCall", "PersonDoNotCall", "HasOptedOutOfFax", "PersonHasOptedOutOfFax", "IndividualId", "PersonIndividualId",
}  # fmt: skip
INDIVIDUAL_FLAGS = {"HasOptedOutProcessing", "HasOptedOutProfiling", "HasOptedOutTracking", "HasOptedOutGeoTracking",
                    "HasOptedOutSolicit"}  # fmt: skip
CONSENT_STATUS_FIELDS = {"PrivacyConsentStatus", "EffectiveTo"}
ANONYMISE = {
    "Contact": ("FirstName", "Email", "Phone", "MobilePhone", "OtherPhone", "HomePhone", "Fax", "AssistantName",
                "AssistantPhone", "Title", "Birthdate", "Description", "MailingStreet", "MailingCity",
                "MailingPostalCode", "MailingState", "OtherStreet", "OtherCity", "OtherPostalCode", "OtherState"),
    "Lead": ("FirstName", "Email", "Phone", "MobilePhone", "Fax", "Title", "Description", "Street", "City",
             "PostalCode", "State"),
    "Account": ("FirstName", "PersonEmail", "Phone", "PersonMobilePhone", "PersonHomePhone", "PersonOtherPhone",
                "Fax", "PersonAssistantName", "PersonAssistantPhone", "PersonTitle", "PersonBirthdate", "Description",
                "PersonMailingStreet", "PersonMailingCity", "PersonMailingPostalCode", "PersonMailingState"),
}  # fmt: skip
NOTE_FIELD = {"Contact": "Description", "Lead": "Description", "Account": "Description"}


@dataclass
class Person:
    """One labelled person: its main record (Contact, Lead, or person Account) and what identifies them."""

    sobject: str
    record_id: str
    label: Label
    identity: tuple[str, ...]  # names, email, phone: none may survive an anonymisation
    note_terms: tuple[str, ...] = ()  # sensitive words a redaction must remove
    note_kept: tuple[str, ...] = ()  # words of the note's other sentences, which the redaction must leave


@dataclass
class SalesforceOrg:
    fake: FakeSalesforce
    dates: Dates
    people: list[Person] = field(default_factory=list)
    org_rows: list[tuple[str, str]] = field(default_factory=list)  # business accounts, purposes

    # -- reading ----------------------------------------------------------------------------------------------------

    def rows_of(self, person: Person) -> dict[tuple[str, str], dict[str, Any] | None]:
        """The person's rows as they are now: main record, person contact, Individual, consent rows."""
        rows: dict[tuple[str, str], dict[str, Any] | None] = {}
        main = self.fake.record(person.sobject, person.record_id)
        rows[(person.sobject, person.record_id)] = copy.deepcopy(main)
        if main is None:
            return rows
        if person.sobject == "Account" and main.get("PersonContactId"):
            contact_id = main["PersonContactId"]
            rows[("Contact", contact_id)] = copy.deepcopy(self.fake.record("Contact", contact_id))
        individual_id = main.get("PersonIndividualId" if person.sobject == "Account" else "IndividualId")
        if individual_id:
            rows[("Individual", individual_id)] = copy.deepcopy(self.fake.record("Individual", individual_id))
            for consent in self.fake.consents_of(individual_id):
                rows[("ContactPointTypeConsent", consent["Id"])] = copy.deepcopy(consent)
        return rows

    def snapshot(self) -> dict[str, dict[tuple[str, str], dict[str, Any] | None]]:
        shots = {person.record_id: self.rows_of(person) for person in self.people}
        shots["org"] = {key: copy.deepcopy(self.fake.record(*key)) for key in self.org_rows}
        return shots

    def all_tables(self) -> dict[str, dict[str, dict[str, Any]]]:
        return copy.deepcopy(self.fake.tables)

    def identities(self) -> list[str]:
        return [value for person in self.people for value in person.identity]

    # -- judging ----------------------------------------------------------------------------------------------------

    def judge(self, before: dict[str, dict[tuple[str, str], dict[str, Any] | None]]) -> list[Verdict]:
        verdicts = [self._judge(person, before[person.record_id]) for person in self.people]
        org = Verdict("salesforce", "org", Label("no stray rows (accounts, purposes, contact set)"))
        for key, was in before["org"].items():
            now = self.fake.record(*key)
            if now is None:
                org.problems.append(f"{key[0]} {key[1]} deleted")
            elif was is not None and (changed := _changed(was, now)):
                org.problems.append(f"{key[0]} {key[1]} changed {sorted(changed)}")
        known = {key[1] for shot in before.values() for key in shot if key[0] == "Individual"}
        linked = {row.get(name) for table in ("Contact", "Lead", "Account") for row in self.fake.tables[table].values()
                  for name in ("IndividualId", "PersonIndividualId")}  # fmt: skip
        orphans = [i for i in self.fake.tables.get("Individual", {}) if i not in known and i not in linked]
        if orphans:
            org.problems.append(f"{len(orphans)} new Individual(s) linked to nobody")
        verdicts.append(org)
        return verdicts

    def _judge(self, person: Person, before: dict[tuple[str, str], dict[str, Any] | None]) -> Verdict:
        verdict = Verdict("salesforce", f"{person.sobject}:{person.record_id}", person.label)
        after = self.rows_of(person)
        main_key = (person.sobject, person.record_id)
        main_now = after.get(main_key)
        if main_now is None:
            verdict.problems.append("record deleted")
            return verdict
        expected = person.label.expected
        problems = verdict.problems
        gone = [k for k in before if k not in after and k[0] not in ("Individual", "ContactPointTypeConsent")]
        if gone:
            problems.append(f"rows gone: {sorted(k[0] for k in gone)}")
        if expected == "keep":
            problems.extend(_compare(before, after, allowed={}))
        elif expected == "redact_note":
            note = NOTE_FIELD[person.sobject]
            text = str(main_now.get(note) or "")
            if main_now.get(note) == (before[main_key] or {}).get(note):
                problems.append(f"{note} not redacted")
            elif any(term.lower() in text.lower() for term in person.note_terms):
                problems.append(f"{note} still holds the sensitive terms")
            elif not all(kept in text for kept in person.note_kept):
                problems.append(f"{note} lost a sentence that held nothing sensitive")
            problems.extend(_compare(before, after, allowed={person.sobject: {note}, "Contact": {note}}))
        elif expected in ("restrict_email", "restrict_all"):
            flag = EMAIL_OPT_OUT[person.sobject]
            if main_now.get(flag) is not True:
                problems.append(f"{flag} not set")
            if expected == "restrict_email":
                allowed = {person.sobject: RESTRICT_EMAIL_FIELDS, "Contact": RESTRICT_EMAIL_FIELDS,
                           "Individual": {"HasOptedOutSolicit"},
                           "ContactPointTypeConsent": CONSENT_STATUS_FIELDS}  # fmt: skip
            else:
                individual = _individual_of(person, main_now, after)
                if individual is None:
                    problems.append("no Individual: processing not restricted")
                elif individual.get("HasOptedOutProcessing") is not True:
                    problems.append("Individual.HasOptedOutProcessing not set")
                allowed = {person.sobject: RESTRICT_ALL_FIELDS, "Contact": RESTRICT_ALL_FIELDS,
                           "Individual": INDIVIDUAL_FLAGS,
                           "ContactPointTypeConsent": CONSENT_STATUS_FIELDS}  # fmt: skip
                for key, row in after.items():  # a new Individual must copy nothing from the person
                    if key not in before and row is not None and _holds(row, person.identity, self._visible(key[0])):
                        problems.append("new Individual copies the person's identity")
            problems.extend(_compare(before, after, allowed=allowed, new_ok={"Individual"}))
        elif expected == "anonymise":
            problems.extend(self._anonymised(person, before, after))
        return verdict

    def _anonymised(
        self, person: Person, before: dict[tuple[str, str], Any], after: dict[tuple[str, str], Any]
    ) -> list[str]:
        problems = []
        main = after[(person.sobject, person.record_id)]
        last = "LastName"
        if main.get(last) in person.identity or not main.get(last):
            problems.append(f"{last} not replaced")
        visible = self._visible(person.sobject)
        updateable = visible - self.fake.read_only.get(person.sobject, set())
        left = [name for name in ANONYMISE[person.sobject] if name in updateable and main.get(name) not in (None, "")]
        if left:
            problems.append(f"identifying fields left: {left}")
        for key, row in after.items():
            if row is None or key[0] == "ContactPointTypeConsent":
                continue
            if _holds(row, person.identity, self._visible(key[0])):
                problems.append(f"{key[0]} still holds the person's name, email or phone")
        for key, row in before.items():
            if key[0] == "Individual" and row is not None:
                now = after.get(key) or self.fake.record("Individual", key[1])
                if now is not None and (now.get("FirstName") or now.get("BirthDate")):
                    problems.append("Individual FirstName/BirthDate left")
            if key[0] == "ContactPointTypeConsent":
                now = self.fake.record(*key)
                if now is not None and now.get("CaptureSource"):
                    problems.append("consent row kept with its CaptureSource")
        return problems

    def _visible(self, sobject: str) -> set[str]:
        return set(self.fake.schema.get(sobject, {}))


def _changed(was: dict[str, Any], now: dict[str, Any]) -> set[str]:
    names = (set(was) | set(now)) - IGNORED
    return {name for name in names if was.get(name) != now.get(name)}


def _compare(
    before: dict[tuple[str, str], dict[str, Any] | None],
    after: dict[tuple[str, str], dict[str, Any] | None],
    *,
    allowed: dict[str, set[str]],
    new_ok: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    """Changes beyond `allowed` field names per object, rows that vanished or appeared (names, never values)."""
    problems = []
    for key, was in before.items():
        now = after.get(key)
        if was is not None and now is None:
            if key[0] == "ContactPointTypeConsent" or key[0] == "Individual":
                problems.append(f"{key[0]} deleted or unlinked")
            continue
        if was is None or now is None:
            continue
        extra = _changed(was, now) - allowed.get(key[0], set())
        if extra:
            problems.append(f"{key[0]} changed {sorted(extra)}")
    for key in after:
        if key not in before and key[0] not in new_ok:
            problems.append(f"new {key[0]} linked")
    return problems


def _individual_of(person: Person, main: dict[str, Any], after: dict[tuple[str, str], Any]) -> dict[str, Any] | None:
    individual_id = main.get("PersonIndividualId" if person.sobject == "Account" else "IndividualId")
    return after.get(("Individual", individual_id)) if individual_id else None


def _holds(row: dict[str, Any], identity: tuple[str, ...], visible: set[str]) -> bool:
    texts = [str(value).lower() for name, value in row.items() if name in visible and isinstance(value, str)]
    return any(token.lower() in text for token in identity if len(token) >= 3 for text in texts)


# -- seeding -----------------------------------------------------------------------------------------------------------

_FIRST = ["Aurore", "Bastien", "Céline", "Dorian", "Elodie", "Fabrice", "Gaëlle", "Hugo", "Inès",
                          "Jules", "Katell", "Loïc", "Maëlys", "Nolan", "Océane", "Pacôme", "Quitterie", "Romain",
                          "Solène", "Tanguy", "Ulla", "Valentin", "Wiebke", "Xavier", "Yaëlle", "Zacharie"]  # fmt: skip
_LAST = [
    "Abgrall", "Bellamy", "Coquerel", "Dufresnoy", "Esnault", "Fauvelle", "Guénolé", "Hardouin", "Isnardon",
    "Jacquemart", "Kervella", "Lemarquis", "Morvandiau", "Nédellec", "Ollivro", "Poupinel", "Quéméner", "Rivalland",
    "Sauvestre", "Trébaol", "Urvoy", "Vaudrey", "Wattrelot", "Ybarnégaray", "Zimmerlin", "Auffret", "Bonnichon",
    "Castagnède", "Delestrade", "Etcheverry", "Fontvieille", "Gourvennec", "Huchon", "Iribarren", "Jaouen",
    "Kerhervé", "Lagadec", "Maréchalle", "Noguès", "Orhant", "Pellerin-Dufay", "Quillévéré", "Roscanvel",
    "Salaün", "Tillaud", "Uguen", "Vignerot", "Wernert", "Yvinec", "Zabaleta", "Arzur", "Bescond", "Cadiou",
    "Derrien", "Enault", "Floc'hlay", "Gloaguen", "Hascoët", "Inizan", "Jézéquel", "Kerdraon", "Le Borgne",
    "Madec", "Nicolazo", "Omnès", "Paugam", "Quiniou", "Riou-Keraudren", "Stéphan", "Tanguy-Ropars", "Ulvoas",
    "Vourc'h", "Yhuel", "Zaouter", "Brélivet", "Coatanéa", "Danielou", "Ergan", "Fagon", "Guivarc'h", "Kerleau",
    "Penven", "Lozac'h",
]  # fmt: skip


class _Seeder:
    def __init__(self, org: SalesforceOrg) -> None:
        self.org, self.fake, self.d = org, org.fake, org.dates
        self.purpose = self.fake.create("DataUsePurpose", Name="Marketing", CreatedDate=self.d.ago(6))
        org.org_rows.append(("DataUsePurpose", self.purpose))
        self._phones = itertools.count(10)
        self._first, self._last = itertools.cycle(_FIRST), iter(_LAST)

    def _name(self) -> tuple[str, str]:
        return next(self._first), next(self._last)

    def _phone(self) -> str:
        n = next(self._phones)
        return f"+33 1 99 00 {n // 100:02d} {n % 100:02d}"  # ARCEP numbers reserved for fiction

    def account(self, name: str, type_: str | None, contract_end: dt.date | None = None) -> str:
        fields: dict[str, Any] = {"Name": name, "Type": type_, "CreatedDate": self.d.ago(9), "IsDeleted": False,
                                  "BillingCity": "Lyon", "Phone": self._phone()}  # fmt: skip
        if contract_end is not None:
            fields["Contract_End__c"] = contract_end
        account_id = self.fake.create("Account", **{k: v for k, v in fields.items() if v is not None})
        self.org.org_rows.append(("Account", account_id))
        return account_id

    def individual(self, first: str, last: str, *, born: dt.date | None = None, forget: bool = False,
                   solicit: bool = False) -> str:  # fmt: skip
        return self.fake.create(
            "Individual", FirstName=first, LastName=last, BirthDate=born, ShouldForget=forget,
            HasOptedOutSolicit=solicit, HasOptedOutProcessing=False, HasOptedOutProfiling=False,
            HasOptedOutTracking=False, HasOptedOutGeoTracking=False, SendIndividualData=False,
            CanStorePiiElsewhere=False, IsDeleted=False, CreatedDate=self.d.ago(2),
        )  # fmt: skip

    def consent(self, party: str, *, status: str = "OptIn", source: str | None = "Formulaire newsletter site web",
                captured: dt.datetime | None = None, purpose: bool = True) -> str:  # fmt: skip
        captured = captured or self.d.ago(1, 30)
        fields = {
            "Name": "Email marketing", "PartyId": party, "ContactPointType": "Email", "PrivacyConsentStatus": status,
            "CaptureDate": captured, "CaptureSource": source, "CaptureContactPointType": "Web",
            "EffectiveFrom": captured, "DataUsePurposeId": self.purpose if purpose else None, "IsDeleted": False,
            "CreatedDate": captured,
        }  # fmt: skip
        return self.fake.create("ContactPointTypeConsent", **{k: v for k, v in fields.items() if v is not None})

    def contact(
        self, category: str, account: str | None, *, detail: str = "", domain: str = "example.com",
        activity: dt.date | None = None, created: dt.datetime | None = None, country: str | None = "France",
        individual: dict[str, Any] | None = None, consent: dict[str, Any] | None = None, hold: bool = False,
        note: str | None = None, note_terms: tuple[str, ...] = (), note_kept: tuple[str, ...] = (),
        title: str | None = "Responsable achats", hidden: bool = False, anonymised: bool = False, email: bool = True,
    ) -> str:  # fmt: skip
        first, last = self._name()
        address = f"{ascii_name(first)}.{ascii_name(last)}@{domain}" if email else None
        phone = self._phone()
        individual_id = None
        if individual is not None:
            individual_id = self.individual(first, last, **individual)
            if consent is not None:
                self.consent(individual_id, **consent)
        fields: dict[str, Any] = {
            "AccountId": account, "FirstName": first, "LastName": last, "Email": address, "Phone": phone,
            "Title": title, "MailingStreet": "12 avenue des Tilleuls", "MailingCity": "Rennes",
            "MailingPostalCode": "35000", "MailingCountry": country, "Description": note,
            "LastActivityDate": activity, "CreatedDate": created or self.d.ago(5), "IndividualId": individual_id,
            "HasOptedOutOfEmail": False, "DoNotCall": False, "HasOptedOutOfFax": False, "IsDeleted": False,
            "Legal_Hold__c": hold,
        }  # fmt: skip
        if hidden:  # the org holds them; FLS hides them from the integration user
            fields |= {"HomePhone": self._phone(), "Birthdate": self.d.born(44), "AssistantName": "Standard accueil",
                       "AssistantPhone": self._phone()}  # fmt: skip
        identity = tuple(v for v in (first, last, address, phone) if v)
        if anonymised:
            fields |= {"FirstName": None, "LastName": MARKER, "Email": None, "Phone": None, "Title": None,
                       "MailingStreet": None, "MailingCity": None, "MailingPostalCode": None}  # fmt: skip
            identity = ()
        record_id = self.fake.create("Contact", **{k: v for k, v in fields.items() if v is not None})
        self.org.people.append(
            Person("Contact", record_id, Label(category, detail), identity, note_terms, note_kept)
        )
        return record_id

    def person_account(
        self, category: str, type_: str | None, *, detail: str = "", activity: dt.date | None = None,
        created: dt.datetime | None = None, country: str | None = "France", contract_end: dt.date | None = None,
        individual: dict[str, Any] | None = None, consent: dict[str, Any] | None = None, hold: bool = False,
        note: str | None = None, email: bool = True,
    ) -> str:  # fmt: skip
        first, last = self._name()
        address = f"{ascii_name(first)}.{ascii_name(last)}@example.org" if email else None
        phone = self._phone()
        individual_id = None
        if individual is not None:
            individual_id = self.individual(first, last, **individual)
            if consent is not None:
                self.consent(individual_id, **consent)
        fields: dict[str, Any] = {
            "FirstName": first, "LastName": last, "PersonEmail": address, "PersonMobilePhone": phone, "Type": type_,
            "PersonMailingStreet": "4 impasse des Mésanges", "PersonMailingCity": "Nantes",
            "PersonMailingPostalCode": "44000", "PersonMailingCountry": country, "Description": note,
            "LastActivityDate": activity, "CreatedDate": created or self.d.ago(4), "PersonIndividualId": individual_id,
            "PersonHasOptedOutOfEmail": False, "PersonDoNotCall": False, "PersonHasOptedOutOfFax": False,
            "Legal_Hold__pc": hold, "Contract_End__c": contract_end, "IsDeleted": False,
            "PersonHomePhone": self._phone(),  # hidden by FLS: the org holds it, gomme cannot see it
        }  # fmt: skip
        account_id, _ = self.fake.create_person_account(**{k: v for k, v in fields.items() if v is not None})
        identity = tuple(v for v in (first, last, address, phone) if v)
        self.org.people.append(Person("Account", account_id, Label(category, detail), identity))
        return account_id

    def lead(
        self, category: str, *, detail: str = "", company: str | None = None, own_name_company: bool = False,
        activity: dt.date | None = None, created: dt.datetime | None = None, country: str | None = "France",
        converted: bool = False, individual: dict[str, Any] | None = None, consent: dict[str, Any] | None = None,
        email: bool = True, domain: str = "example.com",
    ) -> str:  # fmt: skip
        first, last = self._name()
        address = f"{ascii_name(first)}.{ascii_name(last)}@{domain}" if email else None
        phone = self._phone()
        individual_id = None
        if individual is not None:
            individual_id = self.individual(first, last, **individual)
            if consent is not None:
                self.consent(individual_id, **consent)
        fields: dict[str, Any] = {
            "FirstName": first, "LastName": last, "Company": f"{first} {last}" if own_name_company else company,
            "Email": address, "Phone": phone, "Street": "7 rue du Moulin", "City": "Angers", "PostalCode": "49000",
            "Country": country, "Status": "Closed - Converted" if converted else "Working - Contacted",
            "IsConverted": converted, "LastActivityDate": activity, "CreatedDate": created or self.d.ago(4),
            "IndividualId": individual_id, "HasOptedOutOfEmail": False, "DoNotCall": False,
            "HasOptedOutOfFax": False, "IsDeleted": False,
        }  # fmt: skip
        record_id = self.fake.create("Lead", **{k: v for k, v in fields.items() if v is not None})
        identity = tuple(v for v in (first, last, address, phone) if v)
        self.org.people.append(Person("Lead", record_id, Label(category, detail), identity))
        return record_id


def build_salesforce_org(now: dt.datetime | None = None) -> SalesforceOrg:
    """The org, seeded and labelled; `now` defaults to the real time (gomme's sweep reads the real clock)."""
    d = Dates(now or dt.datetime.now(dt.UTC))
    fake = FakeSalesforce(
        host=HOST, token=TOKEN, custom_fields=CUSTOM, hidden_fields=HIDDEN, read_only_fields=READ_ONLY,
        country_picklists=False, account_types=ACCOUNT_TYPES, person_accounts=True, data_protection=True,
        private_contacts_visible=True,
    )  # fmt: skip
    org = SalesforceOrg(fake, d)
    s = _Seeder(org)
    recent, old = d.day_ago(0, 90), d.day_ago(4, 60)
    adult = {"born": d.born(41)}
    proof = {"source": "Formulaire newsletter site web, case cochée", "captured": d.ago(1)}

    # Business accounts (B2B): the renamed/extended Type picklist, the contract end on the Account.
    prospect_co = s.account("Nordwind Logistik GmbH", "Prospect")
    running_co = s.account("Atelier Durand SARL", "Client actif", d.ahead(1, 30))
    ended_co = s.account("Brasserie du Port SAS", "Ancien client", d.day_ago(4, 30))
    recent_end_co = s.account("Vélo Express SARL", "Ancien client", d.day_ago(1))
    no_end_co = s.account("Kappa Components Ltd", "Customer - Direct")
    stale_co = s.account("Iberia Textil SL", "Client actif", d.day_ago(4))
    ended_recently_co = s.account("Orbis Médical SA", "Client actif", d.day_ago(1, 20))
    partner_co = s.account("Partenaire Conseil SAS", "Partenaire")
    placeholder = s.account("Placeholder - Contacts sans compte", None)

    # -- prospects (B2B contacts of a "Prospect" account) --
    s.contact("prospect inactive >3y", prospect_co, activity=old, created=d.ago(6), country="Deutschland",
              domain="nordwind.example.com", hidden=True)  # fmt: skip
    s.contact("prospect inactive >3y", prospect_co, activity=d.day_ago(5), created=d.ago(7), country="Allemagne",
              domain="nordwind.example.com")  # fmt: skip
    s.contact("prospect never active, created >3y", prospect_co, created=d.ago(5, 30), country="UK",
              domain="nordwind.example.com")  # fmt: skip
    s.contact("prospect active", prospect_co, detail="created 7 years ago", activity=recent, created=d.ago(7),
              country="Deutschland", domain="nordwind.example.com", hidden=True)  # fmt: skip
    s.contact("prospect, activity date in the future (scheduled event)", prospect_co, activity=d.ahead(0, 40),
              created=d.ago(5), country="Belgique", domain="nordwind.example.com")  # fmt: skip
    s.contact("B2B contact, no consent (opt-out regime)", prospect_co, activity=d.day_ago(0, 200), created=d.ago(2),
              country="Italia", domain="nordwind.example.com")  # fmt: skip
    s.contact("B2B contact, no consent (opt-out regime)", running_co, activity=d.day_ago(1), created=d.ago(3, 100),
              country="", domain="atelier-durand.example.com", title=None)  # fmt: skip
    s.contact("withdrawn consent / Don't Market while email still open", running_co, detail="Don't Market",
              activity=recent, individual={**adult, "solicit": True}, domain="atelier-durand.example.com")  # fmt: skip
    s.contact("withdrawn consent / Don't Market while email still open", prospect_co, detail="OptOut consent row",
              activity=recent, individual=adult, consent={**proof, "status": "OptOut"}, country="España",
              domain="nordwind.example.com")  # fmt: skip
    # Don't Market already honoured by the email opt-out flag.
    honoured = s.contact("objection already honoured", running_co, activity=recent,
                         individual={**adult, "solicit": True}, domain="atelier-durand.example.com")  # fmt: skip
    fake.tables["Contact"][honoured]["HasOptedOutOfEmail"] = True
    s.contact("already anonymised", prospect_co, activity=d.day_ago(6), created=d.ago(8), anonymised=True)

    # -- rights and legal hold --
    s.contact("erasure requested", prospect_co, activity=recent, individual={**adult, "forget": True},
              domain="nordwind.example.com", country="USA")  # fmt: skip
    s.contact("legal hold + erasure", ended_co, activity=d.day_ago(2), hold=True,
              individual={**adult, "forget": True}, domain="brasserie-port.example.com")  # fmt: skip
    s.contact("legal hold + retention expired", prospect_co, activity=d.day_ago(5), created=d.ago(8), hold=True,
              domain="nordwind.example.com")  # fmt: skip

    # -- customers and former customers --
    s.contact("customer, contract running", running_co, detail="last activity 4 years ago", activity=old,
              created=d.ago(9), domain="atelier-durand.example.com", hidden=True)  # fmt: skip
    s.contact("customer, contract running", running_co, activity=recent, created=d.ago(6),
              domain="atelier-durand.example.com")  # fmt: skip
    s.contact("customer, contract ended <3y ago", ended_recently_co, activity=d.day_ago(2), created=d.ago(8),
              domain="orbis-medical.example.com")  # fmt: skip
    s.contact("customer stage, contract ended >3y, no later contact", stale_co, activity=d.day_ago(4, 90),
              created=d.ago(10), country="España", domain="iberia-textil.example.com")  # fmt: skip
    s.contact("customer without contract end, no activity >3y", no_end_co, activity=d.day_ago(4, 20),
              created=d.ago(8), country="UK", domain="kappa.example.com")  # fmt: skip
    s.contact("customer without contract end, never any activity", no_end_co, created=d.ago(6), country="UK",
              domain="kappa.example.com")  # fmt: skip
    s.contact("former customer, contract ended >3y, no later contact", ended_co, activity=d.day_ago(4, 200),
              created=d.ago(9), domain="brasserie-port.example.com")  # fmt: skip
    s.contact("former customer, contract ended >3y, got in touch <3y ago", ended_co, activity=d.day_ago(1),
              created=d.ago(9), domain="brasserie-port.example.com")  # fmt: skip
    s.contact("former customer, contract ended <3y ago", recent_end_co, activity=d.day_ago(2), created=d.ago(6),
              domain="velo-express.example.com")  # fmt: skip
    s.contact("partner / other relationship, old activity", partner_co, activity=d.day_ago(5), created=d.ago(9),
              domain="partenaire-conseil.example.com")  # fmt: skip

    # -- notes --
    s.contact("sensitive note", running_co, activity=recent, domain="atelier-durand.example.com",
              note="Commande annuelle validée. Elle est en arrêt maladie pour un cancer, rappeler en mars.",
              note_terms=("arrêt maladie", "cancer"))  # fmt: skip
    s.contact("sensitive note", prospect_co, activity=recent, domain="nordwind.example.com", country="UK",
              note="Interested in the fleet offer. He is the union rep at the Hamburg depot.",
              note_terms=("union rep",))  # fmt: skip
    s.contact("sensitive note", running_co, activity=recent, domain="atelier-durand.example.com",
              note="Bon payeur. Condamné pour fraude fiscale en 2019 d'après un concurrent.",
              note_terms=("condamné", "fraude"))  # fmt: skip
    s.contact("decoy note (ordinary business text)", running_co, activity=recent, domain="atelier-durand.example.com",
              note="Livraison au 42 rue de la Santé, 75013 Paris. Accès quai B.")  # fmt: skip
    s.contact("decoy note (ordinary business text)", running_co, activity=recent, domain="atelier-durand.example.com",
              note="Nouveau dépôt au 3 rue de l'Église, 69003 Lyon.")  # fmt: skip
    s.contact("decoy note (ordinary business text)", prospect_co, activity=recent, domain="nordwind.example.com",
              country="UK", note="Met at our Union Street office in Aberdeen; wants the Q3 price list.")  # fmt: skip
    s.contact("decoy note (ordinary business text)", prospect_co, activity=recent, domain="nordwind.example.com",
              country="Deutschland", note="Herr Krebs ist der neue Einkaufsleiter, Termin im Mai.")  # fmt: skip
    # Whose a term is: an organisation, a machine, an animal, a title, an order line (docs/notes-scanner.md).
    context_decoy, beside = (
        "decoy note (an organisation, a thing, an animal or a title)",
        "sensitive note beside an organisation, a thing or an animal",
    )
    s.contact(context_decoy, running_co, activity=recent, domain="atelier-durand.example.com",
              note="La Clinique du Parc (service cardiologie) commande 40 tablettes, livraison quai B.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="Deutschland",
              note="Stapler Nr. 4 ist wieder krank, Techniker kommt am Montag.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="UK",
              note="Her dog has diabetes, so she orders the senior range every month.")  # fmt: skip
    s.contact(context_decoy, running_co, activity=recent, domain="atelier-durand.example.com",
              note="Inscrit à la formation « Santé mentale au travail » du 12 mai.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="Deutschland",
              note="Suchtklinik Haus Lindenhof bestellt 20 Stühle für den Aufenthaltsraum.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="UK",
              note="Printed 500 flyers for the Unite convenor election at the Leeds site.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="UK",
              note="The meeting is in the GMB office on Union Street, bring the Q3 price list.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="Deutschland",
              note="Lieferung mit Stapler u. Hubwagen, der Betriebsrat beim Kunden muss zustimmen.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="Deutschland",
              note="JVA Stadelheim bestellt 30 Schreibtische, Sozialtarif. Lieferung bis Fr. klären.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="Australia",
              note="Melbourne Magistrates' Court facilities ordering 200 archive boxes. "
                   "Nearly had a heart attack at the freight quote.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="UK",
              note="Order for St Joseph's school shop: 30 crucifixes, 15 rosaries + communion cards.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="UK",
              note="Nurse Manager at a private clinic in Galway, buying 3 treatment couches.")  # fmt: skip
    s.contact(context_decoy, prospect_co, activity=recent, domain="nordwind.example.com", country="UK",
              note="Central Mosque committee ordered 200 plates for the community iftar. "
                   "Protest march blocked the high street, courier couldn't get through.")  # fmt: skip
    s.contact(beside, running_co, activity=recent, domain="atelier-durand.example.com",
              note="La Clinique du Parc renouvelle le contrat. Mme la directrice sort d'une chimio, rappeler en juin.",
              note_terms=("chimio",), note_kept=("La Clinique du Parc renouvelle le contrat.",))  # fmt: skip
    s.contact(beside, prospect_co, activity=recent, domain="nordwind.example.com", country="Deutschland",
              note="Stapler Nr. 4 ist krank. Hr. Vogt ist seit März wegen Burnout krankgeschrieben.",
              note_terms=("burnout", "krankgeschrieben"), note_kept=("Stapler Nr. 4 ist krank.",))  # fmt: skip
    s.contact(beside, prospect_co, activity=recent, domain="nordwind.example.com", country="UK",
              note="Buyer at the hospital in Leeds, wants 6 desks. She was in hospital herself in May.",
              note_terms=("in hospital",), note_kept=("Buyer at the hospital in Leeds, wants 6 desks.",))  # fmt: skip

    # -- private contact (no AccountId) and the placeholder account --
    s.contact("private contact (no account), professional address", None, activity=recent,
              domain="polder-agro.example.com", title="Directrice logistique")  # fmt: skip
    s.contact("private contact, erasure requested", None, activity=recent, individual={**adult, "forget": True})
    s.contact("placeholder account contact, nothing certain due", placeholder, activity=recent, domain="example.org",
              title=None)  # fmt: skip
    s.contact("placeholder account contact, erasure requested", placeholder, activity=recent, domain="example.org",
              title=None, individual={**adult, "forget": True})  # fmt: skip

    # -- person accounts (B2C) --
    s.person_account("B2C with provable consent", "Prospect", activity=recent, individual=adult, consent=proof)
    s.person_account("B2C consent without a data-use purpose", "Prospect", activity=recent, individual=adult,
                     consent={**proof, "purpose": False})  # fmt: skip
    s.person_account("B2C without provable consent", "Prospect", detail="no consent, no Individual", activity=recent)
    s.person_account("B2C without provable consent", "Prospect", detail="OptIn without CaptureSource",
                     activity=recent, individual=adult, consent={**proof, "source": None})  # fmt: skip
    s.person_account("B2C customer without consent (soft opt-in)", "Client actif", activity=recent,
                     contract_end=d.ahead(1))  # fmt: skip
    s.person_account("prospect inactive >3y", "Prospect", detail="person account", activity=old, created=d.ago(6),
                     individual=adult, consent={**proof, "captured": d.ago(6)})  # fmt: skip
    s.person_account("erasure requested", "Prospect", detail="person account", activity=recent,
                     individual={**adult, "forget": True}, consent=proof)  # fmt: skip
    s.person_account("legal hold + erasure", "Ancien client", detail="person account", activity=d.day_ago(1),
                     contract_end=d.day_ago(2), hold=True, individual={**adult, "forget": True})  # fmt: skip
    s.person_account("former customer, contract ended >3y, no later contact", "Ancien client",
                     detail="person account", activity=d.day_ago(4, 100), contract_end=d.day_ago(4),
                     created=d.ago(9))  # fmt: skip
    # Ages come from Individual.BirthDate (Contact.Birthdate is hidden by FLS); countries are free text.
    for age, country in ((15, "France"), (14, "Italia"), (14, "España"), (13, "Royaume-Uni"), (13, "Belgique")):
        s.person_account("teenager at or above the country's age (free-text country)", "Prospect",
                         detail=f"{age} in {country}", activity=recent, country=country,
                         individual={"born": d.born(age)}, consent=proof)  # fmt: skip
    for age, country in ((14, "France"), (15, "Deutschland"), (15, "Allemagne")):
        s.person_account("child below the country's age, no parental consent", "Prospect",
                         detail=f"{age} in {country}", activity=recent, country=country,
                         individual={"born": d.born(age)}, consent=proof)  # fmt: skip
    s.person_account("child below 13, country unknown", "Prospect", detail="12, 'N/A'", activity=recent, country="N/A",
                     individual={"born": d.born(12)}, consent=proof)  # fmt: skip
    parental = "Autorisation parentale signée par le représentant légal (parent)"
    s.person_account("minor with parental consent recorded", "Prospect", detail="13 in France", activity=recent,
                     individual={"born": d.born(13)}, consent={**proof, "source": parental})  # fmt: skip
    s.person_account("adult, junk or blank country", "Prospect", detail="'N/A'", activity=recent, country="N/A",
                     individual={"born": d.born(40)}, consent=proof)  # fmt: skip
    s.person_account("adult, junk or blank country", "Prospect", detail="blank", activity=recent, country=None,
                     individual={"born": d.born(52)}, consent=proof)  # fmt: skip
    s.person_account("bad data: impossible or unreadable birth date", "Prospect", detail="1900-01-01",
                     activity=recent, individual={"born": dt.date(1900, 1, 1)}, consent=proof)  # fmt: skip
    s.person_account("bad data: impossible or unreadable birth date", "Prospect", detail="in the future",
                     activity=recent, individual={"born": d.ahead(65)}, consent=proof)  # fmt: skip

    # -- leads --
    s.lead("prospect inactive >3y", detail="B2B lead", company="Helvetic Pumps AG", activity=old, created=d.ago(5),
           country="USA", domain="helvetic-pumps.example.com")  # fmt: skip
    s.lead("prospect active", detail="B2B lead created 6 years ago", company="Polder Agro BV", activity=recent,
           created=d.ago(6), country="", domain="polder-agro.example.com")  # fmt: skip
    s.lead("B2C without provable consent", detail="lead, Company '[not provided]'", company="[not provided]",
           activity=recent, domain="example.org")  # fmt: skip
    s.lead("B2C without provable consent", detail="lead, own name as Company", own_name_company=True,
           activity=recent, domain="example.org")  # fmt: skip
    s.lead("prospect inactive >3y", detail="B2C lead, own name as Company", own_name_company=True, activity=old,
           created=d.ago(5), domain="example.org")  # fmt: skip
    s.lead("prospect inactive >3y", detail="B2C lead, '[not provided]'", company="[not provided]", activity=old,
           created=d.ago(5), domain="example.org", country="N/A")  # fmt: skip
    s.contact("B2B contact, no consent (opt-out regime)", running_co, detail="blank email and country",
              activity=recent, country=None, email=False, domain="atelier-durand.example.com")  # fmt: skip
    s.lead("converted lead", detail="old and inactive", company="Atelier Durand SARL", converted=True,
           activity=d.day_ago(6), created=d.ago(7), domain="atelier-durand.example.com")  # fmt: skip
    s.lead("converted lead", detail="B2C, no consent", company="[not provided]", converted=True, activity=recent,
           domain="example.org")  # fmt: skip
    return org


# -- running gomme on it -----------------------------------------------------------------------------------------------

runner = CliRunner()


def run_salesforce(workdir: Path, now: dt.datetime | None = None) -> Run:
    """Builds the org, writes the admin's config, dry run, apply, audit verify; judges every label."""
    org = build_salesforce_org(now)
    state_url = f"sqlite:///{workdir}/sf-state.db"
    config_text = CONFIG.format(state_url=state_url, host=HOST, token_env=TOKEN_ENV)
    config = workdir / "sf-config.toml"
    config.write_text(config_text)
    env = {TOKEN_ENV: TOKEN}
    base = ["--config", str(config), "--log-format", "json"]
    outputs: dict[str, str] = {}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        org.fake.register(mock)
        tables = org.all_tables()
        before = org.snapshot()
        dry = runner.invoke(app, [*base, "sweep"], env=env)
        dry_run_wrote = org.all_tables() != tables
        applied = runner.invoke(app, [*base, "sweep", "--apply"], env=env)
        verified = runner.invoke(app, [*base, "audit", "verify"], env=env)
    secrets = org.identities()
    for name, result in (("dry run", dry), ("apply", applied), ("audit verify", verified)):
        outputs[name] = scrub(result.output + (repr(result.exception) if result.exception else ""), secrets)
    return Run("salesforce", org.judge(before), dry.exit_code, applied.exit_code, verified.exit_code, dry_run_wrote,
               outputs, config_text)  # fmt: skip
