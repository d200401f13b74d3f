"""The audit trail against an attacker who owns the state database (and can drop or disable its triggers).

Each attack is performed for real on SQLite and PostgreSQL state after two applied sweeps, each of which wrote an
anchor to a file outside the state; `gomme audit verify` must then exit 1 and say what does not hold. The
attacker does not hold the state key, except in the last test (an insider), where only the anchors stop him.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people
from gomme.state.audit import GENESIS_HASH, chain_hash
from gomme.state.db import make_engine
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent
from tests.audit_owner import drop_append_only_guard as _owner
from tests.policy_fixture import RETENTION_POLICY_TOML
from tests.state_key import TEST_KEYRING

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC)
HASHED = ("seq", "ts", "run_id", "request_id", "change_id", "crm", "object_type", "record_key", "action",
          "rule_id", "legal_basis", "policy_hash", "fields", "outcome", "error_code", "actor")  # fmt: skip
OPTIONAL = ("evidence", "erasure", "related")  # hashed when they hold something (docs/audit-trail.md)


@pytest.fixture
def config(tmp_path: Path, state_url: str) -> Path:
    """Two applied sweeps (the second after new people arrive), each followed by an anchor."""
    crm = tmp_path / "crm.db"
    with LocalConnector("crm", crm) as connector:
        connector.add(synthetic_people(150, seed=3, now=NOW))
    path = tmp_path / "config.toml"
    path.write_text(
        f'[state]\nurl = "{state_url}"\n\n[audit]\nanchor_file = "auditor/anchors.jsonl"\n\n'
        '[connectors.crm]\ntype = "local"\npath = "crm.db"\n' + RETENTION_POLICY_TOML
    )
    assert runner.invoke(app, ["--config", str(path), "sweep", "--apply"]).exit_code == 0
    with LocalConnector("crm", crm) as connector:
        connector.add(replace(person, id=f"late-{person.id}") for person in synthetic_people(60, seed=4, now=NOW))
    assert runner.invoke(app, ["--config", str(path), "sweep", "--apply"]).exit_code == 0
    return path


def _verify(config: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), "audit", "verify"])
    return result.exit_code, " ".join(result.output.split())


def _rechain(engine: Engine, start: int, keyring: Keyring | None = None) -> None:
    """Recompute every hash from entry `start` on (and, with the key, every MAC): a careful forger."""
    with Session(engine) as db:
        previous = db.get(AuditEvent, start - 1)
        prev_hash = previous.hash if previous is not None else GENESIS_HASH
        for event in db.exec(select(AuditEvent).where(col(AuditEvent.seq) >= start).order_by(col(AuditEvent.seq))):
            event.prev_hash = prev_hash
            content = {name: getattr(event, name) for name in HASHED}
            content.update({name: value for name in OPTIONAL if (value := getattr(event, name)) is not None})
            event.hash = chain_hash(content, prev_hash)
            event.mac = keyring.audit_mac(event.hash) if keyring is not None else event.mac
            prev_hash = event.hash
            db.add(event)
        db.commit()


def _head(engine: Engine) -> int:
    with Session(engine) as db:
        return max(db.exec(select(AuditEvent.seq)).all())


def test_the_untouched_trail_verifies_with_its_anchors(config: Path) -> None:
    code, output = _verify(config)
    assert code == 0, output
    assert "audit chain intact" in output and "carry a valid MAC" in output and "2 anchor(s) hold" in output
    lines = (config.parent / "auditor" / "anchors.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(set(json.loads(line)) == {"seq", "hash", "ts", "mac"} for line in lines)


def edit_and_rechain(engine: Engine) -> None:
    with Session(engine) as db:
        db.get_one(AuditEvent, 3).action = "keep"
        db.commit()
    _rechain(engine, 3)


def delete_the_newest(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq > :keep"), {"keep": _head(engine) - 5})


def rebuild_from_scratch(engine: Engine) -> None:
    with Session(engine) as db:
        kept = [e for e in db.exec(select(AuditEvent).order_by(col(AuditEvent.seq))) if e.seq % 2]  # his story
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event"))
    with Session(engine) as db:
        for seq, event in enumerate(kept, start=1):
            db.add(AuditEvent(**{**event.model_dump(), "seq": seq, "mac": None}))
        db.commit()
    _rechain(engine, 1)


def strip_every_mac(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET mac = NULL"))


def edit_in_place(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET rule_id = 'nothing-to-see' WHERE seq = 2"))


ATTACKS: dict[str, tuple[Callable[[Engine], None], str]] = {
    "edit an entry and recompute the later hashes": (edit_and_rechain, "its MAC does not match"),
    "delete the newest entries": (delete_the_newest, "entries were removed"),
    "rebuild a fresh chain": (rebuild_from_scratch, "not proven"),
    "strip every MAC": (strip_every_mac, "lost its MAC"),
    "edit an entry in place": (edit_in_place, "does not match its hash"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_by_the_database_owner_is_detected(config: Path, state_url: str, attack: str) -> None:
    engine = make_engine(state_url)
    tamper, seen = ATTACKS[attack]
    _owner(engine)
    tamper(engine)

    code, output = _verify(config)
    print(f"{attack}: {output}")

    assert code == 1, output
    assert seen in output, output


def test_an_insider_with_the_key_is_stopped_by_the_anchors(config: Path, state_url: str) -> None:
    engine = make_engine(state_url)
    _owner(engine)
    with Session(engine) as db:
        db.get_one(AuditEvent, 2).outcome = "failed"
        db.commit()
    _rechain(engine, 2, TEST_KEYRING)  # every hash and MAC is right again

    code, output = _verify(config)

    assert code == 1 and "the log was rewritten up to it" in output, output


def test_a_forged_or_damaged_anchor_line_is_reported(config: Path) -> None:
    anchors = config.parent / "auditor" / "anchors.jsonl"
    forged = {"seq": 1, "hash": "0" * 64, "ts": "2026-01-01T00:00:00.000000Z", "mac": "f" * 64}
    with anchors.open("a") as file:
        file.write(json.dumps(forged) + "\nnot json\n")

    code, output = _verify(config)

    assert code == 1
    assert "line 3 of" in output and "was not written by gomme with this key" in output
    assert "line 4 of" in output and "is not an anchor" in output


def test_a_missing_anchor_file_fails_verification(config: Path) -> None:
    (config.parent / "auditor" / "anchors.jsonl").unlink()
    code, output = _verify(config)
    assert code == 1 and "is missing" in output
