"""Masked swearwords: "w*nker", "tw@t", "conn*rd", "Arschl*ch" are insults written so that they are not.

Folding turns `*` and `@` into spaces, so the word-by-word scan never sees these words whole. Before the scan,
only in notes holding a `*` or an `@`, each masked word (letters with marks inside or at the end) is compared
with the insulting words of the lexicons of the same length, a mark standing for one letter, and written out
(`unmask`): one letter per mark, so every span carries over, and the scanner then reads the insult with its
contexts like any other word ("this software is a pile of sh*te" curses a thing). An e-mail address is a "word"
with an `@` too, but none spells an insult.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from gomme.policies.notes.lexicon import Category, Entry, Role
from gomme.policies.notes.patterns import Shape
from gomme.policies.notes.text import fold

_STAR, _AT = "*", "@"  # the marks that stand for a letter: "w*nker", "tw@t"
MARKS = _STAR + _AT
_MASKED = re.compile(r"[^\W\d_]+(?:[*@]+[^\W\d_]*)+")  # letters, then marks and letters: "w*nker", "f***"
_MIN_LETTERS = 2  # "**" or "a*" alone say nothing
_MIN_LENGTH = 4  # marks included: shorter masked words match too many insults ("c*n" is "con" and "cun")


@dataclass(frozen=True, slots=True)
class MaskedWord:
    start: int
    end: int
    entry: Entry  # the insult it spells
    reading: str  # that insult as the word is written: one letter per mark, its first letter's case kept


class Masks:
    """`masks.find(text)`: the masked words of `text` that spell one of the lexicons' one-word insults."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._by_length: dict[int, list[tuple[str, Entry]]] = {}
        for entry in entries:
            words = entry.phrase.words
            if entry.role is not Role.TERM or entry.category is not Category.INSULTING or len(words) != 1:
                continue
            if words[0].shape not in (Shape.STEM, Shape.EXACT, Shape.PREFIX):
                continue
            word = entry.phrase.lemma
            self._by_length.setdefault(len(word), []).append((word, entry))

    def find(self, text: str) -> Iterator[MaskedWord]:
        if _STAR not in text and _AT not in text:
            return  # most notes: two substring tests in C
        for masked in _MASKED.finditer(text):
            written = masked.group()
            word = fold(written).replace(" ", ".")  # a folded mark is a space: here, any one letter
            if len(word) < _MIN_LENGTH or sum(char.isalpha() for char in word) < _MIN_LETTERS:
                continue
            # An `@` is an "a" first ("tw@t" is "twat" before "twit"), then any letter.
            readings = (fold(written.replace("@", "a")).replace(" ", "."), word) if "@" in written else (word,)
            spelt = next(
                ((insult, entry) for reading in readings for insult, entry in self._by_length.get(len(word), ())
                 if re.fullmatch(reading, insult)),
                None,
            )  # fmt: skip
            if spelt is not None:
                insult, entry = spelt
                reading = insult[0].upper() + insult[1:] if written[0].isupper() else insult
                yield MaskedWord(masked.start(), masked.end(), entry, reading)

    def unmask(self, text: str) -> str:
        """`text` with its masked insults written out ("Quel conn*rd" → "Quel connard"), the same length."""
        if _STAR not in text and _AT not in text:
            return text  # most notes: two substring tests in C
        for word in self.find(text):
            text = text[: word.start] + word.reading + text[word.end :]
        return text
