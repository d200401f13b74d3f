"""gomme's own tables. No column holds a name, email, phone or note text (DESIGN.md "State")."""

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
    action: str = Field(max_length=16, index=True)
    rule_id: str = Field(max_length=128, index=True)
    legal_basis: str
    policy_hash: str = Field(max_length=64)
    fields: str = "[]"
    outcome: str = Field(max_length=16)
    error_code: str | None = Field(default=None, max_length=128)
    actor: str = Field(max_length=128)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class Cursor(SQLModel, table=True):
    """Incremental position per connector and object type."""

    connector: str = Field(primary_key=True, max_length=64)
    object_type: str = Field(primary_key=True, max_length=64)
    position: str
    updated_at: str = Field(max_length=32)


class Suppression(SQLModel, table=True):
    """HMACs of normalised emails of erased people: a re-import is erased again."""

    email_key: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=128)
    added_at: str = Field(max_length=32)
