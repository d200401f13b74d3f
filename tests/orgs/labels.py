"""What must happen to each seeded person, and why: labels derived from the law, not from gomme.

Sources: docs/law.md (§2 prospecting rules, §3 consent, §4 children's ages, §5 rights, §6 retention, §7
anonymisation, §8 notes) and the `cnil` pack (policies/packs/cnil.toml), which applies them. Where the law leaves
the outcome uncertain the label is "keep", and the reason says so: a wrong destructive change is the worst failure.

Every category below states its expected outcome and the reason, next to each other. A seeded person references
one category (plus, optionally, a detail of its own). The reports print ids and categories only, never a name,
an email or a note.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Expected = Literal["keep", "restrict_email", "restrict_all", "anonymise", "redact_note"]
EXPECTED: tuple[Expected, ...] = ("keep", "restrict_email", "restrict_all", "anonymise", "redact_note")


@dataclass(frozen=True)
class Category:
    name: str
    expected: Expected
    reason: str


_UNCERTAIN = "The law leaves it uncertain, so keep: a wrong destructive change is the worst failure."

CATEGORIES: dict[str, Category] = {c.name: c for c in (
    # -- retention: prospects (docs/law.md §6 "Prospect"; cnil retention-prospect) -------------------------------------
    Category("prospect inactive >3y", "anonymise",
             "docs/law.md §6: a prospect's data is kept 3 years from collection or the last contact initiated by the "
             "prospect; the last contact is 4+ years old. End of period: delete or irreversibly anonymise (§6, §7); "
             "cnil `retention-prospect` anonymises."),
    Category("prospect never active, created >3y", "anonymise",
             "docs/law.md §6: with no contact at all, the 3 years run from collection (the record's creation, 5+ years "
             "ago); cnil `retention-prospect` falls back to created_at."),
    Category("prospect active", "keep",
             "docs/law.md §6: the last contact is under 3 years old, so the prospect period has not ended, "
             "however old the "
             "record itself is (decoy: created long ago, recent activity)."),
    Category("prospect, activity date in the future (scheduled event)", "keep",
             "Salesforce LastActivityDate is the latest due date of a closed task or an event, so a meeting planned "
             "next month puts it in the future: the relationship is live. Nothing shows 3 years without contact. "
             + _UNCERTAIN),
    Category("prospect inactive >3y, email opened recently", "anonymise",
             "docs/law.md §6 and the cnil pack: opening an email is not a contact initiated by the prospect and never "
             "restarts the clock; the last real contact is 4+ years old."),
    Category("prospect inactive >3y, clicked an email link <3y ago", "keep",
             "docs/law.md §6: a click on a link in an email IS a contact initiated by the prospect (CNIL référentiel, "
             "ewatchers.org); it restarts the 3 years, so the period has not ended."),
    # -- retention: customers (docs/law.md §6 "Customer..." rows; cnil retention-customer / retention-former-customer) -
    Category("customer, contract running", "keep",
             "docs/law.md §6 'Customer, contract management': kept for the duration of the commercial "
             "relationship; the "
             "contract end is in the future, so no retention rule applies even with old activity (decoy)."),
    Category("customer, contract ended <3y ago", "keep",
             "docs/law.md §6: 3 years after the end of the relationship; the contract ended about a year ago."),
    Category("customer stage, contract ended >3y, no later contact", "anonymise",
             "docs/law.md §6 'end of relationship in practice': the latest of contract end and last contact is 3+ "
             "years "
             "old; a stage still saying customer proves no ongoing relationship (docs/real-orgs.md §9). cnil "
             "`retention-customer` anonymises."),
    Category("customer without contract end, no activity >3y", "anonymise",
             "docs/law.md §6: a 'customer' with no contract end and no contact for 3 years is past the period (stages "
             "never move back by themselves, docs/real-orgs.md §9); cnil `retention-customer` anonymises."),
    Category("customer without contract end, never any activity", "keep",
             "cnil.toml keeps a customer with neither a contract end nor any activity ('nothing shows the relationship "
             "ended'); docs/law.md §6 reads it otherwise, as an interpretation. " + _UNCERTAIN),
    Category("former customer, contract ended >3y, no later contact", "anonymise",
             "docs/law.md §6 'Customer, used for prospecting': 3 years from the end of the relationship, the latest of "
             "contract end and last contact, both 3+ years old; cnil `retention-former-customer` anonymises."),
    Category("former customer, contract ended >3y, got in touch <3y ago", "keep",
             "docs/law.md §6 'end of relationship in practice': the relationship ends at the LATEST of contract "
             "end and "
             "last contact; a contact a year ago restarts the 3 years."),
    Category("former customer, contract ended <3y ago", "keep",
             "docs/law.md §6: the contract ended about a year ago, inside the 3 years."),
    Category("partner / other relationship, old activity", "keep",
             "Partners and 'other' contacts are neither prospects nor customers: the CNIL référentiel sets no period "
             "for them and the cnil pack has no rule. " + _UNCERTAIN),
    Category("no lifecycle stage, old activity", "keep",
             "The portal records no stage: prospect, customer, partner or supplier are all possible and only some of "
             "them have a CNIL period. " + _UNCERTAIN),
    # -- rights (docs/law.md §5) ---------------------------------------------------------------------------------------
    Category("erasure requested", "anonymise",
             "Art 17(1), docs/law.md §5: the person asked for erasure (Salesforce 'Forget this Individual', or the "
             "portal's erasure checkbox); cnil `erasure-request` anonymises (§7)."),
    Category("legal hold + erasure", "restrict_all",
             "Art 17(3)(e): data needed for legal claims is not erased; Art 18(2): it is only stored (restriction). "
             "cnil `legal-hold` caps the erasure to restrict_all."),
    Category("legal hold + retention expired", "restrict_all",
             "The retention period is over (prospect inactive 4+ years) but the record is under legal hold: Art 17(3)"
             "(e) and Art 18(2), restriction instead of anonymisation (cnil `legal-hold`)."),
    # -- children (docs/law.md §4, Art 8) ------------------------------------------------------------------------------
    Category("teenager at or above the country's age (free-text country)", "keep",
             "docs/law.md §4: FR 15, IT 14, ES 14, UK 13, BE 13; the person is at or above the age of the country "
             "written "
             "as free text ('France', 'Italia', 'España', 'Royaume-Uni', 'Belgique'), with a provable consent."),
    Category("child below the country's age, no parental consent", "restrict_all",
             "docs/law.md §4, Art 8(1): below the country's age (FR 15, DE 16: 'Deutschland', 'Allemagne'), "
             "consent as the "
             "basis and no parental consent recorded; cnil `minor` restricts processing."),
    Category("child below 13, country unknown", "restrict_all",
             "Art 8(1): no Member State may set the age below 13, so a 12-year-old relying on their own consent is "
             "below it whatever the junk country says; cnil `minor` (default 16) restricts."),
    Category("child, birth date typed as text dd/mm/yyyy", "restrict_all",
             "HubSpot's date_of_birth is free text; '25/03/2013'-style dates (day > 12, so only dd/mm/yyyy reads) "
             "give a 13-year-old in France (age 15), consent basis, no parental consent: Art 8(1), cnil `minor`."),
    Category("minor with parental consent recorded", "keep",
             "Art 8(1), docs/law.md §4: below the age, consent given or authorised by the holder of parental "
             "responsibility is valid; the evidence is in CaptureSource / legalBasisExplanation "
             "(docs/real-orgs.md §14)."),
    Category("adult, junk or blank country", "keep",
             "Adult in every country's table (docs/law.md §4); a junk country ('N/A', blank) changes nothing (decoy)."),
    Category("bad data: impossible or unreadable birth date", "keep",
             "A birth date of 1900-01-01, one in the future or 'N/A' is bad data, not evidence of a child (Art 8 needs "
             "a child); nothing else is due. " + _UNCERTAIN),
    # -- consent and prospecting rules (docs/law.md §2, §3, §11) -------------------------------------------------------
    Category("B2C with provable consent", "keep",
             "docs/law.md §2 (CPCE L.34-5): B2C email marketing needs an opt-in; it is recorded with its capture "
             "date and "
             "source (§3 Art 7(1), §11 'Consent proof')."),
    Category("B2C consent without a data-use purpose", "keep",
             "An email opt-in captured with date and source but no DataUsePurpose: consent to the contact point as a "
             "whole (docs/real-orgs.md §5); whether it covers marketing is not settled. " + _UNCERTAIN),
    Category("B2C without provable consent", "restrict_email",
             "docs/law.md §2: a private individual (person account, lead without a company or with their own name as "
             "company) needs an opt-in for email marketing; none is recorded, or it lacks its source (§11 'Consent "
             "proof': missing how → consent absent). cnil `consent-proof-email` restricts email."),
    Category("consent basis without proof", "restrict_email",
             "The portal records 'Freely given consent' as the basis but the subscription carries no legal basis and "
             "no explanation: nothing shows when or how consent was given (Art 7(1), docs/law.md §11 'Consent proof'); "
             "the cnil pack makes a contact whose basis is consent prove it, B2B included."),
    Category("B2C customer without consent (soft opt-in)", "keep",
             "docs/law.md §2, B2C exception 1: an existing customer may receive offers for analogous products "
             "without an "
             "opt-in (cnil `exempt_lifecycles`); the contract is running."),
    Category("B2B contact, no consent (opt-out regime)", "keep",
             "docs/law.md §2: a named person's professional address at a business may be prospected without consent "
             "(opt-out, CNIL 2005) when informed and related to their job; cnil `b2b_exempt_bases`."),
    Category("withdrawn consent / Don't Market while email still open", "restrict_email",
             "Art 7(3), Art 21(2)-(3): an objection to direct marketing is absolute. Salesforce 'Don't Market' on the "
             "Individual, or an OptOut consent row, while the email opt-out flag is still off; cnil "
             "`consent-withdrawn-email`."),
    Category("objection already honoured", "keep",
             "'Don't Market' or an unsubscribe that the CRM already enforces (email opt-out set, every type "
             "unsubscribed): nothing left to do."),
    Category("unsubscribed from one type, subscribed to another", "keep",
             "Consent is granular per purpose (Art 7(2), Recital 32/43): the person left the newsletter but kept "
             "product updates, and HubSpot enforces each type itself; nothing to change."),
    Category("subscribed with empty processing legal basis", "restrict_email",
             "docs/law.md §1(a) and §11 'Legal basis': GDPR settings are on and no legal basis for processing is "
             "recorded, yet the person is subscribed to marketing email (a subscription's own basis covers "
             "communicating on that type, not processing the person's data); cnil `processing-basis-email`."),
    Category("empty processing legal basis, not subscribed", "keep",
             "No basis recorded but no subscription either: no email marketing to stop, and the cnil pack judges only "
             "subscribed contacts. " + _UNCERTAIN),
    Category("legitimate interest, subscribed (B2B)", "keep",
             "docs/law.md §2: B2B prospecting on legitimate interest (opt-out regime), basis recorded on the "
             "contact and "
             "on the subscription; active."),
    # -- records and notes ------------------------------------------------------------------------------------------
    Category("converted lead", "keep",
             "A converted Lead is the frozen history of a conversion; the person lives on as the Contact. Converted "
             "leads must never be touched (README: converted Leads are skipped)."),
    Category("already anonymised", "keep",
             "Nothing identifying is left (marker last name, no name, email or phone); rewriting it is collateral."),
    Category("sensitive note", "redact_note",
             "docs/law.md §8: health (Art 9(1)), trade-union membership (Art 9(1)) or criminal data (Art 10) in a "
             "free-text note; cnil `sensitive-note` redacts the note, the record stays."),
    Category("decoy note (ordinary business text)", "keep",
             "'rue de la Santé', 'rue de l'Église', 'Union Street', 'Herr Krebs': street names and surnames, not Art 9 "
             "data (docs/law.md §8 examples are about people's health, beliefs, unions)."),
    Category("decoy note (an organisation, a thing, an animal or a title)", "keep",
             "docs/law.md §8: Art 9 data is about a natural person. A clinic or a rehab centre that is the customer, "
             "a forklift 'sick' again, a customer's dog with diabetes, a course titled 'Santé mentale au travail', "
             "a pharmacy's order of 80 packs of an antidepressant: no person's health (docs/notes-scanner.md, "
             "contexts)."),
    Category("sensitive note beside an organisation, a thing or an animal", "redact_note",
             "docs/law.md §8: the contact's own condition (chemotherapy, sick leave for burnout) is health data "
             "(Art 9(1)) even in a note that also speaks of a clinic customer, a machine or a pet; only the "
             "sentence holding it is redacted, the other sentence stays as written."),
    Category("private contact (no account), professional address", "restrict_email",
             "Issue #15 §5 (docs/clocks.md 'Audience'): a contact with no Account is B2C, whatever its address looks "
             "like; B2C email marketing needs a provable opt-in (docs/law.md §2) and it has none: email is restricted, "
             "nothing else changes."),
    Category("private contact, erasure requested", "anonymise",
             "Art 17(1): the erasure request applies whatever the contact's account (docs/real-orgs.md §3: "
             "private contacts "
             "are easy to miss)."),
    Category("placeholder account contact, nothing certain due", "keep",
             "A contact parked on a placeholder account (docs/real-orgs.md §3, data skew): the org does not say "
             "whether the "
             "person is a professional or a private individual, nor any lifecycle. " + _UNCERTAIN),
    Category("placeholder account contact, erasure requested", "anonymise",
             "Art 17(1): the erasure request applies whatever the account."),
    # -- the rest of the CRM ----------------------------------------------------------------------------------------
    Category("no stray rows (accounts, purposes, contact set)", "keep",
             "Salesforce business accounts and data-use purposes hold no one's data to act on; HubSpot's set of "
             "contacts, archive and blocklist must not move (anonymise is not delete): any change is collateral."),
)}  # fmt: skip


@dataclass(frozen=True)
class Label:
    """One seeded person's label: its category (hence expected outcome and reason), plus a detail of its own."""

    category: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")

    @property
    def expected(self) -> Expected:
        return CATEGORIES[self.category].expected

    @property
    def reason(self) -> str:
        return CATEGORIES[self.category].reason


