"""Whose a term is: contexts in which a sensitive word names no person's trait.

The scanner (scanner.py) finds a term, then asks these questions about the sentence's words around it. Each takes
the term's word span and the cues the sentence holds (lexicon `[cues]` lists, `Cue`), and answers from their
places alone: which comes first, how many words apart, whether a clause break (a comma, a colon, a bracket) or a
person stands between. Nothing here reads the lexicons. `Around.of` sorts a sentence's cues by kind, and
`Around.no_persons` asks each question below only where its cues are:

- **A topic's** (`on_topic`): a course, a kit, a device or an outbreak right after the term ("Mental Health at
  Work webinar", "HIV self test kits"), or a phrase such as "head of" right before it, in the same clause; not a
  party's or a union's name right after a member's deed ("handing out Sinn Féin leaflets": `Around._acted`).

- **An animal's** condition (`of_an_animal`): a pet, a horse, a herd before the term in its clause, or opening
  the sentence as a heading before a colon ("Zuchtbulle 'Max': …", not "Katze gestorben, hat jetzt
  Depressionen": a comma may start the owner's clause), with no person between but its owner ("le chien de
  Mme Martin a le diabète", "Katze der Kundin seit Umzug depressiv"); or an animal just after it, in a sentence
  that names no person before the term ("le diabète du chien", "DNA parentage test for the litter").
- **A thing's** figure of speech (`of_a_thing`): a machine, a piece of software, a deal or a price a few words
  before a condition or an insult, in the same phrase (a comma, a dash set apart, "and", "aber" end it), with no
  person before it in its clause ("le serveur de prod est malade", "Opportunity liegt seit Q3 im Koma", "ce
  logiciel est complètement débile"), or right before the term ("nos tarifs criminels"); a thing right after an
  insult, or after "de"/"of" after it, is what it curses ("Scheiß-Navi", "cette saloperie de photocopieuse"), a
  person right after it is who it names ("that stupid cow Mrs Platt").
- **The writer's own** insult (`by_the_writer`): "I", "moi" or "ich" a few words before it with only "to be" or
  fillers between ("me = total idiot", "i bin heut echt a Vollkoffer"), or "que je suis" after it, and no other
  person in the clause.
- **An institution's** (`of_an_institution`): the term is part of an institution's or an offering's name that
  opens its clause, after at most two words of a name ("Suchtklinik", "mosque committee", "Elm House psychiatric
  unit", "CGT section cheminots", "Umrah Nov package"), and no person is named before the term or in its clause
  ("Psychiatrisches Zentrum Nord: Rahmenvertrag, AP Hr. Lauer" names its buyer in another clause); a customer, a
  venue or a product, not a patient or a believer ("in hospital w/ covid", "Freitagsgebet in der Moschee" stay).
  A definite article opening the clause is no link ("Le centre LGBT de Lille réserve"), and a place's own word
  with its name after it is a name ("Mosquée de Mantes : devis"). An insult right before an institution's word
  names or curses it (`_cursing`: "FDP-Kreisverband", "Idioten-Verein").
- **A title's** (`in_a_title`): the term is inside a quotation ('…' or "…", « … », „…“) that a topic word (a course,
  a show, a talk) introduces or follows ("Schulung 'Psychische Gesundheit am Arbeitsplatz'", "'Criminal Minds'
  trivia night"), whatever its category: a title is quoted, a person's words are not introduced by a course.
- **A product's** dose (`a_dose`): a quantity before the term or a dose after it, with no person in its clause
  ("80 x sertraline 50mg", "200 Pck Metformin"): an order line, not a patient's treatment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gomme.policies.notes.lexicon import Category, Cue, Entry, context_words
from gomme.policies.notes.patterns import Shape
from gomme.policies.notes.text import fold

_TOPIC_AFTER = 3  # words from a term to a `topic` cue after it ("HIV self test kits")
_TOPIC_BEFORE = 2  # words from a `topic` phrase before a term ("head of criminal litigation")
_MEMBERSHIPS = frozenset({Category.POLITICAL_OPINIONS, Category.TRADE_UNION})
_ACT_BEFORE = 2  # words from a member's deed to a party's or union's name after it ("handing out the SNP …")
# A topic names no person's trait in these; an origin or an insult before a course or a role is still one's
# ("our Muslim officer" is a person's creed, which no topic word clears: roles are not topics).
_TOPICAL = frozenset(Category) - {Category.RACIAL_ETHNIC_ORIGIN, Category.INSULTING}
# Word lists are data, per language (context_words.toml); each names the rule that reads it.
_ARTICLES = context_words("articles")
_WHEN = context_words("when")
_UNTITLED = _ARTICLES | _WHEN  # between a term and a topic word after it: no title of the topic
_PEOPLE = frozenset({Cue.PERSON, Cue.FEMALE, Cue.MALE})  # a person spoken of
_BARE_VERBS = context_words("bare_verbs")
_OF_ANIMALS = frozenset({Category.HEALTH, Category.GENETIC_BIOMETRIC, Category.INSULTING})  # an animal's, too
# Figures of speech about things: "le serveur est malade", "ce planning est criminel", "die Kaffeemaschine ist
# gewerkschaftlich organisiert".
_OF_THINGS = frozenset({Category.HEALTH, Category.INSULTING, Category.CRIMINAL, Category.TRADE_UNION})
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]]")  # between two words, it ends a clause
_ASIDE = re.compile(r"\([^(),;:]*\)")  # a bracketed aside with no break inside: "(Labrador)", "(resp. achats)"
# A dash set apart (hyphen, en or em dash), a slash or a conjunction ends one too where a figure of speech is read:
# "deal on hold - on chemo", "card machine dead and that stupid cow…".
_DASH = re.compile(
    "\\s[-\u2013\u2014/]\\s|\\b(?:" + "|".join(sorted(context_words("conjunctions"))) + ")\\b", re.IGNORECASE
)
_OPENS = 2  # an animal or an institution among the first words of a sentence is what it is about
_OF = context_words("of")
_OWNER = 3  # words after "of" that name an animal's owner ("de Mme Martin", "of the Smiths")
_DEFINITE = context_words("definite")
_NAME_LEMMA = "name"  # the lemma of a first-name cue (patterns.py)
_PET_NAME = 2  # words after an animal that may be its name
_AFTER_ANIMAL = 5  # words from a term to an animal after it ("le diabète du chien")
# The writer speaking of themselves, and what may stand between that word and an insult (`by_the_writer`).
_SELF = context_words("self")
_SELF_FILLER = context_words("self_filler")
_SELF_BEFORE = 4  # words from "I"/"moi"/"ich" to the insult
_THING_BEFORE = 7  # words from a thing to a condition or an insult after it ("Der Drucker im 2. OG ist ein …")
_INSTITUTION_AFTER = 3  # words from a term to an institution after it ("HIV testing clinic")
_INSTITUTION_BEFORE = 3  # and before it ("centre de désintox", "Zentrum Sinti und Roma")
_LINKS = context_words("links")
_BEFORE_TITLE = context_words("before_title") | {""}  # nothing between the topic word and the quotation
_NAME_WORDS = 2  # words of a name before an institution's or a product's words that open a clause
_TITLE_INTRO = 6  # words between a topic word and the colon that opens its quoted title
_TITLE_AFTER = 3  # words from a quotation's end to the topic word that follows it ("'Prison Break' escape room")
# An order line (`a_dose`, `counted`): a quantity or a dose, or a count of goods in a sentence that orders.
_QUANTITY = context_words("quantity")
_DOSE = re.compile(r"\d+(?:[.,]\d+)?(?:mg|mcg|ug|ml|g|ui|iu|ie)")
_DOSE_UNITS = context_words("dose_units")
_ORDERING = context_words("ordering")
_NOT_GOODS = context_words("not_goods")
_NUMBERED = context_words("numbered")
_CENTURIES = frozenset({"19", "20"})  # a four-digit number starting so is a year
# An order counts goods by the five or ten; a person's treatments, convictions or doses come in ones and twos
# ("noch 2 Chemos", "2 DUI convictions").
_ORDER_MIN = 5
_COUNT_BEFORE = 5  # words from a number to the term it counts ("50 folding tables for the langar hall")
_NUMBER_MARKS = frozenset("£€$#-/.,:'")  # on a number's edge: an amount, a reference, a date or a decimal
# An institution's term where someone works (`at_work`): a job title, a link, at most two words, the term.
# A clinic or a prison employs people; a job at a church or a party may be a creed or an opinion: not those.
_WORKPLACES = frozenset({Category.HEALTH, Category.CRIMINAL})
_WORK_BEFORE = 3
_AT_WORK = context_words("at_work")
_WORKS = context_words("works")
_JOBS = context_words("jobs")
# A march, a parade, a picket or a procession in a sentence that names no one and says what it held up: an event
# in the way of business, no one's opinion, membership or creed (`in_the_way`).
_EVENTS = frozenset({Category.POLITICAL_OPINIONS, Category.TRADE_UNION, Category.SEX_LIFE, Category.RELIGIOUS_BELIEFS})
# A share of a group ("40% des agents d'origine étrangère") is a statistic; a share of one person's ("GdB 50 %",
# "80% d'invalidité") stays health, so only these categories.
_GROUPS = frozenset(
    {Category.RACIAL_ETHNIC_ORIGIN, Category.RELIGIOUS_BELIEFS, Category.POLITICAL_OPINIONS, Category.TRADE_UNION}
)
_SHARE_BEFORE = 5  # words from a percentage to the group it counts
_PERCENT = context_words("percent")
_EVENT_WORDS = context_words("events")
_HOLIDAY = context_words("holiday")  # a religious feast named a public holiday, in a sentence naming no one
_OBSTRUCTION = context_words("obstruction")
_SHEER = context_words("sheer")  # right before a term, a figure of speech: "die reinste Erpressung"
_SINGLE_OPENING, _SINGLE_CLOSING = "'\u2018", "'\u2019"  # straight and curly single quotes: apostrophes too
_QUOTES = {'"': '"', "«": "»", "“": "”", "„": "“", "'": "'", "\u2018": "\u2019"}  # opening → closing


class Span(Protocol):
    """A term's or a cue's words in the sentence (word indexes, both included)."""

    @property
    def first(self) -> int: ...

    @property
    def last(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Written:
    """A sentence as the scanner reads it: its folded words, the sentence as written, each word's span in it, and
    the titles ("Mme", "Hr.") that make the next word a surname."""

    texts: Sequence[str]
    original: str
    places: Sequence[tuple[int, int]]
    titles: frozenset[str] = frozenset()

    def one_clause(self, left: int, right: int) -> bool:
        """No clause break (a comma, a colon, a bracket…) between word `left` and word `right` as written; an
        aside in brackets between them is none ("Hund vom Kd. (Labrador) schwer krank")."""
        between = self.original[self.places[left][1] : self.places[right][0]]
        if "(" in between:
            between = _ASIDE.sub("", between)
        return not _CLAUSE_BREAK.search(between)

    def capitalised(self, index: int) -> bool:
        """Word `index` is written with a capital first letter."""
        return self.original[self.places[index][0]].isupper()

    def one_phrase(self, left: int, right: int) -> bool:
        """One clause, and no dash set apart between the two words either."""
        between = self.original[self.places[left][1] : self.places[right][0]]
        return self.one_clause(left, right) and not _DASH.search(between)


class Cued(Span, Protocol):
    """A cue found in the sentence: its words and the lexicon entry that knew it."""

    @property
    def entry(self) -> Entry: ...


@dataclass(frozen=True, slots=True)
class Around:
    """The cues of one sentence that can make a term no person's, by kind, and the sentence as written."""

    sentence: Written
    people: Sequence[Cued]
    topics: Sequence[Span]
    animals: Sequence[Span]
    things: Sequence[Span]
    institutions: Sequence[Span]
    heads: Sequence[Span]  # institutions that end a compound ("*klinik")
    acts: Sequence[Span]  # a member's deeds and roles ("handing out", "canvassing for")

    @classmethod
    def of(cls, cues: Sequence[Cued], sentence: Written) -> Around:
        """Sort a sentence's cues (those heard in its language) by what they can make a term."""

        def kind(cue: Cue) -> list[Cued]:
            return [hit for hit in cues if hit.entry.cue is cue]

        institutions = kind(Cue.INSTITUTION)
        return cls(
            sentence,
            [hit for hit in cues if hit.entry.cue in _PEOPLE and hit.entry.phrase.lemma not in _BARE_VERBS],
            kind(Cue.TOPIC),
            kind(Cue.ANIMAL),
            kind(Cue.THING),
            institutions,
            [hit for hit in institutions if hit.entry.phrase.words[-1].shape is Shape.SUFFIX],
            kind(Cue.MEMBER),
        )

    def no_persons(self, term: Span, category: Category) -> bool:
        """Does the term name a title's, a topic's, an animal's, a thing's, an institution's or an order line's
        word rather than a person's datum? Each rule runs only where its cues are in the sentence."""
        insult, sentence = category is Category.INSULTING, self.sentence
        if self.topics and (
            in_a_title(term, self.topics, sentence)
            or (category in _TOPICAL and on_topic(term, self.topics, sentence) and not self._acted(term, category))
        ):
            return True
        if (
            self.animals
            and category in _OF_ANIMALS
            and of_an_animal(term, self.animals, self.people, sentence, apart=insult)
        ):
            return True
        if (
            self.things
            and category in _OF_THINGS
            and of_a_thing(term, self.things, self.people, sentence, curse=insult)
        ):
            return True
        if insult and by_the_writer(term, self.people, sentence):
            return True
        if category in _WORKPLACES and self.institutions and at_work(term, self.institutions, sentence):
            return True
        if category in _WORKPLACES and self.institutions and not self._in_its_clause(term) and at_a_site(
            term, self.institutions, sentence
        ):
            return True
        if term.first and sentence.texts[term.first - 1] in _SHEER:
            return True  # "die Preiserhöhung sei die reinste Erpressung", "das Lager ist der reinste Knast"
        if self.institutions and (
            _cursing(term, self.institutions, sentence)
            if insult
            else of_an_institution(term, self.institutions, self.heads, self.people, sentence, category)
        ):
            return True
        if category in _EVENTS and not self.people and in_the_way(term, sentence):
            return True  # "Pride-Parade am Sa, Innenstadt dicht", "Protest march blocked Adderley St"
        if category is Category.RELIGIOUS_BELIEFS and not self.people and not _HOLIDAY.isdisjoint(sentence.texts):
            return True  # "Livraison à caler avant la Tabaski (jour férié, port fermé)": a public holiday
        if category in _GROUPS and a_share(term, self.people, sentence):
            return True  # "30 % der Pflegekräfte mit Migrationshintergrund": a statistic of a group
        if category is Category.HEALTH and not self._in_its_clause(term) and a_dose(term, sentence.texts):
            return True
        return not insult and not self._in_its_clause(term) and counted(term, sentence)

    def _acted(self, term: Span, category: Category) -> bool:
        """A member's deed or role right before a party's or a union's name makes it no topic: "handing out Sinn
        Féin leaflets" is activism, "500 Sinn Féin leaflets" an order."""
        return category in _MEMBERSHIPS and any(
            term.first - _ACT_BEFORE <= act.last < term.first and self.sentence.one_clause(act.last, term.first)
            for act in self.acts
        )

    def _in_its_clause(self, term: Span) -> bool:
        """Does a person stand in the term's clause ("Mme Roy prend sertraline 50mg"; "200 Insulinpens,
        Ansprechpartner Hr. Vogel" names the buyer in another)?"""
        one_clause = self.sentence.one_clause
        return any(
            (person.last < term.first and one_clause(person.last, term.first))
            or (person.first > term.last and one_clause(term.last, person.first))
            for person in self.people
        )


