"""The fake org's emails, notes, archived activities and recycle bin, driven through simple-salesforce."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from fakes.salesforce import FakeSalesforce
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

HOST = "fake.my.salesforce.com"
Connect = Callable[..., tuple[FakeSalesforce, Salesforce]]


@pytest.fixture
def connect() -> Iterator[Connect]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:

        def build(**options: Any) -> tuple[FakeSalesforce, Salesforce]:
            org = FakeSalesforce(host=HOST, **options)
            org.register(mock)
            return org, Salesforce(instance_url=f"https://{HOST}", session_id="fake-token", version=org.version)

        yield build


def ids(result: dict[str, Any]) -> set[str]:
    return {row["Id"] for row in result["records"]}


def test_query_leaves_out_archived_activities_and_query_all_returns_them_with_the_recycle_bin(
    connect: Connect,
) -> None:
    org, sf = connect()
    person = org.create("Contact", LastName="Quill")
    live = org.create_activity("Task", [person], Subject="Recent")
    archived = org.create_activity("Task", [person], Subject="Old", IsArchived=True)
    binned = org.create_activity("Task", [person], Subject="Deleted")
    assert org.delete_one(binned) is None

    soql = f"SELECT Id, IsDeleted, IsArchived FROM Task WHERE WhoId = '{person}'"
    assert ids(sf.query(soql)) == {live}
    everything = sf.query(soql, include_deleted=True)

    assert ids(everything) == {live, archived, binned}
    flags = {row["Id"]: (row["IsDeleted"], row["IsArchived"]) for row in everything["records"]}
    assert flags == {live: (False, False), archived: (False, True), binned: (True, False)}
    assert org.calls_of("query") == 2  # queryAll is counted as a query


def test_a_hard_delete_empties_the_recycle_bin(connect: Connect) -> None:
    org, sf = connect()
    person = org.create("Contact", LastName="Quill")
    task = org.create_activity("Task", [person], Subject="Call")
    org.delete_one(task)

    assert org.delete_one(task, hard=True) is None

    assert sf.query(f"SELECT Id FROM Task WHERE Id = '{task}'", include_deleted=True)["totalSize"] == 0


def test_a_sent_email_cannot_be_edited_but_a_draft_can(connect: Connect) -> None:
    org, sf = connect()
    person = org.create("Contact", LastName="Quill", Email="ada@example.org")
    to_ada = [(person, "ToAddress", "ada@example.org")]
    sent = org.create_email(to_ada, Subject="Hello Ada", ToAddress="ada@example.org")
    draft = org.create_email(to_ada, Subject="Hello Ada", Status="5")

    body = {"allOrNone": False, "records": [{"attributes": {"type": "EmailMessage"}, "id": i, "Subject": "Hello"}
                                            for i in (sent, draft)]}  # fmt: skip
    results = sf.restful("composite/sobjects", method="PATCH", json=body)

    assert [r["success"] for r in results] == [False, True]
    assert org.record("EmailMessage", sent)["Subject"] == "Hello Ada"
    relations = sf.query(f"SELECT EmailMessageId, RelationType FROM EmailMessageRelation WHERE RelationId = '{person}'")
    assert {row["EmailMessageId"] for row in relations["records"]} == {sent, draft}


def test_a_note_body_is_a_blob_and_its_preview_follows_an_update(connect: Connect) -> None:
    org, sf = connect()
    person = org.create("Contact", LastName="Quill")
    note = org.create_note([person], "Call", "Ada & Bo <3\nSecond line")

    row = sf.query(f"SELECT Id, Title, Content, TextPreview FROM ContentNote WHERE Id = '{note}'")["records"][0]
    blob = sf._call_salesforce("GET", sf.base_url + f"sobjects/ContentNote/{note}/Content").content

    assert row["Content"].endswith(f"/ContentNote/{note}/Content") and row["TextPreview"] == "Ada & Bo <3 Second line"
    assert blob == b"<p>Ada &amp; Bo &lt;3</p><p>Second line</p>"
    content = base64.b64encode(b"<p>[erased] called</p>").decode()
    record = {"attributes": {"type": "ContentNote"}, "id": note, "Content": content}
    assert sf.restful("composite/sobjects", method="PATCH", json={"records": [record]})[0]["success"]
    assert org.note_text(note) == "[erased] called"
    assert org.record("ContentNote", note)["TextPreview"] == "[erased] called"


def test_content_document_links_need_a_filter_and_go_with_their_note(connect: Connect) -> None:
    org, sf = connect()
    person = org.create("Contact", LastName="Quill")
    note = org.create_note([person], "Call", "text")
    links = sf.query(f"SELECT Id, LinkedEntityId FROM ContentDocumentLink WHERE ContentDocumentId = '{note}' "
                     "AND ContentDocument.FileType = 'SNOTE'")  # fmt: skip
    assert {row["LinkedEntityId"] for row in links["records"]} == {org.user_id, person}

    org.delete_one(note)

    assert sf.query(f"SELECT Id FROM ContentDocumentLink WHERE ContentDocumentId = '{note}'")["totalSize"] == 0


@pytest.mark.parametrize(("options", "gone"), [
    ({"enhanced_email": False}, "EmailMessage"),
    ({"notes": False}, "ContentNote"),
    ({"hidden_objects": {"EmailMessageRelation"}}, "EmailMessageRelation"),
])  # fmt: skip
def test_an_org_without_enhanced_email_or_notes_lacks_those_objects(
    connect: Connect, options: dict[str, Any], gone: str
) -> None:
    org, sf = connect(**options)

    with pytest.raises(SalesforceMalformedRequest):
        sf.query(f"SELECT Id FROM {gone}")
    assert gone not in org.schema
