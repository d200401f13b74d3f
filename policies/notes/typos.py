"""Typos in the key word of a note: a word one keystroke away from a long lexicon word is read as that word.

Salespeople type fast: "rmadan", "Fehlgebrt", "indiennne", "chimiotérapie". A note word that no lexicon entry
knows is compared with the long words of the sensitive terms (at least `MIN_LENGTH` letters): when one letter
inserted, dropped, replaced, or two neighbours swapped make it one of them, it is read as that word, then
stemmed and matched like any other. Found by symmetric deletion (each word and its one-letter deletions,
indexed once), so a lookup is a few dictionary probes.

Only long words are corrected, and never a real word: one the lexicons use themselves (in any entry, negative
phrase, cue or stopword list, in any language) or one of the dictionary words listed in `typos.toml`, the words
of French, English and German one keystroke from a lexicon word ("message" is not a typo of "massage", nor
"retention" of "detention", nor "Drucker" of "trucker").
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Iterable
from importlib import resources

MIN_LENGTH = 7  # shorter words are too close to each other ("cancer", "cancel") to correct
_MIN_TARGET = 7
_MIN_PREFIX = 7  # `mot*` entries at least this long ("baraki*" is too close to "karakia")


def _deletions(word: str) -> set[str]:
    return {word[:index] + word[index + 1 :] for index in range(len(word))}


class Typos:
    """`typos.correct(word)` → the long lexicon word `word` is one keystroke from, or None."""

    def __init__(
        self, targets: Iterable[str], known: Iterable[str], nouns: Iterable[str] = (), prefixes: Iterable[str] = ()
    ) -> None:
        """`targets`: the lexicon words a typo may stand for; `known`: words never read as typos; `nouns`: targets
        a capitalised word may stand for (German nouns, names of parties and unions; elsewhere a capitalised
        word is a name: "Garnier" is no typo of "Barnier")."""
        self._known = frozenset(known)
        self.nouns = frozenset(nouns)
        words: dict[str, set[str]] = {}
        for target in targets:
            if len(target) >= _MIN_TARGET and target.isalpha():
                for key in (target, *_deletions(target)):
                    words.setdefault(key, set()).add(target)
        self._words = _index(words)
        # `mot*` entries ("imbecil*", "hospitali*"): a word whose start is one keystroke from one reads as it.
        starts: dict[str, set[str]] = {}
        for prefix in prefixes:
            if len(prefix) >= _MIN_PREFIX and prefix.isalpha():
                for key in (prefix, *_deletions(prefix)):
                    starts.setdefault(key, set()).add(prefix)
        self._starts = _index(starts)
        self._longest = max(map(len, self._starts), default=0) + 1

    def is_noun(self, meant: str) -> bool:
        """May a capitalised word stand for `meant`: a German noun or an entity's name, or a German `mot*` entry's
        word ("Vollidiod" as "vollidiot")."""
        return meant in self.nouns or any(meant.startswith(noun) for noun in self.nouns if len(noun) < len(meant))

    def correct(self, word: str) -> str | None:
        """The one lexicon word `word` misspells as written ("fehlgebrt"), or None.

        Inflected forms are not corrected through their stems: stems are short, and one keystroke from a stem
        is too often another word's ("checken" is no typo of "Chechen", nor "seperate" of "separatiste")."""
        if len(word) < MIN_LENGTH or word in self._known or not word.isalpha():
            return None
        meant = _closest(word, self._words, lambda target: target)
        if meant is not None or not self._starts:
            return meant
        # A start that lacks the entry's first letter is another word more often than a typo: the start of a
        # compound ("Sozialtarif" is no "asozial…"), and people seldom miss a word's first letter.
        readings = {
            length: (prefix, prefix + word[length:])
            for length in range(_MIN_PREFIX - 1, min(len(word), self._longest) + 1)
            if (prefix := _closest(word[:length], self._starts, lambda target: target)) is not None
            and prefix[0] == word[0]
        }
        if len({reading for _, reading in readings.values()}) == 1:
            return next(iter(readings.values()))[1]
        # One entry read at several cuts ("vollidiod": "vollidio|d" as "vollidiot" + "d", "vollidiod" as
        # "vollidiot"): the cut that explains the most of the word. Two entries: no guess.
        if len({prefix for prefix, _ in readings.values()}) == 1:
            return readings[max(readings)][1]
        return None


def _index(targets: dict[str, set[str]]) -> dict[str, str | tuple[str, ...]]:
    """Each key's targets: the one word itself (nearly every key: a tuple each would cost some 5 MB), or a tuple."""
    return {key: next(iter(found)) if len(found) == 1 else tuple(sorted(found)) for key, found in targets.items()}


def _closest(word: str, index: dict[str, str | tuple[str, ...]], key: Callable[[str], str]) -> str | None:
    """The one target whose `key` is one keystroke from `word`, or None (none, or two readings: no guess)."""
    found: set[str] = set()
    for probe in (word, *_deletions(word)):
        targets = index.get(probe)
        if isinstance(targets, str):
            found.add(targets)
        elif targets is not None:
            found.update(targets)
    # Within one keystroke: the probes above also meet words two apart (one letter dropped on each side, at
    # different places), which are kept only when they are a swap of two neighbours.
    close = {target for target in found if key(target) != word and _one_edit(word, key(target))}
    if len({key(target) for target in close}) != 1:
        return None
    return min(close)


