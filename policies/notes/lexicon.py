"""Lexicons as TOML data (one file per language) compiled into word-boundary regexes over folded text.

Term syntax: words in natural spelling (accents and case are folded on load); `*` ending a word = any
ending, `*` starting a word = any beginning (German compounds); a space between words matches any run of
spaces or punctuation. `negative` phrases use the same syntax: a term inside one is not a hit.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

from gomme.policies.notes.text import fold

LEXICONS_PACKAGE = "gomme.policies.notes"


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
LANGUAGES: tuple[str, ...] = ("fr", "en", "de")

# In folded text ([a-z0-9 ] only) words are separated by spaces, and `*` stands for letters and digits.
_SPECIAL = {" ": " +", "*": "[a-z0-9]*"}
_Trie = dict[str, "_Trie"]
_END, _STAR = "", "*"


@dataclass(frozen=True)  # no slots: the compiled patterns are cached on the instance
class Lexicon:
    """One language: terms per category, negative contexts, and stopwords that recognise the language."""

    language: str
    terms: Mapping[Category, tuple[str, ...]]
    negative: tuple[str, ...]
    stopwords: frozenset[str]

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        """One regex for every term of the language, a single trie (use with `find`, then `category`)."""
        return bounded(term for terms in self.terms.values() for term in terms)

    def category(self, matched: str) -> Category:
        """The category of a folded term the pattern matched; the first in `Category` order if several."""
        for category, pattern in self._by_category:
            if pattern.fullmatch(matched):
                return category
        raise ValueError("not a term of this lexicon")  # `pattern` only matches terms: unreachable

    @functools.cached_property
    def _by_category(self) -> tuple[tuple[Category, re.Pattern[str]], ...]:
        return tuple((c, re.compile(term_regex(self.terms[c]))) for c in Category if self.terms.get(c))


def load_lexicon(language: str) -> Lexicon:
    """Read `lexicons/<language>.toml`, folding every term."""
    path = resources.files(LEXICONS_PACKAGE).joinpath("lexicons", f"{language}.toml")
    data = tomllib.loads(path.read_text("utf-8"))
    terms = {Category(name): tuple(_fold_term(t) for t in values) for name, values in data["categories"].items()}
    negative = tuple(_fold_term(t) for t in data.get("negative", ()))
    return Lexicon(language, terms, negative, frozenset(fold(w) for w in data.get("stopwords", ())))


@functools.cache
def lexicon(language: str) -> Lexicon:
    """The shipped lexicon of a language, loaded once."""
    return load_lexicon(language)


def bounded(terms: Iterable[str]) -> re.Pattern[str]:
    """The terms as whole words of folded text (use with `find`)."""
    return re.compile(" (?:" + term_regex(terms) + ")(?![a-z0-9])")


def find(pattern: re.Pattern[str], folded: str) -> list[tuple[int, int]]:
    """The (start, end) spans of the whole-word matches in folded text.

    The patterns start with a literal space, which the regex engine jumps to without trying the
    positions in between; `find` supplies the space before the first word and removes it from spans.
    """
    return [(match.start(), match.end() - 1) for match in pattern.finditer(" " + folded)]


def term_regex(terms: Iterable[str]) -> str:
    """A trie-shaped alternation of the terms, so the regex engine tries each first letter once."""
    trie: _Trie = {}
    for term in terms:
        node = trie
        for symbol in _symbols(term):
            node = node.setdefault(symbol, {})
        node[_END] = {}
    return _emit(trie)


def _fold_term(term: str) -> str:
    """A term folded like the text it is matched against, keeping its `*` wildcards."""
    return " ".join(_STAR.join(fold(part) for part in term.split(_STAR)).split())


def split_infix(terms: Iterable[str]) -> tuple[list[str], list[str]]:
    """Terms anchored at a word start, and the stems of `*`-prefixed ones (found anywhere in a word)."""
    anchored, infix = [], []
    for term in terms:
        if term.startswith(_STAR):
            infix.append(term.split()[0].strip(_STAR))
        else:
            anchored.append(term)
    return anchored, infix


def _symbols(term: str) -> list[str]:
    symbols: list[str] = []
    for index, word in enumerate(term.split()):
        if index:
            symbols.append(" ")
        symbols.extend(_STAR if char == _STAR else char for char in word)
    return symbols


def _emit(node: _Trie) -> str:
    alternatives = [
        _SPECIAL.get(symbol, re.escape(symbol)) + _emit(child) for symbol, child in sorted(node.items()) if symbol
    ]
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if _END in node else body
