"""Finds sensitive terms in a note: the prefilter, then stems, phrases and contexts per sentence.

1. `suspect` (prefilter.py): most notes hold no term and stop there, after one set difference of their words.
2. `scan`, per suspect sentence (its typos of long lexicon words read as those words, typos.py): an
   Aho-Corasick pass over the anchor keys of the terms gives candidates, each checked word by word (stems of
   the entry's language, prefixes, compound parts); only when a term holds, further passes find the negative
   phrases around it and, if a term needs one, the cues.
3. Contexts decide: a term inside a negative phrase is cleared; a term of a language the sentence is clearly
   not in is ignored; a cued term needs its cue in the sentence and no `not_person` cue within two words; a
   `female` or `male` one (a partner) needs that gender's cue and none of the other's. A first name
   (first_names.py) is a cue that a person, of that gender, is spoken of, unless a title or "Saint" stands
   before it ("Mme Laurent", "St. Martin").
"""

from __future__ import annotations

import bisect
import functools
import operator
import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import ahocorasick

from gomme.policies.notes.contexts import Around, Written
from gomme.policies.notes.first_names import GENDERS, first_names
from gomme.policies.notes.lexicon import (
    LANGUAGES,
    Category,
    Cue,
    Entry,
    Role,
    common_words,
    context_words,
    entities,
    lexicon,
    titles,
)
from gomme.policies.notes.masks import Masks
from gomme.policies.notes.patterns import Shape, most_specific
from gomme.policies.notes.prefilter import NO, Prefilter
from gomme.policies.notes.stems import stem_of
from gomme.policies.notes.text import Span, fold, sentences
from gomme.policies.notes.typos import MIN_LENGTH, Typos, real_words

_CLEARLY_OTHER = 2  # stopwords of another language, none of the term's: the sentence is not in its language
_REACH = 8  # words a negative phrase can reach around the term it clears
_BESIDE = 2  # words between a cued term and a `not_person` cue that still make it a thing's attribute
_WORD = re.compile(r"[a-z0-9]+")
_VALUE = operator.itemgetter(1)
_EMPTY: dict[str, tuple[int, ...]] = {}  # the phrases paired with an anchor key that anchors one-word entries only
_WHOLE = (Shape.STEM, Shape.EXACT)  # word patterns a typo can stand for: whole words, not `mot*` or `*teil`
_SATISFIES: dict[Cue, frozenset[Cue]] = {
    Cue.PERSON: frozenset({Cue.PERSON, Cue.MEMBER, Cue.ORIGIN}),
    Cue.MEMBER: frozenset({Cue.MEMBER}),
    Cue.ORIGIN: frozenset({Cue.ORIGIN}),
    Cue.FEMALE: frozenset({Cue.FEMALE}),
    Cue.MALE: frozenset({Cue.MALE}),
}
_THINGS = frozenset({Cue.NOT_PERSON, Cue.GOODS})  # beside a cued term, what makes it a thing's attribute
_ROLES = frozenset({Cue.PERSON, Cue.MEMBER})  # phrases naming a person's role, which may hold a thing's word
_EXCLUDES: dict[Cue, Cue] = {Cue.FEMALE: Cue.MALE, Cue.MALE: Cue.FEMALE}  # "sa femme" of a woman, not of a man
# Word lists are data, per language (context_words.toml).
_SAINTS = context_words("saints")  # "St. Martin": a place
_AT_A_PLACE = context_words("at_a_place")  # before a first name: a town ("in Bradford", "à Florence")
_FIRM_WORDS = context_words("firm_words")  # after a capitalised word: part of a firm's name ("Healey & Sons")
_NAMING_WORDS = context_words("street_words") | _FIRM_WORDS  # and of a street's ("Gaol Lane")
_WHEN_WORDS = context_words("when_words")  # before a thing's word: the deed's time ("voted AfD last election")
_NOUNS = context_words("nouns")  # cue words that are nouns only with a capital ("Ware", not "wäre")
_UNITS = context_words("units")  # after a number, a unit: no "M." ("180 m²")
_DAY_BEFORE = context_words("day_before")  # before German "Fr.": a Friday ("bis Fr."), not "Frau"
_DAYS = context_words("days")  # after `_DAY_BEFORE`, a day ("am Sa")
_FIRM_AFTER = 3  # words from a term to a company word that ends the firm's name ("DNA-Analytik GmbH")
ANY_LANGUAGE = "any"  # the language of an entity match in a sentence of no clear language
# A finding names what the sentence is about. A condition in a sentence about a genetic finding ("BRCA2 positive,
# surgery planned") is part of that genetic datum; a union member's activism ("milite à la CGT") of the union
# membership. An offence's own words ("agression sexuelle", "alcool au volant") are criminal data, but only
# those words: "en arrêt maladie et a un casier judiciaire" states two facts. The sentence is redacted either way.
_WITHIN_SENTENCE: dict[Category, Category] = {
    Category.HEALTH: Category.GENETIC_BIOMETRIC,
    Category.POLITICAL_OPINIONS: Category.TRADE_UNION,
}
_WITHIN_WORDS: dict[Category, Category] = {Category.HEALTH: Category.CRIMINAL, Category.SEX_LIFE: Category.CRIMINAL}