def on_topic(term: Span, topics: Sequence[Span], sentence: Written) -> bool:
    """A `topic` cue right after the term ("Mental Health at Work webinar") in the same phrase (no dash or "and"
    between: "früher bei der NPD aktiv - Sponsoring prüfen" is no sponsoring of the NPD), or a topic phrase right
    before it ("head of criminal litigation") in the same clause: the term names a topic, a product or an
    event."""
    for topic in topics:
        # "on grindr at the conference", "un Xanax avant chaque présentation": not what the term names
        after = term.last < topic.first <= term.last + _TOPIC_AFTER
        untitled = after and _UNTITLED.isdisjoint(sentence.texts[term.last + 1 : topic.first])  # sliced when after
        if untitled and sentence.one_phrase(term.last, topic.first):
            return True
        before = topic.first < topic.last and term.first - _TOPIC_BEFORE <= topic.last < term.first
        if before and sentence.one_clause(topic.last, term.first):
            return True
    return False


def _others(term: Span, people: Sequence[Cued]) -> list[Cued]:
    """The people the sentence names outside the term ("Camino de Santiago" names no Santiago)."""
    return [person for person in people if person.last < term.first or person.first > term.last]


def of_an_animal(term: Span, animals: Sequence[Span], people: Sequence[Cued], written: Written, *, apart: bool) -> bool:
    """The term says something of an animal the sentence names, and of no person. `apart`: the animal must not
    stand right before the term (an insult: "dopey cow", "dumme Kuh" call a person an animal), and one the term
    is ("Esel") must follow a definite article ("Der Esel auf Hof Brandl ist stur", not "ist ein Esel")."""
    people = _others(term, people)
    for animal in animals:
        if animal.first == term.first and animal.last == term.last:
            if term.first and written.texts[term.first - 1] in _DEFINITE and not any(
                person.first < term.first for person in people
            ):
                return True
            continue
        if animal.last < term.first:
            heading = animal.first <= _OPENS and _heading(animal, term, written)
            if (apart and animal.last + 1 == term.first) or not (
                heading or written.one_clause(animal.last, term.first)
            ):
                continue
            # Its owner after "of" ("le chien de Mme Martin"), or its own name right after it ("mare 'Dolly'",
            # "labrador Bruno": a first name, not a title, "Netter Hund, aber Hr. Kuhn…") is no other person.
            if not any(_between_them(animal, term, person, written) for person in people):
                return True
        elif (
            term.last + apart < animal.first <= term.last + _AFTER_ANIMAL
            and written.one_clause(term.last, animal.first)
            and not any(person.first < term.first for person in people)
        ):
            return True
    return False


