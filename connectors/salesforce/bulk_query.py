"""Reading a large query as one Bulk API 2.0 query job, page by page of CSV results (docs/related-records.md).

A REST query answers at most `batch_size` (≤2,000) rows a call; a query job answers `RESULTS_PAGE` rows a call
after a create and a few polls (each `bulk_poll_seconds` apart), so it costs fewer calls once a query holds more
than `bulk_read_threshold` rows (the first REST answer's `totalSize` says so). Bulk API 2.0 guide: "Create a Query
Job" (`operation` query or queryAll, which also returns archived and deleted rows), "Get Information About a Query
Job" (`state` UploadComplete, InProgress, JobComplete, Failed, Aborted), "Get Results for a Query Job"
(`maxRecords`, `locator`, the `Sforce-Locator` header, "null" on the last page; CSV, an empty cell for a null).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

import structlog
from simple_salesforce.api import Salesforce

from gomme.connectors.errors import ConnectorError
from gomme.connectors.salesforce.client import SalesforceClient

log = structlog.get_logger(__name__)

# Rows per results call (simple-salesforce's default too): a page is held as text while its rows are parsed, ~10 MB
# for activities of a few hundred characters.
RESULTS_PAGE = 50_000
MAX_POLLS = 120  # with bulk_poll_seconds = 5, ten minutes before the job is given up and REST used instead
_BOOLEAN = frozenset({"IsDeleted"})  # the only checkbox fields the related reads select
_FINAL = ("JobComplete", "Failed", "Aborted")


class QueryJobFailed(ConnectorError):
    """The query job ended Failed or Aborted, or did not finish in time: the caller reads through REST instead."""


def rows(client: SalesforceClient, soql: str, *, all_rows: bool) -> Iterator[dict[str, Any]]:
    """The rows of `soql`, as the REST API would give them (None for an empty cell, checkboxes as booleans).

    Raises QueryJobFailed before the first row when the job does not complete."""
    job = client.call("bulk query create", lambda sf: _create(sf, soql, all_rows))
    job_id = str(job["id"])
    _wait(client, job_id)
    locator = ""
    while True:
        text, locator = _page(client, job_id, locator)
        for row in csv.DictReader(io.StringIO(text)):
            yield {name: _value(name, cell) for name, cell in row.items()}
        if not locator:
            return


def _create(sf: Salesforce, soql: str, all_rows: bool) -> Mapping[str, Any]:
    body = {"operation": "queryAll" if all_rows else "query", "query": soql, "contentType": "CSV",
            "columnDelimiter": "COMMA", "lineEnding": "LF"}  # fmt: skip
    return _mapping(sf.restful("jobs/query", method="POST", json=body))


def _state(sf: Salesforce, job_id: str) -> Mapping[str, Any]:
    return _mapping(sf.restful(f"jobs/query/{job_id}"))


def _mapping(answer: Any) -> Mapping[str, Any]:
    if not isinstance(answer, Mapping):
        raise QueryJobFailed(f"unexpected Bulk API answer ({type(answer).__name__})")
    return answer


def _wait(client: SalesforceClient, job_id: str) -> None:
    for _ in range(MAX_POLLS):
        client.sleep(client.settings.bulk_poll_seconds)
        info = client.call("bulk query state", lambda sf: _state(sf, job_id))
        state = str(info.get("state"))
        if state == "JobComplete":
            return
        if state in _FINAL:
            why = info.get("errorMessage")
            raise QueryJobFailed(f"{client.name}: Bulk API query job {job_id} ended {state}: {why}")
    _abort(client, job_id)
    raise QueryJobFailed(f"{client.name}: Bulk API query job {job_id} did not finish after {MAX_POLLS} polls")


def _abort(client: SalesforceClient, job_id: str) -> None:
    try:
        path = f"jobs/query/{job_id}"
        client.call("bulk query abort", lambda sf: sf.restful(path, method="PATCH", json={"state": "Aborted"}))
    except ConnectorError as exc:  # it finished meanwhile, or is gone: nothing left to stop
        log.info("salesforce_query_job_not_aborted", connector=client.name, error=str(exc))


def _page(client: SalesforceClient, job_id: str, locator: str) -> tuple[str, str]:
    return client.call("bulk query results", lambda sf: _results(sf, job_id, locator))


def _results(sf: Salesforce, job_id: str, locator: str) -> tuple[str, str]:
    """One page of results and the locator of the next ("" after the last)."""
    params: dict[str, Any] = {"maxRecords": RESULTS_PAGE}
    if locator:
        params["locator"] = locator
    url = f"{sf.base_url}jobs/query/{job_id}/results"
    response = sf._call_salesforce("GET", url, name=url, params=params, headers={"Accept": "text/csv"})
    following = str(response.headers.get("Sforce-Locator") or "")
    return response.content.decode("utf-8"), "" if following == "null" else following


def _value(name: str, cell: str | None) -> Any:
    if cell in (None, ""):
        return None
    if name in _BOOLEAN:
        return cell.lower() == "true"
    return cell
