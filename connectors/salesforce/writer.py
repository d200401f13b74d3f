"""Planned changes → Salesforce writes, in as few calls as the APIs allow, with one result per change.

Each change becomes up to five kinds of write, sent in this order so that a failure never leaves a
record looking done: (1) delete the Individual's consent rows, (2) create a missing Individual,
(3) update people (Contacts, Leads, person Accounts: pooled sObject Collections PATCHes, mixed types),
(4) update their Individuals, (5) delete people. A step runs only for the changes whose earlier steps
succeeded: an Individual's flags are written only once its person's update has been, since gomme reads
`restricted` and the opt-outs from the Individual (a refused Contact update with its Individual already
restricted would read as done and never be retried). The anonymised marker (LastName) is written in step 3,
and `anonymised` is read back only when the Individual is clean too.

Creates and Bulk jobs survive lost answers (docs/salesforce-orgs.md, "Idempotent creates and cleanups"): an
Individual gomme creates is named after a key of its person's record, looked up (one query per chunk of keys)
before each attempt, so a create Salesforce committed is reused, never repeated; before its first Bulk API 2.0
job, the writer aborts the Open jobs an interrupted run of gomme left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from gomme.connectors.errors import FatalError, RetryableError
from gomme.connectors.salesforce import bulk
from gomme.connectors.salesforce.client import SalesforceClient
from gomme.connectors.salesforce.describe import OrgSchema
from gomme.connectors.salesforce.mapping import CONSENTS_KEY, ObjectMap
from gomme.connectors.salesforce.reader import CONSENT_OBJECT, in_chunks
from gomme.connectors.salesforce.related import RelatedWriter
from gomme.connectors.salesforce.soql import In, Soql
from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange
from gomme.model.fields import OPT_OUT_NAMES
from gomme.model.records import PersonRecord
from gomme.model.related import RelatedOutcome

log = structlog.get_logger(__name__)
COLLECTION_SIZE = 200  # sObject Collections: at most 200 records per call
RESTRICTED_INDIVIDUAL_NAME = "RESTRICTED"  # LastName of an Individual gomme creates: never copied from the person
_KEY_LENGTH = 16  # hex digits of the record key in that LastName: 64 bits, no collision in any org's lifetime
LOCKED = "UNABLE_TO_LOCK_ROW"
ALREADY_DELETED = "ENTITY_IS_DELETED"
_NOTE_PREFIX = "notes."
_IDENTIFYING = ("email", "first_name", "phone", "birthdate")
Kind = Literal["insert", "update", "delete"]
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


class RowsLocked(RetryableError):
    """Some records of a collection call were locked by another transaction; only those are sent again."""


@dataclass(frozen=True, slots=True)
class Target:
    """What the writer must know about the record a change is for, from its fresh re-read."""

    individual_id: str | None
    individual_clean: bool
    consent_ids: tuple[str, ...]
    person_account_id: str | None = None  # a Person Account's contact is written through its Account

    @classmethod
    def of(cls, record: PersonRecord, omap: ObjectMap) -> Target:
        raw = record.raw
        individual = raw.get("Individual") if isinstance(raw.get("Individual"), Mapping) else None
        clean = (
            individual is not None
            and str(individual.get("LastName") or "").casefold() == omap.marker.casefold()
            and all(individual.get(name) in (None, "") for name in omap.individual_anonymise_fields)
        )
        consents = raw.get(CONSENTS_KEY) or ()
        person_account = raw.get("IsPersonAccount") is True or (
            isinstance(raw.get("Account"), Mapping) and raw["Account"].get("IsPersonAccount") is True
        )
        return cls(
            individual_id=str(raw["IndividualId"]) if raw.get("IndividualId") else None,
            individual_clean=clean,
            consent_ids=tuple(str(row["Id"]) for row in consents if isinstance(row, Mapping) and row.get("Id")),
            person_account_id=str(raw["AccountId"]) if person_account and raw.get("AccountId") else None,
        )


@dataclass(slots=True)
class Write:
    change_id: str
    kind: Kind
    sobject: str
    record_id: str | None
    fields: dict[str, Any] = field(default_factory=dict)


def _consent_row(write: Write) -> bool:
    return write.sobject == CONSENT_OBJECT


def _any(write: Write) -> bool:
    return True


def _person(write: Write) -> bool:
    return write.sobject != CONSENT_OBJECT


def _person_record(write: Write) -> bool:
    return write.sobject not in (CONSENT_OBJECT, "Individual")


def _individual(write: Write) -> bool:
    return write.sobject == "Individual"


# The order of the writes of a batch; see the module docstring.
_STEPS: tuple[tuple[Kind, Callable[[Write], bool]], ...] = (
    ("delete", _consent_row),
    ("insert", _any),
    ("update", _person_record),
    ("update", _individual),
    ("delete", _person),
)


@dataclass(slots=True)
class _Plan:
    change: PlannedChange
    writes: list[Write] = field(default_factory=list)
    error: tuple[str, str] | None = None  # (code, PII-free detail)
    done_detail: str | None = None
    person_account_id: str | None = None  # the person is written through this Account
    related: RelatedOutcome | None = None  # what became of the person's related records


def individual_name(sobject: str, record_id: str) -> str:
    """The LastName of the Individual gomme creates for a person: the placeholder and a key of the record (a hash
    of its object and id, so one per person across runs), never anything of the person."""
    key = hashlib.sha256(f"{sobject}:{record_id}".encode()).hexdigest()[:_KEY_LENGTH]
    return f"{RESTRICTED_INDIVIDUAL_NAME} {key}"


class Writer:
    """Applies batches of changes for one connector."""

    def __init__(
        self,
        crm: str,
        client: SalesforceClient,
        maps: Mapping[str, ObjectMap],
        schema: OrgSchema | None = None,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        related: RelatedWriter | None = None,
    ) -> None:
        self.crm, self.client, self.maps, self.schema, self.now = crm, client, maps, schema, now
        self.related = related
        settings = client.settings
        self._threshold, self._hard_delete = settings.bulk_threshold, settings.hard_delete
        self.aborted_jobs: int | None = None  # stale Bulk jobs aborted before this writer's first job; None: not yet

    def apply(self, changes: Sequence[PlannedChange], targets: Mapping[tuple[str, str], Target]) -> list[ChangeResult]:
        plans = [self._plan(change, targets) for change in changes]
        live = [plan for plan in plans if plan.error is None and plan.done_detail is None]
        self.client.budget.ensure(self._estimate(live))
        if self.related is not None:  # first: once a person is deleted, nothing finds their activities any more
            sobjects = [(plan.change, self.maps[plan.change.object_type].sobject) for plan in live]
            outcomes = self.related.write(sobjects)
            for plan in live:
                plan.related = outcomes.get(plan.change.change_id)
        by_change = {plan.change.change_id: plan for plan in live}
        for kind, wanted in _STEPS:
            writes = [
                write for plan in live if plan.error is None for write in plan.writes
                if write.kind == kind and wanted(write)
            ]  # fmt: skip
            self._send(kind, writes, by_change)
        return [self._result(plan) for plan in plans]

    # -- planning -------------------------------------------------------------------------------------

    def _plan(self, change: PlannedChange, targets: Mapping[tuple[str, str], Target]) -> _Plan:
        plan = _Plan(change)
        omap = self.maps.get(change.object_type)
        actions = sorted(set(change.actions), key=lambda action: action.strength)
        if change.crm != self.crm or omap is None:
            plan.error = ("WRONG_CRM", "change is for another connector or object")
            return plan
        target = targets.get((change.object_type, change.record_id))
        if target is None:
            if Action.DELETE in actions:
                plan.done_detail = "already deleted"
            else:
                plan.error = ("NOT_FOUND", "record not found")
            return plan
        person: dict[str, Any] = {}
        individual: dict[str, Any] = {}
        erase_individual = False
        for action in actions:
            if action is Action.RESTRICT_EMAIL:
                _set_flags(omap, ("opt_out_email",), person, individual)
            elif action is Action.RESTRICT_ALL:
                _set_flags(omap, (*(f"opt_out_{name}" for name in OPT_OUT_NAMES), "restricted"), person, individual)
            elif action is Action.REDACT_NOTE:
                notes = _note_values(change.values, omap)
                if notes is None and change.related:
                    continue  # only related records hold the sentences
                if notes is None:
                    plan.error = ("INVALID_CHANGE", "redact_note needs text values keyed notes.<mapped note field>")
                    return plan
                person.update(notes)
            elif action in (Action.ANONYMISE, Action.DELETE):
                person.update(_anonymised_person(omap))
                erase_individual = omap.erase_individual
            elif action is Action.RECTIFY:
                unwritable = _rectified(omap, change.values, person, individual)
                if unwritable:
                    detail = f"not writable by the integration user: {', '.join(unwritable)}"
                    plan.error = ("FIELD_NOT_WRITABLE", detail)
                    return plan
        sobject: str = omap.sobject
        record_id = change.record_id
        if erase_individual and target.individual_id:
            plan.writes += [Write(change.change_id, "delete", CONSENT_OBJECT, cid) for cid in target.consent_ids]
            if not target.individual_clean:
                individual.update(_anonymised_individual(omap))
        if individual and target.individual_id:
            plan.writes.append(Write(change.change_id, "update", "Individual", target.individual_id, individual))
        elif individual and omap.data_protection:
            created = {"LastName": individual_name(omap.sobject, change.record_id), **individual}
            plan.writes.append(Write(change.change_id, "insert", "Individual", None, created))
        if target.person_account_id is not None:
            # Person Account: the person contact is edited and deleted through its Account (docs/salesforce-orgs.md).
            sobject, record_id, person = "Account", target.person_account_id, self._on_account(person)
            plan.person_account_id = target.person_account_id
        if Action.DELETE in actions:
            plan.writes.append(Write(change.change_id, "delete", sobject, record_id))
        elif person:
            plan.writes.append(Write(change.change_id, "update", sobject, record_id, person))
        return plan

    def _on_account(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Contact fields as the person account's: `PersonX`, the same name, or `X__pc`; unwritable ones dropped."""
        account = self.schema.object("Account") if self.schema else None
        moved: dict[str, Any] = {}
        for name, value in fields.items():
            candidates = [f"{name[:-3]}__pc"] if name.endswith("__c") else [f"Person{name}", name]
            for candidate in candidates:
                info = account.field(candidate) if account else None
                if info is not None and info.updateable:
                    moved[candidate] = value
                    break
        return moved

    def _estimate(self, plans: Sequence[_Plan]) -> int:
        """Calls the batch will take, so that a batch never starts without room in the allowance."""
        counts: dict[tuple[str, str], int] = {}
        for write in (write for plan in plans for write in plan.writes):
            key = (write.kind, write.sobject)
            counts[key] = counts.get(key, 0) + 1
        calls = 0
        for (kind, sobject), count in counts.items():
            if self._use_bulk(kind, sobject, count):
                calls += bulk.CALLS_PER_JOB
            else:
                calls += math.ceil(count / COLLECTION_SIZE)
        if self.aborted_jobs is None and any(self._use_bulk(k, s, n) for (k, s), n in counts.items()):
            calls += bulk.SWEEP_CALLS  # before the first job: who am I, and the job list
        inserts = [write for plan in plans for write in plan.writes if write.kind == "insert"]
        return calls + len(self._lookups(inserts))

    def _use_bulk(self, kind: str, sobject: str, count: int) -> bool:
        if kind == "insert":
            return False
        if kind == "delete" and self._hard_delete and sobject in ("Contact", "Lead"):
            return True  # hardDelete exists only in Bulk API 2.0
        return count >= self._threshold

    # -- sending --------------------------------------------------------------------------------------

    def _send(self, kind: Kind, writes: list[Write], plans: Mapping[str, _Plan]) -> None:
        if not writes:
            return
        if kind == "insert":
            self._create(writes, plans)
            return
        groups: dict[str, list[Write]] = {}
        for write in writes:
            groups.setdefault(write.sobject, []).append(write)
        pooled: list[Write] = []
        for sobject, group in sorted(groups.items()):
            if self._use_bulk(kind, sobject, len(group)):
                self._bulk(kind, sobject, group, plans)
            else:
                pooled.extend(group)
        for start in range(0, len(pooled), COLLECTION_SIZE):
            self._collection(kind, pooled[start : start + COLLECTION_SIZE], plans)

    def _bulk(self, kind: Kind, sobject: str, writes: list[Write], plans: Mapping[str, _Plan]) -> None:
        operation: bulk.BulkOperation = (
            "update"
            if kind == "update"
            else ("hardDelete" if self._hard_delete and sobject in ("Contact", "Lead") else "delete")
        )
        pending = writes
        self._sweep_stale_jobs()

        def attempt() -> None:
            nonlocal pending
            outcome = bulk.ingest(self.client, sobject, operation, [{"Id": w.record_id, **w.fields} for w in pending])
            locked = []
            for write in pending:
                code = outcome.get(str(write.record_id), "NO_RESULT")
                if code == LOCKED:
                    locked.append(write)
                elif not (kind == "delete" and code == ALREADY_DELETED):  # e.g. by a job whose answer was lost
                    self._record(write, code, plans)
            pending = locked
            if pending and operation == "hardDelete":  # only a job purges: collections would leave the recycle bin
                raise RowsLocked(f"{len(pending)} record(s) locked")

        try:
            self._retrying()(attempt)
        except RowsLocked:
            for write in pending:
                self._record(write, LOCKED, plans)
            return
        for start in range(0, len(pending), COLLECTION_SIZE):  # retried through collections, with backoff
            self._collection(kind, pending[start : start + COLLECTION_SIZE], plans)

    def _collection(self, kind: Kind, writes: list[Write], plans: Mapping[str, _Plan]) -> None:
        """One collections call, repeating only the records that were locked, with jittered backoff."""
        pending = sorted(writes, key=lambda write: write.sobject)  # few type switches: Salesforce allows ten

        def attempt() -> None:
            nonlocal pending
            results = self._call(kind, pending)
            locked = []
            for write, result in zip(pending, results, strict=False):
                code = _code(result, kind)
                if code == LOCKED:
                    locked.append(write)
                    continue
                if kind == "insert" and code is None:
                    write.record_id = str(result.get("id"))  # created: never sent again
                    self._link(write, write.record_id, plans)
                self._record(write, code, plans, _fields_named(result))
            for write in pending[len(results) :]:
                self._record(write, "NO_RESULT", plans)
            pending = locked
            if pending:
                raise RowsLocked(f"{len(pending)} record(s) locked")

        try:
            self._retrying()(attempt)
        except RowsLocked:
            for write in pending:
                self._record(write, LOCKED, plans)

    def _retrying(self) -> Retrying:
        """Locked records are sent again, alone, after a jittered backoff."""
        settings = self.client.settings
        return Retrying(
            retry=retry_if_exception_type(RowsLocked), stop=stop_after_attempt(settings.max_attempts),
            wait=wait_random_exponential(multiplier=settings.backoff_seconds, max=settings.backoff_max_seconds),
            sleep=self.client.sleep, reraise=True,
        )  # fmt: skip

    def _call(self, kind: Kind, writes: Sequence[Write]) -> list[dict[str, Any]]:
        if kind == "delete":
            return self.client.delete([str(write.record_id) for write in writes])
        records = [
            {"attributes": {"type": write.sobject}, **({"id": write.record_id} if write.record_id else {}),
             **write.fields}
            for write in writes
        ]  # fmt: skip
        if kind == "insert":  # not repeated blindly: `_create` looks up what a lost answer created first
            return self.client.save("POST", records, retry=False)
        return self.client.save("PATCH", records)

    # -- creates a retry cannot duplicate, stale jobs ------------------------------------------------------

    def _create(self, writes: list[Write], plans: Mapping[str, _Plan]) -> None:
        """Creates the Individuals, each once: before every attempt the keys still pending are looked up and what
        Salesforce holds is reused, so a create whose answer was lost (then retried, or re-run) never doubles."""
        pending = writes
        for attempt in self.client.retrying():
            with attempt:
                pending = [w for w in pending if w.record_id is None and plans[w.change_id].error is None]
                pending = self._reuse(pending, plans)
                for start in range(0, len(pending), COLLECTION_SIZE):
                    self._collection("insert", pending[start : start + COLLECTION_SIZE], plans)

    def _reuse(self, writes: list[Write], plans: Mapping[str, _Plan]) -> list[Write]:
        """Links each write whose Individual already exists (its key found) and updates it; returns the others."""
        found: dict[str, str] = {}
        for chunk in self._lookups(writes):
            rows = [row for page in self.client.pages(str(_lookup(chunk))) for row in page]
            for row in sorted(rows, key=lambda row: (str(row.get("CreatedDate") or ""), str(row.get("Id")))):
                found.setdefault(str(row.get("LastName") or "").casefold(), str(row["Id"]))  # the oldest wins
        missing = []
        for write in writes:
            existing = found.get(str(write.fields["LastName"]).casefold())
            if existing is None:
                missing.append(write)
                continue
            write.record_id = existing
            again = {name: value for name, value in write.fields.items() if name != "LastName"}
            if again:  # the change's flags, set again: this run's change may want more than the lost one did
                plans[write.change_id].writes.append(Write(write.change_id, "update", "Individual", existing, again))
            self._link(write, existing, plans)
        return missing

    def _lookups(self, writes: Sequence[Write]) -> list[list[str]]:
        """The keys of these creates, in chunks that each fit one lookup query (the org's URI limit)."""
        keys = list(dict.fromkeys(str(write.fields["LastName"]) for write in writes))
        limit = self.client.settings.max_query_length
        return list(in_chunks(_LOOKUP, "LastName", keys, limit))

    def _sweep_stale_jobs(self) -> None:
        """Once, before this writer's first Bulk job: abort the Open jobs an interrupted run of gomme left."""
        if self.aborted_jobs is not None:
            return
        objects = {omap.sobject for omap in self.maps.values()} | {"Account", "Individual", CONSENT_OBJECT}
        try:
            self.aborted_jobs = bulk.abort_stale(self.client, objects, self.now())
        except FatalError as exc:  # e.g. the user may not list jobs: a left job is clutter, never worth the writes
            self.aborted_jobs = 0
            log.warning("salesforce_stale_jobs_not_swept", connector=self.crm, error=str(exc))

    def _link(self, write: Write, individual_id: str, plans: Mapping[str, _Plan]) -> None:
        """A new Individual: the person's update carries the link to it."""
        plan = plans[write.change_id]
        update = next((w for w in plan.writes if w.kind == "update" and w.sobject != "Individual"), None)
        if update is None:
            if plan.person_account_id is not None:
                update = Write(write.change_id, "update", "Account", plan.person_account_id)
            else:
                update = Write(write.change_id, "update", self.maps[plan.change.object_type].sobject,
                               plan.change.record_id)  # fmt: skip
            plan.writes.append(update)
        update.fields["PersonIndividualId" if update.sobject == "Account" else "IndividualId"] = individual_id

    @staticmethod
    def _record(write: Write, code: str | None, plans: Mapping[str, _Plan], fields: str = "") -> None:
        plan = plans[write.change_id]
        if code is not None and plan.error is None:
            what = "consent row" if write.sobject == CONSENT_OBJECT else write.sobject
            plan.error = (code, f"{write.kind} of the {what} failed" + (f" on {fields}" if fields else ""))

    def _result(self, plan: _Plan) -> ChangeResult:
        change_id = plan.change.change_id
        if plan.error is not None:
            log.warning("salesforce_change_failed", connector=self.crm, change_id=change_id, code=plan.error[0])
            return ChangeResult(change_id, Outcome.FAILED, plan.error[0], plan.error[1], related=plan.related)
        return ChangeResult(change_id, Outcome.APPLIED, detail=plan.done_detail, related=plan.related)


