"""The fake org's emails and notes (Enhanced Email, Notes), and archived activities: objects, fields, behaviour.

Object reference (docs/related-records.md, Salesforce section): EmailMessage exists only with Email-to-Case or
Enhanced Email; once its Status is not Draft only IsExternallyVisible and custom fields can be updated. An
EmailMessageRelation links an email to a Contact, Lead or User (RelationId; null for an address Salesforce does not
know). ContentNote needs Notes enabled; its Content is base64 (HTML or escaped plain text), only Content and Title
can be updated; TextPreview is read-only. ContentDocumentLink links a document to where it is shared. The fake has
no ContentDocument: a note's id is its document's id, and `ContentDocumentId` points at the ContentNote.
Key prefixes of EmailMessageRelation and ContentDocumentLink are made up (unverified).
"""

from __future__ import annotations

import base64
import html
import re

from fakes.salesforce_schema import Field

_SYSTEM = {"Id": Field("id", 18), "CreatedDate": Field("datetime"), "LastModifiedDate": Field("datetime"),
           "SystemModstamp": Field("datetime"), "IsDeleted": Field("boolean")}  # fmt: skip
EMAIL_OBJECTS = ("EmailMessage", "EmailMessageRelation")
NOTE_OBJECTS = ("ContentNote", "ContentDocumentLink")
CONTENT_SCHEMA: dict[str, dict[str, Field]] = {
    "EmailMessage": {
        **_SYSTEM, "Subject": Field("string", 3000), "FromAddress": Field("email", 255), "FromName": Field("string"),
        "ToAddress": Field("string", 4000), "CcAddress": Field("string", 4000), "BccAddress": Field("string", 4000),
        "TextBody": Field("textarea", 131072), "HtmlBody": Field("textarea", 131072),
        "Status": Field("picklist", 40), "Incoming": Field("boolean"), "MessageDate": Field("datetime"),
        "IsExternallyVisible": Field("boolean"),
    },
    "EmailMessageRelation": {
        **_SYSTEM, "EmailMessageId": Field("reference", 18, target="EmailMessage"),
        "RelationId": Field("reference", 18, target="Contact"), "RelationType": Field("picklist", 40),
        "RelationAddress": Field("string", 255),
    },
    "ContentNote": {
        **_SYSTEM, "Title": Field("string", 255), "Content": Field("base64", 10_000_000),
        "TextPreview": Field("string", 255), "FileType": Field("string", 20), "OwnerId": Field("reference", 18),
    },
    "ContentDocumentLink": {
        **_SYSTEM, "ContentDocumentId": Field("reference", 18, target="ContentNote"),
        "LinkedEntityId": Field("reference", 18, target="Contact"), "ShareType": Field("picklist", 40),
        "Visibility": Field("picklist", 40),
    },
    # A classic note (object reference "Note"): plain text on one parent record (ParentId: a Contact, a Lead, an
    # Account...), in every org; Title is required, Body up to 32 KB; private notes of other owners are invisible.
    "Note": {
        **_SYSTEM, "ParentId": Field("reference", 18, target="Contact"), "Title": Field("string", 80),
        "Body": Field("textarea", 32000), "IsPrivate": Field("boolean"), "OwnerId": Field("reference", 18),
    },
}  # fmt: skip
CONTENT_PREFIX = {"EmailMessage": "02s", "EmailMessageRelation": "0EZ", "ContentNote": "069",
                  "ContentDocumentLink": "06A", "Note": "002"}  # fmt: skip
CONTENT_READ_ONLY = {"ContentNote": {"TextPreview", "FileType", "OwnerId"}, "Task": {"IsArchived"},
                     "Event": {"IsArchived"}}  # fmt: skip
ARCHIVABLE = ("Task", "Event")  # query() leaves out IsArchived rows; queryAll() returns them
# Children removed with a record: an email's relations, a note's links (lookup field on the child).
CONTENT_CASCADES = {"EmailMessageRelation": "EmailMessageId", "ContentDocumentLink": "ContentDocumentId"}
# What a person's deletion removes beside it (unverified): the links sharing documents with them, their notes.
PERSON_CASCADES = {"ContentDocumentLink": "LinkedEntityId", "Note": "ParentId"}
EDITABLE_WHEN_SENT = frozenset({"IsExternallyVisible"})
DRAFT = "5"  # EmailMessage.Status: 0 New, 1 Read, 2 Replied, 3 Sent, 4 Forwarded, 5 Draft
_TAG = re.compile(r"<[^>]+>")


def content_schema(*, enhanced_email: bool, notes: bool, hidden: set[str]) -> dict[str, dict[str, Field]]:
    """The objects the integration user sees: emails without Enhanced Email, notes without Notes, are absent."""
    gone = set(hidden) | (set() if enhanced_email else set(EMAIL_OBJECTS)) | (set() if notes else set(NOTE_OBJECTS))
    return {name: dict(fields) for name, fields in CONTENT_SCHEMA.items() if name not in gone}


def note_content(text: str) -> str:
    """Plain text as a note's Content: escaped HTML, one paragraph a line, base64."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n"))
    return base64.b64encode(body.encode()).decode()


def note_text(content: str | None) -> str:
    """A note's Content (base64 HTML) as plain text, as its TextPreview shows it."""
    if not content:
        return ""
    body = base64.b64decode(content).decode()
    return html.unescape(_TAG.sub("", body.replace("</p>", "\n"))).strip()


def preview(content: str | None) -> str:
    return " ".join(note_text(content).split())[:255]
