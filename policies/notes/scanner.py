"""Finds sensitive terms in a note: the prefilter, then stems, phrases and contexts per sentence.

1. `suspect` (prefilter.py): most notes hold no term and stop there, after one set difference of their words.
2. `scan`, per suspect sentence: an Aho-Corasick pass over the anchor keys of the terms gives candidates, each
   checked word by word (stems of the entry's language, prefixes, compound parts); only when a term holds, a
   second pass finds the negative phrases around it and the cues.
3. Contexts decide: a term inside a negative phrase is cleared; a term of a language the sentence is clearly
   not in is ignored; a cued term needs its cue in the sentence and no `not_person` cue within two words.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from gomme.policies.notes.lexicon import (
    LANGUAGES,
    Category,
    Cue,
    Entry,
    Role,
    common_words,
    entities,
    lexicon,
    titles,
)
from gomme.policies.notes.patterns import Shape, most_specific
from gomme.policies.notes.prefilter import MAYBE, NO, Prefilter
from gomme.policies.notes.stems import stemmer
from gomme.policies.notes.text import fold, sentences

_CLEARLY_OTHER = 2  # stopwords of another language, none of the term's: the sentence is not in its language
_REACH = 8  # words a negative phrase can reach around the term it clears
_BESIDE = 2  # words between a cued term and a `not_person` cue that still make it a thing's attribute
_WORD = re.compile(r"[a-z0-9]+")
_SATISFIES: dict[Cue, frozenset[Cue]] = {
    Cue.PERSON: frozenset({Cue.PERSON, Cue.MEMBER, Cue.ORIGIN}),
    Cue.MEMBER: frozenset({Cue.MEMBER}),
    Cue.ORIGIN: frozenset({Cue.ORIGIN}),
}
ANY_LANGUAGE = "any"  # the language of an entity match in a sentence of no clear language


@dataclass(frozen=True, slots=True)
class NoteMatch:
    """One sensitive term: its span in the original note, what it reveals, the lexicon entry that knew it."""

    start: int
    end: int
    category: Category
    language: str
    lemma: str  # the lexicon entry, folded: safe to show (never the note's own words)

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)


@dataclass(frozen=True, slots=True)
class _Hit:
    entry: Entry
    first: int  # word indexes
    last: int
    start: int  # character span in the folded sentence
    end: int


class Scanner:
    """Scans notes with the lexicons of some languages, limited to some categories. Build it with `scanner()`."""

    def __init__(self, languages: Iterable[str], categories: Iterable[Category]) -> None:
        wanted, chosen = frozenset(categories), frozenset(languages)
        entries: list[Entry] = []
        for language in LANGUAGES:
            for entry in lexicon(language).entries:
                if entry.role is not Role.TERM or (language in chosen and entry.category in wanted):
                    entries.append(entry)
        entries += (entry for entry in entities() if entry.category in wanted)
        self._entries = tuple(entries)
        self._anchors = tuple(most_specific(entry.phrase, common_words(entry.phrase.language)) for entry in entries)
        self._others = tuple(
            tuple(word.keys for i, word in enumerate(entry.phrase.words) if i != anchor)
            for entry, anchor in zip(entries, self._anchors, strict=True)
        )
        terms = [index for index, entry in enumerate(entries) if entry.role is Role.TERM]
        contexts = [index for index, entry in enumerate(entries) if entry.role is not Role.TERM]
        self._terms = _Index(terms, entries, self._anchors)
        self._contexts = _Index(contexts, entries, self._anchors)
        self.suspect = Prefilter([entries[index].phrase for index in terms], [self._anchors[index] for index in terms])
        self._stopwords = {language: lexicon(language).stopwords for language in LANGUAGES}
        self._titles = titles()

    def scan(self, text: str) -> list[NoteMatch]:
        """Every sensitive term of `text` that its context confirms, with spans in the original text."""
        suspicion = self.suspect(text)
        if suspicion is NO:
            return []
        folded = fold(text)
        if suspicion is MAYBE and not self._holds_term(folded):  # a phrase's words, but not in its order
            return []
        found: list[NoteMatch] = []
        for start, end in sentences(text):
            piece = folded[start:end]
            if self.suspect(piece):  # folding folded text changes nothing: the prefilter works per sentence
                found.extend(self._scan_sentence(piece, text[start:end], start))
        return found

    def _scan_sentence(self, folded: str, original: str, offset: int) -> list[NoteMatch]:
        words = [(match.start(), match.end()) for match in _WORD.finditer(folded)]
        starts, texts, stems = [start for start, _ in words], [folded[a:b] for a, b in words], _Stems(words, folded)
        terms = self._hits(self._terms, folded, words, starts, texts, stems)
        if not terms:  # the prefilter's keys were parts of other words: no term, no need for contexts
            return []
        # Only contexts that can matter are checked: negative phrases around a term, cues when a term needs one.
        near = {index for hit in terms for index in range(hit.first - _REACH, hit.last + _REACH + 1)}
        cued = any(hit.entry.needs for hit in terms)
        hits = self._hits(
            self._contexts, folded, words, starts, texts, stems,
            accept=lambda entry, at: (entry.role is Role.CUE and cued) or (entry.role is Role.NEGATIVE and at in near),
        )
        negative = [(hit.start, hit.end) for hit in hits if hit.entry.role is Role.NEGATIVE]
        spoken = self._languages_of(folded)
        heard = [hit for hit in hits if _spoken(hit.entry, spoken)]
        cues = {hit.entry.cue for hit in heard if hit.entry.role is Role.CUE}
        things = [hit for hit in heard if hit.entry.cue is Cue.NOT_PERSON]
        found: list[NoteMatch] = []
        spans: set[tuple[int, int, Category]] = set()  # one entry per span and category ("condamné", "condamnation")
        for hit in terms:
            if not _spoken(hit.entry, spoken) or any(a <= hit.start and hit.end <= b for a, b in negative):
                continue
            if _surname(hit, texts, original, self._titles):
                continue
            needs = hit.entry.needs
            if needs is not None and (not cues & _SATISFIES[needs] or _beside(hit, things)):
                continue
            assert hit.entry.category is not None  # terms have one: see lexicon.load_lexicon
            if (hit.start, hit.end, hit.entry.category) in spans:
                continue
            spans.add((hit.start, hit.end, hit.entry.category))
            language = hit.entry.phrase.language or _only(spoken)
            found.append(
                NoteMatch(offset + hit.start, offset + hit.end, hit.entry.category, language, hit.entry.phrase.lemma)
            )
        return found

    def _holds_term(self, folded: str) -> bool:
        """Does any term match, contexts aside? Checked on the whole note, before sentences are split."""
        words = [(match.start(), match.end()) for match in _WORD.finditer(folded)]
        starts, texts = [start for start, _ in words], [folded[a:b] for a, b in words]
        return bool(self._hits(self._terms, folded, words, starts, texts, _Stems(words, folded), first_only=True))

    def _hits(
        self,
        automaton: _Index,
        folded: str,
        words: Sequence[tuple[int, int]],
        starts: Sequence[int],
        texts: Sequence[str],
        stems: _Stems,
        *,
        first_only: bool = False,
        accept: Callable[[Entry, int], bool] | None = None,
    ) -> list[_Hit]:
        """Every entry of the automaton whose words match at some word of the sentence."""
        seen: set[tuple[int, int]] = set()
        hits: list[_Hit] = []
        if len(automaton.anchors) == 0:
            return hits
        padded = " " + folded + " "
        present: frozenset[str] | None = None  # the second words' keys the sentence holds, found when needed
        for end, (length, anchored, alone, paired) in automaton.anchors.iter(padded):
            position = end - length + 1 if anchored else end - length  # in `folded`, where the key starts
            at = bisect.bisect_right(starts, position) - 1
            if at < 0 or (anchored and starts[at] != position):
                continue
            candidates = alone
            if paired:
                if present is None:
                    present = automaton.seconds_in(padded)
                held = paired.keys() & present
                if held:
                    candidates = tuple(sorted({*alone, *(index for key in held for index in paired[key])}))
            for index in candidates:
                entry = self._entries[index]
                first = at - self._anchors[index]
                if first < 0 or (index, first) in seen or (accept is not None and not accept(entry, at)):
                    continue
                seen.add((index, first))
                if not all(any(key in padded for key in keys) for keys in self._others[index]):
                    continue  # a word of the phrase is nowhere in the sentence: no need to stem anything
                last = _match_phrase(entry, first, texts, stems)
                if last is not None:
                    hits.append(_Hit(entry, first, last, words[first][0], words[last][1]))
                    if first_only:
                        return hits
        return hits

    def _languages_of(self, folded: str) -> frozenset[str] | None:
        """The languages a sentence shows stopwords of, or None when it shows too few to tell."""
        words = set(folded.split())
        scores = {language: len(words & stopwords) for language, stopwords in self._stopwords.items()}
        if max(scores.values()) < _CLEARLY_OTHER:
            return None
        return frozenset(language for language, score in scores.items() if score)


class _Stems:
    """The stems of a sentence's words, per language and word, computed when a candidate needs them."""

    def __init__(self, words: Sequence[tuple[int, int]], folded: str) -> None:
        self._words, self._folded = words, folded
        self._known: dict[tuple[str, int], str] = {}

    def of(self, language: str, index: int) -> str:
        stem = self._known.get((language, index))
        if stem is None:
            start, end = self._words[index]
            stem = self._known[(language, index)] = stemmer(language)([self._folded[start:end]])[0]
        return stem


