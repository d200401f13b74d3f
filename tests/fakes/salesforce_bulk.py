"""Bulk API 2.0 ingest jobs of the fake org: update, delete and hardDelete, processed when the upload closes."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fakes.salesforce_http import bulk_error

if TYPE_CHECKING:
    import responses
    from fakes.salesforce import FakeSalesforce

Response = tuple[int, dict[str, str], str]
NULL = "#N/A"  # Bulk CSV: this sets a field to null; an empty cell leaves it unchanged


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

    def info(self) -> dict[str, Any]:
        info = {
            "id": self.id, "object": self.sobject, "operation": self.operation, "state": self.state,
            "numberRecordsProcessed": len(self.succeeded) + len(self.failed), "numberRecordsFailed": len(self.failed),
        }  # fmt: skip
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info


class BulkJobs:
    def __init__(self, org: FakeSalesforce) -> None:
        self.org = org
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)

    def register(
        self, mock: responses.RequestsMock, base: str, api: Callable[[Callable[[Any], Response]], Callable[[Any], Any]]
    ) -> None:
        jobs = base + r"jobs/ingest"
        routes = [
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
        job = Job(f"750FAKE{next(self._ids):011d}", spec["object"], spec["operation"])
        self.jobs[job.id] = job
        return _json(200, job.info())

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
        elif state == "Aborted":
            job.state = "Aborted"
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
