"""The audit chain: append-only, each entry's hash covers its content and the previous hash.

Each entry also carries a MAC: an HMAC of its hash under a key derived from the state key, which the database
does not hold. Whoever can write the database but lacks the key can neither edit an entry and recompute the
hashes after it, nor build a new chain: the MACs would not match. A MAC covers the hash, which covers every entry
before it, so entries written before MACs existed are authenticated by the first one after them. What a MAC
cannot show is entries removed from the end: anchors kept outside the database do (state/anchors.py).

After `gomme key rotate`, each MAC is checked under the key in force at its entry: a retired key up to the entry
it was retired after, the current key from the rotation entry on (which the retired key also endorses).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlmodel import Session, col, select

from gomme.state.keys import KEY_FACT, ROTATED_ACTION, Keyring, SecretKeyError, rotation_statement
from gomme.state.models import AuditEvent, StateFact

GENESIS_HASH = "0" * 64
# Names the advisory lock that serialises appends on PostgreSQL (any constant works).
_APPEND_LOCK = 0x617564697421


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened to one record. Only keys, codes and names: never personal data."""

    crm: str
    object_type: str
    record_key: str
    action: str
    rule_id: str
    legal_basis: str
    policy_hash: str
    outcome: str
    actor: str
    fields: tuple[str, ...] = ()
    run_id: str | None = None
    request_id: str | None = None
    change_id: str | None = None
    error_code: str | None = None
    evidence: str | None = None  # why the rule fired, without values (e.g. "categories=health; sentences=1")
    erasure: str | None = None  # an erasing change: "erased", or "pseudonymised" when something remains
    related: str | None = None  # what it did to related records, by object and count, and what remains (names)
    disclosure: str | None = None  # data handed to a recipient: to whom, why, under which transfer basis (JSON)


def append(db: Session, entry: AuditEntry, ts: str, keyring: Keyring) -> AuditEvent:
    """Add `entry` after the current head, in the caller's transaction."""
    return AuditEvent(**append_all(db, [entry], ts, keyring)[0])


def append_all(db: Session, batch: Sequence[AuditEntry], ts: str, keyring: Keyring) -> list[dict[str, Any]]:
    """Add `batch` after the current head, in order, in the caller's transaction (one head read, one insert).

    On PostgreSQL an advisory lock serialises appenders; elsewhere the primary key on
    `seq` makes a racing appender fail, and the caller retries its transaction.
    """
    if not batch:
        return []
    seq, prev_hash = lock_head(db)
    fact = db.get(StateFact, KEY_FACT)
    if fact is not None and fact.value != keyring.fingerprint:  # a process started before `gomme key rotate`
        raise SecretKeyError(
            f"the state key was rotated while this gomme process ran with the old one (the state now expects "
            f"{fact.value[:12]}): nothing of this transaction was written. Restart it with the new key"
        )
    rows = []
    for entry in batch:
        seq += 1
        content = _content({**asdict(entry), "fields": json.dumps(list(entry.fields)), "seq": seq, "ts": ts})
        digest = chain_hash(content, prev_hash)
        rows.append({**content, "prev_hash": prev_hash, "hash": digest, "mac": keyring.audit_mac(digest)})
        prev_hash = digest
    db.execute(insert(AuditEvent), rows)
    return rows


def lock_head(db: Session) -> tuple[int, str]:
    """(seq, hash) of the chain's head (0 and the genesis hash when empty), holding the append lock on PostgreSQL
    until the caller's transaction ends."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
    head = db.execute(select(col(AuditEvent.seq), col(AuditEvent.hash)).order_by(col(AuditEvent.seq).desc())
                      .limit(1)).first()
    return (head[0], head[1]) if head else (0, GENESIS_HASH)


def chain_hash(content: dict[str, object], prev_hash: str) -> str:
    """sha256 over the canonical JSON (sorted keys, no spaces) of the entry plus the previous hash."""
    canonical = json.dumps({**content, "prev_hash": prev_hash}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_HASHED_COLUMNS = (
    "seq", "ts", "run_id", "request_id", "change_id", "crm", "object_type", "record_key", "action",
    "rule_id", "legal_basis", "policy_hash", "fields", "outcome", "error_code", "actor",
)


_OPTIONAL_COLUMNS = ("evidence", "erasure", "related", "disclosure")  # added after the first entries were written


def _content(content: dict[str, Any]) -> dict[str, Any]:
    """What the hash covers: the optional columns only when they hold something, so entries written before them
    keep their hash."""
    for name in _OPTIONAL_COLUMNS:
        if content.get(name) is None:
            content.pop(name, None)
    return content


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of `verify`: how far the chain holds and, if not, where and why it breaks."""

    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None
    authenticated_from: int | None = None  # the first entry with a MAC (earlier ones predate MACs)

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify(engine: Engine, keyring: Keyring) -> ChainReport:
    """Recompute the whole chain and its MACs, streaming, and name the first entry that does not hold.

    Once an entry has a MAC, every later one must have a valid one; the head must have one unless no entry
    was written since MACs exist (then `authenticated_from` is None and only anchors can vouch for the log).
    """
    prev_hash, expected_seq, checked, first_mac = GENESIS_HASH, 1, 0, None
    with Session(engine) as db:
        rows = db.exec(select(AuditEvent).order_by(col(AuditEvent.seq)).execution_options(yield_per=1000))
        for event in rows:
            problem = (_problem(event, expected_seq, prev_hash) or _mac_problem(event, keyring, first_mac)
                       or _rotation_problem(event, keyring))
            if problem:
                return ChainReport(checked, expected_seq - 1, prev_hash, event.seq, problem, first_mac)
            if first_mac is None and event.mac is not None:
                first_mac = event.seq
            prev_hash, expected_seq, checked = event.hash, event.seq + 1, checked + 1
    return ChainReport(checked, expected_seq - 1, prev_hash, authenticated_from=first_mac)