def _heading(animal: Span, term: Span, written: Written) -> bool:
    """The animal opens the sentence as a heading, a colon its only break before the term ("Zuchtbulle 'Max':
    Abstammungsnachweis per DNA"); a comma is another clause, maybe of its owner ("Katze gestorben, hat jetzt
    Depressionen")."""
    between = written.original[written.places[animal.last][1] : written.places[term.first][0]]
    return _CLAUSE_BREAK.findall(between) == [":"]


def _between_them(animal: Span, term: Span, person: Cued, written: Written) -> bool:
    """Is `person` another person between an animal and a term after it? Its owner after "of" ("le chien de Mme
    Martin") is not, nor its own name right after it ("mare 'Dolly'", "labrador Bruno": a first name, not a
    title, as in "Netter Hund, aber Hr. Kuhn…")."""
    owner = animal.last + 1 < len(written.texts) and written.texts[animal.last + 1] in _OF
    named_from = animal.last + _OWNER + 1 if owner else animal.last + 1
    pet = person.entry.phrase.lemma == _NAME_LEMMA and person.first <= animal.last + _PET_NAME
    return named_from <= person.first and person.last < term.first and not pet


def of_a_thing(term: Span, things: Sequence[Span], people: Sequence[Cued], written: Written, *, curse: bool) -> bool:
    """The term is a figure of speech about a machine, a piece of software, a deal or a price before it, in a
    clause that names no person before the term ("Ms Price is deaf" names one; "CFO got cold feet, deal
    paralysed" names one in another clause)."""
    people = _others(term, people)
    if curse and any(
        term.last < person.first <= term.last + _PET_NAME and written.one_clause(term.last, person.first)
        for person in people
    ):
        return False  # "that stupid cow Mrs Platt", "ce crétin de Martin": the insult names the person after it
    # Right after an insult (`curse`), or after "de"/"of", a thing is what it curses: "Scheiß-Navi", "fucking
    # printer", "putain de pluie" (not "his diabetes app": a condition before a thing is still the person's).
    if curse and any(_cursed(term, thing, written) for thing in things):
        return True
    # Right before the term, a thing is what it qualifies, whoever speaks ("le client trouve nos tarifs
    # criminels"), unless it is a person's name ("Ms Price sick": a title or a name right before it, or on it).
    if any(
        thing.last + 1 == term.first
        and not any(p.first <= thing.last and thing.first - 1 <= p.last for p in people)
        for thing in things
    ):
        return True
    if any(person.first < term.first and written.one_clause(person.last, term.first) for person in people):
        return False
    return any(
        thing.last < term.first <= thing.last + _THING_BEFORE and written.one_phrase(thing.last, term.first)
        for thing in things
    )


