"""Masked swearwords: "w*nker", "tw@t", "conn*rd", "Arschl*ch" are insults written so that they are not.

Folding turns `*` and `@` into spaces, so the word-by-word scan never sees these words whole. They are rare and
never hide anything but an insult, so they get their own pass, only over notes holding a `*` or an `@`: each
masked word (letters with marks inside or at the end) is compared with the insulting words of the lexicons of
the same length, a mark standing for one letter. An e-mail address is a "word" with an `@` too, but none spells
an insult.
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
            entry = next(
                (entry for reading in readings for insult, entry in self._by_length.get(len(word), ())
                 if re.fullmatch(reading, insult)),
                None,
            )  # fmt: skip
            if entry is not None:
                yield MaskedWord(masked.start(), masked.end(), entry)
