"""Bulk API 2.0 ingest jobs (update, delete, hardDelete) through simple-salesforce, with per-record outcomes.

In a Bulk CSV an empty cell leaves the field unchanged; `#N/A` sets it to null.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, Literal

import structlog
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceResourceNotFound,
)

from gomme.connectors.salesforce.client import SalesforceClient, error_code

log = structlog.get_logger(__name__)

BulkOperation = Literal["update", "delete", "hardDelete"]
NULL = "#N/A"
JOB_FAILED = "BULK_JOB_FAILED"
UNPROCESSED = "BULK_UNPROCESSED"
CALLS_PER_JOB = 8  # create, upload, close, ~2 polls, job info, failed and unprocessed results
OPERATIONS: tuple[BulkOperation, ...] = ("update", "delete", "hardDelete")
# An Open job younger than this may still be receiving its data from a live process: left alone.
STALE_AFTER = dt.timedelta(minutes=15)
SWEEP_CALLS = 2  # who am I, and one page of the job list (an abort more per stale job)
_DATA_PATH = re.compile(r"^.*?/services/data/v[0-9.]+/")


def csv_value(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ingest(
    client: SalesforceClient, sobject: str, operation: BulkOperation, rows: Sequence[Mapping[str, Any]]
) -> dict[str, str | None]:
    """Runs one job; returns record id → None (saved) or the error code Salesforce gave for that record."""
    records = [{key: csv_value(value) for key, value in row.items()} for row in rows]
    ids = [str(row["Id"]) for row in rows]
    wait = client.settings.bulk_poll_seconds

    def run(sf: Salesforce) -> list[dict[str, int]]:
        handler = getattr(sf.bulk2, sobject)
        if operation == "update":
            return list(handler.update(records=records, wait=wait))
        if operation == "delete":
            return list(handler.delete(records=records, wait=wait))
        return list(handler.hard_delete(records=records, wait=wait))

    try:
        jobs = client.call(f"bulk {operation} {sobject}", run)
    except SalesforceOperationError:
        return dict.fromkeys(ids, JOB_FAILED)
    outcome: dict[str, str | None] = dict.fromkeys(ids)
    for job in jobs:
        job_id = str(job["job_id"])
        if int(job.get("numberRecordsFailed", 0)):
            for row in _results(client, sobject, job_id, "failed"):
                outcome[row.get("sf__Id") or row.get("Id") or ""] = (row.get("sf__Error") or "UNKNOWN").split(":", 1)[0]
        if int(job.get("numberRecordsProcessed", 0)) < int(job.get("numberRecordsTotal", 0)):
            for row in _results(client, sobject, job_id, "unprocessed"):
                outcome[row.get("Id") or ""] = UNPROCESSED
    outcome.pop("", None)
    return outcome


def _results(
    client: SalesforceClient, sobject: str, job_id: str, which: Literal["failed", "unprocessed"]
) -> list[dict[str, str]]:
    def fetch(sf: Salesforce) -> str:
        handler = getattr(sf.bulk2, sobject)
        text = handler.get_failed_records(job_id) if which == "failed" else handler.get_unprocessed_records(job_id)
        return str(text)

    return list(csv.DictReader(io.StringIO(client.call(f"bulk {which} results", fetch))))


# -- open jobs an interrupted run left behind (docs/salesforce-orgs.md, "Idempotent creates and cleanups") -------


def abort_stale(client: SalesforceClient, objects: Collection[str], now: dt.datetime) -> int:
    """Aborts the ingest jobs gomme's own runs left Open; returns how many it aborted.

    A job is ours when the integration user created it, on an object and with an operation gomme writes, as CSV,
    and it was created at least STALE_AFTER ago: jobs carry no free label, so nothing narrower exists."""
    user = client.user_id()[:15]  # ids compare on their case-sensitive 15 characters
    stale = [job for job in open_jobs(client) if _ours(job, user, objects) and _older(job, now - STALE_AFTER)]
    aborted = sum(_abort(client, str(job["id"])) for job in stale)
    if stale:
        log.info("salesforce_stale_jobs_aborted", connector=client.name, aborted=aborted, found=len(stale))
    return aborted


def open_jobs(client: SalesforceClient) -> Iterator[Mapping[str, Any]]:
    """Every Bulk API 2.0 ingest job of the org, following `nextRecordsUrl` (Bulk API 2.0 guide, "Get Information
    About All Ingest Jobs": ≤1,000 jobs a page, `done`, `records`, `nextRecordsUrl`; `jobType=V2Ingest`)."""
    page = client.call("bulk job list", lambda sf: sf.restful("jobs/ingest", params={"jobType": "V2Ingest"}))
    while isinstance(page, Mapping):
        yield from (job for job in page.get("records") or () if isinstance(job, Mapping) and job.get("id"))
        following = str(page.get("nextRecordsUrl") or "")
        if page.get("done", True) or not following:
            return
        page = _next_page(client, _DATA_PATH.sub("", following))  # restful() takes the path below /vXX.X/


def _next_page(client: SalesforceClient, path: str) -> Any:
    return client.call("bulk job list page", lambda sf: sf.restful(path))


def _ours(job: Mapping[str, Any], user: str, objects: Collection[str]) -> bool:
    return (
        job.get("state") == "Open" and str(job.get("createdById") or "")[:15] == user
        and job.get("object") in objects and job.get("operation") in OPERATIONS
        and job.get("contentType", "CSV") == "CSV" and job.get("jobType", "V2Ingest") == "V2Ingest"
    )  # fmt: skip


def _older(job: Mapping[str, Any], than: dt.datetime) -> bool:
    """Whether the job was created before `than`; an unreadable date is never old (the job is left alone)."""
    text = str(job.get("createdDate") or "")
    try:
        created = dt.datetime.fromisoformat(re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text.replace("Z", "+00:00")))
    except ValueError:
        return False
    return created.tzinfo is not None and created < than


def _abort(client: SalesforceClient, job_id: str) -> bool:
    """`PATCH jobs/ingest/{id}` to Aborted (Bulk API 2.0 guide, "Abort a Job"); False when the job finished or
    went away meanwhile (a job in a final state refuses the change, code unverified: INVALIDJOBSTATE)."""

    def abort(sf: Salesforce) -> bool:
        try:
            sf.restful(f"jobs/ingest/{job_id}", method="PATCH", json={"state": "Aborted"})
        except SalesforceResourceNotFound:
            return False
        except SalesforceMalformedRequest as exc:
            if error_code(exc.content).upper() == "INVALIDJOBSTATE":
                return False
            raise
        return True

    return client.call("bulk job abort", abort)