class SecondStage(Protocol):
    """What reads the sentences the lexicons leave (model.py): the category it finds in one, or None."""

    @property
    def lemma(self) -> str:
        """What its findings name where a lexicon's name their entry."""
        ...

    def category_of(self, sentence: str) -> Category | None: ...


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


def _what_it_is_about(found: list[NoteMatch]) -> list[NoteMatch]:
    """A sentence's matches without those another, more specific, category's match accounts for."""
    named = {match.category for match in found}

    def accounted(match: NoteMatch) -> bool:
        if _WITHIN_SENTENCE.get(match.category) in named:
            return True
        wider = _WITHIN_WORDS.get(match.category)
        return wider in named and any(
            other.category is wider and other.start <= match.start and match.end <= other.end for other in found
        )

    return [match for match in found if not accounted(match)]


class _Hit(NamedTuple):
    """An entry matched in a sentence: a named tuple, cheaper to build than a frozen dataclass (the hot path)."""

    entry: Entry
    first: int  # word indexes
    last: int
    start: int  # character span in the folded sentence
    end: int


class Scanner:
    """Scans notes with the lexicons of some languages, limited to some categories. Build it with `scanner()`."""

    def __init__(self, languages: Iterable[str], categories: Iterable[Category]) -> None:
        wanted, chosen = frozenset(categories), frozenset(languages)
        self._categories, self._languages = wanted, chosen
        entries: list[Entry] = []
        for language in LANGUAGES:
            for entry in lexicon(language).entries:
                if entry.role is not Role.TERM or (language in chosen and entry.category in wanted):
                    entries.append(entry)
        entries += (entry for entry in entities() if entry.category in wanted)
        self._entries = tuple(entries)
        self._anchors = tuple(most_specific(entry.phrase, common_words(entry.phrase.language)) for entry in entries)
        # Each word of a phrase besides its anchor, as the keys one of which the sentence must hold.
        keys: dict[tuple[str, ...], frozenset[str]] = {}  # lexicon words recur across phrases: one set each
        shared: dict[tuple[frozenset[str], ...], tuple[frozenset[str], ...]] = {}  # and so do their other words
        self._others = tuple(
            shared.setdefault(others, others)
            for others in (
                tuple(
                    keys.get(word.keys) or keys.setdefault(word.keys, frozenset(word.keys))
                    for i, word in enumerate(entry.phrase.words)
                    if i != anchor
                )
                for entry, anchor in zip(entries, self._anchors, strict=True)
            )
        )
        terms = [index for index, entry in enumerate(entries) if entry.role is Role.TERM]
        negatives = [index for index, entry in enumerate(entries) if entry.role is Role.NEGATIVE]
        cues = [index for index, entry in enumerate(entries) if entry.role is Role.CUE]
        self._terms = _Index(terms, entries, self._anchors)
        self._negatives = _Index(negatives, entries, self._anchors)
        self._cues = _Index(cues, entries, self._anchors)
        self._typos = typos_of(entries)
        self.suspect = Prefilter(
            [entries[index].phrase for index in terms], [self._anchors[index] for index in terms], self._typos
        )
        self._stopwords = {language: lexicon(language).stopwords for language in LANGUAGES}
        self._titles = titles()
        self._masks = Masks(entries[index] for index in terms)

    def scan(self, text: str, second: SecondStage | None = None) -> list[NoteMatch]:
        """Every sensitive term of `text` that its context confirms, with spans in the original text.

        With `second` (model.py), then each sentence the lexicons found no term in and did not clear, in a language
        the scanner reads, that `second` names one of the scanner's categories in: a match over the whole sentence."""
        text = self.unmask(text)
        if second is None:
            return [] if self.suspect(text) is NO else self.confirm(text)
        cleared: list[Span] = []
        found = [] if self.suspect(text) is NO else self.confirm(text, cleared)
        return found + self._second(text, [match.span for match in found] + cleared, second)

    def _second(self, text: str, taken: Sequence[Span], second: SecondStage) -> list[NoteMatch]:
        """What `second` finds in the sentences of `text` that no span of `taken` is in."""
        judged: list[NoteMatch] = []
        for start, end in sentences(text):
            if any(left < end and start < right for left, right in taken):
                continue  # the lexicons decided it: found a term, or cleared one (the model knows no context)
            spoken = self._languages_of(fold(text[start:end]))
            if spoken is not None and spoken.isdisjoint(self._languages):
                continue  # clearly in a language the rule does not scan
            category = second.category_of(text[start:end])
            if category is not None and category in self._categories:
                judged.append(NoteMatch(start, end, category, _only(spoken), second.lemma))
        return judged

    def unmask(self, text: str) -> str:
        """`text` with the insults written with marks in them ("w*nker", "tw@t") written out, one letter per mark
        (masks.py): callers that prefilter call it first, then `suspect` and `confirm` on what it returns. It
        returns the text itself at once when it holds no mark."""
        return self._masks.unmask(text)

    def confirm(self, text: str, cleared: list[Span] | None = None) -> list[NoteMatch]:
        """`scan` for a text the prefilter (`suspect`) did not clear: callers that prefilter many texts call both.

        Call it after `suspect` on the same text: the typo corrections it reads are learned there. `cleared`, when
        given, receives the span of each sentence where a term was found and then cleared: by a negative phrase, as
        part of a name (a surname, a title, a street or a firm), as goods' origin or by a context (contexts.py).
        Those sentences the lexicons decided hold no one's datum: the second stage leaves them."""
        folded = fold(text)
        found: list[NoteMatch] = []
        spans = sentences(text)
        for start, end in spans:
            piece = folded[start:end]
            # Folding folded text changes nothing: the prefilter works per sentence (a note of one: done above).
            if len(spans) == 1 or self.suspect(piece):
                found.extend(self._scan_sentence(piece, text[start:end], start, cleared))
        return found

    def _scan_sentence(
        self, folded: str, original: str, offset: int, cleared: list[Span] | None = None
    ) -> list[NoteMatch]:
        words = [match.span() for match in _WORD.finditer(folded)]
        texts = [folded[a:b] for a, b in words]
        places = words  # each word's span in the sentence as written (and folded)
        fixes = self.suspect.corrections
        if fixes and not fixes.keys().isdisjoint(texts):  # a typo of a lexicon word: read as that word
            texts = [self._meant(index, text, original, places) for index, text in enumerate(texts)]
            folded = " ".join(texts)
            words, start = [], 0
            for text in texts:
                words.append((start, start + len(text)))
                start += len(text) + 1
        starts, stems = [start for start, _ in words], _Stems(words, folded)
        terms = self._hits(self._terms, folded, words, starts, texts, stems)
        if not terms:  # the prefilter's keys were parts of other words: no term, no need for contexts
            return []
        # Only contexts that can matter are checked: negative phrases around a term, then cues when a term they
        # leave needs one ("marché allemand" clears "allemand": no cue, no language to look for).
        # A negative clears only a term it contains: one range around them all finds every one that can.
        near = range(min(hit.first for hit in terms) - _REACH, max(hit.last for hit in terms) + _REACH + 1)
        clearing = self._hits(self._negatives, folded, words, starts, texts, stems, near=near)
        negative = [(hit.start, hit.end) for hit in clearing]
        kept = [hit for hit in terms if not any(a <= hit.start and hit.end <= b for a, b in negative)]
        decided = len(kept) < len(terms)  # a term the lexicons cleared: the sentence is theirs (`confirm`)
        terms = kept
        if not terms:
            if decided and cleared is not None:
                cleared.append((offset, offset + len(original)))
            return []
        hits = self._hits(self._cues, folded, words, starts, texts, stems)
        spoken = self._languages_of(folded)
        written = Written(texts, original, places, self._titles)  # how the words stand in the note
        heard = [
            hit for hit in hits
            if _spoken(hit.entry, spoken)
            and not _not_a_name(hit, texts, self._titles)
            and not _no_frau(hit, written)
            and (texts[hit.first] not in _NOUNS or written.capitalised(hit.first))
        ]  # fmt: skip
        cues = {hit.entry.cue for hit in heard}
        # A thing's word inside a person's or a member's phrase is neither: "NEA building rep", "ANC branch secretary".
        persons = [hit for hit in heard if hit.entry.cue in _ROLES]  # between a thing and a term, it is theirs
        roles = [(hit.first, hit.last) for hit in persons if hit.last > hit.first]
        things = [
            hit for hit in heard
            if hit.entry.cue in _THINGS and not any(a <= hit.first and hit.last <= b for a, b in roles)
        ]  # fmt: skip
        around = Around.of(heard, written)
        found: list[NoteMatch] = []
        spans: set[tuple[int, int, Category]] = set()  # one entry per span and category ("condamné", "condamnation")
        # An origin right after goods is theirs, with the words inside it ("produits d'origine turque": not "turque"
        # either); one before them may be the person's ("half Chinese, sells Chinese products"), and one after
        # another thing too ("the client is of Nigerian descent").
        goods = [
            (hit.start, hit.end) for hit in terms
            if hit.entry.category is Category.RACIAL_ETHNIC_ORIGIN and any(
                hit.first - _BESIDE <= thing.last < hit.first for thing in things if thing.entry.cue is Cue.GOODS
            )
        ]  # fmt: skip
        for hit in terms:
            if not _spoken(hit.entry, spoken):
                continue
            assert hit.entry.category is not None  # terms have one: see lexicon.load_lexicon
            if (
                _surname(hit, written)
                or _title(hit, written)
                or _named(hit, written)
                or around.no_persons(hit, hit.entry.category)  # an animal's, a thing's, a title's… (contexts.py)
                or (
                    hit.entry.category is Category.RACIAL_ETHNIC_ORIGIN
                    and any(a <= hit.start and hit.end <= b for a, b in goods)
                )
            ):
                decided = True
                continue
            needs = hit.entry.needs
            if needs in _EXCLUDES:  # a partner's gender against the person's: no thing's attribute ("salon")
                # The person's gender is read outside the term: "mit einer Frau" says nothing of who is with her.
                theirs = {cue.entry.cue for cue in heard if not (hit.start <= cue.start and cue.end <= hit.end)}
                if needs not in theirs or _EXCLUDES[needs] in theirs:
                    continue
            elif needs is not None and (not cues & _SATISFIES[needs] or _beside(hit, things, persons, written)):
                continue
            if (hit.start, hit.end, hit.entry.category) in spans:
                continue
            spans.add((hit.start, hit.end, hit.entry.category))
            language = hit.entry.phrase.language or _only(spoken)
            start, end = places[hit.first][0], places[hit.last][1]
            found.append(NoteMatch(offset + start, offset + end, hit.entry.category, language, hit.entry.phrase.lemma))
        if decided and cleared is not None:
            cleared.append((offset, offset + len(original)))
        return _what_it_is_about(found) if len(spans) > 1 else found

    def _meant(self, index: int, word: str, original: str, places: Sequence[tuple[int, int]]) -> str:
        """The lexicon word that word `index` misspells, or itself: a capitalised word past the sentence's first
        is a name unless it misspells a German noun or a party's or union's name."""
        meant = self.suspect.corrections.get(word)
        if meant is None:
            return word
        if index and original[places[index][0]].isupper() and not self._typos.is_noun(meant):
            return word
        return meant

    def _hits(
        self,
        automaton: _Index,
        folded: str,
        words: Sequence[tuple[int, int]],
        starts: Sequence[int],
        texts: Sequence[str],
        stems: _Stems,
        *,
        near: Container[int] | None = None,
    ) -> list[_Hit]:
        """Every entry of the automaton whose words match at some word of the sentence (`near`: anchored there)."""
        seen: set[tuple[int, int]] = set()
        hits: list[_Hit] = []
        if len(automaton.anchors) == 0:
            return hits
        padded = " " + folded + " "
        present: frozenset[str] = frozenset()  # the keys of phrases' other words the sentence holds, when needed
        looked = False
        entries, anchors, others_of = self._entries, self._anchors, self._others  # the loop below is the hot path
        for end, (length, anchored, alone, paired) in automaton.anchors.iter(padded):
            position = end - length + 1 if anchored else end - length  # in `folded`, where the key starts
            at = bisect.bisect_right(starts, position) - 1
            if at < 0 or (anchored and starts[at] != position) or (near is not None and at not in near):
                continue
            candidates = alone
            if paired:
                if not looked:
                    present, looked = automaton.others_in(padded), True
                held = [key for key in present if key in paired]  # `present` holds a few keys, `paired` up to hundreds
                if held:
                    candidates = tuple(sorted({*alone, *(index for key in held for index in paired[key])}))
            for index in candidates:
                first = at - anchors[index]
                if first < 0 or (index, first) in seen:
                    continue
                seen.add((index, first))
                others = others_of[index]
                if others and any(map(present.isdisjoint, others)):
                    continue  # a word of the phrase is nowhere in the sentence: no need to stem anything
                entry = entries[index]
                last = _match_phrase(entry, first, texts, stems)
                if last is not None:
                    hits.append(_Hit(entry, first, last, words[first][0], words[last][1]))
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
        self._known: dict[str, list[str | None]] = {}  # language → each word's stem, once computed

    def of(self, language: str, index: int) -> str:
        known = self._known.get(language)
        if known is None:
            known = self._known[language] = [None] * len(self._words)
        stem = known[index]
        if stem is None:
            start, end = self._words[index]
            stem = known[index] = stem_of(language)(self._folded[start:end])
        return stem


