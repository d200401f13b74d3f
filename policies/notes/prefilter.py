"""The scanner's prefilter: does a note hold anything a term could match? Cheap, and never wrong when it says no.

Most notes hold no term, and `decide` must stay above 100,000 records/s, so this runs before any sentence split:

1. **Words.** Each distinct word of a note is classified once (then remembered, within a bound): is it a
   one-word term (its stem agrees with the entry's), or one of the uncommon words of some phrase, and is it
   that phrase's trigger (its most specific uncommon word)? One `issuperset` against the words known to trigger
   nothing ends most notes, in C. A word no entry knows may be a typo of a long lexicon word (`typos.py`): it is
   classified as that word, and `corrections` tells the scanner which word it stands for.
2. **Phrases.** A phrase is a candidate when its trigger and all its other uncommon words are there ("manif
   contre" needs "manif" and "contre"). What a note's words but its plain ones make (the same few come back
   from note to note) is remembered: one set difference and one look-up. Where a phrase's uncommon word
   follows short common words ("est à l'hôpital", "la Réunion"), those must also stand right before it: a few
   substring tests on the note, only for such candidates.

Common words are per language ("er" is common in German, not in "in the ER"); a phrase's trigger is the word the
scanner anchors it on (`patterns.most_specific`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import ahocorasick

from gomme.policies.notes.lexicon import common_words
from gomme.policies.notes.patterns import Phrase, Shape, most_specific
from gomme.policies.notes.stems import stem_of
from gomme.policies.notes.text import fold
from gomme.policies.notes.typos import Typos

NO, MAYBE, SURE = 0, 1, 2  # SURE: a one-word term (its context still decides); MAYBE: a phrase's words
_KNOWN_WORDS = 50_000  # words whose verdict is remembered: bounded, since names and addresses make most words unique
_ATTACHED = 3  # common words this short, right before an uncommon one, are part of its key ("l", "la", "est")


# A phrase's word is one int, not an object: the lexicons hold some 200,000 of them, and ints cost a third of the
# memory of a small object and nothing to the garbage collector. `(phrase << _PHRASE) | (bit index << 1) | trigger`,
# trigger meaning the phrase's most specific uncommon word: without it, the phrase's other words are not looked at.
_PHRASE = 6  # bits below the phrase's number: a trigger flag and the word's index among the uncommon ones (< 32)
_MAX_WORDS = 1 << (_PHRASE - 1)


def _part(phrase: int, position: int, trigger: bool) -> int:
    return (phrase << _PHRASE) | (position << 1) | trigger


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What a word can be: parts of phrases, and the phrases it triggers (most words: none)."""

    parts: tuple[int, ...]  # `_part`s
    triggers: frozenset[int]


_PLAIN = _Verdict((), frozenset())  # no term's word and no phrase's