def _cursed(term: Span, thing: Span, written: Written) -> bool:
    """The thing right after the insult, or after "de"/"of" after it, in one phrase: "Scheiß-Navi", "cette
    saloperie de photocopieuse", "piece of junk printer"."""
    after = term.last + 1
    if after < thing.first and written.texts[after] in _OF:
        after += 1
    return thing.first == after and written.one_phrase(term.last, thing.first)


def by_the_writer(term: Span, people: Sequence[Cued], written: Written) -> bool:
    """An insult the writer says of themselves: "me = total idiot", "Moi = boulet du jour", "i bin heut echt a
    Vollkoffer", "I'm such an idiot": "I"/"moi"/"ich" at most four words before it, only a verb "to be" or fillers
    between, and no person named in its clause ("je pense que Martin est un boulet" names one); or "que je suis"
    right after it ("Crétin que je suis")."""
    texts = written.texts
    after = texts[term.last + 1 : term.last + 3]
    if len(after) == 2 and after[0] == "que" and after[1] in _SELF:
        return True  # "Crétin que je suis, j'ai oublié le devis"
    for index in range(max(0, term.first - _SELF_BEFORE), term.first):
        if texts[index] in _SELF and _SELF_FILLER.issuperset(texts[index + 1 : term.first]):
            return not any(
                written.one_clause(min(person.last, term.last), max(person.first, term.first))
                for person in _others(term, people)
                if person.first < index or person.first > term.last  # "moi" is a person cue: the writer
            )
    return False