def _match_phrase(entry: Entry, first: int, texts: Sequence[str], stems: _Stems) -> int | None:
    """The index of the last word if the entry's words match from word `first`, else None."""
    patterns = entry.phrase.words
    if first + len(patterns) > len(texts):
        return None
    language = entry.phrase.language
    index = first
    for pattern in patterns:  # the hot path: a stemmed word, most of them, is checked here without a call
        word = texts[index]
        if pattern.shape is Shape.STEM and language:
            # The length first: a word too short for the entry is never stemmed.
            if len(word) < pattern.shortest or stems.of(language, index) != pattern.text:
                return None
        elif not pattern.matches(word, ""):
            return None
        index += 1
    return index - 1


def _surname(hit: _Hit, written: Written) -> bool:
    """A capitalised word right after a title is a surname ("Mme Prêtre", "Frau Krank", "Mr Church"), except an
    English insult: a mock title is a nickname ("Mr Baldy"). In French, so is one word right after a first name
    ("Sylvie Prêtre", "Marie Chrétien"), French writing creeds, origins and conditions in lower case. Once after a
    title, a surname is one wherever it is written capitalised in the sentence ("M. Bigot (boulangerie Bigot)")."""
    texts = written.texts
    if hit.first == 0 or not written.capitalised(hit.first):
        return False
    if texts[hit.first - 1] in written.titles or (hit.first == hit.last and _titled_elsewhere(hit.first, written)):
        # An insult after a title: a surname in French and German ("Mme Conard", "Hr. Dumm"), a mock title in
        # English ("Mr Baldy", "Mr Grumpy"), where no surname spells an insult.
        return hit.entry.category is not Category.INSULTING or hit.entry.phrase.language != "en"
    if hit.entry.category is Category.INSULTING:
        return False
    if hit.first != hit.last or not _first_name(hit.first - 1, written):
        return False
    # Right after a known first name, in any language ("Joe Black", "Tom Crook"); in French after any word written
    # like one.
    return hit.entry.phrase.language == "fr" or any(texts[hit.first - 1] in first_names(g) for g in GENDERS)


