"""Runs, the write-ahead change log, cursors, suppression and the state key, on both backends."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gomme.model.changes import Action, ChangeResult, Outcome, PlannedChange
from gomme.state.audit import verify
from gomme.state.changes import abandon_plan, mark_pending, pending, record_plan, settle, unsettled
from gomme.state.cursors import cursor_policy_changed, load_cursor, reset_cursor, save_cursor
from gomme.state.db import current_revision, head_revision, make_engine, session, upgrade
from gomme.state.keys import Keyring, SecretKeyError
from gomme.state.models import Change, Run
from gomme.state.runs import RunCounts, RunStatus, finish_run, start_run
from gomme.state.suppression import SuppressionReason, is_suppressed, suppress, suppressed
from tests.state_key import TEST_KEYRING

NOW = "2026-11-26T10:00:00.000000Z"
KEYRING = Keyring(b"a-test-secret-of-enough-length")


def _change(n: int, action: Action = Action.ANONYMISE) -> PlannedChange:
    return PlannedChange(
        change_id=f"{n:032x}", crm="local", object_type="contact", record_id=f"id-{n}", action=action,
        rule_id="retention-prospect", legal_basis="GDPR Art 5(1)(e)", policy_hash="ab" * 32,
        fields=("email",),
    )


def _run(engine: Engine) -> str:
    with session(engine) as db:
        return start_run(db, kind="sweep", connector="local", mode="apply", policy_hash="ab" * 32,
                         actor="test", now=NOW).id


def test_upgrade_is_idempotent(state_engine: Engine) -> None:
    upgrade(state_engine)
    assert current_revision(state_engine) == head_revision() is not None


def test_write_ahead_then_settle_leaves_one_audit_entry_per_change(state_engine: Engine) -> None:
    run_id = _run(state_engine)
    with session(state_engine) as db:
        record_plan(db, run_id, [_change(1), _change(2), _change(3)], KEYRING, NOW)
    with session(state_engine) as db:
        assert list(pending(db, "local")) == []
        assert len(unsettled(db, connector="local", run_id=run_id, limit=10)) == 3
        mark_pending(db, [f"{1:032x}", f"{2:032x}"])
    with session(state_engine) as db:
        assert [c.id for c in pending(db, "local")] == [f"{1:032x}", f"{2:032x}"]
        assert [c.id for c in unsettled(db, connector="local", limit=1, after=f"{1:032x}")] == [f"{2:032x}"]
        settle(db, ChangeResult(f"{1:032x}", Outcome.APPLIED), actor="test", now=NOW, keyring=TEST_KEYRING)
        failed = ChangeResult(f"{2:032x}", Outcome.FAILED, error_code="NOT_FOUND")
        settle(db, failed, actor="test", now=NOW, keyring=TEST_KEYRING)
        assert abandon_plan(db, run_id, code="BLAST_RADIUS", now=NOW) == 1
    with session(state_engine) as db:
        assert list(pending(db, "local")) == []
        assert db.get_one(Change, f"{3:032x}").status == "skipped"
        failed = db.get_one(Change, f"{2:032x}")
        assert (failed.status, failed.error_code) == ("failed", "NOT_FOUND")
        with pytest.raises(ValueError, match="already applied"):
            settle(db, ChangeResult(f"{1:032x}", Outcome.APPLIED), actor="test", now=NOW, keyring=TEST_KEYRING)
    report = verify(state_engine, TEST_KEYRING)
    assert report.ok and report.checked == 2


def test_change_row_keeps_the_crm_id_only_sealed(state_engine: Engine) -> None:
    run_id = _run(state_engine)
    with session(state_engine) as db:
        record_plan(db, run_id, [_change(7)], KEYRING, NOW)
    with session(state_engine) as db:
        row = db.get_one(Change, f"{7:032x}")
        assert "id-7" not in row.record_id_sealed
        assert KEYRING.unseal(row.record_id_sealed) == "id-7"
        assert row.record_key == KEYRING.record_key("local:contact:id-7")
    with pytest.raises(SecretKeyError, match="another secret key"):
        Keyring(b"some-other-secret-key-value").unseal(row.record_id_sealed)


def test_finish_run_records_status_and_counts(state_engine: Engine) -> None:
    run_id = _run(state_engine)
    with session(state_engine) as db:
        finish_run(db, run_id, status=RunStatus.INTERRUPTED, counts=RunCounts(10, 3, 2, 0), now=NOW)
    with session(state_engine) as db:
        run = db.get_one(Run, run_id)
        assert (run.status, run.pulled, run.planned, run.applied, run.finished_at) == ("interrupted", 10, 3, 2, NOW)


def test_cursor_round_trip_per_connector(state_engine: Engine) -> None:
    with session(state_engine) as db:
        save_cursor(db, "crm-a", {"contact": "2026-01-01", "lead": "2026-01-02"}, NOW)
        save_cursor(db, "crm-a", {"contact": "2026-02-01"}, NOW)
        save_cursor(db, "crm-b", {"contact": "x"}, NOW)
    with session(state_engine) as db:
        assert load_cursor(db, "crm-a") == {"contact": "2026-02-01", "lead": "2026-01-02"}
        reset_cursor(db, "crm-a")
    with session(state_engine) as db:
        assert load_cursor(db, "crm-a") == {}
        assert load_cursor(db, "crm-b") == {"contact": "x"}


def test_a_cursor_reached_under_another_policy_is_not_used(state_engine: Engine) -> None:
    with session(state_engine) as db:
        save_cursor(db, "crm", {"contact": "2026-01-01"}, NOW, "policy-a")
    with session(state_engine) as db:
        assert load_cursor(db, "crm", "policy-a") == {"contact": "2026-01-01"}
        assert load_cursor(db, "crm", "policy-b") == {}  # the new policy reads everything once
        assert cursor_policy_changed(db, "crm", "policy-b") and not cursor_policy_changed(db, "crm", "policy-a")
        save_cursor(db, "crm", {"contact": "2026-03-01"}, NOW, "policy-b")
    with session(state_engine) as db:
        assert load_cursor(db, "crm", "policy-b") == {"contact": "2026-03-01"}


def test_suppression_matches_normalised_email_without_storing_it(state_engine: Engine) -> None:
    with session(state_engine) as db:
        suppress(db, KEYRING.email_key("Someone@Example.COM "), reason=SuppressionReason.OBJECTION, now=NOW)
        suppress(db, KEYRING.email_key("someone@example.com"), reason=SuppressionReason.ERASURE, now=NOW)
        suppress(db, KEYRING.email_key("someone@example.com"), reason=SuppressionReason.OBJECTION, now=NOW)
    with session(state_engine) as db:
        assert is_suppressed(db, KEYRING.email_key("someone@example.com"))
        assert not is_suppressed(db, KEYRING.email_key("other@example.com"))
        keys = [KEYRING.email_key("someone@example.com"), KEYRING.email_key("other@example.com")]
        assert suppressed(db, keys) == {keys[0]: SuppressionReason.ERASURE}


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "secret.key"
    first = Keyring.load(key_file, env={})
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = Keyring.load(key_file, env={})
    assert first.record_key("a:b:c") == again.record_key("a:b:c")


def test_environment_key_wins_over_key_file(tmp_path: Path) -> None:
    from_env = Keyring.load(tmp_path / "unused.key", env={"GOMME_SECRET_KEY": "x" * 32})
    assert from_env.record_key("a:b:c") == Keyring(b"x" * 32).record_key("a:b:c")
    assert not (tmp_path / "unused.key").exists()


def test_short_secret_is_refused() -> None:
    with pytest.raises(SecretKeyError, match="at least 16 bytes"):
        Keyring(b"short")


def test_processes_starting_together_on_an_empty_sqlite_state_migrate_once(tmp_path: Path) -> None:
    """Two to four commands started at once on a state that does not exist yet: no race, no traceback."""
    for attempt in range(4):
        folder = tmp_path / f"try-{attempt}"
        folder.mkdir()
        (folder / "config.toml").write_text(
            f'[state]\nurl = "sqlite:///{folder}/state.db"\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
        )
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "gomme", "--config", str(folder / "config.toml"), "audit", "verify"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=folder,
            )
            for _ in range(2 + attempt % 3)
        ]
        results = [(process.wait(timeout=120), process.communicate()[1]) for process in processes]
        assert [code for code, _ in results] == [0] * len(processes), results
        assert not any("Traceback" in err for _, err in results), results
        assert current_revision(make_engine(f"sqlite:///{folder}/state.db")) == head_revision()
