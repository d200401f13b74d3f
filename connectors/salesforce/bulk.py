"""Bulk API 2.0 ingest jobs (update, delete, hardDelete) through simple-salesforce, with per-record outcomes.

In a Bulk CSV an empty cell leaves the field unchanged; `#N/A` sets it to null.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from gomme.connectors.salesforce.client import SalesforceClient

BulkOperation = Literal["update", "delete", "hardDelete"]
NULL = "#N/A"
JOB_FAILED = "BULK_JOB_FAILED"
UNPROCESSED = "BULK_UNPROCESSED"
CALLS_PER_JOB = 8  # create, upload, close, ~2 polls, job info, failed and unprocessed results


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