def _titled_elsewhere(index: int, written: Written) -> bool:
    """Word `index` stands, capitalised, right after a title at another place of the sentence."""
    texts = written.texts
    return any(
        other != index and texts[other] == texts[index] and texts[other - 1] in written.titles
        and written.capitalised(other)
        for other in range(1, len(texts))
    )  # fmt: skip


def _named(hit: _Hit, written: Written) -> bool:
    """A capitalised term right before a capitalised street or company word names a street or a firm:
    "Gaol Lane", "Hospital Hill", "Queer Street Books", "Black & Sons Plumbing" ("Kirchstraße" is one word); a
    company word may come after two more capitalised words of the name ("DNA-Analytik GmbH")."""
    texts, after = written.texts, hit.last + 1
    if not written.capitalised(hit.first):
        return False
    if after < len(texts) and texts[after] in _NAMING_WORDS and written.capitalised(after):
        return True
    for index in range(after, min(len(texts), after + _FIRM_AFTER)):
        if not written.capitalised(index) or not written.one_clause(hit.last, index):
            return False
        if texts[index] in _FIRM_WORDS:
            return index > after
    return False


def _not_a_name(hit: _Hit, texts: Sequence[str], titles: frozenset[str]) -> bool:
    """A first name right after a title is a surname ("Mme Laurent", "Hr. Martin"), after "Saint" a place or a
    parish ("St. Martin", "paroisse Saint-Vincent"), after "in" or "à" a town ("in Bradford", "à Florence"); a
    unit after a number is no "M." ("180 m²"): no cue that a person, or which gender, is spoken of."""
    words = hit.entry.phrase.words
    if len(words) != 1 or hit.first == 0:
        return False
    before = texts[hit.first - 1]
    if words[0].shape is Shape.NAME:
        return before in titles or before in _SAINTS or before in _AT_A_PLACE
    return before.isdigit() and texts[hit.first] in _UNITS


