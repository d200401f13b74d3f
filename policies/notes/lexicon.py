"""The scanner's data: a lexicon per language and entity lists per country, TOML files read into entries.

A lexicon (`lexicons/<language>.toml`, docs/notes-scanner.md) holds:
- `stopwords`: words that tell the sentence's language;
- `[cues]`: words that show a sentence speaks of a person (`person`), of membership or a vote (`member`), of
  someone's origin (`origin`), or that a term beside them qualifies a thing (`not_person`: a company, a market,
  a language), or that a term before them names a topic (`topic`: a webinar, a kit, road closures);
- `negative`: phrases inside which nothing is a hit (street and company names, idioms, IT jargon);
- `[terms]`: per category, entries that are sensitive wherever they stand;
- `[cued.<cue>]`: per category, entries sensitive only with that cue in the sentence and no `not_person` cue
  beside them (a clinic that is a customer, a nationality that is a supplier's); `female` and `male` ones also
  need no cue of the other (a partner's gender against the person's: "Mme Garcia est venue avec sa femme").
An entity list (`entities/<country>.toml`) names the country's parties and unions: `names` need a person or
membership cue, `ambiguous` ones a membership cue. Entities are matched word for word in every language.
"""

from __future__ import annotations

import enum
import functools
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from gomme.policies.notes.patterns import Phrase, compile_phrase
from gomme.policies.notes.text import fold

DATA_PACKAGE = "gomme.policies.notes"
LANGUAGES: tuple[str, ...] = ("fr", "en", "de")


class Category(StrEnum):
    """What a sensitive term reveals: the Art 9(1) categories, Art 10 criminal data, and insults."""

    HEALTH = "health"
    RACIAL_ETHNIC_ORIGIN = "racial_ethnic_origin"
    POLITICAL_OPINIONS = "political_opinions"
    RELIGIOUS_BELIEFS = "religious_beliefs"
    TRADE_UNION = "trade_union"
    GENETIC_BIOMETRIC = "genetic_biometric"
    SEX_LIFE = "sex_life"
    CRIMINAL = "criminal"
    INSULTING = "insulting"


ARTICLES: Mapping[Category, str] = {
    **{category: "Art 9(1)" for category in Category},
    Category.CRIMINAL: "Art 10",
    Category.INSULTING: "Art 5(1)(c), CNIL bloc-notes rule 3",
}


class Cue(StrEnum):
    """Context words a cued term needs (or, for `NOT_PERSON`, must not have beside it)."""

    PERSON = "person"
    MEMBER = "member"
    ORIGIN = "origin"
    NOT_PERSON = "not_person"
    GOODS = "goods"  # products, parts, shipments: things, and an origin right after them is theirs
    # The sentence speaks of a woman ("Mme", "elle"), or of a man: "sa femme" said of a woman is a same-sex
    # partner, said of a man it is not. A `female` term needs a woman in the sentence and no man, and conversely.
    FEMALE = "female"
    MALE = "male"
    # What a term names when a course, a kit, a role or a closure follows it ("Mental Health at Work webinar",
    # "HIV self test kits", "pride parade road closures"), or a phrase ending in a preposition precedes it ("head
    # of criminal litigation"): a topic, a product or an event, no person's trait.
    TOPIC = "topic"
    # Whose a term is when no person is: a pet's or a herd's ("le chien de Mme Martin a le diabète", "the stallion
    # tested positive for the HYPP marker"), a machine's or a deal's said as a figure of speech ("le serveur est
    # malade", "Projekt wird künstlich beatmet", "ce logiciel est débile"), an institution's that buys or is
    # visited ("Suchtklinik Haus Lindenhof bestellt", "mosque committee wants a quote"). contexts.py reads them.
    ANIMAL = "animal"
    THING = "thing"
    INSTITUTION = "institution"


class Role(enum.Enum):
    TERM = "term"  # sensitive
    NEGATIVE = "negative"  # a phrase that clears the terms inside it
    CUE = "cue"