# -- dates relative to the test's "now" (gomme's sweep reads the real clock) -------------------------------------------

YEAR = 365.25


@dataclass(frozen=True)
class Dates:
    """Dates at least ~2 months away from every 3-year boundary and birthday, so the run's clock never matters."""

    now: dt.datetime

    @property
    def today(self) -> dt.date:
        return self.now.date()

    def ago(self, years: float = 0, days: int = 0) -> dt.datetime:
        return self.now - dt.timedelta(days=round(years * YEAR) + days)

    def day_ago(self, years: float = 0, days: int = 0) -> dt.date:
        return self.ago(years, days).date()

    def ahead(self, years: float = 0, days: int = 0) -> dt.date:
        return (self.now + dt.timedelta(days=round(years * YEAR) + days)).date()

    def born(self, age: int) -> dt.date:
        """A birth date giving `age` today, with its birthday about 4 months away either side."""
        return self.day_ago(age, 120)

    def born_text_ddmmyyyy(self, age: int) -> str:
        """A birth date typed the French way, day > 12 so only dd/mm/yyyy can read it."""
        day = self.born(age)
        if day.day <= 12:
            day = day.replace(day=day.day + 14)  # still about 3-4 months from the birthday
        return day.strftime("%d/%m/%Y")


# -- verdicts and the per-category table -------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The outcome of one labelled person: `problems` name fields and rules only, never values."""

    crm: str
    record: str  # CRM id
    label: Label
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def table(verdicts: Iterable[Verdict], title: str = "") -> str:
    """Plain-text per-category table: category, expected, n, ok, wrong."""
    rows: dict[tuple[str, str], list[int]] = {}
    for verdict in verdicts:
        counts = rows.setdefault((verdict.label.category, verdict.label.expected), [0, 0, 0])
        counts[0] += 1
        counts[1 if verdict.ok else 2] += 1
    width = max([len(category) for category, _ in rows] + [8])
    lines = [title] if title else []
    lines.append(f"{'category':<{width}}  {'expected':<14} {'n':>3} {'ok':>3} {'wrong':>5}")
    for (category, expected), (n, ok, wrong) in sorted(rows.items(), key=lambda item: (item[1][2] == 0, item[0])):
        lines.append(f"{category:<{width}}  {expected:<14} {n:>3} {ok:>3} {wrong:>5}")
    total = [sum(c[i] for c in rows.values()) for i in range(3)]
    lines.append(f"{'TOTAL':<{width}}  {'':<14} {total[0]:>3} {total[1]:>3} {total[2]:>5}")
    return "\n".join(lines)


