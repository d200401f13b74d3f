"""The sensitive-note scanner's optional second stage (policies/notes/model.py): off by default, packaged with
its weights, and what it adds to a redaction when a policy turns it on."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from policy_testkit import NOW, person

from gomme.policies.notes.lexicon import Category
from gomme.policies.notes.model import HEADER, LEMMA, NONE, features, note_model
from gomme.policies.notes.scanner import scanner
from gomme.policies.policy import load_pack
from gomme.policies.sensitive import SensitiveNoteRule

# An allusion no lexicon entry names: the wife left him for a woman.
ALLUSION = "Sa femme l'a quitté pour une femme, il est effondré."
NOTE = f"Devis validé pour 40 licences. {ALLUSION} Rappeler en mars."


def test_the_packaged_model_knows_every_category_and_none() -> None:
    header = json.loads(resources.files("gomme.policies.notes").joinpath(HEADER).read_text("utf-8"))
    model = note_model()

    assert set(model.labels) == {NONE, *Category}
    assert len(model.rows) == len(model.labels) and all(len(row) == 1 << model.bits for row in model.rows)
    assert 0.5 <= model.threshold < 1 and model.version == header["version"]


def test_features_are_the_same_for_the_same_words_however_written() -> None:
    # Folding first: case, accents and runs of spaces do not change what the model reads.
    assert features("Il est  SOUS métha", 16) == features("il est sous metha", 16)
    assert sum(value * value for value in features("une phrase", 16).values()) == pytest.approx(1.0)


def test_the_model_is_off_by_default_in_the_rule_and_the_cnil_pack() -> None:
    rule = next(rule for rule in load_pack("cnil").rules if isinstance(rule, SensitiveNoteRule))

    assert SensitiveNoteRule(id="notes").model is False and rule.model is False
    assert scanner().scan(ALLUSION) == []  # the lexicons find nothing in it
    assert rule.evaluate(person(notes={"description": NOTE}), NOW) is None


def test_with_the_model_on_the_allusion_is_redacted_and_its_term_names_the_model() -> None:
    rule = SensitiveNoteRule(id="notes", model=True)

    finding = rule.evaluate(person(notes={"description": NOTE}), NOW)

    assert finding is not None
    assert finding.values["notes.description"] == "Devis validé pour 40 licences. [redacted] Rappeler en mars."
    assert finding.facts["terms"] == f"sex_life:{LEMMA}" and finding.facts["categories"] == "sex_life"


class Everything:
    """A second stage that names `category` in every sentence it is given, and keeps what it was given."""

    lemma = "(stub)"

    def __init__(self, category: Category = Category.HEALTH) -> None:
        self.category, self.read = category, list[str]()

    def category_of(self, sentence: str) -> Category | None:
        self.read.append(sentence)
        return self.category


def test_the_model_reads_only_sentences_no_lexicon_entry_is_in_and_only_the_rules_categories() -> None:
    model = note_model()

    assert scanner().scan("Il est en arrêt maladie.", model) == scanner().scan("Il est en arrêt maladie.")
    assert scanner(categories=(Category.HEALTH,)).scan(ALLUSION, model) == []  # the rule does not redact sex life
    found = scanner().scan(NOTE, model)
    assert [(m.category, m.lemma, m.language, NOTE[m.start : m.end]) for m in found] == [
        (Category.SEX_LIFE, LEMMA, "fr", ALLUSION)
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Herr Krebs hat angerufen.",  # a surname
        "Meeting with Mr Gay tomorrow.",  # a title's name
        "Call Dr Payne at Gaol Lane.",  # a street
        "Commande chez Turc & Fils SARL.",  # a firm
        "Produits d'origine turque en stock.",  # goods' origin
        "Her dog has diabetes.",  # an animal's (contexts.py)
        "They want 40 pregnancy tests for the pharmacy.",  # a negative phrase
    ],
)
def test_the_second_stage_never_reads_a_sentence_the_lexicons_cleared(sentence: str) -> None:
    second = Everything()
    note = f"Devis validé. {sentence}"

    found = scanner().scan(note, second)

    assert second.read == ["Devis validé."] and [note[m.start : m.end] for m in found] == ["Devis validé."]


def test_the_second_stage_reads_no_sentence_clearly_in_a_language_the_rule_does_not_scan() -> None:
    second = Everything()
    note = "Der Kunde hat die Rechnung bezahlt. The customer has paid the invoice. OK."

    found = scanner(languages=("de",)).scan(note, second)

    # "OK." shows no language's stopwords: it is read, as the lexicons of the rule's languages read it.
    assert second.read == ["Der Kunde hat die Rechnung bezahlt.", "OK."]
    assert [m.language for m in found] == ["de", "any"]


def test_with_the_model_on_a_sentence_the_lexicons_cleared_stays_cleared() -> None:
    # "diabetes" is found, then cleared as the dog's (contexts.py): the model does not read that sentence again.
    rule = SensitiveNoteRule(id="notes", model=True)
    note = "Her dog has diabetes, so she orders the senior range every month."

    assert rule.evaluate(person(notes={"description": note}), NOW) is None


@pytest.mark.parametrize(
    "text",
    [
        "Commande de 40 licences validée, livraison mardi.",
        "Called back about the renewal, budget approved.",
        "Der Wartungsvertrag läuft im Dezember aus.",
    ],
)
def test_plain_business_notes_stay_clear_with_the_model(text: str) -> None:
    assert note_model().judge(text).category is None
