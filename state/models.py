"""gomme's own tables. No column holds a name, email, phone or note text (docs/architecture.md "State")."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Run(SQLModel, table=True):
    """One sweep or request-processing run."""

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)  # sweep | request
    connector: str | None = Field(default=None, max_length=64)
    mode: str = Field(max_length=8)  # dry | apply
    status: str = Field(max_length=16, index=True)  # running | succeeded | failed | interrupted | aborted
    policy_hash: str = Field(max_length=64)
    actor: str = Field(max_length=128)
    started_at: str = Field(max_length=32)  # ISO-8601 UTC, fixed width: sorts as text
    finished_at: str | None = Field(default=None, max_length=32)
    pulled: int = 0
    planned: int = 0
    applied: int = 0
    failed: int = 0


class Change(SQLModel, table=True):
    """A planned change and its apply state: the write-ahead log of apply."""

    id: str = Field(primary_key=True, max_length=32)
    run_id: str = Field(foreign_key="run.id", index=True, max_length=32)
    request_id: str | None = Field(default=None, index=True, max_length=32)  # set for data-subject requests
    connector: str = Field(max_length=64, index=True)
    object_type: str = Field(max_length=64)
    record_key: str = Field(max_length=64, index=True)  # HMAC of crm:object:id
    record_id_sealed: str  # the CRM id, encrypted with the state key: needed to resume, unreadable without it
    action: str = Field(max_length=16)
    also: str = Field(default="", max_length=64)  # comma-separated combined actions
    rule_id: str = Field(max_length=128)
    legal_basis: str
    policy_hash: str = Field(max_length=64)
    fields: str = "[]"  # JSON list of field names
    status: str = Field(max_length=16, index=True)  # pending | applied | failed | skipped
    error_code: str | None = Field(default=None, max_length=128)
    error_detail: str | None = Field(default=None, max_length=300)  # what the CRM named: fields, never values
    evidence: str | None = Field(default=None, max_length=300)  # the rule's audited evidence (policies: Finding)
    created_at: str = Field(max_length=32)
    settled_at: str | None = Field(default=None, max_length=32)


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained: `hash` = sha256(canonical JSON of the entry + prev_hash)."""

    __tablename__ = "audit_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: str = Field(max_length=32, index=True)
    run_id: str | None = Field(default=None, max_length=32, index=True)
    request_id: str | None = Field(default=None, max_length=32, index=True)
    change_id: str | None = Field(default=None, max_length=32)
    crm: str = Field(max_length=64, index=True)
    object_type: str = Field(max_length=64)
    record_key: str = Field(max_length=64, index=True)
    action: str = Field(max_length=64, index=True)  # combined actions joined by "+"
    rule_id: str = Field(max_length=128, index=True)
    legal_basis: str
    policy_hash: str = Field(max_length=64)
    fields: str = "[]"
    outcome: str = Field(max_length=16)
    error_code: str | None = Field(default=None, max_length=128)
    actor: str = Field(max_length=128)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    mac: str | None = Field(default=None, max_length=64)  # HMAC of `hash` under the state key (None: written before)
    evidence: str | None = Field(default=None, max_length=300)  # why the rule fired: categories, counts, no values
    erasure: str | None = Field(default=None, max_length=16)  # erasing changes: "erased" or "pseudonymised"
    related: str | None = Field(default=None, max_length=300)  # related records: counts by object, what remains
    disclosure: str | None = None  # a disclosure (pseudonymised extract): recipient, purpose, transfer basis (JSON)


class Cursor(SQLModel, table=True):
    """Incremental position per connector and object type."""

    connector: str = Field(primary_key=True, max_length=64)
    object_type: str = Field(primary_key=True, max_length=64)
    position: str
    updated_at: str = Field(max_length=32)
    policy_hash: str | None = Field(default=None, max_length=64)  # the policy the position was reached under


class StateFact(SQLModel, table=True):
    """Facts about the state itself, e.g. the fingerprint of the key it was written with."""

    __tablename__ = "state_fact"
    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=256)
    set_at: str = Field(max_length=32)


