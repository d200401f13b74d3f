"""The Salesforce connector (`type = "salesforce"`): Contacts and Leads, their Individual and consent rows."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from gomme.connectors.base import Capabilities, ClosedOnExit, Pulled, Usage
from gomme.connectors.salesforce.client import Credentials, SalesforceClient, credentials
from gomme.connectors.salesforce.describe import OrgSchema
from gomme.connectors.salesforce.fit import Fitted, fit
from gomme.connectors.salesforce.mapping import ObjectMap
from gomme.connectors.salesforce.reader import Reader
from gomme.connectors.salesforce.related import RelatedReader, RelatedWriter
from gomme.connectors.salesforce.settings import SalesforceSettings
from gomme.connectors.salesforce.writer import Target, Writer
from gomme.model.changes import Action, ChangeResult, PlannedChange
from gomme.model.conditions import PullQuery
from gomme.model.records import PersonRecord

# Records just re-read (`get`), kept for the `apply` that follows them (ids, Individual, consent rows). A pull does
# not keep them: every apply re-reads its page first (jobs/apply.py), and 100,000 kept targets weighed 60 MB.
_REMEMBERED = 100_000
# Changes per write: a Bulk API 2.0 job costs about 5 calls whatever its size, so fewer, bigger jobs.
_WRITE_BATCH = 10_000


class SalesforceConnector(ClosedOnExit):
    """Implements the `Connector` protocol on simple-salesforce; one org, one pooled session."""

    Settings = SalesforceSettings

    @classmethod
    def from_settings(cls, name: str, settings: SalesforceSettings, *, base_dir: Path) -> SalesforceConnector:
        """Reads the secrets now (a missing one is a clear config error); logs in on the first call."""
        return cls(name, settings, credentials(name, settings, base_dir=base_dir, env=os.environ))

    def __init__(
        self,
        name: str,
        settings: SalesforceSettings,
        creds: Credentials,
        *,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        """`now`: the wall clock that tells a stale Bulk job from a live one (tests set it)."""
        self.name = name
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self.settings = settings
        self.client = SalesforceClient(name, settings, creds, sleep=sleep or time.sleep)
        self.schema = OrgSchema(self.client.describe)
        self._fitted: Fitted | None = None
        self._reader: Reader
        self._writer: Writer
        self._related: RelatedReader
        # Oldest first; an OrderedDict drops its oldest entry in O(1), where a dict's first key is found by
        # scanning past the slots its deletions left (44 s over a 1M-record pull, measured).
        self._recent: OrderedDict[tuple[str, str], Target] = OrderedDict()

    @property
    def maps(self) -> dict[str, ObjectMap]:
        """Each object's mapping fitted to the org's describe, checked once, before the first query or write."""
        return self._fit().maps

    def _fit(self) -> Fitted:
        if self._fitted is None:
            self._fitted = fit(self.name, self.settings, self.schema)
            settings = self.settings
            self._related = RelatedReader(self.client, self.schema, settings.related_objects,
                                          delete_on_erase=settings.related_on_erase == "delete")  # fmt: skip
            self._reader = Reader(self.name, self.client, self._fitted.maps, self._related)
            writes = RelatedWriter(self.client, self.schema, hard_delete=settings.hard_delete)
            self._writer = Writer(self.name, self.client, self._fitted.maps, self.schema, now=self._now, related=writes)
        return self._fitted

    def notices(self) -> list[str]:
        """Defaults the org lacks or hides, skipped (no personal data: object and field names only)."""
        read = [*self._reader.notes.lines(), *self._related.notices()] if self._fitted else []
        aborted = self._writer.aborted_jobs if self._fitted else None
        cleaned = [f"{aborted} open Bulk API 2.0 job(s) an interrupted run had left were aborted"] if aborted else []
        return [*self._fit().notices, *read, *cleaned]

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            actions=frozenset(Action), incremental=True, pushdown=True, notes=bool(self.settings.note_fields),
            write_batch=_WRITE_BATCH,
            permanent_delete=self.settings.hard_delete,  # else the recycle bin keeps deleted records 15 days
        )  # fmt: skip

    @property
    def calls(self) -> int:
        """API calls made so far (logins included)."""
        return self.client.calls

    def usage(self) -> Usage:
        """API calls since opened, by HTTP status, and what the org's daily allowance has left (daemon metrics)."""
        usage = self.client.budget.usage
        remaining = None if usage is None else max(0, usage.total - usage.used)
        return Usage(dict(self.client.session.statuses), remaining)

    def close(self) -> None:
        self.client.close()

    def pull(self, query: PullQuery) -> Pulled:
        """Streams records."""
        self._fit()
        return Pulled(self._reader.pull(query))

    def get(self, ids: Iterable[tuple[str, str]]) -> Iterator[PersonRecord]:
        """Re-reads records; they are remembered for the `apply` that usually follows, saving a query."""
        self._recent = OrderedDict()
        self._fit()
        for record in self._reader.get(ids):
            if len(self._recent) < _REMEMBERED:
                self._recent[(record.object_type, record.id)] = Target.of(record, self.maps[record.object_type])
            yield record

    def find(self, email: str) -> Iterator[PersonRecord]:
        self._fit()
        return self._reader.find(email)

    def apply(self, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        """Writes the batch, then yields one result per change (an APPLIED one is saved in the org)."""
        self._fit()
        wanted = {(change.object_type, change.record_id) for change in changes}
        missing = [key for key in wanted if key not in self._recent]
        targets: dict[tuple[str, str], Target] = {key: self._recent[key] for key in wanted if key in self._recent}
        if missing:
            for record in self._reader.get(missing):
                targets[(record.object_type, record.id)] = Target.of(record, self.maps[record.object_type])
        results = self._writer.apply(changes, targets)
        for key in wanted:
            self._recent.pop(key, None)  # written: what was known about it is stale now
        return iter(results)

    def export(self, record: PersonRecord) -> dict[str, Any]:
        self._fit()
        return self._reader.export(record)

    def size(self) -> int:
        self._fit()
        return self._reader.size()