_LOOKUP = Soql.select("Individual", ("Id", "LastName", "CreatedDate"))


def _lookup(keys: Sequence[str]) -> Soql:
    """The Individuals gomme created under these keys (LastName); CreatedDate picks the oldest of a race's two."""
    return _LOOKUP.filter(In("LastName", tuple(keys)))


def _fields_named(result: Mapping[str, Any]) -> str:
    """The field names Salesforce's per-record error lists (`fields`), never its message (it may quote values)."""
    names = [str(name) for error in result.get("errors") or () if isinstance(error, Mapping)
             for name in error.get("fields") or () if _FIELD_NAME.fullmatch(str(name))]  # fmt: skip
    return ", ".join(dict.fromkeys(names))


def _code(result: Mapping[str, Any], kind: Kind) -> str | None:
    """None when the record was saved; a record already deleted counts as deleted."""
    if result.get("success"):
        return None
    errors = result.get("errors") or [{}]
    code = str(errors[0].get("statusCode") or errors[0].get("errorCode") or "UNKNOWN")
    return None if kind == "delete" and code == ALREADY_DELETED else code


def _set_flags(omap: ObjectMap, names: Iterable[str], person: dict[str, Any], individual: dict[str, Any]) -> None:
    for name in names:
        path = omap.fields.get(name)
        if path and not omap.can_write(path):
            continue  # hidden or read-only for the integration user: reported once by `fit`
        if path and path.startswith("Individual.") and path.count(".") == 1:
            individual[path.split(".", 1)[1]] = True
        elif path and "." not in path:
            person[path] = True