def of_an_institution(
    term: Span,
    places: Sequence[Span],
    heads: Sequence[Span],
    people: Sequence[Cued],
    written: Written,
    category: Category,
) -> bool:
    """The term is part of an institution's name that opens its clause, or follows one that heads the sentence
    before a colon or, named, opens a sentence naming no person at all, in a sentence that names no person
    before the term or in its clause: "Suchtklinik Haus Lindenhof bestellt", "mosque committee wants a quote",
    "CGT section cheminots commande", "Moscheegemeinde Nordstadt: Angebot Teppichreinigung Gebetsraum". Not "in
    hospital w/ covid", "sitzt in der JVA", "Freitagsgebet in der Moschee": there the institution is where
    someone is. A clinic or a prison heading a note owns its terms only in a sentence of business (`_business`).
    `heads`: institutions that end a compound ("*klinik")."""
    people = _others(term, people)
    if any(person.first <= term.last or written.one_clause(term.last, person.first) for person in people):
        return False
    texts = written.texts
    for place in places:
        if place.first <= term.last and term.first <= place.last:
            compound = place in heads and place.first == place.last == term.first  # "Suchtklinik"
            # "Elm House psychiatric unit": the term ends with the institution's word, a name before it.
            named = place.first == term.last > term.first and _named_before(written, term.first)
            # "JVA Stadelheim bestellt": the term opens with the institution's word, its name written after it.
            named = named or (place.last == term.first < term.last and _capitalised(written, place.last + 1, term.last))
            start = term.first if compound or named or _named_after(written, term) else -1
        elif term.last < place.first <= term.last + _INSTITUTION_AFTER and written.one_clause(term.last, place.first):
            start = term.first if _LINKS.isdisjoint(texts[term.last + 1 : place.first]) else -1
        elif term.first - _INSTITUTION_BEFORE <= place.last < term.first and written.one_clause(place.last, term.first):
            start = place.first
        elif place.last < term.first and place.first <= _OPENS and _business(category, texts) and _heading(
            place, term, written
        ):
            start = place.first  # "Moscheegemeinde Nordstadt: Angebot Teppichreinigung Gebetsraum"
        elif (
            not people
            and place.last < term.first
            and place.first <= _OPENS
            and _business(category, texts)
            and _a_name(place, written)
        ):
            start = place.first  # "Central Mosque committee ordered 200 plates for the community iftar"
        else:
            start = -1
        if start >= 0 and _opens_clause(written, start):
            return True
    return False


