"""The `sensitive_note` kind: redact the sentences of free-text notes that hold Art 9/Art 10 data or insults."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field

from gomme.model.changes import Action
from gomme.model.conditions import FilterGroup
from gomme.model.records import PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.facts import NO_FACTS, RecordFacts
from gomme.policies.notes.lexicon import ARTICLES, Category
from gomme.policies.notes.model import note_model
from gomme.policies.notes.scanner import NoteMatch, scanner
from gomme.policies.notes.text import fold, replace_sentences, sentences_holding
from gomme.policies.related import RELATED_PREFIX, audited_name, related_texts
from gomme.policies.rule import RuleBase, one_of

Language = Literal["fr", "en", "de"]
RedactingAction = Annotated[Action, BeforeValidator(one_of(Action.REDACT_NOTE))]


class SensitiveNoteRule(RuleBase):
    """Redact note sentences with special-category, criminal or insulting content; the evidence never quotes them."""

    # The audit trail keeps categories and counts, not the lemmas (`terms`) `policy explain` shows: an entry there is
    # never erased, and "health:<condition>" beside a record key would outlive the note it was redacted from.
    audited: ClassVar[tuple[str, ...]] = ("categories", "sentences", "fields")

    kind: Literal["sensitive_note"] = "sensitive_note"
    legal_basis: str = Field(
        default="GDPR Art 9(1) (special categories) and Art 10 (criminal data): no exception applies to a sales "
        "CRM; Art 5(1)(c) minimisation; CNIL « Zones bloc-notes et commentaires » (28 Feb 2019): notes stay "
        "objective, never insulting, without sensitive data",
        min_length=1,
    )
    description: str = "redact sensitive sentences in notes"
    action: RedactingAction = Action.REDACT_NOTE
    languages: tuple[Language, ...] = Field(default=("fr", "en", "de"), min_length=1)
    categories: tuple[Category, ...] = Field(default=tuple(Category), min_length=1)
    fields: tuple[str, ...] = ()  # note fields to scan; empty = every note field
    marker: str = Field(default="[redacted]", min_length=1)
    # The second stage (policies/notes/model.py): a model reads the sentences no lexicon entry is in. Off by
    # default: it finds allusions the lexicons miss, at a hundred times their cost per note, and names no term.
    model: bool = False

    def prepare(self) -> None:
        _ = self._scan_notes

    @cached_property
    def _scan_notes(self) -> Callable[[Mapping[str, str], PersonRecord], dict[str, list[NoteMatch]]]:
        """The matches per note field, as one closure: this runs on every record with notes.

        The lexicons (package data, about 4 s to compile) are compiled on the first record with notes, once per
        process, not when the policy loads: commands that decide nothing (`config check`, `audit log`…) never
        pay for them."""
        scan, fields = scanner(tuple(self.languages), tuple(self.categories)).scan, frozenset(self.fields)
        second = note_model() if self.model else None  # what the lexicons leave, read by the model (model.py)

        def scan_notes(notes: Mapping[str, str], record: PersonRecord) -> dict[str, list[NoteMatch]]:
            found: dict[str, list[NoteMatch]] = {}
            own_names: frozenset[str] | None = None  # folded only when something matched: most notes match nothing
            for name, text in notes.items():
                wanted = not fields or name in fields or name.startswith(RELATED_PREFIX)
                if not text or not wanted:
                    continue
                # Most notes are cleared by the prefilter. The spans are the note's, masked insults included
                # ("w*nker" is read written out, with the same length: masks.py).
                matches = scan(text, second)
                if matches:
                    # The person's own name is not a term about them: "Follow-up Romano" (not the Roma), "Reached
                    # Harper" (not an insult). Their names are in every activity about them.
                    own_names = _own_names(record) if own_names is None else own_names
                    kept = [m for m in matches if fold(text[m.start : m.end]).strip() not in own_names]
                    if kept:
                        found[name] = kept
            return found

        return scan_notes

    def evaluate(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> Finding | None:
        # Related records' text (activities, notes beside the person) is scanned like the person's own notes.
        notes = {**record.notes, **related_texts(record)} if record.related else record.notes
        if not notes:
            return None
        found = self._scan_notes(notes, record)
        return self._finding(notes, found) if found else None

    def _finding(self, notes: Mapping[str, str], found: dict[str, list[NoteMatch]]) -> Finding:
        values: dict[str, str] = {}
        count = 0
        for name, matches in found.items():
            text = notes[name]
            held = sentences_holding(text, [m.span for m in matches])
            count += len(held)
            key = name if name.startswith(RELATED_PREFIX) else f"notes.{name}"
            values[key] = replace_sentences(text, held, self.marker)
        matches = [m for ms in found.values() for m in ms]
        categories = sorted({m.category for m in matches})
        languages = sorted({m.language for m in matches})
        terms = sorted({f"{m.category}:{m.lemma}" for m in matches})  # lexicon entries, never the note's words
        articles = sorted({ARTICLES[c] for c in categories})
        names = sorted({audited_name(name) for name in found})  # a related field by object and field, no id
        fields = ", ".join(names)
        reason = (
            f"{count} sentence(s) in note {fields} with {', '.join(categories)} content ({'; '.join(articles)}): redact"
        )
        facts = {
            "fields": ",".join(names),
            "categories": ",".join(categories),
            "terms": ",".join(terms),
            "languages": ",".join(languages),
            "sentences": str(count),
            "articles": "; ".join(articles),
        }
        return self.finding(self.action, reason, facts, values)

    def why_not(self, record: PersonRecord, now: dt.datetime, facts: RecordFacts = NO_FACTS) -> str:
        notes = {**record.notes, **related_texts(record)}
        scanned = sorted({
            audited_name(name) for name, text in notes.items()
            if text and (not self.fields or name in self.fields or name.startswith(RELATED_PREFIX))
        })  # fmt: skip
        if not scanned:
            if not any(notes.values()):
                return "no notes"
            return f"no text in the note fields scanned ({', '.join(self.fields)})"
        kinds = "sensitive" if len(self.categories) == len(Category) else "/".join(self.categories)
        return f"no {kinds} content found in {len(scanned)} note field(s): {', '.join(scanned)}"

    def prefilters(self, now: dt.datetime) -> tuple[FilterGroup, ...] | None:
        return ()  # notes are text: only a new or edited note can newly hold sensitive content


def _own_names(record: PersonRecord) -> frozenset[str]:
    """The person's first and last names and each of their parts, folded as the scanner folds text."""
    names = [fold(name).strip() for name in (record.first_name, record.last_name) if name]
    return frozenset(names) | frozenset(part for name in names for part in name.split() if len(part) > 1)
