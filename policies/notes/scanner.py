"""Finds sensitive terms in a note: a fast folded pre-check, then exact spans per sentence and language."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gomme.policies.notes.lexicon import LANGUAGES, Category, Lexicon, bounded, find, lexicon, split_infix, term_regex
from gomme.policies.notes.text import FOLDING_TABLE, Span, fold_bytes, sentences

_CLEARLY_OTHER = 2  # stopwords of another language, none of the term's: the sentence is not in its language


@dataclass(frozen=True, slots=True)
class NoteMatch:
    """One sensitive term: its span in the original note, what it reveals, and the lexicon that knew it."""

    start: int
    end: int
    category: Category
    language: str

    @property
    def span(self) -> Span:
        return (self.start, self.end)


class Scanner:
    """Scans notes with the lexicons of some languages, limited to some categories. Build it with `scanner()`."""

    def __init__(self, languages: Iterable[str], categories: Iterable[Category]) -> None:
        wanted = frozenset(categories)
        self.lexicons = tuple(_limited(lexicon(language), wanted) for language in languages)
        terms = [term for lex in self.lexicons for group in lex.terms.values() for term in group]
        self.suspect = _suspecter(*split_infix(terms))
        negatives = [phrase for language in LANGUAGES for phrase in lexicon(language).negative]
        self._negative = bounded(negatives) if negatives else None
        self._stopwords = {language: lexicon(language).stopwords for language in LANGUAGES}

    def scan(self, text: str) -> list[NoteMatch]:
        """Every sensitive term of `text` outside negative contexts, with spans in the original text."""
        if not self.suspect(text):
            return []
        folded = fold_bytes(text).decode("ascii")
        found: list[NoteMatch] = []
        for start, end in sentences(text):
            piece = folded[start:end]
            if self.suspect(piece):  # folding folded text changes nothing: the pre-check works per sentence
                found.extend(self._scan_sentence(piece, start))
        return found

    def _scan_sentence(self, folded: str, offset: int) -> list[NoteMatch]:
        hits = [(lex, a, b) for lex in self.lexicons for a, b in find(lex.pattern, folded)]
        if not hits:
            return []
        negative = find(self._negative, folded) if self._negative is not None else []
        spoken = self._languages_of(folded)
        found = []
        for lex, a, b in hits:
            if (spoken is None or lex.language in spoken) and not any(na <= a and b <= nb for na, nb in negative):
                found.append(NoteMatch(offset + a, offset + b, lex.category(folded[a:b]), lex.language))
        return found

    def _languages_of(self, folded: str) -> frozenset[str] | None:
        """The languages a sentence shows stopwords of, or None when it shows too few to tell."""
        words = set(folded.split())  # folded text is words of [a-z0-9] between spaces
        scores = {language: len(words & stopwords) for language, stopwords in self._stopwords.items()}
        if max(scores.values()) < _CLEARLY_OTHER:
            return None
        return frozenset(language for language, score in scores.items() if score)


def _suspecter(anchored: list[str], infix: list[str]) -> Callable[[str], bool]:
    """The pre-check `Scanner.suspect`: cheap, and False only when `scan` would find nothing.

    One C pass folds the text to [a-z0-9 ], then one regex looks for every term at once; it starts
    with a literal space, which the regex engine jumps to without trying the positions in between.
    A `*`-prefixed term costs one substring search.
    """
    pattern = " (?:" + term_regex(anchored) + ")(?![a-z0-9])"
    search = re.compile(pattern.encode()).search if anchored else lambda _: None
    stems = tuple(stem.encode() for stem in infix)

    def suspect(text: str) -> bool:
        folded = text.encode("latin-1", "replace").translate(FOLDING_TABLE)
        if search(b" " + folded) is not None:
            return True
        return any(stem in folded for stem in stems) if stems else False

    return suspect


def _limited(lex: Lexicon, categories: frozenset[Category]) -> Lexicon:
    terms = {category: terms for category, terms in lex.terms.items() if category in categories}
    return Lexicon(lex.language, terms, lex.negative, lex.stopwords)


@functools.lru_cache(maxsize=32)
def scanner(languages: tuple[str, ...] = LANGUAGES, categories: tuple[Category, ...] = tuple(Category)) -> Scanner:
    """A scanner for these languages and categories, compiled once per combination."""
    return Scanner(languages, categories)
