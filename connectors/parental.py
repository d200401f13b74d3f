"""Parental consent where CRMs record it in free text (Art 8(1)): a consent's capture source or explanation.

Neither Salesforce nor HubSpot has a parental-consent field (docs/clocks.md "Parental consent"): admins
write it where the consent is, e.g. Salesforce `ContactPointTypeConsent.CaptureSource` ("Formulaire
signé par le parent") or a HubSpot subscription's `legalBasisExplanation`. A phrase counts only when no
negation comes shortly before it ("no parental consent", "sans accord parental", "ohne Einwilligung der
Eltern" do not count): finding it keeps a child's record unrestricted, so a doubtful mention is no consent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

# FR/EN/DE defaults; matched on words, ignoring case and accents. Configurable per connector.
DEFAULT_PARENTAL_PHRASES: tuple[str, ...] = (
    # English
    "parent", "parents", "parental", "guardian", "legal guardian", "mother", "father",
    # French
    "parent", "parental", "parentale", "tuteur", "tutrice", "representant legal", "representante legale",
    "autorite parentale", "titulaire de l'autorite parentale", "mere", "pere",
    # German
    "eltern", "elternteil", "erziehungsberechtigt", "erziehungsberechtigte", "erziehungsberechtigter",
    "elterlich", "elterliche", "elterlichen", "vormund", "sorgeberechtigt", "sorgeberechtigte", "mutter", "vater",
)  # fmt: skip
_NEGATIONS = frozenset({
    "no", "not", "without", "missing", "pending", "awaiting", "refused", "declined", "never", "none",
    "sans", "pas", "aucun", "aucune", "manque", "manquant", "attente", "refus", "refuse", "jamais", "non",
    "ohne", "kein", "keine", "keiner", "nicht", "fehlt", "fehlend", "ausstehend", "abgelehnt",
})  # fmt: skip
_AFTER_NEGATIONS = frozenset({"missing", "pending", "refused", "declined", "absent", "manquant", "manquante",
                              "refuse", "refusee", "fehlt", "fehlend", "ausstehend", "abgelehnt", "verweigert"})
_WINDOW = 4  # words before a phrase in which a negation cancels it
# "parent company", "société mère": the organisation, not a parent.
_NOT_A_PERSON_AFTER = frozenset({"company", "companies", "organisation", "organization", "account", "group"})
_NOT_A_PERSON_BEFORE = frozenset({"societe", "maison", "entreprise", "groupe", "compagnie"})
_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in plain if not unicodedata.combining(char))
    return _WORD.findall(plain.replace("\u2019", "'"))


@lru_cache(maxsize=32)
def _phrases(phrases: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(tuple(_words(phrase)) for phrase in phrases if _words(phrase)))


def mentions_parental_consent(texts: Iterable[str | None], phrases: Sequence[str] = DEFAULT_PARENTAL_PHRASES) -> bool:
    """Whether one of the texts says a parent or guardian consented (a phrase, not negated just before)."""
    wanted = _phrases(tuple(phrases))
    for text in texts:
        if not text:
            continue
        words = _words(text)
        for start in range(len(words)):
            for phrase in wanted:
                end = start + len(phrase)
                found = tuple(words[start:end]) == phrase
                if found and not _negated(words, start, end) and _a_person(words, start, end):
                    return True
    return False


def _a_person(words: list[str], start: int, end: int) -> bool:
    after = words[end] if end < len(words) else ""
    before = words[start - 1] if start else ""
    return after not in _NOT_A_PERSON_AFTER and before not in _NOT_A_PERSON_BEFORE


def _negated(words: list[str], start: int, end: int) -> bool:
    before = words[max(0, start - _WINDOW) : start]
    after = words[end : end + 3]  # "Einwilligung der Eltern fehlt", "parental consent missing"
    return any(word in _NEGATIONS for word in before) or any(word in _AFTER_NEGATIONS for word in after)
