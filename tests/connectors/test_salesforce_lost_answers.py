"""Salesforce writes applied whose answer was lost (the connection dropped after the org did the work).

gomme sees a connection error and sends the call again, so the org receives it twice. Each case checks
the final org state, that every change ends APPLIED with exactly one result (one audit entry), and how many
times the call went out. Bulk API 2.0: simple-salesforce runs a whole job (create, upload, close, poll, job
info) as one call gomme retries, aborting the job first when it is still open; the failed-record results
are fetched by a call of their own.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from salesforce_testkit import Harness, change

from gomme.connectors.salesforce import SalesforceConnector
from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange

COLLECTION = r"^{} .*/composite/sobjects$"
JOBS = r"/jobs/ingest"
BULK_STEPS = {  # what is lost → (the call it matches, the states of the jobs afterwards)
    "create": (rf"^POST .*{JOBS}/?$", ["Open", "JobComplete"]),  # the first job is never seen, left open
    "upload": (rf"^PUT .*{JOBS}/[^/]+/batches$", ["Aborted", "JobComplete"]),  # gomme's client aborts it
    "close": (rf"^PATCH .*{JOBS}/[^/]+$", ["JobComplete", "JobComplete"]),  # processed; the retry redoes it
    "poll": (rf"^GET .*{JOBS}/[^/]+$", ["JobComplete", "JobComplete"]),
    "failed results": (rf"^GET .*{JOBS}/[^/]+/failedResults$", ["JobComplete"]),
}
BULK = 210  # records: at least bulk_threshold, so the writes go through one Bulk API 2.0 job


def lose(sf: Harness, pattern: str, times: int = 1) -> None:
    """The next `times` calls matching `pattern` ("METHOD path") are carried out, then lose their answer."""
    sf.org.faults.lost_only, sf.org.faults.lost_next = pattern, times


def applied_once(connector: SalesforceConnector, changes: list[PlannedChange]) -> list[ChangeResult]:
    """Every change APPLIED, one result each: what the audit log records (one entry per result)."""
    results = list(connector.apply(changes))
    assert sorted(r.change_id for r in results) == sorted(c.change_id for c in changes), "one result per change"
    failed = [(r.outcome, r.error_code) for r in results if r.outcome is not Outcome.APPLIED]
    assert failed == [], failed
    return results


def sent(sf: Harness, pattern: str) -> int:
    return sum(bool(re.search(pattern, f"{c.method} {c.path}")) for c in sf.org.requests)


# -- sObject Collections and queries ------------------------------------------------------------------------


def _restrict_email(sf: Harness) -> tuple[list[PlannedChange], Any]:
    contact = sf.contact()
    return [change(contact, Action.RESTRICT_EMAIL)], lambda: sf.org.record("Contact", contact)["HasOptedOutOfEmail"]


def _delete(sf: Harness) -> tuple[list[PlannedChange], Any]:
    contact = sf.contact()
    return [change(contact, Action.DELETE)], lambda: contact in sf.org.deleted and not sf.org.record("Contact", contact)


def _anonymise_with_consent(sf: Harness) -> tuple[list[PlannedChange], Any]:
    person = sf.individual(BirthDate="1990-01-01")
    consent = sf.org.create("ContactPointTypeConsent", Name="c", PartyId=person, ContactPointType="Email")
    contact = sf.contact(IndividualId=person)

    def done() -> bool:
        row, individual = sf.org.record("Contact", contact), sf.org.record("Individual", person)
        assert row is not None and individual is not None
        erased = (row["LastName"], row["Email"], individual["LastName"], individual["BirthDate"])
        return consent in sf.org.deleted and erased == ("ANONYMISED", None, "ANONYMISED", None)

    return [change(contact, Action.ANONYMISE)], done


def _restrict_all_creating_an_individual(sf: Harness) -> tuple[list[PlannedChange], Any]:
    contact = sf.contact()

    def done() -> bool:
        row = sf.org.record("Contact", contact)
        assert row is not None
        individual = sf.org.record("Individual", str(row["IndividualId"]))
        return individual is not None and individual["HasOptedOutProcessing"] is True and row["DoNotCall"] is True

    return [change(contact, Action.RESTRICT_ALL)], done


@pytest.mark.parametrize(
    ("arrange", "lost", "times"),
    [
        pytest.param(_restrict_email, COLLECTION.format("PATCH"), 2, id="update PATCH"),
        # the record's PATCH, lost and sent again, then its Individual's
        pytest.param(_anonymise_with_consent, COLLECTION.format("PATCH"), 3, id="anonymise PATCH"),
        pytest.param(_delete, COLLECTION.format("DELETE"), 2, id="delete DELETE: retry answers ENTITY_IS_DELETED"),
        pytest.param(_anonymise_with_consent, COLLECTION.format("DELETE"), 2, id="consent DELETE: ENTITY_IS_DELETED"),
        # a create is not sent again: the lookup before the retry finds the Individual (test_salesforce_idempotency)
        pytest.param(_restrict_all_creating_an_individual, COLLECTION.format("POST"), 1, id="Individual POST"),
        pytest.param(_restrict_email, r"^GET .*/query/?$", 2, id="the re-read query"),
    ],
)
def test_a_lost_answer_is_retried_and_the_change_applied_once(
    sf: Harness, arrange: Any, lost: str, times: int
) -> None:
    changes, done = arrange(sf)
    lose(sf, lost)
    applied_once(sf.connector(), changes)
    assert sf.org.faults.lost == 1 and sent(sf, lost) == times
    assert done()


def test_a_lost_individual_creation_leaves_no_second_individual(sf: Harness) -> None:
    """The Collections create has no idempotency key, so the Individual carries one in its LastName (a key of the
    record, nothing of the person): the retry finds it and links it instead of creating another."""
    (item,), done = _restrict_all_creating_an_individual(sf)
    lose(sf, COLLECTION.format("POST"))
    applied_once(sf.connector(), [item])
    assert done()
    linked = sf.org.record("Contact", item.record_id)["IndividualId"]  # type: ignore[index]
    [(only, row)] = sf.org.tables["Individual"].items()
    assert only == linked and (row.get("FirstName"), row.get("BirthDate")) == (None, None)
    assert row["LastName"].startswith("RESTRICTED ") and row["HasOptedOutProcessing"] is True


# -- Bulk API 2.0 ---------------------------------------------------------------------------------------------


def _bulk_state(sf: Harness, operation: str, ids: list[str]) -> bool:
    if operation == "update":
        return all(sf.org.record("Contact", i)["HasOptedOutOfEmail"] for i in ids)  # type: ignore[index]
    gone = sf.org.purged if operation == "hardDelete" else sf.org.deleted
    return all(i in gone and sf.org.record("Contact", i) is None for i in ids)


@pytest.mark.parametrize("operation", ["update", "delete", "hardDelete"])
@pytest.mark.parametrize("step", list(BULK_STEPS))
def test_a_lost_bulk_answer_redoes_at_most_the_job_and_fails_nothing(sf: Harness, step: str, operation: str) -> None:
    ids = [sf.contact(Email=f"p{i}@example.com") for i in range(BULK)]
    sf.org.faults.locked[ids[3]] = 1  # one row locked: the job has failed results to fetch (and retry)
    connector = sf.connector(
        bulk_threshold=200, bulk_poll_seconds=0, hard_delete=operation == "hardDelete", objects=["Contact"]
    )
    list(connector.get([("contact", i) for i in ids]))
    action = Action.RESTRICT_EMAIL if operation == "update" else Action.DELETE
    pattern, states = BULK_STEPS[step]
    lose(sf, pattern)
    applied_once(connector, [change(i, action) for i in ids])
    assert sf.org.faults.lost == 1
    jobs = list(sf.org.bulk.jobs.values())
    # hardDelete: the row locked in the job that counted is purged by a job of its own (when the job was redone,
    # the lock was spent on the first run)
    purge_again = ["JobComplete"] if operation == "hardDelete" and states.count("JobComplete") == 1 else []
    assert [job.state for job in jobs] == states + purge_again and {job.operation for job in jobs} == {operation}
    assert all(len(job.data) == 1 for job in jobs if job.state == "JobComplete")  # each job got the rows once
    assert _bulk_state(sf, operation, ids)


# -- found on the way: a row locked in a hardDelete job ---------------------------------------------------------


@pytest.mark.parametrize(("locks", "outcome"), [(2, Outcome.APPLIED), (99, Outcome.FAILED)])
def test_a_row_locked_in_a_hard_delete_job_goes_into_another_job_never_to_the_recycle_bin(
    sf: Harness, locks: int, outcome: Outcome
) -> None:
    """A Collections delete (where locked rows of other jobs are retried) only moves a record to the recycle
    bin, so a hardDelete's locked rows are retried as hardDelete jobs, with backoff, up to max_attempts."""
    free, locked = sf.contact(), sf.contact()
    sf.org.faults.locked[locked] = locks
    connector = sf.connector(hard_delete=True, bulk_poll_seconds=0, max_attempts=3, objects=["Contact"])
    items = [change(free, Action.DELETE), change(locked, Action.DELETE)]
    results = {r.change_id: r for r in connector.apply(items)}
    assert (results[items[1].change_id].outcome, results[items[0].change_id].outcome) == (outcome, Outcome.APPLIED)
    assert [len(job.data) for job in sf.org.bulk.jobs.values()] == [1, 1, 1] and len(sf.sleeps) == 2
    assert sent(sf, COLLECTION.format("DELETE")) == 0 and locked not in sf.org.deleted
    assert (locked in sf.org.purged) == (outcome is Outcome.APPLIED) and free in sf.org.purged
    if outcome is Outcome.FAILED:
        assert results[items[1].change_id].error_code == "UNABLE_TO_LOCK_ROW" and sf.org.record("Contact", locked)