def _problem(event: AuditEvent, expected_seq: int, prev_hash: str) -> str | None:
    if event.seq != expected_seq:
        return f"entries {expected_seq}..{event.seq - 1} are missing"
    if event.prev_hash != prev_hash:
        return "its prev_hash does not match the previous entry's hash"
    content = _content({name: getattr(event, name) for name in (*_HASHED_COLUMNS, *_OPTIONAL_COLUMNS)})
    if chain_hash(content, event.prev_hash) != event.hash:
        return "its content does not match its hash (the entry was altered)"
    return None


def _mac_problem(event: AuditEvent, keyring: Keyring, first_mac: int | None) -> str | None:
    if event.mac is None:
        if first_mac is not None:
            return f"it has no MAC although entry #{first_mac} and later ones do (written or rewritten without the key)"
        return None
    if keyring.mac_valid(event.hash, event.mac, event.seq):
        return None
    retired = keyring.retired_by_mac(event.hash, event.mac)
    if retired is not None:
        return (f"its MAC was made with the key {retired.fingerprint[:12]}, retired after entry #{retired.last_seq}: "
                "written after the key rotation by someone holding the old key")
    return "its MAC does not match: the entry or the chain before it was written without gomme's key"


def _rotation_problem(event: AuditEvent, keyring: Keyring) -> str | None:
    """The entry right after a key's retirement must record the rotation, endorsed by the retired key."""
    retired = keyring.retired_at(event.seq)
    if retired is None:
        return None
    if event.action != ROTATED_ACTION or not event.evidence:
        return f"the key {retired.fingerprint[:12]} was retired after the previous entry, but this one does not say so"
    endorsement = event.evidence.rsplit(" ", 1)[-1]
    statement = rotation_statement(event.seq, event.prev_hash, keyring.key_at(event.seq)[0])
    if not hmac.compare_digest(endorsement, retired.audit_mac(statement)):
        return f"the key rotation it records is not endorsed by the retired key {retired.fingerprint[:12]}"
    return None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Every given field must match; `since` is inclusive, `until` exclusive (fixed-width UTC stamps)."""

    run_id: str | None = None
    request_id: str | None = None
    rule_id: str | None = None
    action: str | None = None
    crm: str | None = None
    record_keys: tuple[str, ...] | None = None
    since: str | None = None
    until: str | None = None


def entries(db: Session, where: AuditFilter, *, limit: int | None = None) -> Iterator[AuditEvent]:
    """Entries matching every given filter, oldest first, streamed."""
    query = select(AuditEvent)
    for name in ("run_id", "request_id", "rule_id", "action", "crm"):
        value = getattr(where, name)
        if value is not None:
            query = query.where(getattr(AuditEvent, name) == value)
    if where.record_keys is not None:
        query = query.where(col(AuditEvent.record_key).in_(where.record_keys))
    if where.since is not None:
        query = query.where(col(AuditEvent.ts) >= where.since)
    if where.until is not None:
        query = query.where(col(AuditEvent.ts) < where.until)
    query = query.order_by(col(AuditEvent.seq)).limit(limit).execution_options(yield_per=1000)
    yield from db.exec(query)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A head (seq, hash) an auditor stored outside gomme: later, the chain must still contain it."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        seq, sep, digest = text.strip().partition(":")
        if not sep or not seq.isdigit() or int(seq) < 1 or len(digest) != 64 or not _is_hex(digest):
            raise ValueError(f"'{text}' is not a checkpoint; expected SEQ:HASH as printed by `gomme audit checkpoint`")
        return cls(int(seq), digest.lower())

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def check_checkpoint(engine: Engine, report: ChainReport, checkpoint: Checkpoint) -> str | None:
    """Why the chain does not prove `checkpoint` (truncated, or rewritten up to it), or None if it does.

    With the chain verified up to its head, entry `seq` holding the stored hash proves that no entry
    up to it was altered, removed or reordered since the checkpoint was taken.
    """
    if report.head_seq < checkpoint.seq:
        return (f"the log ends at entry #{report.head_seq}, before the checkpoint #{checkpoint.seq}: "
                "entries were removed (truncated)")
    with Session(engine) as db:
        event = db.get(AuditEvent, checkpoint.seq)
    if event is None or event.hash != checkpoint.hash:
        return f"entry #{checkpoint.seq} no longer has the checkpoint's hash: the log was rewritten up to it"
    return None