def misses(verdicts: Iterable[Verdict]) -> str:
    """One line per wrong record: CRM, id, category, expected, and what is wrong (field names only)."""
    return "\n".join(
        f"  {v.crm} {v.record} [{v.label.category}] expected {v.label.expected}: {'; '.join(v.problems)}"
        for v in verdicts
        if not v.ok
    )


def summary(verdicts: list[Verdict]) -> tuple[int, int, int, int]:
    """(due, due done, keep, collateral): due = labels other than keep."""
    due = [v for v in verdicts if v.label.expected != "keep"]
    keep = [v for v in verdicts if v.label.expected == "keep"]
    return len(due), sum(v.ok for v in due), len(keep), sum(not v.ok for v in keep)


@dataclass
class Run:
    """One CRM's run: the verdicts, the exit codes of `sweep` (dry run), `sweep --apply` and `audit verify`."""

    crm: str
    verdicts: list[Verdict]
    dry_code: int
    apply_code: int
    verify_code: int
    dry_run_wrote: bool
    outputs: dict[str, str]  # scrubbed of every seeded name, email and phone
    config: str

    @property
    def ok(self) -> bool:
        codes = (self.dry_code, self.apply_code, self.verify_code)
        return codes == (0, 0, 0) and not self.dry_run_wrote and all(v.ok for v in self.verdicts)

    def report(self, *, outputs: bool = False) -> str:
        due, done, keep, collateral = summary(self.verdicts)
        title = (f"== {self.crm}: due actions {done}/{due} done, collateral changes {collateral}/{keep} kept "
                 f"records; exit codes: sweep {self.dry_code}, sweep --apply {self.apply_code}, audit verify "
                 f"{self.verify_code}; dry run wrote: {self.dry_run_wrote}")  # fmt: skip
        lines = [table(self.verdicts, title)]
        wrong = misses(self.verdicts)
        if wrong:
            lines += ["misses (ids, categories, field names only):", wrong]
        if outputs:
            for name, text in self.outputs.items():
                lines += [f"-- gomme {name} (tail, names/emails/phones scrubbed):", text[-3000:]]
        return "\n".join(lines)


def ascii_name(text: str) -> str:
    """A name as the local part of a synthetic address."""
    table = str.maketrans("àâäçéèêëîïôöùûüÿ", "aaaceeeeiioouuuy")
    return re.sub(r"[^a-z]", "", text.lower().translate(table))


def scrub(text: str, secrets: list[str]) -> str:
    """Output safe to print: seeded names, emails and phones replaced, other email-shaped text masked."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:
            text = re.sub(re.escape(secret), "<pii>", text, flags=re.IGNORECASE)
    return re.sub(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", "<email>", text)