def _anonymised_person(omap: ObjectMap) -> dict[str, Any]:
    """Every personal field of the record cleared, the required ones (LastName…) set to the marker: nothing derived."""
    fields: dict[str, Any] = dict.fromkeys(omap.anonymise_fields)
    fields.update(dict.fromkeys(path for path in omap.notes.values() if "." not in path and omap.can_write(path)))
    fields.update(dict.fromkeys(
        p for name in _IDENTIFYING if (p := omap.fields.get(name)) and "." not in p and omap.can_write(p)
    ))  # fmt: skip
    fields.update(dict.fromkeys(omap.marker_fields, omap.marker))
    return fields


def _rectified(
    omap: ObjectMap, values: Mapping[str, Any], person: dict[str, Any], individual: dict[str, Any]
) -> list[str]:
    """Art 16: each corrected canonical field on the record, or on its Individual; returns the unwritable ones."""
    unwritable = []
    for name, value in values.items():
        path = omap.fields.get(name) or ""
        if path and not omap.can_write(path):
            unwritable.append(path)
        elif path.startswith("Individual.") and path.count(".") == 1:
            individual[path.split(".", 1)[1]] = value
        elif path and "." not in path:
            person[path] = value
    return unwritable


def _anonymised_individual(omap: ObjectMap) -> dict[str, Any]:
    fields: dict[str, Any] = dict.fromkeys(omap.individual_anonymise_fields)
    for name in _IDENTIFYING:
        path = omap.fields.get(name) or ""
        if path.startswith("Individual.") and path.count(".") == 1:
            fields[path.split(".", 1)[1]] = None
    fields["LastName"] = omap.marker
    return fields


def _note_values(values: Mapping[str, Any], omap: ObjectMap) -> dict[str, str] | None:
    """`notes.<name>` → the mapped field and its new text; None when a key or value does not fit."""
    notes = {key.removeprefix(_NOTE_PREFIX): text for key, text in values.items() if key.startswith(_NOTE_PREFIX)}
    fields: dict[str, str] = {}
    for name, text in notes.items():
        path = omap.notes.get(name)
        if path is None or "." in path or not isinstance(text, str):
            return None
        fields[path] = text
    return fields or None
