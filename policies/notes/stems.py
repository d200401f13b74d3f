"""Word stems for the scanner: Snowball stemmers (PyStemmer) applied to folded words.

Folded text has no accents, and salespeople often write without them, so words are folded before they are
stemmed, on the lexicon side and the note side alike; the same pipeline on both sides is what makes a lexicon
entry written once ("hospitaliser") find every form ("hospitalisée", "hospitalisees", "hospitalisation").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import Stemmer

_ALGORITHMS = {"fr": "french", "en": "english", "de": "german"}


def _french(word: str) -> str:
    # "hospitalisée" folds to "hospitalisee", which the French stemmer (written for accented text) leaves as
    # "hospitalise"; the accented form's "ée" ending is what it removes.
    if word.endswith("ees"):
        return word[:-2] + "s"
    if word.endswith("ee"):
        return word[:-1]
    return word


def _german(word: str) -> str:
    # Umlauts fold to their vowel (ü → u) and ß to s, but many write "ue" and "ss": both spellings meet here.
    return word.replace("ae", "a").replace("oe", "o").replace("ue", "u").replace("ss", "s")


_ISE = re.compile(r"is(e|ed|es|ing|ation|ations)$")


def _english(word: str) -> str:
    # British "-ise" and American "-ize" spellings stem apart ("hospitalis", "hospitaliz"): meet on "-ize".
    return _ISE.sub(r"iz\1", word)


_NORMALISE: dict[str, Callable[[str], str]] = {"fr": _french, "de": _german, "en": _english}


def normalise(language: str, word: str) -> str:
    """The spelling a folded word is stemmed in (French "-ee", German "ue"/"ss", English "-ise" evened out)."""
    return _NORMALISE[language](word)


@functools.cache
def stemmer(language: str) -> Callable[[Sequence[str]], list[str]]:
    """`stems(words)` for folded words of a language: one C call for the whole list."""
    stem_words = Stemmer.Stemmer(_ALGORITHMS[language]).stemWords
    normalise = _NORMALISE[language]

    def stems(words: Sequence[str]) -> list[str]:
        found: list[str] = stem_words([normalise(word) for word in words])
        return found

    return stems


_KNOWN_STEMS = 30_000  # stems remembered per language: a sweep meets the same words again and again


@functools.cache
def stem_of(language: str) -> Callable[[str], str]:
    """`stem(word)` for one folded word of a language, remembered (within a bound): the scanner's hot path."""
    stems = stemmer(language)
    known: dict[str, str] = {}

    def stem(word: str) -> str:
        found = known.get(word)
        if found is None:
            if len(known) >= _KNOWN_STEMS:
                known.clear()
            found = known[word] = stems([word])[0]
        return found

    return stem


if __name__ == "__main__":  # `python -m gomme.policies.notes.stems fr mot mots ...`: see what a lexicon entry becomes
    import sys

    from gomme.policies.notes.text import fold

    print(" ".join(stemmer(sys.argv[1])([fold(w).strip() for w in sys.argv[2:]])))