def at_work(term: Span, places: Sequence[Span], written: Written) -> bool:
    """The term is an institution where a job title says someone works: "Nurse Manager at a private clinic",
    "Einkäuferin im Klinikum", "directrice de l'hôpital". The job title, then a link ("at", "de", "im"…), then at
    most two words before the institution's word, in one clause. Not "patient at the clinic", "Mme Roy est à
    l'hôpital": no job there."""
    if not _overlapping(term, places):
        return False
    texts = written.texts
    # The term may open with its link ("at the hospital"), but "in hospital" is where a patient is.
    last_link = term.first + 1 if texts[term.first] in _AT_WORK and texts[term.first] != "in" else term.first
    for link in range(max(1, term.first - _WORK_BEFORE), last_link):
        if texts[link] in _AT_WORK and _a_job(link - 1, written) and written.one_clause(link - 1, term.first):
            return True
    return False


def at_a_site(term: Span, places: Sequence[Span], written: Written) -> bool:
    """The term is an institution its phrase delivers to, installs at or repairs (`works`), with no person in its
    clause: "Install vidéosurveillance à la maison d'arrêt", "Delivered 40 adjustable beds to St Brigid's
    Clinic". Not "livraison reportée, M. Roy est à l'hôpital" (a person in the term's clause), nor "Delivery
    postponed - in hospital till Fri" (the delivery in another phrase)."""
    if not _overlapping(term, places):
        return False
    return any(
        text in _WORKS and written.one_phrase(min(index, term.first), max(index, term.last))
        for index, text in enumerate(written.texts)
    )


def _overlapping(term: Span, places: Sequence[Span]) -> bool:
    """Some institution's words share a word with the term ("at the hospital" and "hospital")."""
    return any(place.first <= term.last and term.first <= place.last for place in places)