def _no_frau(hit: _Hit, written: Written) -> bool:
    """German "Fr." is "Frau" only before a name ("Fr. Berger", "Fr. Dr. Haas"), and never after a word that says
    when: "Lieferung bis Fr.", "am Fr. Mail an Hr. Seitz" are a Friday, "Fr. 500.-" Swiss francs; a day's short
    name after such a word is no cue in any language ("am Sa" is no French "sa")."""
    texts = written.texts
    if hit.first == hit.last and texts[hit.first] in _DAYS and hit.first > 0 and texts[hit.first - 1] in _DAY_BEFORE:
        return True  # "Pride-Parade am Sa": Saturday, not the French "sa"
    if hit.entry.phrase.lemma != "fr" or hit.entry.phrase.language != "de":
        return False
    after = hit.last + 1
    named = after < len(texts) and written.capitalised(after)
    return not named or (hit.first > 0 and texts[hit.first - 1] in _DAY_BEFORE)


def _title(hit: _Hit, written: Written) -> bool:
    """A title written as one ("Mr Dale", "Fr. Busch") is no acronym that spells alike (the Belgian party MR)."""
    if hit.first != hit.last or written.texts[hit.first] not in written.titles:
        return False
    start, end = written.places[hit.first]
    return not written.original[start:end].isupper()


