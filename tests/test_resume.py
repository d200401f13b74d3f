"""A run that dies between the CRM write and its audit entry is finished by the next run, audited once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import demo_people
from gomme.jobs.context import RunContext
from gomme.jobs.guard import ChangeLimitValue
from gomme.jobs.sweep import SweepOptions, sweep
from gomme.model.changes import ChangeResult, PlannedChange
from gomme.model.conditions import PullQuery
from gomme.state.audit import verify
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent, Change
from gomme.state.runs import RunStatus
from tests.policy_fixture import retention_policy

NOW = dt.datetime.now(dt.UTC)
KEYRING = Keyring(b"resume-test-secret-key")


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way up handles it."""


class CrashingConnector(LocalConnector):
    """Writes the n-th batch to the CRM, then dies before anyone can read the results."""

    def __init__(self, name: str, path: Path, *, crash_on_batch: int, write_first: bool) -> None:
        super().__init__(name, path)
        self.batches, self.crash_on_batch, self.write_first = 0, crash_on_batch, write_first

    def apply(self, changes: Sequence[PlannedChange]) -> Iterator[ChangeResult]:
        self.batches += 1
        if self.batches == self.crash_on_batch:
            if self.write_first:
                list(super().apply(changes))
            raise Crash
        return super().apply(changes)


def _context(connector: LocalConnector, engine: Engine) -> RunContext:
    return RunContext(connector=connector, policy=retention_policy(), engine=engine, keyring=KEYRING, now=NOW,
                      actor="test", batch_size=20)


@pytest.mark.parametrize("write_first", [True, False], ids=["crash-after-crm-write", "crash-before-crm-write"])
def test_next_run_finishes_a_crashed_apply_with_one_audit_entry_each(
    tmp_path: Path, state_engine: Engine, write_first: bool
) -> None:
    crm = tmp_path / "crm.db"
    with LocalConnector("crm", crm) as connector:
        connector.add(demo_people(NOW))

    crashing = CrashingConnector("crm", crm, crash_on_batch=2, write_first=write_first)
    with pytest.raises(Crash):
        sweep(_context(crashing, state_engine), SweepOptions(apply=True), lambda item: None)
    crashing.close()
    with Session(state_engine) as db:
        statuses = Counter(c.status for c in db.exec(select(Change)))
    assert statuses["pending"] == 20 and statuses["applied"] == 20

    with LocalConnector("crm", crm) as connector:
        report = sweep(_context(connector, state_engine), SweepOptions(apply=True), lambda item: None)
        final = {r.id: r for r in connector.pull(PullQuery())}
    assert report.status is RunStatus.SUCCEEDED
    assert report.resumed.applied == 20

    with Session(state_engine) as db:
        changes = list(db.exec(select(Change)))
        events = list(db.exec(select(AuditEvent)))
    applied = [c for c in changes if c.status == "applied"]
    assert len(applied) == 69  # every change the demo needs, done once
    per_change = Counter(e.change_id for e in events if e.outcome == "applied")
    assert set(per_change.values()) == {1} and set(per_change) == {c.id for c in applied}
    assert sum(r.anonymised for r in final.values()) == 68 and sum(r.restricted for r in final.values()) == 1
    assert verify(state_engine, KEYRING).ok

    with LocalConnector("crm", crm) as connector:
        third = sweep(_context(connector, state_engine), SweepOptions(apply=True), lambda item: None)
    assert third.planned == 0 and third.resumed.applied == 0


@pytest.mark.parametrize(
    ("options", "stop_at_poll"),
    [
        # The whole plan is stored first (polled after resume and after each planned batch of 20 records),
        # then polled before each apply batch: the 7th poll falls in the apply phase, guard or not.
        (SweepOptions(apply=True), 7),
        (SweepOptions(apply=True, max_changes=ChangeLimitValue(count=1000)), 7),
    ],
    ids=["unguarded", "guarded"],
)
def test_stop_request_interrupts_between_batches_and_the_rest_is_replanned(
    tmp_path: Path, state_engine: Engine, options: SweepOptions, stop_at_poll: int
) -> None:
    crm = tmp_path / "crm.db"
    with LocalConnector("crm", crm) as connector:
        connector.add(demo_people(NOW))
        calls = iter(range(1000))
        ctx = RunContext(connector=connector, policy=retention_policy(), engine=state_engine, keyring=KEYRING,
                         now=NOW, actor="test", batch_size=20, should_stop=lambda: next(calls) >= stop_at_poll)
        first = sweep(ctx, options, lambda item: None)
        second = sweep(_context(connector, state_engine), SweepOptions(apply=True), lambda item: None)
    assert first.status is RunStatus.INTERRUPTED
    assert 0 < first.outcome.applied < 69
    assert second.status is RunStatus.SUCCEEDED
    assert first.outcome.applied + second.outcome.applied == 69
    with Session(state_engine) as db:
        assert len(list(db.exec(select(AuditEvent)))) == 69


def test_a_chunk_that_loses_the_race_for_the_chain_head_is_retried_alone(
    tmp_path: Path, state_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settling goes chunk by chunk; a racing appender (IntegrityError) on the second chunk retries that
    chunk only: the first, already committed, is not settled again."""
    from sqlalchemy.exc import IntegrityError

    import gomme.jobs.apply as apply_module

    settle_all, calls = apply_module.settle_all, Counter[str]()

    def racing(db: Session, results: Sequence[ChangeResult], **kwargs: str) -> int:
        calls["chunks"] += 1
        if calls["chunks"] == 2:
            raise IntegrityError("INSERT INTO audit_event", {}, Exception("seq taken by another appender"))
        return settle_all(db, results, **kwargs)

    monkeypatch.setattr(apply_module, "SETTLE_CHUNK", 5)
    monkeypatch.setattr(apply_module, "settle_all", racing)
    crm = tmp_path / "crm.db"
    with LocalConnector("crm", crm) as connector:
        connector.add(demo_people(NOW))
        report = sweep(_context(connector, state_engine), SweepOptions(apply=True), lambda item: None)
    assert report.status is RunStatus.SUCCEEDED and calls["chunks"] > 2
    with Session(state_engine) as db:
        per_change = Counter(e.change_id for e in db.exec(select(AuditEvent)))
        statuses = Counter(c.status for c in db.exec(select(Change)))
    assert statuses == {"applied": 69} and set(per_change.values()) == {1}
    assert verify(state_engine, KEYRING).ok
