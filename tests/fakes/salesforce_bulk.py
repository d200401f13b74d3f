"""Bulk API 2.0 ingest jobs of the fake org: update, delete and hardDelete, processed when the upload closes.

Also the job list (`GET jobs/ingest`, Bulk API 2.0 guide "Get Information About All Ingest Jobs": `done`, `records`,
`nextRecordsUrl` carrying a `queryLocator`, at most 1,000 jobs a page, `jobType` filter) and the abort transition
(`PATCH` to Aborted, refused for a job in a final state; the code INVALIDJOBSTATE and its wording are unverified).
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

from fakes.salesforce_http import bulk_error

if TYPE_CHECKING:
    import responses
    from fakes.salesforce import FakeSalesforce

Response = tuple[int, dict[str, str], str]
NULL = "#N/A"  # Bulk CSV: this sets a field to null; an empty cell leaves it unchanged
FINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class Job:
    id: str
    sobject: str
    operation: str
    state: str = "Open"
    data: list[str] = field(default_factory=list)
    succeeded: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    error_message: str | None = None  # why the job Failed as a whole
    created_by: str = ""
    created: str = ""  # createdDate, as Salesforce writes it: 2021-06-10T13:25:40.000+0000
    content_type: str = "CSV"

    def info(self) -> dict[str, Any]:
        info = {
            "id": self.id, "object": self.sobject, "operation": self.operation, "state": self.state,
            "createdById": self.created_by, "createdDate": self.created, "systemModstamp": self.created,
            "contentType": self.content_type, "jobType": "V2Ingest", "concurrencyMode": "Parallel",
            "lineEnding": "LF", "columnDelimiter": "COMMA",
            "numberRecordsProcessed": len(self.succeeded) + len(self.failed), "numberRecordsFailed": len(self.failed),
        }  # fmt: skip
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


class BulkJobs:
    def __init__(self, org: FakeSalesforce, page_size: int = 1000) -> None:
        self.org = org
        self.jobs: dict[str, Job] = {}
        self.page_size = page_size  # jobs per page of the list
        self.list_refused = False  # the user may not list jobs: 403 (code unverified)
        self._ids = itertools.count(1)

    def open(self, sobject: str, operation: str, *, created_by: str | None = None, state: str = "Open") -> Job:
        """A job some process created (another integration user with `created_by`), for arranging tests."""
        job = self._new(sobject, operation, created_by or self.org.user_id)
        job.state = state
        return job

    def _new(self, sobject: str, operation: str, created_by: str) -> Job:
        stamp = self.org.clock().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        job = Job(f"750FAKE{next(self._ids):011d}", sobject, operation, created_by=created_by, created=stamp)
        self.jobs[job.id] = job
        return job

    def register(
        self, mock: responses.RequestsMock, base: str, api: Callable[[Callable[[Any], Response]], Callable[[Any], Any]]
    ) -> None:
        jobs = base + r"jobs/ingest"
        routes = [
            ("GET", jobs + r"/?(\?.*)?$", self._list),
            ("POST", jobs + r"/?$", self._create),
            ("PUT", jobs + r"/(?P<job>[^/]+)/batches$", self._upload),
            ("PATCH", jobs + r"/(?P<job>[^/]+)$", self._state),
            ("GET", jobs + r"/(?P<job>[^/]+)$", self._info),
            ("GET", jobs + r"/(?P<job>[^/]+)/(?P<which>successfulResults|failedResults|unprocessedRecords)$",
             self._results),
        ]  # fmt: skip
        for method, pattern, handler in routes:
            mock.add_callback(method, re.compile(pattern), callback=api(handler), content_type=None)

    def _job(self, request: Any) -> Job | None:
        match = re.search(r"/jobs/ingest/([^/]+)", request.url)
        return self.jobs.get(match.group(1)) if match else None

    def _create(self, request: Any) -> Response:
        spec = json.loads(request.body)
        if spec.get("operation") not in ("update", "delete", "hardDelete") or spec.get("object") not in self.org.tables:
            return _json(400, [{"errorCode": "INVALIDJOB", "message": "unsupported job"}])
        job = self._new(spec["object"], spec["operation"], self.org.user_id)
        return _json(200, job.info())

    def _list(self, request: Any) -> Response:
        if self.list_refused:
            return _json(403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "(fake)"}])
        params = parse_qs(urlparse(request.url).query)
        wanted = params.get("jobType", [None])[0]
        jobs = [job for job in self.jobs.values() if wanted in (None, "V2Ingest")]
        start = int(params.get("queryLocator", ["0"])[0] or 0)
        page = jobs[start : start + self.page_size]
        body: dict[str, Any] = {"done": start + self.page_size >= len(jobs), "records": [job.info() for job in page]}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{self.org.version}/jobs/ingest?queryLocator={start + len(page)}"
        return _json(200, body)

    def _upload(self, request: Any) -> Response:
        job = self._job(request)
        if job is None or job.state != "Open":
            return _json(400, [{"errorCode": "INVALIDJOBSTATE", "message": "job not open"}])
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        job.data.append(body)
        return 201, {}, ""

    def _state(self, request: Any) -> Response:
        job = self._job(request)
        if job is None:
            return _json(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        state = json.loads(request.body).get("state")
        if state == "UploadComplete" and job.state == "Open":
            self._process(job)
        elif state == "Aborted" and job.state not in FINAL:
            job.state = "Aborted"
        elif state == "Aborted":  # a job in a final state keeps it
            message = f"Aborting already {job.state} Job not allowed"
            return _json(400, [{"errorCode": "INVALIDJOBSTATE", "message": message}])
        return _json(200, job.info())

    def _info(self, request: Any) -> Response:
        job = self._job(request)
        return _json(200, job.info()) if job else _json(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])

    def _results(self, request: Any) -> Response:
        job = self._job(request)
        if job is None:
            return _json(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        which = request.url.rsplit("/", 1)[-1]
        if which == "successfulResults":
            return _csv(["sf__Id", "sf__Created", *job.header], job.succeeded)
        if which == "failedResults":
            return _csv(["sf__Id", "sf__Error", *job.header], job.failed)
        return _csv(job.header, [])

    def _process(self, job: Job) -> None:
        for text in job.data:  # a column the user cannot see fails the whole job, nothing processed
            header = next(csv.reader(io.StringIO(text)), [])
            unknown = next((name for name in header if name != "Id" and name not in self.org.schema[job.sobject]), None)
            if unknown and job.operation == "update":  # wording as observed (amp-labs/connectors#118)
                job.state, job.error_message = "Failed", f"InvalidBatch : Field name not found : {unknown}"
                job.header = header
                return
        job.state = "JobComplete"
        for text in job.data:
            reader = csv.DictReader(io.StringIO(text))
            job.header = list(reader.fieldnames or [])
            for row in reader:
                record_id = row.get("Id", "")
                if job.operation == "update":
                    fields = {k: (None if v == NULL else v) for k, v in row.items() if k != "Id" and v != ""}
                    code = self.org.update_one(job.sobject, record_id, fields)
                else:
                    code = self.org.delete_one(record_id, hard=job.operation == "hardDelete")
                outcome = {"sf__Id": record_id, **row}
                if code is None:
                    job.succeeded.append({"sf__Created": "false", **outcome})
                else:
                    job.failed.append({"sf__Error": bulk_error(code), **outcome})


def _json(status: int, body: Any) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def _csv(header: list[str], rows: list[dict[str, str]]) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return 200, {"Content-Type": "text/csv"}, out.getvalue()
