"""Lexicon entries compiled into word patterns, and the search keys that find them fast.

An entry is a phrase in natural spelling. Each of its words becomes one `WordPattern`:

- a plain word is matched by its stem (`stems.py`), so one form finds them all: "hospitaliser" finds
  "hospitalisée", "hospitalisees", "hospitalisation";
- `mot*` matches any word starting with "mot", `*teil` any word ending with it (German endings allowed),
  `*teil*` any word containing it: German compounds (Krankenhausaufenthalt, Gewerkschaftsbeitrag);
- `=mot` matches the folded word itself, not its stem: French agreement tells "venue" from "venu", which
  stem alike, and "=achete" is not "acheteuse";
- entity names (parties, unions) are matched word for word, folded but not stemmed;
- `{female}` and `{male}` match a first name of that gender (first_names.py): "his partner {male}".

Every pattern also yields a search key: a piece of folded text that any word it matches must contain (a word
start for anchored patterns: " hospitali"), so one Aho-Corasick pass over a note finds every candidate.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from gomme.policies.notes.first_names import GENDERS, first_names
from gomme.policies.notes.stems import normalise, stemmer
from gomme.policies.notes.text import fold

STAR = "*"
EXACT = "="  # before a word: that word as written (folded), not its stem
# German inflection after the head of a compound: "Brustkrebses", "Gewerkschaftsmitgliedern".
GERMAN_ENDINGS = ("", "e", "en", "es", "s", "n", "er", "em", "ern")
_MIN_KEY = 2
_STAR_WORD = "qqstarqq"  # a `*` while folding, which would turn it into a space
_EXACT_WORD = "qqexactqq"  # a leading `=` while folding
_NAME_WORDS = {f"qq{gender}qq": gender for gender in GENDERS}  # `{female}`, `{male}` while folding
_NAME_LEMMA = "name"  # what a lemma says for a first name: never the name
_SHORT = 4  # a stem key shorter than this is searched as the whole word (the words stemmed alike are missed)
# Spellings without umlauts or ß (Gewerkschaftsfuehrer, Strasse): both find the folded umlaut word.
_GERMAN_SPELLINGS = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}


class Shape(enum.Enum):
    """How a word pattern matches a folded word."""

    STEM = "stem"  # the word's stem equals the pattern's
    EXACT = "exact"  # the folded word itself
    PREFIX = "prefix"  # `mot*`
    SUFFIX = "suffix"  # `*teil`: the word ends with it (German endings allowed)
    INFIX = "infix"  # `*teil*`: anywhere inside the word
    NAME = "name"  # `{female}`, `{male}`: a first name of that gender


@dataclass(frozen=True, slots=True)
class WordPattern:
    shape: Shape
    text: str  # the stem, the exact word, or the folded part around the stars
    keys: tuple[str, ...]  # search keys: every word the pattern matches contains one of them
    # A stem the stemmer cut two letters or more from ("säufer" → "sauf", "davidstern" → "david", "sectioned" →
    # "section") is another word, whole ("sauf", "David", "section"): the bare stem is no form of the entry.
    shortest: int = 0
    # Other spellings an exact word is written in (German without umlauts: "=gefängnisseelsorgerin" is also
    # "gefaengnisseelsorgerin").
    alternatives: tuple[str, ...] = ()
    # Keys of anchored patterns start at a word start (a space before them in the searched text).
    anchored: bool = field(init=False)
    # How specific the keys are: a whole-word key ("op ") is as specific as a longer prefix.
    weight: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "anchored", self.shape in (Shape.STEM, Shape.EXACT, Shape.PREFIX, Shape.NAME))
        # A name slot is never how a phrase is searched for: its partner word is ("his partner {male}").
        weight = 0 if self.shape is Shape.NAME else min(len(key.strip()) + 3 * key.endswith(" ") for key in self.keys)
        object.__setattr__(self, "weight", weight)

    def matches(self, word: str, stem: str) -> bool:
        """Does the folded `word` (whose stem is `stem` in the entry's language) match?"""
        if self.shape is Shape.STEM:
            return stem == self.text and len(word) >= self.shortest
        if self.shape is Shape.EXACT:
            return word == self.text or word in self.alternatives
        if self.shape is Shape.PREFIX:
            return word.startswith(self.text)
        if self.shape is Shape.SUFFIX:
            return any(word.endswith(self.text + ending) for ending in GERMAN_ENDINGS)
        if self.shape is Shape.NAME:
            return word in first_names(self.text)
        return self.text in word


@dataclass(frozen=True, slots=True)
class Phrase:
    """A compiled entry: its words in order, the language that stems them (None: exact words), its lemma."""

    words: tuple[WordPattern, ...]
    language: str | None
    lemma: str  # the entry folded, stars removed: what explanations name (never the note's own words)


def compile_phrase(entry: str, language: str | None) -> Phrase:
    """`entry` as written in a lexicon (stemmed with `language`) or an entity list (`language` None: exact)."""
    variants = _spellings(entry, language)
    words_per_variant = [fold(variant).split() for variant in variants]
    folded = words_per_variant[0]
    if not folded or any(len(words) != len(folded) for words in words_per_variant):
        raise ValueError(f"lexicon entry {entry!r} has no word, or spellings with different word counts")
    patterns = tuple(
        _word_pattern(tuple(words[index] for words in words_per_variant), language) for index in range(len(folded))
    )
    lemma = " ".join(_lemma_word(word) for word in folded)
    return Phrase(patterns, language, lemma)


def _lemma_word(word: str) -> str:
    """A folded entry word without its marks; a name slot is said "name", never a name."""
    return _NAME_LEMMA if word in _NAME_WORDS else word.replace(_STAR_WORD, "").removeprefix(_EXACT_WORD)


def most_specific(phrase: Phrase, common: frozenset[str], besides: int | None = None) -> int:
    """The index of the phrase's most specific word (other than word `besides`): how the phrase is searched for.

    "est à l'hôpital" is found through "hopital", never through "a" or "est", which most notes hold (`common`).
    """
    lemma = phrase.lemma.split()
    aligned = len(lemma) == len(phrase.words)
    best, best_rank = -1, (False, -1, -1)
    for index, pattern in enumerate(phrase.words):
        if index == besides:
            continue
        rank = (not aligned or lemma[index] not in common, pattern.weight, index)
        if rank > best_rank:
            best, best_rank = index, rank
    return best


def fold_term(entry: str) -> str:
    """An entry folded like the text it is matched against, keeping its `*`."""
    return " ".join(STAR.join(fold(part) for part in entry.split(STAR)).split())


def _spellings(entry: str, language: str | None) -> list[str]:
    """The entry, and for German its spelling without umlauts or ß, stars kept."""
    variants = [entry]
    if language == "de" and any(char in entry for char in _GERMAN_SPELLINGS):
        variants.append("".join(_GERMAN_SPELLINGS.get(char, char) for char in entry))
    return [_protect_stars(variant) for variant in variants]


def _protect_stars(entry: str) -> str:
    # `fold` turns `*` into a space, as it would any mark outside [a-z0-9]: stars travel as letters.
    marked = " ".join(_EXACT_WORD + word[1:] if word.startswith(EXACT) else word for word in entry.split())
    for marker, gender in _NAME_WORDS.items():
        marked = marked.replace("{" + gender + "}", marker)
    return marked.replace(STAR, _STAR_WORD)


_CUT = 2  # letters a stemmer cuts from an entry beyond which the bare stem is another word


@functools.cache  # lexicons repeat their words across thousands of phrases: each is compiled once
def _word_pattern(spellings: tuple[str, ...], language: str | None) -> WordPattern:
    star = _STAR_WORD
    word = spellings[0]
    if word in _NAME_WORDS:
        gender = _NAME_WORDS[word]
        names = sorted(first_names(gender))
        return WordPattern(Shape.NAME, gender, _keys([name + " " for name in names], anchored=True))
    text = word.replace(star, "")
    if not text:
        raise ValueError("a lexicon word is only a `*`")
    plain = [spelling.replace(star, "") for spelling in spellings]
    if word.startswith(star) and word.endswith(star):
        return WordPattern(Shape.INFIX, text, _keys(plain, anchored=False))
    if word.startswith(star):
        return WordPattern(Shape.SUFFIX, text, _keys(plain, anchored=False))
    if word.endswith(star):
        return WordPattern(Shape.PREFIX, text, _keys(plain, anchored=True))
    if language is None or word.startswith(_EXACT_WORD):
        plain = [spelling.removeprefix(_EXACT_WORD) for spelling in plain]
        others = tuple(dict.fromkeys(part for part in plain[1:] if part != plain[0]))
        exact_keys = _keys([part + " " for part in plain], anchored=True)
        return WordPattern(Shape.EXACT, plain[0], exact_keys, alternatives=others)
    stem = stemmer(language)([text])[0]
    shortest = len(stem) + 1 if len(text) - len(stem) >= _CUT else 0
    keys = [_stem_key(spelling, language) for spelling in plain]
    if min(len(key) for key in keys) < _SHORT:  # "con", "op": as a prefix, every "contrat" would be a suspect
        return WordPattern(Shape.STEM, stem, _keys([spelling + " " for spelling in plain], anchored=True), shortest)
    return WordPattern(Shape.STEM, stem, _keys(keys, anchored=True), shortest)


def _stem_key(word: str, language: str) -> str:
    """A prefix that every word with the same stem starts with (`word` in one of the entry's spellings).

    Stemmers cut endings and rewrite some letters (English "injury" → "injuri", German "ue" → "u"), and
    `stems.py` evens out spellings, so the key is the longest start of the word that, normalised, still
    begins the stem.
    """
    stem = stemmer(language)([word])[0]
    for length in range(len(word), _MIN_KEY - 1, -1):
        if stem.startswith(normalise(language, word[:length])):
            return word[:length]
    return word[:_MIN_KEY]


def _keys(parts: Sequence[str], *, anchored: bool) -> tuple[str, ...]:
    unique = dict.fromkeys(" " + part if anchored else part for part in parts)
    return tuple(unique)
