"""Engagements (notes, emails, calls, meetings, tasks) read beside contacts, written by related edits, exported.

The portal is the stateful fake (fakes.hubspot_engagements); the identities are synthetic.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fakes.hubspot import FakeHubSpot
from hubspot_testkit import Connect, planned

from gomme.connectors.hubspot import HubSpotConnector
from gomme.connectors.hubspot.related_writer import merge_texts
from gomme.connectors.hubspot.writer import ARCHIVE_REMAINS, HISTORY_REMAINS
from gomme.model.changes import Action, Outcome, PlannedChange
from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord
from gomme.model.related import RelatedEdit, RelatedGap, RelatedOp, RelatedOutcome

EVERYTHING = PullQuery(everything=True)
ARCHIVED_NOTES = "notes in the recycling bin"
NOTES_HISTORY = "notes property history"


def _contact(hubspot: FakeHubSpot, first: str, last: str) -> str:
    email = f"{first}.{last}@example.org".lower()
    return hubspot.portal.add(email=email, firstname=first, lastname=last, lifecyclestage="customer")


def _pulled(connector: HubSpotConnector) -> dict[str, PersonRecord]:
    return {record.id: record for record in connector.pull(EVERYTHING)}


def _change(record_id: str, action: Action, *edits: RelatedEdit, **values: Any) -> PlannedChange:
    return replace(planned(record_id, action, **values), related=edits)


def _routes(hubspot: FakeHubSpot, route: str) -> list[str]:
    return [request.path for request in hubspot.recorded(route)]


# -- reading ------------------------------------------------------------------------------------------------------


def test_a_pull_reads_engagements_in_batches_not_per_contact(hubspot: FakeHubSpot, connect: Connect) -> None:
    # given 250 contacts, each with a note and a call about them alone
    ids = [_contact(hubspot, f"First{i}", f"Last{i}") for i in range(250)]
    for i, contact in enumerate(ids):
        hubspot.portal.engagements.add("notes", [contact], hs_note_body=f"Note about Last{i}")
        hubspot.portal.engagements.add("calls", [contact], hs_call_title=f"Call {i}", hs_call_body="Talked.")
    connector = connect(read_subscriptions=False)

    records = _pulled(connector)

    # then every contact carries its two engagements, with their text and no other contact
    assert len(records) == 250
    for i, contact in enumerate(ids):
        related = records[contact].related
        assert [(r.object_type, r.others, r.cascades) for r in related] == [("notes", 0, False), ("calls", 0, False)]
        assert related[0].text == {"hs_note_body": f"Note about Last{i}"}
        assert related[1].text == {"hs_call_title": f"Call {i}", "hs_call_body": "Talked."}
        assert records[contact].related_gaps == ()
    # and the calls grow with batches, not contacts: for up to 1,000 contacts, one association read per object (5)
    # and one back per object that has some (2); per page of 100 contacts, one objects read per 100 engagements of
    # each object (2)
    assert hubspot.calls["associations.batch_read"] == 5 + 2
    assert hubspot.calls["objects.batch_read"] == 3 * 2
    assert sorted(set(_routes(hubspot, "objects.batch_read"))) == [
        "/crm/v3/objects/calls/batch/read", "/crm/v3/objects/notes/batch/read",
    ]  # fmt: skip
    assert all(len(r.body["inputs"]) <= 100 for r in hubspot.recorded("objects.batch_read"))


def test_a_pull_streams_a_thousand_contacts_at_a_time(hubspot: FakeHubSpot, connect: Connect) -> None:
    ids = [_contact(hubspot, f"First{i}", f"Last{i}") for i in range(1_250)]
    hubspot.portal.engagements.add("notes", [ids[1_100]], hs_note_body="About Last1100")
    records = iter(connect(read_subscriptions=False).pull(EVERYTHING))

    next(records)  # the first contact: its batch of 1,000 is linked, its page of 100 read

    assert hubspot.calls["contacts.list"] == 10 and hubspot.calls["associations.batch_read"] == 5
    assert hubspot.calls["objects.batch_read"] == 0  # no engagement in the first batch: no text read
    rest = list(records)
    assert len(rest) == 1_249 and hubspot.calls["contacts.list"] == 13
    assert [r.text for r in rest[1_099].related] == [{"hs_note_body": "About Last1100"}]
    assert hubspot.calls["associations.batch_read"] == 5 + 5 + 1 and hubspot.calls["objects.batch_read"] == 1


def test_a_shared_engagement_counts_the_other_contacts(hubspot: FakeHubSpot, connect: Connect) -> None:
    ada, bo, cy = (_contact(hubspot, *name) for name in (("Ada", "Quill"), ("Bo", "Vance"), ("Cy", "Noor")))
    meeting = hubspot.portal.engagements.add("meetings", [ada, bo, cy], hs_meeting_title="Quarterly review")
    hubspot.portal.engagements.add("tasks", [bo], hs_task_subject="Send the contract")

    records = _pulled(connect(read_subscriptions=False))

    (shared,) = records[ada].related
    assert (shared.object_type, shared.id, shared.others) == ("meetings", meeting, 2)
    assert sorted((r.object_type, r.others) for r in records[bo].related) == [("meetings", 2), ("tasks", 0)]


def test_the_pages_of_one_contacts_associations_are_all_followed(hubspot: FakeHubSpot, connect: Connect) -> None:
    hubspot.portal.engagements.page_size = 2  # HubSpot pages an id's associations; the fake, every 2
    ada = _contact(hubspot, "Ada", "Quill")
    notes = [hubspot.portal.engagements.add("notes", [ada], hs_note_body=f"Note {i}") for i in range(5)]

    (record,) = _pulled(connect(read_subscriptions=False)).values()

    assert [r.id for r in record.related] == notes
    followed = [r.body for r in hubspot.recorded("associations.batch_read") if "/contacts/notes/" in r.path]
    assert [body["inputs"] for body in followed] == [
        [{"id": ada}],
        [{"id": ada, "after": "2"}],
        [{"id": ada, "after": "4"}],
    ]


def test_a_withheld_scope_is_a_gap_on_each_contact_never_a_failed_pull(hubspot: FakeHubSpot, connect: Connect) -> None:
    # given an app without the scope to read emails (sales-email-read)
    hubspot.portal.engagements.withheld.add("emails")
    ids = [_contact(hubspot, f"First{i}", f"Last{i}") for i in range(1_050)]  # two batches of associations
    hubspot.portal.engagements.add("emails", [ids[0]], hs_email_subject="Renewal")
    hubspot.portal.engagements.add("notes", [ids[0]], hs_note_body="Renewal agreed.")
    connector = connect(read_subscriptions=False)

    records = _pulled(connector)

    # then every contact is read, with its notes, and says which object could not be read
    assert len(records) == 1_050
    assert [r.object_type for r in records[ids[0]].related] == ["notes"]
    assert {record.related_gaps for record in records.values()} == {
        (RelatedGap("emails", "not readable: MISSING_SCOPES"),)
    }
    # HubSpot was asked once, and not again for the next 1,000 contacts; notes were asked for both batches
    assert len([r for r in hubspot.recorded("associations.batch_read") if "/contacts/notes/" in r.path]) == 2
    assert [r.path for r in hubspot.recorded("associations.batch_read") if "emails" in r.path] == [
        "/crm/v4/associations/contacts/emails/batch/read"
    ]
    notices = [line for line in connector.notices() if "emails" in line]
    assert len(notices) == 1 and "MISSING_SCOPES" in notices[0] and "sales-email-read" in notices[0]


def test_engagements_are_not_read_when_switched_off(hubspot: FakeHubSpot, connect: Connect) -> None:
    ada = _contact(hubspot, "Ada", "Quill")
    hubspot.portal.engagements.add("notes", [ada], hs_note_body="About Ada")

    (record,) = _pulled(connect(read_subscriptions=False, read_engagements=False)).values()

    assert record.related == () and hubspot.calls["associations.batch_read"] == 0


def test_get_and_find_carry_engagements_too(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    ada = _contact(hubspot, "Ada", "Quill")
    hubspot.portal.engagements.add("notes", [ada], hs_note_body="About Ada")

    (got,) = connector.get([("contact", ada)])
    (found,) = connector.find("ada.quill@example.org")

    assert [r.text for r in got.related] == [r.text for r in found.related] == [{"hs_note_body": "About Ada"}]


def test_export_lists_the_engagements_with_the_other_people_counted(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    ada, bo = _contact(hubspot, "Ada", "Quill"), _contact(hubspot, "Bo", "Vance")
    note = hubspot.portal.engagements.add("notes", [ada, bo], hs_note_body="Ada and Bo agreed.")
    own = hubspot.portal.engagements.add("notes", [ada], hs_note_body="Bo is on +33 6 11 22 33 44.")
    (record,) = connector.get([("contact", ada)])

    exported = connector.export(record)

    assert exported["related"] == [
        {"object": "notes", "id": note, "hs_note_body": "Ada and Bo agreed.", "other_people": 1},
        {"object": "notes", "id": own, "hs_note_body": "Bo is on +33 6 11 22 33 44.", "other_people": 0},
    ]


def test_a_shared_engagement_is_exported_without_the_other_peoples_addresses_and_numbers(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    ada, bo = _contact(hubspot, "Ada", "Quill"), _contact(hubspot, "Bo", "Vance")
    hubspot.portal.engagements.add("calls", [ada, bo], hs_call_body=(
        "Ada (ada.quill@example.org) and Bo (bo.vance@example.org, +33 6 11 22 33 44) met on 2026-03-04, order 12."))
    (record,) = connector.get([("contact", ada)])

    (call,) = connector.export(record)["related"]

    assert call["hs_call_body"] == (
        "Ada (ada.quill@example.org) and Bo ([other person], [other person]) met on 2026-03-04, order 12.")
    assert call["withheld_for_others"] == 2 and call["other_people"] == 1


# -- writing ------------------------------------------------------------------------------------------------------


def test_related_edits_are_written_before_the_contact_is_deleted(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    ada, bo = _contact(hubspot, "Ada", "Quill"), _contact(hubspot, "Bo", "Vance")
    own = hubspot.portal.engagements.add("notes", [ada], hs_note_body="Ada Quill asked for a call.")
    shared = hubspot.portal.engagements.add("notes", [ada, bo], hs_note_body="Ada Quill and Bo agreed.")
    delete = RelatedEdit("notes", own, RelatedOp.DELETE)
    scrub = RelatedEdit("notes", shared, RelatedOp.SCRUB, {"hs_note_body": "[erased] and Bo agreed."})

    (result,) = connector.apply([_change(ada, Action.DELETE, delete, scrub)])

    assert result.outcome is Outcome.APPLIED
    assert result.related == RelatedOutcome(
        {"notes deleted": 1, "notes scrubbed": 1}, {}, (ARCHIVED_NOTES, NOTES_HISTORY)
    )  # a GDPR delete leaves nothing of the contact itself; the engagements' own traces are named
    engagements = hubspot.portal.engagements
    assert engagements.get("notes", own) is None and engagements.get("notes", shared) == {
        "hs_note_body": "[erased] and Bo agreed."
    }
    assert engagements.contacts_of("notes", shared) == [bo]  # the delete removed Ada's association, not the note
    order = [r.route for r in hubspot.requests]
    assert order.index("objects.batch_archive") < order.index("contacts.gdpr_delete")
    assert order.index("objects.batch_update") < order.index("contacts.gdpr_delete")


@pytest.mark.parametrize(("action", "mode", "remains"), [
    (Action.ANONYMISE, "gdpr", (HISTORY_REMAINS,)),
    (Action.DELETE, "archive", (ARCHIVE_REMAINS,)),
    (Action.DELETE, "gdpr", ()),
])  # fmt: skip
def test_what_hubspot_keeps_of_the_contact_is_reported(
    hubspot: FakeHubSpot, connect: Connect, action: Action, mode: str, remains: tuple[str, ...]
) -> None:
    ada = _contact(hubspot, "Ada", "Quill")

    (result,) = connect(delete_mode=mode).apply([planned(ada, action)])

    assert result.outcome is Outcome.APPLIED
    assert (result.related.remains if result.related else ()) == remains


def test_a_refused_write_is_reported_and_the_contact_still_handled(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    ada = _contact(hubspot, "Ada", "Quill")
    email = hubspot.portal.engagements.add("emails", [ada], hs_email_subject="Hello Ada")
    hubspot.portal.engagements.withheld.add("emails")

    (result,) = connector.apply([_change(ada, Action.DELETE, RelatedEdit("emails", email, RelatedOp.DELETE))])

    assert result.outcome is Outcome.APPLIED and hubspot.portal.get(ada) is None
    assert result.related is not None and result.related.erasure == "pseudonymised"
    assert result.related.failed == {"emails deleted MISSING_SCOPES": 1}
    assert result.related.remains == ("emails (write refused: MISSING_SCOPES)",)


def test_a_redaction_of_engagements_alone_writes_no_contact_property(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    bo = _contact(hubspot, "Bo", "Vance")
    call = hubspot.portal.engagements.add("calls", [bo], hs_call_title="Follow-up", hs_call_body="Private. Renewal.")
    redact = RelatedEdit("calls", call, RelatedOp.REDACT, {"hs_call_body": "[redacted] Renewal."})

    (result,) = connector.apply([_change(bo, Action.REDACT_NOTE, redact)])

    assert result.outcome is Outcome.APPLIED and result.error_code is None
    assert result.related == RelatedOutcome({"calls redacted": 1}, {}, ("calls property history",))  # fmt: skip
    assert hubspot.portal.engagements.get("calls", call) == {"hs_call_title": "Follow-up",
                                                             "hs_call_body": "[redacted] Renewal."}  # fmt: skip
    assert hubspot.calls["contacts.batch_update"] == 0


def test_an_emptied_field_is_cleared(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    ada = _contact(hubspot, "Ada", "Quill")
    task = hubspot.portal.engagements.add("tasks", [ada], hs_task_subject="Ada", hs_task_body="Call back")
    scrub = RelatedEdit("tasks", task, RelatedOp.SCRUB, {"hs_task_subject": None})

    connector.apply([_change(ada, Action.ANONYMISE, scrub)])

    assert hubspot.portal.engagements.get("tasks", task) == {"hs_task_body": "Call back"}
    assert hubspot.recorded("objects.batch_update")[0].body["inputs"][0]["properties"] == {"hs_task_subject": ""}


def test_two_erasures_of_one_batch_sharing_an_engagement_both_land(
    hubspot: FakeHubSpot, connector: HubSpotConnector
) -> None:
    # given a meeting with Ada, Cy and Bo; Ada and Cy are erased in the same batch, each edit computed alone
    ada, bo, cy = (_contact(hubspot, *name) for name in (("Ada", "Quill"), ("Bo", "Vance"), ("Cy", "Noor")))
    body = "Ada Quill, Bo Vance and Cy Noor met. Ada Quill will send the plan to Cy Noor."
    meeting = hubspot.portal.engagements.add("meetings", [ada, bo, cy], hs_meeting_body=body)
    without_ada = body.replace("Ada Quill", "[erased]")
    without_cy = body.replace("Cy Noor", "[erased]")
    changes = [
        _change(who, Action.ANONYMISE, RelatedEdit("meetings", meeting, RelatedOp.SCRUB, {"hs_meeting_body": text}))
        for who, text in ((ada, without_ada), (cy, without_cy))
    ]

    results = list(connector.apply(changes))

    # then neither write undoes the other: one update, with both cut out
    stored = hubspot.portal.engagements.get("meetings", meeting) or {}
    assert stored["hs_meeting_body"] == "[erased], Bo Vance and [erased] met. [erased] will send the plan to [erased]."
    assert [r.related.done if r.related else None for r in results] == [{"meetings scrubbed": 1}] * 2
    assert hubspot.calls["objects.batch_update"] == 1


def test_many_deletions_are_archived_a_hundred_at_a_time(hubspot: FakeHubSpot, connector: HubSpotConnector) -> None:
    contacts = [_contact(hubspot, f"First{i}", f"Last{i}") for i in range(250)]
    notes = [hubspot.portal.engagements.add("notes", [c], hs_note_body="About them") for c in contacts]
    changes = [
        _change(c, Action.ANONYMISE, RelatedEdit("notes", n, RelatedOp.DELETE))
        for c, n in zip(contacts, notes, strict=True)
    ]

    results = list(connector.apply(changes))

    assert all(r.outcome is Outcome.APPLIED for r in results)
    assert hubspot.calls["objects.batch_archive"] == 3
    assert not hubspot.portal.engagements.texts() and len(hubspot.portal.engagements.archived["notes"]) == 250


@pytest.mark.parametrize(("versions", "merged"), [
    (["[x] met Bo and Cy.", "Ada met Bo and [x]."], "[x] met Bo and [x]."),
    (["[x] met Bo.", "[x] met Bo."], "[x] met Bo."),
    (["Ada met Bo.", "Ada met Bo."], "Ada met Bo."),
    (["[x] met Bo.", "[y] met Bo."], None),  # the same words changed two ways: no guess
])  # fmt: skip
def test_merge_texts(versions: list[str], merged: str | None) -> None:
    base = "Ada met Bo and Cy." if "Cy" in versions[0] or "Cy" in versions[-1] else "Ada met Bo."
    assert merge_texts(base, versions) == merged
