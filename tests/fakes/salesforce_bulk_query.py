"""Bulk API 2.0 query jobs of the fake org: create, poll, results in pages (Bulk API 2.0 guide).

"Create a Query Job": POST jobs/query with `operation` query or queryAll and the SOQL; the answer is the job info
in state UploadComplete. "Get Information About a Query Job": the state moves to InProgress then JobComplete (here
after `polls_to_complete` polls). "Get Results for a Query Job": CSV, every value quoted, an empty cell for a null,
checkboxes as true/false, `maxRecords` rows a page, the next page's `locator` in the `Sforce-Locator` header ("null"
on the last), the page's row count in `Sforce-NumberOfRecords`; before JobComplete, 412 JOB_NOT_COMPLETE. The rows
are those of the moment the job ran. A statement the fake cannot run is refused at create with its SOQL error code
(the exact code a real org gives at create is unverified).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from fakes.salesforce_soql import SoqlError

if TYPE_CHECKING:
    import responses
    from fakes.salesforce import FakeSalesforce

Response = tuple[int, dict[str, str], str]


@dataclass
class QueryJob:
    id: str
    operation: str
    sobject: str
    header: list[str]
    rows: list[list[str]]
    state: str = "UploadComplete"
    polls: int = 0
    fails: bool = False  # ends Failed (as a job over the org's limits or a timed-out query would)

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.sobject, "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA",
            "jobType": "V2Query", "numberRecordsProcessed": len(self.rows) if self.state == "JobComplete" else 0,
        }  # fmt: skip
        if self.state == "Failed":
            info["errorMessage"] = "Query timed out (fake)"
        return info


@dataclass
class QueryJobs:
    org: FakeSalesforce
    polls_to_complete: int = 2  # the first poll sees InProgress
    fail_next: int = 0  # the next N jobs end Failed
    jobs: dict[str, QueryJob] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def register(
        self, mock: responses.RequestsMock, base: str, api: Callable[[Callable[[Any], Response]], Callable[[Any], Any]]
    ) -> None:
        jobs = base + r"jobs/query"
        routes = [
            ("POST", jobs + r"/?$", self._create),
            ("GET", jobs + r"/(?P<job>[^/?]+)/?$", self._info),
            ("PATCH", jobs + r"/(?P<job>[^/?]+)/?$", self._abort),
            ("GET", jobs + r"/(?P<job>[^/?]+)/results(\?.*)?$", self._results),
        ]
        for method, pattern, handler in routes:
            mock.add_callback(method, re.compile(pattern), callback=api(handler), content_type=None)

    def _create(self, request: Any) -> Response:
        spec = json.loads(request.body)
        operation = spec.get("operation")
        if operation not in ("query", "queryAll"):
            return _json(400, [{"errorCode": "INVALIDJOB", "message": f"InvalidJob : operation {operation}"}])
        text = str(spec.get("query") or "")
        try:
            query, ids = self.org.select(text, all_rows=operation == "queryAll")
        except SoqlError as exc:
            return _json(400, [{"errorCode": exc.code, "message": str(exc)}])
        header = list(query.fields)
        rows = [[_cell(self.org.cell(query.sobject, record_id, path)) for path in header] for record_id in ids]
        job = QueryJob(f"750QFAKE{next(self._ids):010d}", operation, query.sobject, header, rows)
        if self.fail_next > 0:
            self.fail_next -= 1
            job.fails = True
        self.jobs[job.id] = job
        return _json(200, job.info())

    def _job(self, request: Any) -> QueryJob | None:
        match = re.search(r"/jobs/query/([^/?]+)", request.url)
        return self.jobs.get(match.group(1)) if match else None

    def _info(self, request: Any) -> Response:
        job = self._job(request)
        if job is None:
            return _json(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        job.polls += 1
        if job.state not in ("JobComplete", "Failed", "Aborted"):
            done = job.polls >= self.polls_to_complete
            job.state = ("Failed" if job.fails else "JobComplete") if done else "InProgress"
        return _json(200, job.info())

    def _abort(self, request: Any) -> Response:
        job = self._job(request)
        if job is None:
            return _json(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        if job.state in ("JobComplete", "Failed", "Aborted"):
            message = f"Aborting already {job.state} Job not allowed"
            return _json(400, [{"errorCode": "INVALIDJOBSTATE", "message": message}])
        job.state = "Aborted"
        return _json(200, job.info())

    def _results(self, request: Any) -> Response:
        job = self._job(request)
        if job is None:
            return _json(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        if job.state != "JobComplete":  # the guide's example (API 47-era "Get Results for a Query Job")
            message = f"can only download query results of successfully completed bulk job (fake: {job.state})"
            return _json(412, [{"errorCode": "JOB_NOT_COMPLETE", "message": message}])
        params = parse_qs(urlparse(request.url).query)
        size = int(params.get("maxRecords", ["50000"])[0])
        start = int(params.get("locator", ["0"])[0] or 0)
        page = job.rows[start : start + size]
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(job.header)
        writer.writerows(page)
        following = str(start + size) if start + size < len(job.rows) else "null"
        headers = {"Content-Type": "text/csv", "Sforce-Locator": following, "Sforce-NumberOfRecords": str(len(page))}
        return 200, headers, out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json(status: int, body: Any) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(body)
