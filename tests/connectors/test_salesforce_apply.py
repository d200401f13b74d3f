"""Writing to Salesforce: each action's exact requests, collections of 200, Bulk API 2.0, partial failures."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from salesforce_testkit import Harness, body, change, query_of

from gomme.connectors.salesforce import SalesforceConnector
from gomme.connectors.salesforce.writer import individual_name
from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange

INDIVIDUAL_FLAGS = {"HasOptedOutProcessing": True, "HasOptedOutProfiling": True, "HasOptedOutTracking": True,
                    "HasOptedOutSolicit": True}  # fmt: skip
CONTACT_ERASED = {
    "FirstName": None, "Email": None, "Phone": None, "MobilePhone": None, "HomePhone": None, "OtherPhone": None,
    "Fax": None, "AssistantName": None, "AssistantPhone": None, "Title": None, "Birthdate": None,
    "Description": None, "MailingStreet": None, "MailingCity": None, "MailingState": None,
    "MailingPostalCode": None, "OtherStreet": None, "OtherCity": None, "OtherState": None,
    "OtherPostalCode": None, "LastName": "ANONYMISED",
}  # fmt: skip


def apply(connector: SalesforceConnector, *changes: PlannedChange) -> dict[str, ChangeResult]:
    return {result.change_id: result for result in connector.apply(changes)}


def writes(sf: Harness) -> list[tuple[str, Any]]:
    """(method, body or ids) of every write call, in order."""
    out: list[tuple[str, Any]] = []
    for call in sf.calls():
        if "/composite/" in call.request.url:
            method = call.request.method
            out.append((method, query_of(call)["ids"][0].split(",") if method == "DELETE" else body(call)))
    return out


def test_restrict_email_sets_the_email_opt_out_flag_and_nothing_else(sf: Harness) -> None:
    contact = sf.contact()
    results = apply(sf.connector(), item := change(contact, Action.RESTRICT_EMAIL))
    assert results[item.change_id].outcome is Outcome.APPLIED
    assert writes(sf) == [("PATCH", {"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "id": contact, "HasOptedOutOfEmail": True}]})]  # fmt: skip


def test_restrict_all_sets_every_opt_out_on_the_record_then_on_its_individual(sf: Harness) -> None:
    person = sf.individual()
    lead = sf.lead(IndividualId=person)
    results = apply(sf.connector(), item := change(lead, Action.RESTRICT_ALL, object_type="lead"))
    assert results[item.change_id].outcome is Outcome.APPLIED
    assert writes(sf) == [
        ("PATCH", {"allOrNone": False, "records": [
            {"attributes": {"type": "Lead"}, "id": lead, "HasOptedOutOfEmail": True, "DoNotCall": True},
        ]}),
        ("PATCH", {"allOrNone": False, "records": [
            {"attributes": {"type": "Individual"}, "id": person, **INDIVIDUAL_FLAGS},
        ]}),
    ]  # fmt: skip


def test_a_refused_record_update_leaves_its_individual_unrestricted_so_the_change_is_retried(sf: Harness) -> None:
    person = sf.individual()
    contact = sf.contact(IndividualId=person)
    sf.org.faults.rejected[contact] = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    connector = sf.connector()
    results = apply(connector, item := change(contact, Action.RESTRICT_ALL))
    assert results[item.change_id].outcome is Outcome.FAILED
    assert [sobject for _, body in writes(sf) for sobject in _types(body)] == ["Contact"]  # the Individual untouched
    [record] = list(connector.get([("contact", contact)]))
    assert not record.restricted and not record.opt_outs.processing  # reads as not done: planned again next run


def test_restrict_all_without_an_individual_creates_one_and_links_it(sf: Harness) -> None:
    contact = sf.contact()
    connector = sf.connector()
    results = apply(connector, item := change(contact, Action.RESTRICT_ALL))
    assert results[item.change_id].outcome is Outcome.APPLIED
    (post, created), (patch, updated) = writes(sf)
    assert (post, patch) == ("POST", "PATCH")
    name = individual_name("Contact", contact)  # a key of the record, nothing of the person: a retry finds it
    assert re.fullmatch(r"RESTRICTED [0-9a-f]{16}", name)
    assert created["records"] == [{"attributes": {"type": "Individual"}, "LastName": name, **INDIVIDUAL_FLAGS}]
    new_id = sf.org.record("Contact", contact)["IndividualId"]  # type: ignore[index]
    assert updated["records"] == [{"attributes": {"type": "Contact"}, "id": contact, "HasOptedOutOfEmail": True,
                                   "DoNotCall": True, "IndividualId": new_id}]  # fmt: skip
    [record] = list(connector.get([("contact", contact)]))
    assert record.restricted and record.opt_outs.processing and record.first_name == "Ada"


def test_without_data_protection_restrict_all_sets_the_configured_marker_field(sf: Harness) -> None:
    contact = sf.contact()
    connector = sf.connector(data_protection=False, restricted_field="Gomme_Restricted__c", objects=["Contact"])
    results = apply(connector, item := change(contact, Action.RESTRICT_ALL))
    assert results[item.change_id].outcome is Outcome.APPLIED
    assert writes(sf) == [("PATCH", {"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "id": contact, "HasOptedOutOfEmail": True, "DoNotCall": True,
         "Gomme_Restricted__c": True},
    ]})]  # fmt: skip
    [record] = list(connector.get([("contact", contact)]))
    assert record.restricted and not any("Individual" in q for q in sf.soql())


def test_anonymise_deletes_consents_first_then_clears_the_individual_and_the_record(sf: Harness) -> None:
    person = sf.individual(BirthDate="1990-01-01")
    consent = sf.org.create("ContactPointTypeConsent", Name="Ada's email", PartyId=person, ContactPointType="Email")
    contact = sf.contact(IndividualId=person, Phone="+33 1 99 00 00 01", Description="Lives in Lyon.")
    connector = sf.connector()
    results = apply(connector, item := change(contact, Action.ANONYMISE))
    assert results[item.change_id].outcome is Outcome.APPLIED
    assert writes(sf) == [
        ("DELETE", [consent]),
        ("PATCH", {"allOrNone": False, "records": [
            {"attributes": {"type": "Contact"}, "id": contact, **CONTACT_ERASED},
        ]}),
        ("PATCH", {"allOrNone": False, "records": [
            {"attributes": {"type": "Individual"}, "id": person, "FirstName": None, "BirthDate": None,
             "LastName": "ANONYMISED"},
        ]}),
    ]  # fmt: skip
    sent = json.dumps([b for _, b in writes(sf)])
    assert not any(original in sent for original in ("Ada", "Example", "ada@example.com", "99 00", "Lyon", "1990"))
    [record] = list(connector.get([("contact", contact)]))
    assert record.anonymised and not record.consents and record.email is None


def test_redact_note_replaces_only_the_mapped_note_field(sf: Harness) -> None:
    contact = sf.contact(Description="Call him. He has a criminal record.")
    results = apply(
        sf.connector(),
        item := change(contact, Action.REDACT_NOTE, values={"notes.description": "Call him. [redacted]"}),
    )
    assert results[item.change_id].outcome is Outcome.APPLIED
    assert writes(sf)[0][1]["records"] == [{"attributes": {"type": "Contact"}, "id": contact,
                                             "Description": "Call him. [redacted]"}]  # fmt: skip


@pytest.mark.parametrize("values", [{}, {"notes.comment": "x"}, {"notes.description": 7}])
def test_a_redaction_that_does_not_fit_the_mapping_fails_without_a_write(sf: Harness, values: dict[str, Any]) -> None:
    contact = sf.contact(Description="text")
    result = apply(sf.connector(), item := change(contact, Action.REDACT_NOTE, values=values))[item.change_id]
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "INVALID_CHANGE") and writes(sf) == []


def test_restrict_and_redact_combine_into_one_record_update(sf: Harness) -> None:
    contact = sf.contact(Description="text")
    item = change(contact, Action.RESTRICT_EMAIL, also=(Action.REDACT_NOTE,), values={"notes.description": "t"})
    assert apply(sf.connector(), item)[item.change_id].outcome is Outcome.APPLIED
    assert writes(sf)[0][1]["records"] == [{"attributes": {"type": "Contact"}, "id": contact,
                                             "HasOptedOutOfEmail": True, "Description": "t"}]  # fmt: skip


def test_delete_goes_to_the_recycle_bin(sf: Harness) -> None:
    contact = sf.contact()
    result = apply(sf.connector(), item := change(contact, Action.DELETE))[item.change_id]
    assert result.outcome is Outcome.APPLIED and contact in sf.org.deleted
    [delete_call] = [c for c in sf.calls() if c.request.method == "DELETE"]
    assert query_of(delete_call) == {"ids": [contact], "allOrNone": ["false"]}


def test_a_record_deleted_by_someone_else_meanwhile_counts_as_deleted(sf: Harness) -> None:
    contact = sf.contact()
    connector = sf.connector()
    list(connector.get([("contact", contact)]))
    sf.org.delete_one(contact)  # between the re-read and the write
    result = apply(connector, item := change(contact, Action.DELETE))[item.change_id]
    assert result.outcome is Outcome.APPLIED and [m for m, _ in writes(sf)] == ["DELETE"]


def test_a_delete_of_a_record_that_is_gone_is_done_without_a_call(sf: Harness) -> None:
    result = apply(sf.connector(), item := change("003000000000404AAA", Action.DELETE))[item.change_id]
    assert (result.outcome, result.detail) == (Outcome.APPLIED, "already deleted") and writes(sf) == []


@pytest.mark.parametrize(
    ("item", "code"),
    [
        (change("003000000000404AAA", Action.ANONYMISE), "NOT_FOUND"),
        (change("003000000000404AAA", Action.ANONYMISE, crm="other"), "WRONG_CRM"),
        (change("003000000000404AAA", Action.ANONYMISE, object_type="account"), "WRONG_CRM"),
    ],
)
def test_changes_that_cannot_apply_fail_without_a_write(sf: Harness, item: PlannedChange, code: str) -> None:
    result = apply(sf.connector(), item)[item.change_id]
    assert (result.outcome, result.error_code) == (Outcome.FAILED, code) and writes(sf) == []


def test_a_composite_call_with_partial_failures_fails_only_those_records(sf: Harness) -> None:
    ok, rejected, too_long = sf.contact(), sf.contact(), sf.contact(Description="x")
    sf.org.faults.rejected[rejected] = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    items = [change(ok, Action.RESTRICT_EMAIL), change(rejected, Action.RESTRICT_EMAIL),
             change(too_long, Action.REDACT_NOTE, values={"notes.description": "y" * 40_000})]  # fmt: skip
    results = apply(sf.connector(), *items)
    assert [(results[i.change_id].outcome, results[i.change_id].error_code) for i in items] == [
        (Outcome.APPLIED, None), (Outcome.FAILED, "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        (Outcome.FAILED, "STRING_TOO_LONG"),
    ]  # fmt: skip
    assert len(writes(sf)) == 1
    assert all("y" * 50 not in (r.detail or "") for r in results.values())


def test_locked_rows_are_sent_again_alone_after_a_jittered_backoff(sf: Harness) -> None:
    locked, free = sf.contact(), sf.contact()
    sf.org.faults.locked[locked] = 2
    items = [change(locked, Action.RESTRICT_EMAIL), change(free, Action.RESTRICT_EMAIL)]
    results = apply(sf.connector(), *items)
    assert {r.outcome for r in results.values()} == {Outcome.APPLIED}
    sent = [[r["id"] for r in b["records"]] for _, b in writes(sf)]
    assert sent == [[locked, free], [locked], [locked]]
    assert len(sf.sleeps) == 2 and all(0 <= s <= 4 for s in sf.sleeps)


def test_rows_locked_beyond_the_attempts_fail_with_the_crm_code(sf: Harness) -> None:
    contact = sf.contact()
    sf.org.faults.locked[contact] = 99
    result = apply(sf.connector(max_attempts=3), item := change(contact, Action.RESTRICT_EMAIL))[item.change_id]
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "UNABLE_TO_LOCK_ROW") and len(writes(sf)) == 3


def test_more_than_200_records_are_split_into_collections_of_200(sf: Harness) -> None:
    ids = [sf.contact(Email=f"p{i}@example.com") for i in range(450)]
    connector = sf.connector()
    list(connector.get([("contact", i) for i in ids]))
    results = apply(connector, *[change(i, Action.RESTRICT_EMAIL) for i in ids])
    assert len(results) == 450 and {r.outcome for r in results.values()} == {Outcome.APPLIED}
    assert [len(b["records"]) for _, b in writes(sf)] == [200, 200, 50]


def test_a_failed_individual_update_keeps_the_record_from_looking_anonymised(sf: Harness) -> None:
    person = sf.individual()
    contact = sf.contact(IndividualId=person)
    sf.org.faults.rejected[person] = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    connector = sf.connector()
    result = apply(connector, item := change(contact, Action.ANONYMISE))[item.change_id]
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    [record] = list(connector.get([("contact", contact)]))
    assert not record.anonymised  # the next sweep plans it again


def test_a_failed_consent_deletion_stops_the_change_before_the_marker_is_written(sf: Harness) -> None:
    person = sf.individual()
    consent = sf.org.create("ContactPointTypeConsent", Name="c", PartyId=person, ContactPointType="Email")
    contact = sf.contact(IndividualId=person)
    sf.org.faults.rejected[consent] = "DELETE_FAILED"
    result = apply(sf.connector(), item := change(contact, Action.ANONYMISE))[item.change_id]
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "DELETE_FAILED")
    assert [method for method, _ in writes(sf)] == ["DELETE"]


def test_apply_uses_what_get_just_read_and_reads_only_what_it_lacks(sf: Harness) -> None:
    a, b = sf.contact(), sf.contact()
    connector = sf.connector(objects=["Contact"])
    list(connector.get([("contact", a)]))
    sf.org.queries.clear()
    apply(connector, change(a, Action.RESTRICT_EMAIL), change(b, Action.RESTRICT_EMAIL))
    assert len(sf.org.queries) == 1 and f"'{b}'" in sf.org.queries[0] and f"'{a}'" not in sf.org.queries[0]


# -- Bulk API 2.0 ---------------------------------------------------------------------------------------


def test_large_groups_switch_to_a_bulk_job_where_an_empty_cell_would_mean_unchanged(sf: Harness) -> None:
    ids = [sf.contact(Email=f"p{i}@example.com", Phone="+33 1 99 00 00 00") for i in range(250)]
    sf.org.faults.rejected[ids[7]] = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    connector = sf.connector(bulk_threshold=200, bulk_poll_seconds=0, objects=["Contact"])
    list(connector.get([("contact", i) for i in ids]))
    results = apply(connector, *[change(i, Action.ANONYMISE) for i in ids])
    failed = [r for r in results.values() if r.outcome is Outcome.FAILED]
    assert len(results) == 250 and [r.error_code for r in failed] == ["FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    [upload] = [c for c in sf.calls("bulk") if c.request.method == "PUT"]
    rows = list(csv.DictReader(io.StringIO(upload.request.body.decode())))
    assert len(rows) == 250 and rows[0]["LastName"] == "ANONYMISED"
    assert rows[0]["Email"] == "#N/A" and rows[0]["Phone"] == "#N/A"
    assert sf.org.record("Contact", ids[0])["Email"] is None  # type: ignore[index]
    assert writes(sf) == []  # no collections call at all
    created = body(next(c for c in sf.calls("bulk") if c.request.method == "POST"))
    assert (created["object"], created["operation"]) == ("Contact", "update")


def test_hard_delete_goes_through_a_bulk_hard_delete_job_whatever_the_size(sf: Harness) -> None:
    contact = sf.contact()
    connector = sf.connector(hard_delete=True, bulk_poll_seconds=0)
    result = apply(connector, item := change(contact, Action.DELETE))[item.change_id]
    assert result.outcome is Outcome.APPLIED and contact in sf.org.purged
    created = body(next(c for c in sf.calls("bulk") if c.request.method == "POST"))
    assert created["operation"] == "hardDelete"
    [upload] = [c for c in sf.calls("bulk") if c.request.method == "PUT"]
    assert upload.request.body.decode() == f"Id\n{contact}\n"


def test_a_batch_never_starts_without_room_in_the_allowance(sf: Harness) -> None:
    from gomme.connectors.salesforce.limits import BudgetExhausted

    ids = [sf.contact(Email=f"p{i}@example.com") for i in range(450)]
    connector = sf.connector(reserve_percent=10)
    list(connector.get([("contact", i) for i in ids]))
    sf.org.used, sf.org.daily_limit = 0, 1000
    connector.size()  # the org reports 1/1000 used; 900 allowed; three collections needed: fine
    apply(connector, *[change(i, Action.RESTRICT_EMAIL) for i in ids[:10]])
    sf.org.used = 898
    connector.size()
    with pytest.raises(BudgetExhausted, match="reserve_percent = 10"):
        connector.apply([change(i, Action.RESTRICT_EMAIL) for i in ids])
    assert all(not row.get("HasOptedOutOfEmail") for row in (sf.org.record("Contact", i) for i in ids[10:]) if row)


def _types(body: object) -> list[str]:
    records = body.get("records", []) if isinstance(body, dict) else []
    return [record["attributes"]["type"] for record in records]
