"""A HubSpot portal set up the way a French company's admin set it up, every contact labelled.

Seeded from docs/real-orgs.md §8-§14 and the law (docs/law.md, the `cnil` pack), not from gomme's mapping code:
- GDPR features on: `hs_legal_basis` holds the option labels ("Legitimate interest" + en dash + "prospect/lead",
  "Performance of a contract", "Freely given consent from contact") or nothing; subscription statuses carry
  their own `legalBasis` and `legalBasisExplanation` (one says a parent consented).
- Lifecycle stages: the defaults plus a custom stage "Ancien client" whose internal value is a number, as HubSpot
  gives custom stages (docs/real-orgs.md §9); "customer" survives churn; "other"; some contacts have no stage at all.
- `country` free text ("France", "Deutschland", "UK", "Italia", "N/A", blank); `date_of_birth` free text, mostly
  ISO, once typed the French way (dd/mm/yyyy), sometimes junk ("N/A", "31/02/1990").
- Custom properties an admin created: `contract_end_date` (date), `legal_hold` (checkbox), `gomme_restricted`
  (the checkbox README "HubSpot" asks to create), `rgpd_demande_effacement` (erasure request checkbox).
- Email engagement: `hs_email_last_open_date` (an open never restarts retention) and `hs_email_last_click_date`
  (a click is a contact initiated by the person, docs/law.md §6).

`run_hubspot` writes the config an admin writes from the README, serves the portal on loopback, runs `gomme sweep`
(dry run) then `gomme sweep --apply` and `gomme audit verify`, and judges every labelled contact.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakes.hubspot import TOKEN, UNLIMITED, FakeHubSpot
from fakes.hubspot_portal import Portal
from typer.testing import CliRunner

from gomme.cli import app
from orgs.labels import Dates, Label, Run, Verdict, ascii_name, scrub

TOKEN_ENV = "HUBSPOT_TOKEN"
FORMER_CUSTOMER_STAGE = "1137659023"  # our custom stage "Ancien client": HubSpot gives custom stages numeric ids
DASH = "\u2013"  # HubSpot writes its legal-basis options with an en dash
LI_PROSPECT = f"Legitimate interest {DASH} prospect/lead"
CONTRACT = "Performance of a contract"
CONSENT = "Freely given consent from contact"
MARKETING_TYPES = ("101", "102")  # Newsletter, Product updates (purpose Marketing); 103 is one-to-one sales email
ONE_TO_ONE = "103"
MARKER = "ANONYMISED"
Status = tuple[str, str | None, str | None]  # status, legalBasis, legalBasisExplanation

# The configuration an admin writes from README "HubSpot" and config.example.toml for this portal.
CONFIG = """\
[state]
url = "{state_url}"

[policy]
extends = "cnil"

[connectors.hs]
type = "hubspot"
access_token_env = "{token_env}"
base_url = "{url}"                            # (a test server here)
delete_mode = "gdpr"
legal_hold_property = "legal_hold"            # our custom checkbox
contract_end_property = "contract_end_date"   # our custom date
restriction_property = "gomme_restricted"     # created in the portal as README says
read_subscriptions = true                     # GDPR settings on: bases and parental consent live on subscriptions
anonymise_properties = ["address", "city", "state", "zip", "jobtitle", "company", "website"]
requests_per_10s = 250                        # the highest tier (the test portal enforces none)
search_requests_per_second = 5
limit_fraction = 1.0

[connectors.hs.properties]
birthdate = "date_of_birth"
erasure_requested = "rgpd_demande_effacement" # our custom checkbox for erasure requests

# Our lifecycle stages (Settings > Objects > Contacts > Lifecycle stage), by internal value.
[connectors.hs.lifecycle_map]
subscriber = "prospect"
lead = "prospect"
marketingqualifiedlead = "prospect"
salesqualifiedlead = "prospect"
opportunity = "prospect"
customer = "customer"
evangelist = "customer"
other = "unknown"
"{former_stage}" = "former_customer"             # "Ancien client", our custom stage