class Prefilter:
    """`prefilter(text)` → NO, MAYBE or SURE, for the phrases of the sensitive terms."""

    def __init__(
        self, phrases: Sequence[Phrase], triggers: Sequence[int] | None = None, typos: Typos | None = None
    ) -> None:
        """`triggers`: each phrase's `most_specific` word, if the caller has them already; `typos`: how to read a
        word no phrase knows as the lexicon word it misspells (typos.py)."""
        self._typos = typos
        self.corrections: dict[str, str] = {}  # words met that are typos of a lexicon word: what they stand for
        by_key: dict[str, dict[tuple[str, str], list[int]]] = {}
        self._full: list[int] = []  # per phrase, the mask of all its uncommon words' bits
        self._single = bytearray(len(phrases))  # per phrase, 1 for a one-word phrase (a term: SURE)
        attached: dict[int, dict[int, list[str]]] = {}  # phrase → its word's position → keys with the words before it
        for number, phrase in enumerate(phrases):
            lemma = phrase.lemma.split()
            aligned = len(lemma) == len(phrase.words)
            common = common_words(phrase.language)
            needed = [i for i, word in enumerate(lemma) if word not in common] if aligned else []
            needed = needed or list(range(len(phrase.words)))  # only common words ("in the ER"): all of them
            if len(needed) > _MAX_WORDS:
                raise ValueError(f"lexicon entry {phrase.lemma!r} has more than {_MAX_WORDS} uncommon words")
            self._full.append((1 << len(needed)) - 1)
            self._single[number] = len(phrase.words) == 1
            trigger = most_specific(phrase, common) if triggers is None else triggers[number]
            trigger = trigger if trigger in needed else needed[-1]
            for position, index in enumerate(needed):
                part = _part(number, position, index == trigger)
                pattern = phrase.words[index]
                stem = pattern.text if pattern.shape is Shape.STEM and phrase.language else ""
                for key in pattern.keys:
                    by_key.setdefault(key, {}).setdefault((stem, phrase.language or ""), []).append(part)
                before = _common_run(lemma, index, common) if aligned and pattern.anchored else []
                if before and len(phrase.words) > 1:
                    keys = attached.setdefault(number, {}).setdefault(position, [])
                    keys += (" " + " ".join(before) + key for key in pattern.keys)
        self._words = _automaton(
            {key: tuple((*agree, tuple(parts)) for agree, parts in groups.items()) for key, groups in by_key.items()}
        )
        self._attached = {
            number: tuple(tuple(keys) for keys in by_bit.values()) for number, by_bit in attached.items()
        }
        self._known: dict[str, Literal[True] | _Verdict] = {}  # words met that are no plain word, and what they are
        self._quiet: set[str] = set()  # words met that trigger nothing alone: no term, no phrase's most specific word
        self._plain: set[str] = set()  # words met that are no term's and no phrase's (most words)
        self._classified: set[str] = set()  # every word met
        self._sure: set[str] = set()  # words met that are one-word terms
        self._parts: set[str] = set()  # words met that are some phrase's words (the keys of `_known`)
        # A note's words but plain ones (the same few come back) → what they make: NO, SURE, MAYBE, or the
        # phrases they complete if the short common words some need stand right before them (`_Completion`).
        self._outcomes: dict[frozenset[str], int | _Completion] = {}

    def __call__(self, text: str) -> int:
        if self._words is None:
            return NO  # no term (e.g. no category chosen)
        folded = fold(text)
        split = folded.split()
        if self._quiet.issuperset(split):
            return NO  # the common case: every word known as no term's, or as a phrase's but no phrase's trigger
        # The words that can matter: one dictionary look-up, all in C, but for the first time a set is met.
        key = frozenset(split).difference(self._plain)
        outcome = self._outcomes.get(key)
        if outcome is None:
            outcome = self._outcome(key)
        if isinstance(outcome, int):
            return outcome
        # Words as the scanner reads them: one space apart (punctuation between them, as in 'des "aventures"', is
        # none) and typos read as the word they misspell ("on probabtion").
        fixes = self.corrections
        return MAYBE if outcome.holds(" ".join([fixes.get(word, word) for word in split] if fixes else split)) else NO

    def _outcome(self, key: frozenset[str]) -> int | _Completion:
        """What a set of words (no plain word among those met) makes, its new words classified: remembered."""
        if len(self._known) + len(self._quiet) + len(self._outcomes) > _KNOWN_WORDS:
            self._forget()
        for word in key - self._classified:
            verdict = self._classify(word)
            self._classified.add(word)
            if verdict is True:
                self._sure.add(word)
            elif not verdict.triggers:
                self._quiet.add(word)
            if verdict is _PLAIN:
                self._plain.add(word)
            else:
                self._known[word] = verdict
                self._parts.add(word)
        outcome: int | _Completion
        if not key.isdisjoint(self._sure):
            outcome = SURE
        else:
            complete = self._complete(key & self._parts)
            outcome = NO if complete is None else MAYBE if complete.always else complete
        self._outcomes[key] = self._outcomes[key.difference(self._plain)] = outcome
        return outcome

    def _forget(self) -> None:
        """Past the bound, start remembering afresh (the words of current notes come back first)."""
        remembered = (self._known, self._quiet, self._plain, self._outcomes, self._classified, self._sure, self._parts)
        for memory in remembered:
            memory.clear()
        self.corrections.clear()

    def _classify(self, word: str) -> Literal[True] | _Verdict:
        """True: the word is a one-word term; else the phrase words it can be (often none), or its typo's."""
        verdict = self._verdict(word)
        if verdict is _PLAIN and self._typos is not None and (meant := self._typos.correct(word)) is not None:
            verdict = self._verdict(meant)
            if verdict is not _PLAIN:
                self.corrections[word] = meant
        return verdict

    def _verdict(self, word: str) -> Literal[True] | _Verdict:
        parts: list[int] = []
        single = self._single
        for _, groups in self._words.iter(" " + word + " "):  # type: ignore[union-attr]  # built when called
            for stem, language, found in groups:
                if stem and stem_of(language)(word) != stem:  # a stemmed word: its stem must agree
                    continue
                for part in found:
                    if single[part >> _PHRASE]:
                        return True
                    parts.append(part)
        if not parts:
            return _PLAIN
        return _Verdict(tuple(parts), frozenset(part >> _PHRASE for part in parts if part & 1))

    def _complete(self, words: frozenset[str]) -> _Completion | None:
        """The phrases whose trigger and other uncommon words are all among `words` (known phrase words)."""
        verdicts = [verdict for word in words if (verdict := self._known[word]) is not True]
        triggered = frozenset().union(*(verdict.triggers for verdict in verdicts))
        masks: dict[int, int] = {}
        complete: list[int] = []
        full = self._full
        for verdict in verdicts:
            for part in verdict.parts:
                phrase = part >> _PHRASE
                if phrase in triggered:
                    mask = masks[phrase] = masks.get(phrase, 0) | (1 << ((part >> 1) & (_MAX_WORDS - 1)))
                    if mask == full[phrase]:
                        complete.append(phrase)
        return _Completion([self._attached.get(number, ()) for number in complete]) if complete else None


class _Completion:
    """Complete phrases, and whether the short common words some of them need stand right before their words."""

    def __init__(self, needs: Sequence[tuple[tuple[str, ...], ...]]) -> None:
        self.always = any(not groups for groups in needs)  # a complete phrase that needs no such words
        # Rarely more than a few keys: substring tests beat a regular expression's alternation.
        self._single = tuple(sorted({key for groups in needs if len(groups) == 1 for key in groups[0]}))
        self._several = [groups for groups in needs if len(groups) > 1]

    def holds(self, folded: str) -> bool:
        """Does some complete phrase have what it needs in `folded`? (a few substring tests for most)"""
        if self.always:
            return True
        padded = " " + folded + " "
        for key in self._single:  # a plain loop: a third of notes come here, and a generator costs more than a test
            if key in padded:
                return True
        return bool(self._several) and any(
            all(any(key in padded for key in keys) for keys in groups) for groups in self._several
        )


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