def _one_edit(word: str, target: str) -> bool:
    """One letter inserted, dropped or replaced, or two neighbours swapped."""
    if abs(len(word) - len(target)) > 1:
        return False
    if len(word) == len(target):
        diff = [index for index, (a, b) in enumerate(zip(word, target, strict=True)) if a != b]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and word[diff[0]] == target[diff[1]]
            and word[diff[1]] == target[diff[0]]
        )
    short, long = (word, target) if len(word) < len(target) else (target, word)
    index = next((i for i, (a, b) in enumerate(zip(short, long, strict=False)) if a != b), len(short))
    return short[index:] == long[index + 1 :]


def _shipped() -> dict[str, list[str]]:
    """`typos.toml` as shipped: `words` (from the dictionaries) and `frequent` (from wordfreq)."""
    return tomllib.loads(resources.files("gomme.policies.notes").joinpath("typos.toml").read_text("utf-8"))


@functools.cache
def real_words() -> frozenset[str]:
    """Dictionary words one keystroke from a lexicon word (`typos.toml`): never read as typos."""
    data = _shipped()
    return frozenset(data["words"]) | frozenset(data.get("frequent", ()))


_DICTIONARIES = ("french", "american-english", "british-english", "ngerman", "swiss")  # Debian's w* packages
_WIDTH = 110  # characters of words per line of `typos.toml`


def _toml_list(name: str, words: Iterable[str]) -> list[str]:
    """`name = [...]`: the words sorted, quoted and wrapped, as the lines of `typos.toml` hold them."""
    import json

    lines, row = [f"{name} = ["], list[str]()
    for word in sorted(words):
        row.append(json.dumps(word))
        if sum(len(item) + 2 for item in row) > _WIDTH:
            lines.append("    " + ", ".join(row) + ",")
            row = []
    if row:
        lines.append("    " + ", ".join(row) + ",")
    return [*lines, "]"]


def _dictionary_block(words: Iterable[str]) -> list[str]:
    return [
        "# Real words one keystroke away from a long lexicon word: never read as typos of it (typos.py).",
        "# Generated by `python -m gomme.policies.notes.typos` from the word lists of Debian's wfrench, wamerican,",
        "# wbritish, wngerman and wswiss packages (folded); run it again after adding long words to a lexicon.",
        *_toml_list("words", words),
    ]


def _frequent_block(words: Iterable[str]) -> list[str]:
    return [
        "# Frequent words (the 100,000 most frequent of French, English and German in wordfreq 3, 2026-12-06)",
        '# the typo reading took for a lexicon word: place and people\'s names ("Villeurbanne" for "violeur",',
        '# "Meurthe" for "meurtre", "Dassault" for "assault") and words the dictionaries lack; inflections',
        "# of the word meant are left out.",
        "# Generated by `python -m gomme.policies.notes.typos frequent` (needs `pip install wordfreq`).",
        *_toml_list("frequent", words),
    ]


def _file(words: Iterable[str], frequent: Iterable[str]) -> str:
    return "\n".join([*_dictionary_block(words), "", *_frequent_block(frequent)]) + "\n"


def _dictionary_words(folder: str = "/usr/share/dict") -> set[str]:
    """The dictionary words the shipped lexicons' typos would otherwise read as terms."""
    from pathlib import Path

    from gomme.policies.notes.scanner import scanner, typos_of
    from gomme.policies.notes.text import fold

    typos = typos_of(scanner()._entries, real=False)  # a maintenance script
    words: set[str] = set()
    for name in _DICTIONARIES:
        for line in Path(folder, name).read_text("utf-8", errors="replace").splitlines():
            word = fold(line).strip()
            if " " not in word and typos.correct(word):
                words.add(word)
    return words


def _frequent_words(size: int = 100_000) -> set[str]:
    """Words among the `size` most frequent of French, English and German (wordfreq, a maintenance tool, not a
    dependency) that the typo reading would take for a lexicon word: names of places and people ("Villeurbanne",
    "Meurthe", "Dassault"), and words the dictionaries lack."""
    # Maintenance only (pip install -e '.[lexicon]'): mypy may run with it installed or not.
    from wordfreq import top_n_list  # type: ignore[import-not-found, unused-ignore]

    from gomme.policies.notes.scanner import scanner
    from gomme.policies.notes.text import fold

    typos = scanner()._typos  # a maintenance script: the typo index as shipped, dictionary words excluded
    words: set[str] = set()
    for language in ("fr", "en", "de"):
        for word in top_n_list(language, size):
            folded = fold(word).strip()
            meant = typos.correct(folded) if folded.isalpha() else None
            # An inflection of the word meant ("adventisten", "acadiens") is that word, whatever wordfreq counts.
            if meant is not None and not (meant.startswith(folded) or folded.startswith(meant)):
                words.add(folded)
    return words


if __name__ == "__main__":
    # `python -m gomme.policies.notes.typos [frequent] > policies/notes/typos.toml`: the whole file, one block
    # generated anew and the other kept as shipped.
    import sys

    shipped = _shipped()
    if sys.argv[1:] == ["frequent"]:
        print(_file(shipped["words"], _frequent_words()), end="")
    else:
        print(_file(_dictionary_words(), shipped.get("frequent", ())), end="")
