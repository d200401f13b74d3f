"""A related-record query holding more rows than `bulk_read_threshold` is read as a Bulk API 2.0 query job.

Seeded (synthetic): an org where salespeople log every call and email as a Task, so 40 kept contacts hold 60 Tasks
each (2,400 rows in one `WhoId IN (...)` query), one of them with a health sentence in a Task and one with a decoy;
one contact asked to be forgotten (Individual.ShouldForget) with 5 Tasks of their own, two of them archived.
What must happen: the forgotten contact's Tasks are deleted, archived ones included; the kept contacts' Tasks are
untouched but for the one health sentence, redacted; the Task reads cost fewer calls than paging them through REST.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from fakes.salesforce import FakeSalesforce

from gomme.connectors.salesforce import bulk_query
from gomme.connectors.salesforce.client import Credentials, SalesforceClient
from gomme.connectors.salesforce.settings import SalesforceSettings
from tests.related.salesforce_org import Org, org_builder, sweep_config

KEPT, TASKS_EACH = 40, 60
HEALTH = "Back from chemotherapy since Monday, wants the renewal call in May."
DECOY = "Demo of the scheduling module at the Clinique des Lilas, our customer."


def _seed(fake: FakeSalesforce) -> dict[str, str]:
    ids: dict[str, str] = {}
    individual = fake.create("Individual", LastName="Quill", ShouldForget=True)
    ids["gone"] = fake.create("Contact", FirstName="Ada", LastName="Quill", Email="ada.quill@example.org",
                              IndividualId=individual, MailingCountry="France")  # fmt: skip
    for n in range(5):
        archived = {"IsArchived": True} if n < 2 else {}
        ids[f"gone_{n}"] = fake.create_activity("Task", [ids["gone"]], Subject=f"Call Ada Quill #{n}",
                                                Description="Call back Ada Quill on 06 12 34 56 78.", **archived)
    for person in range(KEPT):
        kept = fake.create("Individual", LastName=f"Kept{person}", ShouldForget=False)
        ids[f"kept{person}"] = fake.create("Contact", FirstName="Bo", LastName=f"Kept{person}", IndividualId=kept,
                                           Email=f"kept{person}@example.net", MailingCountry="France")  # fmt: skip
        for n in range(TASKS_EACH):
            text = HEALTH if (person, n) == (3, 7) else DECOY if (person, n) == (4, 2) else f"Renewal call {n}."
            ids[f"kept{person}_{n}"] = fake.create_activity("Task", [ids[f"kept{person}"]], Subject="Call",
                                                            Description=text)  # fmt: skip
    return ids


@pytest.fixture
def make_org(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SF_BULK_READ_TOKEN", "fake-token")
    with org_builder(tmp_path, state_url) as build:
        yield lambda threshold, batch=2000, **org: build(
            FakeSalesforce(shared_activities=False, **org), _seed,
            sweep_config(state_url, "SF_BULK_READ_TOKEN", batch_size=batch, bulk_poll_seconds=0,
                         bulk_read_threshold=threshold, related_objects=["Task"]),
        )


def _assert_swept_right(org: Org) -> None:
    assert org.row("Contact", "gone")["LastName"] == "ANONYMISED"
    assert all(org.row("Task", f"gone_{n}") is None for n in range(5))  # archived ones too
    assert org.row("Task", "kept3_7")["Description"] == "[redacted]"
    assert org.row("Task", "kept4_2")["Description"] == DECOY
    kept = [org.row("Task", f"kept{p}_{n}") for p in range(KEPT) for n in range(TASKS_EACH)]
    assert sum(row is not None for row in kept) == KEPT * TASKS_EACH
    erased = org.audit()["anonymise"]
    assert erased.outcome == "applied" and "Task deleted=5" in (erased.related or "")


def test_a_query_over_the_threshold_is_read_as_one_query_job_and_the_sweep_is_the_same(make_org: Any) -> None:
    org = make_org(threshold=2000)

    code, output = org.sweep("--apply")

    assert code == 0, output
    _assert_swept_right(org)
    jobs = list(org.fake.query_jobs.jobs.values())
    assert jobs and {job.operation for job in jobs} == {"queryAll"} and {job.sobject for job in jobs} == {"Task"}


def test_the_query_job_costs_fewer_calls_than_paging_through_rest(make_org: Any) -> None:
    # REST answers 200 rows a call here (batch_size = 200): 13 calls for the 2,405 Tasks of each read
    bulk = make_org(threshold=2000, batch=200)
    assert bulk.sweep("--apply")[0] == 0
    bulk_calls = sum(call.kind == "bulk_query" for call in bulk.fake.requests)
    rest = make_org(threshold=1_000_000, batch=200)
    assert rest.sweep("--apply")[0] == 0
    rest_pages = sum(call.kind == "query_more" and "FROM Task" in call.soql for call in rest.fake.requests)

    assert not rest.fake.query_jobs.jobs
    assert bulk_calls == 2 * 4  # the plan's read and the apply's re-read: create, two polls, one page of results
    assert rest_pages >= 20  # 12 more pages after the first answer, for each of the two reads
    _assert_swept_right(rest)


def test_a_failed_query_job_falls_back_to_rest_and_nothing_is_missed(make_org: Any) -> None:
    org = make_org(threshold=2000)
    org.fake.query_jobs.fail_next = 10

    code, output = org.sweep("--apply")

    assert code == 0, output
    _assert_swept_right(org)
    assert all(job.state == "Failed" for job in org.fake.query_jobs.jobs.values())


def test_results_are_read_page_by_page_with_nulls_and_checkboxes_as_rest_gives_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk_query, "RESULTS_PAGE", 3)
    fake = FakeSalesforce(shared_activities=False)
    who = fake.create("Contact", LastName="Vance")
    made = [fake.create_activity("Task", [who], Subject=f"Call {n}", Description=None if n % 2 else "x")
            for n in range(7)]  # fmt: skip
    fake.delete_one(made[0], hard=False)  # in the recycle bin: only queryAll returns it
    settings = SalesforceSettings(type="salesforce", instance_url="https://fake.my.salesforce.com",
                                  access_token_env="SF_T", bulk_poll_seconds=0)  # fmt: skip
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.register(mock)
        token = Credentials(token=("fake-token", "fake.my.salesforce.com"))
        client = SalesforceClient("sf", settings, token, sleep=lambda _: None)
        soql = f"SELECT Id, Description, IsDeleted FROM Task WHERE WhoId = '{who}'"
        rows = list(bulk_query.rows(client, soql, all_rows=True))

    assert sorted(row["Id"] for row in rows) == sorted(made)
    by_id = {row["Id"]: row for row in rows}
    assert by_id[made[0]]["IsDeleted"] is True and by_id[made[2]]["IsDeleted"] is False
    assert by_id[made[1]]["Description"] is None and by_id[made[2]]["Description"] == "x"
    assert sum(call.kind == "bulk_query" and call.path.endswith("/results") for call in fake.requests) == 3