# Our "Legal basis for processing contact's data" values.
[connectors.hs.legal_basis_map]
"Legitimate interest {dash} prospect/lead" = "legitimate_interest"
"Legitimate interest {dash} existing customer" = "legitimate_interest"
"Performance of a contract" = "contract"
"Freely given consent from contact" = "consent"
"""

IGNORED = frozenset({"lastmodifieddate"})
ANONYMISE = ("email", "firstname", "phone", "mobilephone", "date_of_birth", "message", "address", "city", "state",
             "zip", "jobtitle", "company", "website")  # fmt: skip


@dataclass
class Contact:
    record_id: str
    email: str | None
    label: Label
    identity: tuple[str, ...]
    note_terms: tuple[str, ...] = ()  # sensitive words a redaction must remove
    note_kept: tuple[str, ...] = ()  # words of the note's other sentences, which the redaction must leave


@dataclass
class HubSpotPortal:
    fake: FakeHubSpot
    dates: Dates
    people: list[Contact] = field(default_factory=list)

    @property
    def portal(self) -> Portal:
        return self.fake.portal

    def prefs(self, email: str | None) -> dict[str, Any]:
        """Everything HubSpot keeps about an address's subscriptions."""
        if not email:
            return {}
        key = email.strip().lower()
        with self.portal.lock:
            return {
                "statuses": dict(self.portal.statuses.get(key, {})),
                "details": copy.deepcopy(self.portal.status_details.get(key, {})),
                "opted_out_all": key in self.portal.opted_out_all,
            }

    def snapshot(self) -> dict[str, Any]:
        shot: dict[str, Any] = {c.record_id: (self.portal.get(c.record_id), self.prefs(c.email)) for c in self.people}
        shot["org"] = (sorted(self.portal.contacts), sorted(self.portal.blocklist), len(self.portal.archived))
        return shot

    def identities(self) -> list[str]:
        return [value for person in self.people for value in person.identity]

    def judge(self, before: dict[str, Any]) -> list[Verdict]:
        verdicts = [self._judge(person, *before[person.record_id]) for person in self.people]
        org = Verdict("hubspot", "org", Label("no stray rows (accounts, purposes, contact set)"))
        ids, blocklist, archived = before["org"]
        if sorted(self.portal.contacts) != ids:
            org.problems.append("contacts created or deleted")
        if sorted(self.portal.blocklist) != blocklist:
            org.problems.append("addresses blocklisted")
        if len(self.portal.archived) != archived:
            org.problems.append("contacts archived")
        verdicts.append(org)
        return verdicts

    def _judge(self, person: Contact, was: dict[str, str] | None, prefs_was: dict[str, Any]) -> Verdict:
        verdict = Verdict("hubspot", person.record_id, person.label)
        problems = verdict.problems
        now = self.portal.get(person.record_id)
        if now is None or was is None:
            problems.append("contact deleted or archived")
            return verdict
        prefs_now = self.prefs(person.email)
        expected = person.label.expected
        changed = {n for n in (set(was) | set(now)) - IGNORED if was.get(n) != now.get(n)}
        if expected == "keep":
            if changed:
                problems.append(f"properties changed {sorted(changed)}")
            if prefs_now != prefs_was:
                problems.append("subscription statuses changed")
        elif expected == "redact_note":
            text = now.get("message") or ""
            if "message" not in changed:
                problems.append("message not redacted")
            elif any(term.lower() in text.lower() for term in person.note_terms):
                problems.append("message still holds the sensitive terms")
            elif not all(kept in text for kept in person.note_kept):
                problems.append("message lost a sentence that held nothing sensitive")
            if changed - {"message"}:
                problems.append(f"properties changed {sorted(changed - {'message'})}")
            if prefs_now != prefs_was:
                problems.append("subscription statuses changed")
        elif expected in ("restrict_email", "restrict_all"):
            # restrict_email stops marketing only (one-to-one stays as it was); restrict_all stops every type.
            # Neither may opt the address out of all email: HubSpot has no undo for that (docs/real-orgs.md §12).
            statuses_was, statuses_now = prefs_was.get("statuses", {}), prefs_now.get("statuses", {})
            stopped = MARKETING_TYPES if expected == "restrict_email" else (*MARKETING_TYPES, ONE_TO_ONE)
            still = [t for t in stopped if statuses_now.get(t) != "NOT_SUBSCRIBED"]
            if still:
                problems.append(f"still subscribed to type(s) {still}")
            if expected == "restrict_email" and statuses_now.get(ONE_TO_ONE) != statuses_was.get(ONE_TO_ONE):
                problems.append("the one-to-one type changed")
            if prefs_now.get("opted_out_all") != prefs_was.get("opted_out_all"):
                problems.append("the address was opted out of all email")
            allowed = {"gomme_restricted"} if expected == "restrict_all" else set()
            if expected == "restrict_all" and now.get("gomme_restricted") != "true":
                problems.append("gomme_restricted not set")
            if changed - allowed:
                problems.append(f"properties changed {sorted(changed - allowed)}")
        elif expected == "anonymise":
            if now.get("lastname") in person.identity or not now.get("lastname"):
                problems.append("lastname not replaced")
            left = [name for name in ANONYMISE if now.get(name)]
            if left:
                problems.append(f"identifying properties left: {left}")
            texts = [str(value).lower() for value in now.values() if value]
            if any(token.lower() in text for token in person.identity if len(token) >= 3 for text in texts):
                problems.append("a property still holds the person's name, email or phone")
        return verdict