def _first_name(index: int, written: Written) -> bool:
    """Word `index` is written like a first name (capital, then lower case) one space before the next word."""
    start, end = written.places[index]
    word = written.original[start:end]
    return word.istitle() and word.isalpha() and written.original[end : written.places[index + 1][0]] == " "


def typos_of(entries: Sequence[Entry], *, real: bool = True) -> Typos:
    """Typos of the terms' long words; never a word some lexicon or entity list uses, nor (`real`) a dictionary
    word one keystroke from one (typos.py)."""
    targets: set[str] = set()
    nouns: set[str] = set()
    prefixes: set[str] = set()
    for entry in entries:
        if entry.role is not Role.TERM:
            continue
        lemma = entry.phrase.lemma.split()
        aligned = len(lemma) == len(entry.phrase.words)
        for index, pattern in enumerate(entry.phrase.words):
            if pattern.shape is Shape.PREFIX:
                prefixes.add(pattern.text)
                if entry.phrase.language == "de":  # "vollidiot*": a German noun, whatever follows it
                    nouns.add(pattern.text)
            elif aligned and pattern.shape in _WHOLE and len(lemma[index]) >= MIN_LENGTH:
                targets.add(lemma[index])
                if entry.phrase.language in ("de", None):  # German nouns, entity names: written capitalised
                    nouns.add(lemma[index])
    lemmas = {entry.phrase.lemma for entry in _every_entry()}
    known = {word for lemma in lemmas for word in lemma.split() if len(word) >= MIN_LENGTH}
    known |= common_words(None) | titles()
    return Typos(targets, known | real_words() if real else known, nouns, prefixes)


