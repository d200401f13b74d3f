"""Which Salesforce objects hold records about a person beside their Contact or Lead, and how each links to them.

The facts behind each entry, with their sources, are in docs/related-records.md (Salesforce section).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

USER_PREFIX = "005"  # a User id: the org's own staff, never "another person" a record concerns
DRAFT = "5"  # EmailMessage.Status of a draft: the only status whose fields may be updated
NOTE_FILE_TYPE = "SNOTE"  # ContentDocument.FileType of a note
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(?:/p|br\s*/?|/div|/li)\s*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RelatedObject:
    """How one object relates to people, and which of its fields may hold what is said about them."""

    sobject: str
    link: str | None  # the field naming the person; None: only through `relation`
    people: frozenset[str]  # the person objects it may point at
    text: tuple[str, ...]
    clearable: tuple[str, ...] = ()  # fields holding nothing but the person's identifiers
    cascades: bool = False  # deleting the person deletes it (the describe's cascadeDelete on the relationship)
    deletable: bool = True  # may be deleted when it is about the person alone (a Case is the account's record too)
    relation: str | None = None  # the junction object listing everyone a record concerns, when the org has it
    relation_key: str = ""  # its field naming the record
    relation_person: str = "RelationId"  # its field naming the person (or account, user...)
    relation_filter: tuple[tuple[str, object], ...] = ()  # field = value conditions on the junction rows
    all_rows: bool = False  # read through queryAll (archived activities), recycle-bin rows reported
    blob: str | None = None  # a base64 field read one record at a time (sObject Blob Get), as plain text
    sender_fields: tuple[str, ...] = ()  # emptied on erasure when the person is the sender (RelationType From)


P = frozenset({"Contact", "Lead"})
# Task and Event: WhoId lookups with cascadeDelete (deleting the Contact deletes them), archived after a while
# (queryAll); Case: ContactId, no cascade; EmailMessage: through EmailMessageRelation (Enhanced Email);
# ContentNote: through ContentDocumentLink (Notes); Note (classic notes): ParentId.
RELATED_OBJECTS: Mapping[str, RelatedObject] = {
    "Task": RelatedObject("Task", "WhoId", P, ("Subject", "Description"), cascades=True, relation="TaskRelation",
                          relation_key="TaskId", relation_filter=(("IsWhat", False),), all_rows=True),
    "Event": RelatedObject("Event", "WhoId", P, ("Subject", "Description"), cascades=True, relation="EventRelation",
                           relation_key="EventId", relation_filter=(("IsWhat", False),), all_rows=True),
    "Case": RelatedObject("Case", "ContactId", frozenset({"Contact"}),
                          ("Subject", "Description", "SuppliedName", "SuppliedEmail", "SuppliedPhone"),
                          clearable=("SuppliedName", "SuppliedEmail", "SuppliedPhone"), deletable=False),
    "EmailMessage": RelatedObject("EmailMessage", None, P,
                                  ("Subject", "FromName", "FromAddress", "ToAddress", "CcAddress", "BccAddress",
                                   "TextBody", "HtmlBody"),
                                  relation="EmailMessageRelation", relation_key="EmailMessageId",
                                  sender_fields=("FromName", "FromAddress")),
    "ContentNote": RelatedObject("ContentNote", None, P, ("Title",), relation="ContentDocumentLink",
                                 relation_key="ContentDocumentId", relation_person="LinkedEntityId",
                                 blob="Content"),
    # A classic note: on one parent (ParentId). Not assumed to cascade: deleted or scrubbed by gomme itself.
    "Note": RelatedObject("Note", "ParentId", P, ("Title", "Body")),
}  # fmt: skip


def note_text(body: bytes | str) -> str:
    """A note's Content (HTML) as plain text, a line a paragraph: what is scanned, scrubbed and exported."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    lines = _TAG.sub("", _BREAK.sub("\n", raw)).split("\n")
    return "\n".join(html.unescape(line).strip() for line in lines).strip()


def note_content(text: str) -> str:
    """Plain text as a note's Content for an update: special characters escaped (as the object reference asks), a
    paragraph a line, base64 encoded."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n"))
    return base64.b64encode(body.encode("utf-8")).decode("ascii")