def _match_phrase(entry: Entry, first: int, texts: Sequence[str], stems: _Stems) -> int | None:
    """The index of the last word if the entry's words match from word `first`, else None."""
    patterns = entry.phrase.words
    if first + len(patterns) > len(texts):
        return None
    language = entry.phrase.language
    for offset, pattern in enumerate(patterns):
        index = first + offset
        stem = stems.of(language, index) if pattern.shape is Shape.STEM and language else ""
        if not pattern.matches(texts[index], stem):
            return None
    return first + len(patterns) - 1


def _surname(hit: _Hit, texts: Sequence[str], original: str, titles: frozenset[str]) -> bool:
    """A capitalised word right after a title is a surname ("Mme Prêtre", "Frau Krank", "Mr Church"), except an
    insult: a mock title is a nickname ("Mr Baldy")."""
    return (
        hit.first > 0
        and texts[hit.first - 1] in titles
        and original[hit.start].isupper()
        and hit.entry.category is not Category.INSULTING
    )


def _spoken(entry: Entry, spoken: frozenset[str] | None) -> bool:
    language = entry.phrase.language
    return spoken is None or language is None or language in spoken


def _only(spoken: frozenset[str] | None) -> str:
    """The language an entity match is reported in: the sentence's, when it shows exactly one."""
    return next(iter(spoken)) if spoken is not None and len(spoken) == 1 else ANY_LANGUAGE