# -- seeding -----------------------------------------------------------------------------------------------------------

_FIRST = ["Anouk", "Benoît", "Capucine", "Damien", "Eulalie", "Firmin", "Garance", "Hervé", "Isaure", "Joachim",
          "Klervi", "Lazare", "Mahaut", "Nils", "Ombeline", "Prosper", "Rozenn", "Sixtine", "Théophane", "Ursule",
          "Victoire", "Wandrille", "Yolaine", "Zéphyrin"]  # fmt: skip
_LAST = ["Abiven", "Berthou", "Crenn", "Dréano", "Ebrel", "Feunteun", "Goasdoué", "Hamon-Kerbrat", "Irvoas",
         "Jestin", "Kerouédan", "Le Goff-Morvan", "Merrien", "Nédélec-Tual", "Ollitrault", "Prigent", "Quéré-Abgrall",
         "Raoult", "Scouarnec", "Thépaut", "Urien", "Vallégant", "Yven", "Zuccarelli", "Andrieux-Pleuven", "Bothorel",
         "Caroff", "Daoudal", "Ezanno", "Fily", "Guillou-Tanguy", "Hénaff", "Inisan", "Jaffrès", "Kerléo", "Lozac'h",
         "Moysan", "Nicol-Tréguer", "Ogor", "Penven", "Quémeneur", "Rolland-Kerhoas", "Salaün-Treut", "Thomin",
         "Uguen-Coat", "Vigouroux", "Yvonnou", "Ziegler-Pochic", "Argouarc'h", "Bourhis", "Cadoret", "Diquélou",
         "Le Roux-Ebrel", "Floch", "Gourmelen"]  # fmt: skip


