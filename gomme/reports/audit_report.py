"""`gomme audit report`: one self-contained HTML file an auditor can read without gomme."""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from gomme import __version__
from gomme.reports.charts import StackedChart, stacked_by_day
from gomme.state.audit import AuditFilter, ChainReport, entries, verify
from gomme.state.clock import stamp
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent, Request
from gomme.state.requests import due

DRILL_ROWS = 200  # entries listed per rule (the latest); `gomme audit log --rule ID` lists every one
_TEMPLATES = Environment(loader=PackageLoader("gomme.reports", "templates"), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True, slots=True)
class PolicyUse:
    hash: str
    first: str
    last: str
    entries: int


@dataclass(frozen=True, slots=True)
class WhyRow:
    """One audit entry in a rule's drill-down: where, what became of it, and its evidence (no value)."""

    seq: int
    ts: str
    crm: str
    object_type: str
    record_key: str
    action: str
    outcome: str
    why: str


@dataclass(slots=True)
class RuleDrill:
    """A rule's entries in the period: counts by (action, outcome) and the latest entries with their evidence."""

    total: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    latest: deque[WhyRow] = field(default_factory=lambda: deque(maxlen=DRILL_ROWS))

    def add(self, event: AuditEvent) -> None:
        self.total += 1
        self.counts[(event.action, event.outcome)] += 1
        self.latest.append(WhyRow(event.seq, event.ts, event.crm, event.object_type, event.record_key[:12],
                                  event.action, event.outcome, event.evidence or ""))


@dataclass(slots=True)
class AuditSummary:
    """Everything the report shows, aggregated while streaming the period's entries once."""

    total: int = 0
    by_outcome: Counter[str] = field(default_factory=Counter)
    by_change: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (crm, action, rule) of applied
    by_day: Counter[tuple[str, str]] = field(default_factory=Counter)  # (day, action) of applied
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # (crm, error code)
    policies: dict[str, PolicyUse] = field(default_factory=dict)
    by_rule: dict[str, RuleDrill] = field(default_factory=dict)  # CRM changes (applied, failed...) per rule id
    first_ts: str | None = None
    last_ts: str | None = None


def summarise(engine: Engine, since: str | None, until: str | None) -> AuditSummary:
    summary = AuditSummary()
    with Session(engine) as db:
        for event in entries(db, AuditFilter(since=since, until=until)):
            summary.total += 1
            summary.by_outcome[event.outcome] += 1
            summary.first_ts = summary.first_ts or event.ts
            summary.last_ts = event.ts
            if event.crm == "gomme":  # request lifecycle entries, not CRM changes
                continue
            summary.by_rule.setdefault(event.rule_id, RuleDrill()).add(event)
            if event.outcome == "applied":
                summary.by_change[(event.crm, event.action, event.rule_id)] += 1
                summary.by_day[(event.ts[:10], event.action)] += 1
            elif event.outcome == "failed":
                summary.failures[(event.crm, event.error_code or "UNKNOWN")] += 1
            use = summary.policies.get(event.policy_hash)
            summary.policies[event.policy_hash] = PolicyUse(
                event.policy_hash, use.first if use else event.ts, event.ts, (use.entries if use else 0) + 1
            )
    return summary


def requests_in(engine: Engine, since: str | None, until: str | None) -> list[Request]:
    """Requests received in the period, and any still open whenever received (they are what is at risk)."""
    with Session(engine) as db:
        rows = list(db.exec(select(Request).order_by(col(Request.received_at))))
    return [r for r in rows if r.status != "completed"
            or ((since is None or r.received_at >= since) and (until is None or r.received_at < until))]


def render_report(
    engine: Engine, keyring: Keyring, *, since: str | None, until: str | None, now: dt.datetime
) -> str:
    summary = summarise(engine, since, until)
    chain: ChainReport = verify(engine, keyring)
    chart: StackedChart = stacked_by_day(summary.by_day)
    requests = requests_in(engine, since, until)
    return _TEMPLATES.get_template("audit_report.html.j2").render(
        summary=summary, chain=chain, chart=chart, requests=requests, due=due, now=stamp(now),
        since=since, until=until, version=__version__, drill_rows=DRILL_ROWS,
        overdue=[r for r in requests if r.status != "completed" and due(r) < stamp(now)],
    )