def _beside(hit: _Hit, things: Sequence[_Hit]) -> bool:
    return any(
        hit.first - _BESIDE <= thing.last < hit.first or hit.last < thing.first <= hit.last + _BESIDE
        for thing in things  # a cue inside the term itself ("rail" in "SUD Rail") does not count
    )


class _Index:
    """Entries found by their anchor word's keys, and for phrases also by a second word's keys.

    `anchors` maps an anchor key → (key length, anchored, one-word entries, {second key: phrase entries}): of the
    dozens of phrases sharing an anchor ("marché allemand", "société allemande"…), only those whose second
    word's key the sentence holds are checked. `seconds` finds those keys in one pass.
    """

    def __init__(self, indexes: Iterable[int], entries: Sequence[Entry], anchors: Sequence[int]) -> None:
        by_key: dict[str, tuple[bool, list[int], dict[str, list[int]]]] = {}
        for index in indexes:
            phrase = entries[index].phrase
            pattern = phrase.words[anchors[index]]
            for key in pattern.keys:
                _, alone, paired = by_key.setdefault(key, (pattern.anchored, [], {}))
                if len(phrase.words) == 1:
                    alone.append(index)
                    continue
                second = most_specific(phrase, common_words(phrase.language), besides=anchors[index])
                for second_key in phrase.words[second].keys:
                    paired.setdefault(second_key, []).append(index)
        self.anchors = ahocorasick.Automaton()
        seconds: set[str] = set()
        for key, (anchored, alone, paired) in by_key.items():
            frozen = {second: tuple(found) for second, found in paired.items()}
            self.anchors.add_word(key, (len(key), anchored, tuple(alone), frozen))
            seconds.update(frozen)
        self.anchors.make_automaton()
        self._seconds = ahocorasick.Automaton()
        for key in seconds:
            self._seconds.add_word(key, key)
        if seconds:
            self._seconds.make_automaton()

    def seconds_in(self, padded: str) -> frozenset[str]:
        """The second-word keys that occur in the (padded, folded) sentence."""
        return frozenset(key for _, key in self._seconds.iter(padded))


@functools.lru_cache(maxsize=32)
def scanner(languages: tuple[str, ...] = LANGUAGES, categories: tuple[Category, ...] = tuple(Category)) -> Scanner:
    """A scanner for these languages and categories, compiled once per combination."""
    return Scanner(languages, categories)