def _a_job(index: int, written: Written) -> bool:
    """Word `index` is a job title's last word; "IT" only as capitals ("Head of IT at …", not "left it at …")."""
    word = written.texts[index]
    if word == "it":
        start, end = written.places[index]
        return written.original[start:end] == "IT"
    return word in _JOBS


def _cursing(term: Span, places: Sequence[Span], written: Written) -> bool:
    """An insult right before an institution's word, in one phrase, is what the institution is called or cursed,
    as a thing is ("Scheiß-Verein"; "FDP-Kreisverband" is no French "fdp"): no person's insult."""
    return any(place.first == term.last + 1 and written.one_phrase(term.last, place.first) for place in places)


def _opens_clause(written: Written, start: int) -> bool:
    """Word `start` opens its clause, or follows at most two words of a name ("Elm House psychiatric unit",
    "downtown HIV testing clinic"), none of them a link ("in psychiatric unit" is where someone is); a definite
    article that opens the clause is no link."""
    before = [index for index in range(start) if written.one_clause(index, start)]
    if before and written.texts[before[0]] in _DEFINITE:
        before = before[1:]  # the clause's subject: "Le centre LGBT de Lille réserve", "The mosque committee"
    return len(before) <= _NAME_WORDS and _LINKS.isdisjoint(written.texts[index] for index in before)


def _business(category: Category, texts: Sequence[str]) -> bool:
    """Whether a heading or a subject institution can own a term of this category: a clinic or a prison heading
    a note is often where its person is ("Clinique Pasteur : hospitalisé jusqu'à lundi"), unless the sentence
    orders, delivers or repairs ("Pflegeheim St. Anna bestellt Inkontinenz-Unterlagen")."""
    return category not in _WORKPLACES or not (_ORDERING.isdisjoint(texts) and _WORKS.isdisjoint(texts))


def _a_name(place: Span, written: Written) -> bool:
    """An institution's word written as part of its name: a capitalised name before it ("Holy Redeemer parish",
    "Central Mosque") or after it ("Pfarrei St. Leonhard", "Moscheeverein Linz")."""
    return (place.first > 0 and _named_before(written, place.first)) or _named_after(written, place)


def _named_after(written: Written, term: Span) -> bool:
    """The term is a place's word with its name right after, "de"/"of" between or not: "Mosquée de Mantes : devis
    toiture", "Synagogue of Leeds wants", "Moschee Neckarstadt bestellt"."""
    after = term.last + 1
    if after < len(written.texts) and written.texts[after] in _OF and not written.capitalised(after):
        after += 1
    return after < len(written.texts) and written.capitalised(after) and written.one_clause(term.last, after)


def _capitalised(written: Written, first: int, last: int) -> bool:
    """Words `first` to `last` are all written with a capital."""
    return all(written.capitalised(index) for index in range(first, last + 1))


def _named_before(written: Written, start: int) -> bool:
    """One or two capitalised words right before word `start`, in its clause: a name ("Elm House")."""
    before = [index for index in range(max(0, start - _NAME_WORDS), start) if written.one_clause(index, start)]
    return bool(before) and all(written.capitalised(index) for index in before)


def in_a_title(term: Span, topics: Sequence[Span], written: Written) -> bool:
    """The term is inside a quoted title that a topic word introduces or follows."""
    quotation = _quotation(written.original, written.places[term.first][0], written.places[term.last][1])
    if quotation is None:
        return False
    opens, closes = quotation
    for topic in topics:
        start, end = written.places[topic.first][0], written.places[topic.last][1]
        if end <= opens and fold(written.original[end:opens]).strip() in _BEFORE_TITLE:
            return True  # « formation "Religion et laïcité" », "Schulung 'Psychische…'", « la troupe des "…" »
        if end <= opens and written.original[:opens].rstrip().endswith(":") and _words_between(
            written, end, opens
        ) < _TITLE_INTRO:
            return True  # "Book ordered by Mrs Platt: 'The Idiot'": the topic word introduces the colon's title
        if start > closes and _words_between(written, closes, start) < _TITLE_AFTER and not _CLAUSE_BREAK.search(
            written.original[closes + 1 : start]
        ):
            return True  # "'Criminal Minds' trivia night", "'Born Again' renovation series"
    return False


