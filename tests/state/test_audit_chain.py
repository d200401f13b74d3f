"""The audit chain holds, and any tampering with a row is detected and named, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from gomme.state.audit import AuditEntry, AuditFilter, append, entries, verify
from gomme.state.db import session
from tests.audit_owner import drop_append_only_guard as _drop_append_only_guard
from tests.state_key import TEST_KEYRING


def _entry(n: int, **overrides: str) -> AuditEntry:
    values = dict(
        crm="local", object_type="contact", record_key=f"{n:064x}", action="anonymise",
        rule_id="retention-prospect", legal_basis="GDPR Art 5(1)(e)", policy_hash="ab" * 32,
        outcome="applied", actor="test", run_id="r" * 32,
    )
    values.update(overrides)
    return AuditEntry(**values, fields=("email", "last_name"))  # type: ignore[arg-type]


def _fill(engine: Engine, count: int) -> None:
    for n in range(1, count + 1):
        with session(engine) as db:
            append(db, _entry(n), ts=f"2026-11-26T10:00:{n:02d}.000000Z", keyring=TEST_KEYRING)


def test_untouched_chain_verifies(state_engine: Engine) -> None:
    _fill(state_engine, 5)
    report = verify(state_engine, TEST_KEYRING)
    assert report.ok and report.checked == 5 and report.head_seq == 5


def test_empty_chain_verifies(state_engine: Engine) -> None:
    assert verify(state_engine, TEST_KEYRING).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "'delete'"),
        ("outcome", "'failed'"),
        ("record_key", "'" + "f" * 64 + "'"),
        ("rule_id", "'other-rule'"),
        ("ts", "'2020-01-01T00:00:00.000000Z'"),
        ("fields", "'[]'"),
        ("policy_hash", "'" + "0" * 64 + "'"),
        ("prev_hash", "'" + "1" * 64 + "'"),
        ("hash", "'" + "2" * 64 + "'"),
    ],
)
def test_tampered_row_is_named(state_engine: Engine, column: str, value: str) -> None:
    _fill(state_engine, 6)
    _drop_append_only_guard(state_engine)
    with state_engine.begin() as connection:
        connection.execute(text(f"UPDATE audit_event SET {column} = {value} WHERE seq = 4"))
    report = verify(state_engine, TEST_KEYRING)
    assert not report.ok
    assert report.broken_seq == 4
    assert report.checked == 3


def test_deleted_row_is_detected_at_the_gap(state_engine: Engine) -> None:
    _fill(state_engine, 6)
    _drop_append_only_guard(state_engine)
    with state_engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    report = verify(state_engine, TEST_KEYRING)
    assert report.broken_seq == 4
    assert report.problem is not None and "missing" in report.problem


def test_rewritten_row_with_recomputed_hash_breaks_the_next_link(state_engine: Engine) -> None:
    from gomme.state.audit import chain_hash
    from gomme.state.models import AuditEvent

    _fill(state_engine, 5)
    _drop_append_only_guard(state_engine)
    with session(state_engine) as db:
        event = db.get_one(AuditEvent, 2)
        event.action = "keep"
        names = ("seq", "ts", "run_id", "request_id", "change_id", "crm", "object_type", "record_key", "action",
                 "rule_id", "legal_basis", "policy_hash", "fields", "outcome", "error_code", "actor")
        event.hash = chain_hash({n: getattr(event, n) for n in names}, event.prev_hash)
        db.add(event)
    report = verify(state_engine, TEST_KEYRING)  # the hash was recomputed, but not its MAC: no key
    assert report.broken_seq == 2 and report.problem is not None and "MAC" in report.problem


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET action = 'keep'", "DELETE FROM audit_event"])
def test_database_refuses_to_rewrite_the_audit_log(state_engine: Engine, statement: str) -> None:
    _fill(state_engine, 2)
    with pytest.raises(DBAPIError, match="append-only"), state_engine.begin() as connection:
        connection.execute(text(statement))
    assert verify(state_engine, TEST_KEYRING).checked == 2


def test_postgres_refuses_truncate(postgres_url: str) -> None:
    from gomme.state.db import make_engine, upgrade

    engine = make_engine(postgres_url)
    upgrade(engine)
    _fill(engine, 1)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_event"))
    engine.dispose()


def test_entries_filter_by_each_column(state_engine: Engine) -> None:
    with session(state_engine) as db:
        append(db, _entry(1), ts="2026-11-26T10:00:01.000000Z", keyring=TEST_KEYRING)
        second = _entry(2, action="restrict_all", rule_id="legal-hold")
        append(db, second, ts="2026-11-26T10:00:02.000000Z", keyring=TEST_KEYRING)
        append(db, _entry(3, crm="other"), ts="2026-11-26T10:00:03.000000Z", keyring=TEST_KEYRING)
    with session(state_engine) as db:
        assert [e.seq for e in entries(db, AuditFilter(action="restrict_all"))] == [2]
        assert [e.seq for e in entries(db, AuditFilter(rule_id="retention-prospect"))] == [1, 3]
        assert [e.seq for e in entries(db, AuditFilter(crm="other"))] == [3]
        assert [e.seq for e in entries(db, AuditFilter(record_keys=(f"{1:064x}", "0" * 64)))] == [1]
        assert [e.seq for e in entries(db, AuditFilter(), limit=2)] == [1, 2]
