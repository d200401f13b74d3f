"""The daemon's /metrics shows each open breach case's hours to its 72-hour deadline; a closed case leaves it."""

from __future__ import annotations

import datetime as dt

from prometheus_client import generate_latest
from sqlalchemy import Engine

from gomme.jobs.metrics import DaemonMetrics
from gomme.state.breach import CaseScope, close_case, create_case
from gomme.state.db import session
from tests.state_key import TEST_KEYRING


def _gauge(metrics: DaemonMetrics) -> dict[str, float]:
    found = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith("gomme_breach_deadline_hours{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('case="', 1)[1].rstrip('"}')] = float(value)
    return found


def test_hours_to_deadline_per_open_case(state_engine: Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    with session(state_engine) as db:
        fresh = create_case(db, scope=CaseScope(connectors=("crm",)), aware_at=now - dt.timedelta(hours=2), note="n",
                            establishment=None, keyring=TEST_KEYRING, now=now, actor="me")
        late = create_case(db, scope=CaseScope(connectors=("crm",)), aware_at=now - dt.timedelta(hours=80),
                           note="n", establishment=None, keyring=TEST_KEYRING, now=now, actor="me")
        done = create_case(db, scope=CaseScope(connectors=("crm",)), aware_at=now, note="n", establishment=None,
                           keyring=TEST_KEYRING, now=now, actor="me")
        close_case(db, done, "notified", TEST_KEYRING, now)
    metrics = DaemonMetrics(actor="me")
    metrics.watch(state_engine)

    gauge = _gauge(metrics)

    assert set(gauge) == {fresh.id, late.id}
    assert 69.9 < gauge[fresh.id] <= 70.0
    assert -8.1 < gauge[late.id] <= -7.9
