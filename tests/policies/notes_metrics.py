"""Precision and recall of the sensitive-note scanner on the labelled corpus (tests/policies/notes_corpus/).

A sentence is *flagged* when the scanner finds anything in it: flagged sentences are redacted, so the overall
figures are per sentence (a decoy flagged is a false positive, a sensitive sentence not flagged a miss). Per
category, a sentence counts for the category it is labelled with and the categories the scanner names.

Run `python tests/policies/notes_metrics.py [--split heldout|tune|all] [--errors]` for the tables (Markdown).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "notes_corpus"
NONE = "none"
SPLITS = ("tune", "heldout")


@dataclass(frozen=True, slots=True)
class Sentence:
    id: str
    lang: str
    label: str
    kind: str
    split: str
    text: str


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Scores:
    overall: Tally = field(default_factory=Tally)
    by_language: dict[str, Tally] = field(default_factory=dict)
    by_category: dict[str, Tally] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # sentences per label
    sizes: dict[str, int] = field(default_factory=dict)  # sentences per language
    errors: list[tuple[Sentence, set[str]]] = field(default_factory=list)


def corpus(split: str = "all") -> Iterator[Sentence]:
    """The corpus sentences of one split (`tune`, `heldout`) or all, in file order."""
    for path in sorted(CORPUS_DIR.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            if split in ("all", row["split"]):
                yield Sentence(row["id"], row["lang"], row["label"], row["kind"], row["split"], row["text"])


def score(sentences: Iterable[Sentence], categories_of: Callable[[str], set[str]]) -> Scores:
    """Tally the scanner (`categories_of(text)` → the categories it finds) over labelled sentences."""
    scores = Scores()
    for sentence in sentences:
        found = categories_of(sentence.text)
        sensitive, flagged = sentence.label != NONE, bool(found)
        scores.counts[sentence.label] = scores.counts.get(sentence.label, 0) + 1
        scores.sizes[sentence.lang] = scores.sizes.get(sentence.lang, 0) + 1
        for tally in (scores.overall, scores.by_language.setdefault(sentence.lang, Tally())):
            tally.tp += sensitive and flagged
            tally.fp += flagged and not sensitive
            tally.fn += sensitive and not flagged
        if sensitive:
            tally = scores.by_category.setdefault(sentence.label, Tally())
            tally.tp += sentence.label in found
            tally.fn += sentence.label not in found
        for other in found - {sentence.label}:
            scores.by_category.setdefault(other, Tally()).fp += 1
        if sensitive != flagged or (sensitive and sentence.label not in found):
            scores.errors.append((sentence, found))
    return scores


def table(scores: Scores) -> str:
    """Markdown tables: overall, per language, per category."""
    lines = ["| scope | sentences | precision | recall |", "|---|---:|---:|---:|"]
    total = sum(scores.counts.values())
    lines.append(_row("all", total, scores.overall))
    for language, tally in sorted(scores.by_language.items()):
        lines.append(_row(language, scores.sizes[language], tally))
    for category, tally in sorted(scores.by_category.items()):
        lines.append(_row(category, scores.counts.get(category, 0), tally))
    lines.append(f"| decoys (none) | {scores.counts.get(NONE, 0)} | | |")
    return "\n".join(lines)


def _row(name: str, size: int, tally: Tally) -> str:
    return f"| {name} | {size} | {tally.precision:.3f} | {tally.recall:.3f} |"


def categories_found(*, model: bool = False) -> Callable[[str], set[str]]:
    """What the scanner finds in a text, by category: the lexicons, and (`model`) the second stage after them."""
    from gomme.policies.notes.model import note_model
    from gomme.policies.notes.scanner import scanner

    scan, second = scanner().scan, note_model() if model else None

    def categories_of(text: str) -> set[str]:
        return {match.category.value for match in scan(text, second)}

    return categories_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="heldout", choices=("all", *SPLITS))
    parser.add_argument("--errors", action="store_true", help="list the sentences the scanner gets wrong")
    parser.add_argument("--model", action="store_true", help="with the second stage (policies/notes/model.py)")
    args = parser.parse_args()
    sentences = list(corpus(args.split))
    scores = score(sentences, categories_found(model=args.model))
    print(f"split {args.split}: {len(sentences)} sentences" + (", lexicons and model" if args.model else ""))
    print(table(scores))
    if args.errors:
        for sentence, found in scores.errors:
            print(f"{sentence.id}\t{sentence.label}\t{','.join(sorted(found)) or '-'}\t{sentence.text}")


if __name__ == "__main__":
    main()