class _Seeder:
    def __init__(self, hub: HubSpotPortal) -> None:
        self.hub, self.portal, self.d = hub, hub.portal, hub.dates
        self._first, self._last = itertools.cycle(_FIRST), iter(_LAST)
        self._phones = itertools.count(200)
        for name, kind, read_only in (
            ("legal_hold", "bool", False), ("contract_end_date", "date", False), ("gomme_restricted", "bool", False),
            ("rgpd_demande_effacement", "bool", False), ("hs_email_last_open_date", "datetime", True),
            ("hs_email_last_click_date", "datetime", True),
        ):  # fmt: skip
            self.portal.define(name, kind, read_only=read_only)

    def contact(
        self, category: str, *, detail: str = "", stage: str | None = "lead", basis: str | None = LI_PROSPECT,
        domain: str = "example.com", contacted: dt.datetime | None = None, created: dt.datetime | None = None,
        country: str | None = "France", born: str | None = None, contract_end: dt.date | None = None,
        hold: bool | None = None, erasure: bool | None = None, note: str | None = None,
        note_terms: tuple[str, ...] = (), note_kept: tuple[str, ...] = (),
        subscriptions: Mapping[str, Status] | None = None,
        extra: dict[str, Any] | None = None, company: str | None = None, anonymised: bool = False,
    ) -> str:  # fmt: skip
        """Adds the contact and its subscription statuses; returns its address."""
        first, last = next(self._first), next(self._last)
        email = f"{ascii_name(first)}.{ascii_name(last)}@{domain}"
        n = next(self._phones)
        phone = f"+33 1 99 00 {n // 100:02d} {n % 100:02d}"  # ARCEP numbers reserved for fiction
        properties: dict[str, Any] = {
            "email": email, "firstname": first, "lastname": last, "phone": phone, "country": country,
            "date_of_birth": born, "lifecyclestage": stage, "hs_legal_basis": basis,
            "createdate": created or self.d.ago(2), "notes_last_contacted": contacted,
            "contract_end_date": contract_end, "legal_hold": hold, "rgpd_demande_effacement": erasure,
            "message": note, "company": company, "jobtitle": "Acheteur" if company else None,
            "city": "Brest", "zip": "29200", "address": "9 quai de la Douane", **(extra or {}),
        }  # fmt: skip
        identity: tuple[str, ...] = (first, last, email, phone)
        address: str | None = email
        if anonymised:
            properties |= {"email": None, "firstname": None, "lastname": MARKER, "phone": None, "city": None,
                           "zip": None, "address": None}  # fmt: skip
            identity, address = (), None
        record_id = self.portal.add(**properties)
        for type_id, (status, legal_basis, explanation) in (subscriptions or {}).items():
            self.portal.set_status(email, type_id, status, legal_basis, explanation, at=self.d.ago(1, 40))
        self.hub.people.append(Contact(record_id, address, Label(category, detail), identity, note_terms, note_kept))
        return email