def _every_entry() -> Iterable[Entry]:
    for language in LANGUAGES:
        yield from lexicon(language).entries
    yield from entities()


def _spoken(entry: Entry, spoken: frozenset[str] | None) -> bool:
    language = entry.phrase.language
    return spoken is None or language is None or language in spoken


def _only(spoken: frozenset[str] | None) -> str:
    """The language an entity match is reported in: the sentence's, when it shows exactly one."""
    return next(iter(spoken)) if spoken is not None and len(spoken) == 1 else ANY_LANGUAGE


def _beside(hit: _Hit, things: Sequence[_Hit], persons: Sequence[_Hit], written: Written) -> bool:
    """A thing's cue within two words of the term, in the same clause, with no person's or member's cue between
    them: "est libanais, parle arabe" is a person's origin, then a language; "parle libanais" is a language;
    "directrice achats adhérente Les Républicains" is a member's party, not the purchases'; nor does one after a
    word that says when ("he voted AfD last election": the vote's time, not the election's party). A term that
    holds a person's or a member's word names a role, which only a thing right after it owns ("the Unite
    convenor election"), not one before it or a word or two away ("the Unite convenor on site")."""
    role = any(hit.first <= person.first and person.last <= hit.last for person in persons)
    if role:  # the term names a person's role ("Unite convenor on site"): only a thing right after it owns it
        things = [thing for thing in things if thing.first == hit.last + 1]
    return any(  # a cue inside the term itself ("rail" in "SUD Rail") does not count
        (
            hit.first - _BESIDE <= thing.last < hit.first
            and written.one_clause(thing.last, hit.first)
            and not any(thing.last < person.first and person.last < hit.first for person in persons)
        )
        or (
            hit.last < thing.first <= hit.last + _BESIDE
            and written.one_clause(hit.last, thing.first)
            and not any(hit.last < person.first and person.last < thing.first for person in persons)
            and written.texts[thing.first - 1] not in _WHEN_WORDS
        )
        for thing in things
    )


class _Index:
    """Entries found by their anchor word's keys, and for phrases also by a second word's keys.

    `anchors` maps an anchor key → (key length, anchored, one-word entries, {second key: phrase entries}): of the
    dozens of phrases sharing an anchor ("marché allemand", "société allemande"…), only those whose second
    word's key the sentence holds are checked. `others_in` finds those keys, and the other words', in one pass.
    """

    def __init__(self, indexes: Sequence[int], entries: Sequence[Entry], anchors: Sequence[int]) -> None:
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
        for key, (anchored, alone, paired) in by_key.items():
            # Most keys anchor no phrase, or a few: one shared empty dict for the former (memory: see _EMPTY).
            frozen = {second: tuple(found) for second, found in paired.items()} if paired else _EMPTY
            self.anchors.add_word(key, (len(key), anchored, tuple(alone), frozen))
        self.anchors.make_automaton()
        # The keys of every word of a phrase besides its anchor (its second word's among them): one pass finds
        # which a sentence holds, and a phrase with a word none of whose keys is there is never looked at.
        others = {
            key
            for index in indexes
            for position, word in enumerate(entries[index].phrase.words)
            if position != anchors[index]
            for key in word.keys
        }
        self._others = ahocorasick.Automaton()
        for key in others:
            self._others.add_word(key, key)
        if others:
            self._others.make_automaton()

    def others_in(self, padded: str) -> frozenset[str]:
        """The keys of phrases' other words that occur in the (padded, folded) sentence."""
        return frozenset(map(_VALUE, self._others.iter(padded)))  # (end, key) pairs: the keys, in C


@functools.lru_cache(maxsize=32)
def scanner(languages: tuple[str, ...] = LANGUAGES, categories: tuple[Category, ...] = tuple(Category)) -> Scanner:
    """A scanner for these languages and categories, compiled once per combination."""
    return Scanner(languages, categories)