class Suppression(SQLModel, table=True):
    """HMACs of normalised emails of erased people: a re-import is erased again."""

    email_key: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=128)
    added_at: str = Field(max_length=32)


class Request(SQLModel, table=True):
    """A data-subject request (GDPR Art 12, 15-21). The identity is sealed, and wiped once completed."""

    id: str = Field(primary_key=True, max_length=32)
    type: str = Field(max_length=16, index=True)  # erase | access | restrict | object | rectify
    identity_key: str = Field(max_length=64, index=True)  # HMAC of the normalised email: kept for proof
    identity_sealed: str | None = None  # the email, encrypted with the state key; NULL once completed
    details_sealed: str | None = None  # rectify values and the admin's note, encrypted; NULL once completed
    status: str = Field(max_length=16, index=True)  # open | in_progress | completed | failed
    received_at: str = Field(max_length=32)
    deadline_at: str = Field(max_length=32)  # received + 1 month (Art 12(3))
    extended_until: str | None = Field(default=None, max_length=32)
    extension_reason: str | None = None
    extension_notified_at: str | None = Field(default=None, max_length=32)
    completed_at: str | None = Field(default=None, max_length=32)
    actor: str = Field(max_length=128)
    outcome: str | None = None  # PII-free summary once completed (e.g. why legal hold kept a record)


class RequestProgress(SQLModel, table=True):
    """How far a request got in one connector (Art 19: per-recipient status)."""

    __tablename__ = "request_progress"

    request_id: str = Field(foreign_key="request.id", primary_key=True, max_length=32)
    connector: str = Field(primary_key=True, max_length=64)
    status: str = Field(max_length=16)  # pending | done | failed
    records_found: int = 0
    summary: str = "{}"  # JSON: counts by action and outcome, error codes; never personal data
    updated_at: str = Field(max_length=32)


class JobClaim(SQLModel, table=True):
    """A scheduled slot of a daemon job, claimed by the replica that runs it: the key makes each slot run once."""

    __tablename__ = "job_claim"

    job: str = Field(primary_key=True, max_length=128)  # the job id, derived from its schedule
    slot: str = Field(primary_key=True, max_length=32)  # the scheduled fire time, ISO-8601 UTC
    holder: str = Field(max_length=128)  # host:pid of the replica
    claimed_at: str = Field(max_length=32)
    finished_at: str | None = Field(default=None, max_length=32)
    status: str | None = Field(default=None, max_length=16)  # the job's outcome, or NULL while it runs (or died)


class BreachCase(SQLModel, table=True):
    """A personal-data breach (GDPR Art 33/34): its scope, 72-hour deadline and assessment, as aggregates only.

    The admin's note and the `--where` conditions (which may name a value) are sealed with the state key."""

    __tablename__ = "breach_case"

    id: str = Field(primary_key=True, max_length=32)
    status: str = Field(max_length=16, index=True)  # open | closed
    opened_at: str = Field(max_length=32)
    aware_at: str = Field(max_length=32)  # when the controller became aware (Art 33(1))
    deadline_at: str = Field(max_length=32)  # aware_at + 72 h
    since: str | None = Field(default=None, max_length=32)  # the breach's window, as stated
    until: str | None = Field(default=None, max_length=32)
    connectors: str = "[]"  # JSON list of connector names
    objects: str = "[]"  # JSON list of object types; empty: every object
    establishment: str | None = Field(default=None, max_length=2)  # the main establishment's country (Art 56)
    scope_sealed: str  # JSON: the --where conditions, encrypted with the state key
    note_sealed: str  # the admin's description of the incident, encrypted
    actor: str = Field(max_length=128)
    assessment: str | None = None  # JSON aggregates: counts, categories, countries; never a value
    assessed_at: str | None = Field(default=None, max_length=32)
    notify_list_at: str | None = Field(default=None, max_length=32)
    notify_list_rows: int | None = None
    closed_at: str | None = Field(default=None, max_length=32)
    close_sealed: str | None = None  # why it was closed (notified, or not required), encrypted
