"""Creates and Bulk jobs that survive a lost answer, a retry and a re-run (docs/salesforce-orgs.md, "Idempotent
creates and cleanups").

An Individual gomme creates carries a key of its person's record in its LastName; before each attempt the keys
still pending are looked up in one query per chunk, so a create Salesforce committed is linked, never repeated.
Before its first Bulk API 2.0 job, a run aborts the Open jobs the integration user left on gomme's objects.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
from salesforce_testkit import HOST, Harness, change, settings

from gomme.connectors.errors import RetryableError
from gomme.connectors.salesforce import SalesforceConnector, bulk
from gomme.connectors.salesforce.client import Credentials
from gomme.connectors.salesforce.writer import individual_name
from gomme.model.changes import Action, Outcome, PlannedChange

POST = r"^POST .*/composite/sobjects$"
LOOKUP = "SELECT Id, LastName, CreatedDate FROM Individual WHERE LastName IN ("
OTHER_USER = "005FAKE00000002AAA"
BULK = 210  # records: at least bulk_threshold=200, so the writes go through a Bulk API 2.0 job


def connector(sf: Harness, now: dt.datetime | None = None, **overrides: Any) -> SalesforceConnector:
    """A connector on the fake org; `now` is its wall clock (default: the real one, far past the fake's jobs)."""
    clock: Callable[[], dt.datetime] | None = (lambda: now) if now else None
    return SalesforceConnector("sf", settings(**overrides), Credentials(token=("fake-token", HOST)),
                               sleep=sf.sleeps.append, now=clock)  # fmt: skip


def restrict_all(ids: list[str]) -> list[PlannedChange]:
    return [change(i, Action.RESTRICT_ALL) for i in ids]


def lose_creates(sf: Harness, times: int = 1) -> None:
    sf.org.faults.lost_only, sf.org.faults.lost_next = POST, times


def sent(sf: Harness, pattern: str) -> int:
    return sum(bool(re.search(pattern, f"{c.method} {c.path}")) for c in sf.org.requests)


def lookups(sf: Harness) -> int:
    return sum(query.startswith(LOOKUP) for query in sf.org.queries)


def one_individual_each(sf: Harness, ids: list[str]) -> None:
    """The fake's final state: every person linked to an Individual of their own, and no other Individual."""
    linked = [sf.org.record("Contact", i)["IndividualId"] for i in ids]  # type: ignore[index]
    assert None not in linked and len(set(linked)) == len(ids)
    assert sorted(sf.org.tables["Individual"]) == sorted(linked)  # type: ignore[type-var]
    for record_id, individual_id in zip(ids, linked, strict=True):
        row = sf.org.tables["Individual"][str(individual_id)]
        assert row["LastName"] == individual_name("Contact", record_id) and row["HasOptedOutProcessing"] is True


# -- Individuals: one per person, whatever answer is lost ----------------------------------------------------


def _retried_in_the_run(sf: Harness, ids: list[str]) -> None:
    lose_creates(sf)
    results = list(connector(sf).apply(restrict_all(ids)))
    assert {r.outcome for r in results} == {Outcome.APPLIED}


def _run_dies_then_a_new_run(sf: Harness, ids: list[str]) -> None:
    """The create committed, its answer lost, and the run gave up (one attempt): a later sweep plans new changes."""
    lose_creates(sf)
    with pytest.raises(RetryableError):
        list(connector(sf, max_attempts=1).apply(restrict_all(ids)))
    assert all(sf.org.record("Contact", i).get("IndividualId") is None for i in ids)  # type: ignore[union-attr]
    results = list(connector(sf).apply(restrict_all(ids)))  # new change ids, same people
    assert {r.outcome for r in results} == {Outcome.APPLIED}


def _no_fault(sf: Harness, ids: list[str]) -> None:
    results = list(connector(sf).apply(restrict_all(ids)))
    assert {r.outcome for r in results} == {Outcome.APPLIED}


def _second_collection_lost(sf: Harness, ids: list[str]) -> None:
    """250 creates: two collections; the first saved and linked, the second's answer lost."""
    sf.org.faults.lost_only = POST
    results_before = len(sf.org.tables["Individual"])
    original = sf.org.faults.lose

    def lose_second(method: str, path: str) -> bool:  # the second POST only
        if re.search(POST, f"{method} {path}") and sent(sf, POST) == 2 and not sf.org.faults.lost:
            sf.org.faults.lost += 1
            return True
        return False

    sf.org.faults.lose = lose_second  # type: ignore[method-assign]
    results = list(connector(sf).apply(restrict_all(ids)))
    sf.org.faults.lose = original  # type: ignore[method-assign]
    assert results_before == 0 and sf.org.faults.lost == 1
    assert {r.outcome for r in results} == {Outcome.APPLIED}


@pytest.mark.parametrize(
    ("people", "arrange", "posts", "lookup_queries"),
    [  # lookups: one before each attempt (all keys fit one query here); posts: collections of 200
        pytest.param(3, _no_fault, 1, 1, id="no fault"),
        pytest.param(3, _retried_in_the_run, 1, 2, id="answer lost, retried in the run"),
        pytest.param(3, _run_dies_then_a_new_run, 1, 2, id="answer lost, the run dies, a new run"),
        pytest.param(250, _second_collection_lost, 2, 2, id="second collection of 250 lost"),
    ],
)
def test_a_create_whose_answer_is_lost_leaves_one_individual_per_person(
    sf: Harness, people: int, arrange: Callable[[Harness, list[str]], None], posts: int, lookup_queries: int
) -> None:
    ids = [sf.contact(Email=f"p{i}@example.com") for i in range(people)]
    arrange(sf, ids)
    one_individual_each(sf, ids)
    assert (sent(sf, POST), lookups(sf)) == (posts, lookup_queries)


def test_lookups_are_one_query_per_chunk_of_keys_never_one_per_record(sf: Harness) -> None:
    """450 creates under the smallest query length: a handful of lookups, three collections of ≤200."""
    ids = [sf.contact(Email=f"p{i}@example.com") for i in range(450)]
    results = list(connector(sf, max_query_length=2_000).apply(restrict_all(ids)))
    assert {r.outcome for r in results} == {Outcome.APPLIED}
    one_individual_each(sf, ids)
    statements = [query for query in sf.org.queries if query.startswith(LOOKUP)]
    keys_per_query = [query.count("'") // 2 for query in statements]
    assert sum(keys_per_query) == 450 and len(statements) == math.ceil(450 / min(keys_per_query[:-1]))
    # measured: 48 keys a query here, 400 under the default 15,000 characters
    assert len(statements) == 10 and all(len(query) < 2_000 for query in statements)
    assert sent(sf, POST) == math.ceil(450 / 200)


def test_an_individual_a_race_created_twice_is_reused_the_oldest_one(sf: Harness) -> None:
    contact = sf.contact()
    name = individual_name("Contact", contact)
    oldest = sf.org.create("Individual", LastName=name)
    sf.org.create("Individual", LastName=name)
    results = list(connector(sf).apply(restrict_all([contact])))
    assert [r.outcome for r in results] == [Outcome.APPLIED] and sent(sf, POST) == 0
    assert sf.org.record("Contact", contact)["IndividualId"] == oldest  # type: ignore[index]
    assert sf.org.record("Individual", oldest)["HasOptedOutProcessing"] is True  # type: ignore[index]


def test_the_key_holds_nothing_of_the_person(sf: Harness) -> None:
    contact = sf.contact(FirstName="Ada", LastName="Lovelace", Email="ada@example.com")
    name = individual_name("Contact", contact)
    assert re.fullmatch(r"RESTRICTED [0-9a-f]{16}", name) and contact not in name
    assert name == individual_name("Contact", contact) != individual_name("Lead", contact)


# -- Bulk API 2.0: open jobs an interrupted run left ----------------------------------------------------------


def _restrict_email_in_bulk(sf: Harness, conn: SalesforceConnector, ids: list[str]) -> None:
    results = list(conn.apply([change(i, Action.RESTRICT_EMAIL) for i in ids]))
    assert {r.outcome for r in results} == {Outcome.APPLIED}


def test_a_job_whose_create_answer_was_lost_is_aborted_by_the_next_run_and_no_other(sf: Harness) -> None:
    ids = [sf.contact(Email=f"p{i}@example.com") for i in range(BULK)]
    options = {"bulk_threshold": 200, "bulk_poll_seconds": 0, "objects": ["Contact"]}
    others = sf.org.bulk.open("Contact", "update", created_by=OTHER_USER)  # another integration's job
    sf.org.faults.lost_only, sf.org.faults.lost_next = r"^POST .*/jobs/ingest/?$", 1
    _restrict_email_in_bulk(sf, connector(sf, **options), ids)
    lost, done = (job for job in sf.org.bulk.jobs.values() if job is not others)
    assert (lost.state, done.state, others.state) == ("Open", "JobComplete", "Open")

    later = connector(sf, **options)
    _restrict_email_in_bulk(sf, later, ids)
    assert (lost.state, others.state) == ("Aborted", "Open")
    assert "1 open Bulk API 2.0 job(s) an interrupted run had left were aborted" in later.notices()


@pytest.mark.parametrize(
    ("arrange", "aborted"),
    [
        pytest.param({"sobject": "Contact", "operation": "update"}, True, id="ours: Contact update"),
        pytest.param({"sobject": "Individual", "operation": "delete"}, True, id="ours: Individual delete"),
        pytest.param({"sobject": "Lead", "operation": "hardDelete"}, True, id="ours: Lead hardDelete"),
        pytest.param({"sobject": "Contact", "operation": "update", "created_by": OTHER_USER}, False,
                     id="another user's"),
        pytest.param({"sobject": "Opportunity", "operation": "update"}, False, id="an object gomme never writes"),
        pytest.param({"sobject": "Contact", "operation": "insert"}, False, id="an operation gomme never runs"),
        pytest.param({"sobject": "Contact", "operation": "update", "state": "UploadComplete"}, False,
                     id="closed: Salesforce processes it"),
        pytest.param({"sobject": "Contact", "operation": "update", "state": "JobComplete"}, False, id="final"),
        pytest.param({"sobject": "Contact", "operation": "update", "fresh": True}, False,
                     id="younger than STALE_AFTER: maybe still uploading"),
    ],
)  # fmt: skip
def test_only_the_open_jobs_gomme_left_are_aborted(sf: Harness, arrange: dict[str, Any], aborted: bool) -> None:
    fresh = arrange.pop("fresh", False)
    job = sf.org.bulk.open(**arrange)
    created = dt.datetime.strptime(job.created, "%Y-%m-%dT%H:%M:%S.000%z")
    now = created + (bulk.STALE_AFTER / 2 if fresh else bulk.STALE_AFTER + dt.timedelta(seconds=1))
    before = job.state
    conn = connector(sf, now=now, objects=["Contact", "Lead"])
    assert conn.maps
    assert bulk.abort_stale(conn.client, {"Contact", "Lead", "Individual"}, now) == int(aborted)
    assert job.state == ("Aborted" if aborted else before)


def test_the_job_list_is_read_page_by_page_and_each_stale_job_aborted_once(sf: Harness) -> None:
    sf.org.bulk.page_size = 2
    ours = [sf.org.bulk.open("Contact", "update") for _ in range(3)]
    theirs = [sf.org.bulk.open("Contact", "update", created_by=OTHER_USER) for _ in range(2)]
    conn = connector(sf)
    assert conn.maps
    before = len(sf.org.requests)
    assert bulk.abort_stale(conn.client, {"Contact"}, dt.datetime.now(dt.UTC)) == 3
    calls = [f"{c.method} {c.path}" for c in sf.org.requests[before:]]
    lists = [c for c in calls if c.startswith("GET") and c.endswith("/jobs/ingest")]
    aborts = [c for c in calls if c.startswith("PATCH")]
    assert (len(lists), len(aborts)) == (math.ceil(5 / 2), 3)  # three pages of ≤2 jobs; one abort each
    assert [job.state for job in ours + theirs] == ["Aborted"] * 3 + ["Open"] * 2
    assert bulk.abort_stale(conn.client, {"Contact"}, dt.datetime.now(dt.UTC)) == 0  # nothing left to abort


@pytest.mark.parametrize("state", ["JobComplete", "Failed", "Aborted"])
def test_the_fake_refuses_to_abort_a_job_in_a_final_state(sf: Harness, state: str) -> None:
    """A job that finished between the list and the abort: the abort is refused and not counted."""
    job = sf.org.bulk.open("Contact", "update", state=state)
    conn = connector(sf)
    assert conn.maps
    assert bulk._abort(conn.client, job.id) is False and job.state == state
    status = [c for c in sf.mock.calls if c.request.method == "PATCH"][-1].response.status_code
    assert status == 400


def test_a_job_list_the_user_may_not_read_never_stops_the_writes(sf: Harness) -> None:
    """403 on the job list (unverified code for a user without the permission): logged, the job still runs."""
    ids = [sf.contact(Email=f"p{i}@example.com") for i in range(BULK)]
    sf.org.bulk.list_refused = True
    conn = connector(sf, bulk_threshold=200, bulk_poll_seconds=0, objects=["Contact"])
    _restrict_email_in_bulk(sf, conn, ids)
    assert [job.state for job in sf.org.bulk.jobs.values()] == ["JobComplete"]
    assert not any("Bulk API 2.0 job(s)" in notice for notice in conn.notices())
