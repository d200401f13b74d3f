"""Text handling for the scanner: length-preserving accent/case folding, sentences, and redaction."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence

Span = tuple[int, int]

_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”»)\]]*\s+|\s*\n\s*")
# A full stop after these words (folded) ends an abbreviation, not a sentence.
_ABBREVIATIONS = frozenset(
    {"m", "mr", "mrs", "ms", "dr", "st", "mme", "mlle", "me", "pr", "prof", "hr", "fr", "z.b", "bzw", "ca", "vs"}
    | {"e.g", "i.e", "approx", "tel", "n°", "no", "nr", "inc", "ltd", "co", "corp", "dept", "ggf", "usw", "vgl"}
    | {"orig", "cf", "bzgl", "evtl", "lt"}  # "d'orig. antillaise", "bzgl. des Angebots", "lt. Kollegin"
    | {"u", "inkl", "zzgl", "env"}  # "mit Warnweste u. Trillerpfeife", "inkl. Montage", "env. 3 semaines"
    | {"incl", "excl"}  # "our wellbeing module incl. the check-in feature"
    # CRM shorthand: "MA d. Kunden Mitgl. der GDL", "tägl. 100 mg", "(resp. achats)", "Sales Mgr." ("Kd." is not
    # here: it still ends a sentence, see tests/policies/notes_corpus/README.md, round 29)
    | {"d", "mitgl", "tägl", "ehem", "sog", "bspw", "insb", "urspr", "resp", "sté", "mgr", "asst"}
)
_ORDINAL = re.compile(r"\d{1,2}")  # "im 2. OG", "am 12. März", "3. Mahnung": a German ordinal ends no sentence
_LAST_WORD = re.compile(r"([\w.°]+)[.]$")


def _folding_table() -> bytes:
    """Latin-1 byte → ASCII byte: letters lowered without accents, digits kept, everything else a space."""
    table = bytearray(range(256))
    for code in range(256):
        base = unicodedata.normalize("NFD", chr(code).lower())[0]
        base = {"ß": "s", "æ": "a", "ø": "o", "ð": "d", "þ": "t"}.get(base, base)
        table[code] = ord(base) if base.isascii() and base.isalnum() else ord(" ")
    return bytes(table)


FOLDING_TABLE = _folding_table()


def _latin_extended() -> dict[int, str]:
    """Latin Extended-A letters (ā, ł, ş, č, ő…) → their Latin-1 base letter, one character for one: "Māori",
    "Ngāti", "Łódź" keep their words whole. Those with no one-letter base (œ, ĳ) are left out."""
    table: dict[int, str] = {}
    for code in range(0x100, 0x180):
        base = unicodedata.normalize("NFD", chr(code))[0]
        base = {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "\u0131": "i", "ŧ": "t", "Ŧ": "T"}.get(
            chr(code), base
        )
        if len(base) == 1 and ord(base) < 0x100:
            table[code] = base
    return table


_LATIN_EXTENDED = _latin_extended()


def fold(text: str) -> str:
    """`Rue de l'Église !` → `rue de l eglise  `: one character per character, so spans carry over as they are.

    Only letters and digits survive (lowered, accents removed); punctuation and anything else outside Latin-1
    and Latin Extended-A (œ, emoji…) become spaces. The lexicons are Latin-1, and one C pass keeps the scanner
    fast: the extended letters are read only in a text that holds one.
    """
    try:
        encoded = text.encode("latin-1")
    except UnicodeEncodeError:
        encoded = text.translate(_LATIN_EXTENDED).encode("latin-1", "replace")
    return encoded.translate(FOLDING_TABLE).decode("ascii")


@functools.lru_cache(maxsize=64)  # a note is split when scanned, then again when redacted
def sentences(text: str) -> tuple[Span, ...]:
    """Sentence spans (without the separating whitespace): split after . ! ? … and at line breaks."""
    spans: list[Span] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        end = boundary.start()
        if text[end - 1] == "." and "\n" not in boundary.group():
            last = _LAST_WORD.search(text, start, end)
            if last is not None and (last.group(1).lower() in _ABBREVIATIONS or _ORDINAL.fullmatch(last.group(1))):
                continue
        if text[start:end].strip():
            spans.append((start, end))
        start = boundary.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return tuple(spans)


def sentences_holding(text: str, spans: Iterable[Span]) -> list[Span]:
    """The sentences that overlap at least one span, in text order."""
    wanted = sorted(spans)
    return [s for s in sentences(text) if any(a < s[1] and b > s[0] for a, b in wanted)]


def redact_note(text: str, spans: Sequence[Span], marker: str = "[redacted]") -> str:
    """`text` with each sentence holding a span replaced by `marker`; everything else stays as written."""
    return replace_sentences(text, sentences_holding(text, spans), marker)


def replace_sentences(text: str, held: Sequence[Span], marker: str) -> str:
    """`text` with the given sentence spans (in order, from `sentences_holding`) replaced by `marker`."""
    pieces: list[str] = []
    position = 0
    for start, end in held:
        pieces += [text[position:start], marker]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
