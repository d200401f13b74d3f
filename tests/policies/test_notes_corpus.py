"""The sensitive-note scanner judged on the labelled corpus's fixed held-out split (tests/policies/notes_corpus/).

The corpus was written apart from the lexicons (README there); the scanner's data is tuned on the `tune` split
only. The per-category and per-language table of the held-out split is printed in the test summary.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from notes_metrics import NONE, Scores, categories_found, corpus, score, table
from policy_testkit import CORPUS_FIGURES

from gomme.policies.notes.lexicon import Category
from gomme.policies.notes.scanner import scanner

SENTENCES = list(corpus())
HELDOUT = [sentence for sentence in SENTENCES if sentence.split == "heldout"]
LANGUAGES = {"fr", "en", "de"}


def categories_of(text: str) -> set[str]:
    return {match.category.value for match in scanner().scan(text)}


def test_corpus_is_large_labelled_and_a_third_decoys() -> None:
    labels = Counter(sentence.label for sentence in SENTENCES)
    per_language = Counter((sentence.lang, sentence.label) for sentence in SENTENCES)

    assert len(SENTENCES) >= 1500
    assert len({sentence.id for sentence in SENTENCES}) == len(SENTENCES)
    assert set(labels) == {*Category, NONE}
    assert labels[NONE] >= len(SENTENCES) / 3
    assert all(per_language[(language, label)] >= 20 for language in LANGUAGES for label in labels)


def test_held_out_split_is_a_fixed_30_percent_of_every_language_and_label() -> None:
    # The split was drawn over the first round (fr-0001…); legacy and second-round (fr-x0001…) sentences are tune.
    written_apart = [sentence for sentence in SENTENCES if re.fullmatch(r"(fr|en|de)-\d+", sentence.id)]
    groups = Counter((sentence.lang, sentence.label) for sentence in written_apart)
    held = Counter((sentence.lang, sentence.label) for sentence in HELDOUT)

    assert {sentence.split for sentence in SENTENCES} == {"tune", "heldout"}
    for group, size in groups.items():
        assert abs(held[group] - 0.3 * size) <= 1, group


# The figures reached on the held-out split (2026-12-08: 0.977/0.920; languages at least 0.970/0.898; categories
# at least 0.941/0.861), kept as floors just under them so no change makes the scanner worse. The aim (issue 16)
# is 0.95/0.95 overall and 0.90 everywhere; recall is not there yet (README, "Sensitive notes").
OVERALL = (0.97, 0.915)  # (precision, recall)
PER_LANGUAGE = (0.965, 0.89)
PER_CATEGORY = (0.935, 0.855)


def test_held_out_precision_and_recall_stay_at_least_where_they_are(pytestconfig: pytest.Config) -> None:
    scores = score(HELDOUT, categories_of)
    pytestconfig.stash[CORPUS_FIGURES] = [f"held-out split, {len(HELDOUT)} sentences:", *table(scores).splitlines()]
    overall = scores.overall
    assert overall.precision >= OVERALL[0] and overall.recall >= OVERALL[1], table(scores)
    below = _below(scores, PER_LANGUAGE, PER_CATEGORY)
    assert not below, "; ".join(below)


def _below(scores: Scores, per_language: tuple[float, float], per_category: tuple[float, float]) -> list[str]:
    """The languages and categories under their (precision, recall) floors, with their figures."""
    return [
        f"{name} P={tally.precision:.3f} R={tally.recall:.3f}"
        for floors, tallies in ((per_language, scores.by_language), (per_category, scores.by_category))
        for name, tally in tallies.items()
        if tally.precision < floors[0] or tally.recall < floors[1]
    ]


# With the second stage on (policies/notes/model.py, off by default; trained on the tune split only, its
# threshold set on the tune split by cross-validation): 2026-12-08, 0.969/0.969 overall, languages at least
# 0.954/0.954, categories at least 0.895/0.944 (sex life is under 0.90 in precision: the model names a
# neighbouring category, or flags a decoy of that category). Floors just under those figures.
MODEL_OVERALL = (0.95, 0.95)
MODEL_PER_LANGUAGE = (0.95, 0.95)
MODEL_PER_CATEGORY = (0.88, 0.93)


def test_held_out_with_the_model_meets_the_target_overall_and_per_language() -> None:
    scores = score(HELDOUT, categories_found(model=True))
    overall = scores.overall
    assert overall.precision >= MODEL_OVERALL[0] and overall.recall >= MODEL_OVERALL[1], table(scores)
    below = _below(scores, MODEL_PER_LANGUAGE, MODEL_PER_CATEGORY)
    assert not below, "; ".join(below)
