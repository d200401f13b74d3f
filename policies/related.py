"""What a decision does to the person's related records (docs/related-records.md). Pure: record and decision in.

- Erasure (anonymise or delete): a record about the person alone is deleted (or scrubbed, per the connector's
  settings), unless deleting the person makes the CRM delete it already; a record that concerns other people too
  is never deleted, only scrubbed: the person's name, email and phone are cut out of its text, and the fields that
  hold nothing but their identifiers are emptied.
- Redaction: the sentences the sensitive-note rule found in a related record's text are cut out, as in the
  person's own notes.
- Restriction and rectification leave related records alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from gomme.model.changes import Action
from gomme.model.records import PersonRecord
from gomme.model.related import RelatedEdit, RelatedOp, RelatedRecord

ERASED_MARKER = "[erased]"
RELATED_PREFIX = "related:"  # a decision's value for a related text field: related:<object>:<id>:<field>
_PHONE_TAIL = 9  # the national significant number's last digits: the same in +33 6 12… and 06 12…
_MIN_NAME = 2


def related_key(record: RelatedRecord, field_name: str) -> str:
    """The key of a related text field among a decision's values and the note scanner's inputs."""
    return f"{RELATED_PREFIX}{record.object_type}:{record.id}:{field_name}"


def audited_name(key: str) -> str:
    """`related.<object>.<field>` for a related key (no record id), the key itself otherwise."""
    if not key.startswith(RELATED_PREFIX):
        return key
    object_type, _, rest = key.removeprefix(RELATED_PREFIX).partition(":")
    return f"related.{object_type}.{rest.rpartition(':')[2]}"


def related_texts(record: PersonRecord) -> dict[str, str]:
    """Every related text field of `record`, by its related key: what the note scanner reads beside the notes."""
    return {related_key(r, name): text for r in record.related for name, text in r.text.items() if text}


def person_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A decision's values without the related ones: what the person's own record is written with."""
    return {key: value for key, value in values.items() if not key.startswith(RELATED_PREFIX)}


def related_edits(
    record: PersonRecord, actions: tuple[Action, ...], values: Mapping[str, Any]
) -> tuple[RelatedEdit, ...]:
    """The writes the actions make to `record.related`, in the record's order."""
    if not record.related:
        return ()
    erasing = next((action for action in actions if action.erases), None)
    redacting = Action.REDACT_NOTE in actions
    if erasing is None and not redacting:
        return ()
    scrub = _scrubber(record) if erasing is not None else None
    return tuple(_edits(record, erasing, scrub, values))


def _edits(
    record: PersonRecord, erasing: Action | None, scrub: _Scrub | None, values: Mapping[str, Any]
) -> Iterator[RelatedEdit]:
    for related in record.related:
        if erasing is not None and related.others == 0:
            if erasing is Action.DELETE and related.cascades:
                continue  # the CRM deletes it with the person
            if related.delete_on_erase:
                yield RelatedEdit(related.object_type, related.id, RelatedOp.DELETE)
                continue
        new: dict[str, str | None] = {}
        for name, text in related.text.items():
            redacted = values.get(related_key(related, name))
            kept = redacted if isinstance(redacted, str) else text
            current: str | None = kept
            if scrub is not None:
                current = None if name in related.clearable else scrub(kept)
            if current != text:
                new[name] = current
        if new:
            op = RelatedOp.SCRUB if scrub is not None else RelatedOp.REDACT
            yield RelatedEdit(related.object_type, related.id, op, new)


class _Scrub:
    """Cuts one person's identifiers out of a text: email, phone (any spacing), full name, last and first name."""

    def __init__(self, pattern: re.Pattern[str] | None) -> None:
        self._pattern = pattern

    def __call__(self, text: str) -> str:
        return text if self._pattern is None or not text else self._pattern.sub(ERASED_MARKER, text)


def _scrubber(record: PersonRecord) -> _Scrub:
    parts: list[str] = []
    if record.email and "@" in record.email:
        parts.append(re.escape(record.email.strip()))
    digits = re.sub(r"\D", "", record.phone or "")
    if len(digits) >= 6:
        tail = digits[-_PHONE_TAIL:]
        parts.append(r"(?<!\d)(?:\+?\d{1,3}[\s.()-]*)?(?:0[\s.()-]*)?" + r"[\s.()-]*".join(tail) + r"(?!\d)")
    names = [n.strip() for n in (record.first_name, record.last_name) if n and len(n.strip()) >= _MIN_NAME]
    if len(names) == 2:
        first, last = names
        parts.append(rf"\b{_loose(first)}\s+{_loose(last)}\b")
        parts.append(rf"\b{_loose(last)}\s*,?\s+{_loose(first)}\b")
    parts.extend(rf"\b{_loose(name)}\b" for name in sorted(names, key=len, reverse=True))
    if not parts:
        return _Scrub(None)
    return _Scrub(re.compile("|".join(f"(?:{part})" for part in parts), re.IGNORECASE))


def _loose(name: str) -> str:
    """A name as written in free text: any run of spaces or hyphens between its parts."""
    return r"[\s-]+".join(re.escape(piece) for piece in re.split(r"[\s-]+", name) if piece)