@dataclass(frozen=True, slots=True)
class Entry:
    """One compiled lexicon line and what it does."""

    phrase: Phrase
    role: Role
    category: Category | None = None  # terms
    needs: Cue | None = None  # cued terms: the cue the sentence must show
    cue: Cue | None = None  # cues: which one


@dataclass(frozen=True)
class Lexicon:
    """One language's entries and stopwords."""

    language: str
    entries: tuple[Entry, ...]
    stopwords: frozenset[str]

    def terms(self, category: Category) -> Iterator[Entry]:
        return (entry for entry in self.entries if entry.role is Role.TERM and entry.category is category)


@functools.cache
def lexicon(language: str) -> Lexicon:
    """The shipped lexicon of a language, read and compiled once."""
    return load_lexicon(language)


def load_lexicon(language: str) -> Lexicon:
    data = _read("lexicons", f"{language}.toml")
    entries: list[Entry] = []
    for cue in Cue:
        entries += (Entry(compile_phrase(t, language), Role.CUE, cue=cue) for t in data["cues"].get(cue.value, ()))
    entries += (Entry(compile_phrase(t, language), Role.NEGATIVE) for t in data.get("negative", ()))
    for name, terms in data.get("terms", {}).items():
        entries += (Entry(compile_phrase(t, language), Role.TERM, Category(name)) for t in terms)
    for cue_name, per_category in data.get("cued", {}).items():
        needs = Cue(cue_name)
        for name, terms in per_category.items():
            entries += (Entry(compile_phrase(t, language), Role.TERM, Category(name), needs) for t in terms)
    stopwords = frozenset(fold(word).strip() for word in data.get("stopwords", ()))
    return Lexicon(language, tuple(entries), stopwords)


@functools.cache
def entities() -> tuple[Entry, ...]:
    """Every country's named parties and unions, as entries matched word for word in every language."""
    found: list[Entry] = []
    folder = resources.files(DATA_PACKAGE).joinpath("entities")
    for item in sorted(folder.iterdir(), key=lambda item: item.name):
        if not item.name.endswith(".toml"):
            continue
        data = _read("entities", item.name)
        for name in (Category.POLITICAL_OPINIONS, Category.TRADE_UNION):
            table = data.get(name.value, {})
            found += (Entry(compile_phrase(t, None), Role.TERM, name, Cue.PERSON) for t in table.get("names", ()))
            found += (Entry(compile_phrase(t, None), Role.TERM, name, Cue.MEMBER) for t in table.get("ambiguous", ()))
    return tuple(found)


def frequent(language: str) -> tuple[str, ...]:
    """Words nearly every note of the language holds (`frequent.toml`): never how a phrase is searched for."""
    return tuple(_frequent().get(language, ()))


@functools.cache
def common_words(language: str | None) -> frozenset[str]:
    """What nearly every note of the language holds (frequent words and stopwords): never a phrase's anchor.

    `None` (entity lists, matched in every language): the common words of all of them.
    """
    languages = LANGUAGES if language is None else (language,)
    return frozenset(word for each in languages for word in (*frequent(each), *lexicon(each).stopwords))


@functools.cache
def titles() -> frozenset[str]:
    """Forms of address in every language (`titles.toml`): a capitalised word right after one is a surname."""
    data = tomllib.loads(resources.files(DATA_PACKAGE).joinpath("titles.toml").read_text("utf-8"))
    return frozenset(fold(title).strip() for language in LANGUAGES for title in data.get(language, ()))


@functools.cache
def context_words(name: str) -> frozenset[str]:
    """Table `name` of `context_words.toml`: the words of every language's list (and `any`), folded."""
    table = _context_words()[name]
    return frozenset(fold(word).strip() for words in table.values() for word in words)


@functools.cache
def _context_words() -> dict[str, dict[str, list[str]]]:
    return tomllib.loads(resources.files(DATA_PACKAGE).joinpath("context_words.toml").read_text("utf-8"))


@functools.cache
def _frequent() -> dict[str, list[str]]:
    return tomllib.loads(resources.files(DATA_PACKAGE).joinpath("frequent.toml").read_text("utf-8"))


def _read(folder: str, name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files(DATA_PACKAGE).joinpath(folder, name).read_text("utf-8"))
