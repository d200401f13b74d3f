"""`gomme key rotate` on SQLite and PostgreSQL state: everything keeps working under the new key, the old one
opens nothing and forges nothing after the rotation, and a rotation interrupted at any step leaves one working key.

The state before each rotation holds what a key binds: audit entries (record HMACs, MACs, anchors), an erased
person on the suppression list, changes left pending by a crashed sweep (sealed ids) and an open request
(sealed identity).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from gomme.cli import app
from gomme.config import load_config_file
from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import demo_people
from gomme.jobs.context import RunContext
from gomme.jobs.sweep import SweepOptions, sweep
from gomme.model.changes import ChangeResult, PlannedChange
from gomme.model.conditions import PullQuery
from gomme.model.records import Lifecycle, PersonRecord
from gomme.state import audit
from gomme.state.anchors import Anchor
from gomme.state.audit import chain_hash
from gomme.state.db import make_engine, upgrade
from gomme.state.keys import KEY_FACT, RETIRED_FACT, Keyring, pending_key_file
from gomme.state.models import AuditEvent, Change, Request, StateFact
from tests.policy_fixture import RETENTION_POLICY_TOML

runner = CliRunner()
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EMAIL = "alex.sample@example.org"
POLICY = RETENTION_POLICY_TOML + '\n[[policy.rules]]\nid = "suppression"\nkind = "suppression"\naction = "anonymise"\n'
HASHED = ("seq", "ts", "run_id", "request_id", "change_id", "crm", "object_type", "record_key", "action",
          "rule_id", "legal_basis", "policy_hash", "fields", "outcome", "error_code", "actor")  # fmt: skip


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way up handles it."""


class CrashingConnector(LocalConnector):
    """Writes the first batch, then dies on the second before writing it: its changes stay pending."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name, path)
        self.batches = 0

    def apply(self, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        self.batches += 1
        if self.batches == 2:
            raise Crash
        return super().apply(changes)


def _alex(record_id: str) -> PersonRecord:
    return PersonRecord(
        crm="crm", object_type="contact", id=record_id, email=EMAIL, first_name="Alex", last_name="Sample",
        country="FR", created_at=NOW - dt.timedelta(days=400), last_activity_at=NOW - dt.timedelta(days=20),
        lifecycle=Lifecycle.CUSTOMER,
    )


class World:
    """A key-file state holding everything a key binds; `run` invokes the CLI on it."""

    def __init__(self, tmp_path: Path, state_url: str) -> None:
        self.tmp, self.state_url = tmp_path, state_url
        self._engine: Engine | None = None
        self.crm, self.key_file = tmp_path / "crm.db", tmp_path / "secret.key"
        self.anchors = tmp_path / "auditor" / "anchors.jsonl"
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            f'[state]\nurl = "{state_url}"\nkey_file = "secret.key"\n\n[audit]\nanchor_file = "auditor/anchors.jsonl"'
            '\n\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n' + POLICY
        )
        with LocalConnector("crm", self.crm) as crm:
            crm.add([*demo_people(NOW), _alex("alex-1")])

    def run(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(self.config), "--log-level", "error", *args])
        assert "Traceback" not in result.output
        return result.exit_code, " ".join(result.output.split())

    def engine(self) -> Engine:
        """One engine for the test's own reads and writes, disposed by `close` (the CLI runs open their own)."""
        if self._engine is None:
            self._engine = make_engine(self.state_url)
            upgrade(self._engine)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def keyring(self) -> Keyring:
        return Keyring(self.key_file.read_bytes().strip())

    def crash_a_sweep(self, newcomers: str = "") -> None:
        """A sweep that dies mid-apply, leaving pending changes whose CRM ids are sealed under the current key."""
        if newcomers:
            with LocalConnector("crm", self.crm) as crm:
                crm.add(replace(person, id=f"{newcomers}-{person.id}") for person in demo_people(NOW))
        config = load_config_file(self.config)
        crashing = CrashingConnector("crm", self.crm)
        ctx = RunContext(connector=crashing, policy=config.policy, engine=self.engine(), keyring=self.keyring(),
                         now=NOW, actor="test", batch_size=5)
        with pytest.raises(Crash):
            sweep(ctx, SweepOptions(apply=True), lambda item: None)
        crashing.close()
        assert self.count(Change, col(Change.status) == "pending") == 5

    def count(self, model: type[Change] | type[AuditEvent] | type[Request], *where: object) -> int:
        with Session(self.engine()) as db:
            return db.exec(select(func.count()).select_from(model).where(*where)).one()  # type: ignore[arg-type]

    def records(self) -> dict[str, PersonRecord]:
        with LocalConnector("crm", self.crm) as crm:
            return {r.id: r for r in crm.pull(PullQuery())}

    def record_log(self, record_id: str) -> list[dict[str, object]]:
        code, _ = self.run("audit", "log", "--record", record_id, "--format", "json", "--output",
                           str(self.tmp / "log.jsonl"))
        assert code == 0
        return [json.loads(line) for line in (self.tmp / "log.jsonl").read_text().splitlines()]

    def head(self) -> AuditEvent:
        with Session(self.engine()) as db:
            return db.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(1)).one()


