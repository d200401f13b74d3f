"""The optional second stage of the sensitive-note scanner: a linear model over character n-grams.

The lexicons (scanner.py) find what their entries name; notes that allude ("off to visit the windows", "il est
sous métha", "sitzt 18 Mon ab") hold no entry. This model reads every sentence as the bag of its folded
character 3- to 5-grams (hashed with CRC-32 into 2**BITS slots, counts scaled to unit length) and scores it
against each label of the corpus (`none` and the nine categories) with multinomial logistic regression weights
trained on the `tune` split of tests/policies/notes_corpus (bench/train_notes_model.py). A sentence is flagged
when the probability that it is `none` falls under 1 - threshold; it is named by its likeliest category. The
scanner (`Scanner.scan` with a second stage) gives it only the sentences the lexicons found nothing in and did
not clear, in a language the rule scans: where a term was found and then cleared, by a negative phrase, as part
of a name or by a context ("Her dog has diabetes", "Herr Krebs", "Stapler Nr. 4 ist krank"), the lexicons'
decision stands, since the model, reading n-grams, knows no context.

It ships inside the package (`notes_model.bin`, `notes_model.json`: no download at run time), needs nothing but
the standard library, and is off by default (`model = true` on a `sensitive_note` rule turns it on): it costs
about 170 microseconds a sentence, where the lexicons' prefilter costs two a note, and what it flags
names no term (docs/notes-scanner.md, "Second stage").
"""

from __future__ import annotations

import functools
import json
import math
import sys
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from operator import itemgetter, mul

from gomme.policies.notes.lexicon import Category
from gomme.policies.notes.text import fold

NONE = "none"
LEMMA = "(model)"  # what a finding of the model names where a lexicon's would name its entry
GRAMS = (3, 4, 5)  # character n-gram sizes, over the folded sentence with one space between words
_FILES = "gomme.policies.notes"
WEIGHTS, HEADER = "notes_model.bin", "notes_model.json"


def features(text: str, bits: int) -> dict[int, float]:
    """The sentence's hashed n-gram counts, scaled to unit length: the model's input, the trainer's too."""
    padded = (" " + " ".join(fold(text).split()) + " ").encode("ascii")
    mask = (1 << bits) - 1
    grams = [padded[start : start + size] for size in GRAMS for start in range(len(padded) - size + 1)]
    counts = Counter(crc & mask for crc in map(zlib.crc32, grams))
    norm = math.sqrt(sum(count * count for count in counts.values())) or 1.0
    return {slot: count / norm for slot, count in counts.items()}


@dataclass(frozen=True, slots=True)
class Verdict:
    category: Category | None  # None: the model finds nothing sensitive
    probability: float  # that the sentence is sensitive (1 - P(none))


@dataclass(frozen=True)
class NoteModel:
    """Per label (`labels[i]`), its weight for each n-gram slot (`rows[i]`) and its bias; the threshold."""

    labels: tuple[str, ...]
    bits: int
    rows: tuple[array[float], ...]  # float32, one per label, 2**bits long
    biases: tuple[float, ...]
    threshold: float
    version: str

    def judge(self, sentence: str) -> Verdict:
        found = features(sentence, self.bits)
        if not found:
            return Verdict(None, 0.0)
        slots, values, labels = itemgetter(*found), tuple(found.values()), zip(self.biases, self.rows, strict=True)
        if len(found) == 1:  # itemgetter of one key returns the item, not a tuple
            scores = [bias + row[next(iter(found))] * values[0] for bias, row in labels]
        else:  # each label's dot product in C: its weights picked by `slots`, multiplied by the values, summed
            scores = [bias + sum(map(mul, slots(row), values)) for bias, row in labels]
        top = max(scores)
        exps = [math.exp(score - top) for score in scores]
        none = self.labels.index(NONE)
        sensitive = 1.0 - exps[none] / sum(exps)
        if sensitive <= self.threshold:
            return Verdict(None, sensitive)
        best = max((label for label in range(len(scores)) if label != none), key=scores.__getitem__)
        return Verdict(Category(self.labels[best]), sensitive)

    @property
    def lemma(self) -> str:
        return LEMMA

    def category_of(self, sentence: str) -> Category | None:
        """The category the model names in a sentence, or None: what the scanner asks (scanner.SecondStage)."""
        return self.judge(sentence).category


@functools.cache
def note_model() -> NoteModel:
    """The packaged model, read once per process (about 2.6 MB)."""
    files = resources.files(_FILES)
    header = json.loads(files.joinpath(HEADER).read_text("utf-8"))
    weights = array("f")
    weights.frombytes(files.joinpath(WEIGHTS).read_bytes())
    if sys.byteorder != "little":
        weights.byteswap()
    labels, size = tuple(header["labels"]), 1 << header["bits"]
    if len(weights) != len(labels) * size:
        raise ValueError(f"{WEIGHTS}: {len(weights)} weights, the header asks for {len(labels) * size}")
    rows = tuple(weights[index * size : (index + 1) * size] for index in range(len(labels)))
    return NoteModel(labels, header["bits"], rows, tuple(header["biases"]), header["threshold"], header["version"])