def build_hubspot_portal(now: dt.datetime | None = None) -> HubSpotPortal:
    """The portal, seeded and labelled (not started); `now` defaults to the real time."""
    d = Dates(now or dt.datetime.now(dt.UTC))
    hub = HubSpotPortal(FakeHubSpot(limits=UNLIMITED, timeout_delay=0.2), d)
    s = _Seeder(hub)
    recent, old = d.ago(0, 100), d.ago(4, 60)
    trade_show = ("SUBSCRIBED", "LEGITIMATE_INTEREST_PQL", "Salon Préventica, carte de visite")
    client_news = ("SUBSCRIBED", "LEGITIMATE_INTEREST_CLIENT", "Client : informations produit")
    form = ("SUBSCRIBED", "CONSENT_WITH_NOTICE", "Inscription newsletter via le formulaire du site, case cochée")
    b2b = {"101": trade_show}
    b2c = {"101": form}
    customer = {"102": client_news}

    # -- prospects (B2B, legitimate interest) --
    s.contact("prospect inactive >3y", contacted=old, created=d.ago(6), domain="nordwind.example.com",
              company="Nordwind Logistik GmbH", country="Deutschland", subscriptions=b2b)  # fmt: skip
    s.contact("prospect inactive >3y", stage="marketingqualifiedlead", contacted=d.ago(5), created=d.ago(7),
              domain="kappa.example.com", company="Kappa Components Ltd", country="UK", subscriptions=b2b)  # fmt: skip
    s.contact("prospect never active, created >3y", stage="subscriber", basis=CONSENT, created=d.ago(5, 30),
              domain="example.org", subscriptions=b2c)  # fmt: skip
    s.contact("prospect active", detail="created 6 years ago", contacted=recent, created=d.ago(6),
              domain="polder-agro.example.com", company="Polder Agro BV", country="Pays-Bas",
              subscriptions=b2b)  # fmt: skip
    s.contact("prospect inactive >3y, email opened recently", contacted=old, created=d.ago(6),
              domain="helvetic-pumps.example.com", company="Helvetic Pumps AG", country="Suisse",
              extra={"hs_email_last_open_date": d.ago(0, 60)}, subscriptions=b2b)  # fmt: skip
    s.contact("prospect inactive >3y, clicked an email link <3y ago", contacted=old, created=d.ago(6),
              domain="iberia-textil.example.com", company="Iberia Textil SL", country="España",
              extra={"hs_email_last_click_date": d.ago(0, 180), "hs_email_last_open_date": d.ago(0, 180)},
              subscriptions=b2b)  # fmt: skip
    s.contact("legitimate interest, subscribed (B2B)", contacted=d.ago(1), domain="orbis-medical.example.com",
              company="Orbis Médical SA", subscriptions=b2b)  # fmt: skip

    # -- rights and legal hold --
    s.contact("erasure requested", contacted=recent, erasure=True, domain="nordwind.example.com",
              company="Nordwind Logistik GmbH", country="Deutschland", subscriptions=b2b)  # fmt: skip
    s.contact("legal hold + erasure", stage=FORMER_CUSTOMER_STAGE, basis=CONTRACT, contacted=d.ago(1), hold=True,
              erasure=True, contract_end=d.day_ago(2), domain="brasserie-port.example.com",
              company="Brasserie du Port SAS", subscriptions=customer)  # fmt: skip
    s.contact("legal hold + retention expired", contacted=d.ago(5), created=d.ago(8), hold=True,
              domain="velo-express.example.com", company="Vélo Express SARL", subscriptions=b2b)  # fmt: skip

    # -- customers and former customers --
    s.contact("customer, contract running", detail="last contact 4 years ago", stage="customer", basis=CONTRACT,
              contacted=old, created=d.ago(9), contract_end=d.ahead(1), domain="atelier-durand.example.com",
              company="Atelier Durand SARL", subscriptions=customer)  # fmt: skip
    s.contact("customer, contract ended <3y ago", stage="customer", basis=CONTRACT, contacted=d.ago(2),
              created=d.ago(8), contract_end=d.day_ago(1), domain="orbis-medical.example.com",
              company="Orbis Médical SA", subscriptions=customer)  # fmt: skip
    s.contact("customer stage, contract ended >3y, no later contact", stage="customer", basis=CONTRACT,
              contacted=d.ago(4, 90), created=d.ago(10), contract_end=d.day_ago(4), domain="iberia-textil.example.com",
              company="Iberia Textil SL", country="España", subscriptions=customer)  # fmt: skip
    s.contact("customer without contract end, no activity >3y", stage="customer", basis=CONTRACT,
              contacted=d.ago(4, 20), created=d.ago(8), domain="kappa.example.com", company="Kappa Components Ltd",
              country="UK", subscriptions=customer)  # fmt: skip
    s.contact("customer without contract end, never any activity", stage="customer", basis=CONTRACT,
              created=d.ago(6), domain="kappa.example.com", company="Kappa Components Ltd", country="UK")  # fmt: skip
    s.contact("former customer, contract ended >3y, no later contact", stage=FORMER_CUSTOMER_STAGE, basis=CONTRACT,
              contacted=d.ago(4, 200), created=d.ago(9), contract_end=d.day_ago(4),
              domain="brasserie-port.example.com", company="Brasserie du Port SAS", subscriptions=customer)  # fmt: skip
    s.contact("former customer, contract ended >3y, got in touch <3y ago", stage=FORMER_CUSTOMER_STAGE,
              basis=CONTRACT, contacted=d.ago(1), created=d.ago(9), contract_end=d.day_ago(4),
              domain="brasserie-port.example.com", company="Brasserie du Port SAS", subscriptions=customer)  # fmt: skip
    s.contact("former customer, contract ended <3y ago", stage=FORMER_CUSTOMER_STAGE, basis=CONTRACT,
              contacted=d.ago(2), created=d.ago(6), contract_end=d.day_ago(1), domain="velo-express.example.com",
              company="Vélo Express SARL", subscriptions=customer)  # fmt: skip
    s.contact("partner / other relationship, old activity", stage="other", basis=None, contacted=d.ago(5),
              created=d.ago(9), domain="partenaire-conseil.example.com", company="Partenaire Conseil SAS")  # fmt: skip
    s.contact("no lifecycle stage, old activity", stage=None, basis=None, contacted=d.ago(5), created=d.ago(6),
              domain="example.org")  # fmt: skip

    # -- children and ages (B2C newsletter subscribers, consent with its explanation) --
    for age, country in ((15, "France"), (14, "Italia"), (13, "UK")):
        s.contact("teenager at or above the country's age (free-text country)", detail=f"{age} in {country}",
                  stage="subscriber", basis=CONSENT, created=d.ago(0, 200), domain="example.org", country=country,
                  born=d.born(age).isoformat(), subscriptions=b2c)  # fmt: skip
    for age, country in ((14, "France"), (15, "Deutschland")):
        s.contact("child below the country's age, no parental consent", detail=f"{age} in {country}",
                  stage="subscriber", basis=CONSENT, created=d.ago(0, 200), domain="example.org", country=country,
                  born=d.born(age).isoformat(), subscriptions=b2c)  # fmt: skip
    s.contact("child, birth date typed as text dd/mm/yyyy", detail="13 in France", stage="subscriber",
              basis=CONSENT, created=d.ago(0, 200), domain="example.org", born=d.born_text_ddmmyyyy(13),
              subscriptions=b2c)  # fmt: skip
    s.contact("minor with parental consent recorded", detail="13 in France", stage="subscriber", basis=CONSENT,
              created=d.ago(0, 200), domain="example.org", born=d.born(13).isoformat(),
              subscriptions={"101": ("SUBSCRIBED", "CONSENT_WITH_NOTICE",
                                     "Consentement donné par le représentant légal (parent)")})  # fmt: skip
    s.contact("adult, junk or blank country", detail="'N/A'", stage="subscriber", basis=CONSENT,
              created=d.ago(0, 200), domain="example.org", country="N/A", born=d.born(40).isoformat(),
              subscriptions=b2c)  # fmt: skip
    s.contact("adult, junk or blank country", detail="blank", stage="subscriber", basis=CONSENT,
              created=d.ago(0, 200), domain="example.org", country=None, born=d.born(58).isoformat(),
              subscriptions=b2c)  # fmt: skip
    for junk in ("N/A", "31/02/1990", d.ahead(65).isoformat()):
        s.contact("bad data: impossible or unreadable birth date", detail=junk if junk[0] != "2" else "in the future",
                  stage="subscriber", basis=CONSENT, created=d.ago(0, 200), domain="example.org", born=junk,
                  subscriptions=b2c)  # fmt: skip
    s.contact("B2C with provable consent", stage="subscriber", basis=CONSENT, created=d.ago(1), domain="example.org",
              born=d.born(33).isoformat(), subscriptions=b2c)  # fmt: skip

    # -- legal bases and subscriptions (GDPR settings on) --
    s.contact("subscribed with empty processing legal basis", detail="subscription without basis either",
              basis=None, contacted=recent, domain="example.org",
              subscriptions={"101": ("SUBSCRIBED", None, None), "103": ("SUBSCRIBED", None, None)})  # fmt: skip
    s.contact("subscribed with empty processing legal basis", detail="subscription with its own consent basis",
              basis=None, contacted=recent, domain="example.org", subscriptions=b2c)  # fmt: skip
    s.contact("empty processing legal basis, not subscribed", basis=None, contacted=recent,
              domain="polder-agro.example.com", company="Polder Agro BV")  # fmt: skip
    s.contact("consent basis without proof", stage="subscriber", basis=CONSENT, created=d.ago(1), domain="example.org",
              subscriptions={"101": ("SUBSCRIBED", None, None)})  # fmt: skip
    s.contact("unsubscribed from one type, subscribed to another", stage="customer", basis=CONTRACT,
              contacted=recent, contract_end=d.ahead(2), domain="atelier-durand.example.com",
              company="Atelier Durand SARL",
              subscriptions={"101": ("NOT_SUBSCRIBED", None, None), "102": client_news})  # fmt: skip
    honoured = s.contact("objection already honoured", contacted=recent, domain="nordwind.example.com",
                         company="Nordwind Logistik GmbH", extra={"hs_email_optout": True},
                         subscriptions={t: ("NOT_SUBSCRIBED", None, None) for t in ("101", "102", "103")})  # fmt: skip
    hub.portal.opted_out_all.add(honoured)  # unsubscribed from all email, portal-wide
    s.contact("already anonymised", contacted=d.ago(6), created=d.ago(8), anonymised=True)

    # -- notes (the `message` property) --
    s.contact("sensitive note", stage="customer", basis=CONTRACT, contacted=recent, contract_end=d.ahead(1),
              domain="atelier-durand.example.com", company="Atelier Durand SARL", subscriptions=customer,
              note="Très satisfait de la livraison. Il m'a confié être suivi pour un cancer du pancréas.",
              note_terms=("cancer",))  # fmt: skip
    s.contact("sensitive note", contacted=recent, domain="kappa.example.com", company="Kappa Components Ltd",
              country="UK", subscriptions=b2b, note="Prefers calls after 5pm. He was convicted of fraud in 2019.",
              note_terms=("convicted", "fraud"))  # fmt: skip
    s.contact("decoy note (ordinary business text)", contacted=recent, domain="orbis-medical.example.com",
              company="Orbis Médical SA", subscriptions=b2b,
              note="Bureau au 3 rue de la Santé, 75013 Paris. Rendez-vous pris pour la démo.")  # fmt: skip
    s.contact("decoy note (ordinary business text)", contacted=recent, domain="kappa.example.com",
              company="Kappa Components Ltd", country="UK", subscriptions=b2b,
              note="Met at the Union Street office in Aberdeen; send the Q3 price list.")  # fmt: skip
    # Whose a term is (docs/notes-scanner.md, contexts): keep the customer's clinic, the pet, the order line.
    context_decoy, beside = (
        "decoy note (an organisation, a thing, an animal or a title)",
        "sensitive note beside an organisation, a thing or an animal",
    )
    s.contact(context_decoy, contacted=recent, domain="kappa.example.com", company="Kappa Components Ltd",
              country="UK", subscriptions=b2b, note="Mosque committee wants a quote for 200 chairs.")  # fmt: skip
    s.contact(context_decoy, contacted=recent, domain="orbis-medical.example.com", company="Orbis Médical SA",
              subscriptions=b2b, note="Le chien de Mme Martin a le diabète, elle prend la gamme senior.")  # fmt: skip
    s.contact(context_decoy, contacted=recent, domain="kappa.example.com", company="Kappa Components Ltd",
              country="UK", subscriptions=b2b,
              note="Ordered 80 x sertraline 50mg for the pharmacy counter.")  # fmt: skip
    s.contact(beside, contacted=recent, domain="kappa.example.com", company="Kappa Components Ltd", country="UK",
              subscriptions=b2b, note="Her cat is at the vet again. She is on chemo herself until May.",
              note_terms=("chemo",), note_kept=("Her cat is at the vet again.",))  # fmt: skip
    return hub