def a_dose(term: Span, texts: Sequence[str]) -> bool:
    """A quantity right before the term or a dose right after it: an order line ("80 x sertraline 50mg"). Asked
    only of a term with no person in its clause (`Around.no_persons`). A bare number before it is no quantity:
    "seit KW 14 krankgeschrieben", "90 days dry", "before 11 (clinic after)"."""
    before = texts[term.first - 1] if term.first else ""
    after = texts[term.last + 1] if term.last + 1 < len(texts) else ""
    if before in _QUANTITY and term.first >= 2 and texts[term.first - 2].isdigit():
        return True
    if _DOSE.fullmatch(after):
        return True
    return after.isdigit() and term.last + 2 < len(texts) and texts[term.last + 2] in _DOSE_UNITS


def in_the_way(term: Span, written: Written) -> bool:
    """The term names an event (a march, a demo, a parade, a picket: `events`) in a sentence that says what it
    held up (`obstruction`): "Protest march blocked Adderley St, courier couldn't get through", "Streikposten
    vorm Werkstor, LKW kam nicht rein". Asked only of a sentence naming no person: "on strike", a member's
    state, is no event word."""
    texts = written.texts
    return not _EVENT_WORDS.isdisjoint(texts[term.first : term.last + 1]) and not _OBSTRUCTION.isdisjoint(texts)


def a_share(term: Span, people: Sequence[Cued], written: Written) -> bool:
    """A percentage of people at most five words before the term, in its clause: "of" and the people's word
    between them, a statistic ("ca. 30 % der Pflegekräfte mit Migrationshintergrund", "40% des agents d'origine
    étrangère"). Not "zu 50 % Türke" (one person's share of an origin), nor "1 % vom Brutto an die Gewerkschaft"
    (no people counted)."""
    texts = written.texts
    for index in range(max(0, term.first - _SHARE_BEFORE), term.first):
        end = written.places[index][1]
        percent = texts[index] in _PERCENT or (
            texts[index].isdigit() and written.original[end : end + 2].lstrip().startswith("%")
        )
        if (
            percent
            and written.one_clause(index, term.first)
            and not _OF.isdisjoint(texts[index + 1 : term.first])
            and any(index < person.first and person.last < term.first for person in people)
        ):
            return True
    return False


def counted(term: Span, written: Written) -> bool:
    """An order line: the sentence orders, quotes or delivers (`_ORDERING`), and a number counting goods stands at
    most five words before the term in its clause: "Cde 500 tests salivaires stupéfiants", "Order for the school
    shop: 30 crucifixes", "50 folding tables for the langar hall. deliver via back gate". Asked only of a term with
    no person in its clause. No number of days, weeks, months or years ("seit 3 Wochen krankgeschrieben", "sort
    de 18 mois à Fleury"), of people, nor a year ("2019") counts goods."""
    texts = written.texts
    if _ORDERING.isdisjoint(texts):
        return False
    return any(
        _a_count(index, written) and written.one_clause(index, term.first)
        for index in range(max(0, term.first - _COUNT_BEFORE), term.first)
    )


def _a_count(index: int, written: Written) -> bool:
    """Word `index` is a number that counts goods after it: five or more, and not a year, a date ("bis 15."), an
    amount ("£1,240"), a reference ("quote 44817", "Angebot 2024-301"), nor a count of days, weeks, people or
    sessions ("12 séances de kiné")."""
    texts, (start, end) = written.texts, written.places[index]
    number = texts[index]
    if not number.isdigit() or int(number) < _ORDER_MIN or (len(number) == 4 and number[:2] in _CENTURIES):
        return False
    if texts[index + 1] in _NOT_GOODS:
        return False
    before = written.original[start - 1] if start else " "
    after = written.original[end] if end < len(written.original) else " "
    dated = index > 0 and texts[index - 1] in _NUMBERED
    return before not in _NUMBER_MARKS and after not in _NUMBER_MARKS and not dated


def _words_between(written: Written, start: int, end: int) -> int:
    return sum(1 for a, _ in written.places if start < a < end)


def _quotation(original: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the quotation around `original[start:end]` opens and closes, or None. A straight or curly single
    quote counts only at a word's edge: "Jo'burg", "l'élevage" and "Tanya's" hold apostrophes, not quotations."""
    for index in range(start - 1, -1, -1):
        mark = original[index]
        closing = _QUOTES.get(mark)
        if closing is None:
            continue
        if mark in _SINGLE_OPENING and index and original[index - 1].isalnum():
            continue  # an apostrophe inside a word
        at = end
        while (found := original.find(closing, at)) != -1:
            if closing not in _SINGLE_CLOSING or found + 1 == len(original) or not original[found + 1].isalnum():
                return index, found
            at = found + 1
        return None
    return None
