"""The notification draft renders in a real headless Chromium, as the audit report does (tests/test_auditor.py)."""

from __future__ import annotations

from pathlib import Path

from tests.breach.breach_kit import AWARE, gomme, seed
from tests.browser import Browser


def test_the_notification_draft_renders_in_a_real_browser(tmp_path: Path) -> None:
    browser = Browser(tmp_path)
    config = seed(tmp_path, f"sqlite:///{tmp_path}/state.db")
    code, output = gomme(config, "breach", "open", "--connector", "crm", "--aware-at", AWARE.isoformat(),
                         "--note", "Export stolen <b>not bold</b>.")
    case = output.split("breach case ", 1)[1].split()[0]
    assert code == 0 and gomme(config, "breach", "assess", case)[0] == 0
    report = tmp_path / "draft.html"
    assert gomme(config, "breach", "report", case, "--output", str(report))[0] == 0
    html = report.read_text()
    assert not any(ref in html for ref in ("<script", "<link", "src="))  # self-contained
    dom = browser.dom(report)
    for element in ('id="timeline-table"', 'id="groups-table"', 'id="countries-table"', 'id="dpo"',
                    'class="todo"', "Export stolen &lt;b&gt;not bold&lt;/b&gt;."):
        assert element in dom, element