@pytest.fixture
def world(tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Alex erased (and suppressed), a crashed sweep's pending changes, an open request; all under one key file."""
    monkeypatch.delenv("GOMME_SECRET_KEY")
    monkeypatch.delenv("GOMME_NEW_SECRET_KEY", raising=False)
    world = World(tmp_path, state_url)
    assert world.run("request", "erase", "--email", EMAIL)[0] == 0
    assert world.run("request", "process")[0] == 0  # which also writes an anchor
    assert world.records()["alex-1"].anonymised
    world.crash_a_sweep()
    code, output = world.run("request", "restrict", "--email", "someone.else@example.com")
    assert code == 0, output
    assert world.count(Request, col(Request.status) == "open") == 1
    yield world
    world.close()


def _works_after_rotation(world: World, before: list[dict[str, object]]) -> None:
    """Everything the old key bound still works: lookups, suppression, pending changes, requests, verify."""
    assert world.record_log("alex-1") == before, "audit log --record lost the entries written before the rotation"
    code, output = world.run("sweep", "--apply")
    assert code == 0, output
    assert world.count(Change, col(Change.status) == "pending") == 0, "pending changes were not resumed"
    with LocalConnector("crm", world.crm) as crm:  # an old export brings the erased person back
        crm.add([replace(_alex(f"alex-again-{world.count(AuditEvent)}"), email=EMAIL.upper())])
    assert world.run("sweep", "--apply")[0] == 0
    again = [r for r in world.records().values() if r.id.startswith("alex-again")]
    assert again and all(r.anonymised and r.email is None for r in again), "a suppressed person came back"
    code, output = world.run("request", "process")
    assert code == 0, output
    assert world.count(Request, col(Request.status) == "open") == 0
    code, output = world.run("audit", "verify")
    assert code == 0, output
    assert "audit chain intact" in output and "retired by `gomme key rotate`" in output
    assert "anchor not proven" not in output


def test_after_rotation_everything_the_old_key_bound_still_works(world: World) -> None:
    old_secret = world.key_file.read_bytes()
    before = world.record_log("alex-1")
    assert before and all(row["crm"] in ("crm", "gomme") for row in before)
    head_before = world.head().seq

    code, output = world.run("key", "rotate")

    assert code == 0, output
    assert "state key rotated" in output and f"entries up to #{head_before}" in output
    assert world.key_file.read_bytes() != old_secret
    assert stat.S_IMODE(world.key_file.stat().st_mode) == 0o600
    (retired,) = world.tmp.glob("secret.key.retired-*")
    assert retired.read_bytes() == old_secret and stat.S_IMODE(retired.stat().st_mode) == 0o600
    assert not pending_key_file(world.key_file).exists()
    rotation = world.head()
    assert rotation.action == "key rotated" and rotation.seq == head_before + 1
    assert rotation.mac == world.keyring().audit_mac(rotation.hash)
    assert json.loads(world.anchors.read_text().splitlines()[-1])["seq"] == rotation.seq
    with Session(world.engine()) as db:
        assert db.get_one(StateFact, KEY_FACT).value == world.keyring().fingerprint
        facts = db.exec(select(StateFact).where(col(StateFact.name).startswith(RETIRED_FACT))).all()
    old = Keyring(old_secret.strip())
    assert [f.name for f in facts] == [RETIRED_FACT + old.fingerprint]
    assert old_secret.strip().decode() not in facts[0].value  # the old secret is not kept, only derived keys

    _works_after_rotation(world, before)


def test_the_old_key_alone_opens_nothing_after_rotation(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    old_secret = world.key_file.read_text()
    assert world.run("key", "rotate")[0] == 0
    entries = world.count(AuditEvent)

    world.key_file.write_text(old_secret)  # the old key file put back
    for command in (["audit", "verify"], ["sweep", "--apply"], ["key", "rotate"]):
        code, output = world.run(*command)
        assert code == 2, output
        assert "was retired by `gomme key rotate`" in output and "Nothing was done" in output
    monkeypatch.setenv("GOMME_SECRET_KEY", old_secret.strip())  # or given in the environment
    code, output = world.run("audit", "log")
    assert code == 2 and "retired" in output
    assert world.count(AuditEvent) == entries


def test_an_entry_forged_with_the_stolen_old_key_after_rotation_fails_verify(world: World) -> None:
    old = world.keyring()
    assert world.run("key", "rotate")[0] == 0
    head = world.head()
    content = {name: getattr(head, name) for name in HASHED}
    forged = {**content, "seq": head.seq + 1, "action": "keep", "rule_id": "nothing-to-see", "crm": "crm",
              "object_type": "contact", "record_key": old.record_key("crm:contact:alex-1")}
    digest = chain_hash(forged, head.hash)
    with world.engine().begin() as connection:  # appending needs no trigger lifted: it is what gomme does
        connection.execute(insert(AuditEvent), [{**forged, "prev_hash": head.hash, "hash": digest,
                                                 "mac": old.audit_mac(digest)}])
    anchor = Anchor(head.seq + 1, digest, "2099-01-01T00:00:00.000000Z", "")
    with world.anchors.open("a") as file:  # and even a matching anchor line
        file.write(json.dumps({"seq": anchor.seq, "hash": digest, "ts": anchor.ts,
                               "mac": old.audit_mac(anchor.signed_text())}) + "\n")

    code, output = world.run("audit", "verify")

    assert code == 1, output
    assert f"audit chain broken at entry #{head.seq + 1}" in output
    assert "retired after entry" in output and "old key" in output


def test_an_anchor_forged_with_the_old_key_after_rotation_is_refused(world: World) -> None:
    old = world.keyring()
    assert world.run("key", "rotate")[0] == 0
    head = world.head()
    anchor = Anchor(head.seq, head.hash, "2099-01-01T00:00:00.000000Z", "")
    with world.anchors.open("a") as file:
        file.write(json.dumps({"seq": head.seq, "hash": head.hash, "ts": anchor.ts,
                               "mac": old.audit_mac(anchor.signed_text())}) + "\n")
    code, output = world.run("audit", "verify")
    assert code == 1 and "after it was retired" in output, output


def test_the_retired_keys_cannot_be_altered_without_the_new_key(world: World) -> None:
    """Extending the old key's validity needs the new key: a retired key sealed by anyone else stops everything."""
    old = world.keyring()
    assert world.run("key", "rotate")[0] == 0
    forged = old.seal_retired(replace(old.retire(10**9, "x"), fingerprint=old.fingerprint))
    with Session(world.engine()) as db:
        fact = db.get_one(StateFact, RETIRED_FACT + old.fingerprint)
        fact.value = forged
        db.add(fact)
        db.commit()
    code, output = world.run("audit", "verify")
    assert code == 2 and "cannot be read" in output and "Nothing was done" in output, output


def test_rotating_twice_keeps_every_earlier_key_working(world: World) -> None:
    first = world.key_file.read_text()
    before = world.record_log("alex-1")
    assert world.run("key", "rotate")[0] == 0
    second = world.key_file.read_text()
    assert world.run("sweep", "--apply")[0] == 0  # entries under the second key
    world.crash_a_sweep("late")  # changes sealed under the second key, left pending
    new_key = world.tmp / "offline.key"
    new_key.write_text("a-key-the-operator-made-offline-0123456789\n")

    code, output = world.run("key", "rotate", "--new-key-file", str(new_key))

    assert code == 0, output
    assert world.key_file.read_text().strip() == new_key.read_text().strip()
    assert len(list(world.tmp.glob("secret.key.retired-*"))) == 2
    with Session(world.engine()) as db:
        assert len(db.exec(select(StateFact).where(col(StateFact.name).startswith(RETIRED_FACT))).all()) == 2
    _works_after_rotation(world, before)
    for retired in (first, second):
        world.key_file.write_text(retired)
        assert world.run("audit", "verify")[0] == 2
    assert world.run("key", "rotate", "--new-key-file", str(world.tmp / "secret.key"))[0] == 2  # a retired key


def test_a_rotation_to_the_current_or_a_too_short_key_is_refused(world: World) -> None:
    short = world.tmp / "short.key"
    short.write_text("short\n")
    for given, message in ((world.key_file, "the new key is the current key"), (short, "at least 16 bytes")):
        code, output = world.run("key", "rotate", "--new-key-file", str(given))
        assert code == 2 and message in output, output
    assert world.count(AuditEvent, col(AuditEvent.action) == "key rotated") == 0


def test_a_rotation_failing_before_its_commit_leaves_the_old_key_working(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_secret = world.key_file.read_bytes()
    before, entries = world.record_log("alex-1"), world.count(AuditEvent)
    with Session(world.engine()) as db:
        sealed = sorted(c.record_id_sealed for c in db.exec(select(Change)))

    def dies(*args: object, **kwargs: object) -> None:
        raise Crash

    with monkeypatch.context() as patch:  # the new key file is written, values re-sealed, then the process dies
        patch.setattr(audit, "append_all", dies)
        with pytest.raises(Crash):
            world.run("key", "rotate")
    assert pending_key_file(world.key_file).exists()

    assert world.key_file.read_bytes() == old_secret
    with Session(world.engine()) as db:
        assert sorted(c.record_id_sealed for c in db.exec(select(Change))) == sealed, "re-sealing was not undone"
        assert db.get_one(StateFact, KEY_FACT).value == Keyring(old_secret.strip()).fingerprint
        assert not db.exec(select(StateFact).where(col(StateFact.name).startswith(RETIRED_FACT))).all()
    assert world.count(AuditEvent) == entries
    code, output = world.run("audit", "verify")
    assert code == 0, output
    assert world.key_file.read_bytes() == old_secret, "a key the state never took was installed"
    assert world.record_log("alex-1") == before

    code, output = world.run("key", "rotate")  # and the rotation can simply be run again
    assert code == 0, output
    assert not pending_key_file(world.key_file).exists()
    _works_after_rotation(world, before)


def test_a_rotation_dying_after_its_commit_leaves_the_new_key_working(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_secret = world.key_file.read_bytes()
    before = world.record_log("alex-1")

    def dies(*args: object, **kwargs: object) -> None:
        raise Crash

    with monkeypatch.context() as patch:  # the state is committed; the key file is not replaced yet
        patch.setattr("gomme.commands.key.finish_install", dies)
        with pytest.raises(Crash):
            world.run("key", "rotate")
    new_secret = pending_key_file(world.key_file).read_bytes()
    assert world.key_file.read_bytes() == old_secret

    code, output = world.run("audit", "verify")  # the next command finishes the rotation: the new key is put in place

    assert code == 0, output
    assert world.key_file.read_bytes() == new_secret and not pending_key_file(world.key_file).exists()
    (retired,) = world.tmp.glob("secret.key.retired-*")
    assert retired.read_bytes() == old_secret
    _works_after_rotation(world, before)


def test_with_the_key_in_the_environment_the_new_key_comes_from_the_environment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_secret = world.key_file.read_text().strip()
    world.key_file.unlink()
    monkeypatch.setenv("GOMME_SECRET_KEY", old_secret)
    before = world.record_log("alex-1")

    code, output = world.run("key", "rotate")
    assert code == 2 and "set GOMME_NEW_SECRET_KEY" in output and "Nothing was done" in output, output

    monkeypatch.setenv("GOMME_NEW_SECRET_KEY", "the-new-key-from-the-vault-0123456789")
    code, output = world.run("key", "rotate")
    assert code == 0, output
    assert "now set GOMME_SECRET_KEY to the new key" in output
    assert not world.key_file.exists(), "no key file is written when the key comes from the environment"

    code, output = world.run("audit", "verify")  # not switched yet: the old variable stops every command
    assert code == 2 and "retired" in output, output
    monkeypatch.setenv("GOMME_SECRET_KEY", "the-new-key-from-the-vault-0123456789")
    monkeypatch.delenv("GOMME_NEW_SECRET_KEY")
    _works_after_rotation(world, before)


def test_a_process_still_running_with_the_old_key_cannot_append(world: World) -> None:
    """A daemon started before the rotation is stopped at its next audit entry, before writing it."""
    old = world.keyring()
    assert world.run("key", "rotate")[0] == 0
    entries = world.count(AuditEvent)
    entry = audit.AuditEntry(crm="crm", object_type="contact", record_key="k", action="keep", rule_id="r",
                             legal_basis="b", policy_hash="p", outcome="applied", actor="stale")
    with Session(world.engine()) as db, pytest.raises(Exception, match="rotated while this gomme process ran"):
        audit.append(db, entry, "2026-12-05T00:00:00.000000Z", old)
    assert world.count(AuditEvent) == entries
    assert os.environ.get("GOMME_SECRET_KEY") is None
