"""The HTML audit report says why: a "why" column with each entry's evidence, in a drill-down per rule."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gomme.reports import audit_report
from gomme.state.audit import AuditEntry, append
from gomme.state.db import make_engine, session, upgrade
from gomme.state.keys import Keyring
from tests.browser import PNG, Browser
from tests.reasons_crm import PERSONAL, gomme, local_crm

RETENTION_WHY = "retention-prospect: lifecycle=prospect clock_field=last_activity_at started=2020-01-15 after=P3Y"


class Drill(HTMLParser):
    """Per rule drill-down (`<details id="rule-...">`): its summary text and the rows of its why table."""

    def __init__(self) -> None:
        super().__init__()
        self.rules: dict[str, dict[str, list[str]]] = {}
        self._rule: str | None = None
        self._cell: list[str] | None = None
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "details" and (found.get("id") or "").startswith("rule-"):
            self._rule = (found["id"] or "").removeprefix("rule-")
            self.rules[self._rule] = {"summary": [], "why": []}
        elif self._rule and tag == "summary":
            self._in = "summary"
        elif self._rule and tag == "td" and found.get("class") == "why":
            self._in = "why"
            self.rules[self._rule]["why"].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._rule = None
        if tag in ("summary", "td"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._rule and self._in == "summary":
            self.rules[self._rule]["summary"].append(data)
        elif self._rule and self._in == "why":
            self.rules[self._rule]["why"][-1] += data


def _report(tmp_path: Path, state_url: str) -> str:
    config = local_crm(tmp_path, state_url)
    code, output = gomme(config, "sweep", "--apply")
    assert code == 0, output
    report = tmp_path / "report.html"
    code, output = gomme(config, "audit", "report", "--output", str(report))
    assert code == 0, output
    return report.read_text(encoding="utf-8")


def test_the_report_drills_down_per_rule_with_each_entrys_why(tmp_path: Path, state_url: str) -> None:
    html = _report(tmp_path, state_url)
    drill = Drill()
    drill.feed(html)

    assert set(drill.rules) == {"retention-prospect", "minor", "consent-withdrawn-email", "erasure-request"}
    retention = drill.rules["retention-prospect"]
    summary = " ".join("".join(retention["summary"]).split())
    assert summary == "retention-prospect: 2 entries (anonymise applied 1, restrict_all applied 1)"
    assert sorted(retention["why"]) == [f"{RETENTION_WHY} due=2023-01-15",
                                        f"{RETENTION_WHY} due=2023-01-15; legal-hold: field=legal_hold"]  # fmt: skip
    assert drill.rules["minor"]["why"] == ["minor: country=FR under=15 legal_basis=unknown"]
    assert drill.rules["erasure-request"]["why"] == ["erasure-request: field=erasure_requested"]
    assert '<a href="#rule-retention-prospect">retention-prospect</a>' in html  # from the table of changes
    assert not [value for value in PERSONAL if value in html]


def test_a_rule_lists_its_latest_entries_and_says_so(
    tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = local_crm(tmp_path, state_url)  # only its config: the entries are written by hand
    engine = make_engine(state_url)
    upgrade(engine)
    keyring = Keyring(os.environ["GOMME_SECRET_KEY"].encode())
    with session(engine) as db:
        for n in range(5):
            entry = AuditEntry(
                crm="crm", object_type="contact", record_key=keyring.record_key(f"crm:contact:c-{n}"),
                action="anonymise", rule_id="retention-prospect", legal_basis="GDPR Art 5(1)(e)",
                policy_hash="ab" * 32, outcome="applied", actor="test", fields=("email",),
                evidence=f"retention-prospect: due=2023-01-0{n + 1}" if n else None,
            )  # fmt: skip
            append(db, entry, f"2026-10-0{n + 1}T09:00:00.000000Z", keyring)
    engine.dispose()
    monkeypatch.setattr(audit_report, "DRILL_ROWS", 3)
    report = tmp_path / "report.html"

    code, output = gomme(config, "audit", "report", "--output", str(report))

    assert code == 0, output
    drill = Drill()
    drill.feed(report.read_text(encoding="utf-8"))
    assert drill.rules["retention-prospect"]["why"] == [f"retention-prospect: due=2023-01-0{n}" for n in (3, 4, 5)]
    assert "The latest 3 of 5 entries" in report.read_text(encoding="utf-8")


def test_an_entry_written_before_gomme_kept_reasons_says_so(tmp_path: Path, state_url: str) -> None:
    config = local_crm(tmp_path, state_url)
    engine = make_engine(state_url)
    upgrade(engine)
    keyring = Keyring(os.environ["GOMME_SECRET_KEY"].encode())
    with session(engine) as db:
        append(db, AuditEntry(crm="crm", object_type="lead", record_key=keyring.record_key("crm:lead:l-1"),
                              action="restrict_all", rule_id="minor", legal_basis="GDPR Art 8(1)",
                              policy_hash="ab" * 32, outcome="applied", actor="test", fields=("restricted",)),
               "2026-10-01T09:00:00.000000Z", keyring)  # fmt: skip
    engine.dispose()
    report = tmp_path / "report.html"

    assert gomme(config, "audit", "report", "--output", str(report))[0] == 0

    drill = Drill()
    drill.feed(report.read_text(encoding="utf-8"))
    assert drill.rules["minor"]["why"] == ["no evidence recorded"]


def test_the_why_drill_down_renders_in_a_real_browser(tmp_path: Path) -> None:
    browser = Browser(tmp_path)
    html = _report(tmp_path, f"sqlite:///{tmp_path}/state.db")
    outside = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not any(ref in outside for ref in ("http://", "https://", "<script", "<link", "src="))  # self-contained
    report = tmp_path / "report.html"

    dom = browser.dom(report)

    drill = Drill()
    drill.feed(dom)
    assert set(drill.rules) == {"retention-prospect", "minor", "consent-withdrawn-email", "erasure-request"}
    assert drill.rules["consent-withdrawn-email"]["why"] == [
        "consent-withdrawn-email: channel=email purpose=marketing withdrawn=2024-03-02 flag=opt_outs.email"
    ]
    assert "<th>Why</th>" in dom and 'id="why"' in dom
    shot = browser.screenshot(report, tmp_path / "report.png", size="1200,2400")
    assert shot.startswith(PNG) and len(shot) > 10_000