# -- running gomme on it -----------------------------------------------------------------------------------------------

runner = CliRunner()


def run_hubspot(workdir: Path, now: dt.datetime | None = None) -> Run:
    """Builds and serves the portal, writes the admin's config, dry run, apply, audit verify; judges every label."""
    hub = build_hubspot_portal(now)
    state_url = f"sqlite:///{workdir}/hs-state.db"
    config = workdir / "hs-config.toml"
    env = {TOKEN_ENV: TOKEN}
    outputs: dict[str, str] = {}
    with hub.fake:
        config_text = CONFIG.format(state_url=state_url, token_env=TOKEN_ENV, url=hub.fake.url,
                                    former_stage=FORMER_CUSTOMER_STAGE, dash=DASH)  # fmt: skip
        config.write_text(config_text)
        base = ["--config", str(config), "--log-format", "json"]
        before = hub.snapshot()
        dry = runner.invoke(app, [*base, "sweep"], env=env)
        dry_run_wrote = hub.snapshot() != before
        applied = runner.invoke(app, [*base, "sweep", "--apply"], env=env)
        verified = runner.invoke(app, [*base, "audit", "verify"], env=env)
        verdicts = hub.judge(before)
        shown = config_text.replace(hub.fake.url, "http://127.0.0.1:<port>")
    secrets = hub.identities()
    for name, result in (("dry run", dry), ("apply", applied), ("audit verify", verified)):
        outputs[name] = scrub(result.output + (repr(result.exception) if result.exception else ""), secrets)
    return Run("hubspot", verdicts, dry.exit_code, applied.exit_code, verified.exit_code, dry_run_wrote, outputs, shown)
