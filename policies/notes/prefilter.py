"""The scanner's prefilter: does a note hold anything a term could match? Cheap, and never wrong when it says no.

Most notes hold no term, and `decide` must stay above 100,000 records/s, so this runs before any sentence split:

1. **Words.** Each distinct word of a note is classified once (then remembered, within a bound): is it a
   one-word term (its stem agrees with the entry's), or one of the uncommon words of some phrase? A set
   difference drops the words already known to be plain, in C.
2. **Phrases.** A phrase is a candidate when all its uncommon words are there ("manif contre" needs "manif" and
   "contre"). Where a phrase's uncommon word follows short common words ("est à l'hôpital", "la Réunion"), those
   must also stand right before it: one more Aho-Corasick pass over the note, only for such candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick

from gomme.policies.notes.patterns import Phrase, Shape
from gomme.policies.notes.stems import stemmer
from gomme.policies.notes.text import fold

NO, MAYBE, SURE = 0, 1, 2  # SURE: a one-word term (its context still decides); MAYBE: a phrase's words
_KNOWN_WORDS = 200_000  # words whose verdict is remembered (a few tens of MB at most)
_ATTACHED = 3  # common words this short, right before an uncommon one, are part of its key ("l", "la", "est")


@dataclass(frozen=True, slots=True)
class _Part:
    phrase: int  # the phrase's number
    bit: int  # the word's bit among the phrase's uncommon words
    full: int  # the mask of all of them
    sure: bool  # a one-word phrase


class Prefilter:
    """`prefilter(text)` → NO, MAYBE or SURE, for the phrases of the sensitive terms."""

    def __init__(self, phrases: Sequence[Phrase], common: frozenset[str]) -> None:
        by_key: dict[str, dict[tuple[str, str], list[_Part]]] = {}
        attached: dict[str, list[tuple[int, int]]] = {}
        self._attached_masks: dict[int, int] = {}
        for number, phrase in enumerate(phrases):
            lemma = phrase.lemma.split()
            aligned = len(lemma) == len(phrase.words)
            needed = [i for i, word in enumerate(lemma) if word not in common] if aligned else []
            needed = needed or list(range(len(phrase.words)))  # only common words ("in the ER"): all of them
            full = (1 << len(needed)) - 1
            for position, index in enumerate(needed):
                part = _Part(number, 1 << position, full, len(phrase.words) == 1)
                pattern = phrase.words[index]
                stem = pattern.text if pattern.shape is Shape.STEM and phrase.language else ""
                for key in pattern.keys:
                    by_key.setdefault(key, {}).setdefault((stem, phrase.language or ""), []).append(part)
                before = _common_run(lemma, index, common) if aligned and pattern.anchored else []
                if before and len(phrase.words) > 1:
                    self._attached_masks[number] = self._attached_masks.get(number, 0) | part.bit
                    for key in pattern.keys:
                        attached.setdefault(" " + " ".join(before) + key, []).append((number, part.bit))
        self._words = _automaton(
            {key: tuple((*agree, tuple(parts)) for agree, parts in groups.items()) for key, groups in by_key.items()}
        )
        self._phrases = _automaton({key: tuple(found) for key, found in attached.items()})
        self._known: dict[str, bool | tuple[_Part, ...]] = {}
        self._plain: set[str] = set()  # words that are no term's and no phrase's

    def __call__(self, text: str) -> int:
        if self._words is None:
            return NO  # no term (e.g. no category chosen)
        folded = fold(text)
        words = set(folded.split()) - self._plain
        if not words:
            return NO
        if len(self._known) + len(self._plain) > _KNOWN_WORDS:
            self._known.clear()
            self._plain.clear()
        masks: dict[int, int] = {}
        complete: list[int] = []
        for word in words:
            verdict = self._known.get(word)
            if verdict is None:
                verdict = self._classify(word)
                if not verdict:
                    self._plain.add(word)
                    continue
                self._known[word] = verdict
            if verdict is True:
                return SURE
            for part in verdict:  # type: ignore[union-attr]  # True was ruled out above
                mask = masks[part.phrase] = masks.get(part.phrase, 0) | part.bit
                if mask == part.full:
                    complete.append(part.phrase)
        if not complete:
            return NO
        return MAYBE if self._in_place(folded, complete) else NO

    def _classify(self, word: str) -> bool | tuple[_Part, ...]:
        """True: the word is a one-word term; else the phrase words it can be (often none)."""
        parts: list[_Part] = []
        for _, groups in self._words.iter(" " + word + " "):  # type: ignore[union-attr]  # built when called
            for stem, language, found in groups:
                if stem and stemmer(language)([word])[0] != stem:  # a stemmed word: its stem must agree
                    continue
                for part in found:
                    if part.sure:
                        return True
                    parts.append(part)
        return tuple(parts)

    def _in_place(self, folded: str, complete: list[int]) -> bool:
        """Does some complete phrase have the short common words it needs right before its uncommon ones?"""
        needs = {number: self._attached_masks.get(number, 0) for number in complete}
        if any(mask == 0 for mask in needs.values()) or self._phrases is None:
            return True
        seen: dict[int, int] = {}
        for _, found in self._phrases.iter(" " + folded + " "):
            for number, bit in found:
                if number in needs:
                    mask = seen[number] = seen.get(number, 0) | bit
                    if mask == needs[number]:
                        return True
        return False


def _common_run(lemma: list[str], index: int, common: frozenset[str]) -> list[str]:
    """The short common words right before word `index` of a phrase."""
    start = index
    while start > 0 and lemma[start - 1] in common and len(lemma[start - 1]) <= _ATTACHED:
        start -= 1
    return lemma[start:index]


def _automaton(values: dict[str, object]) -> ahocorasick.Automaton | None:
    if not values:
        return None
    automaton = ahocorasick.Automaton()
    for key, value in values.items():
        automaton.add_word(key, value)
    automaton.make_automaton()
    return automaton
