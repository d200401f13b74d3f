"""Free-text country → ISO 3166-1 alpha-2, the one lookup every connector uses.

Why: CRMs keep countries as people typed them. Salesforce orgs without State/Country picklists have a free-text
`MailingCountry`, HubSpot's `country` property is free text, so one org holds "France", "FRANCE ", "Allemagne",
"Deutschland", "U.K.", "Royaume-Uni", "Espana", "DEU"... Rules that depend on where a person lives need one code.

How: every name pycountry knows for a country (ISO `name`, `official_name`, `common_name`), in English and in the
EU/EEA languages it ships translations for (its bundled gettext catalogues, domain ``iso3166-1``), plus the alpha-2
and alpha-3 codes, plus a few generic derivations (inverted "Korea, Republic of" forms, parentheticals, German
umlauts spelt oe/ae/ue) and a small alias table for what ISO does not name but people type ("UK", "USA", "Holland").
Input and names go through the same normalisation (case, accents, punctuation, spacing, a leading "the").

What is never guessed: there is no fuzzy matching, no prefix matching, no "closest name". A value that is not in the
lookup after normalisation is None. A name that two different countries share (say "Korea", which the inverted forms
of both KR and KP give) is None too, never one of them. Numeric codes ("250") are not indexed: in a country field a
number is more likely a postcode than ISO 3166-1 numeric. Derived forms never override a name ISO gives: "Congo" is
the ISO short name of CG, so it stays CG even though CD's inverted name starts with "Congo"; the derived form is
dropped instead.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Final

import pycountry

__all__ = ["LANGUAGES", "ambiguous_names", "country_code", "indexed_names", "languages_used"]

# English (the msgids) plus the EU/EEA languages. Luxembourgish ("lb") is wanted but pycountry ships no catalogue for
# it; a language pycountry does not ship is skipped quietly, see `_translations`.
LANGUAGES: Final[tuple[str, ...]] = (
    "fr", "de", "es", "it", "nl", "pt", "pl", "sv", "da", "fi", "cs", "sk", "hu", "ro", "bg", "el", "hr", "sl",
    "et", "lv", "lt", "ga", "mt", "lb",
    "is", "nb_NO", "nn",  # EEA, outside the EU: Iceland, Norway (Bokmål, Nynorsk)
)  # fmt: skip

_NAME_FIELDS: Final = ("name", "official_name", "common_name")
_CODE_FIELDS: Final = ("alpha_2", "alpha_3")

# What ISO 3166-1 / pycountry does not name but people commonly type in a CRM country field. Nothing else is
# hand-written: every other name comes from pycountry. Keys go through the same normalisation as the input, so
# "U.K." and "u.k" are one entry.
_ALIASES: Final[Mapping[str, str]] = {
    # GB's ISO names are "United Kingdom" / "...of Great Britain and Northern Ireland"; "UK" is not its ISO code
    # (GB is), yet it is what most people type, with or without dots.
    "UK": "GB",
    "U.K.": "GB",
    # The island and the union's historical short names, which people use for the whole state.
    "Great Britain": "GB",
    "Britain": "GB",
    # The constituent countries: a person's address in one of them is in GB for every rule gomme applies.
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    # "USA" is the alpha-3 code already; the dotted and colloquial forms are not ISO.
    "U.S.": "US",
    "U.S.A.": "US",
    "US of A": "US",
    # In a country field "America" means the United States (ISO names no country "America").
    "America": "US",
    # The Netherlands' everyday name in English and German; ISO only names "Netherlands" (Holland is two provinces).
    "Holland": "NL",
    # The EU's own two-letter code for Greece (Interinstitutional Style Guide), used in EU VAT numbers and forms.
    "EL": "GR",
    # Names the bundled catalogues lack: English usage before "Türkiye", and Luxembourg in Luxembourgish.
    "Turkey": "TR",
    "Lëtzebuerg": "LU",
}
# Values that are valid codes but, in a CRM's country field, mean "not available": left unknown, never Namibia.
_NOT_A_COUNTRY: Final[frozenset[str]] = frozenset({"na", "n a"})

# Letters that NFKD does not split into base + mark, folded to what people type on a keyboard without them.
_FOLD: Final = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ħ": "h",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ð": "d",
        "\N{LATIN SMALL LETTER DOTLESS I}": "i",
    }
)
# German umlauts as written without them: "Oesterreich", "Tuerkei". Only applied when indexing, as an extra form.
_UMLAUTS: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_SEPARATORS: Final = re.compile(r"[\W_]+")
_PARENTHETICAL: Final = re.compile(r"^(?P<outer>[^()]+?)\s*\((?P<inner>[^()]+)\)\s*$")


def _normal_form(text: str, *, umlauts: bool = False) -> str:
    """Case, accents, punctuation and spacing folded away; a leading English "the" dropped."""
    if text.isascii():
        bare = text.casefold()
    else:
        folded = unicodedata.normalize("NFC", text).casefold()
        if umlauts:
            folded = folded.translate(_UMLAUTS)
        folded = folded.translate(_FOLD)
        bare = "".join(ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch))
    spaced = _SEPARATORS.sub(" ", bare).strip()
    return spaced.removeprefix("the ")


@lru_cache(maxsize=4096)
def _normalise(value: str) -> str:
    """`_normal_form` of an input value, memoised: a CRM holds a few hundred distinct spellings, many times over."""
    return _normal_form(value)


@dataclass(frozen=True, slots=True)
class _Lookup:
    codes: Mapping[str, str]  # normalised name → alpha-2
    ambiguous: frozenset[str]  # normalised names that two or more countries share: None, never a guess
    languages: tuple[str, ...]  # the translation catalogues actually read, "en" first


def _translations() -> Iterator[tuple[str, gettext.NullTranslations]]:
    yield "en", gettext.NullTranslations()
    for language in LANGUAGES:
        try:
            catalogue = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=False)
        except OSError:  # pycountry ships no catalogue for this language
            continue
        yield language, catalogue


def _derived(name: str) -> Iterator[str]:
    """Other forms of one ISO name: "Korea, Republic of" → "Republic of Korea", "Korea"; "A (B)" → "A", "B"."""
    match = _PARENTHETICAL.match(name)
    if match:
        yield match["outer"]
        yield match["inner"]
    head, comma, tail = name.partition(",")
    if comma and "," not in tail and head.strip() and tail.strip():
        yield f"{tail.strip()} {head.strip()}"
        yield head


def _keyed(texts: Mapping[str, set[str]], *, umlauts: bool = False) -> dict[str, set[str]]:
    """Texts → codes, re-keyed by normal form (each distinct text normalised once; most repeat across languages)."""
    index: dict[str, set[str]] = {}
    for text, codes in texts.items():
        key = _normal_form(text, umlauts=umlauts)
        if key:
            index.setdefault(key, set()).update(codes)
    return index


def _has_umlaut(text: str) -> bool:
    return any(ch in "äöüÄÖÜ" for ch in unicodedata.normalize("NFC", text))


def _names(country: pycountry.db.Country) -> Iterable[str]:
    for field in _NAME_FIELDS:
        value = getattr(country, field, None)
        if isinstance(value, str) and value:
            yield value


@cache
def _lookup() -> _Lookup:
    # Primary: codes, ISO names in every language, aliases. Derived: forms computed from those names; a derived form
    # only counts when no primary name has the same key and no other country derives it too.
    names: dict[str, set[str]] = {}
    forms: dict[str, set[str]] = {}
    languages: list[str] = []
    countries = list(pycountry.countries)
    for language, catalogue in _translations():
        languages.append(language)
        for country in countries:
            for name in _names(country):
                local = catalogue.gettext(name)
                names.setdefault(local, set()).add(country.alpha_2)
                for form in _derived(local):
                    forms.setdefault(form, set()).add(country.alpha_2)
    for country in countries:
        for field in _CODE_FIELDS:
            names.setdefault(getattr(country, field), set()).add(country.alpha_2)
    for alias, code in _ALIASES.items():
        names.setdefault(alias, set()).add(code)

    primary = _keyed(names)
    derived = _keyed(forms)
    with_umlauts = {text: codes for text, codes in (*names.items(), *forms.items()) if _has_umlaut(text)}
    for key, found in _keyed(with_umlauts, umlauts=True).items():
        derived.setdefault(key, set()).update(found)

    codes: dict[str, str] = {}
    ambiguous: set[str] = set()
    for key, found in (*primary.items(), *((k, v) for k, v in derived.items() if k not in primary)):
        if key in _NOT_A_COUNTRY:
            continue
        if len(found) == 1:
            codes[key] = next(iter(found))
        else:
            ambiguous.add(key)
    return _Lookup(codes=codes, ambiguous=frozenset(ambiguous), languages=tuple(languages))


def country_code(value: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code (upper case) of a free-text country, or None when empty, unknown or ambiguous."""
    if value is None:
        return None
    key = _normalise(value)
    if not key:
        return None
    return _lookup().codes.get(key)


def ambiguous_names() -> frozenset[str]:
    """The normalised names two or more countries share, which `country_code` maps to None (for tests, diagnostics)."""
    return _lookup().ambiguous


def indexed_names() -> int:
    """How many distinct normalised names resolve to a country."""
    return len(_lookup().codes)


def languages_used() -> tuple[str, ...]:
    """The languages whose pycountry catalogues the lookup was built from ("en" first); missing ones are skipped."""
    return _lookup().languages
