"""List one-word lexicon entries matched by their stem whose stem a common word of another form shares.

Usage: .venv/bin/pip install -e '.[lexicon]' && .venv/bin/python bench/lexicon_stems.py LANGUAGE [--words N]

A plain entry matches every word with its Snowball stem (docs/notes-scanner.md): "approver" also matches
"approves", "Nichte" also "nicht", "closeted" also "closets". Most such pairs are forms of one word and are
meant ("diabetes", "diabetic"); the rest make false alarms or false cues and should be written as exact forms
(`=approver`, `=approvers`). This prints, per entry (terms, then cues), the words of the language's N commonest
(wordfreq, default 60,000) that share its stem and do not start with it, with their frequency rank, for a
maintainer to read: the call is a reader's, not this script's. The check of 2026-12-08 (round 29) turned about
a hundred entries into exact forms this way.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from wordfreq import top_n_list

from gomme.policies.notes.lexicon import LANGUAGES, Role, load_lexicon
from gomme.policies.notes.patterns import Shape
from gomme.policies.notes.stems import stem_of
from gomme.policies.notes.text import fold


def common_by_stem(language: str, count: int) -> dict[str, list[tuple[int, str]]]:
    """The language's `count` commonest words (folded), by stem, with their rank."""
    stem = stem_of(language)
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for rank, word in enumerate(top_n_list(language, count)):
        folded = fold(word).strip()
        if folded.isalpha():
            found[stem(folded)].append((rank, folded))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("language", choices=LANGUAGES)
    parser.add_argument("--words", type=int, default=60_000, help="how many of the commonest words to check")
    args = parser.parse_args()
    common = common_by_stem(args.language, args.words)
    seen: set[tuple[str, str]] = set()
    for entry in sorted(load_lexicon(args.language).entries, key=lambda entry: entry.role is not Role.TERM):
        words = entry.phrase.words
        if len(words) != 1 or words[0].shape is not Shape.STEM:
            continue
        kind = entry.category.value if entry.category else f"cue {entry.cue.value if entry.cue else ''}"
        if (kind, words[0].text) in seen:
            continue
        seen.add((kind, words[0].text))
        lemma = entry.phrase.lemma
        others = [
            (rank, word)
            for rank, word in common.get(words[0].text, [])
            if not word.startswith(lemma[: max(3, len(lemma) - 1)]) and len(word) >= words[0].shortest
        ]
        if others:
            needs = f"needs {entry.needs.value}" if entry.needs else ""
            listed = " ".join(f"{word}({rank})" for rank, word in others[:8])
            print(f"{kind}\t{needs}\t{lemma}\t{listed}")


if __name__ == "__main__":
    main()
